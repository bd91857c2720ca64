"""`seqbench report`: pandas tables, seaborn figures and claim verdicts from result files.

`build_report` is imported lazily: seqbench.claims imports seqbench.report.data, and the
builder imports seqbench.claims, so an eager import here would be circular.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seqbench.report.build import Report, build_report

__all__ = ["Report", "build_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from seqbench.report import build

        return getattr(build, name)
    raise AttributeError(f"module 'seqbench.report' has no attribute {name!r}")
