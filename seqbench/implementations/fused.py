"""`fused`: torch.nn's whole-sequence module itself (oneDNN on CPU, cuDNN on CUDA)."""

from __future__ import annotations

from torch import nn

from seqbench.implementations.base import Implementation, Runner
from seqbench.models import ModelSpec


class Fused(Implementation):
    summary = "torch.nn.RNN/LSTM/GRU over the whole sequence (oneDNN on CPU, cuDNN on CUDA)"

    def bind(self, rnn: nn.RNNBase, spec: ModelSpec) -> Runner:
        return Runner(lambda x: rnn(x)[0])  # (B, T, D*H)
