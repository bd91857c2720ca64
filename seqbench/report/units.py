"""Units of seqbench's metrics, read from their names, and numbers formatted with them.

Every metric name ends in its unit (seqbench/schema.py). A few older names end in a
quantity instead (``loss``, ``*_norm``); they get the unit that quantity has.
"""

from __future__ import annotations

import math
import re

# (pattern on the metric name, unit). First match wins, so longer suffixes come first.
UNIT_RULES: list[tuple[str, str]] = [
    (r"flop_per_s$", "FLOP/s"),
    (r"tokens_per_s$", "tokens/s"),
    (r"_per_s$", "1/s"),
    (r"_bytes$", "bytes"),
    (r"_flop$", "FLOP"),
    (r"_s$", "s"),
    # Before the generic _ratio and _step: a log10 of a ratio (−3 is a factor 1000 down), a
    # log10 change per step (−0.25 is a factor 10 every 4 steps), and a share of 0..1.
    (r"_log10_ratio$", "log10 ratio"),
    (r"_log10_per_step$", "log10 per step"),
    (r"_fraction$", "fraction"),
    (r"_ratio$", "ratio"),
    (r"^param_count$", "parameters"),
    (r"_count$", "count"),
    (r"_accuracy$", "fraction"),
    (r"_step$", "steps"),
    (r"(^|_)loss$", "loss"),
    (r"norm", "L2 norm"),
]
# Loss units by task: cross-entropy is in nats, the adding task's MSE in squared target units.
LOSS_UNITS = {"mean-sign": "nats", "copy": "nats", "adding": "MSE (target units²)"}


def unit_of(metric: str, task: str | None = None) -> str:
    """The unit of a metric, e.g. ``tokens_per_s`` → ``tokens/s``."""
    base = metric.split("[", 1)[0]  # param_grad_norm[rnn.weight_ih_l0] → param_grad_norm
    for pattern, unit in UNIT_RULES:
        if re.search(pattern, base):
            if unit == "loss":
                return LOSS_UNITS.get(task or "", "loss units")
            return unit
    return "unitless"


# Scaled display: (unit, [(factor, label), ...] from largest to smallest).
_SCALES: dict[str, list[tuple[float, str]]] = {
    "s": [(1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")],
    "bytes": [(2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1.0, "bytes")],
    "FLOP/s": [
        (1e12, "TFLOP/s"),
        (1e9, "GFLOP/s"),
        (1e6, "MFLOP/s"),
        (1e3, "kFLOP/s"),
        (1.0, "FLOP/s"),
    ],
    "FLOP": [(1e12, "TFLOP"), (1e9, "GFLOP"), (1e6, "MFLOP"), (1e3, "kFLOP"), (1.0, "FLOP")],
    "tokens/s": [(1e9, "G tokens/s"), (1e6, "M tokens/s"), (1e3, "k tokens/s"), (1.0, "tokens/s")],
}


def fmt(value: float | None, unit: str, digits: int = 3) -> str:
    """A number with its unit, scaled to a readable prefix: ``0.0123, "s"`` → ``12.3 ms``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    value = float(value)
    if unit in _SCALES:
        for factor, label in _SCALES[unit]:
            if abs(value) >= factor or factor == _SCALES[unit][-1][0]:
                return f"{value / factor:.{digits}g} {label}"
    if unit in ("parameters", "count", "steps") and value == int(value):
        return f"{int(value):,} {unit}"
    return f"{value:.{digits}g} {unit}"


def fmt_range(low: float | None, high: float | None, unit: str, digits: int = 3) -> str:
    """A confidence interval, both ends with units: ``[1.2 ms, 1.5 ms]``."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "n/a"
    return f"[{fmt(low, unit, digits)}, {fmt(high, unit, digits)}]"
