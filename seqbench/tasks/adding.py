"""The adding problem (Hochreiter & Schmidhuber 1997; form of Bai, Kolter & Koltun 2018).

Channel 0 holds U[0, 1] values, channel 1 marks two positions with 1. The target is the sum
of the two marked values. As in the TCN code, the markers are anywhere, one in each half.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from seqbench.tasks.base import Task


class Adding(Task):
    name = "adding"
    many_to_one = True
    output_size = 1  # regression
    fixed_input_size = 2
    loss_unit = "MSE (target units²)"
    long_range = True  # the two marked values can lie a whole sequence apart
    long_lengths = (50, 100, 200, 400)  # T=400: no model solves it in 2000 steps at H=64
    chance_caption = "1/6, the variance 2 · 1/12 left by predicting the mean sum, 1"

    def generate(self, n, seq_len, input_size, generator):
        values = torch.rand(n, seq_len, generator=generator)  # (n, T)
        half = max(seq_len // 2, 1)
        first = torch.randint(0, half, (n,), generator=generator)
        second = torch.randint(half, seq_len, (n,), generator=generator) if seq_len > 1 else first
        markers = torch.zeros(n, seq_len)
        rows = torch.arange(n)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        x = torch.stack([values, markers], dim=-1)  # (n, T, 2)
        y = (values * markers).sum(dim=1, keepdim=True)  # (n, 1)
        return x, y

    def loss(self, output, target):
        return F.mse_loss(output, target)

    def accuracy(self, output, target):
        return None

    def chance_loss(self, seq_len):
        # Predicting the constant 1 = E[U + U'] leaves Var(U + U') = 2 · 1/12 = 1/6.
        return 1.0 / 6.0

    def is_solved(self, heldout_loss, heldout_accuracy, seq_len):
        return heldout_loss < 0.01  # well below the chance loss, 1/6
