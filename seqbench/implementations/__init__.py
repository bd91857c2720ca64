"""Implementations: the same model's math computed different ways (a cell's `impl`).

A plain registry, like models.MODELS: the name a cell carries, to an Implementation
(base.py) that binds to a fused module's Parameters and runs its steps. Add one with a
module and an entry here. PyTorch's own fastrnns benchmark has the same axis.
"""

from __future__ import annotations

from seqbench.implementations.article import ArticleEquations
from seqbench.implementations.base import Implementation, ImplementationUnavailable, Runner
from seqbench.implementations.compiled import CompiledLoop
from seqbench.implementations.fused import Fused
from seqbench.implementations.loop import CellLoop

IMPLEMENTATIONS: dict[str, Implementation] = {
    "fused": Fused(),  # torch.nn's whole-sequence module: what every cell ran before
    "loop": CellLoop(),  # one-step cells in a Python loop
    "compiled": CompiledLoop(),  # the loop with the step compiled by torch.compile
    "article": ArticleEquations(),  # the article's printed equations
}
DEFAULT_IMPLEMENTATION = "fused"

__all__ = [
    "DEFAULT_IMPLEMENTATION",
    "IMPLEMENTATIONS",
    "Implementation",
    "ImplementationUnavailable",
    "Runner",
]
