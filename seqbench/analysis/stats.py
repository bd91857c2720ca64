"""Aggregation and comparison with intervals whose coverage holds at the sample size.

Interval of a median: the distribution-free order-statistic interval [x₍ₖ₎, x₍ₙ₊₁₋ₖ₎]
(``scipy.stats.quantile_test(...).confidence_interval``), exact for any continuous
distribution. At 95% it needs n ≥ 6: for n independent values the widest such interval,
[min, max], contains the median with probability 1 − 2·0.5ⁿ only (75% at n=3, 93.8% at n=5,
96.9% at n=6), so below 6 no interval is claimed and the range is shown with its coverage.
A percentile bootstrap of the median at n ≤ 5 returns about the range and cannot honestly be
called a 95% interval.

Comparison of two samples: the two-sided Mann–Whitney U test (exact for small samples, as
asv uses it), whose smallest attainable p-value is 2/C(nₐ+n_b, nₐ): 0.1 at 3 vs 3, 0.029 at
4 vs 4, 0.0079 at 5 vs 5. Several comparisons behind one claim are corrected with Holm's
step-down procedure (Holm 1979), which controls the family-wise error rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95  # two-sided confidence level of every interval in the claims and report
ALPHA = 1 - CONFIDENCE  # family-wise error rate of a claim's comparisons (Holm)


def range_coverage(n: int) -> float:
    """Probability that [min, max] of n independent values contains the median."""
    return 1.0 - 2.0 * 0.5**n if n >= 2 else 0.0


# The fewest values whose order-statistic interval reaches CONFIDENCE (6 at 95%).
MIN_N_FOR_CI = next(n for n in range(2, 100) if range_coverage(n) >= CONFIDENCE)


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(
        pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce"), dtype=float
    )
    return x[np.isfinite(x)]


@dataclass(frozen=True)
class Summary:
    """Robust summary of one sample (the values of one metric across seeds or processes)."""

    n: int  # finite values summarised
    median: float  # NaN when n == 0
    q1: float  # 25th percentile
    q3: float  # 75th percentile
    ci_low: float  # CONFIDENCE interval of the median; NaN when n < MIN_N_FOR_CI
    ci_high: float
    low: float  # smallest value (the range is reported when no interval can be)
    high: float  # largest value

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def has_ci(self) -> bool:
        return math.isfinite(self.ci_low) and math.isfinite(self.ci_high)


def median_ci(x: np.ndarray) -> tuple[float, float]:
    """The distribution-free CONFIDENCE interval of the median; (NaN, NaN) below
    MIN_N_FOR_CI values."""
    if len(x) < MIN_N_FOR_CI:
        return math.nan, math.nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    ci = stats.quantile_test(x, q=float(np.median(x)), p=0.5).confidence_interval(CONFIDENCE)
    return float(ci.low), float(ci.high)


def summarize(values: Sequence[float] | np.ndarray) -> Summary:
    """Median, quartiles, range and the interval of the median of the finite values."""
    x = _finite(values)
    if len(x) == 0:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan, nan, nan, nan)
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    low, high = median_ci(x)
    return Summary(
        len(x), float(med), float(q1), float(q3), low, high, float(x.min()), float(x.max())
    )


def prediction_interval(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """The CONFIDENCE interval for one more independent value (a new run's median time),
    assuming the values are log-normal: exp(m ± t₍ₙ₋₁₎·s·√(1 + 1/n)) with m and s the mean
    and standard deviation of the logs (Hahn & Meeker 1991, "Statistical Intervals").
    (NaN, NaN) below 2 positive values. It answers "where will the next run fall", which the
    interval of the median does not: that one shrinks as n grows, so a new value lands outside
    it more and more often. Distribution-free, [min, max] of n values holds the next one with
    probability (n − 1)/(n + 1) only (60% at n = 4), which is why a model is assumed here."""
    x = _finite(values)
    x = np.log(x[x > 0])
    n = len(x)
    if n < 2:
        return math.nan, math.nan
    t = stats.t.ppf(0.5 + CONFIDENCE / 2, df=n - 1)
    half = t * float(np.std(x, ddof=1)) * math.sqrt(1 + 1 / n)
    centre = float(np.mean(x))
    return math.exp(centre - half), math.exp(centre + half)


@dataclass(frozen=True)
class RankTest:
    """Two samples compared: the ratio of their medians and a rank test's p-value."""

    ratio: float  # median(a) / median(b); NaN when either is empty or b's median is 0
    p_value: float  # two-sided Mann–Whitney U; NaN when either sample has < 2 values
    n_a: int  # finite values in a
    n_b: int  # finite values in b


def min_p_value(n_a: int, n_b: int) -> float:
    """The smallest two-sided p-value an exact Mann–Whitney U test can reach."""
    if n_a < 1 or n_b < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


def rank_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> RankTest:
    xa, xb = _finite(a), _finite(b)
    if len(xa) == 0 or len(xb) == 0 or np.median(xb) == 0:
        return RankTest(math.nan, math.nan, len(xa), len(xb))
    ratio = float(np.median(xa) / np.median(xb))
    if len(xa) < 2 or len(xb) < 2:
        return RankTest(ratio, math.nan, len(xa), len(xb))
    if np.all(xa == xa[0]) and np.all(xb == xa[0]):
        return RankTest(ratio, 1.0, len(xa), len(xb))  # one value throughout: no difference
    p = stats.mannwhitneyu(xa, xb, alternative="two-sided", method="auto").pvalue
    return RankTest(ratio, float(p), len(xa), len(xb))


def holm(p_values: Sequence[float], family_size: int | None = None) -> list[float]:
    """Holm-adjusted p-values, in the input order (NaN stays NaN and is not counted):
    reject the i-th smallest while p₍ᵢ₎ ≤ α/(m − i + 1), i.e. adjusted p ≤ α. `family_size`
    sets m when it exceeds the valid p-values (Tarone's K, testable_subset)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), math.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = max(len(valid), family_size or 0)
    running = 0.0
    for rank, idx in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        out[idx] = running
    return out.tolist()


def testable_subset(min_p_values: Sequence[float]) -> tuple[list[int], int]:
    """Tarone's (1990) rule for discrete tests: the smallest K such that at most K tests can
    reach α/K at all (their smallest attainable p-value); only those are tested, as a family
    of K. A rank test over 4 vs 4 values (best p = 0.029) cannot be significant among ten
    comparisons, and counting it would only make the others harder to pass. Returns the
    indices tested and K."""
    m = len(min_p_values)
    for k in range(1, m + 1):
        chosen = [i for i, p in enumerate(min_p_values) if p <= ALPHA / k]
        if len(chosen) <= k:
            return chosen, k
    return list(range(m)), m


def aggregate(frame: pd.DataFrame, by: list[str], value: str = "value") -> pd.DataFrame:
    """One row per group of `by`: n, median, q1, q3, iqr, min, max, ci95_low, ci95_high
    of `value` (the interval is empty below MIN_N_FOR_CI values)."""
    rows = []
    for key, group in frame.groupby(by, dropna=False, sort=True):
        s = summarize(group[value].to_numpy())
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            dict(zip(by, key, strict=True))
            | {
                "n": s.n,
                "median": s.median,
                "q1": s.q1,
                "q3": s.q3,
                "iqr": s.iqr,
                "min": s.low,
                "max": s.high,
                "ci95_low": s.ci_low,
                "ci95_high": s.ci_high,
            }
        )
    columns = [*by, "n", "median", "q1", "q3", "iqr", "min", "max", "ci95_low", "ci95_high"]
    return pd.DataFrame(rows, columns=columns)
