"""Registry of synthetic tasks. Adding a task takes one entry here plus one small module."""

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

__all__ = ["TASKS", "Task"]
