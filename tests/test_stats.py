"""The prediction interval of a new run's median: its formula, and the coverage it claims."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from seqbench.analysis.stats import CONFIDENCE, prediction_interval


def test_the_prediction_interval_is_the_t_interval_of_the_logs():
    low, high = prediction_interval([1.0, math.e])  # logs 0 and 1
    half = stats.t.ppf(0.975, df=1) * math.sqrt(0.5) * math.sqrt(1.5)
    assert (low, high) == pytest.approx((math.exp(0.5 - half), math.exp(0.5 + half)))


def test_below_two_positive_values_there_is_no_interval():
    assert all(math.isnan(v) for v in prediction_interval([2.0]))
    assert all(math.isnan(v) for v in prediction_interval([2.0, 0.0, float("nan")]))


@pytest.mark.parametrize("n", [2, 4, 12])
def test_a_new_log_normal_value_falls_inside_as_often_as_claimed(n):
    rng = np.random.default_rng(0)
    trials = 4000
    samples = rng.lognormal(mean=-3.0, sigma=0.1, size=(trials, n + 1))
    inside = [
        low <= row[-1] <= high for row in samples for low, high in [prediction_interval(row[:-1])]
    ]
    # 4000 trials: the binomial standard error at 95% is 0.34 percentage points.
    assert np.mean(inside) == pytest.approx(CONFIDENCE, abs=0.015)
