"""From a loaded ResultSet to one value per (cell, metric): matching keys, calibration
normalisation, and pooling of repeated entries of the same cell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.compare.metrics import MetricSpec
from seqbench.errors import SeqbenchError
from seqbench.results.load import ResultSet
from seqbench.schema import CONFIG_FIELDS_ADDED

# Config fields that say how a cell was measured or validated, not what it is: two runs that
# differ only in these are the same cell. "extra" holds the validation knobs (injected
# slowdowns), which must not stop an injected run from matching its baseline.
VOLATILE_FIELDS = frozenset({"extra", "rounds", "warmup_rounds", "timeout_s", "processes"})
CALIBRATION_FAMILY = "calibration"


def cell_config(row: dict[str, Any]) -> dict[str, Any]:
    """The identity of an entry: family, measurement and its configuration."""
    # A field added to the config after a record was written takes the value its absence meant.
    config = {
        k: v
        for k, v in (CONFIG_FIELDS_ADDED | (row.get("config") or {})).items()
        if k not in VOLATILE_FIELDS
    }
    return {"family": row.get("family"), "measurement": row.get("measurement"), **config}


def _key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def _scope(row: dict[str, Any]) -> str:
    """Where an entry's calibration lives: its own JSON file (one pytest run), or for a
    per-cell record, its run folder."""
    return row["run"] if Path(row["file"]).parent.name == "cells" else row["file"]


def calibrations(results: ResultSet) -> dict[str, float]:
    """The machine's speed per scope (file, and run as a fallback): the calibration's fastest
    round in seconds. The minimum, not the median: it measures what the machine can do, and
    it is the steadier of the two (five quiet runs on 2 cores: min within 1.4%, median within
    4.7%), so dividing by it adds less noise to the cells it normalises."""
    out: dict[str, float] = {}
    frame = results.entries
    calib = frame[frame["family"] == CALIBRATION_FAMILY]
    for rec in calib.to_dict("records"):
        t = rec.get("time_min_s")
        if t is None or not np.isfinite(t):
            t = rec.get("time_median_s")
        if t is not None and np.isfinite(t) and t > 0:
            for scope in (_scope(rec), rec["run"]):
                out.setdefault(scope, t)
    return out


def _rounds(rec: dict[str, Any]) -> np.ndarray | None:
    data = rec.get("round_times_s")
    if isinstance(data, (list, tuple)) and data:
        return np.asarray(data, dtype=float)
    return None


def _stats_range(rec: dict[str, Any]) -> tuple[float, float, int] | None:
    lo, hi, n = rec.get("time_min_s"), rec.get("time_max_s"), rec.get("rounds_count")
    if lo is None or hi is None or not n:
        return None
    return float(lo), float(hi), int(n)


def _metric_value(rec: dict[str, Any], spec: MetricSpec) -> float | None:
    if spec.families and rec.get("family") not in spec.families:
        return None
    if spec.name == "time_median_s":
        value = rec.get("time_median_s")
    else:
        value = (rec.get("metrics") or {}).get(spec.name)
    if value is None or not np.isfinite(float(value)):
        return None
    return float(value)


def _samples(
    rec: dict[str, Any], spec: MetricSpec, value: float
) -> tuple[np.ndarray | None, tuple[float, float, int] | None]:
    """The rounds behind a timing metric, in the metric's own unit. A rate (tokens/s) is
    work / round time, the work being value × median time."""
    if not spec.from_rounds:
        return None, None
    rounds, rng = _rounds(rec), _stats_range(rec)
    if spec.better == "higher":
        median = rec.get("time_median_s")
        if not median:
            return None, None
        work = value * median
        rounds = work / rounds if rounds is not None else None
        rng = (work / rng[1], work / rng[0], rng[2]) if rng and rng[0] > 0 else None
    return rounds, rng


def long_table(
    results: ResultSet, specs: tuple[MetricSpec, ...], normalize: bool, side: str
) -> pd.DataFrame:
    """One row per (entry, metric) with the value, its rounds, and the cell's keys. With
    normalize, timings are in units of the same run's calibration time."""
    scale = calibrations(results) if normalize else {}
    rows = []
    for rec in results.entries.to_dict("records"):
        if rec.get("family") == CALIBRATION_FAMILY:
            continue
        config = cell_config(rec)
        seed_group = _key({k: v for k, v in config.items() if k != "seed"})
        for spec in specs:
            value = _metric_value(rec, spec)
            samples, rng = _samples(rec, spec, value) if value is not None else (None, None)
            if normalize and spec.kind == "time" and value is not None:
                cal = scale.get(_scope(rec), scale.get(rec["run"]))
                if cal is None:
                    raise SeqbenchError(
                        f"--normalize: {side} {rec['file']} has no "
                        "calibration entry (benchmarks/test_calibration.py)"
                    )
                # A time in calibration units is time / cal; a rate per calibration is × cal.
                factor = 1 / cal if spec.better == "lower" else cal
                value *= factor
                samples = samples * factor if samples is not None else None
                rng = (rng[0] * factor, rng[1] * factor, rng[2]) if rng else None
            rows.append(
                {
                    "key": _key(config),
                    "seed_group": seed_group,
                    "name": rec["name"],
                    "config": config,
                    "status": rec.get("status", "ok"),
                    "metric": spec.name,
                    "value": value,
                    "samples": samples,
                    "range": rng,
                    "chance_loss": (rec.get("metrics") or {}).get("chance_loss"),
                }
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "key",
            "seed_group",
            "name",
            "config",
            "status",
            "metric",
            "value",
            "samples",
            "range",
            "chance_loss",
        ],
    )
    for column in ("value", "chance_loss"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")  # None -> NaN
    return frame


def pooled_value(values: pd.Series, spec: MetricSpec, pool: str) -> float:
    """One value from a cell's runs. "best" applies to timings only: background load only
    ever slows a run, so the fastest run is the closest to what the code costs (a second run
    after a flagged one confirms or clears it). Other kinds take the median."""
    if pool == "best" and spec.kind == "time":
        return values.max() if spec.better == "higher" else values.min()
    return values.median()  # NaN when no entry has the metric


def finite_positive(values: pd.Series | np.ndarray) -> np.ndarray:
    """A cell's per-run values that a ratio can use: one per run (worker process)."""
    array = np.asarray(values, float)
    return array[np.isfinite(array) & (array > 0)]


def spread(values: pd.Series | np.ndarray) -> float:
    """How far a cell's runs lie apart: max/min - 1 over its finite positive values (0 for
    one run). The same ratio for a time and for its rate."""
    finite = finite_positive(values)
    return float(finite.max() / finite.min() - 1) if len(finite) > 1 else 0.0


def pooled(
    table: pd.DataFrame, specs: tuple[MetricSpec, ...] = (), pool: str = "median"
) -> pd.DataFrame:
    """One row per (cell, metric): repeated entries of a cell (several runs in one folder)
    pool their rounds; the value is the best or the median of the entries' values (pool)."""
    by_name = {s.name: s for s in specs}
    rows = []
    for (key, metric), group in table.groupby(["key", "metric"], sort=False):
        first = group.iloc[0]
        samples = [s for s in group["samples"] if isinstance(s, np.ndarray)]
        ranges = [r for r in group["range"] if isinstance(r, tuple)]
        bad = [s for s in group["status"] if s != "ok"]
        spec = by_name.get(metric)
        run_values = finite_positive(group["value"])
        rows.append(
            {
                "key": key,
                "metric": metric,
                "seed_group": first["seed_group"],
                "name": first["name"],
                "config": first["config"],
                "value": (
                    pooled_value(group["value"], spec, pool) if spec else group["value"].median()
                ),
                "entries": len(group),
                "spread": spread(run_values),
                "run_values": run_values,
                "samples": np.concatenate(samples) if samples else None,
                "range": (
                    min(r[0] for r in ranges),
                    max(r[1] for r in ranges),
                    sum(r[2] for r in ranges),
                )
                if ranges
                else None,
                "chance_loss": group["chance_loss"].dropna().median(),
                "status": bad[0] if bad else "ok",
            }
        )
    return pd.DataFrame(rows)
