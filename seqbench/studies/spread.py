"""Where a timing cell's spread between runs comes from: rounds, processes or runs.

A run's time for a cell is the median over its k worker processes of each process's median
over r rounds. On the log scale (≈ fractions of the time) the run time's variance between
runs has three parts:
- rounds: the noise of a process's median of r rounds, from the spread of its rounds;
- processes: what a process adds beyond its rounds (where its memory landed, the host's
  speed in the minute it ran), the process medians' variance within a run less the rounds';
- runs: what every process of a run shares (the host's speed over the whole run), the run
  times' variance less what k independent processes would give.

So var(run time) ≈ runs + c_k·(processes + rounds), with c_k the variance of the median of k
standard normals (0.449 at k = 3). More processes shrink the last two parts; more rounds
shrink only the rounds'; nothing inside one run shrinks the first. That is the trade between
rounds and processes that README, "The timing study", weighs. The trade-off table scales each
cell's observed spread (pooled over its sequence length) by the change the model predicts, so
its first row is what ran; the check that can fail is the worst cell it predicts over as many
runs as ran, against the worst cell measured. Were process noise
heavier-tailed than normal, the within-run variance would overstate what a median of k
processes keeps, and the model would overstate what more processes buy.

`run_shifts` measures the shared part directly: each run's mean deviation over all cells
from the cells' means over runs, and what the worst cell's max/min is with it taken out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

SIMULATED_STUDIES = 4000  # studies drawn to predict the worst cell's max/min
SEED = 0  # every random draw here is seeded: a summary regenerates byte-identical


@cache
def median_variance_factor(k: int) -> float:
    """Variance of the median of k independent standard normals (1 at k=1, 0.449 at k=3),
    from seeded draws (200k below k=20, fewer above so memory stays under 40 MB): accurate to
    about 1%, and the same value every call."""
    draws = np.random.default_rng(SEED).standard_normal((min(200_000, 5_000_000 // k), k))
    return float(np.median(draws, axis=1).var())


MIN_ROUNDS_FOR_SPREAD = 4  # steady rounds a process needs for its rounds' spread


def _rounds_variance(rounds_s: list[float]) -> float:
    """Variance of the median of a process's log round times, from the spread of its rounds
    after the first: their robust variance (1.4826·MAD with the small-sample factor
    n/(n − 0.8), Croux & Rousseeuw 1992, squared) times that of a median of as many standard
    normals. The first timed round runs slow after the one warm-up round (in the Xeon studies
    a median 1.19× the later rounds at T=100, 1.06× at T=5000) in every process alike: a
    shift of the level, not spread between processes. NaN below MIN_ROUNDS_FOR_SPREAD steady
    rounds (T=5000 runs 2): there the rounds' part is not told apart from the process's."""
    logs = np.log(np.asarray(rounds_s, dtype=float))[1:]
    n = len(logs)
    if n < MIN_ROUNDS_FOR_SPREAD:
        return float("nan")
    mad = float(np.median(np.abs(logs - np.median(logs))))
    return (1.4826 * mad * n / (n - 0.8)) ** 2 * median_variance_factor(n)


COMPONENT_COLUMNS = [
    "allocator",
    "cell",
    "seq_len",
    "runs",
    "processes",
    "rounds",
    "round_s",
    "process_s",
    "rounds_var",
    "process_var",
    "run_var",
    "between_var",
]


def components(full: pd.DataFrame) -> pd.DataFrame:
    """Per (allocator, cell) of full runs with ≥ 2 runs and ≥ 2 processes: rounds and
    processes per run, time per round, and the three variances with the observed one.
    `full` has the columns of timing.cell_table, `process_rounds_s` included."""
    rows = []
    for (allocator, cell), group in full.groupby(["allocator", "cell"], sort=True):
        processes = [p for p in group["process_medians_s"] if len(p) >= 2]
        if len(group) < 2 or not processes:
            continue
        k = int(np.median([len(p) for p in group["process_medians_s"]]))
        rounds = [r for run in group["process_rounds_s"] for r in run if r]
        walls = np.array([w for run in group["process_wall_s"] for w in run], dtype=float)
        within = float(np.mean([np.var(np.log(p), ddof=1) for p in processes]))
        # NaN: the rounds' part unknown (too few rounds, or runs saved without them), so the
        # whole within-run spread counts as the processes'.
        rounds_var = float(np.mean([_rounds_variance(r) for r in rounds])) if rounds else np.nan
        between = float(np.var(np.log(group["run_median_s"].astype(float)), ddof=1))
        rows.append(
            {
                "allocator": allocator,
                "cell": cell,
                "seq_len": int(group["seq_len"].iloc[0]),
                "runs": len(group),
                "processes": k,
                "rounds": int(np.median([len(r) for r in rounds])) if rounds else 0,
                "round_s": float(np.median([np.median(r) for r in rounds])) if rounds else 0.0,
                # A worker process's wall time, set-up and warm-up included (NaN: unknown).
                "process_s": float(np.nanmedian(walls)) if np.isfinite(walls).any() else np.nan,
                "rounds_var": rounds_var,
                "process_var": max(within - np.nan_to_num(rounds_var), 0.0),
                "run_var": max(between - median_variance_factor(k) * within, 0.0),
                "between_var": between,
            }
        )
    return pd.DataFrame(rows, columns=COMPONENT_COLUMNS)


VARIANCES = ["rounds_var", "process_var", "run_var", "between_var"]


def pooled(parts: pd.DataFrame) -> pd.DataFrame:
    """Each cell's variances replaced by their mean over the cells of its allocator and
    sequence length: a cell's own, from 5 runs, are too noisy to simulate its worst case."""
    means = parts.groupby(["allocator", "seq_len"])[VARIANCES].transform("mean")
    return parts.assign(**{column: means[column] for column in VARIANCES})


