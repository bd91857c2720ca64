"""The contract every synthetic task fulfils (after algorithmic-efficiency's workloads)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from seqbench.errors import SeqbenchError


class Task(ABC):
    name: str  # registry key
    many_to_one: bool  # True: one target per sequence (last-step head); False: one per step
    output_size: int  # logits (classification) or outputs (regression) per target
    fixed_input_size: int | None = None  # features per step if the task fixes them
    default_input_size: int = 1  # features per step when the config leaves it open

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
    def baseline_loss(self, seq_len: int) -> float:
        """Loss of the best input-independent (chance-level) predictor."""

    @abstractmethod
    def is_solved(self, heldout_loss: float, heldout_accuracy: float | None, seq_len: int) -> bool:
        """The field's criterion for having learned the task."""
