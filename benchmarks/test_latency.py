"""Latency: one inference forward pass over a whole sequence at batch size 1.

A real-time caller sends one sequence and waits for its answer, so what it sees is the B=1
forward time; batched throughput (the throughput family, B=100) hides how little work one
sequence gives each step's matrix multiply. pytest-benchmark times the pass (pedantic:
warm-up rounds, then timed rounds); the latency is the median of the timed rounds.
"""

from __future__ import annotations

from seqbench.models.costs import forward_flops, param_count
from seqbench.scenarios.recording import record, timed_iqr_s, timed_median_s
from seqbench.scenarios.step import ForwardOnly
from seqbench.scenarios.workload import Workload

FAMILY = "latency"


def test_forward_b1(benchmark, cell):
    w = Workload.build(cell)
    benchmark.group = f"latency-T{cell.seq_len}"
    # ForwardOnly runs under torch.inference_mode() and synchronizes on CUDA before it returns.
    benchmark.pedantic(ForwardOnly(w), rounds=cell.rounds, warmup_rounds=cell.warmup_rounds)
    median = timed_median_s(benchmark)
    steps = w.x.shape[1]  # T': the time steps the recurrence ran; w.x is (1, T', I)
    record(
        benchmark,
        cell,
        "forward_b1",
        {
            "latency_s": median,
            "latency_iqr_s": timed_iqr_s(benchmark),
            "latency_per_step_s": median / steps if median else None,
            "tokens_per_s": w.tokens_per_step / median if median else None,
            "forward_flop": forward_flops(cell),
            "param_count": param_count(cell),
        },
        threads=w.threads,
    )
