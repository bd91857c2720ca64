"""Convergence: train with Adam and record losses, held-out evaluation and gradient norms."""

from __future__ import annotations

from seqbench.scenarios.convergence import train
from seqbench.scenarios.recording import record

FAMILY = "convergence"


def test_convergence(benchmark, cell):
    benchmark.group = f"convergence-{cell.task}-T{cell.seq_len}"
    run = benchmark.pedantic(train, args=(cell,), rounds=1, warmup_rounds=0)
    status = "diverged" if run.diverged_at_step is not None else "ok"
    record(benchmark, cell, "training_run", run.metrics(), series=run.series(), status=status)
