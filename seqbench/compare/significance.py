"""Whether two timings differ: between runs where each side has several, else asv's rule.

With at least 2 runs (worker processes) a side, the runs are the samples: Student's t-test on
the log of each run's value. Rounds inside one process share that process's state (heap,
frequency, what ran before), so they understate how far a fresh process moves: in the
detector study's false alarms on an unchanged tree (cells 10-34% apart, 3 or 4 runs a side),
the pooled rounds' Mann-Whitney p ran from 1e-61 to 8e-4, every one below asv's 0.002
(README, "Checking the detector"). The log makes the test one of ratios, as the threshold is.

With one run on a side there is no between-run spread to test against, so asv's rule on
rounds applies:

asv (asv/statistics.py, ``is_different``) runs the test only when the two samples are large
enough for it to reach the p-value threshold at all; otherwise it falls back to a pessimistic
interval check. Here the interval is the [min, max] range of the rounds: two sets of rounds
whose ranges do not overlap count as different. With fewer than 3 rounds on a side nothing
can be said, and the timing is reported as untested rather than guessed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import mannwhitneyu, ttest_ind

MIN_ROUNDS_FOR_RANGE = 3  # below this a [min, max] range says nothing about the spread
MIN_RUNS_FOR_T = 2  # runs a side from which the between-run test replaces the rounds' test


@dataclass(frozen=True)
class Significance:
    """Whether two sets of timed rounds differ, and how that was decided."""

    differ: bool | None  # True: they differ; False: no evidence; None: too few rounds to say
    p_value: float | None  # two-sided p-value of the test run; None when none was run
    method: str  # "t-test over runs", "mann-whitney", "range" (asv's fallback), "too few rounds"


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


def runs_differ(a: Sequence[float], b: Sequence[float], alpha: float) -> Significance:
    """Do runs `a` and `b` (one positive value per run, at least MIN_RUNS_FOR_T a side)
    differ at level alpha? Two-sided Student's t-test on log values. Runs without any spread
    on either side differ exactly when their values do."""
    if min(len(a), len(b)) < MIN_RUNS_FOR_T:
        raise ValueError(f"runs_differ needs {MIN_RUNS_FOR_T} runs a side")
    p = _log_t_pvalue(tuple(map(float, a)), tuple(map(float, b)))
    if p is None:
        return Significance(a[0] != b[0], None, "t-test over runs")
    return Significance(p < alpha, p, "t-test over runs")


@lru_cache(maxsize=1 << 16)  # the detector study judges the same runs at several levels
def _log_t_pvalue(a: tuple[float, ...], b: tuple[float, ...]) -> float | None:
    """Two-sided Student's t-test p on log values; None when neither side has any spread."""
    log_a, log_b = np.log(a), np.log(b)
    if np.ptp(log_a) == 0 and np.ptp(log_b) == 0:
        return None
    with warnings.catch_warnings():  # scipy warns of precision when one side has no spread,
        warnings.simplefilter("ignore", RuntimeWarning)  # whose variance is then exactly 0
        return float(ttest_ind(log_a, log_b).pvalue)
