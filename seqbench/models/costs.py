"""Sizes and costs of a RecurrentModel: which parts are derived and which are fitted.

Derived (exact for torch.nn's modules, checked against torch in tests/test_costs.py):
  parameters per layer and direction G·[H·(I_l + H) + 2H], with I_l the layer's input size
  (D·H above the first layer); forward matrix FLOPs per step and sequence 2·G·H·(I_l + H);
  backward ≈ 2× forward (data and weight gradients, as in Baidu's DeepBench), so a training
  step costs ≈ 3× the forward FLOPs.

Derived from a measurement of what autograd saves (``activation_bytes``): saved_units·H
floats per (sequence, step, layer, direction), read with torch.autograd.graph
saved_tensors_hooks, plus each layer's input x_t. tests/test_costs.py re-measures it.

Fitted (``backward_working_set_bytes``): the extra bytes at backward's peak, backward_units·H
floats per (sequence, step, layer, direction). The constants were fitted to fresh-process
peaks (kernel VmHWM, seqbench.scenarios.memory) at one configuration, ``BACKWARD_FIT``:
T=5000, B=100, H=50, I=1, one unidirectional layer, float32, torch 2.13 CPU. That the term
scales with B·T·H and with the number of layers is an assumption of the form, not a
measurement. It is not derived because what autograd holds does not predict the kernel's
figure: torch.profiler's memory timeline puts the live-tensor peak of a step at 3.0 (RNN),
11.0 (GRU) and 22.7-24.5 (LSTM) units of B·T·H floats, against fresh-process peaks of 4.5,
15.1 and 17.4 units at the fit point. The gap has both signs: freed small per-step tensors
stay resident in glibc's heap (RNN, GRU: with MALLOC_MMAP_THRESHOLD_=8192, which maps and
unmaps each such tensor on its own, their peaks at T=2000 fall from 4.1 to 3.4 and from 15.4
to 12.1 units), and pages allocated but never touched are not resident (LSTM's oneDNN
buffers, as far as the timeline shows).

Out of sample (``python -m seqbench.studies.memory_model``, results/memory-model/summary.md,
20 points per model across B, H, layers and T): for one layer and peaks of 100 MB or more the
ratio estimate / measured lies within 0.73-1.27. With two layers (100 MB or more) the estimate
is 1.17-1.54× too high for every model. For RNN and GRU the form is wrong there: backward's
working set does not add up across layers (in the live-tensor timeline a second layer adds
only its saved activations). For LSTM the excess is in the saved term: at T=2000, B=100, H=50
a second layer adds 7 units of resident memory, not the 17 its saved workspace counts. Below
100 MB the estimate is too low (the fixed cost below).

Not modelled: the first step's fixed cost (code pages and oneDNN primitives touched for the
first time, about 10-20 MB on CPU), so small cells are underestimated.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqbench.config import CellConfig
from seqbench.models import MODELS
from seqbench.tasks import TASKS


@dataclass(frozen=True)
class FitPoint:
    """The one configuration the backward working-set constants were fitted at."""

    seq_len: int  # T
    batch_size: int  # B
    hidden_size: int  # H
    input_size: int  # I
    num_layers: int  # stacked layers (unidirectional)
    task: str  # the task whose data the fitted cells used
    dtype: str  # parameter and activation dtype
    torch_version: str  # the torch build whose CPU kernels produced the fitted peaks

    def matches(self, cfg: CellConfig) -> bool:
        """True when cfg is the fitted configuration itself (in sample, whatever its seed)."""
        return (
            cfg.seq_len,
            cfg.batch_size,
            cfg.hidden_size,
            cfg.num_layers,
            cfg.task,
            cfg.dtype,
            cfg.bidirectional,
        ) == (
            self.seq_len,
            self.batch_size,
            self.hidden_size,
            self.num_layers,
            self.task,
            self.dtype,
            False,
        ) and TASKS[cfg.task].input_size(cfg.input_size) == self.input_size


# The quick profile's memory cells at T=5000 (fresh processes, torch's default threads).
BACKWARD_FIT = FitPoint(
    seq_len=5000,
    batch_size=100,
    hidden_size=50,
    input_size=1,
    num_layers=1,
    task="mean-sign",
    dtype="float32",
    torch_version="2.13.0+cpu",
)


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
    """Activations autograd keeps for backward in one step (derived from a measurement).

    Per sequence and step: saved_units·H floats per layer and direction (measured with
    saved_tensors_hooks), plus each layer's input x_t (kept by the input projection's matmul).
    """
    spec = MODELS[cfg.model]
    directions = 2 if cfg.bidirectional else 1
    T, B, H = TASKS[cfg.task].total_len(cfg.seq_len), cfg.batch_size, cfg.hidden_size
    per_step = sum(directions * spec.saved_units * H + i for i in _layer_inputs(cfg))
    return int(_itemsize(cfg) * B * T * per_step)


def backward_working_set_bytes(cfg: CellConfig) -> int:
    """FITTED: extra bytes at backward's peak, backward_units·H floats per (sequence, step,
    layer, direction); constants fitted at BACKWARD_FIT only (module docstring)."""
    spec = MODELS[cfg.model]
    directions = 2 if cfg.bidirectional else 1
    T, B, H = TASKS[cfg.task].total_len(cfg.seq_len), cfg.batch_size, cfg.hidden_size
    return int(_itemsize(cfg) * B * T * spec.backward_units * H * directions * cfg.num_layers)


def optimizer_bytes(cfg: CellConfig) -> int:
    """Weights' gradients and Adam's two moments: 3× the parameters (derived)."""
    return 3 * _itemsize(cfg) * param_count(cfg)


def peak_step_bytes(cfg: CellConfig) -> int:
    """Estimated peak of one training step above the memory before it: saved activations
    (derived) + backward's working set (fitted at one configuration) + gradients and Adam's
    moments (derived). Its out-of-sample error is in results/memory-model/summary.md."""
    return activation_bytes(cfg) + backward_working_set_bytes(cfg) + optimizer_bytes(cfg)
