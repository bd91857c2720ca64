"""Warnings when two result sets come from different software or hardware."""

from __future__ import annotations

from typing import Any

from seqbench.results.load import ResultSet

# Fields of the environment record (seqbench/env.py) that change timings by themselves.
CHECKED_FIELDS = ("torch_version", "cpu_model", "cuda_device", "cuda_version", "torch_threads",
                  "cpu_affinity_count", "python_version", "numpy_version")


def _env(machine_info: dict[str, Any]) -> dict[str, Any]:
    env = dict(machine_info.get("seqbench") or {})
    # Plain pytest-benchmark files lack seqbench's block; their own fields still tell a lot.
    env.setdefault("cpu_model", (machine_info.get("cpu") or {}).get("brand_raw"))
    env.setdefault("python_version", machine_info.get("python_version"))
    return env


def _values(results: ResultSet, field: str) -> set[str]:
    return {str(v) for info in results.machines.values()
            if (v := _env(info).get(field)) is not None}


def environment_warnings(baseline: ResultSet, current: ResultSet) -> list[str]:
    """One line per field whose recorded values differ between the two sides."""
    warnings = []
    for field in CHECKED_FIELDS:
        base, cur = _values(baseline, field), _values(current, field)
        if base and cur and base != cur:
            warnings.append(f"{field} differs: baseline {', '.join(sorted(base))}; "
                            f"current {', '.join(sorted(cur))}")
    return warnings
