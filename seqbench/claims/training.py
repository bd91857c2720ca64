"""Claims about training outcomes: the headline loss ordering, the selection guide's
"not worse" recommendations, gradient clipping and gradient size during training."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from seqbench.analysis.data import GROUP_COLUMNS, Measured
from seqbench.analysis.stats import range_coverage, summarize
from seqbench.analysis.units import fmt, unit_of
from seqbench.claims.evidence import (
    SEEDS,
    Sampling,
    configs,
    decide,
    describe_ratio,
    per_model,
    provisional,
    samples,
    setup_key,
    where,
)
from seqbench.claims.learning import NO_MODEL_LEARNED, learnable_only
from seqbench.claims.model import CONTRADICTED, INCONCLUSIVE, SUPPORTED, Claim, Evidence, Outcome
from seqbench.claims.ranking import judge_frame, no_data, outcome_of


@dataclass(frozen=True)
class HeadlineSpec:
    """The article's loss table: training loss at one epoch, its magnitudes and its order."""

    task: str  # the headline task
    epoch: int  # the epoch whose loss is compared (after this many epochs of updates)
    claimed: dict[str, float]  # the article's printed losses at that epoch
    pairs: tuple[tuple[str, str], ...]  # (a, b): loss(a) < loss(b) as the article has it
    sampling: Sampling = SEEDS
    # Judge only the article's regime: a fixed training set, trained whole at every step
    # (train_size set and ≤ batch_size). Fresh-batch runs answer a different question.
    full_batch_only: bool = True
    min_seeds: int = 3  # seeds per model before a claimed magnitude is judged
    # A claimed loss contradicts the runs when it lies outside their range and this factor or
    # more from their median: the range of n seeds covers the median with 1 − 2·0.5ⁿ (75% at
    # 3 seeds), and the factor keeps a near miss from counting.
    magnitude_factor: float = 1.5


def _step_after_epochs(config: dict, epochs: int) -> int:
    """1-based index of the loss computed after `epochs` epochs of updates. With a fixed
    training set an epoch is ceil(train_size / batch_size) steps; with fresh batches, one."""
    train_size = config.get("train_size")
    if train_size is None or (isinstance(train_size, float) and math.isnan(train_size)):
        per_epoch = 1
    else:
        per_epoch = math.ceil(float(train_size) / float(config["batch_size"]))
    return epochs * per_epoch + 1


def _magnitude(
    model: str, values: list[float], claimed: float, spec: HeadlineSpec, unit: str
) -> tuple[str, str]:
    """(verdict, reason) of one model's claimed loss against its seeds."""
    s = summarize(values)
    seeds = spec.sampling.count(s.n)
    measured = (
        f"{model}: measured {fmt(s.median, unit)} (range {fmt(s.low, unit)}–"
        f"{fmt(s.high, unit)}, {seeds}) vs claimed {fmt(claimed, unit)}, "
        f"{s.median / claimed:.2g}×"
    )
    if s.n < spec.min_seeds:
        return INCONCLUSIVE, f"{measured}; {seeds}, needs ≥ {spec.min_seeds}"
    if s.low <= claimed <= s.high:
        return SUPPORTED, f"{measured}; the claim lies within the seeds' range"
    far = max(s.median / claimed, claimed / s.median) >= spec.magnitude_factor
    if far:
        return CONTRADICTED, (
            f"{measured}; outside the range of {seeds} (which covers the "
            f"median with {range_coverage(s.n):.0%}) and ≥ "
            f"{spec.magnitude_factor:g}× away"
        )
    return INCONCLUSIVE, f"{measured}; outside the range but within {spec.magnitude_factor:g}×"


def check_headline(claim: Claim, m: Measured) -> Outcome:
    spec: HeadlineSpec = claim.spec
    c = m.curves
    c = c[(c["split"] == "train") & (c["task"] == spec.task)].dropna(subset=["loss"])
    if c.empty:
        return no_data(m, "convergence", f"on {spec.task}")
    if spec.full_batch_only:
        size = pd.to_numeric(c["train_size"], errors="coerce")
        c = c[size.notna() & (size <= c["batch_size"])]
        if c.empty:
            return Outcome(
                INCONCLUSIVE,
                f"no {spec.task} convergence run in the article's "
                "full-batch regime (a fixed training set trained "
                "whole at every step, as the seed profile runs it).",
            )
    rows = []
    longest = int(c["step"].max())
    for config, group in configs(c.rename(columns={"loss": "value"})):
        step = _step_after_epochs(config, spec.epoch)
        rows.append(group[group["step"] == step])
    frame = pd.concat(rows) if rows else c.iloc[0:0]
    if frame.empty:
        return Outcome(
            INCONCLUSIVE,
            f"no {spec.task} convergence run reached epoch "
            f"{spec.epoch} (the longest ran {longest} steps).",
        )
    unit = unit_of("loss", spec.task)
    claimed = "; ".join(f"{k} {fmt(v, unit)}" for k, v in spec.claimed.items())
    extra = (Evidence(f"article, epoch {spec.epoch} (training loss)", claimed),)
    results = judge_frame(frame, spec.pairs, spec.sampling)
    if not results:
        return Outcome(
            INCONCLUSIVE,
            "the runs that reached the epoch lack the models the claim compares.",
            extra,
        )
    order = outcome_of(results, "final_train_loss", spec.sampling, extra=extra)
    verdicts, reasons = [], []
    for r in results:
        for model, claimed_loss in spec.claimed.items():
            if model in r.values:
                v, why = _magnitude(model, r.values[model], claimed_loss, spec, unit)
                verdicts.append(v)
                reasons.append(why)
    regime = where(results[0].config)
    magnitude = (
        CONTRADICTED
        if CONTRADICTED in verdicts
        else SUPPORTED
        if verdicts and all(v == SUPPORTED for v in verdicts)
        else INCONCLUSIVE
    )
    if CONTRADICTED in (magnitude, order.verdict):
        verdict = CONTRADICTED
    elif magnitude == SUPPORTED and order.verdict == SUPPORTED:
        verdict = SUPPORTED
    else:
        verdict = INCONCLUSIVE
    reason = (
        f"{regime}, epoch {spec.epoch}. Magnitudes: {magnitude} ("
        + "; ".join(reasons)
        + f"). Order: {order.verdict}, {order.reason}"
    )
    return Outcome(verdict, reason, order.evidence, order.measured)


