"""The source article's third experiment: the gradient norm while training on a long sequence.

The article trains its 2-class model (batch 1, input 10, hidden 20) for 100 epochs on a
Gaussian sequence of T = 10000 steps with ``loss = output.sum()`` and prints the total
gradient norm, which it expects to be "very small". This task is that setup as written:
X ~ N(0, 1), a last-step head with two outputs, and the sum of the head's outputs as the loss.
There is no target.

For a batch, output.sum() is the sum over the batch and the two outputs, not a mean, so the
loss grows with the batch size; and it is unbounded below: the optimizer lowers it forever by
driving the outputs towards -inf (the head's bias alone suffices). There is therefore no
chance level to compare with and nothing to solve. Note also that ∂L/∂output is 1 for every
output, so the head's bias receives a gradient of exactly 1 per output and sequence: the
total gradient norm is at least √(2B) whatever the recurrence does.
"""

from __future__ import annotations

import torch

from seqbench.tasks.base import Task


class OutputSum(Task):
    name = "output-sum"
    many_to_one = True
    output_size = 2  # the article's 2-class model, whose two logits the loss sums
    default_input_size = 10  # the article's input size for this experiment
    loss_unit = "loss units"  # a sum of raw outputs: no unit beyond the outputs' own
    chance_caption = "none, as the loss (a sum of outputs) is unbounded below"

    def generate(self, n, seq_len, input_size, generator):
        x = torch.randn(n, seq_len, input_size, generator=generator)  # (n, T, I)
        # No target: the loss ignores it. One placeholder per sequence keeps the contract's
        # row slicing (fixed training sets, evaluation chunks) working unchanged.
        y = torch.zeros(n)  # (n,)
        return x, y

    def loss(self, output, target):
        # output (n, 2). Exactly the article's loss: a sum over the batch, unbounded below.
        return output.sum()

    def accuracy(self, output, target):
        return None  # no target, nothing to be right about

    def chance_loss(self, seq_len):
        # An unbounded loss has no chance level; NaN makes every ratio to it undefined
        # (recorded as None) rather than a number that means nothing.
        return float("nan")

    def is_solved(self, heldout_loss, heldout_accuracy, seq_len):
        return False  # there is no minimum to reach
