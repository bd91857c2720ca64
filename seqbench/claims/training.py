"""Claims about training outcomes: the headline loss ordering, the selection guide's
"not worse" recommendations, gradient clipping and gradient size during training."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from seqbench.claims.evidence import (
    SEEDS,
    Sampling,
    configs,
    per_model,
    samples,
    setup_key,
    where,
)
from seqbench.claims.model import CONTRADICTED, INCONCLUSIVE, SUPPORTED, Claim, Evidence, Outcome
from seqbench.claims.ranking import judge_frame, no_data, outcome_of
from seqbench.report.data import GROUP_COLUMNS, Measured
from seqbench.report.stats import ratio_ci, summarize
from seqbench.report.units import fmt, unit_of


@dataclass(frozen=True)
class HeadlineSpec:
    """The article's loss table: training loss at one epoch, ordered across models."""

    task: str  # the headline task
    epoch: int  # the epoch whose loss is compared (after this many epochs of updates)
    claimed: dict[str, float]  # the article's printed losses at that epoch
    pairs: tuple[tuple[str, str], ...]  # (a, b): loss(a) < loss(b) as the article has it
    sampling: Sampling = SEEDS
    # Judge only the article's regime: a fixed training set, trained whole at every step
    # (train_size set and ≤ batch_size). Fresh-batch runs answer a different question.
    full_batch_only: bool = True


def _step_after_epochs(config: dict, epochs: int) -> int:
    """1-based index of the loss computed after `epochs` epochs of updates. With a fixed
    training set an epoch is ceil(train_size / batch_size) steps; with fresh batches, one."""
    train_size = config.get("train_size")
    if train_size is None or (isinstance(train_size, float) and math.isnan(train_size)):
        per_epoch = 1
    else:
        per_epoch = math.ceil(float(train_size) / float(config["batch_size"]))
    return epochs * per_epoch + 1


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
            return Outcome(INCONCLUSIVE, f"no {spec.task} convergence run in the article's "
                                         "full-batch regime (a fixed training set trained "
                                         "whole at every step, as the seed profile runs it).")
    rows = []
    longest = int(c["step"].max())
    for config, group in configs(c.rename(columns={"loss": "value"})):
        step = _step_after_epochs(config, spec.epoch)
        rows.append(group[group["step"] == step])
    frame = pd.concat(rows) if rows else c.iloc[0:0]
    if frame.empty:
        return Outcome(INCONCLUSIVE, f"no {spec.task} convergence run reached epoch "
                                     f"{spec.epoch} (the longest ran {longest} steps).")
    claimed = "; ".join(f"{k} {fmt(v, unit_of('loss', spec.task))}"
                        for k, v in spec.claimed.items())
    extra = (Evidence("article, epoch 80, T=20000 B=100 H=50 (training loss)", claimed),)
    results = judge_frame(frame, spec.pairs, spec.sampling)
    if not results:
        return Outcome(INCONCLUSIVE, "the runs that reached the epoch lack the models the "
                                     "claim compares.", extra)
    return outcome_of(results, "final_train_loss", spec.sampling, extra=extra)


@dataclass(frozen=True)
class NotWorseSpec:
    """'Model X is good enough here': X's metric is not worse than the best rival's by more
    than the tolerance (lower is better)."""

    model: str  # the model the guide recommends
    rivals: tuple[str, ...]  # X must not be worse than the best of these
    lengths: tuple[int | None, int | None]  # T range of the guide's bin (inclusive)
    tolerance: float = 0.10  # "not worse" allows this much, relative
    metric: str = "final_heldout_loss"
    family: str = "convergence"
    sampling: Sampling = SEEDS


