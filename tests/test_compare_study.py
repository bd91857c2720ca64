"""The detector study's evaluation, on stored real runs, and one study run through the local
launcher at smoke size."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from seqbench.compare.detector_study import main, run_once, summarize
from seqbench.compare.study_eval import (
    default_grid,
    evaluate,
    find_runs,
    rates,
    run_health,
    split_evaluate,
)
from seqbench.errors import SeqbenchError
from seqbench.profiles import Overrides

FIXTURES = Path(__file__).parent / "fixtures" / "compare"


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """Two pairs from the four real runs: the clean and base runs swap roles in pair 2, which
    has a rerun of its clean and slow25 kinds."""
    runs = tmp_path / "runs"
    runs.mkdir()
    layout = {
        "pair01-base-r1": "tput_base",
        "pair01-base-r2": "tput_clean",
        "pair01-clean-r1": "tput_clean",
        "pair01-slow10-r1": "tput_slow10",
        "pair01-slow25-r1": "tput_slow25",
        "pair02-base-r1": "tput_clean",
        "pair02-base-r2": "tput_base",
        "pair02-clean-r1": "tput_base",
        "pair02-clean-r2": "tput_clean",
        "pair02-slow25-r1": "tput_slow25",
        "pair02-slow25-r2": "tput_slow25",
    }
    for name, fixture in layout.items():
        shutil.copy(FIXTURES / f"{fixture}.json", runs / f"{name}.json")
    (runs / "pair01-base-r1.log").write_text("logs and partial files are ignored")
    return tmp_path


def test_find_runs_reads_pairs_kinds_and_repeats(study):
    runs = find_runs(study / "runs")
    assert len(runs) == 11
    assert set(runs["kind"]) == {"base", "clean", "slow10", "slow25"}
    pair2 = runs[runs["pair"] == 2]
    assert list(pair2.loc[pair2["kind"] == "clean", "rep"]) == [1, 2]


def test_evaluate_compares_every_kind_with_its_pair_baseline(study):
    grid = default_grid(
        alphas=(0.002,), baseline_runs=(1, 2), current_runs=(1, 2), pools=("best", "median")
    )
    comparisons, cells = evaluate(study / "runs", grid)
    # 24 settings: 2 pools × raw/normalised for each (baseline runs, current runs), twice
    # (plain and widened) where the baseline has 2 runs. Pair 1 has 1 run per current kind
    # (the 12 settings with 1 current run apply), pair 2 has 2 runs of clean and slow25 (all
    # 24 apply).
    assert len(comparisons) == 3 * 12 + 2 * 24
    assert (
        comparisons.loc[comparisons["setting"].str.endswith("widened"), "baseline_runs"].eq(2).all()
    )
    assert set(comparisons["kind"]) == {"clean", "slow10", "slow25"}
    assert set(comparisons.loc[comparisons["pair"] == 1, "current_runs"]) == {1}
    slow25 = comparisons[comparisons["kind"] == "slow25"]
    assert slow25["flagged"].all()  # a real 25% injected slowdown, under every setting
    # every timed cell of every comparison is in cells.csv: 6 per comparison
    assert len(cells) == 6 * len(comparisons)
    assert cells["ratio"].between(0.5, 2.0).all()


def test_rates_are_fractions_with_wilson_intervals():
    comparisons = pd.DataFrame(
        {"setting": ["s"] * 10, "kind": ["clean"] * 10, "flagged": [True] + [False] * 9}
    )
    row = rates(comparisons).iloc[0]
    assert row["flagged"] == 1 and row["comparisons"] == 10
    assert row["rate"] == pytest.approx(0.1)
    assert row["ci95_low"] < 0.1 < row["ci95_high"] < 0.5


def test_summarize_writes_the_tables(study):
    text = summarize(study, (0.10,), baseline_runs=2, current_runs=2)
    for name in (
        "comparisons.csv",
        "cells.csv",
        "rates.csv",
        "noise.csv",
        "runs.csv",
        "summary.md",
    ):
        assert (study / name).stat().st_size > 0
    assert "false-alarm rate" in text and "baseline 2 runs, current 2 runs, pool best" in text
    assert "All 11 runs have calibration times within 1.25×" in text
    assert "Slow runs" not in text
    noise = pd.read_csv(study / "noise.csv")
    assert set(noise["baseline_runs"]) == {1, 2} and set(noise["current_runs"]) == {1, 2}
    assert set(noise["pool"]) == {"best", "median"}
    assert (noise["median_abs_change"] >= 0).all()


def test_runs_disturbed_by_other_load_are_named(study):
    path = study / "runs" / "pair02-clean-r1.json"
    data = json.loads(path.read_text())
    calibration = data["benchmarks"][0]
    assert calibration["name"] == "test_calibration"
    for key in ("min", "median"):  # a busy machine: the calibration's GEMMs are 10× slower
        calibration["stats"][key] *= 10
    path.write_text(json.dumps(data))
    health = run_health(study / "runs")
    assert list(health.loc[health["disturbed"], "run"]) == ["pair02-clean-r1.json"]
    assert "Caution: 1 of 11 runs were disturbed" in summarize(study, (0.10,), 2)


def test_runs_whose_rounds_took_far_longer_are_listed_as_slow(study):
    path = study / "runs" / "pair01-base-r2.json"
    data = json.loads(path.read_text())
    for entry in data["benchmarks"][1:]:  # every cell, not the calibration: busy mid-run
        entry["stats"]["mean"] *= 2
    path.write_text(json.dumps(data))
    health = run_health(study / "runs")
    assert list(health.loc[health["slow"], "run"]) == ["pair01-base-r2.json"]
    assert not health["disturbed"].any()  # the calibration did not see it
    assert "Slow runs (timed rounds over 1.25×" in summarize(study, (0.10,), 2)


def test_evaluate_only_needs_runs(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--evaluate-only"]) == 2
    assert "holds no study runs" in capsys.readouterr().err
    assert main(["--out", str(tmp_path), "--evaluate-only", "--current-runs", "0"]) == 2
    assert "must be >= 1" in capsys.readouterr().err
    with pytest.raises(SeqbenchError):
        find_runs(tmp_path)


def test_splits_compare_every_choice_of_baseline_runs(tmp_path):
    runs = [FIXTURES / f"tput_{k}.json" for k in ("base", "clean", "slow25")]
    grid = default_grid(
        alphas=(0.002,), baseline_runs=(2,), current_runs=(1,), pools=("best", "median")
    )
    comparisons, flagged = split_evaluate(runs, 2, grid)
    # 3 choices of 2 baseline runs × 2 pools × raw, normalised × plain, widened
    assert len(comparisons) == 3 * 2 * 2 * 2
    assert comparisons["split"].nunique() == 3
    # the split whose current side is the 25% slowdown is flagged, under both pools
    slow = comparisons[comparisons["split"].str.endswith("vs tput_slow25.json")]
    assert slow["flagged"].all()
    assert set(flagged.loc[flagged["split"].isin(slow["split"]), "cell"]) <= {
        c for c in flagged["cell"] if c.startswith("test_train_step")
    }
    with pytest.raises(SeqbenchError, match="needs more than 3 runs"):
        split_evaluate(runs, 3, grid)


def test_splits_command_writes_its_tables(tmp_path, capsys):
    runs = [str(FIXTURES / f"tput_{k}.json") for k in ("base", "clean", "slow10")]
    assert (
        main(
            [
                "--out",
                str(tmp_path),
                "--splits",
                *runs,
                "--baseline-runs",
                "2",
                "--current-runs",
                "1",
            ]
        )
        == 0
    )
    text = (tmp_path / "splits.md").read_text()
    assert "Every choice of 2 as the baseline" in text
    assert (tmp_path / "splits.csv").stat().st_size > 0
    assert "false alarms over whole runs" in capsys.readouterr().out


def test_recipe_only_scans_thresholds_with_the_ci_settings(tmp_path, study):
    runs = [str(FIXTURES / f"tput_{k}.json") for k in ("base", "clean", "slow25")]
    gate = r"^test_train_step\["
    assert (
        main(
            [
                "--out",
                str(tmp_path / "s"),
                "--splits",
                *runs,
                "--baseline-runs",
                "2",
                "--current-runs",
                "1",
                "--thresholds",
                "10%,50%",
                "--gate",
                gate,
                "--recipe-only",
            ]
        )
        == 0
    )
    splits = pd.read_csv(tmp_path / "s" / "splits.csv")
    # 3 splits × 2 thresholds × plain, widened; every setting normalised, pooled best, gated
    assert len(splits) == 3 * 2 * 2
    assert (
        splits["setting"]
        .str.contains("normalised, baseline 2 runs, current 1 run, pool best")
        .all()
    )
    assert splits["setting"].str.contains("gate", regex=False).all()
    slow = splits[splits["split"].str.endswith("vs tput_slow25.json")]
    # the injected 25% (measured +26% median on train steps) fails at 10%, not at 50%
    assert slow.loc[slow["setting"].str.startswith("threshold 10%"), "flagged"].all()
    assert not slow.loc[slow["setting"].str.startswith("threshold 50%"), "flagged"].any()
    assert (
        main(
            [
                "--out",
                str(study),
                "--evaluate-only",
                "--baseline-runs",
                "2",
                "--current-runs",
                "2",
                "--thresholds",
                "10%",
                "--recipe-only",
            ]
        )
        == 0
    )
    rates_table = pd.read_csv(study / "rates.csv")
    assert set(rates_table["kind"]) == {"clean", "slow25"}  # slow10 has no rerun to pool
    assert rates_table["setting"].nunique() == 2  # plain and widened


def test_a_study_run_goes_through_the_launcher_with_its_slowdown(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQBENCH_PROGRESS", "0")
    out = tmp_path / "pair01-slow25-r1.json"
    subset = Overrides(families=("throughput",), models=("rnn",), threads=1)
    wall_s = run_once(out, subset, "smoke", 0.25, tmp_path / "pair01-slow25-r1.log")
    assert wall_s > 0
    benchmarks = json.loads(out.read_text())["benchmarks"]
    timed = [b for b in benchmarks if b["extra_info"]["family"] == "throughput"]
    assert len(timed) == 2  # forward and train step of the one cell
    assert {b["extra_info"]["config"]["extra"]["inject_slowdown"] for b in timed} == {0.25}
    # The run folder beside it is an ordinary run: its plan, its records.
    assert (tmp_path / "pair01-slow25-r1" / "run.json").exists()
    assert len(list((tmp_path / "pair01-slow25-r1" / "cells").glob("*.json"))) == 3
