"""`loop`: the one-step cells (nn.RNNCell, LSTMCell, GRUCell) in a Python loop over time.

The cells have the fused module's weight layout, and are given its very Parameters, so the
loop computes torch's own math step by step: what a user writes when they need the states.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from seqbench.implementations.base import Implementation, Runner, State, Step
from seqbench.models import ModelSpec


def shared_cell(
    rnn: nn.RNNBase, spec: ModelSpec, layer: int, direction: int, input_size: int
) -> nn.Module:
    """A one-step cell whose Parameters are the fused module's own for (layer, direction)."""
    cell = spec.step_module(input_size, rnn.hidden_size, bias=rnn.bias, **spec.kwargs).to(
        rnn.weight_ih_l0.device, rnn.weight_ih_l0.dtype
    )
    suffix = "_reverse" if direction else ""
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if rnn.bias else [])
    for name in names:
        setattr(cell, name, getattr(rnn, f"{name}_l{layer}{suffix}"))
    return cell


def layer_input_size(rnn: nn.RNNBase, layer: int) -> int:
    return rnn.input_size if layer == 0 else rnn.hidden_size * (2 if rnn.bidirectional else 1)


def run_layers(
    rnn: nn.RNNBase,
    x: torch.Tensor,
    steps: dict[tuple[int, int], Step],
    has_cell_state: bool,
) -> torch.Tensor:
    """Every layer and direction of `rnn` unrolled over time with the given step functions,
    keyed (layer, direction). x (B, T, I) -> the top layer's outputs (B, T, D*H), h0 = c0 = 0.
    Dropout between layers, as the fused module applies it (in training only)."""
    B, T, _ = x.shape
    directions = 2 if rnn.bidirectional else 1
    layer_input = x  # (B, T, I_l)
    for layer in range(rnn.num_layers):
        # unbind, not layer_input[:, t]: each slice's backward would allocate a zero tensor
        # of the whole sequence, making the pass O(T²); unbind's backward stacks once.
        inputs_t = layer_input.unbind(1)  # T × (B, I_l)
        outputs = []
        for direction in range(directions):
            step = steps[(layer, direction)]
            h = x.new_zeros(B, rnn.hidden_size)  # (B, H)
            state: State = (h, torch.zeros_like(h)) if has_cell_state else h
            hs: list[torch.Tensor] = [h] * T
            for t in range(T - 1, -1, -1) if direction else range(T):
                state = step(inputs_t[t], state)
                hs[t] = state[0] if has_cell_state else state  # type: ignore[index]
            outputs.append(torch.stack(hs, dim=1))  # (B, T, H)
        layer_input = torch.cat(outputs, dim=-1) if directions > 1 else outputs[0]
        if layer < rnn.num_layers - 1 and rnn.dropout > 0:
            layer_input = F.dropout(layer_input, rnn.dropout, rnn.training)
    return layer_input  # (B, T, D*H)


def cell_steps(
    rnn: nn.RNNBase, spec: ModelSpec, wrap: Callable[[nn.Module], Step] | None = None
) -> dict[tuple[int, int], Step]:
    """One shared cell per (layer, direction), optionally wrapped (compiled, say)."""
    directions = 2 if rnn.bidirectional else 1
    steps: dict[tuple[int, int], Step] = {}
    for layer in range(rnn.num_layers):
        for direction in range(directions):
            cell = shared_cell(rnn, spec, layer, direction, layer_input_size(rnn, layer))
            steps[(layer, direction)] = wrap(cell) if wrap else cell
    return steps


class CellLoop(Implementation):
    summary = "the one-step cells (nn.RNNCell/LSTMCell/GRUCell) in a Python loop over time"

    def bind(self, rnn: nn.RNNBase, spec: ModelSpec) -> Runner:
        steps = cell_steps(rnn, spec)
        return Runner(lambda x: run_layers(rnn, x, steps, spec.has_cell_state))