def modelled_var(parts: pd.DataFrame, processes: pd.Series, rounds_scale: float) -> pd.Series:
    """Each cell's modelled between-run variance with `processes` per run (a count per cell)
    and its rounds multiplied by `rounds_scale`."""
    factor = processes.astype(int).map(median_variance_factor)
    rounds = parts["rounds"].clip(lower=1).astype(int)
    scaled = np.ceil(rounds * rounds_scale).astype(int)
    rounds_var = (
        parts["rounds_var"].fillna(0.0)  # unknown: counted in the process part
        * scaled.map(median_variance_factor)
        / rounds.map(median_variance_factor)
    )
    return parts["run_var"] + factor * (parts["process_var"] + rounds_var)


def by_length(parts: pd.DataFrame) -> pd.DataFrame:
    """Per allocator and sequence length, pooled over cells (root mean variance): the three
    parts as standard deviations, the observed between-run sd, and the model's for what ran
    (its check)."""
    frame = parts.assign(modelled_var=modelled_var(parts, parts["processes"], 1.0))
    sd = lambda column: (column, lambda v: float(np.sqrt(v.mean())))  # noqa: E731
    return (
        frame.groupby(["allocator", "seq_len"])
        .agg(
            cells=("cell", "count"),
            processes=("processes", "median"),
            rounds=("rounds", "median"),
            rounds_sd=sd("rounds_var"),
            process_sd=sd("process_var"),
            run_sd=sd("run_var"),
            between_sd=sd("between_var"),
            modelled_between_sd=sd("modelled_var"),
        )
        .reset_index()
    )


@dataclass(frozen=True)
class Option:
    """A way to spend more time on each timing cell."""

    label: str  # as the table prints it
    processes: int | None  # processes per run; None: as many as ran
    rounds_scale: float  # rounds per process, as a multiple of what ran


# What the trade-off table weighs: what ran first (the model's check), then more processes,
# more rounds, and both.
OPTIONS = (
    Option("as run", None, 1.0),
    Option("4 processes", 4, 1.0),
    Option("5 processes", 5, 1.0),
    Option("5 processes, 3/5 of the rounds", 5, 0.6),
    Option("twice the rounds", None, 2.0),
    Option("10 processes, twice the rounds", 10, 2.0),
)


def _worst(
    shared_sd: np.ndarray, own_sd: np.ndarray, runs: int, threshold: float
) -> tuple[float, float]:
    """Over simulated studies of `runs` runs, each cell normal on the log scale: one shift
    per run that every cell shares (`shared_sd` its size in each cell), plus the cell's own
    (`own_sd`). The median worst max/min over cells, and the share of studies with every cell
    within `threshold`."""
    rng = np.random.default_rng(SEED)
    shift = rng.standard_normal((SIMULATED_STUDIES, runs, 1)) * shared_sd
    draws = shift + rng.standard_normal((SIMULATED_STUDIES, runs, len(own_sd))) * own_sd
    spread = np.exp(draws.max(axis=1) - draws.min(axis=1)).max(axis=1)
    return float(np.median(spread)), float((spread <= threshold).mean())