def check_not_worse(claim: Claim, m: Measured) -> Outcome:
    spec: NotWorseSpec = claim.spec
    frame = samples(m, spec.metric, spec.sampling, spec.family, lengths=spec.lengths)
    verdicts, evidence, reasons = [], [], []
    for config, group in configs(frame):
        values = per_model(group)
        rivals = {k: v for k, v in values.items() if k in spec.rivals}
        if spec.model not in values or not rivals:
            continue
        best = min(rivals, key=lambda k: summarize(rivals[k]).median)
        r = ratio_ci(values[spec.model], rivals[best])
        unit = unit_of(spec.metric, config.get("task"))
        line = (f"{spec.model} {fmt(summarize(values[spec.model]).median, unit)} vs best rival "
                f"{best} {fmt(summarize(rivals[best]).median, unit)}: ratio {r.ratio:.3g} "
                f"[{r.ci_low:.3g}, {r.ci_high:.3g}] (n={r.n_a}, {r.n_b} seeds)")
        evidence.append(Evidence(where(config), line))
        if min(r.n_a, r.n_b) < spec.sampling.min_samples:
            verdicts.append(INCONCLUSIVE)
            reasons.append(f"{where(config)}: {spec.sampling.count(min(r.n_a, r.n_b))} per "
                           f"model (needs ≥ {spec.sampling.min_samples})")
        elif r.ci_high <= 1 + spec.tolerance:
            verdicts.append(SUPPORTED)
        elif r.ci_low > 1 + spec.tolerance:
            verdicts.append(CONTRADICTED)
            reasons.append(f"{where(config)}: {spec.model} worse than {best} by more than "
                           f"{spec.tolerance:.0%}")
        else:
            verdicts.append(INCONCLUSIVE)
            reasons.append(f"{where(config)}: within noise of the {spec.tolerance:.0%} margin")
    if not verdicts:
        low, high = spec.lengths
        span = f"{low if low is not None else 1} ≤ T ≤ {high if high is not None else '∞'}"
        return no_data(m, spec.family, f"with {spec.metric} for {spec.model} and a rival at "
                                       f"{span}")
    tail = f" (not worse = {spec.metric} ratio's 95% CI ≤ 1 + {spec.tolerance:.0%})"
    n = len(verdicts)
    if CONTRADICTED in verdicts:
        return Outcome(CONTRADICTED, "; ".join(reasons) + tail + ".", tuple(evidence))
    if SUPPORTED in verdicts:
        text = f"not worse at {verdicts.count(SUPPORTED)} of {n} configurations"
        if reasons:
            text += "; undecided: " + "; ".join(reasons)
        return Outcome(SUPPORTED, text + tail + ".", tuple(evidence))
    return Outcome(INCONCLUSIVE, "; ".join(reasons) + tail + ".", tuple(evidence))


@dataclass(frozen=True)
class ClippingSpec:
    """'Gradient clipping prevents explosion': paired runs that differ only in clipping."""

    metric: str = "diverged_at_step"  # recorded only when a run diverged (NaN/Inf)


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
        return Outcome(INCONCLUSIVE, "no pair of convergence runs differs only in gradient "
                                     "clipping, so its effect cannot be isolated.")
    stats = pairs.groupby("clipped")["diverged"].agg(["sum", "count"])
    div_clip = int(stats.loc[True, "sum"]) if True in stats.index else 0
    div_free = int(stats.loc[False, "sum"]) if False in stats.index else 0
    n = int(stats["count"].min())
    ev = (Evidence(f"{n} paired runs", f"diverged without clipping: {div_free} runs; with "
                                       f"clipping: {div_clip} runs"),)
    if div_clip > 0:
        return Outcome(CONTRADICTED, f"{div_clip} clipped runs diverged.", ev)
    if div_free == 0:
        return Outcome(INCONCLUSIVE, "no run diverged even without clipping: there was no "
                                     "explosion to prevent.", ev)
    return Outcome(SUPPORTED, f"{div_free} runs diverged without clipping; their clipped "
                              "twins did not.", ev)


@dataclass(frozen=True)
class SmallGradSpec:
    """'Gradient norms during training on a long sequence are very small.'"""

    min_length: int  # judge runs at T ≥ this
    small_below: float  # "very small" means a median step's total gradient norm below this
    min_steps: int = 10  # training steps (samples) needed per run


def check_small_grad(claim: Claim, m: Measured) -> Outcome:
    spec: SmallGradSpec = claim.spec
    e = m.results.entries
    conv = e[(e["family"] == "convergence") & (e["seq_len"] >= spec.min_length)]
    if conv.empty:
        return no_data(m, "convergence", f"at T ≥ {spec.min_length}")
    verdicts, evidence = [], []
    for rec in conv.to_dict("records"):
        norms = [v for v in (rec.get("series") or {}).get("grad_norm", []) if v is not None]
        s = summarize(norms)
        evidence.append(Evidence(f"{rec['model']} {where(rec)} s{rec['seed']}",
                                 f"median total gradient norm over {s.n} steps "
                                 f"{fmt(s.median, 'L2 norm')} [{s.ci_low:.3g}, {s.ci_high:.3g}]"))
        if s.n < spec.min_steps:
            verdicts.append(INCONCLUSIVE)
        elif s.ci_high < spec.small_below:
            verdicts.append(SUPPORTED)
        elif s.ci_low >= spec.small_below:
            verdicts.append(CONTRADICTED)
        else:
            verdicts.append(INCONCLUSIVE)
    rule = (f"very small = the median step's gradient norm below {spec.small_below:g} beyond "
            f"its 95% CI, over ≥ {spec.min_steps} steps")
    ev = tuple(evidence)
    if CONTRADICTED in verdicts:
        return Outcome(CONTRADICTED, f"{verdicts.count(CONTRADICTED)} of {len(verdicts)} runs "
                                     f"had larger gradients ({rule}).", ev)
    if verdicts and all(v == SUPPORTED for v in verdicts):
        return Outcome(SUPPORTED, f"all {len(verdicts)} runs ({rule}).", ev)
    return Outcome(INCONCLUSIVE, f"too few steps or within noise ({rule}).", ev)


def check_not_measured(claim: Claim, m: Measured) -> Outcome:
    return Outcome(INCONCLUSIVE, str(claim.spec))
