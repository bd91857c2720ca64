"""Convergence losses, judged per configuration over its seeds.

Training on a CPU is deterministic per seed, so an unchanged tree reproduces its losses bit
for bit; a change that reshuffles randomness (initialisation order, a new torch) moves them
by about the seed-to-seed spread. So a configuration (every config field but the seed) is
judged on the mean of its seeds present on both sides:

  tolerance = max(loss_tolerance × chance loss, loss_sigmas × SD × sqrt(2 / n))

where n is the number of seeds compared and SD the baseline's standard deviation across its
seeds (when it holds at least two), else seed_sd_prior × chance loss. SD × sqrt(2/n) is the
standard error of a difference of two n-seed means. Worse by more than the tolerance is a
regression; moved by more than loss_tolerance × chance loss but within it is "changed".
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from seqbench.compare.metrics import MetricSpec
from seqbench.compare.options import CompareOptions

_SEED = re.compile(r"-s(\d+)\]$")


def group_name(names: list[str]) -> str:
    """'test_x[...-s0]', 'test_x[...-s1]' -> 'test_x[...-s{0,1}]'."""
    if len(names) == 1:
        return names[0]
    seeds = [m.group(1) if (m := _SEED.search(n)) else "?" for n in names]
    return _SEED.sub(f"-s{{{','.join(seeds)}}}]", names[0])


def _seed_sd(group: pd.DataFrame, chance: float, opt: CompareOptions) -> tuple[float, str]:
    values = group["value"].dropna()
    if len(values) >= 2:
        return float(values.std(ddof=1)), f"seed SD of {len(values)} baseline seeds"
    return opt.seed_sd_prior * chance, "assumed seed SD (1 seed)"


def judge_group(
    base: pd.DataFrame, cur: pd.DataFrame, spec: MetricSpec, opt: CompareOptions
) -> dict | None:
    """One row for one configuration: `base` holds all its baseline seeds, `cur` the current
    values of the seeds the two sides share (indexed like base's shared rows)."""
    shared = base[base["key"].isin(cur.index)]
    b = shared["value"].to_numpy(dtype=float)
    c = cur.loc[shared["key"], "value"].to_numpy(dtype=float)
    both = np.isfinite(b) & np.isfinite(c)
    if not (np.isfinite(b).any() or np.isfinite(c).any()):
        return None  # the metric does not apply to this configuration
    chance = shared["chance_loss"].median()
    b_mean, c_mean = (
        (float(b[both].mean()), float(c[both].mean()))
        if both.any()
        else (
            float(np.nanmean(b)) if np.isfinite(b).any() else np.nan,
            float(np.nanmean(c)) if np.isfinite(c).any() else np.nan,
        )
    )
    config = shared["config"].iloc[0]
    row = {
        "name": group_name(list(shared["name"])),
        "measurement": config.get("measurement"),
        "metric": spec.name,
        "unit": spec.unit(config.get("task")),  # the task's loss unit
        "baseline": b_mean,
        "current": c_mean,
        "change": c_mean / b_mean - 1 if b_mean else np.nan,
        "p_value": np.nan,
        "test": "",
        "tolerance": np.nan,
    }
    if not both.any():
        return row | {"verdict": "missing"}
    scale = chance if np.isfinite(chance) else abs(b_mean)
    sd, source = _seed_sd(base, scale, opt)
    n = int(both.sum())
    floor = opt.loss_tolerance * scale
    tol = max(floor, opt.loss_sigmas * sd * np.sqrt(2 / n))
    worse = (c_mean - b_mean) if spec.better == "lower" else (b_mean - c_mean)
    verdict = (
        "regression"
        if worse > tol
        else "improvement"
        if -worse > tol
        else "changed"
        if abs(worse) > floor
        else "unchanged"
    )
    return row | {
        "verdict": verdict,
        "tolerance": tol,
        "test": f"mean of {n} seed{'s' if n > 1 else ''}; {source}",
    }


def judge_losses(
    base: pd.DataFrame,
    cur: pd.DataFrame,
    common: set[str],
    specs: tuple[MetricSpec, ...],
    opt: CompareOptions,
) -> list[dict]:
    """Rows for every loss metric and every configuration with a seed on both sides."""
    rows = []
    for spec in (s for s in specs if s.kind == "loss"):
        b_metric = base[base["metric"] == spec.name]
        c_metric = cur[(cur["metric"] == spec.name) & cur["key"].isin(common)].set_index("key")
        for _, group in b_metric.groupby("seed_group", sort=False):
            if group["key"].isin(common).any():
                row = judge_group(group, c_metric, spec, opt)
                if row is not None:
                    rows.append(row)
    return rows
