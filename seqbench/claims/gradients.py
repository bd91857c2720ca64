"""The vanishing-gradient claim: judged on the gradient that reaches the first time step,
‖∂L/∂h_1‖/‖∂L/∂h_T‖ at initialisation, against T (the article plotted the total parameter
gradient instead, which does not vanish; it is shown as evidence)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from seqbench.claims.evidence import SEEDS, Sampling, samples, setup_key, where
from seqbench.claims.model import CONTRADICTED, INCONCLUSIVE, SUPPORTED, Claim, Evidence, Outcome
from seqbench.claims.ranking import no_data
from seqbench.report.data import GROUP_COLUMNS, Measured, model_order
from seqbench.report.stats import summarize
from seqbench.report.units import fmt, fmt_range, unit_of


@dataclass(frozen=True)
class VanishingSpec:
    """'Model X's gradient vanishes with length; models Y stay stable.'"""

    vanishing: tuple[str, ...]  # models the article says vanish
    stable: tuple[str, ...]  # models the article says stay stable
    vanished_below: float  # first/last ratio under this counts as vanished
    metric: str = "grad_h_first_over_last_ratio"  # ‖∂L/∂h_1‖/‖∂L/∂h_T‖
    article_metric: str = "grad_total_norm"  # what the article plotted
    sampling: Sampling = SEEDS  # seeds per model and length


def _state(values: list[float], threshold: float, sampling: Sampling) -> str:
    s = summarize(values)
    if s.n < sampling.min_samples:
        return "too few samples"
    if s.ci_high < threshold:
        return "vanished"
    if s.ci_low >= threshold:
        return "not vanished"
    return "undecided"


def _fmt_summary(values: list[float], metric: str) -> str:
    s = summarize(values)
    unit = unit_of(metric)
    ci = f" {fmt_range(s.ci_low, s.ci_high, unit)}" if s.n >= 2 else ""
    return f"{fmt(s.median, unit)}{ci} (n={s.n})"


def _judge_setup(spec: VanishingSpec, group: pd.DataFrame,
                 article: pd.DataFrame) -> tuple[str, str, Evidence, str]:
    """(verdict, reason, evidence, measured summary) for one setup: every config column but
    T, model and seed."""
    lengths = sorted(group["seq_len"].unique())
    first, last = lengths[0], lengths[-1]
    label = where(group.iloc[0].to_dict() | {"seq_len": None})
    states, parts, compact = {}, [], []
    for model in model_order(group["model"]):
        if model not in spec.vanishing + spec.stable:
            continue
        short = group[(group["model"] == model) & (group["seq_len"] == first)]["value"].tolist()
        long = group[(group["model"] == model) & (group["seq_len"] == last)]["value"].tolist()
        state = _state(long, spec.vanished_below, spec.sampling)
        if (model in spec.vanishing and state == "vanished" and short
                and summarize(short).median <= summarize(long).median):
            state = "vanished, but not more than at the shortest T"
        states[model] = state
        compact.append(f"{model} {summarize(long).median:.2g}")
        a = article[article["model"] == model]
        a_first = a[a["seq_len"] == first]["value"].tolist()
        a_last = a[a["seq_len"] == last]["value"].tolist()
        parts.append(f"{model}: {_fmt_summary(short, spec.metric)} at T={int(first)} → "
                     f"{_fmt_summary(long, spec.metric)} at T={int(last)} ({state}); "
                     f"total parameter gradient {fmt(summarize(a_first).median, 'L2 norm')} → "
                     f"{fmt(summarize(a_last).median, 'L2 norm')}")
    evidence = Evidence(f"{label}, ‖∂L/∂h_1‖/‖∂L/∂h_T‖ at init", " · ".join(parts))
    summary = f"T={int(last)}: ‖∂L/∂h_1‖/‖∂L/∂h_T‖ " + ", ".join(compact)
    wrong = [m for m in spec.vanishing if states.get(m) == "not vanished"]
    wrong += [m for m in spec.stable if states.get(m) == "vanished"]
    if wrong:
        why = ", ".join(f"{m} {states[m]}" for m in wrong)
        return CONTRADICTED, f"at T={int(last)} ({label}): {why}", evidence, summary
    right = all(states.get(m) == "vanished" for m in spec.vanishing) and all(
        states.get(m) == "not vanished" for m in spec.stable)
    if right:
        return SUPPORTED, f"at T={int(last)} ({label}) as claimed", evidence, summary
    missing = [m for m in spec.vanishing + spec.stable if m not in states]
    few = [m for m, s in states.items() if s == "too few samples"]
    if missing:
        why = f"no results for {', '.join(missing)}"
    elif few:
        n = min(len(group[(group["model"] == m) & (group["seq_len"] == last)]) for m in few)
        why = (f"{spec.sampling.count(n)} per model at T={int(last)} "
               f"(needs ≥ {spec.sampling.min_samples})")
    else:
        why = ", ".join(f"{m} {s}" for m, s in states.items())
    return INCONCLUSIVE, f"{label}: {why}", evidence, summary


def check_vanishing(claim: Claim, m: Measured) -> Outcome:
    spec: VanishingSpec = claim.spec
    frame = samples(m, spec.metric, spec.sampling, family="gradients")
    article = samples(m, spec.article_metric, spec.sampling, family="gradients")
    if frame.empty:
        return no_data(m, "gradients", f"with {spec.metric}")
    setup_cols = [c for c in GROUP_COLUMNS if c != "seq_len"]
    verdicts, reasons, evidence, summaries = [], [], [], []
    frame = frame.assign(_setup=setup_key(frame, setup_cols))
    article = article.assign(_setup=setup_key(article, setup_cols))
    for key, group in frame.groupby("_setup", sort=False):
        if group["seq_len"].nunique() < 2:
            label = where(group.iloc[0].to_dict())
            verdicts.append(INCONCLUSIVE)
            reasons.append(f"{label}: only one sequence length, so no trend with length")
            continue
        verdict, reason, ev, summary = _judge_setup(spec, group,
                                                    article[article["_setup"] == key])
        summaries.append(summary)
        verdicts.append(verdict)
        reasons.append(reason)
        evidence.append(ev)
    measured = "; ".join(summaries)
    threshold = f"vanished = ‖∂L/∂h_1‖/‖∂L/∂h_T‖ below {spec.vanished_below:g} beyond its 95% CI"
    if CONTRADICTED in verdicts:
        verdict = CONTRADICTED
    elif SUPPORTED in verdicts:
        verdict = SUPPORTED
    else:
        verdict = INCONCLUSIVE
    return Outcome(verdict, "; ".join(reasons) + f" ({threshold}).", tuple(evidence), measured)
