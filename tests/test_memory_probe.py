"""The fresh-process memory probe sees a known allocation."""

from __future__ import annotations

import pytest

from seqbench.config import CellConfig
from seqbench.scenarios.memory import MemoryProbe, MemoryProbeFailed

EXTRA = 200 * 10**6  # bytes


def measure(**extra) -> dict:
    c = CellConfig(family="memory", model="gru", task="mean-sign", seq_len=50, batch_size=16,
                   hidden_size=32, extra=extra)
    probe = MemoryProbe(c)
    probe.start()
    probe.run_step()
    return probe.finish()


def test_probe_sees_an_extra_200_mb():
    plain = measure()
    heavier = measure(inject_alloc_bytes=EXTRA)
    delta = (heavier["peak_bytes"] - heavier["baseline_bytes"]) - \
        (plain["peak_bytes"] - plain["baseline_bytes"])
    assert delta == pytest.approx(EXTRA, rel=0.05)
    assert heavier["hwm_reset"] is True
    assert heavier["step_time_s"] > 0
    # the kernel's own per-process figure (wait4's ru_maxrss) agrees with VmHWM
    assert heavier["process_maxrss_bytes"] >= heavier["peak_bytes"] * 0.99


def test_probe_reports_a_child_over_its_memory_limit():
    c = CellConfig(family="memory", model="lstm", task="mean-sign", seq_len=20000,
                   batch_size=100, hidden_size=50)
    probe = MemoryProbe(c, max_mem_bytes=3 * 2**30)  # the step needs about 7 GiB
    with pytest.raises(MemoryProbeFailed) as info:
        probe.start()
        probe.run_step()
    assert "memory probe" in str(info.value)
