"""The memory-model study on a tiny grid: its CSV, its ratio, its summary."""

from __future__ import annotations

import pandas as pd
import pytest

from seqbench.config import CellConfig
from seqbench.models.costs import BACKWARD_FIT, peak_step_bytes
from seqbench.studies import memory_model
from seqbench.studies.memory_model import COLUMNS, GRID, main, schedule


def test_tiny_study_writes_the_table_and_the_summary(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQBENCH_PROGRESS", "0")
    assert main(["--out", str(tmp_path), "--models", "rnn", "--grid", "tiny"]) == 0
    table = pd.read_csv(tmp_path / "study.csv")
    assert tuple(table.columns) == COLUMNS
    assert len(table) == len(memory_model.TINY_GRID)
    assert (table["status"] == "ok").all()
    assert (table["measured_peak_bytes"] > 0).all()
    # the ratio is estimate / measured, and the estimate is the one the memory family records
    assert table["est_over_measured_ratio"].tolist() == pytest.approx(
        (table["estimate_peak_bytes"] / table["measured_peak_bytes"]).tolist()
    )
    for row in table.itertuples():
        cell = CellConfig(
            family="memory",
            model=row.model,
            task="mean-sign",
            seq_len=row.seq_len,
            batch_size=row.batch_size,
            hidden_size=row.hidden_size,
            input_size=1,
            num_layers=row.num_layers,
        )
        assert row.estimate_peak_bytes == peak_step_bytes(cell)
    assert set(table["sample"]) == {"out"}  # no tiny point is the fit point
    summary = (tmp_path / "summary.md").read_text()
    assert "python -m seqbench.studies.memory_model --out" in summary
    assert "torch" in summary and "| rnn | out |" in summary
    assert (tmp_path / "env.json").exists() and (tmp_path / "run.json").exists()
    # the summary is a function of the stored files alone
    (tmp_path / "summary.md").unlink()
    assert main(["--out", str(tmp_path), "--summary-only"]) == 0
    assert (tmp_path / "summary.md").read_text() == summary


def test_fit_point_is_in_sample_and_repeated_through_the_run():
    fit = [p for p in GRID if p.varies == "fit point"]
    assert len(fit) == 1
    cell = memory_model.cell_for("gru", fit[0], threads=1)
    assert BACKWARD_FIT.matches(cell)
    assert not BACKWARD_FIT.matches(cell.replace(num_layers=2))
    order = schedule(GRID, fit_repeats=3)
    positions = [i for i, (p, _) in enumerate(order) if p.varies == "fit point"]
    assert len(positions) == 3 and positions[-1] > len(order) // 2
    assert len(order) == len(GRID) - 1 + 3


def test_skips_a_point_over_the_estimate_cap():
    point = memory_model.GridPoint(5000, 100, 50, 1, "T")
    row = memory_model.probe_row(
        "lstm", point, 0, 1, max_estimate_bytes=10**6, probe_limit_bytes=None
    )
    assert row["status"] == "skipped" and "measured_peak_bytes" not in row
