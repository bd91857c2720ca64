"""The comparison itself: match cells, judge each metric by its kind's rule, collect verdicts.

Rules (README, "Comparing runs"):
  time      regression when slower by more than `threshold` AND the runs differ (t-test over
            runs with >= 2 a side, else asv's rule on the rounds; compare/significance.py)
  memory    regression when peak bytes grow by more than `mem_threshold` and `mem_floor_bytes`
  loss      per configuration, on the mean over its seeds, with a tolerance from the seed
            spread (compare/convergence.py)
  change    gradient summaries: reported as "changed" past `grad_tolerance`, never failing
  status    a cell that was "ok" and now is not (diverged, crashed, ...) is a regression
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seqbench.analysis.provenance import environment_warnings
from seqbench.compare import cells
from seqbench.compare.convergence import judge_losses
from seqbench.compare.metrics import MetricSpec, select
from seqbench.compare.options import CompareOptions
from seqbench.compare.significance import MIN_RUNS_FOR_T, Significance, rounds_differ, runs_differ
from seqbench.errors import SeqbenchError
from seqbench.results.load import ResultSet

# Calibration times further apart than this factor get a warning: on one machine kind, two
# quiet runs agree within a few percent, while a busy machine (2 threads on 2 shared cores)
# can slow the calibration's parallel GEMMs by 10-100×, far more than the cells.
CALIBRATION_WARN_RATIO = 1.25
VERDICTS = ("regression", "improvement", "changed", "untested", "missing", "unchanged")
ROW_COLUMNS = [
    "name",
    "measurement",
    "metric",
    "unit",
    "baseline",
    "current",
    "change",
    "p_value",
    "test",
    "tolerance",
    "verdict",
]  # then "gates" (CompareOptions.gate)


@dataclass
class Comparison:
    """Everything `seqbench compare` reports."""

    rows: pd.DataFrame  # one row per (common cell, metric): ROW_COLUMNS
    only_baseline: list[str]  # cells in the baseline only, with how they differ
    only_current: list[str]  # cells in the current set only
    warnings: list[str]  # environment differences and other caveats, one line each
    calibration_ratio: float | None  # current / baseline calibration time (1.3 = 30% slower)
    options: CompareOptions = field(default_factory=CompareOptions)  # the rules applied

    def count(self, verdict: str) -> int:
        return int((self.rows["verdict"] == verdict).sum())

    @property
    def gating_regressions(self) -> int:
        """Regressions in cells that gate (all of them unless --gate narrows it)."""
        return int(((self.rows["verdict"] == "regression") & self.rows["gates"]).sum())

    @property
    def exit_code(self) -> int:
        """0: no gating regression; 1: at least one (2, bad input, is raised earlier)."""
        return 1 if self.gating_regressions else 0


def _unit(spec: MetricSpec, normalize: bool) -> str:
    if normalize and spec.kind == "time":
        return "cal" if spec.better == "lower" else f"{spec.unit()}·cal"
    return spec.unit()


def _tolerance(threshold: float, base: Mapping[str, Any], opt: CompareOptions) -> float:
    """The threshold for this cell: at least its baseline runs' own spread (widen_by_spread).
    Whole runs of one tree on 2 shared cores can land in a fast or a slow mode for a cell
    (one LSTM cell: 79 vs 140 ms over 5 runs), so a change inside that spread is noise."""
    return max(threshold, base["spread"]) if opt.widen_by_spread else threshold


def _significance(
    base: Mapping[str, Any], cur: Mapping[str, Any], opt: CompareOptions
) -> Significance:
    """Between runs where both sides have several (the variance that matters, README
    "Checking the detector", the between-run test), else between the rounds of the one run."""
    runs = base.get("run_values"), cur.get("run_values")
    if all(r is not None and len(r) >= MIN_RUNS_FOR_T for r in runs):
        return runs_differ(*runs, opt.run_alpha)
    return rounds_differ(base["samples"], cur["samples"], opt.alpha, base["range"], cur["range"])


def judge_time(
    base: Mapping[str, Any], cur: Mapping[str, Any], spec: MetricSpec, opt: CompareOptions
) -> tuple[str, float | None, str]:
    """(verdict, p-value, test) of one timing metric of one cell: base and cur are its pooled
    rows (cells.pooled: value, spread, run_values, samples, range). Public because the
    detector study's level scan judges each split's cells with it (studies/detector_scan)."""
    cost = cur["value"] / base["value"] if spec.better == "lower" else base["value"] / cur["value"]
    sig = _significance(base, cur, opt)
    threshold = _tolerance(opt.threshold, base, opt)
    over = cost > 1 + threshold
    under = cost < 1 / (1 + threshold)
    if not (over or under):
        return "unchanged", sig.p_value, sig.method
    if sig.differ is None:
        return "untested", sig.p_value, sig.method
    if not sig.differ:
        return "unchanged", sig.p_value, sig.method
    return ("regression" if over else "improvement"), sig.p_value, sig.method


def _judge_memory(base: float, cur: float, threshold: float, opt: CompareOptions) -> str:
    if cur > base * (1 + threshold) and cur - base > opt.mem_floor_bytes:
        return "regression"
    if cur < base / (1 + threshold) and base - cur > opt.mem_floor_bytes:
        return "improvement"
    return "unchanged"


def _judge_row(base: pd.Series, cur: pd.Series, spec: MetricSpec, opt: CompareOptions) -> dict:
    b, c = base["value"], cur["value"]
    row = {
        "name": base["name"],
        "measurement": base["config"].get("measurement"),
        "metric": spec.name,
        "unit": _unit(spec, opt.normalize),
        "baseline": b,
        "current": c,
        "change": c / b - 1 if b else np.nan,
        "p_value": np.nan,
        "test": "",
        "tolerance": np.nan,
    }
    if not (np.isfinite(b) and np.isfinite(c)):
        return row | {"verdict": "missing"}
    if spec.kind == "time":
        verdict, p, test = judge_time(base, cur, spec, opt)
        return row | {
            "verdict": verdict,
            "p_value": p if p is not None else np.nan,
            "test": test,
            "tolerance": _tolerance(opt.threshold, base, opt),
        }
    if spec.kind == "memory":
        tolerance = _tolerance(opt.mem_threshold, base, opt)
        return row | {"verdict": _judge_memory(b, c, tolerance, opt), "tolerance": tolerance}
    moved = abs(c / b - 1) > opt.grad_tolerance if b else c != 0
    return row | {"verdict": "changed" if moved else "unchanged", "tolerance": opt.grad_tolerance}


def _status_row(base: pd.Series, cur: pd.Series) -> dict | None:
    if base["status"] == cur["status"]:
        return None
    verdict = (
        "regression"
        if base["status"] == "ok"
        else "improvement"
        if cur["status"] == "ok"
        else "changed"
    )
    return {
        "name": base["name"],
        "measurement": base["config"].get("measurement"),
        "metric": "status",
        "unit": "",
        "baseline": base["status"],
        "current": cur["status"],
        "change": np.nan,
        "p_value": np.nan,
        "test": "",
        "tolerance": np.nan,
        "verdict": verdict,
    }


def _describe_only(name: str, config: dict, other: dict[str, dict]) -> str:
    """A cell on one side only; if the other side has a cell of that name, say what differs."""
    twin = other.get(name)
    if twin is None:
        return name
    diffs = [
        f"{k} {config.get(k)!r} vs {twin.get(k)!r}"
        for k in sorted(set(config) | set(twin))
        if config.get(k) != twin.get(k)
    ]
    return f"{name} ({'; '.join(diffs)})" if diffs else name


def _no_common_cells(base: pd.DataFrame, cur: pd.DataFrame) -> SeqbenchError:
    fields = sorted({k for cfgs in (base["config"], cur["config"]) for c in cfgs for k in c})
    differing = [
        k
        for k in fields
        if {str(c.get(k)) for c in base["config"]}.isdisjoint(
            {str(c.get(k)) for c in cur["config"]}
        )
    ]
    hint = f"; they differ in {', '.join(differing)}" if differing else ""
    return SeqbenchError(
        f"no cells in common between baseline ({base['key'].nunique()} cells) "
        f"and current ({cur['key'].nunique()} cells){hint}"
    )


def _calibration_ratio(baseline: ResultSet, current: ResultSet) -> float | None:
    b = list(cells.calibrations(baseline).values())
    c = list(cells.calibrations(current).values())
    return float(np.median(c) / np.median(b)) if b and c else None


def _judge_all(
    base: pd.DataFrame,
    cur: pd.DataFrame,
    common: set[str],
    specs: tuple[MetricSpec, ...],
    opt: CompareOptions,
) -> pd.DataFrame:
    """One verdict row per common cell and metric (plus a status row where it changed),
    regressions first."""
    by_spec = {s.name: s for s in specs}
    cur_index = cur.set_index(["key", "metric"])
    rows, seen_status = [], set()
    for b in base[base["key"].isin(common)].itertuples(index=False):
        b = pd.Series(b._asdict())
        c = cur_index.loc[(b["key"], b["metric"])]
        if b["key"] not in seen_status:
            seen_status.add(b["key"])
            status = _status_row(b, c)
            if status:
                rows.append(status)
        spec = by_spec[b["metric"]]
        if spec.kind == "loss" or not (np.isfinite(b["value"]) or np.isfinite(c["value"])):
            continue  # losses are judged per configuration; or the metric does not apply
        rows.append(_judge_row(b, c, spec, opt))
    rows += judge_losses(base, cur, common, specs, opt)
    frame = pd.DataFrame(rows, columns=ROW_COLUMNS)
    order = {v: i for i, v in enumerate(VERDICTS)}
    return frame.sort_values(
        ["verdict", "name", "metric"],
        key=lambda s: s.map(order) if s.name == "verdict" else s,
        kind="stable",
    ).reset_index(drop=True)


def _one_sided(side: pd.DataFrame, other: pd.DataFrame, common: set[str]) -> list[str]:
    """The cells of `side` that `other` lacks, each named once."""
    twins = dict(zip(other["name"], other["config"], strict=True))
    return sorted(
        {
            _describe_only(n, cfg, twins)
            for k, n, cfg in zip(side["key"], side["name"], side["config"], strict=True)
            if k not in common
        }
    )


def _calibration_warning(ratio: float | None, normalize: bool) -> list[str]:
    if ratio is None or 1 / CALIBRATION_WARN_RATIO <= ratio <= CALIBRATION_WARN_RATIO:
        return []
    advice = (
        "normalised timings assume a uniform difference"
        if normalize
        else "consider --normalize, or rerun on a quiet machine"
    )
    return [
        f"calibration time differs {ratio:.2f}× (current/baseline): the machines differ "
        f"in speed or one was busy with other work; {advice}"
    ]


def _uniform_shift_warning(
    rows: pd.DataFrame, ratio: float | None, opt: CompareOptions
) -> list[str]:
    """Every timed cell slower by about the same factor while the calibration is not: either
    a change that slows everything (a new torch) or a machine that got busy after the
    calibration ran at the start of the run. Only a rerun tells them apart."""
    change = rows.loc[rows["metric"] == "time_median_s", "change"].dropna()
    if len(change) < 3 or not (change > 0).all() or change.median() <= opt.threshold:
        return []
    if ratio is not None and ratio - 1 > change.median() / 2:
        return []  # the calibration slowed too: the calibration warning covers it
    calib = f"{ratio:.2f}×" if ratio is not None else "not recorded"
    return [
        f"all {len(change)} timed cells are slower (median {change.median():+.0%}) while "
        f"the calibration ratio is {calib}: a change that slows everything, or a machine "
        "that became busy after the calibration ran; rerun the current side to tell"
    ]


def _gates(rows: pd.DataFrame, specs: tuple[MetricSpec, ...], gate: str) -> pd.Series:
    """Which rows may fail the comparison. --gate narrows only timing and memory rows, the
    ones run-to-run noise moves; a status change (a crash) or a loss regression is never
    noise on a CPU, so it fails in every cell."""
    if not gate:
        return pd.Series(True, index=rows.index)
    noisy = rows["metric"].isin([s.name for s in specs if s.kind in ("time", "memory")])
    pattern = re.compile(gate)
    return (~noisy | rows["name"].map(lambda name: pattern.search(name) is not None)).astype(bool)


def compare_results(
    baseline: ResultSet, current: ResultSet, options: CompareOptions | None = None
) -> Comparison:
    """Compare two loaded result sets; raise SeqbenchError when they cannot be compared."""
    opt = options or CompareOptions()
    specs = select(opt.metrics)
    base = cells.pooled(
        cells.long_table(baseline, specs, opt.normalize, "baseline"), specs, opt.pool
    )
    cur = cells.pooled(cells.long_table(current, specs, opt.normalize, "current"), specs, opt.pool)
    if base.empty or cur.empty:
        raise SeqbenchError("nothing to compare: a side holds only calibration entries")
    for spec in specs:
        if (
            opt.metrics
            and base.loc[base["metric"] == spec.name, "value"].isna().all()
            and cur.loc[cur["metric"] == spec.name, "value"].isna().all()
        ):
            raise SeqbenchError(f"metric {spec.name!r} is in neither result set")
    common = set(base["key"]) & set(cur["key"])
    if not common:
        raise _no_common_cells(base, cur)
    ratio = _calibration_ratio(baseline, current)
    rows = _judge_all(base, cur, common, specs, opt)
    rows["gates"] = _gates(rows, specs, opt.gate)
    warnings = (
        environment_warnings(baseline, current)
        + _calibration_warning(ratio, opt.normalize)
        + _uniform_shift_warning(rows, ratio, opt)
    )
    return Comparison(
        rows, _one_sided(base, cur, common), _one_sided(cur, base, common), warnings, ratio, opt
    )
