"""The model every family measures: a torch.nn recurrent module plus a linear head.

This is the article's wrapper (batch_first, h0 = 0, a Linear on the last step), with the
article's bugs left out, and a many-to-many variant that applies the head at every step.
"""

from __future__ import annotations

import torch
from torch import nn

from seqbench.config import CellConfig
from seqbench.implementations import DEFAULT_IMPLEMENTATION, IMPLEMENTATIONS, Runner
from seqbench.models import MODELS
from seqbench.tasks import TASKS


class RecurrentModel(nn.Module):
    def __init__(
        self,
        model: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        many_to_one: bool = True,
        impl: str = DEFAULT_IMPLEMENTATION,
    ) -> None:
        super().__init__()
        self.spec = MODELS[model]
        self.many_to_one = many_to_one
        self.impl = impl
        self._runner: Runner | None = None  # bound on the first forward, after .to()
        self.rnn = self.spec.sequence_module(
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            **self.spec.kwargs,
        )
        if self.spec.init is not None:
            self.spec.init(self.rnn)
        directions = 2 if bidirectional else 1
        self.head = nn.Linear(directions * hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, T, I); h0 defaults to zeros, as in the article
        return self.head_on(self.runner(x))  # runner: (B, T, I) -> (B, T, D*H)

    @property
    def runner(self) -> Runner:
        """The implementation bound to this model's recurrent Parameters (shared, so the
        optimizer's updates reach it); fused is torch.nn's module itself."""
        if self._runner is None:
            self._runner = IMPLEMENTATIONS[self.impl].bind(self.rnn, self.spec)
        return self._runner

    def head_on(self, out: torch.Tensor) -> torch.Tensor:
        """Apply the head to the top layer's outputs (B, T, D*H)."""
        if self.many_to_one:
            # The article's last-step head. For a bidirectional model the reverse half of
            # out[:, -1] has seen one step only: kept as the article wrote it.
            return self.head(out[:, -1])  # (B, O)
        return self.head(out)  # (B, T, O)


def build_model(cfg: CellConfig) -> RecurrentModel:
    """Build the model for a cell, seeded, on its device and dtype."""
    task = TASKS[cfg.task]
    torch.manual_seed(cfg.seed)
    model = RecurrentModel(
        cfg.model,
        task.input_size(cfg.input_size),
        cfg.hidden_size,
        task.output_size,
        num_layers=cfg.num_layers,
        bidirectional=cfg.bidirectional,
        dropout=cfg.dropout,
        many_to_one=task.many_to_one,
        impl=cfg.impl,
    )
    return model.to(device=cfg.device, dtype=getattr(torch, cfg.dtype))
