"""The contract of an implementation: one way to compute a recurrent module's math.

Every implementation runs on the fused module's own Parameters (torch.nn.RNN/LSTM/GRU:
`weight_ih_l{k}{_reverse}`, `weight_hh_...`, `bias_ih_...`, `bias_hh_...`), so the model, its
optimizer and its initialisation are the same whichever implementation computes the steps,
and outputs and parameter gradients can be compared element for element.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import nn

from seqbench.errors import SeqbenchError
from seqbench.models import ModelSpec

# One step of one layer and direction: (x_t (B, I), state) -> state, where the state is h
# (B, H), or (h, c) for a model with a cell state.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
Step = Callable[[torch.Tensor, State], State]


class ImplementationUnavailable(SeqbenchError):
    """This implementation cannot run here (no compiler, say): the cell is skipped, with
    this message as the reason, never crashed."""


class Runner:
    """A bound implementation: x (B, T, I) -> the top layer's outputs (B, T, D*H), h0 = 0.
    `first_call_s` is the wall time of its first call, which includes any compilation."""

    def __init__(self, run: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self._run = run
        self.first_call_s: float | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.first_call_s is not None:
            return self._run(x)
        start = time.perf_counter()
        out = self._run(x)
        self.first_call_s = time.perf_counter() - start
        return out


class Implementation(ABC):
    """How the steps of a recurrent module are computed, on that module's own weights."""

    summary: str = ""  # one line for reports and --help

    def unavailable(self, device: torch.device) -> str | None:
        """Why this implementation cannot run on `device` here, or None when it can."""
        return None

    @abstractmethod
    def bind(self, rnn: nn.RNNBase, spec: ModelSpec) -> Runner:
        """A runner over `rnn`'s Parameters (shared, not copied: training either trains both)."""
