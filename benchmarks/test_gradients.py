"""Gradients at initialisation: total and per-parameter norms, and ‖∂L/∂h_t‖ for t = 1..T."""

from __future__ import annotations

from seqbench.scenarios.gradients import gradient_flow
from seqbench.scenarios.recording import record
from seqbench.scenarios.workload import Workload

FAMILY = "gradients"


def test_gradient_flow(benchmark, cell):
    w = Workload.build(cell)
    benchmark.group = f"gradients-T{cell.seq_len}"
    flow = benchmark.pedantic(
        gradient_flow,
        args=(w.model, w.task.loss, w.x, w.y),
        rounds=cell.rounds,
        warmup_rounds=cell.warmup_rounds,
    )
    record(
        benchmark,
        cell,
        "gradient_flow",
        {
            "loss": flow.loss,
            "grad_total_norm": flow.total_norm,
            **{f"param_grad_norm[{k}]": v for k, v in flow.param_norms.items()},
            **flow.summary(),
        },
        series=flow.series(),
        threads=w.threads,
    )