@dataclass(frozen=True)
class NotWorseSpec:
    """'Model X is good enough here': X's held-out loss is not worse than the best rival's by
    more than a margin measured in units of the task's chance loss (a relative margin on a
    loss near 0 would call two solved runs different)."""

    model: str  # the model the guide recommends
    rivals: tuple[str, ...]  # X must not be worse than the best of these
    lengths: tuple[int | None, int | None]  # T range of the guide's bin (inclusive)
    margin_of_chance: float = 0.10  # "not worse" allows this fraction of the chance loss
    metric: str = "final_heldout_loss"
    family: str = "convergence"
    sampling: Sampling = SEEDS


def check_not_worse(claim: Claim, m: Measured) -> Outcome:
    spec: NotWorseSpec = claim.spec
    frame = samples(m, spec.metric, spec.sampling, spec.family, lengths=spec.lengths)
    had_data = not frame.empty
    frame, skipped = learnable_only(m, frame)
    if had_data and frame.empty:
        return Outcome(INCONCLUSIVE, f"{NO_MODEL_LEARNED} at any configuration. {skipped}")
    chance = m.metric("chance_loss", spec.family)
    found = []
    for config, group in configs(frame):
        values = per_model(group)
        rivals = {k: v for k, v in values.items() if k in spec.rivals}
        if spec.model not in values or not rivals:
            continue
        best = min(rivals, key=lambda k: summarize(rivals[k]).median)
        base = chance[
            (chance["task"] == config["task"]) & (chance["seq_len"] == config["seq_len"])
        ]["value"]
        margin = spec.margin_of_chance * float(base.median()) if not base.empty else math.nan
        comp = provisional(spec.model, best, values[spec.model], rivals[best], spec.sampling)
        found.append((config, values, best, margin, comp))
    settled = decide([f[-1] for f in found], spec.sampling)
    verdicts, evidence, reasons = [], [], []
    for (config, values, best, margin, _), comp in zip(found, settled, strict=True):
        mine, theirs = summarize(values[spec.model]), summarize(values[best])
        unit = unit_of(spec.metric, config.get("task"))
        gap = mine.median - theirs.median
        worst = mine.high - theirs.low  # the least favourable pairing of seeds
        evidence.append(
            Evidence(
                where(config),
                (
                    f"{spec.model} {fmt(mine.median, unit)} vs best rival {best} "
                    f"{fmt(theirs.median, unit)}: gap {fmt(gap, unit)}, worst pairing "
                    f"{fmt(worst, unit)}, margin {fmt(margin, unit)} · {describe_ratio(comp)}"
                ),
            )
        )
        if comp.relation == "higher" and gap > margin:
            verdicts.append(CONTRADICTED)
            reasons.append(
                f"{where(config)}: {spec.model} worse than {best} by "
                f"{fmt(gap, unit)} > {fmt(margin, unit)}"
            )
        elif min(mine.n, theirs.n) >= spec.sampling.min_samples and worst <= margin:
            verdicts.append(SUPPORTED)
        else:
            verdicts.append(INCONCLUSIVE)
            reasons.append(
                f"{where(config)}: undecided ({mine.n} and {theirs.n} seeds; worst "
                f"pairing {fmt(worst, unit)} vs margin {fmt(margin, unit)})"
            )
    if not verdicts:
        low, high = spec.lengths
        span = f"{low if low is not None else 1} ≤ T ≤ {high if high is not None else '∞'}"
        return no_data(m, spec.family, f"with {spec.metric} for {spec.model} and a rival at {span}")
    tail = (
        f" (rule: only configurations where some model learned; not worse = every pairing "
        f"of seeds within {spec.margin_of_chance:.0%} of the chance loss, over ≥ "
        f"{spec.sampling.count(spec.sampling.min_samples)}; worse = a Holm-corrected "
        f"Mann–Whitney difference larger than that margin)."
    )
    tail += f" {skipped}" if skipped else ""
    n = len(verdicts)
    if CONTRADICTED in verdicts:
        return Outcome(CONTRADICTED, "; ".join(reasons) + tail, tuple(evidence))
    if SUPPORTED in verdicts:
        text = f"not worse at {verdicts.count(SUPPORTED)} of {n} configurations"
        if reasons:
            text += "; " + "; ".join(reasons)
        return Outcome(SUPPORTED, text + tail, tuple(evidence))
    return Outcome(INCONCLUSIVE, "; ".join(reasons) + tail, tuple(evidence))


