"""Samples of a metric per model and configuration, and the noise-aware comparison of two
models that every claim uses.

A comparison is the ratio of medians, median(a)/median(b), with its 95% bootstrap CI
(seqbench.report.stats). "a is lower than b" holds beyond noise when the whole CI lies
below 1 - tolerance; "a is higher" when it lies above 1 + tolerance; otherwise the
difference is within noise. With fewer samples than the sampling asks for, no comparison
is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from seqbench.report.data import GROUP_COLUMNS, Measured, config_label, model_order
from seqbench.report.stats import RatioCI, ratio_ci, summarize
from seqbench.report.units import fmt, fmt_range, unit_of


@dataclass(frozen=True)
class Sampling:
    """How a metric is sampled, and how much data a comparison of it needs."""

    source: Literal["metric", "rounds"]  # one value per cell, or one per timed round
    min_samples: int  # fewer values per model → no comparison (inconclusive)
    tolerance: float  # relative difference treated as no difference (the noise floor)
    unit: str  # what one sample is, singular, for reasons: "seed", "timed round", "cell"

    def count(self, n: int) -> str:
        """``3 seeds``, ``1 seed``."""
        return f"{n} {self.unit}" + ("" if n == 1 else "s")


# Deterministic quantities (parameter counts, analytic FLOPs): one value decides.
EXACT = Sampling("metric", 1, 0.0, "cell")
# Timings: rounds pooled over seeds. 3 is the fewest rounds a profile gives a timing cell
# (profiles.timing_rounds); 5% is below the 5-9% swing TorchBench sees per test.
TIMING = Sampling("rounds", 3, 0.05, "timed round")
# Peak RSS of a fresh process is near-deterministic (page granular) but allocator-dependent.
MEMORY = Sampling("metric", 1, 0.10, "cell")
# Training and initialisation outcomes vary with the seed: at least 3 seeds per model.
SEEDS = Sampling("metric", 3, 0.05, "seed")

Relation = Literal["lower", "higher", "within noise", "too few samples"]


def samples(m: Measured, metric: str, sampling: Sampling, family: str | None = None,
            measurement: str | None = None, tasks: tuple[str, ...] = (),
            lengths: tuple[int | None, int | None] = (None, None)) -> pd.DataFrame:
    """Rows (GROUP_COLUMNS..., model, value): the metric's samples for each model and
    configuration, optionally only tasks in `tasks` and T within `lengths` (inclusive
    bounds, None for open). Rounds come from pytest-benchmark's per-round times."""
    if sampling.source == "rounds":
        frame = m.rounds.rename(columns={metric: "value"}) if metric in m.rounds else None
        if frame is None:
            return pd.DataFrame(columns=[*GROUP_COLUMNS, "model", "value"])
        if family is not None:
            frame = frame[frame["family"] == family]
        if measurement is not None:
            frame = frame[frame["measurement"] == measurement]
    else:
        frame = m.metric(metric, family, measurement)
    if tasks:
        frame = frame[frame["task"].isin(tasks)]
    low, high = lengths
    if low is not None:
        frame = frame[frame["seq_len"] >= low]
    if high is not None:
        frame = frame[frame["seq_len"] <= high]
    frame = frame.dropna(subset=["value"])
    return frame[[*GROUP_COLUMNS, "model", "value"]].reset_index(drop=True)


def configs(frame: pd.DataFrame) -> list[tuple[dict, pd.DataFrame]]:
    """Split samples by configuration (every config column but model and seed), sorted by
    task and T."""
    out = []
    for key, group in frame.groupby(GROUP_COLUMNS, dropna=False, sort=False):
        out.append((dict(zip(GROUP_COLUMNS, key, strict=True)), group))
    return sorted(out, key=lambda kv: (str(kv[0]["task"]), kv[0]["seq_len"] or 0))


def setup_key(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """A string key per row over `columns` (NaN-safe, unlike tuples of floats)."""
    if frame.empty:
        return pd.Series(index=frame.index, dtype=str)
    # str() of each value: pandas ≥ 3 keeps NaN through astype(str).
    return frame[columns].apply(lambda row: "|".join(map(str, row)), axis=1)


def per_model(group: pd.DataFrame) -> dict[str, list[float]]:
    return {model: group.loc[group["model"] == model, "value"].tolist()
            for model in model_order(group["model"])}


@dataclass(frozen=True)
class Comparison:
    """How model a's metric compares with model b's at one configuration."""

    a: str  # model in the numerator
    b: str  # model in the denominator
    relation: Relation  # a lower / higher than b beyond noise, within noise, or undecided
    ratio: RatioCI  # median(a)/median(b) with its CI


def compare(values_a: list[float], values_b: list[float], a: str, b: str,
            sampling: Sampling) -> Comparison:
    r = ratio_ci(values_a, values_b)
    if r.n_a < sampling.min_samples or r.n_b < sampling.min_samples:
        relation: Relation = "too few samples"
    elif r.ci_high < 1 - sampling.tolerance:
        relation = "lower"
    elif r.ci_low > 1 + sampling.tolerance:
        relation = "higher"
    else:
        relation = "within noise"  # includes a CI of NaN (a resample divided by zero)
    return Comparison(a, b, relation, r)


def describe_ratio(c: Comparison) -> str:
    r = c.ratio
    ci = "" if r.ci_low == r.ci_high else f" [{r.ci_low:.3g}, {r.ci_high:.3g}]"
    return f"{c.a}/{c.b} = {r.ratio:.3g}{ci} ({c.relation})"


def describe_models(values: dict[str, list[float]], metric: str, task: str | None,
                    sampling: Sampling) -> str:
    """``rnn 1.2 ms [1.1 ms, 1.3 ms] (n=5 timed rounds); lstm ...``"""
    unit = unit_of(metric, task)
    parts = []
    for model, vals in values.items():
        s = summarize(vals)
        ci = "" if s.n < 2 else f" {fmt_range(s.ci_low, s.ci_high, unit)}"
        parts.append(f"{model} {fmt(s.median, unit)}{ci} ({sampling.count(s.n)})")
    return "; ".join(parts)


def ranking(values: dict[str, list[float]], higher_first: bool = False) -> str:
    """Models ordered by median: ``rnn < gru < lstm`` (by the metric's value)."""
    medians = {m: summarize(v).median for m, v in values.items() if v}
    order = sorted(medians, key=medians.__getitem__, reverse=higher_first)
    return (" > " if higher_first else " < ").join(order)


def where(config: dict, with_task: bool = True) -> str:
    return config_label(config, with_task=with_task)


def shortfall(values: dict[str, list[float]], sampling: Sampling) -> str:
    """Why no comparison was made: the smallest sample against what is needed."""
    n = min((len(v) for v in values.values()), default=0)
    return f"{sampling.count(n)} per model (needs ≥ {sampling.min_samples})"
