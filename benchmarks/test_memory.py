"""Peak memory of one training step, each round in a fresh process."""

from __future__ import annotations

import statistics

from seqbench.models.costs import activation_bytes, param_count, peak_step_bytes
from seqbench.scenarios.memory import MemoryProbe
from seqbench.scenarios.recording import record

FAMILY = "memory"


def test_peak_memory(benchmark, cell):
    probes: list[MemoryProbe] = []

    def start_child():  # pytest-benchmark does not time setup: process start-up is excluded
        probes.append(MemoryProbe(cell, cell.extra.get("probe_mem_limit_bytes")))
        probes[-1].start()

    benchmark.group = f"memory-T{cell.seq_len}"
    benchmark.pedantic(
        lambda: probes[-1].run_step(), setup=start_child, rounds=cell.rounds, warmup_rounds=0
    )
    results = [p.finish() for p in probes]
    peaks = [r["peak_bytes"] - r["before_step_bytes"] for r in results]
    peak = statistics.median(peaks)
    estimate = peak_step_bytes(cell)
    record(
        benchmark,
        cell,
        "memory_step",
        {
            "peak_mem_bytes": peak,
            "peak_mem_min_bytes": min(peaks),
            "peak_mem_max_bytes": max(peaks),
            "before_step_mem_bytes": statistics.median(r["before_step_bytes"] for r in results),
            # the child's own whole-life peak (start-up included); not wait4's ru_maxrss, which
            # starts at the parent's high-water mark (seqbench/scenarios/memory.py)
            "process_peak_bytes": max(r["process_peak_bytes"] for r in results),
            "activation_est_bytes": activation_bytes(cell),
            "peak_mem_est_bytes": estimate,
            "peak_mem_est_over_measured_ratio": estimate / peak if peak > 0 else None,
            "step_time_s": statistics.median(r["step_time_s"] for r in results),
            "hwm_reset_count": sum(r["hwm_reset"] for r in results),
            "param_count": param_count(cell),
        },
    )
