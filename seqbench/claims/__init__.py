"""The source article's claims as data, each with a small check that gives a verdict
(supported, contradicted, inconclusive), the reason, and the numbers behind it."""

from __future__ import annotations

from dataclasses import dataclass

from seqbench.analysis.data import Measured
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


@dataclass(frozen=True)
class Judged:
    claim: Claim  # the claim checked
    outcome: Outcome  # its verdict on the given results


def evaluate(measured: Measured, claims: list[Claim] | None = None) -> list[Judged]:
    """Check every claim (or the given ones) against the measured results."""
    return [Judged(c, c.evaluate(measured)) for c in (claims or CLAIMS)]


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
