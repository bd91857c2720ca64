"""Analytic sizes and costs of a RecurrentModel (see ../shared/references.md).

Parameters per layer and direction: G·[H·(I_l + H) + 2H], with I_l the layer's input size
(D·H above the first layer). Forward matrix FLOPs per step and sequence: 2·G·H·(I_l + H);
backward ≈ 2× forward (data and weight gradients, as in DeepBench), so a training step costs
≈ 3× the forward FLOPs.
"""

from __future__ import annotations

from seqbench.config import CellConfig
from seqbench.models import MODELS
from seqbench.tasks import TASKS


def _layer_inputs(cfg: CellConfig) -> list[int]:
    directions = 2 if cfg.bidirectional else 1
    first = TASKS[cfg.task].input_size(cfg.input_size)
    return [first] + [directions * cfg.hidden_size] * (cfg.num_layers - 1)


def param_count(cfg: CellConfig) -> int:
    """Exact trainable parameters: recurrent layers plus the linear head."""
    G, H = MODELS[cfg.model].gates, cfg.hidden_size
    directions = 2 if cfg.bidirectional else 1
    recurrent = sum(directions * G * (H * (i + H) + 2 * H) for i in _layer_inputs(cfg))
    head = (directions * H + 1) * TASKS[cfg.task].output_size
    return recurrent + head


def forward_flops(cfg: CellConfig) -> int:
    """Matrix FLOPs of one forward pass over a batch (elementwise gate math is ignored)."""
    G, H = MODELS[cfg.model].gates, cfg.hidden_size
    directions = 2 if cfg.bidirectional else 1
    T, B = TASKS[cfg.task].total_len(cfg.seq_len), cfg.batch_size
    recurrent = sum(directions * 2 * G * H * (i + H) for i in _layer_inputs(cfg)) * T * B
    head_steps = 1 if TASKS[cfg.task].many_to_one else T
    head = 2 * directions * H * TASKS[cfg.task].output_size * head_steps * B
    return recurrent + head


def train_step_flops(cfg: CellConfig) -> int:
    """Forward + backward ≈ 3× forward (backward computes data and weight gradients)."""
    return 3 * forward_flops(cfg)


def _itemsize(cfg: CellConfig) -> int:
    return 8 if cfg.dtype == "float64" else 4


def activation_bytes(cfg: CellConfig) -> int:
    """Analytic estimate of the activations autograd keeps for backward in one step.

    Per sequence and step: saved_units·H floats per layer and direction, plus each layer's
    input x_t (kept by the input projection's matmul).
    """
    spec = MODELS[cfg.model]
    directions = 2 if cfg.bidirectional else 1
    T, B, H = TASKS[cfg.task].total_len(cfg.seq_len), cfg.batch_size, cfg.hidden_size
    per_step = sum(directions * spec.saved_units * H + i for i in _layer_inputs(cfg))
    return int(_itemsize(cfg) * B * T * per_step)


def peak_step_bytes(cfg: CellConfig) -> int:
    """Estimated peak of one training step above the process's baseline.

    Saved activations, plus backward's working set (backward_units·H per step, layer and
    direction), plus weights' gradients and Adam's two moments (3× the parameters).
    """
    spec = MODELS[cfg.model]
    directions = 2 if cfg.bidirectional else 1
    T, B, H = TASKS[cfg.task].total_len(cfg.seq_len), cfg.batch_size, cfg.hidden_size
    backward = _itemsize(cfg) * B * T * spec.backward_units * H * directions * cfg.num_layers
    return int(activation_bytes(cfg) + backward + 3 * _itemsize(cfg) * param_count(cfg))
