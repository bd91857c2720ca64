"""The between-run test's level (CompareOptions.run_alpha), scanned over a paired detector
study's runs and chosen by two-fold cross-validation over its pairs.

resampled_paired (detector_eval) runs `seqbench compare` on each of a pair's 70 splits, about
25 minutes for 20 pairs; a scan over levels would take that per level. With at least 2 runs a
side, every timing verdict depends only on its cell's per-run values, so this module loads
each run once and calls compare's own timing judgement (engine.judge_time) on every cell of
every split. At the level resampled_paired used it gives the same shares, split for split;
the study's summary shows both side by side.

Cross-validation: the pairs, in order, fall into two halves. On each half the level is the
largest of the grid whose mean false-alarm share there is at most the target (the largest,
because detection only grows with the level); that level is then scored on the other half,
which did not choose it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from seqbench.compare import cells
from seqbench.compare.engine import judge_time
from seqbench.compare.metrics import DEFAULT_METRICS, MetricSpec
from seqbench.compare.options import CompareOptions
from seqbench.compare.significance import MIN_RUNS_FOR_T
from seqbench.errors import SeqbenchError
from seqbench.results.load import load_results
from seqbench.studies.detector_eval import find_runs, finished_pair, paired_grid, summary_table

LEVELS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1)  # run_alpha values scanned
TARGET_FALSE_ALARMS = 0.05  # the target for the paired gate
TIMING_SPECS = tuple(s for s in DEFAULT_METRICS if s.kind == "time")


def run_matrix(paths: list[Path]) -> tuple[list[tuple[str, MetricSpec]], np.ndarray]:
    """Each run's timing values: columns (cell name, metric) common to all runs, one row per
    run, as compare's long table reads them (raw, not normalised)."""
    tables = []
    for path in paths:
        table = cells.long_table(load_results([path]), TIMING_SPECS, False, path.name)
        if (table["status"] != "ok").any():
            raise SeqbenchError(
                f"{path.name} has a cell that did not finish (the scan judges timings only)"
            )
        tables.append(table.set_index(["key", "metric"]))
    keys = sorted(set.intersection(*(set(t.index) for t in tables)))
    values = np.array([[t.loc[k, "value"] for k in keys] for t in tables], float)
    if not np.isfinite(values).all():
        raise SeqbenchError(f"a run among {paths[0].parent} has a timing that is not a number")
    by_name = {s.name: s for s in TIMING_SPECS}
    columns = [(tables[0].loc[k, "name"], by_name[k[1]]) for k in keys]
    return columns, values


def _pooled_row(values: np.ndarray, spec: MetricSpec, opt: CompareOptions) -> dict:
    """A cell's row as cells.pooled builds it from these runs' values."""
    run_values = cells.finite_positive(values)
    return {
        "value": cells.pooled_value(pd.Series(values), spec, opt.pool),
        "spread": cells.spread(run_values),
        "run_values": run_values,
        "samples": None,  # with >= 2 runs a side the rounds are not tested
        "range": None,
    }


def flagged(
    columns: list[tuple[str, MetricSpec]],
    base: np.ndarray,
    head: np.ndarray,
    opts: list[CompareOptions],
) -> list[frozenset[tuple[str, str]]]:
    """Per option set, (cell, metric) of every gating timing regression of base runs against
    head runs (rows of run_matrix): what `seqbench compare`'s exit code counts. The pooled
    rows are built once for all option sets (they differ in run_alpha only)."""
    if min(len(base), len(head)) < MIN_RUNS_FOR_T:
        raise SeqbenchError(f"the level scan needs at least {MIN_RUNS_FOR_T} runs a side")
    out: list[set[tuple[str, str]]] = [set() for _ in opts]
    for j, (name, spec) in enumerate(columns):
        b, c = _pooled_row(base[:, j], spec, opts[0]), _pooled_row(head[:, j], spec, opts[0])
        for found, opt in zip(out, opts, strict=True):
            if opt.gate and not re.search(opt.gate, name):
                continue
            if judge_time(b, c, spec, opt)[0] == "regression":
                found.add((name, spec.name))
    return [frozenset(f) for f in out]