TRADE_OFF_COLUMNS = [
    "allocator",
    "runs",
    "option",
    "median_between_sd",
    "modelled_worst_max_over_min",
    "share_every_cell_within",
    "added_s_per_run",
]


def trade_off(parts: pd.DataFrame, shifts: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per allocator and option, from the pooled parts: the model's median between-run sd,
    the worst cell's max/min over the allocator's number of full runs it predicts with the
    chance every cell is within `threshold`, and the time each whole run adds (processes ×
    a process's wall time, with the added rounds' time, summed over cells). Of each cell's
    run part, the variance of the runs' shifts (`run_shifts`) is simulated as one shift per
    run that all cells share, the rest as the cell's own."""
    rows = []
    for allocator, group in pooled(parts).groupby("allocator"):
        runs = int(group["runs"].max())
        logs = np.log1p(shifts.loc[shifts["allocator"] == allocator, "shift"])
        shift_var = float(logs.var(ddof=1)) if len(logs) >= 2 else 0.0
        # A process costs its measured wall time (or, unknown, its warm-up and rounds); more
        # rounds add their time to every process.
        process_s = group["process_s"].fillna((group["rounds"] + 1) * group["round_s"])
        spent = (group["processes"] * process_s).sum()
        as_run = modelled_var(group, group["processes"], 1.0)
        # The model gives the change; the pooled observed spread anchors it, so the first
        # row is what ran and only the tails are left for its check.
        anchor = (group["between_var"] / as_run).where(as_run > 0, 1.0)
        shared = anchor * np.minimum(group["run_var"], shift_var)
        for option in OPTIONS:
            k = group["processes"]
            if option.processes is not None:
                k = pd.Series(option.processes, index=group.index)
            var = anchor * modelled_var(group, k, option.rounds_scale)
            worst, share = _worst(
                np.sqrt(shared.to_numpy()), np.sqrt((var - shared).to_numpy()), runs, threshold
            )
            more_rounds = np.ceil(group["rounds"] * option.rounds_scale) - group["rounds"]
            cost = (k * (process_s + more_rounds * group["round_s"])).sum() - spent
            rows.append(
                {
                    "allocator": allocator,
                    "runs": runs,
                    "option": option.label,
                    "median_between_sd": float(np.sqrt(var.median())),
                    "modelled_worst_max_over_min": worst,
                    "share_every_cell_within": share,
                    "added_s_per_run": float(cost),
                }
            )
    return pd.DataFrame(rows, columns=TRADE_OFF_COLUMNS)


def run_shifts(full: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per allocator and run: its shift, the mean over cells of its log run time less the
    cell's mean over runs (cells every run has), next to its calibration GEMM; and per
    allocator the worst cell's max/min before and after each run's shift is taken out.
    What is left after is the cells' own spread; the shift is one host-wide draw per run,
    which more processes in a run cannot average away but a paired comparison cancels."""
    shifts, worst = [], []
    for allocator, group in full.groupby("allocator"):
        logs = np.log(group.pivot_table(index="run", columns="cell", values="run_median_s"))
        logs = logs.dropna(axis=1)
        if len(logs) < 2 or logs.shape[1] == 0:
            continue
        deviation = logs - logs.mean(axis=0)
        shift = deviation.mean(axis=1)
        calibration = group.groupby("run")["calibration_s"].first()
        for run, value in shift.items():
            shifts.append(
                {
                    "allocator": allocator,
                    "run": run,
                    "shift": float(np.expm1(value)),
                    "calibration_ms": float(calibration[run]) * 1e3,
                }
            )
        spread = lambda frame: float(np.exp((frame.max() - frame.min()).max()))  # noqa: E731
        worst.append(
            {
                "allocator": allocator,
                "cells": logs.shape[1],
                "worst_max_over_min": spread(logs),
                "worst_without_run_shifts": spread(logs.sub(shift, axis=0)),
            }
        )
    # Named columns even with no rows: a study cut short may have one full run.
    return (
        pd.DataFrame(shifts, columns=["allocator", "run", "shift", "calibration_ms"]),
        pd.DataFrame(
            worst,
            columns=["allocator", "cells", "worst_max_over_min", "worst_without_run_shifts"],
        ),
    )
