"""Initialisations a model variant applies after torch's default one (ModelSpec.init)."""

from __future__ import annotations

import torch
from torch import nn


def lstm_forget_bias_one(rnn: nn.RNNBase) -> None:
    """Forget-gate bias 1 in every layer and direction (Gers, Schmidhuber & Cummins 2000;
    Jozefowicz, Zaremba & Sutskever 2015, "An empirical exploration of recurrent network
    architectures"): the cell state is kept by default at the start of training, instead of
    being halved each step. torch adds two biases, so the forget rows of bias_ih are set to
    1 and those of bias_hh to 0; torch's gate order is i, f, g, o."""
    H = rnn.hidden_size
    with torch.no_grad():
        for name, bias in rnn.named_parameters():
            if name.startswith("bias_ih"):
                bias[H : 2 * H] = 1.0
            elif name.startswith("bias_hh"):
                bias[H : 2 * H] = 0.0
