"""The fresh-process memory probe sees a known allocation, and only the child's own."""

from __future__ import annotations

import pytest
import torch

from seqbench.config import CellConfig
from seqbench.scenarios.memory import MemoryProbe, MemoryProbeFailed, _status_bytes

EXTRA = 200 * 10**6  # bytes
PARENT_BALLAST = 300 * 10**6  # bytes the test process holds while a child is measured


def measure(**extra) -> dict:
    c = CellConfig(
        family="memory",
        model="gru",
        task="mean-sign",
        seq_len=50,
        batch_size=16,
        hidden_size=32,
        extra=extra,
    )
    probe = MemoryProbe(c)
    probe.start()
    probe.run_step()
    return probe.finish()


def test_probe_sees_an_extra_200_mb():
    plain = measure()
    heavier = measure(inject_alloc_bytes=EXTRA)
    delta = (heavier["peak_bytes"] - heavier["before_step_bytes"]) - (
        plain["peak_bytes"] - plain["before_step_bytes"]
    )
    assert delta == pytest.approx(EXTRA, rel=0.05)
    assert heavier["hwm_reset"] is True
    assert heavier["step_time_s"] > 0
    # the whole-process peak covers the step's peak (start-up can only add to it)
    assert heavier["process_peak_bytes"] >= heavier["peak_bytes"]


def test_process_peak_is_the_childs_own_not_the_parents():
    # wait4's ru_maxrss, recorded before, started at the parent's high-water mark: a child
    # measured from a parent holding 300 MB more reported 300 MB more.
    plain = measure()
    ballast = torch.ones(PARENT_BALLAST, dtype=torch.uint8)  # touches every page
    parent_peak = _status_bytes("VmHWM")
    heavy = measure()
    del ballast
    assert heavy["process_peak_bytes"] < parent_peak - PARENT_BALLAST // 2
    assert heavy["process_peak_bytes"] == pytest.approx(plain["process_peak_bytes"], abs=30 * 10**6)
    # the step's own peak above the memory before it does not move with the parent either
    step_peak = [r["peak_bytes"] - r["before_step_bytes"] for r in (plain, heavy)]
    assert step_peak[1] == pytest.approx(step_peak[0], abs=5 * 10**6)


def test_probe_reports_a_child_over_its_memory_limit():
    c = CellConfig(
        family="memory",
        model="lstm",
        task="mean-sign",
        seq_len=20000,
        batch_size=100,
        hidden_size=50,
    )
    probe = MemoryProbe(c, max_mem_bytes=3 * 2**30)  # the step needs about 7 GiB
    with pytest.raises(MemoryProbeFailed) as info:
        probe.start()
        probe.run_step()
    assert "memory probe" in str(info.value)
