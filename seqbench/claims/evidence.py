"""Samples of a metric per model and configuration, and the comparison of two models that
every claim uses.

A comparison has three routes, chosen by how the metric is sampled:
- by construction (parameter counts, analytic FLOPs): the values are a formula's, so their
  ratio decides, with no test;
- enough independent samples per model (seeds, or worker processes for timings): the
  two-sided Mann–Whitney U test, Holm-corrected across every comparison of the claim
  (seqbench.analysis.stats), and the ratio of medians beyond the noise margin;
- too few samples per model for a test (one process, or 3 vs 3): a difference counts only
  where every pairing of the two models' samples differs by more than the largest
  run-to-run spread measured for that kind of quantity on this machine kind (a stated
  prior, written below), and anything less is "within run-to-run spread". The prior bounds
  how far two runs of one cell can differ, so it is applied to the closest pair of samples,
  not to the medians: medians 1.8× apart whose samples come within 1.65× are not separated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import pandas as pd

from seqbench.analysis.data import GROUP_COLUMNS, Measured, config_label, model_order
from seqbench.analysis.stats import (
    ALPHA,
    RankTest,
    holm,
    min_p_value,
    rank_test,
    summarize,
    testable_subset,
)
from seqbench.analysis.units import fmt, unit_of


@dataclass(frozen=True)
class Sampling:
    """How a metric is sampled, and how a comparison of it is decided."""

    source: Literal["metric", "processes"]  # one value per cell, or per (run, cell) process
    min_samples: int  # per model for a rank test (4 vs 4 is the least that can reach 5%)
    tolerance: float  # relative difference treated as no difference (the noise floor)
    unit: str  # what one sample is, singular, for reasons: "seed", "process", "cell"
    by_construction: bool = False  # values come from a formula: one value decides, no test
    # With a single sample per model no spread can be estimated: a ratio beyond this factor
    # (the largest run-to-run max/min measured for such values) still counts. None: no route.
    single_sample_factor: float | None = None
    # Cells at several T from one seed share that seed's weights (the gradients family): they
    # are one sample (the longest T's), not one per length.
    collapse_lengths: bool = False

    def count(self, n: int) -> str:
        """``3 seeds``, ``1 seed``."""
        return f"{n} {self.unit}" + ("" if n == 1 else "es" if self.unit.endswith("s") else "s")

    def rule(self) -> str:
        """How a comparison of this metric is decided, for reasons and the Method section."""
        if self.by_construction:
            return "values by construction (formula), so the ratio decides without a test"
        text = (
            f"a difference needs a two-sided Mann–Whitney U test over ≥ "
            f"{self.count(self.min_samples)} per model, among the claim's tests that can reach "
            f"significance at all (Tarone), Holm-corrected (α = {ALPHA:.0%}), and a ratio of "
            f"medians beyond 1 ± {self.tolerance:.0%}"
        )
        if self.single_sample_factor:
            text += (
                f"; where no such test is possible (too few {self.unit} samples per model), "
                f"every pairing of samples beyond {self.single_sample_factor:g}× (the largest "
                "run-to-run spread measured on this machine kind), else 'within run-to-run "
                "spread'"
            )
        return text


# Deterministic quantities (parameter counts, analytic FLOPs): one value decides.
EXACT = Sampling("metric", 1, 0.0, "cell", by_construction=True)
# Timings: one sample per worker process (the median of its timed rounds): rounds inside one
# process share its heap history and cannot stand for another run. With one process per model
# the prior is the largest between-run max/min of a throughput cell over 7 whole quick runs of
# an unchanged tree on this machine kind (LSTM train step, T=1000: 1.75;
# results/detector-study/whole-runs).
TIMING = Sampling("processes", 4, 0.05, "process", single_sample_factor=1.75)
# Peak RSS of a fresh process: between-run spread measured up to 19% (GRU T=20000, RNN T=100,
# same 7 whole runs), so one sample per model decides only beyond 1.19×.
MEMORY = Sampling("metric", 4, 0.10, "fresh process", single_sample_factor=1.19)
# Training and initialisation outcomes vary with the seed: a rank test over seeds.
SEEDS = Sampling("metric", 4, 0.05, "seed")
# Gradients at initialisation: one sample per seed whatever the number of lengths.
SEEDS_SHARED_WEIGHTS = replace(SEEDS, collapse_lengths=True)

Relation = Literal["lower", "higher", "within noise", "within run-to-run spread", "too few samples"]


def samples(
    m: Measured,
    metric: str,
    sampling: Sampling,
    family: str | None = None,
    measurement: str | None = None,
    tasks: tuple[str, ...] = (),
    lengths: tuple[int | None, int | None] = (None, None),
) -> pd.DataFrame:
    """Rows (GROUP_COLUMNS..., model, value): the metric's samples for each model and
    configuration, optionally only tasks in `tasks` and T within `lengths` (inclusive
    bounds, None for open). A process sample is the median of one cell's timed rounds."""
    if sampling.source == "processes":
        if metric not in m.rounds:
            return pd.DataFrame(columns=[*GROUP_COLUMNS, "model", "value"])
        frame = m.rounds
        if family is not None:
            frame = frame[frame["family"] == family]
        if measurement is not None:
            frame = frame[frame["measurement"] == measurement]
        keys = ["run", "run_key", *GROUP_COLUMNS, "model", "seed"]
        frame = (
            frame.groupby(keys, dropna=False, sort=False)[metric]
            .median()
            .rename("value")
            .reset_index()
        )
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
    if sampling.collapse_lengths and not frame.empty:
        # One sample per seed: the cell at the seed's longest T, whose fit spans most steps.
        keys = [c for c in GROUP_COLUMNS if c != "seq_len"] + ["model", "seed"]
        frame = setup_key(frame, keys).to_frame("_k").join(frame)
        frame = (
            frame.sort_values("seq_len")
            .groupby("_k", sort=False)
            .tail(1)
            .drop(columns="_k")
            .assign(seq_len=math.nan)
        )
    return frame[[*GROUP_COLUMNS, "model", "value"]].reset_index(drop=True)


