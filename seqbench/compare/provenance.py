"""Warnings when two result sets come from different software or hardware, or from
different commands."""

from __future__ import annotations

from typing import Any

from seqbench.results.load import ResultSet

# Fields of the environment record (seqbench/env.py) that change timings by themselves.
CHECKED_FIELDS = (
    "torch_version",
    "cpu_model",
    "cuda_device",
    "cuda_version",
    "torch_threads",
    "cpu_affinity_count",
    "python_version",
    "numpy_version",
    "allocator",
)


def _env(machine_info: dict[str, Any]) -> dict[str, Any]:
    env = dict(machine_info.get("seqbench") or {})
    # Plain pytest-benchmark files lack seqbench's block; their own fields still tell a lot.
    env.setdefault("cpu_model", (machine_info.get("cpu") or {}).get("brand_raw"))
    env.setdefault("python_version", machine_info.get("python_version"))
    return env


def _values(results: ResultSet, field: str) -> set[str]:
    return {
        str(v) for info in results.machines.values() if (v := _env(info).get(field)) is not None
    }


def environment_warnings(baseline: ResultSet, current: ResultSet) -> list[str]:
    """One line per field whose recorded values differ between the two sides."""
    warnings = []
    for field in CHECKED_FIELDS:
        base, cur = _values(baseline, field), _values(current, field)
        if base and cur and base != cur:
            warnings.append(
                f"{field} differs: baseline {', '.join(sorted(base))}; "
                f"current {', '.join(sorted(cur))}"
            )
    return warnings


def _cell_sets(results: ResultSet) -> dict[str, frozenset[str]]:
    """Per run, the cells it ran."""
    entries = results.entries
    if entries.empty or "run" not in entries or "cell_key" not in entries:
        return {}
    return {run: frozenset(keys) for run, keys in entries.groupby("run")["cell_key"]}


def cell_set_warning(baseline: ResultSet, current: ResultSet) -> list[str]:
    """A warning when no current run ran the same cells as a baseline run.

    A cell's timing depends on what ran before it in the same process: glibc's allocator
    keeps or returns memory depending on earlier, larger allocations, and the page faults
    that follow differ. Measured (README, "Whole runs of the quick profile"): the LSTM train
    step at T=100 took 16-17 ms in whole quick runs and 26-27 ms in a run of the T=100 cells
    alone. So timings of a subset run against a whole run compare two processes' histories,
    not two trees."""
    base, cur = _cell_sets(baseline), _cell_sets(current)
    if not base or not cur or set(base.values()) & set(cur.values()):
        return []

    def sizes(sets: dict[str, frozenset[str]]) -> str:
        return "/".join(str(n) for n in sorted({len(cells) for cells in sets.values()}))

    return [
        f"the two sides ran different sets of cells (baseline runs: {sizes(base)} cells, "
        f"current runs: {sizes(cur)}): a cell's timing depends on what ran before it in "
        "its process, so compare runs made by the same command"
    ]
