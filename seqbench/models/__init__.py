"""Registry of recurrent models. Adding a model takes one entry here.

Each entry names torch.nn's fused sequence module, its single-step twin (used to unroll the
recurrence when measuring the gradient that reaches each time step), and G, the number of
gate blocks, which sets the cost formulas in ``costs.py``. The model built from an entry is
in ``recurrent.py``; this module holds data only, so the config can validate names against it
without importing the model code that builds from a config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from seqbench.models.initialisation import lstm_forget_bias_one


@dataclass(frozen=True)
class ModelSpec:
    sequence_module: type[nn.RNNBase]  # fused module run over the whole sequence
    step_module: type[nn.Module]  # one-step cell with the same weight layout
    gates: int  # G: gate blocks stacked in weight_ih/weight_hh (rows = G*H)
    kwargs: dict[str, Any] = field(default_factory=dict)  # extra constructor arguments
    has_cell_state: bool = False  # LSTM carries (h, c); the others carry h only
    # Memory model of the CPU implementation, in floats per (sequence, step, layer, direction)
    # divided by H (seqbench/models/costs.py says what is derived and what is fitted).
    # saved_units, derived: what autograd keeps for backward, measured with
    # saved_tensors_hooks (tests/test_costs.py re-checks it on the running torch).
    saved_units: float = 1.0
    # backward_units, FITTED: the extra working set at backward's peak, fitted to
    # fresh-process peaks at one configuration only (costs.BACKWARD_FIT: T=5000, B=100,
    # H=50, I=1, one layer, torch 2.13 CPU). Its error across B, H, layers and T is in
    # results/memory-model/summary.md; every memory cell reports it again as
    # peak_mem_est_over_measured_ratio.
    backward_units: float = 4.0
    # Adam learning rates the article recommends for this model; the long-range profile
    # trains at each of them, so a verdict never rests on one rate that suits one model.
    recommended_lrs: tuple[float, ...] = (1e-3,)
    # Applied to the fused module after torch's default initialisation (None: torch's alone).
    init: Callable[[nn.RNNBase], None] | None = None
    # A variant of another entry (same module, another initialisation): profiles run it only
    # where the question is that difference (the long-range profile), not in every sweep.
    variant_of: str | None = None


# One spec for the LSTM and its variant: the variant differs only in its initialisation.
_LSTM = ModelSpec(
    nn.LSTM,
    nn.LSTMCell,
    gates=4,
    has_cell_state=True,
    saved_units=16.0,
    backward_units=1.4,
    recommended_lrs=(1e-3, 1e-4),
)

MODELS: dict[str, ModelSpec] = {
    # Elman RNN, h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    "rnn": ModelSpec(
        nn.RNN,
        nn.RNNCell,
        gates=1,
        kwargs={"nonlinearity": "tanh"},
        saved_units=1.0,
        backward_units=3.5,
        recommended_lrs=(1e-2, 1e-3),
    ),
    # Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000. On CPU torch runs
    # it through oneDNN, whose workspace (gates and states of every step) is what it saves.
    "lstm": _LSTM,
    # Cho et al. 2014; torch applies r after the recurrent matmul: n = tanh(W_in x + r*(W_hn h)).
    # The aten cell saves r, z, n, (h - n) and W_hh h (3H): 7H per step.
    "gru": ModelSpec(
        nn.GRU,
        nn.GRUCell,
        gates=3,
        saved_units=7.0,
        backward_units=7.7,
        recommended_lrs=(1e-3, 1e-4),
    ),
    # LSTM with forget-gate bias 1 (Gers et al. 2000; Jozefowicz et al. 2015): the
    # literature's fix for LSTM's failures on the adding problem at default initialisation.
    "lstm-fb1": replace(_LSTM, init=lstm_forget_bias_one, variant_of="lstm"),
}


def base_models() -> list[str]:
    """The registry's models that are not variants of another, in registry order."""
    return [name for name, spec in MODELS.items() if spec.variant_of is None]


__all__ = ["MODELS", "ModelSpec", "base_models"]
