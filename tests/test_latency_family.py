"""The latency family at smoke size: a B=1 forward pass, timed and recorded."""

from __future__ import annotations

import pytest

from seqbench.results import load_results


def test_latency_cells_record_b1_forward_time(cli, tmp_path):
    out = tmp_path / "run"
    proc = cli("run", "--profile", "smoke", "--families", "latency", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    entries = load_results([out]).entries
    latency = entries[entries.family == "latency"]
    assert set(latency.model) == {"rnn", "lstm", "gru"}
    assert set(latency.measurement) == {"forward_b1"}
    assert set(latency.status) == {"ok"}
    for row in latency.itertuples():
        m, config = row.metrics, row.config
        assert config["batch_size"] == 1
        T = config["seq_len"]
        assert m["latency_s"] > 0
        # The median of the timed rounds, as pytest-benchmark computed it.
        assert m["latency_s"] == pytest.approx(row.time_median_s)
        assert m["latency_per_step_s"] == pytest.approx(m["latency_s"] / T)
        assert m["tokens_per_s"] == pytest.approx(T / m["latency_s"])
        assert m["latency_iqr_s"] >= 0
        assert len(row.round_times_s) == config["rounds"]  # warm-up rounds are not kept
