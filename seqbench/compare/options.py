"""The knobs of `seqbench compare`, with the defaults the detector study tuned (README)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from seqbench.errors import SeqbenchError

POOLS = ("best", "median")  # how repeated runs of a cell combine (CompareOptions.pool)


@dataclass(frozen=True)
class CompareOptions:
    """How two result sets are judged. Fractions, not percentages: 0.10 means 10%."""

    threshold: float = 0.10  # timing: relative slowdown that counts, if also significant
    alpha: float = 0.002  # timing, one run a side: Mann-Whitney U p-value on the rounds below
    #                       which they differ (asv's)
    run_alpha: float = 0.03  # timing, >= 2 runs a side: t-test p-value over the runs below which
    #                          they differ. 0.03 is what the detector study's two-fold
    #                          cross-validation chose on both folds (README, "Checking the
    #                          detector"): false alarms <= 5% with the most detection
    mem_threshold: float = 0.10  # memory: relative growth of peak bytes that counts
    mem_floor_bytes: float = 1 << 20  # memory: growth below this many bytes never counts
    loss_tolerance: float = 0.05  # convergence: loss change reported, × the chance loss
    loss_sigmas: float = 3.0  # convergence: regression past this many standard errors of the
    #                           seed mean (compare/convergence.py)
    seed_sd_prior: float = 0.08  # convergence: seed SD assumed, × chance loss, with 1 seed
    #                              (measured: median 7.8% over quick's T=50 cells, 5 seeds)
    grad_tolerance: float = 0.10  # gradients: relative change reported as "changed"
    normalize: bool = False  # divide timings by the same run's calibration workload
    pool: str = "best"  # several runs of one cell on a side: "best" takes the fastest run's
    #                     value (load only ever slows a run), "median" the middle one
    widen_by_spread: bool = True  # timing and memory: a cell's threshold is at least the
    #                                 spread of its baseline runs (max/min - 1), since runs of
    #                                 one tree already moved that much (README, whole runs)
    metrics: tuple[str, ...] = ()  # metric names to compare; empty means the default set
    gate: str = ""  # regular expression on cell names: only matching cells' timing and memory
    #                 regressions fail (exit 1), the others are reported; status and loss
    #                 regressions fail anywhere; empty: every cell gates

    def __post_init__(self) -> None:
        for name in ("threshold", "mem_threshold", "loss_tolerance", "grad_tolerance"):
            value = getattr(self, name)
            if not 0 <= value < 10:
                raise SeqbenchError(f"{name} must be between 0% and 1000%, got {value:.0%}")
        if self.pool not in POOLS:
            raise SeqbenchError(f"pool must be one of {', '.join(POOLS)}, got {self.pool!r}")
        for name in ("alpha", "run_alpha"):
            if not 0 < getattr(self, name) < 1:
                raise SeqbenchError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        try:
            re.compile(self.gate)
        except re.error as err:
            raise SeqbenchError(f"gate {self.gate!r} is not a regular expression: {err}") from None
        if min(self.loss_sigmas, self.seed_sd_prior, self.mem_floor_bytes) < 0:
            raise SeqbenchError("loss_sigmas, seed_sd_prior and mem_floor_bytes must be >= 0")


def parse_fraction(text: str) -> float:
    """'10%' or '0.10' -> 0.10. A bare number >= 1 is refused: '10' could mean either."""
    raw = text.strip()
    try:
        if raw.endswith("%"):
            return float(raw[:-1]) / 100
        value = float(raw)
    except ValueError:
        raise SeqbenchError(
            f"cannot read {text!r} as a percentage (write e.g. 10% or 0.10)"
        ) from None
    if value >= 1:
        raise SeqbenchError(f"ambiguous threshold {text!r}: write {value:g}% or {value / 100:g}")
    return value
