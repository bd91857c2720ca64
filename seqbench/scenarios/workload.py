"""A cell's model, optimizer and data, built deterministically from its seed."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqbench.config import CellConfig
from seqbench.implementations import DEFAULT_IMPLEMENTATION
from seqbench.models.recurrent import RecurrentModel, build_model
from seqbench.tasks import TASKS, Task

# Held-out data comes from a generator offset from the training seed, so the two splits never
# share sequences and both are fixed by the cell's seed alone.
HELDOUT_SEED_OFFSET = 1_000_003


def apply_threads(cfg: CellConfig) -> int:
    """Set torch's intra-op threads if the cell asks; return the count in force."""
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    return torch.get_num_threads()


def make_batch(
    cfg: CellConfig, n: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """n sequences of the cell's task, on the cell's device; inputs in the cell's dtype."""
    task = TASKS[cfg.task]
    x, y = task.generate(n, cfg.seq_len, task.input_size(cfg.input_size), generator)
    x = x.to(device=cfg.device, dtype=getattr(torch, cfg.dtype))
    if y.is_floating_point():
        y = y.to(dtype=getattr(torch, cfg.dtype))
    return x, y.to(cfg.device)


@dataclass
class Workload:
    cfg: CellConfig
    task: Task
    model: RecurrentModel
    optimizer: torch.optim.Optimizer
    x: torch.Tensor  # (B, T', I): the training batch the step functions use
    y: torch.Tensor  # (B,) or (B, 1) or (B, T'): its targets
    threads: int  # torch intra-op threads in force

    @classmethod
    def build(cls, cfg: CellConfig) -> Workload:
        threads = apply_threads(cfg)
        model = build_model(cfg)  # seeds torch's global RNG with cfg.seed (dropout too)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        x, y = make_batch(cfg, cfg.batch_size, torch.Generator().manual_seed(cfg.seed))
        return cls(cfg, TASKS[cfg.task], model, optimizer, x, y, threads)

    def heldout(self) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(self.cfg.seed + HELDOUT_SEED_OFFSET)
        return make_batch(self.cfg, self.cfg.heldout_size, generator)

    def output_gap_vs_fused(self, x: torch.Tensor) -> float | None:
        """Relative L2 distance ‖out - out_fused‖ / ‖out_fused‖ between this implementation's
        outputs and those of torch.nn's fused module on the same weights and input; None for
        the fused implementation itself. Float rounding gives ~1e-7 in float32; a different
        function (the article's GRU) gives order 1."""
        if self.cfg.impl == DEFAULT_IMPLEMENTATION:
            return None
        with torch.inference_mode():
            got = self.model(x)  # (B, O) or (B, T, O)
            want = self.model.head_on(self.model.rnn(x)[0])
        return float(torch.linalg.vector_norm(got - want) / torch.linalg.vector_norm(want))

    @property
    def tokens_per_step(self) -> int:
        """Sequence elements processed per step: B × T' (T' includes copy's framing)."""
        return self.x.shape[0] * self.x.shape[1]
