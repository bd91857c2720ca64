"""Where a timing cell's spread comes from (studies/spread.py), on synthetic runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from seqbench.studies import spread, timing

CELL = "test_forward[lstm-mean-sign-T100-B100-H50-I1-s0]"


def _full(runs: dict[str, list[list[float]]], wall_s: float = np.nan) -> pd.DataFrame:
    """Rows of timing.cell_table for one cell: run → each process's round times."""
    rows = []
    for run, processes in runs.items():
        medians = [float(np.median(r)) for r in processes]
        rows.append(
            {
                "run": run,
                "kind": "whole",
                "allocator": "tcmalloc",
                "calibration_s": 4e-4,
                "cell": CELL,
                "seq_len": 100,
                "process_medians_s": medians,
                "process_rounds_s": processes,
                "process_wall_s": [wall_s] * len(processes),
                "run_median_s": float(np.median(medians)),
            }
        )
    return pd.DataFrame(rows)


def test_the_variance_of_a_median_of_k_normals():
    assert spread.median_variance_factor(1) == pytest.approx(1.0, rel=0.01)
    assert spread.median_variance_factor(3) == pytest.approx(0.4487, rel=0.01)
    assert spread.median_variance_factor(5) == pytest.approx(0.2868, rel=0.02)


def test_steady_rounds_leave_the_spread_to_processes_and_runs():
    """Every round of a process alike: no rounds part. Processes 1% apart within each run,
    runs 10% apart: the run part is the between-run variance less 0.449× the within."""
    factors = {"w1": 1.0, "w2": 1.1, "w3": 1.0, "w4": 1.1}
    full = _full({run: [[f * p] * 7 for p in (0.99, 1.0, 1.01)] for run, f in factors.items()})
    (row,) = spread.components(full).to_dict("records")
    within = np.var(np.log([0.99, 1.0, 1.01]), ddof=1)
    between = np.var(np.log(list(factors.values())), ddof=1)
    assert (row["processes"], row["rounds"], row["seq_len"]) == (3, 7, 100)
    assert row["rounds_var"] == 0.0
    assert row["process_var"] == pytest.approx(within)
    assert row["run_var"] == pytest.approx(between - spread.median_variance_factor(3) * within)


