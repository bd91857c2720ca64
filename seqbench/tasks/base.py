"""The contract every synthetic task fulfils (after algorithmic-efficiency's workloads).

A task carries everything the rest of seqbench needs to know about it: its data, loss and
solved criterion, and for the report and the claims its loss unit, whether it is a
long-range task, and a one-line caption of its chance loss. Adding a task needs no edit to
the units, the claims, the report or compare.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

from seqbench.errors import SeqbenchError


class Task(ABC):
    name: str  # registry key
    many_to_one: bool  # True: one target per sequence (last-step head); False: one per step
    output_size: int  # logits (classification) or outputs (regression) per target
    fixed_input_size: int | None = None  # features per step if the task fixes them
    default_input_size: int = 1  # features per step when the config leaves it open
    loss_unit: str  # the unit of loss()'s value: "nats" for cross-entropy, MSE in target units²
    # Needs memory across the whole sequence (the target depends on inputs far back, as in
    # Hochreiter & Schmidhuber 1997's long time lags): the long-term dependency claims and
    # the report's "learns" columns are judged on these tasks.
    long_range: bool = False
    # The lengths the long-range profile (profiles.long) trains it at, where it separates the
    # models within a few thousand steps on 2 cores; empty: not in that profile.
    long_lengths: tuple[int, ...] = ()
    # One line for captions: the chance loss (chance_loss) and the input-independent
    # prediction that reaches it, or why the task has none.
    chance_caption: str

    def input_size(self, requested: int | None) -> int:
        if requested is None:
            return self.fixed_input_size or self.default_input_size
        return requested

    def check_input_size(self, requested: int | None) -> None:
        if requested is not None and self.fixed_input_size not in (None, requested):
            raise SeqbenchError(
                f"task {self.name!r} needs input_size {self.fixed_input_size}, got {requested}"
            )

    def total_len(self, seq_len: int) -> int:
        """Time steps the model actually runs for a configured seq_len."""
        return seq_len

    @abstractmethod
    def generate(
        self, n: int, seq_len: int, input_size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """n sequences, deterministic given the generator: x (n, T', I) and the targets."""

    @abstractmethod
    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar loss, averaged over the batch (and over steps for many-to-many)."""

    @abstractmethod
    def accuracy(self, output: torch.Tensor, target: torch.Tensor) -> float | None:
        """Fraction of correct predictions, or None for a regression task."""

    @abstractmethod
    def chance_loss(self, seq_len: int) -> float:
        """Loss of the best input-independent (chance-level) predictor."""

    def has_chance_level(self) -> bool:
        """Whether the loss has a chance level to compare with (chance_loss is finite)."""
        return math.isfinite(self.chance_loss(100))

    @abstractmethod
    def is_solved(self, heldout_loss: float, heldout_accuracy: float | None, seq_len: int) -> bool:
        """The field's criterion for having learned the task."""
