"""The generic check for ordering claims: "metric(a) < metric(b)" for pairs of models, judged
at every configuration the results hold, each pair beyond noise or not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from seqbench.analysis.data import Measured
from seqbench.claims.evidence import (
    PairResult,
    Sampling,
    configs,
    decide,
    describe_models,
    describe_ratio,
    per_model,
    provisional,
    ranking,
    samples,
    shortfall,
    where,
)
from seqbench.claims.learning import NO_MODEL_LEARNED, learnable_only
from seqbench.claims.model import CONTRADICTED, INCONCLUSIVE, SUPPORTED, Claim, Evidence, Outcome


@dataclass(frozen=True)
class RankingSpec:
    """An ordering of models on one metric, as the article states it."""

    metric: str  # metric name (its unit is its suffix)
    family: str  # benchmark family that records it
    measurement: str | None  # measurement within the family (None: any)
    pairs: tuple[tuple[str, str], ...]  # (a, b): the article says metric(a) < metric(b)
    sampling: Sampling  # what one sample is and how many a comparison needs
    # Restrict to these tasks (empty: all). A function of no arguments is called when the
    # claim is checked, so a set read from the task registry includes tasks registered later.
    tasks: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()
    lengths: tuple[int | None, int | None] = (None, None)  # T range, inclusive (None: open)
    higher_first: bool = False  # list the measured ranking highest first (rates)
    # Use only configurations where some model learned the task (convergence metrics): where
    # none did, the models' losses differ in how they fail, not in what they learned.
    learned_only: bool = False


@dataclass(frozen=True)
class ConfigResult:
    config: dict  # the configuration compared
    comparisons: list[PairResult]  # one per claimed pair whose models are both present
    values: dict[str, list[float]]  # samples per model

    @property
    def verdict(self) -> str:
        relations = [c.relation for c in self.comparisons]
        if "higher" in relations:
            return CONTRADICTED
        if relations and all(r == "lower" for r in relations):
            return SUPPORTED
        return INCONCLUSIVE


def judge_frame(
    frame: pd.DataFrame, pairs: tuple[tuple[str, str], ...], sampling: Sampling
) -> list[ConfigResult]:
    """Compare the claimed pairs at each configuration of a samples frame; rank tests are
    Holm-corrected across every configuration and pair of the claim."""
    found = []
    for config, group in configs(frame):
        values = per_model(group)
        comps = [
            provisional(a, b, values[a], values[b], sampling)
            for a, b in pairs
            if a in values and b in values
        ]
        if comps:
            found.append((config, values, comps))
    settled = iter(decide([c for _, _, comps in found for c in comps], sampling))
    return [
        ConfigResult(config, [next(settled) for _ in comps], values)
        for config, values, comps in found
    ]


def _reversed(r: ConfigResult) -> str:
    flipped = ", ".join(describe_ratio(c) for c in r.comparisons if c.relation == "higher")
    return f"{where(r.config)} ({flipped})"


def outcome_of(
    results: list[ConfigResult],
    metric: str,
    sampling: Sampling,
    higher_first: bool = False,
    show_task: bool = True,
    extra: tuple[Evidence, ...] = (),
    skipped: str = "",
) -> Outcome:
    """Verdict over configurations: contradicted if any configuration reverses a pair
    (after Holm); supported if at least one holds every pair and none reverses; otherwise
    inconclusive, saying whether samples were too few or differences small. `skipped` names
    configurations left out because they cannot separate the models."""
    evidence = extra + tuple(
        Evidence(
            where(r.config),
            describe_models(r.values, metric, r.config.get("task"), sampling)
            + " · "
            + "; ".join(describe_ratio(c) for c in r.comparisons),
        )
        for r in results
    )
    measured = "; ".join(
        f"{where(r.config, with_task=show_task)}: {ranking(r.values, higher_first)}"
        for r in results
    )
    bad = [r for r in results if r.verdict == CONTRADICTED]
    good = [r for r in results if r.verdict == SUPPORTED]
    rest = [r for r in results if r.verdict == INCONCLUSIVE]
    n = len(results)
    tail = f" (rule: {sampling.rule()})." + (f" {skipped}" if skipped else "")
    if bad:
        reason = (
            f"reversed at {len(bad)} of {n} configurations: "
            + "; ".join(_reversed(r) for r in bad)
            + "."
        )
        if good:
            reason += f" It holds at {len(good)}: {', '.join(where(r.config) for r in good)}."
        return Outcome(CONTRADICTED, reason + tail, evidence, measured)
    if good:
        reason = f"holds at {len(good)} of {n} configurations: " + ", ".join(
            where(r.config) for r in good
        )
        if rest:
            reason += f"; undecided at {', '.join(where(r.config) for r in rest)}"
        return Outcome(SUPPORTED, reason + tail, evidence, measured)
    relations = [c.relation for r in results for c in r.comparisons]
    if all(rel == "too few samples" for rel in relations):
        worst = min(results, key=lambda r: min(len(v) for v in r.values.values()))
        reason = f"too few samples: {shortfall(worst.values, sampling)}"
    else:
        held = [c for r in results for c in r.comparisons if c.relation == "lower"]
        if held:
            # Some claimed pairs hold, but at no configuration all of them: say which do.
            pairs = sorted({f"{c.a} < {c.b}" for c in held})
            reason = (
                f"no configuration decides every claimed pair; {len(held)} of "
                f"{len(relations)} comparisons hold as claimed ({', '.join(pairs)}), the rest "
                "are undecided"
            )
        else:
            reason = f"no difference decided at any of the {n} configurations"
    return Outcome(INCONCLUSIVE, reason + tail, evidence, measured)


def no_data(m: Measured, family: str, what: str) -> Outcome:
    if family not in m.families:
        return Outcome(INCONCLUSIVE, f"the results hold no {family} family.")
    return Outcome(INCONCLUSIVE, f"no {family} results {what}.")


def check_ranking(claim: Claim, m: Measured) -> Outcome:
    return check_ranking_spec(claim.spec, m)


def spec_tasks(spec: RankingSpec) -> tuple[str, ...]:
    """The tasks a ranking is restricted to, read now if the spec names a registry query."""
    return spec.tasks() if callable(spec.tasks) else spec.tasks


def check_ranking_spec(spec: RankingSpec, m: Measured) -> Outcome:
    tasks = spec_tasks(spec)
    frame = samples(
        m, spec.metric, spec.sampling, spec.family, spec.measurement, tasks, spec.lengths
    )
    skipped = ""
    if spec.learned_only:
        had_data = not frame.empty
        frame, skipped = learnable_only(m, frame)
        if had_data and frame.empty:
            return Outcome(INCONCLUSIVE, f"{NO_MODEL_LEARNED} at any configuration. {skipped}")
    results = judge_frame(frame, spec.pairs, spec.sampling)
    if not results:
        return no_data(m, spec.family, _scope(spec))
    return outcome_of(
        results,
        spec.metric,
        spec.sampling,
        spec.higher_first,
        show_task=len(tasks) != 1,
        skipped=skipped,
    )


def _scope(spec: RankingSpec) -> str:
    """What data the claim needed, for the 'no data' reason."""
    models = sorted({m for pair in spec.pairs for m in pair})
    text = f"with {spec.metric} for {' and '.join(models)}"
    if spec_tasks(spec):
        text += f" on {', '.join(spec_tasks(spec))}"
    low, high = spec.lengths
    if low is not None and high is not None:
        text += f" at {low} ≤ T ≤ {high}"
    elif low is not None:
        text += f" at T ≥ {low}"
    elif high is not None:
        text += f" at T ≤ {high}"
    return text
