"""Units of seqbench's metrics, read from their names, and numbers formatted with them.

Every metric name ends in its unit (seqbench/schema.py). A few older names end in a
quantity instead (``loss``, ``*_norm``); they get the unit that quantity has. A loss is in
its task's unit (``Task.loss_unit``: nats for cross-entropy, squared target units for MSE).

This is the one suffix→unit table and the one number formatter: the report, the claims and
``seqbench compare`` all read units here, and compare decides how to judge a metric from it.
"""

from __future__ import annotations

import math
import re

from seqbench.tasks import TASKS

LOSS = "loss"  # what UNIT_RULES gives a loss: the task's unit replaces it (loss_unit)
GENERIC_LOSS_UNIT = "loss units"  # the unit of a loss whose task is unknown
UNITLESS = "unitless"  # a name with no unit suffix seqbench knows

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
    (r"(^|_)loss$", LOSS),
    (r"norm", "L2 norm"),
]


def loss_unit(task: str | None) -> str:
    """The unit of a task's loss, from the task registry."""
    return TASKS[task].loss_unit if task in TASKS else GENERIC_LOSS_UNIT


def unit_of(metric: str, task: str | None = None) -> str:
    """The unit of a metric, e.g. ``tokens_per_s`` → ``tokens/s``; a loss in its task's unit
    (``loss units`` without a task)."""
    base = metric.split("[", 1)[0]  # param_grad_norm[rnn.weight_ih_l0] → param_grad_norm
    for pattern, unit in UNIT_RULES:
        if re.search(pattern, base):
            return loss_unit(task) if unit == LOSS else unit
    return UNITLESS


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
_WHOLE = ("parameters", "count", "steps")  # written with thousands separators


def fmt(value: float | str | None, unit: str, digits: int = 3, missing: str = "n/a") -> str:
    """A number with its unit, scaled to a readable prefix: ``0.0123, "s"`` → ``12.3 ms``.

    `digits` significant digits; `missing` for None, NaN and ±inf; text (a status such as
    "diverged") is returned as it is; an empty unit writes the number alone."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    value = float(value)
    if not math.isfinite(value):
        return missing
    if unit in _SCALES:
        for factor, label in _SCALES[unit]:
            if abs(value) >= factor or factor == _SCALES[unit][-1][0]:
                return f"{value / factor:.{digits}g} {label}"
    if unit in _WHOLE and value == int(value):
        return f"{int(value):,} {unit}"
    return f"{value:.{digits}g} {unit}".rstrip()


def fmt_range(low: float | None, high: float | None, unit: str, digits: int = 3) -> str:
    """A confidence interval, both ends with units: ``[1.2 ms, 1.5 ms]``."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "n/a"
    return f"[{fmt(low, unit, digits)}, {fmt(high, unit, digits)}]"
