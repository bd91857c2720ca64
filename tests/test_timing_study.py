"""The timing study's plan of runs and its statistics, on synthetic run medians."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqbench.studies import timing


def _cells(rows: list[tuple], calibration_s: dict[str, float] | None = None) -> pd.DataFrame:
    """(run, kind, allocator, cell, process medians) rows; each run's calibration GEMM time
    from `calibration_s` (1 s where not given)."""
    return pd.DataFrame(
        [
            {
                "run": run,
                "kind": kind,
                "allocator": allocator,
                "calibration_s": (calibration_s or {}).get(run, 1.0),
                "cell": cell,
                "seq_len": 100,
                "process_medians_s": times,
                "process_rounds_s": [[t] * 5 for t in times],  # steady rounds
                "process_wall_s": [np.nan] * len(times),
                "run_median_s": float(pd.Series(times).median()),
            }
            for run, kind, allocator, cell, times in rows
        ]
    )


def test_every_repetition_runs_every_kind_once():
    plan = timing.planned_runs(
        runs=2, allocator_runs=1, allocators=["glibc", "tcmalloc"], baseline="tcmalloc"
    )
    assert [sorted((k, a) for k, a, _, _ in batch) for batch in plan] == [
        [("alone", "glibc"), ("alone", "tcmalloc"), ("timing", "glibc"), ("whole", "tcmalloc")],
        [("alone", "tcmalloc"), ("whole", "tcmalloc")],
    ]


def test_processes_change_every_run_and_nothing_else():
    plan = timing.planned_runs(2, 1, ["glibc", "tcmalloc"], "tcmalloc", processes=4)
    runs = [run for batch in plan for run in batch]
    assert {overrides.processes for _, _, _, overrides in runs} == {4}
    alone = [o for kind, _, _, o in runs if kind == "alone"]
    assert all(o.seq_lens == (100, 1000) and o.models == ("lstm",) for o in alone)


def test_zero_processes_is_one_line_and_exit_2(tmp_path, capsys):
    assert timing.main(["--out", str(tmp_path), "--processes", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "runs.csv").exists()


def test_between_runs_held_out_and_alone():
    cells = _cells(
        [
            ("w1", "whole", "glibc", "a", [1.0, 1.1, 1.2]),
            ("w2", "whole", "glibc", "a", [1.1, 1.2, 1.3]),
            ("w3", "whole", "glibc", "a", [2.0, 2.1, 2.2]),  # a slow mode
            ("x1", "alone", "glibc", "a", [1.65, 1.65, 1.65]),
        ]
    )
    between = timing._between_runs(cells)
    assert between.loc[0, "max_over_min"] == pytest.approx(2.1 / 1.1)
    held = timing._held_out(cells)
    # With 6 other processes the interval is the 95% order-statistic one, [min, max] of 6.
    assert list(held["n_other_processes"]) == [6, 6, 6]
    assert list(held["inside_median_ci"]) == [True, True, False]
    # From 2 other runs the prediction interval is wide (t with 1 degree of freedom): the slow
    # run is not a surprise after one fast and one slow run, nor after two fast ones.
    assert list(held["inside_prediction"]) == [True, True, True]
    alone = timing._alone(cells)
    assert alone.loc[0, "alone_over_inside"] == pytest.approx(1.65 / 1.2)


def test_allocators_are_compared_with_the_whole_runs_allocator():
    cells = _cells(
        [
            ("w1", "whole", "glibc", "a", [2.0]),
            ("w2", "whole", "glibc", "a", [2.2]),
            ("t1", "timing", "jemalloc", "a", [1.0]),
            ("t2", "timing", "jemalloc", "a", [1.0]),
        ]
    )
    table = timing._allocators(timing._between_runs(cells), "glibc").set_index("allocator")
    assert table.loc["jemalloc", "speed_vs_whole_runs"] == pytest.approx(2.1)
    assert table.loc["jemalloc", "worst_max_over_min"] == 1.0
    assert table.loc["glibc", "worst_max_over_min"] == pytest.approx(1.1)


def test_an_unknown_allocator_is_one_line_and_exit_2(tmp_path, capsys):
    # No --allocator: even where the default's library is missing, the error is the one line.
    assert timing.main(["--out", str(tmp_path), "--allocators", "glibc,nope"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def _study(tmp_path, monkeypatch, rows, machines: list[str]):
    cells = _cells(rows).assign(machine=machines)
    monkeypatch.setattr(timing, "cell_table", lambda out: cells)
    runs = cells[["run", "kind", "allocator"]].drop_duplicates().assign(rep=1, wall_s=400.0)
    runs.to_csv(tmp_path / "runs.csv", index=False)


def test_runs_from_two_machines_are_refused(tmp_path, monkeypatch, capsys):
    rows = [("w1", "whole", "glibc", "a", [1.0]), ("w2", "whole", "glibc", "a", [2.6])]
    _study(tmp_path, monkeypatch, rows, ["AMD EPYC 23 17 0 0x1", "AMD EPYC 25 167 1 0x2"])
    assert timing.main(["--out", str(tmp_path), "--summarize-only"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2 machines" in err and "w2" in err
    assert not (tmp_path / "summary.md").exists()


def test_a_study_cut_short_is_summarised(tmp_path, monkeypatch):
    """One run per cell so far: no held-out check yet, and the summary says so."""
    rows = [("w1", "whole", "glibc", "a", [1.0, 1.1, 1.2]), ("x1", "alone", "glibc", "a", [1.2])]
    _study(tmp_path, monkeypatch, rows, ["AMD EPYC 25 167 1 0x2"] * 2)
    text = timing.summarize_study(tmp_path)
    assert "Machine: AMD EPYC 25 167 1 0x2" in text and "no held-out run yet" in text
    assert "Whole runs' allocator: glibc." in text  # from runs.csv, whatever the default
    assert (tmp_path / "summary.md").read_text().strip() == text.strip()


def test_a_study_of_several_runs_weighs_processes_and_rounds(tmp_path, monkeypatch):
    rows = [
        (run, "whole", "tcmalloc", cell, [t * f, t * f * 1.02, t * f * 0.99])
        for run, f in [("w1", 1.0), ("w2", 1.03), ("w3", 0.98)]
        for cell, t in [("test_forward[lstm-T100-s0]", 0.01), ("test_forward[gru-T1000-s0]", 0.1)]
    ]
    _study(tmp_path, monkeypatch, rows, ["Intel Xeon 6 167 1 0x1"] * len(rows))
    text = timing.summarize_study(tmp_path)
    assert "## What more processes or rounds would buy" in text
    assert "| tcmalloc | 3 | 4 processes |" in text
    assert "| tcmalloc | w2 | 0.0" in text  # w2's shift, about +3%
    assert "process_rounds_s" not in (tmp_path / "cells.csv").read_text()


def test_a_run_far_outside_steady_others_is_outside_the_prediction_interval():
    medians = {"w1": 1.00, "w2": 1.01, "w3": 0.99, "w4": 1.00, "w5": 1.30}
    cells = _cells([(run, "whole", "glibc", "a", [m]) for run, m in medians.items()])
    held = timing._held_out(cells).set_index("run")
    assert held.loc["w5", "n_other_runs"] == 4
    assert not held.loc["w5", "inside_prediction"]
    # Held out, each steady run is inside: the 1.30 among the others widens their interval.
    assert held.drop(index="w5")["inside_prediction"].all()


def test_a_run_slow_as_a_whole_is_told_apart_by_its_calibration():
    """The host 20% slower for one run: every cell and the GEMM alike. The raw spread shows
    it; divided by each run's calibration, nothing is left."""
    rows = [
        (run, "whole", "glibc", cell, [t * factor])
        for run, factor in [("w1", 1.0), ("w2", 1.2)]
        for cell, t in [("a", 0.01), ("b", 0.5)]
    ]
    between = timing._between_runs(_cells(rows, {"w1": 0.4e-3, "w2": 0.48e-3}))
    assert list(between["max_over_min"]) == pytest.approx([1.2, 1.2])
    assert list(between["max_over_min_per_calibration"]) == pytest.approx([1.0, 1.0])