def configs(frame: pd.DataFrame) -> list[tuple[dict, pd.DataFrame]]:
    """Split samples by configuration (every config column but model and seed), sorted by
    task and T."""
    out = []
    for key, group in frame.groupby(GROUP_COLUMNS, dropna=False, sort=False):
        out.append((dict(zip(GROUP_COLUMNS, key, strict=True)), group))
    return sorted(out, key=lambda kv: (str(kv[0]["task"]), _num(kv[0]["seq_len"])))


def _num(value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(v) else v


def setup_key(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """A string key per row over `columns` (NaN-safe, unlike tuples of floats)."""
    if frame.empty:
        return pd.Series(index=frame.index, dtype=str)
    # str() of each value: pandas ≥ 3 keeps NaN through astype(str).
    return frame[columns].apply(lambda row: "|".join(map(str, row)), axis=1)


def per_model(group: pd.DataFrame) -> dict[str, list[float]]:
    return {
        model: group.loc[group["model"] == model, "value"].tolist()
        for model in model_order(group["model"])
    }


@dataclass(frozen=True)
class PairResult:
    """How model a's metric compares with model b's at one configuration."""

    a: str  # model in the numerator
    b: str  # model in the denominator
    relation: Relation  # a lower / higher than b, within noise, or undecided
    test: RankTest  # ratio of medians, raw p-value and sample sizes
    route: Literal["construction", "rank test", "single sample"]  # how it was decided
    p_holm: float = math.nan  # Holm-adjusted p-value within the claim (rank tests only)
    # The closest and farthest pairing of samples, min(a)/max(b) and max(a)/min(b): the
    # single-sample route needs the whole span beyond the run-to-run factor.
    pairing: tuple[float, float] = (math.nan, math.nan)


def provisional(
    a: str, b: str, values_a: list[float], values_b: list[float], sampling: Sampling
) -> PairResult:
    t = rank_test(values_a, values_b)
    r = t.ratio
    if sampling.by_construction:
        relation: Relation = (
            "lower"
            if r < 1 - sampling.tolerance
            else "higher"
            if r > 1 + sampling.tolerance
            else "within noise"
        )
        return PairResult(a, b, relation, t, "construction")
    pending = PairResult(a, b, "within noise", t, "rank test", pairing=pairing(values_a, values_b))
    if min(t.n_a, t.n_b) >= sampling.min_samples:
        return pending  # decided with the claim's other tests (decide())
    return _single_sample(pending, sampling) or replace(pending, relation="too few samples")


def decide(comparisons: list[PairResult], sampling: Sampling) -> list[PairResult]:
    """Settle a claim's rank tests together. Only tests that can reach significance at all are
    counted (stats.testable_subset, Tarone 1990); those are Holm-corrected as one family, and a
    difference needs adjusted p ≤ ALPHA and a ratio of medians beyond 1 ± tolerance. A test
    that could never reach it falls back to the single-sample route where the sampling has
    one, and is otherwise "too few samples"."""
    out = list(comparisons)
    candidates = [
        i
        for i, c in enumerate(comparisons)
        if c.route == "rank test" and c.relation != "too few samples"
    ]
    reach = [min_p_value(out[i].test.n_a, out[i].test.n_b) for i in candidates]
    chosen, k = testable_subset(reach)
    tested = [candidates[j] for j in chosen]
    for i in set(candidates) - set(tested):
        out[i] = _single_sample(out[i], sampling) or replace(out[i], relation="too few samples")
    adjusted = holm([out[i].test.p_value for i in tested], family_size=k)
    for i, p in zip(tested, adjusted, strict=True):
        c = out[i]
        r = c.test.ratio
        relation: Relation = "within noise"
        if math.isfinite(p) and p <= ALPHA:
            if r < 1 - sampling.tolerance:
                relation = "lower"
            elif r > 1 + sampling.tolerance:
                relation = "higher"
        out[i] = replace(c, relation=relation, p_holm=p)
    return out


def pairing(values_a: list[float], values_b: list[float]) -> tuple[float, float]:
    """(min(a)/max(b), max(a)/min(b)) over the finite positive samples: the span of the ratio
    over every pairing of a sample of a with one of b (NaN where either has none)."""
    xa = [v for v in values_a if math.isfinite(v) and v > 0]
    xb = [v for v in values_b if math.isfinite(v) and v > 0]
    if not xa or not xb:
        return (math.nan, math.nan)
    return (min(xa) / max(xb), max(xa) / min(xb))


def _single_sample(c: PairResult, sampling: Sampling) -> PairResult | None:
    """The stated-prior route: a difference counts only where every pairing of samples is
    beyond the run-to-run factor (with one sample each, the ratio itself)."""
    factor = sampling.single_sample_factor
    low, high = c.pairing
    if factor is None or min(c.test.n_a, c.test.n_b) < 1 or not math.isfinite(low * high):
        return None
    relation: Relation = (
        "higher" if low > factor else "lower" if high < 1 / factor else "within run-to-run spread"
    )
    return replace(c, relation=relation, route="single sample")


def compare(
    values_a: list[float], values_b: list[float], a: str, b: str, sampling: Sampling
) -> PairResult:
    """One comparison on its own (a family of one for Holm)."""
    return decide([provisional(a, b, values_a, values_b, sampling)], sampling)[0]


def describe_ratio(c: PairResult) -> str:
    r = c.test
    text = f"{c.a}/{c.b} = {r.ratio:.3g}"
    if c.route == "construction":
        return text + f" ({c.relation}, by construction)"
    if c.route == "rank test" and c.relation != "too few samples":
        return text + f" (Mann–Whitney p = {r.p_value:.2g}, Holm {c.p_holm:.2g}; {c.relation})"
    if c.route == "single sample":
        if r.n_a == 1 and r.n_b == 1:
            return text + f" (1 and 1 samples, no test: {c.relation})"
        low, high = c.pairing
        return text + (
            f" ({r.n_a} and {r.n_b} samples, no test; pairings {low:.3g} to {high:.3g}: "
            f"{c.relation})"
        )
    return (
        text + f" ({c.relation}: n = {r.n_a}, {r.n_b}; a rank test can reach at best "
        f"p = {min_p_value(r.n_a, r.n_b):.2g})"
    )


def describe_models(
    values: dict[str, list[float]], metric: str, task: str | None, sampling: Sampling
) -> str:
    """``rnn 1.2 ms, range [1.1 ms, 1.3 ms] (3 seeds); lstm ...``"""
    unit = unit_of(metric, task)
    parts = []
    for model, vals in values.items():
        s = summarize(vals)
        if s.has_ci:
            spread = f" [{fmt(s.ci_low, unit)}, {fmt(s.ci_high, unit)}] 95% CI"
        elif s.n >= 2:
            spread = f", range [{fmt(s.low, unit)}, {fmt(s.high, unit)}]"
        else:
            spread = ""
        parts.append(f"{model} {fmt(s.median, unit)}{spread} ({sampling.count(s.n)})")
    return "; ".join(parts)


def ranking(values: dict[str, list[float]], higher_first: bool = False) -> str:
    """Models ordered by median: ``rnn < gru < lstm`` (by the metric's value)."""
    medians = {m: summarize(v).median for m, v in values.items() if v}
    order = sorted(medians, key=medians.__getitem__, reverse=higher_first)
    return (" > " if higher_first else " < ").join(order)


def where(config: dict, with_task: bool = True) -> str:
    """The regime of a verdict: task, T, B, H, I, device, and training steps if any."""
    label = config_label(config, with_task=with_task)
    device = config.get("device")
    label += f" on {device}" if isinstance(device, str) else ""
    steps = config.get("train_steps")
    if isinstance(steps, int | float) and not math.isnan(steps) and steps > 0:
        label += f", {int(steps)} steps"
        lr = config.get("lr")
        if isinstance(lr, int | float) and not math.isnan(lr):
            label += f", lr {lr:g}"
    return label


def shortfall(values: dict[str, list[float]], sampling: Sampling) -> str:
    """Why no comparison was made: the smallest sample against what is needed."""
    n = min((len(v) for v in values.values()), default=0)
    return f"{sampling.count(n)} per model (a rank test needs ≥ {sampling.min_samples})"
