"""The vanishing-gradient claim, judged by comparing how fast ‖∂L/∂h_t‖ decays per time step.

At initialisation the gradient that reaches step t falls about geometrically with the distance
T − t: ‖∂L/∂h_t‖ ≈ a·ρ^(T−t) (Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio
2013). ρ, the fitted per-step decay factor (`grad_h_decay_per_step_ratio`), is what "vanishes
severely" or "minimally" can be measured by: a smaller ρ vanishes faster. The claim holds when
the models said to vanish have a smaller ρ than the models said to stay stable, beyond noise
over seeds. Cells at several T from one seed share that seed's weights and give the same ρ, so
each seed counts once (evidence.SEEDS_SHARED_WEIGHTS). Equal decay rates never contradict the
claim: they leave it undecided. The article plotted the total parameter gradient instead; it is
shown as evidence, with ‖∂L/∂h_1‖/‖∂L/∂h_T‖ in log10.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqbench.analysis.data import Measured, model_order
from seqbench.analysis.stats import summarize
from seqbench.claims.evidence import SEEDS_SHARED_WEIGHTS, Sampling
from seqbench.claims.model import Claim, Evidence, Outcome
from seqbench.claims.ranking import RankingSpec, check_ranking_spec


@dataclass(frozen=True)
class VanishingSpec:
    """'Models X vanish (severely), models Y stay (relatively) stable.'"""

    vanishing: tuple[str, ...]  # models the article says vanish
    stable: tuple[str, ...]  # models the article says stay stable
    metric: str = "grad_h_decay_per_step_ratio"  # fitted ρ per step; smaller = vanishes faster
    sampling: Sampling = SEEDS_SHARED_WEIGHTS  # one sample per seed, a rank test, Holm
    article_metric: str = "grad_total_norm"  # what the article plotted, for evidence
    ratio_metric: str = "grad_h_first_over_last_log10_ratio"  # log10 ‖∂L/∂h_1‖/‖∂L/∂h_T‖

    @property
    def ranking(self) -> RankingSpec:
        pairs = tuple((v, s) for v in self.vanishing for s in self.stable)
        return RankingSpec(self.metric, "gradients", "gradient_flow", pairs, self.sampling)


def _context(m: Measured, spec: VanishingSpec) -> tuple[Evidence, ...]:
    """Per model: the decay factor's range over every cell, the longest T's log10 ratio, and
    the article's total gradient at the shortest and longest T."""
    lines = []
    for metric, what in (
        (spec.metric, "per-step decay factor ρ"),
        (spec.ratio_metric, "log10 ‖∂L/∂h_1‖/‖∂L/∂h_T‖ at the longest T"),
        (
            spec.article_metric,
            "total parameter gradient (the article's measure), shortest → longest T",
        ),
    ):
        frame = m.metric(metric, "gradients")
        if frame.empty:
            continue
        parts = []
        for model in model_order(frame["model"]):
            f = frame[frame["model"] == model]
            if metric == spec.metric:
                s = summarize(f["value"])
                parts.append(
                    f"{model} {s.median:.3g} (range {s.low:.3g}–{s.high:.3g}, {s.n} cells)"
                )
            elif metric == spec.ratio_metric:
                longest = f[f["seq_len"] == f["seq_len"].max()]
                parts.append(
                    f"{model} {summarize(longest['value']).median:.3g} at "
                    f"T={int(longest['seq_len'].iloc[0])}"
                )
            else:
                short = f[f["seq_len"] == f["seq_len"].min()]["value"]
                long = f[f["seq_len"] == f["seq_len"].max()]["value"]
                parts.append(
                    f"{model} {summarize(short).median:.3g} → {summarize(long).median:.3g}"
                )
        lines.append(Evidence(f"all gradients cells, {what}", "; ".join(parts)))
    return tuple(lines)


def check_vanishing(claim: Claim, m: Measured) -> Outcome:
    spec: VanishingSpec = claim.spec
    outcome = check_ranking_spec(spec.ranking, m)
    decays = m.metric(spec.metric, "gradients")["value"]
    note = ""
    if not decays.empty and (decays < 1).all():
        note = (
            f" Every model's gradient decays geometrically (ρ < 1 in all {len(decays)} "
            "cells); the claim is judged on which decays faster."
        )
    return Outcome(
        outcome.verdict,
        outcome.reason + note,
        _context(m, spec) + outcome.evidence,
        outcome.measured,
    )
