"""`article`: the equations exactly as the source article prints them, written in tensors.

    RNN:  h_t = tanh(W_hh h_{t-1} + W_xh x_t + b)
    LSTM: f, i, o = σ(...), C~ = tanh(...); C_t = f*C_{t-1} + i*C~; h_t = o*tanh(C_t)
    GRU:  z, r = σ(...); h~ = tanh(W [r*h_{t-1}, x]); h_t = (1 - z)*h_{t-1} + z*h~

They run on torch's weight layout (rows i, f, g, o for the LSTM; r, z, n for the GRU) and
its two biases, whose sum is the article's b. RNN and LSTM are then torch's functions. The
GRU is not, in two ways:
- r is applied to h before the recurrent matmul (the textbook form of Cho et al. 2014),
  where torch applies it after: n = tanh(W_in x + b_in + r*(W_hn h + b_hn));
- z weighs the candidate, where torch's z weighs the old state: h' = (1 - z)*n + z*h.
So the same weights compute a different function; tests/test_implementations.py shows the
article's GRU equals torch's once r is pinned to 1 and z's pre-activation negated.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from seqbench.implementations.base import Implementation, Runner, State, Step
from seqbench.implementations.loop import run_layers
from seqbench.models import ModelSpec


def _weights(rnn: nn.RNNBase, layer: int, direction: int) -> tuple:
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    w_ih, w_hh = getattr(rnn, "weight_ih" + suffix), getattr(rnn, "weight_hh" + suffix)
    b_ih = getattr(rnn, "bias_ih" + suffix) if rnn.bias else None
    b_hh = getattr(rnn, "bias_hh" + suffix) if rnn.bias else None
    return w_ih, w_hh, b_ih, b_hh


def rnn_step(w_ih, w_hh, b_ih, b_hh, nonlinearity: str = "tanh") -> Step:
    act = torch.tanh if nonlinearity == "tanh" else torch.relu

    def step(x: torch.Tensor, h: State) -> State:
        return act(F.linear(h, w_hh, b_hh) + F.linear(x, w_ih, b_ih))  # (B, H)

    return step


def lstm_step(w_ih, w_hh, b_ih, b_hh) -> Step:
    def step(x: torch.Tensor, state: State) -> State:
        h, c = state  # (B, H) each
        gates = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)  # (B, 4H): i, f, C~, o
        i, f, g, o = gates.chunk(4, dim=1)
        i, f, o, g = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o), torch.tanh(g)
        c = f * c + i * g  # C_t = f*C_{t-1} + i*C~
        return o * torch.tanh(c), c  # h_t = o*tanh(C_t)

    return step


def gru_step(w_ih, w_hh, b_ih, b_hh) -> Step:
    H = w_hh.shape[1]
    b_hh_rz = None if b_hh is None else b_hh[: 2 * H]
    b_hh_n = None if b_hh is None else b_hh[2 * H :]

    def step(x: torch.Tensor, h: State) -> State:
        gi = F.linear(x, w_ih, b_ih)  # (B, 3H): r, z, n from the input
        gh = F.linear(h, w_hh[: 2 * H], b_hh_rz)  # (B, 2H): r, z from the state
        r = torch.sigmoid(gi[:, :H] + gh[:, :H])
        z = torch.sigmoid(gi[:, H : 2 * H] + gh[:, H:])
        candidate = torch.tanh(gi[:, 2 * H :] + F.linear(r * h, w_hh[2 * H :], b_hh_n))  # h~
        return (1 - z) * h + z * candidate  # h_t = (1 - z)*h_{t-1} + z*h~

    return step


# The article's equations per torch module; a registry model outside these has none.
STEPS = {nn.RNN: rnn_step, nn.LSTM: lstm_step, nn.GRU: gru_step}


class ArticleEquations(Implementation):
    summary = "the article's printed equations in tensors (its GRU is the textbook form)"

    def bind(self, rnn: nn.RNNBase, spec: ModelSpec) -> Runner:
        kind = next(k for k in STEPS if isinstance(rnn, k))
        extra = {"nonlinearity": rnn.nonlinearity} if kind is nn.RNN else {}
        directions = 2 if rnn.bidirectional else 1
        steps = {
            (layer, d): STEPS[kind](*_weights(rnn, layer, d), **extra)
            for layer in range(rnn.num_layers)
            for d in range(directions)
        }
        return Runner(lambda x: run_layers(rnn, x, steps, spec.has_cell_state))