def pair_shares(
    unchanged: np.ndarray,
    heads: dict[str, np.ndarray | None],
    columns: list[tuple[str, MetricSpec]],
    runs: int,
    opts: list[CompareOptions],
) -> dict[str, list[float]]:
    """Per head kind and option set, the share of a pair's splits the paired recipe fails:
    `runs - 1` runs a side flagged, then the confirmation (`runs` base runs against every
    head run) flagged too: resampled_paired's rule and split order."""
    shares = {}
    for kind, head_runs in heads.items():
        outcomes = []
        for base in combinations(range(len(unchanged)), runs):
            rest = [i for i in range(len(unchanged)) if i not in base]
            head = unchanged[rest] if head_runs is None else head_runs
            first = flagged(columns, unchanged[list(base[: runs - 1])], head[: runs - 1], opts)
            confirm = flagged(columns, unchanged[list(base)], head, opts)
            outcomes.append([bool(f) and bool(c) for f, c in zip(first, confirm, strict=True)])
        shares[kind] = [float(v) for v in np.mean(outcomes, axis=0)]
    return shares


def level_scan(
    folder: Path, threshold: float, runs: int, levels: tuple[float, ...] = LEVELS, gate: str = ""
) -> pd.DataFrame:
    """One row per (pair, kind, run_alpha): the share of the pair's splits that fail."""
    if runs - 1 < MIN_RUNS_FOR_T:
        raise SeqbenchError(f"the level scan needs at least {MIN_RUNS_FOR_T + 1} runs a side")
    base_opt = paired_grid((threshold,), runs, gate)[-1].options()
    opts = [replace(base_opt, run_alpha=level) for level in levels]
    rows, skipped = [], []
    for pair, group in find_runs(folder).groupby("pair"):
        if (finished := finished_pair(group, runs)) is None:
            continue
        unchanged, head_paths = finished
        slow = {kind: paths for kind, paths in head_paths.items() if paths is not None}
        try:
            columns, values = run_matrix(unchanged + [p for paths in slow.values() for p in paths])
        except SeqbenchError as exc:  # resampled_paired still judges this pair, status and all
            skipped.append(f"pair {pair}: {exc}")
            continue
        heads: dict[str, np.ndarray | None] = {"clean": None}
        start = len(unchanged)
        for kind, paths in slow.items():
            heads[kind] = values[start : start + len(paths)]
            start += len(paths)
        shares = pair_shares(values[: len(unchanged)], heads, columns, runs, opts)
        rows += [
            {"pair": pair, "kind": kind, "run_alpha": level, "flagged_share": share}
            for kind, per_level in shares.items()
            for level, share in zip(levels, per_level, strict=True)
        ]
    scan = pd.DataFrame(rows, columns=["pair", "kind", "run_alpha", "flagged_share"])
    scan.attrs["skipped"] = skipped  # pairs left out, each with why
    return scan


def _rates(scan: pd.DataFrame, pairs: list[int], level: float) -> tuple[float, float, float]:
    """(mean false-alarm share, mean detection share, lowest pair's detection) at a level."""
    part = scan[scan["pair"].isin(pairs) & (scan["run_alpha"] == level)]
    clean = part.loc[part["kind"] == "clean", "flagged_share"]
    slow = part.loc[part["kind"] != "clean"].groupby("pair")["flagged_share"].mean()
    return float(clean.mean()), float(slow.mean()), float(slow.min())


