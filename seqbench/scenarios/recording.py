"""Glue between a measurement and pytest-benchmark's entry: medians and records."""

from __future__ import annotations

from typing import Any

from seqbench.config import CellConfig
from seqbench.schema import make_record


def timed_median_s(benchmark: Any) -> float | None:
    """pytest-benchmark's median for this entry (None when benchmarking is disabled)."""
    meta = getattr(benchmark, "stats", None)
    return meta.stats.median if meta is not None else None


def timed_iqr_s(benchmark: Any) -> float | None:
    """pytest-benchmark's interquartile range of the timed rounds (None when disabled)."""
    meta = getattr(benchmark, "stats", None)
    return meta.stats.iqr if meta is not None else None


def timed_rounds(benchmark: Any) -> int:
    meta = getattr(benchmark, "stats", None)
    return meta.stats.rounds if meta is not None else 1


def record(
    benchmark: Any,
    cell: CellConfig,
    measurement: str,
    metrics: dict[str, Any],
    series: dict[str, list[float]] | None = None,
    status: str = "ok",
    threads: int | None = None,
) -> dict[str, Any]:
    """Store seqbench's versioned record in the entry's extra_info and return it."""
    rec = make_record(cell.to_dict(), cell.family, measurement, metrics, series, status, threads)
    benchmark.extra_info.update(rec)
    return rec
