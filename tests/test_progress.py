"""The whole-sweep progress bar: item costs and what the bar counts."""

from __future__ import annotations

import pytest

from seqbench.config import CellConfig
from seqbench.launchers import records
from seqbench.launchers.plan import make_plan
from seqbench.launchers.progress import (
    ITEM_OVERHEAD_COST,
    SweepProgress,
    item_cost,
    plan_costs,
)
from seqbench.profiles import build_cells


def _cell(**kw) -> CellConfig:
    base = dict(family="throughput", model="lstm", task="mean-sign", seq_len=100)
    return CellConfig(**(base | kw))


def test_costs_scale_with_tokens_and_repeats():
    short, long = _cell(seq_len=100).to_dict(), _cell(seq_len=1000).to_dict()

    def work(*args) -> float:
        return item_cost(*args) - ITEM_OVERHEAD_COST

    assert work("throughput", "forward", long) == 10 * work("throughput", "forward", short)
    # A training step does about three forward passes' work.
    assert work("throughput", "train_step", short) == 3 * work("throughput", "forward", short)
    run = _cell(family="convergence", train_steps=2000, eval_every=100, heldout_size=1000)
    assert work("convergence", None, run.to_dict()) > 100 * work("throughput", "train_step", short)


def test_the_plan_counts_every_pytest_item():
    cells = build_cells("smoke")
    throughput = sum(c.family == "throughput" for c in cells)
    # Calibration, plus two items (forward, train step) per throughput cell.
    assert len(plan_costs(make_plan(cells))) == 1 + len(cells) + throughput
    # A cell timed in N worker processes costs N times.
    triple = [c.replace(processes=3) for c in cells]
    assert len(plan_costs(make_plan(triple))) == 1 + 3 * (len(cells) + throughput)


def test_the_bar_counts_finished_records_by_cost(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQBENCH_PROGRESS", "0")
    cells = [_cell(family="latency", batch_size=1, seq_len=T) for T in (10, 1000)]
    progress = SweepProgress(make_plan(cells), tmp_path)
    assert progress.items == 3 and progress.bar.n == 0
    config = cells[1].to_dict()
    entry = {"fullname": "t::x", "extra_info": {"family": "latency", "config": config}}
    records.write_cell(tmp_path, "t::x", entry, "ok")
    records.mark_running(tmp_path, "benchmarks/test_latency.py::test_forward_b1[y]", None, {})
    progress.update()
    assert progress.bar.n == pytest.approx(item_cost("latency", None, config))
    assert progress.bar.desc == "sweep: 1/3 cells, now test_forward_b1[y]"
    progress.close()