def test_any_two_runs_are_every_pair_of_runs_in_every_cell():
    rows = [
        (run, "whole", "glibc", cell, [t])
        for run, ts in [("w1", (1.0, 1.0)), ("w2", (1.05, 1.2)), ("w3", (1.0, 1.0))]
        for cell, t in zip(("a", "b"), ts, strict=True)
    ]
    (row,) = timing._pairs_of_runs(_cells(rows), 1.10).to_dict("records")
    # Cell a: 1.05, 1.05, 1.0; cell b: 1.2, 1.2, 1.0 over the pairs (w1,w2), (w1,w3), (w2,w3).
    assert row["pairs_of_runs"] == 3
    assert row["median_max_over_min"] == pytest.approx(1.05)
    assert row["share_over_threshold"] == pytest.approx(2 / 6)


def test_spread_within_a_run_and_between_runs_are_told_apart():
    """Two runs whose processes agree closely but whose medians differ by 10%: a small
    within-run sd, a large between-run sd (a component the processes of a run share)."""
    rows = [
        ("w1", "whole", "glibc", "a", [1.00, 1.01, 0.99]),
        ("w2", "whole", "glibc", "a", [1.10, 1.111, 1.089]),
    ]
    (row,) = timing._spread_sources(_cells(rows)).to_dict("records")
    assert row["within_run_process_sd"] == pytest.approx(0.01, rel=0.01)
    assert row["between_run_median_sd"] == pytest.approx(np.log(1.1) / np.sqrt(2), rel=1e-6)
