"""asv's significance rule for timings, with scipy's Mann-Whitney U test.

asv (asv/statistics.py, ``is_different``) runs the test only when the two samples are large
enough for it to reach the p-value threshold at all; otherwise it falls back to a pessimistic
interval check. Here the interval is the [min, max] range of the rounds: two sets of rounds
whose ranges do not overlap count as different. With fewer than 3 rounds on a side nothing
can be said, and the timing is reported as untested rather than guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import mannwhitneyu

MIN_ROUNDS_FOR_RANGE = 3  # below this a [min, max] range says nothing about the spread


@dataclass(frozen=True)
class Significance:
    """Whether two sets of timed rounds differ, and how that was decided."""

    differ: bool | None  # True: they differ; False: no evidence; None: too few rounds to say
    p_value: float | None  # Mann-Whitney U two-sided p-value; None when the test was not run
    method: str  # "mann-whitney", "range" (asv's fallback) or "too few rounds"


@lru_cache(maxsize=256)
def smallest_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided p-value the test can return for these sample sizes: the p of
    two completely separated samples, computed by scipy the way the real test is."""
    return float(
        mannwhitneyu(np.arange(n_a), np.arange(n_a, n_a + n_b), alternative="two-sided").pvalue
    )


def _range(
    samples: Sequence[float] | None, fallback: tuple[float, float, int] | None
) -> tuple[float, float, int] | None:
    if samples is not None and len(samples) > 0:
        return float(np.min(samples)), float(np.max(samples)), len(samples)
    return fallback


def rounds_differ(
    a: Sequence[float] | None,
    b: Sequence[float] | None,
    alpha: float,
    range_a: tuple[float, float, int] | None = None,
    range_b: tuple[float, float, int] | None = None,
) -> Significance:
    """Do rounds `a` and `b` differ at level alpha? range_a/range_b are (min, max, rounds)
    from pytest-benchmark's stats, used when the raw rounds were not saved."""
    if (
        a is not None
        and b is not None
        and len(a) > 0
        and len(b) > 0
        and smallest_p(len(a), len(b)) < alpha
    ):
        p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
        return Significance(p < alpha, p, "mann-whitney")
    ra, rb = _range(a, range_a), _range(b, range_b)
    if ra is None or rb is None or min(ra[2], rb[2]) < MIN_ROUNDS_FOR_RANGE:
        return Significance(None, None, "too few rounds")
    overlap = ra[1] >= rb[0] and ra[0] <= rb[1]
    return Significance(not overlap, None, "range")
