"""The source article's task: is the mean of a Gaussian sequence positive?"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from seqbench.tasks.base import Task


class MeanSign(Task):
    name = "mean-sign"
    many_to_one = True
    output_size = 2  # two classes, cross-entropy, as in the article
    default_input_size = 1
    loss_unit = "nats"
    chance_caption = "ln 2, a uniform guess between the two balanced classes"

    def generate(self, n, seq_len, input_size, generator):
        x = torch.randn(n, seq_len, input_size, generator=generator)  # (n, T, I)
        y = (x.mean(dim=(1, 2)) > 0).long()  # (n,)
        return x, y

    def loss(self, output, target):
        return F.cross_entropy(output, target)

    def accuracy(self, output, target):
        return (output.argmax(-1) == target).float().mean().item()

    def chance_loss(self, seq_len):
        return math.log(2)  # a uniform guess between two balanced classes

    def is_solved(self, heldout_loss, heldout_accuracy, seq_len):
        # The label is a linear function of the inputs' sum, so a model that has learned
        # to integrate its input gets nearly all of them right.
        return heldout_accuracy is not None and heldout_accuracy >= 0.9
