"""The detector study (seqbench.studies.detector): its evaluation on stored real runs, one
study run through the local launcher at smoke size, its lock file, and the normalisers
analysis of whole runs (seqbench.studies.normalisers)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tarfile
import time
from pathlib import Path

import pandas as pd
import pytest

from seqbench.compare.engine import Comparison
from seqbench.errors import SeqbenchError
from seqbench.profiles import Overrides
from seqbench.results.load import load_results
from seqbench.studies import normalisers
from seqbench.studies.detector import (
    health_caution,
    main,
    run_once,
    study_allocator,
    summarize,
    timing_lock,
)
from seqbench.studies.detector_eval import (
    RESAMPLED_COLUMNS,
    confirmed,
    default_grid,
    evaluate,
    find_runs,
    pair_conditions,
    paired_grid,
    rates,
    resampled_by_condition,
    resampled_paired,
    resampled_rates,
    run_health,
    split_evaluate,
)

REPO = Path(__file__).resolve().parents[1]
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


def test_the_paired_recipe_fails_only_when_its_confirmation_flags_too(study):
    grid = paired_grid((0.10,), 2)
    assert [(s.baseline_runs, s.current_runs, s.normalize, s.pool, s.widen) for s in grid] == [
        (1, 1, False, "best", True),
        (2, 2, False, "best", True),
    ]
    comparisons, _ = evaluate(study / "runs", grid)
    outcome = confirmed(comparisons, 2)
    assert set(outcome["pair"]) == {2}  # pair 1 has one run of each current kind: no confirm
    assert set(outcome["kind"]) == {"clean", "slow25"}
    for row in outcome.itertuples():
        both = comparisons.loc[
            (comparisons["pair"] == row.pair) & (comparisons["kind"] == row.kind), "flagged"
        ]
        assert len(both) == 2 and row.flagged == both.all()
        assert row.setting == "paired at 10%: 1 runs a side, a flag confirmed with 2 a side"
    assert outcome.set_index("kind").loc["slow25", "flagged"]  # a 25% slowdown is caught
    with pytest.raises(SeqbenchError, match="at least 2 runs a side"):
        paired_grid((0.10,), 1)


def test_resampling_a_pair_gives_the_recipe_s_outcome_on_every_split(study, tmp_path, monkeypatch):
    from itertools import combinations

    from seqbench.studies import detector_eval

    sides = []  # how many runs each loaded side pools: 1 for the first comparison, 2 to confirm

    def spy(paths):
        sides.append(len(paths))
        return load_results(paths)

    monkeypatch.setattr(detector_eval, "load_results", spy)
    shares = resampled_paired(study / "runs", (0.10,), 2)
    assert set(sides) == {1, 2}
    # pair 1 has 3 runs of the unchanged tree, fewer than 2 a side: not finished, left out
    assert set(shares["pair"]) == {2}
    assert set(shares["kind"]) == {"clean", "slow25"}
    assert (shares["splits"] == 6).all()  # 2 of the 4 unchanged runs as the base, every way
    unchanged = sorted((study / "runs").glob("pair02-[bc]*.json"))
    # The same splits through evaluate + confirmed, one folder per split: the shares agree.
    for kind, heads in [
        ("clean", None),
        ("slow25", sorted((study / "runs").glob("pair02-slow25*"))),
    ]:
        outcomes = []
        for i, base in enumerate(combinations(unchanged, 2)):
            folder = tmp_path / f"{kind}{i}"
            folder.mkdir()
            head = heads or [p for p in unchanged if p not in base]
            for r, path in enumerate(base, 1):
                shutil.copy(path, folder / f"pair01-base-r{r}.json")
            for r, path in enumerate(head, 1):
                shutil.copy(path, folder / f"pair01-{kind}-r{r}.json")
            comparisons, _ = evaluate(folder, paired_grid((0.10,), 2))
            outcomes.append(bool(confirmed(comparisons, 2)["flagged"].iloc[0]))
        share = shares.set_index("kind").loc[kind, "flagged_share"]
        assert share == pytest.approx(sum(outcomes) / len(outcomes))
    assert shares.set_index("kind").loc["slow25", "flagged_share"] == 1.0
    table = resampled_rates(shares).set_index("kind")
    assert table.loc["slow25", "rate"] == 1.0 and table.loc["clean", "pairs"] == 1


def test_sigterm_mid_study_is_one_line_and_exit_143(tmp_path, monkeypatch, capsys):
    from seqbench.launchers.base import Terminated
    from seqbench.studies import detector

    def stopped(*args, **kwargs):
        raise Terminated(signal.SIGTERM)

    monkeypatch.setattr(detector, "collect", stopped)
    assert main(["--out", str(tmp_path), "--pairs", "1"]) == 128 + signal.SIGTERM
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stopped by SIGTERM" in err


def test_paired_needs_as_many_runs_on_both_sides(tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--paired", "--baseline-runs", "3", "--current-runs", "2"]
    assert main(argv) == 2
    assert "--paired needs --baseline-runs equal to --current-runs" in capsys.readouterr().err


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


def test_a_pair_with_runs_from_two_machines_is_refused(study):
    path = study / "runs" / "pair02-slow25-r2.json"
    data = json.loads(path.read_text())
    data["machine_info"]["seqbench"]["cpu_model_number"] = "167"  # another machine
    path.write_text(json.dumps(data))
    with pytest.raises(SeqbenchError, match="pair 2's runs come from 2 machines"):
        evaluate(study / "runs", paired_grid((0.10,), runs=2))


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


def test_a_paired_summary_adds_the_resampled_rates(study):
    text = summarize(study, (0.10,), baseline_runs=2, current_runs=2, paired=True)
    assert "## The paired recipe, resampled within each pair" in text
    assert "paired at 10%: 1 runs a side, a flag confirmed with 2 a side" in text
    resampled = pd.read_csv(study / "resampled.csv")
    assert list(resampled.columns) == RESAMPLED_COLUMNS
    assert len(resampled) == 2  # pair 2's clean and slow25
    assert "### By host condition, and a stricter confirmation" in text
    pairs = pd.read_csv(study / "pairs.csv")
    assert list(pairs["pair"]) == [2]  # only finished pairs have shares
    assert pairs["steady"].all() and "flagged_share slow25 0.1" in pairs.columns


def _comparison(flagged: list[str]) -> Comparison:
    rows = pd.DataFrame(
        {
            "name": ["a", "b", "c"],
            "metric": "time_median_s",
            "verdict": ["regression" if n in flagged else "unchanged" for n in "abc"],
            "gates": True,
        }
    )
    return Comparison(rows, [], [], [], None)


@pytest.mark.parametrize(
    ("confirm_flags", "any_share", "same_cell_share"),
    [(["b"], 1.0, 0.0), (["a", "b"], 1.0, 1.0), ([], 0.0, 0.0)],
)
def test_the_stricter_rule_fails_only_when_the_confirmation_flags_a_cell_flagged_first(
    study, monkeypatch, confirm_flags, any_share, same_cell_share
):
    from seqbench.studies import detector_eval

    def fake_compare(base, head, options):  # 1 run a side first, then 2 to confirm
        return _comparison(["a"] if len(base) == 1 else confirm_flags)

    monkeypatch.setattr(detector_eval, "load_results", list)
    monkeypatch.setattr(detector_eval, "compare_results", fake_compare)
    shares = resampled_paired(study / "runs", (0.10,), 2)
    assert (shares["flagged_share"] == any_share).all()
    assert (shares["flagged_share_same_cell"] == same_cell_share).all()


def test_pairs_are_split_by_whether_the_host_was_steady():
    health = pd.DataFrame(
        {
            "run": ["pair01-base-r1.json", "pair01-clean-r1.json", "pair02-base-r1.json"],
            "disturbed": [False, False, True],
            "calibration_vs_fastest": [1.0, 1.1, 1.4],
        }
    )
    conditions = pair_conditions(health)
    assert list(conditions["steady"]) == [True, False]
    assert list(conditions["disturbed_runs"]) == [0, 1]
    assert conditions["calibration_vs_fastest"].tolist() == pytest.approx([1.05, 1.4])
    shares = pd.DataFrame(
        {
            "pair": [1, 2],
            "kind": "clean",
            "threshold": 0.1,
            "splits": 70,
            "flagged_share": [0.02, 0.10],
            "flagged_share_same_cell": [0.0, 0.04],
        }
    )
    table = resampled_by_condition(shares, conditions).set_index("pairs_on")
    assert table.loc["steady", "rate"] == pytest.approx(0.02)
    assert table.loc["disturbed", "rate_same_cell"] == pytest.approx(0.04)
    assert table.loc["all", "rate"] == pytest.approx(0.06)
    assert table.loc["all", "highest_pair"] == pytest.approx(0.10)
    assert table.loc["all", "pairs"] == 2


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
    assert "Caution: 1 of 11 runs were disturbed" in health_caution(health)


def test_runs_whose_rounds_took_far_longer_are_listed_as_slow(study):
    path = study / "runs" / "pair01-base-r2.json"
    data = json.loads(path.read_text())
    for entry in data["benchmarks"][1:]:  # every cell, not the calibration: busy mid-run
        entry["stats"]["mean"] *= 2
    path.write_text(json.dumps(data))
    health = run_health(study / "runs")
    assert list(health.loc[health["slow"], "run"]) == ["pair01-base-r2.json"]
    assert not health["disturbed"].any()  # the calibration did not see it
    assert "Slow runs (timed rounds over 1.25×" in health_caution(health)


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
    subset = Overrides(families=("throughput",), models=("rnn",), impls=("fused",), threads=1)
    log = tmp_path / "pair01-slow25-r1.log"
    wall_s = run_once(out, subset, "smoke", 0.25, log, "glibc-pinned")
    assert wall_s > 0
    benchmarks = json.loads(out.read_text())["benchmarks"]
    timed = [b for b in benchmarks if b["extra_info"]["family"] == "throughput"]
    assert len(timed) == 2  # forward and train step of the one cell
    assert {b["extra_info"]["config"]["extra"]["inject_slowdown"] for b in timed} == {0.25}
    # The run folder beside it is an ordinary run: its plan, its records.
    assert (tmp_path / "pair01-slow25-r1" / "run.json").exists()
    assert len(list((tmp_path / "pair01-slow25-r1" / "cells").glob("*.json"))) == 3
    manifest = json.loads((tmp_path / "pair01-slow25-r1" / "run.json").read_text())
    assert manifest["allocator"] == "glibc-pinned"


def _run_under(runs: Path, name: str, allocator: str | None) -> None:
    (runs / name).mkdir(parents=True)
    manifest = {"profile": "quick"} | ({"allocator": allocator} if allocator else {})
    (runs / name / "run.json").write_text(json.dumps(manifest))


def test_a_resumed_study_keeps_its_allocator_and_refuses_a_mix(tmp_path):
    runs = tmp_path / "runs"
    _run_under(runs, "pair01-base-r1", None)  # recorded before the allocator was a setting
    assert study_allocator(runs) == "glibc"
    _run_under(runs, "pair01-clean-r1", "glibc-pinned")
    with pytest.raises(SeqbenchError, match="under 2 allocators"):
        study_allocator(runs)


def test_the_lock_is_created_once_and_a_second_holder_gets_one_clear_line(tmp_path):
    lock = tmp_path / "timing.lock"
    with timing_lock(lock):
        assert lock.read_text() == f"seqbench detector study, pid {os.getpid()}\n"
        held = "is held by seqbench detector study, pid"
        with pytest.raises(SeqbenchError, match=held) as err, timing_lock(lock):
            pytest.fail("a held lock was acquired again")
        assert "\n" not in str(err.value) and str(lock) in str(err.value)
        assert lock.exists()  # the refused attempt leaves the holder's lock alone
    assert not lock.exists()
    with timing_lock(lock):  # released: the next study gets it
        assert lock.exists()
    assert not lock.exists()


def test_the_lock_is_released_on_an_exception_and_on_sigterm(tmp_path):
    lock = tmp_path / "timing.lock"
    with pytest.raises(RuntimeError), timing_lock(lock):
        raise RuntimeError("a run failed")
    assert not lock.exists()
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exited, timing_lock(lock):
        os.kill(os.getpid(), signal.SIGTERM)  # what `timeout` or `kill` sends
        time.sleep(5)  # interrupted by the handler
    assert exited.value.code == 143
    assert not lock.exists()
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_lock_never_removes_a_lock_someone_else_took_since(tmp_path):
    lock = tmp_path / "timing.lock"
    with timing_lock(lock):
        lock.unlink()  # removed by hand while the study ran; another job took it
        lock.write_text("another job\n")
    assert lock.read_text() == "another job\n"


def test_a_study_stops_before_its_first_run_when_the_lock_is_held(tmp_path, capsys):
    lock = tmp_path / "timing.lock"
    lock.write_text("seqbench detector study, pid 12345\n")
    assert main(["--out", str(tmp_path / "study"), "--pairs", "1", "--lock-file", str(lock)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("detector study: error: lock file ") and err.count("\n") == 1
    assert "held by seqbench detector study, pid 12345" in err
    assert not (tmp_path / "study" / "runs").exists()
    assert lock.read_text() == "seqbench detector study, pid 12345\n"


LSTM_T100 = "test_forward[lstm-mean-sign-T100-B100-H50-I1-s0]"


def _normaliser_run(folder: Path, cells: float = 1.0, calibration: float = 1.0) -> Path:
    """A run folder made from a real throughput run plus an LSTM T=10 forward entry (a copy of
    the T=100 one), every cell's times scaled by `cells` and the calibration's by
    `calibration`: a machine that slowed down uniformly, or the cells alone."""
    data = json.loads((FIXTURES / "tput_base.json").read_text())
    lstm = json.loads(json.dumps(next(b for b in data["benchmarks"] if b["name"] == LSTM_T100)))
    for key in ("name", "fullname", "param"):
        lstm[key] = lstm[key].replace("-T100-", "-T10-")
    lstm["extra_info"]["config"]["seq_len"] = 10
    data["benchmarks"].append(lstm)
    for bench in data["benchmarks"]:
        factor = calibration if bench["name"] == normalisers.CALIBRATION else cells
        for key in ("median", "min"):
            bench["stats"][key] *= factor
    folder.mkdir()
    (folder / "benchmarks-1.json").write_text(json.dumps(data))
    return folder


def test_normalisers_cancel_what_they_measure(tmp_path):
    a = _normaliser_run(tmp_path / "a")
    slower = _normaliser_run(tmp_path / "slower", cells=1.1, calibration=1.1)
    busy = _normaliser_run(tmp_path / "busy", cells=1.1)  # the calibration did not see it
    for runs, expected in (
        ([a, slower], {"none": 0.1, "calibration GEMM (--normalize)": 0.0}),
        ([a, busy], {"none": 0.1, "calibration GEMM (--normalize)": 0.1}),
    ):
        table = normalisers.table(*normalisers.run_times(runs))
        assert set(table["cells"]) == {"T=100 cells", "T>=100 cells"}
        assert (table["comparisons"] == 6).all()  # 6 timed cells at T=100, 1 pair of runs
        by = table.set_index(["normaliser", "cells"])["median_abs_change"]
        for label, change in expected.items():
            assert by[label, "T=100 cells"] == pytest.approx(change)
        # the LSTM step slowed with the cells, so dividing by it cancels either slowdown
        assert by["LSTM T=10 forward", "T=100 cells"] == pytest.approx(0.0)
    assert by["geometric mean of both", "T=100 cells"] == pytest.approx(1.1**0.5 - 1)


def test_normalisers_refuse_runs_without_their_entries(tmp_path, capsys):
    a = _normaliser_run(tmp_path / "a")
    with pytest.raises(SeqbenchError, match="at least 2 run folders"):
        normalisers.run_times([a])
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(FIXTURES / "tput_clean.json", plain / "benchmarks-1.json")
    with pytest.raises(SeqbenchError, match=r"T10.*missing from run\(s\): .*plain"):
        normalisers.run_times([a, plain])
    assert normalisers.main([str(a), str(plain)]) == 2
    assert capsys.readouterr().err.startswith("normalisers: error: test_forward[lstm")


def test_normalisers_reproduce_the_committed_whole_runs_table(tmp_path, capsys):
    """results/detector-study/whole-runs/normalisers.txt, from its 7 committed runs."""
    study = REPO / "results" / "detector-study" / "whole-runs"
    baseline = [study / "baseline-2026-11-28" / f"run-{i}" for i in (1, 2, 3)]
    if not (study / "extra-runs.tar.xz").exists() or not all(p.is_dir() for p in baseline):
        pytest.skip("the whole-runs study's runs are not in this checkout")
    with tarfile.open(study / "extra-runs.tar.xz") as tar:
        tar.extractall(tmp_path / "runs", filter="data")
    extra = sorted((tmp_path / "runs").glob("extra-run-*"))
    assert len(extra) == 4
    assert normalisers.main([*map(str, baseline + extra), "--out", str(tmp_path / "out")]) == 0
    expected = (study / "normalisers.txt").read_text()
    assert capsys.readouterr().out == expected
    assert (tmp_path / "out" / "normalisers.txt").read_text() == expected


def test_the_default_subset_is_torch_s_implementation_at_t100():
    from seqbench.profiles import build_cells
    from seqbench.studies.detector import DEFAULT_PROFILE, DEFAULT_SUBSET

    cells = build_cells(DEFAULT_PROFILE, DEFAULT_SUBSET)
    # quick also times loop, compiled and article at T=100: the study's 6 cells stay fused.
    assert {(c.impl, c.seq_len, c.threads) for c in cells} == {("fused", 100, 1)}
    assert len(cells) == 3  # one throughput cell per model: forward and train step each


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (["--impls", "cuda-graph"], "unknown implementation 'cuda-graph'"),
        (["--processes", "0"], "processes must be a positive integer"),
    ],
)
def test_a_bad_subset_stops_before_the_first_run(tmp_path, capsys, option, said):
    study = tmp_path / "study"
    assert main(["--out", str(study), "--pairs", "1", *option]) == 2
    err = capsys.readouterr().err
    assert err.startswith("detector study: error: ") and said in err and err.count("\n") == 1
    assert not (study / "runs").exists()


# ---- the level scan of the between-run test (seqbench.studies.detector_scan) ---------------

LSTM_STEP = "test_train_step[lstm-mean-sign-T100-B100-H50-I1-s0]"


def _slower(source: str, target: Path, factor: float, cell: str | None = None) -> None:
    """A fixture run with every timed cell (or only `cell`) `factor` times slower."""
    data = json.loads((FIXTURES / f"{source}.json").read_text())
    for entry in data["benchmarks"][1:]:  # [0] is the calibration
        if cell and entry["name"] != cell:
            continue
        stats = entry["stats"]
        for key in ("min", "max", "mean", "median", "q1", "q3", "ld15iqr", "hd15iqr"):
            stats[key] *= factor
        stats["data"] = [t * factor for t in stats["data"]]
        metrics = entry["extra_info"]["metrics"]
        for key, value in metrics.items():
            if isinstance(value, float) and key.endswith("_per_s"):
                metrics[key] = value / factor
            elif isinstance(value, float) and key.endswith("_s"):
                metrics[key] = value * factor
    target.write_text(json.dumps(data))


@pytest.fixture
def bimodal_study(tmp_path: Path) -> Path:
    """One pair, 3 runs a side: of its 6 runs of the unchanged tree, 3 landed 30% slower on
    the LSTM train step (a whole-run mode, README "Whole runs"); 3 runs with 25% injected."""
    runs = tmp_path / "runs"
    runs.mkdir()
    unchanged = [
        ("base-r1", "tput_base", 1.0),
        ("base-r2", "tput_clean", 1.3),
        ("base-r3", "tput_base", 1.02),
        ("clean-r1", "tput_clean", 1.31),
        ("clean-r2", "tput_base", 1.29),
        ("clean-r3", "tput_clean", 0.99),
    ]
    for name, source, factor in unchanged:
        _slower(source, runs / f"pair01-{name}.json", factor, LSTM_STEP)
    for rep, factor in enumerate((1.0, 1.01, 0.99), 1):
        _slower("tput_slow25", runs / f"pair01-slow25-r{rep}.json", factor)
    return tmp_path


def test_the_level_scan_judges_splits_as_compare_does(bimodal_study):
    """The scan calls compare's timing judgement on each split's runs; resampled_paired runs
    `compare_results` on the same splits. At the default level they agree, and the fixture
    makes that a real check: some splits separate the LSTM cell's two modes, most do not."""
    from seqbench.compare.options import CompareOptions
    from seqbench.studies.detector_scan import level_scan

    levels = (CompareOptions().run_alpha, 1e-9)
    scan = level_scan(bimodal_study / "runs", 0.10, 3, levels=levels)
    shares = resampled_paired(bimodal_study / "runs", (0.10,), 3)
    default = scan[scan["run_alpha"] == CompareOptions().run_alpha].set_index("kind")
    compared = shares.set_index("kind")["flagged_share"]
    assert default.loc["clean", "flagged_share"] == pytest.approx(compared["clean"])
    assert default.loc["slow25", "flagged_share"] == pytest.approx(compared["slow25"]) == 1.0
    assert 0 < compared["clean"] < 1
    strict = scan[scan["run_alpha"] == 1e-9].set_index("kind")  # the level reaches the test
    assert strict.loc["clean", "flagged_share"] < default.loc["clean", "flagged_share"]


