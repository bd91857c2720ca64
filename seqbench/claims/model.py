"""What a claim is, and what checking it gives: a verdict, its reason, and the evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from seqbench.analysis.data import Measured

Verdict = Literal["supported", "contradicted", "inconclusive"]
SUPPORTED: Verdict = "supported"
CONTRADICTED: Verdict = "contradicted"
INCONCLUSIVE: Verdict = "inconclusive"


@dataclass(frozen=True)
class Evidence:
    """One line of evidence: where it was measured and the numbers, with units."""

    where: str  # the configuration or comparison, e.g. "mean-sign T=100 B=100 H=50"
    numbers: str  # the measured values with units and CIs, e.g. "gru/lstm = 0.81 [0.78, 0.84]"


@dataclass(frozen=True)
class Outcome:
    """The result of checking one claim against one result set."""

    verdict: Verdict  # supported, contradicted or inconclusive
    reason: str  # why, in one or two sentences (which data, which test, what fell short)
    evidence: tuple[Evidence, ...] = ()  # the numbers behind the verdict
    measured: str = ""  # short measured summary (a ranking), for the characteristics table


@dataclass(frozen=True)
class Claim:
    """A claim of the source article, as data, with the function that checks it."""

    id: str  # stable identifier, used in tables and tests
    group: str  # "characteristics", "guide", "comparison", "gradients", "headline", "other"
    statement: str  # what the article says, in its words where possible
    check: Callable[[Claim, Measured], Outcome]  # judges the claim on the given results
    spec: Any = None  # the claim's parameters (metric, expected order, thresholds)
    prop: str | None = None  # for the characteristics table: the property (row name)
    article: dict[str, str] = field(default_factory=dict)  # article's word per model
    # Judged on every implementation's cells: a claim about the implementations themselves
    # (the printed equations against torch's). Otherwise on torch.nn's fused cells alone.
    across_impls: bool = False

    def evaluate(self, measured: Measured) -> Outcome:
        return self.check(self, measured)


def combine(parts: list[tuple[str, Outcome]]) -> Outcome:
    """Join sub-checks of one claim: contradicted if any part is, supported only if all are,
    otherwise inconclusive. Reasons are kept per part."""
    verdicts = [o.verdict for _, o in parts]
    if CONTRADICTED in verdicts:
        verdict = CONTRADICTED
    elif verdicts and all(v == SUPPORTED for v in verdicts):
        verdict = SUPPORTED
    else:
        verdict = INCONCLUSIVE
    reason = " ".join(f"{name}: {o.verdict}, {o.reason}" for name, o in parts)
    evidence = tuple(e for _, o in parts for e in o.evidence)
    measured = "; ".join(f"{name}: {o.measured}" for name, o in parts if o.measured)
    return Outcome(verdict, reason, evidence, measured)
