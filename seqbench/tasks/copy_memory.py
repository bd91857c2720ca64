"""Copy memory (Arjovsky, Shah & Bengio 2016; form of the TCN code).

Ten digits from {1..8}, then T-1 blanks (0), then the delimiter (9) held for the last 11
steps; the model must output blanks for T+10 steps and then the ten digits. Total length
T + 20, exactly as locuslab/TCN copy_memory/utils.py builds it.
Inputs are one-hot over the 10 symbols; targets are a class at every step.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from seqbench.tasks.base import Task

SYMBOLS = 10  # 0 blank, 1..8 digits, 9 delimiter
DIGITS = 10  # symbols to memorise


class CopyMemory(Task):
    name = "copy"
    many_to_one = False
    output_size = SYMBOLS
    fixed_input_size = SYMBOLS
    loss_unit = "nats"
    long_range = True  # the digits must be held across the T blanks
    long_lengths = (20, 50, 100)
    chance_caption = "10·ln 8/(T+20), blanks everywhere and then a uniform guess among the 8 digits"

    def total_len(self, seq_len):
        return seq_len + 2 * DIGITS

    def generate(self, n, seq_len, input_size, generator):
        digits = torch.randint(1, 9, (n, DIGITS), generator=generator)  # (n, 10)
        length = self.total_len(seq_len)
        tokens = torch.zeros(n, length, dtype=torch.long)
        tokens[:, :DIGITS] = digits
        tokens[:, DIGITS + seq_len - 1 :] = 9  # delimiter on the last 11 steps
        target = torch.zeros(n, length, dtype=torch.long)  # (n, T+20)
        target[:, -DIGITS:] = digits
        x = F.one_hot(tokens, SYMBOLS).float()  # (n, T+20, 10)
        return x, target

    def loss(self, output, target):
        # output (n, T+20, 10); mean cross-entropy over every step and sequence
        return F.cross_entropy(output.reshape(-1, SYMBOLS), target.reshape(-1))

    def accuracy(self, output, target):
        # Accuracy on the ten recalled digits: the part that needs memory.
        recalled = output[:, -DIGITS:].argmax(-1) == target[:, -DIGITS:]
        return recalled.float().mean().item()

    def chance_loss(self, seq_len):
        # Blanks everywhere, then a uniform guess among 8 digits: 10·ln 8 / (T + 20).
        return DIGITS * math.log(8) / self.total_len(seq_len)

    def is_solved(self, heldout_loss, heldout_accuracy, seq_len):
        return heldout_accuracy is not None and heldout_accuracy >= 0.9