def test_slow_first_rounds_move_a_median_but_are_not_counted_as_its_noise():
    """A process's first timed round runs slow after its warm-up, alike in every process;
    the others are steady. That is a level, not spread: the rounds part stays 0 (a bootstrap
    over all rounds would not)."""
    rounds = [1.2, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    full = _full({f"w{i}": [rounds, rounds, rounds] for i in range(3)})
    assert spread.components(full).loc[0, "rounds_var"] == 0.0


def test_the_rounds_part_is_taken_out_of_the_spread_between_processes():
    """Rounds after the first spread ±2%: the rounds part is their robust variance times
    that of a median of 6, and the process part is what the process medians add beyond."""
    noisy = np.array([1.3, 1.0, 1.02, 0.98, 1.0, 1.02, 0.98])
    full = _full({f"w{i}": [list(noisy * p) for p in (0.97, 1.0, 1.03)] for i in range(3)})
    (row,) = spread.components(full).to_dict("records")
    logs = np.log(noisy[1:])
    mad = np.median(np.abs(logs - np.median(logs)))
    expected = (1.4826 * mad * 6 / 5.2) ** 2 * spread.median_variance_factor(6)
    assert row["rounds_var"] == pytest.approx(expected)
    within = np.var(np.log([0.97, 1.0, 1.03]), ddof=1)
    assert row["process_var"] == pytest.approx(within - expected)
    assert 0 < row["process_var"] < within


def test_two_rounds_cannot_tell_rounds_from_processes():
    full = _full({f"w{i}": [[1.06, 1.0], [1.1, 1.04], [1.0, 0.97]] for i in range(3)})
    (row,) = spread.components(full).to_dict("records")
    assert np.isnan(row["rounds_var"])
    within = np.var(np.log([1.03, 1.07, 0.985]), ddof=1)
    assert row["process_var"] == pytest.approx(within)


NO_SHIFTS = pd.DataFrame(columns=["allocator", "run", "shift", "calibration_ms"])


def _parts(rounds_var: float, process_var: float, run_var: float, cells: int = 1) -> pd.DataFrame:
    k = 3
    return pd.DataFrame(
        [
            {
                "allocator": "tcmalloc",
                "cell": f"{CELL}{i}",
                "seq_len": 100,
                "runs": 5,
                "processes": k,
                "rounds": 10,
                "round_s": 0.1,
                "process_s": 2.0,
                "rounds_var": rounds_var,
                "process_var": process_var,
                "run_var": run_var,
                "between_var": run_var
                + spread.median_variance_factor(k) * (process_var + rounds_var),
            }
            for i in range(cells)
        ]
    )


def test_more_processes_buy_nothing_against_a_run_part_and_more_rounds_only_the_rounds():
    table = spread.trade_off(_parts(0.0, 0.0, 0.02**2), NO_SHIFTS, threshold=1.10)
    assert table["median_between_sd"].to_numpy() == pytest.approx([0.02] * len(spread.OPTIONS))
    table = spread.trade_off(_parts(0.01**2, 0.02**2, 0.0), NO_SHIFTS, threshold=1.10)
    sd = table.set_index("option")["median_between_sd"]
    k3, k5 = spread.median_variance_factor(3), spread.median_variance_factor(5)
    assert sd["as run"] == pytest.approx(np.sqrt(k3 * (0.01**2 + 0.02**2)))
    assert sd["5 processes"] == pytest.approx(np.sqrt(k5 * (0.01**2 + 0.02**2)))
    factor = spread.median_variance_factor(20) / spread.median_variance_factor(10)
    assert sd["twice the rounds"] == pytest.approx(np.sqrt(k3 * (0.01**2 * factor + 0.02**2)))


def test_the_observed_spread_anchors_the_model():
    """Two cells of one length whose observed spreads differ: each option scales their
    pooled observed variance, so 'as run' is the observed, whatever the model says."""
    parts = _parts(0.0, 0.02**2, 0.0, cells=2)
    parts["between_var"] = [0.01**2, 0.03**2]
    table = spread.trade_off(parts, NO_SHIFTS, threshold=1.10).set_index("option")
    pooled_sd = np.sqrt((0.01**2 + 0.03**2) / 2)
    assert table.loc["as run", "median_between_sd"] == pytest.approx(pooled_sd)
    k3, k5 = spread.median_variance_factor(3), spread.median_variance_factor(5)
    assert table.loc["5 processes", "median_between_sd"] == pytest.approx(
        pooled_sd * np.sqrt(k5 / k3)
    )


def test_the_time_an_option_adds():
    """3 processes of 2 s each ran (10 rounds of 0.1 s): a 4th adds 2 s, two more 4 s; 10
    more rounds add 1 s to each process, 4 fewer take 0.4 s from each."""
    added = spread.trade_off(_parts(1e-4, 1e-4, 0.0), NO_SHIFTS, threshold=1.10)
    added = added.set_index("option")["added_s_per_run"]
    assert added["as run"] == 0.0
    assert added["4 processes"] == pytest.approx(2.0)
    assert added["5 processes"] == pytest.approx(4.0)
    assert added["5 processes, 3/5 of the rounds"] == pytest.approx(5 * 1.6 - 6.0)
    assert added["twice the rounds"] == pytest.approx(3.0)
    assert added["10 processes, twice the rounds"] == pytest.approx(10 * 3.0 - 6.0)


def test_a_shift_every_cell_shares_spreads_the_worst_cell_less_than_independent_noise():
    sd = np.full(50, 0.02)
    shared, share_shared = spread._worst(sd, np.zeros(50), runs=5, threshold=1.10)
    independent, share_independent = spread._worst(np.zeros(50), sd, runs=5, threshold=1.10)
    assert 1.0 < shared < 1.06 < independent
    assert share_shared > share_independent
    calm, _ = spread._worst(np.zeros(50), np.full(50, 0.005), runs=5, threshold=1.10)
    assert 1.0 < calm < 1.03


def test_a_run_slow_in_every_cell_is_its_shift():
    rows = []
    for run, factor in [("w1", 1.0), ("w2", 1.1), ("w3", 1.0)]:
        for cell, t in [("a", 0.01), ("b", 0.5)]:
            rows.append(
                {
                    "run": run,
                    "allocator": "tcmalloc",
                    "cell": cell,
                    "calibration_s": 4e-4,
                    "run_median_s": t * factor,
                }
            )
    shifts, worst = spread.run_shifts(pd.DataFrame(rows))
    shift = shifts.set_index("run")["shift"]
    assert shift["w2"] > 0.05 > 0 > shift["w1"] == pytest.approx(shift["w3"])
    (row,) = worst.to_dict("records")
    assert row["worst_max_over_min"] == pytest.approx(1.1)
    assert row["worst_without_run_shifts"] == pytest.approx(1.0)


def test_a_process_wall_time_is_the_time_since_the_record_before(tmp_path):
    cells = tmp_path / "cells"
    cells.mkdir()
    for i, (key, finished) in enumerate([("a@p0", 100.0), ("b@p0", 103.5), ("a@p1", 104.0)]):
        record = {"cell_record": {}, "status": "ok", "finished_unix_s": finished, "run_key": key}
        (cells / f"{i}.json").write_text(json.dumps(record))
    assert timing._process_walls(tmp_path) == {"b@p0": 3.5, "a@p1": 0.5}
