"""`compiled`: the cell loop with each one-step cell compiled by torch.compile.

Only the step is compiled: compiling the whole unrolled sequence would trace T steps into
one graph (20000 at the article's length), which takes far longer than it saves. The step
is compiled once per shape, on its first call, so the first training step carries the
compile time; cells record it apart from the step time (Runner.first_call_s).
"""

from __future__ import annotations

import os
import shutil

import torch
from torch import nn

from seqbench.implementations.base import (
    Implementation,
    ImplementationUnavailable,
    Runner,
    Step,
)
from seqbench.implementations.loop import cell_steps, run_layers
from seqbench.models import ModelSpec


def _c_compiler() -> str | None:
    """The C++ compiler inductor's CPU backend would call (it honours $CXX), if any."""
    names = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "c++", "clang++"]
    return next((path for n in names if (path := shutil.which(n))), None)


class CompiledLoop(Implementation):
    summary = "the cell loop with the one-step cell compiled by torch.compile (inductor)"

    def unavailable(self, device: torch.device) -> str | None:
        if not hasattr(torch, "compile"):
            return f"torch {torch.__version__} has no torch.compile"
        if device.type == "cpu" and _c_compiler() is None:
            return "torch.compile on CPU needs a C++ compiler (g++ or clang++), none found"
        return None

    def bind(self, rnn: nn.RNNBase, spec: ModelSpec) -> Runner:
        reason = self.unavailable(rnn.weight_ih_l0.device)
        if reason:
            raise ImplementationUnavailable(reason)

        def compiled(cell: nn.Module) -> Step:
            # dynamic=False: one graph for the cell's one shape; fullgraph: a graph break
            # would silently run part of the step eagerly.
            return torch.compile(cell, dynamic=False, fullgraph=True)

        # Each binding compiles from scratch: the compile time a cell records is its own,
        # whatever was compiled before in this process, and one process that binds many
        # cells (pytest running the definitions as tests) never reaches Dynamo's
        # recompile limit on the shared cell classes' forward.
        torch._dynamo.reset()
        steps = cell_steps(rnn, spec, wrap=compiled)
        runner = Runner(lambda x: run_layers(rnn, x, steps, spec.has_cell_state))
        return _FirstCallChecked(runner)


class _FirstCallChecked(Runner):
    """A compiler that fails does so on the first call: that is 'unavailable here', with the
    compiler's own first line as the reason, not a crash of the measurement."""

    def __init__(self, inner: Runner) -> None:
        super().__init__(inner._run)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.first_call_s is not None:
            return self._run(x)
        try:
            return super().__call__(x)
        except Exception as exc:  # inductor and its toolchain raise many kinds
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise ImplementationUnavailable(
                f"torch.compile failed here: {type(exc).__name__}: {first}"
            ) from exc
