"""Aggregation across seeds and rounds: median, IQR and a 95% bootstrap CI (scipy).

The CI is scipy.stats.bootstrap's percentile interval of the median (or of a ratio of
medians). Percentile rather than BCa: BCa is undefined for the tiny, often tied samples a
benchmark has (3 rounds, 5 seeds), where it returns NaN with a warning.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95  # two-sided confidence level of every CI in the report
N_RESAMPLES = 2000  # bootstrap resamples: enough for a stable 95% percentile interval
SEED = 0  # fixed, so the same results always give the same report

# scipy ≥ 1.15 takes rng=, older versions random_state= (pyproject allows scipy ≥ 1.10).
_RNG_KW = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce"),
                   dtype=float)
    return x[np.isfinite(x)]


def _median(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(x, axis=axis)


def _ratio_of_medians(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(a, axis=axis) / np.median(b, axis=axis)


def _bootstrap(samples: tuple[np.ndarray, ...], statistic) -> tuple[float, float]:
    result = stats.bootstrap(samples, statistic, vectorized=True, paired=False,
                             confidence_level=CONFIDENCE, n_resamples=N_RESAMPLES,
                             method="percentile", **{_RNG_KW: np.random.default_rng(SEED)})
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


@dataclass(frozen=True)
class Summary:
    """Robust summary of one sample (the values of one metric across seeds or rounds)."""

    n: int  # finite values summarised
    median: float  # NaN when n == 0
    q1: float  # 25th percentile
    q3: float  # 75th percentile
    ci_low: float  # 95% bootstrap CI of the median; NaN when n < 2
    ci_high: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def summarize(values: Sequence[float] | np.ndarray) -> Summary:
    """Median, quartiles and the bootstrap CI of the median of the finite values."""
    x = _finite(values)
    if len(x) == 0:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan, nan)
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    if len(x) < 2:
        low = high = math.nan  # one value has no spread to resample
    elif np.all(x == x[0]):
        low = high = float(x[0])  # identical values: the interval is that value
    else:
        low, high = _bootstrap((x,), _median)
    return Summary(len(x), float(med), float(q1), float(q3), low, high)


@dataclass(frozen=True)
class RatioCI:
    """median(a) / median(b) with its bootstrap CI: how two samples compare."""

    ratio: float  # NaN when either sample is empty or b's median is 0
    ci_low: float  # equal to ratio when both samples are single values (no resampling)
    ci_high: float
    n_a: int  # finite values in a
    n_b: int  # finite values in b


def ratio_ci(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> RatioCI:
    """Ratio of medians and its CI, resampling a and b independently."""
    xa, xb = _finite(a), _finite(b)
    if len(xa) == 0 or len(xb) == 0 or np.median(xb) == 0:
        nan = math.nan
        return RatioCI(nan, nan, nan, len(xa), len(xb))
    ratio = float(np.median(xa) / np.median(xb))
    if (len(xa) < 2 and len(xb) < 2) or (np.all(xa == xa[0]) and np.all(xb == xb[0])):
        return RatioCI(ratio, ratio, ratio, len(xa), len(xb))
    if len(xa) < 2 or len(xb) < 2:
        # scipy needs ≥ 2 values per sample; a single value is held fixed by repeating it.
        xa = np.repeat(xa, 2) if len(xa) < 2 else xa
        xb = np.repeat(xb, 2) if len(xb) < 2 else xb
    if np.any(xb == 0):
        # A resample of b could have median 0; divide only where it is defined.
        return RatioCI(ratio, math.nan, math.nan, len(_finite(a)), len(_finite(b)))
    low, high = _bootstrap((xa, xb), _ratio_of_medians)
    return RatioCI(ratio, low, high, len(_finite(a)), len(_finite(b)))


def aggregate(frame: pd.DataFrame, by: list[str], value: str = "value") -> pd.DataFrame:
    """One row per group of `by`: n, median, q1, q3, iqr, ci95_low, ci95_high of `value`."""
    rows = []
    for key, group in frame.groupby(by, dropna=False, sort=True):
        s = summarize(group[value].to_numpy())
        key = key if isinstance(key, tuple) else (key,)
        rows.append(dict(zip(by, key, strict=True)) | {
            "n": s.n, "median": s.median, "q1": s.q1, "q3": s.q3, "iqr": s.iqr,
            "ci95_low": s.ci_low, "ci95_high": s.ci_high})
    columns = [*by, "n", "median", "q1", "q3", "iqr", "ci95_low", "ci95_high"]
    return pd.DataFrame(rows, columns=columns)