def test_a_paired_summary_adds_the_level_scan(bimodal_study):
    text = summarize(bimodal_study, (0.10,), baseline_runs=3, current_runs=3, paired=True)
    assert "### The between-run test's level (run_alpha), scanned and cross-validated" in text
    assert "the scan gives resampled.csv's share in all 2 (pair, kind) rows" in text
    scan = pd.read_csv(bimodal_study / "level_scan.csv")
    assert set(scan["kind"]) == {"clean", "slow25"} and scan["run_alpha"].nunique() == 7
    assert not (bimodal_study / "cross_validation.csv").exists()  # one pair: no two halves


def test_cross_validation_chooses_on_one_half_and_scores_on_the_other():
    from seqbench.studies.detector_scan import cross_validate

    shares = {  # (pair, run_alpha) -> (false-alarm share, detection share)
        (1, 0.01): (0.02, 0.9),
        (2, 0.01): (0.04, 0.8),
        (1, 0.05): (0.06, 1.0),
        (2, 0.05): (0.08, 1.0),
        (3, 0.01): (0.00, 0.5),
        (4, 0.01): (0.02, 0.7),
        (3, 0.05): (0.04, 0.9),
        (4, 0.05): (0.06, 1.0),
    }
    scan = pd.DataFrame(
        [
            {"pair": p, "kind": kind, "run_alpha": a, "flagged_share": v[i]}
            for (p, a), v in shares.items()
            for i, kind in enumerate(("clean", "slow25"))
        ]
    )
    folds = cross_validate(scan, target=0.05).set_index("chosen_on")
    # pairs 1-2: 0.05 alarms 7% there, so 0.01 (3%); scored on pairs 3-4 at 0.01
    assert folds.loc["pairs 1-2", "run_alpha"] == 0.01
    assert folds.loc["pairs 1-2", "false_alarms"] == pytest.approx(0.01)
    assert folds.loc["pairs 1-2", "detection"] == pytest.approx(0.6)
    assert folds.loc["pairs 1-2", "lowest_pair_detection"] == pytest.approx(0.5)
    # pairs 3-4: 0.05 alarms 5% there, within the target, and detects more
    assert folds.loc["pairs 3-4", "run_alpha"] == 0.05
    assert folds.loc["pairs 3-4", "false_alarms"] == pytest.approx(0.07)
    assert folds.loc["pairs 3-4", "scored_on"] == "pairs 1-2"


def test_the_level_scan_leaves_out_a_pair_with_an_unfinished_cell_and_says_so(bimodal_study):
    from seqbench.studies.detector_scan import level_scan

    path = bimodal_study / "runs" / "pair01-clean-r2.json"
    data = json.loads(path.read_text())
    data["benchmarks"][2]["extra_info"]["status"] = "crashed"
    path.write_text(json.dumps(data))
    scan = level_scan(bimodal_study / "runs", 0.10, 3)
    assert scan.empty
    assert scan.attrs["skipped"] == [
        "pair 1: pair01-clean-r2.json has a cell that did not finish (the scan judges timings only)"
    ]
