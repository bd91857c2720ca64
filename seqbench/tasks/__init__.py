"""Registry of synthetic tasks. Adding a task takes one entry here plus one small module.

The units, the claims and the report read a task's knowledge from here (its loss unit,
whether it is long-range, its chance caption) instead of keeping tables of their own.
"""

from __future__ import annotations

from seqbench.tasks.adding import Adding
from seqbench.tasks.base import Task
from seqbench.tasks.copy_memory import CopyMemory
from seqbench.tasks.mean_sign import MeanSign
from seqbench.tasks.output_sum import OutputSum

TASKS: dict[str, Task] = {
    "mean-sign": MeanSign(),
    "adding": Adding(),
    "copy": CopyMemory(),
    "output-sum": OutputSum(),
}


def long_range_tasks() -> tuple[str, ...]:
    """The registered tasks that need memory across the whole sequence, in registry order."""
    return tuple(name for name, task in TASKS.items() if task.long_range)


def short_range_tasks() -> tuple[str, ...]:
    """The registered tasks that are not long-range but have a chance level to learn below."""
    return tuple(
        name for name, task in TASKS.items() if not task.long_range and task.has_chance_level()
    )


__all__ = ["TASKS", "Task", "long_range_tasks", "short_range_tasks"]
