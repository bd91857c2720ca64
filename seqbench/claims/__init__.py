"""The source article's claims as data, each with a small check that gives a verdict
(supported, contradicted, inconclusive), the reason, and the numbers behind it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from seqbench.analysis.data import Measured
from seqbench.claims.evidence import TIMING
from seqbench.claims.model import (
    CONTRADICTED,
    INCONCLUSIVE,
    SUPPORTED,
    Claim,
    Evidence,
    Outcome,
    Verdict,
)
from seqbench.claims.registry import CHARACTERISTICS, CLAIMS
from seqbench.implementations import DEFAULT_IMPLEMENTATION


@dataclass(frozen=True)
class Judged:
    claim: Claim  # the claim checked
    outcome: Outcome  # its verdict on the given results


def evaluate(measured: Measured, claims: list[Claim] | None = None) -> list[Judged]:
    """Check every claim (or the given ones) against the measured results.

    The article's claims are about torch.nn's modules, so each verdict is decided on the
    `fused` implementation's cells alone. Where the results also hold other implementations
    of the same math, each claim is checked on each of them too, and the reason says how it
    fares there, apart from the verdict: "GRU is faster than LSTM" may hold for a cell loop
    and not for oneDNN's fused LSTM. Only timing claims are checked again: parameter counts
    and FLOPs are the same whichever implementation computes the math. A claim about the
    implementations themselves (Claim.across_impls) is checked on all the cells at once."""
    fused = measured.only_impl(DEFAULT_IMPLEMENTATION)
    others = [i for i in measured.impls if i != DEFAULT_IMPLEMENTATION]
    judged = []
    for claim in claims or CLAIMS:
        if claim.across_impls:
            judged.append(Judged(claim, claim.evaluate(measured)))
            continue
        outcome = claim.evaluate(fused)
        elsewhere = []
        # Timings are what an implementation changes; counts and FLOPs are the same math's.
        for impl in others if getattr(claim.spec, "sampling", None) is TIMING else ():
            o = claim.evaluate(measured.only_impl(impl))
            # Only where that implementation's own cells are the evidence (config labels
            # name a non-fused implementation): a claim about training runs has none.
            if any(f"impl={impl}" in e.where + e.numbers for e in o.evidence):
                elsewhere.append((impl, o))
        if elsewhere:
            outcome = replace(
                outcome,
                reason=outcome.reason
                + " Other implementations of the same math, not part of this verdict: "
                # Their rule is the verdict's own, stated once.
                + "; ".join(
                    f"{impl}: {o.verdict} ({o.reason.split(' (rule:')[0]})" for impl, o in elsewhere
                )
                + ".",
                evidence=outcome.evidence + tuple(e for _, o in elsewhere for e in o.evidence),
            )
        judged.append(Judged(claim, outcome))
    return judged


__all__ = [
    "CHARACTERISTICS",
    "CLAIMS",
    "CONTRADICTED",
    "INCONCLUSIVE",
    "SUPPORTED",
    "Claim",
    "Evidence",
    "Judged",
    "Outcome",
    "Verdict",
    "evaluate",
]