def cross_validate(scan: pd.DataFrame, target: float = TARGET_FALSE_ALARMS) -> pd.DataFrame:
    """Two folds (the first and the second half of the pairs): the level each half chooses,
    and how it does on the half that did not choose it."""
    pairs = sorted(scan["pair"].unique())
    if len(pairs) < 2:
        raise SeqbenchError("cross-validation needs at least 2 finished pairs")
    half = len(pairs) // 2
    halves = [pairs[:half], pairs[half:]]
    rows = []
    for tune, held in (halves, halves[::-1]):
        fine = [
            level
            for level in sorted(scan["run_alpha"].unique())
            if _rates(scan, tune, level)[0] <= target
        ]
        level = max(fine) if fine else float(scan["run_alpha"].min())
        tune_fa, tune_det, _ = _rates(scan, tune, level)
        held_fa, held_det, held_low = _rates(scan, held, level)
        rows.append(
            {
                "chosen_on": f"pairs {tune[0]}-{tune[-1]}",
                "run_alpha": level,
                "false_alarms_there": tune_fa,
                "detection_there": tune_det,
                "scored_on": f"pairs {held[0]}-{held[-1]}",
                "false_alarms": held_fa,
                "detection": held_det,
                "lowest_pair_detection": held_low,
            }
        )
    return pd.DataFrame(rows)


def scan_table(scan: pd.DataFrame) -> pd.DataFrame:
    """Per level: mean false-alarm and detection shares over all pairs, and the extremes."""
    rows = []
    pairs = sorted(scan["pair"].unique())
    for level in sorted(scan["run_alpha"].unique()):
        fa, det, low = _rates(scan, pairs, level)
        clean = scan[(scan["run_alpha"] == level) & (scan["kind"] == "clean")]
        rows.append(
            {
                "run_alpha": level,
                "pairs": len(pairs),
                "false_alarms": fa,
                "highest_pair_false_alarms": float(clean["flagged_share"].max()),
                "detection": det,
                "lowest_pair_detection": low,
            }
        )
    return pd.DataFrame(rows)


def agreement(scan: pd.DataFrame, shares: pd.DataFrame, threshold: float) -> str:
    """One line: does the scan at the default level give resampled_paired's shares (the
    same splits judged through `compare_results`)?"""
    level = CompareOptions().run_alpha
    mine = scan[scan["run_alpha"] == level].set_index(["pair", "kind"])["flagged_share"]
    theirs = shares[shares["threshold"] == threshold].set_index(["pair", "kind"])
    both = mine.to_frame("scan").join(theirs["flagged_share"], how="inner")
    off = both[~np.isclose(both["scan"], both["flagged_share"])]
    if off.empty:
        return (
            f"At the default level ({level:g}) the scan gives resampled.csv's share in all "
            f"{len(both)} (pair, kind) rows."
        )
    listed = ", ".join(f"pair {p} {k}" for p, k in off.index)
    return f"**The scan disagrees with resampled.csv at the default level ({level:g})**: {listed}."


def scan_section(
    folder: Path, out: Path, threshold: float, runs: int, shares: pd.DataFrame
) -> list[str]:
    """The summary's level-scan section; writes level_scan.csv and cross_validation.csv."""
    if runs - 1 < MIN_RUNS_FOR_T:
        return [f"(No level scan: its first comparison needs {MIN_RUNS_FOR_T} runs a side.)", ""]
    scan = level_scan(folder, threshold, runs)
    skipped = []
    if scan.attrs["skipped"]:
        skipped = [f"Left out of the scan: {'; '.join(scan.attrs['skipped'])}.", ""]
    if scan.empty:
        return skipped
    scan.to_csv(out / "level_scan.csv", index=False)
    folds = ["(Cross-validation needs at least 2 finished pairs.)"]
    if scan["pair"].nunique() >= 2:
        table = cross_validate(scan)
        table.to_csv(out / "cross_validation.csv", index=False)
        folds = [
            "Two-fold cross-validation over the pairs: each half chooses the largest level "
            f"whose false alarms there are at most {TARGET_FALSE_ALARMS:.0%}, scored on the "
            "other half (cross_validation.csv).",
            "",
            summary_table(table),
        ]
    return [
        "### The between-run test's level (run_alpha), scanned and cross-validated",
        "",
        f"With {runs - 1} and {runs} runs a side, compare tests each timing cell's runs with a "
        "t-test on their logs (CompareOptions.run_alpha). The same splits at each level, "
        f"threshold {threshold:.0%} (level_scan.csv; seqbench/studies/detector_scan.py). "
        + agreement(scan, shares, threshold),
        "",
        *skipped,
        summary_table(scan_table(scan)),
        "",
        *folds,
        "",
    ]
