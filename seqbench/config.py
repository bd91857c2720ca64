"""The typed configuration of one benchmark cell.

A cell is one point of a sweep: a family (what is measured) at one model, task, size and seed.
Its fields are written verbatim into the result's ``extra_info["config"]`` so that every
number can be traced back to exactly what produced it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from seqbench.errors import SeqbenchError
from seqbench.implementations import DEFAULT_IMPLEMENTATION, IMPLEMENTATIONS
from seqbench.models import MODELS
from seqbench.tasks import TASKS

# latency is last so that lists of families printed before it existed keep their order.
FAMILIES = ("throughput", "memory", "gradients", "convergence", "overhead", "latency")
# Families whose number is a time: measured in `processes` worker processes each.
TIMING_FAMILIES = ("throughput", "overhead", "latency")
DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")
DEFAULT_LR = 1e-3  # Adam's default, which the article uses


@dataclass(frozen=True)
class CellConfig:
    family: str  # what is measured: one of FAMILIES
    model: str  # key in seqbench.models.MODELS ("rnn", "lstm", "gru")
    task: str  # key in seqbench.tasks.TASKS ("mean-sign", "adding", "copy")
    seq_len: int  # T: time steps the recurrence runs (copy adds its 20 framing steps to this)
    # how the steps are computed: key in seqbench.implementations.IMPLEMENTATIONS ("fused":
    # torch.nn's module; "loop", "compiled", "article"); every one trains the same weights
    impl: str = DEFAULT_IMPLEMENTATION
    batch_size: int = 100  # B: sequences per optimizer step
    hidden_size: int = 50  # H: units per layer and direction
    input_size: int | None = None  # I: features per step; None takes the task's natural size
    num_layers: int = 1  # stacked recurrent layers
    bidirectional: bool = False  # run a reversed copy of every layer and concatenate
    dropout: float = 0.0  # dropout between stacked layers (torch ignores it for 1 layer)
    device: str = "cpu"  # "cpu" or "cuda"
    dtype: str = "float32"  # parameter and activation dtype
    seed: int = 0  # seeds weights, data and dropout; same seed on CPU => same curve, bit for bit
    threads: int | None = None  # torch intra-op threads; None keeps torch's default
    lr: float = DEFAULT_LR  # Adam learning rate
    clip_grad_norm: float | None = None  # max total grad norm for clipping; None disables it
    train_steps: int = 0  # convergence: optimizer steps to train for
    train_size: int | None = None  # convergence: fixed training set size; None = fresh batches
    heldout_size: int = 256  # convergence: held-out sequences, generated from another seed
    eval_every: int = 10  # convergence: optimizer steps between held-out evaluations
    # convergence: end the run at the first held-out evaluation that meets the task's solved
    # criterion. Steps-to-solve studies need only that step; the rest would be wasted compute.
    stop_when_solved: bool = False
    rounds: int = 3  # timed rounds per measurement (pytest-benchmark pedantic rounds)
    warmup_rounds: int = 1  # untimed rounds before timing starts
    # Fresh worker processes the cell is measured in, each with its own warm-up and rounds
    # (launchers/workers.py): their spread is the between-run spread a report must show.
    processes: int = 1
    timeout_s: float | None = None  # seconds before the launcher stops the cell as "timeout"
    extra: dict[str, Any] = field(default_factory=dict)  # validation knobs (see scenarios/step.py)

    def __post_init__(self) -> None:
        validate(self)

    @property
    def cell_id(self) -> str:
        """A stable, readable identifier: the pytest parameter id of this cell."""
        parts = [
            self.model,
            self.task,
            f"T{self.seq_len}",
            f"B{self.batch_size}",
            f"H{self.hidden_size}",
        ]
        if self.input_size is not None:
            parts.append(f"I{self.input_size}")
        if self.num_layers != 1:
            parts.append(f"L{self.num_layers}")
        if self.bidirectional:
            parts.append("bi")
        if self.device != "cpu":
            parts.append(self.device)
        if self.impl != DEFAULT_IMPLEMENTATION:
            parts.append(self.impl)  # only named when not torch.nn's module: old ids hold
        if self.lr != DEFAULT_LR:
            # Only a non-default rate is named, so ids from before learning-rate grids hold.
            parts.append(f"lr{self.lr:g}")
        parts.append(f"s{self.seed}")
        return "-".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> CellConfig:
        return dataclasses.replace(self, **changes)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise SeqbenchError(message)


def validate(cfg: CellConfig) -> None:
    """Check every field up front, so a sweep never fails an hour in on a typo."""
    _require(
        cfg.family in FAMILIES, f"unknown family {cfg.family!r}: choose from {', '.join(FAMILIES)}"
    )
    _require(
        cfg.model in MODELS, f"unknown model {cfg.model!r}: choose from {', '.join(sorted(MODELS))}"
    )
    _require(
        cfg.task in TASKS, f"unknown task {cfg.task!r}: choose from {', '.join(sorted(TASKS))}"
    )
    _require(
        cfg.impl in IMPLEMENTATIONS,
        f"unknown implementation {cfg.impl!r}: choose from {', '.join(IMPLEMENTATIONS)}",
    )
    for name in (
        "seq_len",
        "batch_size",
        "hidden_size",
        "num_layers",
        "heldout_size",
        "eval_every",
        "rounds",
        "processes",
    ):
        value = getattr(cfg, name)
        _require(
            isinstance(value, int) and not isinstance(value, bool) and value > 0,
            f"{name} must be a positive integer, got {value!r}",
        )
    _require(
        cfg.input_size is None or (isinstance(cfg.input_size, int) and cfg.input_size > 0),
        f"input_size must be a positive integer, got {cfg.input_size!r}",
    )
    _require(cfg.warmup_rounds >= 0, f"warmup_rounds must be >= 0, got {cfg.warmup_rounds!r}")
    _require(cfg.train_steps >= 0, f"train_steps must be >= 0, got {cfg.train_steps!r}")
    _require(
        cfg.train_size is None or cfg.train_size > 0,
        f"train_size must be positive or None, got {cfg.train_size!r}",
    )
    _require(0.0 <= cfg.dropout < 1.0, f"dropout must be in [0, 1), got {cfg.dropout!r}")
    _require(cfg.lr > 0, f"lr must be > 0, got {cfg.lr!r}")
    _require(
        cfg.clip_grad_norm is None or cfg.clip_grad_norm > 0,
        f"clip_grad_norm must be > 0 or None, got {cfg.clip_grad_norm!r}",
    )
    _require(
        cfg.device in DEVICES, f"unknown device {cfg.device!r}: choose from {', '.join(DEVICES)}"
    )
    _require(cfg.dtype in DTYPES, f"unknown dtype {cfg.dtype!r}: choose from {', '.join(DTYPES)}")
    _require(
        cfg.threads is None or cfg.threads > 0,
        f"threads must be a positive integer, got {cfg.threads!r}",
    )
    # Latency is what one caller waits for one sequence: a batch would be throughput.
    _require(
        cfg.family != "latency" or cfg.batch_size == 1,
        f"the latency family measures batch size 1, got batch_size {cfg.batch_size!r}",
    )
    _require(
        cfg.timeout_s is None or cfg.timeout_s > 0, f"timeout_s must be > 0, got {cfg.timeout_s!r}"
    )
    TASKS[cfg.task].check_input_size(cfg.input_size)
