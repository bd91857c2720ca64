"""The suite must not distort what it measures.

seqbench's TrainStep (phase marks, loss readout) is timed by pytest-benchmark; before each
round, a bare PyTorch loop doing the same step on an identical model is timed once with
torch.utils.benchmark. Interleaving the two cancels drift on a noisy machine.
"""

from __future__ import annotations

import statistics

import torch
from torch.utils import benchmark as tbench

from seqbench.scenarios.recording import record, timed_median_s
from seqbench.scenarios.step import TrainStep
from seqbench.scenarios.workload import Workload

FAMILY = "overhead"


def test_train_step_overhead(benchmark, cell):
    bare_w = Workload.build(cell)
    model, opt, x, y, loss_fn = bare_w.model, bare_w.optimizer, bare_w.x, bare_w.y, bare_w.task.loss

    def bare_step():  # what a user would write: nothing else
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    bare_timer = tbench.Timer(
        "bare_step()", globals={"bare_step": bare_step}, num_threads=torch.get_num_threads()
    )
    bare_times: list[float] = []

    def time_bare_once():
        bare_times.append(bare_timer.timeit(1).median)

    step = TrainStep(Workload.build(cell))
    benchmark.group = f"overhead-T{cell.seq_len}"
    benchmark.pedantic(
        step, setup=time_bare_once, rounds=cell.rounds, warmup_rounds=cell.warmup_rounds
    )
    bare = statistics.median(bare_times[cell.warmup_rounds :])
    seqbench_median = timed_median_s(benchmark)
    record(
        benchmark,
        cell,
        "train_step_overhead",
        {
            "step_time_s": seqbench_median,
            "bare_step_time_s": bare,
            "bare_step_min_s": min(bare_times[cell.warmup_rounds :]),
            "bare_step_max_s": max(bare_times[cell.warmup_rounds :]),
            "overhead_ratio": seqbench_median / bare if seqbench_median else None,
        },
        series={"bare_step_s": bare_times[cell.warmup_rounds :]},
        threads=step.w.threads,
    )
