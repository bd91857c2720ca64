"""The detector study's evaluation, on stored real runs (no benchmarks are run here)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from seqbench.compare.detector_study import main, summarize
from seqbench.compare.study_eval import default_grid, evaluate, find_runs, rates, run_health
from seqbench.errors import SeqbenchError

FIXTURES = Path(__file__).parent / "fixtures" / "compare"


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """Two pairs from the four real runs: the clean and base runs swap roles in pair 2."""
    runs = tmp_path / "runs"
    runs.mkdir()
    layout = {"pair01-base1": "tput_base", "pair01-base2": "tput_clean",
              "pair01-clean": "tput_clean", "pair01-slow10": "tput_slow10",
              "pair01-slow25": "tput_slow25",
              "pair02-base1": "tput_clean", "pair02-base2": "tput_base",
              "pair02-clean": "tput_base", "pair02-slow25": "tput_slow25"}
    for name, fixture in layout.items():
        shutil.copy(FIXTURES / f"{fixture}.json", runs / f"{name}.json")
    (runs / "pair01-base1.log").write_text("logs and partial files are ignored")
    return tmp_path


def test_find_runs_reads_pairs_and_kinds(study):
    runs = find_runs(study / "runs")
    assert len(runs) == 9
    assert set(runs["kind"]) == {"base1", "base2", "clean", "slow10", "slow25"}


def test_evaluate_compares_every_run_with_its_pair_baseline(study):
    grid = default_grid(alphas=(0.002,), baseline_runs=(1, 2))
    comparisons, cells = evaluate(study / "runs", grid)
    # pair 1: clean, slow10, slow25; pair 2: clean, slow25; under 4 settings each
    assert len(comparisons) == 5 * 4
    assert set(comparisons["kind"]) == {"clean", "slow10", "slow25"}
    slow25 = comparisons[comparisons["kind"] == "slow25"]
    assert slow25["flagged"].all()  # a real 25% injected slowdown, under every setting
    # every timed cell of every comparison is in cells.csv: 6 per comparison
    assert len(cells) == 6 * len(comparisons)
    assert cells["ratio"].between(0.5, 2.0).all()


def test_rates_are_fractions_with_wilson_intervals():
    comparisons = pd.DataFrame({"setting": ["s"] * 10, "kind": ["clean"] * 10,
                                "flagged": [True] + [False] * 9})
    row = rates(comparisons).iloc[0]
    assert row["flagged"] == 1 and row["comparisons"] == 10
    assert row["rate"] == pytest.approx(0.1)
    assert row["ci95_low"] < 0.1 < row["ci95_high"] < 0.5


def test_summarize_writes_the_tables(study):
    text = summarize(study, (0.10,), baseline_runs=2)
    for name in ("comparisons.csv", "cells.csv", "rates.csv", "noise.csv", "runs.csv",
                 "summary.md"):
        assert (study / name).stat().st_size > 0
    assert "false-alarm rate" in text and "baseline of 2 runs" in text
    assert "All 9 runs have calibration times within 1.25×" in text
    assert "Slow runs" not in text
    noise = pd.read_csv(study / "noise.csv")
    assert set(noise["baseline_runs"]) == {1, 2}
    assert (noise["median_abs_change"] >= 0).all()


def test_runs_disturbed_by_other_load_are_named(study):
    path = study / "runs" / "pair02-clean.json"
    data = json.loads(path.read_text())
    calibration = data["benchmarks"][0]
    assert calibration["name"] == "test_calibration"
    for key in ("min", "median"):  # a busy machine: the calibration's GEMMs are 10× slower
        calibration["stats"][key] *= 10
    path.write_text(json.dumps(data))
    health = run_health(study / "runs")
    assert list(health.loc[health["disturbed"], "run"]) == ["pair02-clean.json"]
    assert "Caution: 1 of 9 runs were disturbed" in summarize(study, (0.10,), 2)


def test_runs_whose_rounds_took_far_longer_are_listed_as_slow(study):
    path = study / "runs" / "pair01-base2.json"
    data = json.loads(path.read_text())
    for entry in data["benchmarks"][1:]:  # every cell, not the calibration: busy mid-run
        entry["stats"]["mean"] *= 2
    path.write_text(json.dumps(data))
    health = run_health(study / "runs")
    assert list(health.loc[health["slow"], "run"]) == ["pair01-base2.json"]
    assert not health["disturbed"].any()  # the calibration did not see it
    assert "Slow runs (timed rounds over 1.25×" in summarize(study, (0.10,), 2)


def test_evaluate_only_needs_runs(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--evaluate-only"]) == 2
    assert "holds no study runs" in capsys.readouterr().err
    with pytest.raises(SeqbenchError):
        find_runs(tmp_path)