def check_clipping(claim: Claim, m: Measured) -> Outcome:
    e = m.results.entries
    conv = e[(e["family"] == "convergence") & e["model"].notna()].copy()
    if conv.empty:
        return no_data(m, "convergence", "")
    conv["clipped"] = conv["clip_grad_norm"].notna()
    conv["diverged"] = conv["status"] == "diverged"
    cols = [c for c in [*GROUP_COLUMNS, "model", "seed"] if c != "clip_grad_norm"]
    conv["_key"] = setup_key(conv, cols)
    paired = conv.groupby("_key")["clipped"].nunique()
    pairs = conv[conv["_key"].isin(paired[paired == 2].index)]
    if pairs.empty:
        return Outcome(
            INCONCLUSIVE,
            "no pair of convergence runs differs only in gradient "
            "clipping, so its effect cannot be isolated.",
        )
    stats = pairs.groupby("clipped")["diverged"].agg(["sum", "count"])
    div_clip = int(stats.loc[True, "sum"]) if True in stats.index else 0
    div_free = int(stats.loc[False, "sum"]) if False in stats.index else 0
    n = int(stats["count"].min())
    ev = (
        Evidence(
            f"{n} paired runs",
            f"diverged without clipping: {div_free} runs; with clipping: {div_clip} runs",
        ),
    )
    if div_clip > 0:
        return Outcome(CONTRADICTED, f"{div_clip} clipped runs diverged.", ev)
    if div_free == 0:
        return Outcome(
            INCONCLUSIVE,
            "no run diverged even without clipping: there was no explosion to prevent.",
            ev,
        )
    return Outcome(
        SUPPORTED, f"{div_free} runs diverged without clipping; their clipped twins did not.", ev
    )


@dataclass(frozen=True)
class SmallGradSpec:
    """'Gradient norms during training on a long sequence are very small', judged on the
    article's experiment 3 as written (its task, length and batch)."""

    task: str  # the experiment's task (loss = output.sum())
    min_length: int  # judge runs at T ≥ this
    small_below: float  # "very small": a run's median total gradient norm below this
    min_steps: int = 10  # training steps per run
    min_runs: int = 3  # runs (seeds) per model before a verdict


def check_small_grad(claim: Claim, m: Measured) -> Outcome:
    spec: SmallGradSpec = claim.spec
    e = m.results.entries
    conv = e[
        (e["family"] == "convergence")
        & (e["task"] == spec.task)
        & (e["seq_len"] >= spec.min_length)
    ]
    if conv.empty:
        return no_data(
            m,
            "convergence",
            f"of the article's experiment 3 (task {spec.task}, T ≥ {spec.min_length})",
        )
    verdicts, evidence = {}, []
    for rec in conv.to_dict("records"):
        norms = [v for v in (rec.get("series") or {}).get("grad_norm", []) if v is not None]
        s = summarize(norms)
        evidence.append(
            Evidence(
                f"{rec['model']} {where(rec)} s{rec['seed']}",
                f"median total gradient norm over {s.n} steps "
                f"{fmt(s.median, 'L2 norm')} (range {s.low:.3g}–{s.high:.3g})",
            )
        )
        if s.n >= spec.min_steps:
            verdicts.setdefault(rec["model"], []).append(s.median < spec.small_below)
    rule = (
        f"very small = a run's median total gradient norm below {spec.small_below:g}, over "
        f"≥ {spec.min_steps} steps; a verdict needs ≥ {spec.min_runs} runs per model, all "
        "on one side"
    )
    ev = tuple(evidence)
    few = {k: len(v) for k, v in verdicts.items() if len(v) < spec.min_runs}
    if not verdicts or few:
        return Outcome(INCONCLUSIVE, f"too few runs: {few or 'none'} ({rule}).", ev)
    large = [k for k, v in verdicts.items() if not any(v)]
    small = [k for k, v in verdicts.items() if all(v)]
    if large:
        return Outcome(
            CONTRADICTED,
            f"every run of {', '.join(large)} had a larger median gradient norm ({rule}).",
            ev,
        )
    if len(small) == len(verdicts):
        return Outcome(SUPPORTED, f"every run of every model ({rule}).", ev)
    return Outcome(INCONCLUSIVE, f"runs on both sides of the threshold ({rule}).", ev)


def check_not_measured(claim: Claim, m: Measured) -> Outcome:
    return Outcome(INCONCLUSIVE, str(claim.spec))
