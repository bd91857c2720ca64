"""Throughput: forward-only time, and the training step split into its phases."""

from __future__ import annotations

from seqbench.models.costs import forward_flops, param_count, train_step_flops
from seqbench.scenarios.recording import record, timed_median_s, timed_rounds
from seqbench.scenarios.step import ForwardOnly, TrainStep
from seqbench.scenarios.workload import Workload

FAMILY = "throughput"


def test_forward(benchmark, cell, matmul_ceiling):
    w = Workload.build(cell)
    benchmark.group = f"forward-T{cell.seq_len}"
    benchmark.pedantic(ForwardOnly(w), rounds=cell.rounds, warmup_rounds=cell.warmup_rounds)
    median = timed_median_s(benchmark)
    flops = forward_flops(cell)
    record(
        benchmark,
        cell,
        "forward",
        {
            "forward_time_s": median,
            "tokens_per_s": w.tokens_per_step / median if median else None,
            "forward_flop": flops,
            "achieved_flop_per_s": flops / median if median else None,
            "matmul_ceiling_flop_per_s": matmul_ceiling,
            "param_count": param_count(cell),
            # After timing, so it costs no timed round: is this the same function as fused?
            "output_gap_vs_fused_ratio": w.output_gap_vs_fused(w.x),
        },
        threads=w.threads,
    )


def test_train_step(benchmark, cell, matmul_ceiling):
    w = Workload.build(cell)
    step = TrainStep(w)
    benchmark.group = f"train_step-T{cell.seq_len}"
    benchmark.pedantic(step, rounds=cell.rounds, warmup_rounds=cell.warmup_rounds)
    median = timed_median_s(benchmark)
    flops = train_step_flops(cell)
    achieved = flops / median if median else None
    # The first call (the warm-up): for `compiled` it holds torch.compile's compile time,
    # which never enters the timed rounds.
    first = sum(step.phases[0]) if step.phases else None
    record(
        benchmark,
        cell,
        "train_step",
        {
            "step_time_s": median,
            **step.phase_medians(last=timed_rounds(benchmark)),
            "tokens_per_s": w.tokens_per_step / median if median else None,
            "train_step_flop": flops,
            "achieved_flop_per_s": achieved,
            "matmul_ceiling_flop_per_s": matmul_ceiling,
            "ceiling_fraction_ratio": achieved / matmul_ceiling if achieved else None,
            "param_count": param_count(cell),
            "final_train_loss": step.last_loss,
            "first_step_s": first,
            "first_step_overhead_s": first - median if first is not None and median else None,
        },
        threads=w.threads,
    )
