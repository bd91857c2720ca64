"""The run's plan: node ids as pytest collects them, worker processes, and old run folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seqbench.config import TIMING_FAMILIES
from seqbench.errors import SeqbenchError
from seqbench.launchers.base import RunFolder
from seqbench.launchers.plan import make_plan, plan_from_json, planned_cells
from seqbench.profiles import Overrides, build_cells

REPO = Path(__file__).resolve().parents[1]


def test_planned_node_ids_are_the_ones_pytest_collects():
    plan = make_plan(build_cells("smoke"))
    collected = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks",
            "--collect-only",
            "-q",
            "--benchmark-only",
            "--seqbench-profile",
            "smoke",
            "-p",
            "no:cacheprovider",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert collected.returncode == 0, collected.stdout[-2000:]
    node_ids = {line for line in collected.stdout.splitlines() if "::" in line}
    assert {p.nodeid for p in plan} == node_ids


def test_a_cell_in_n_processes_has_an_entry_per_process():
    only = Overrides(families=("throughput",), models=("rnn",), impls=("fused",), processes=3)
    cells = build_cells("smoke", only)
    plan = make_plan(cells)
    keys = [p.run_key for p in plan if p.cell is not None]
    assert len(keys) == len(set(keys)) == 6  # forward and train step, 3 processes each
    # In rounds: process k of every function and cell before process k + 1 of any.
    assert [p.process for p in plan if p.cell is not None] == [0, 0, 1, 1, 2, 2]
    assert plan_from_json([p.to_json() for p in plan]) == plan
    assert planned_cells(plan) == cells


def test_processes_apply_to_timing_families_only():
    cells = build_cells("smoke", Overrides(processes=3))
    assert {c.processes for c in cells if c.family in TIMING_FAMILIES} == {3}
    assert {c.processes for c in cells if c.family not in TIMING_FAMILIES} == {1}
    with pytest.raises(SeqbenchError, match="processes must be a positive integer"):
        build_cells("smoke", Overrides(processes=0))


def test_a_folder_from_before_plans_gets_its_plan_once(tmp_path):
    overrides = {"models": ["gru"], "families": ["latency"], "device": None, "extra": {}}
    (tmp_path / "run.json").write_text(json.dumps({"profile": "smoke", "overrides": overrides}))
    run = RunFolder.load(tmp_path)
    assert [p.nodeid for p in run.plan] == [
        "benchmarks/test_calibration.py::test_calibration",
        "benchmarks/test_latency.py::test_forward_b1[gru-mean-sign-T8-B1-H8-s0]",
    ]
    assert "plan" in json.loads((tmp_path / "run.json").read_text())  # fixed from now on


def test_a_damaged_plan_is_one_line_and_exit_2(cli, tmp_path):
    manifest = {"profile": "smoke", "overrides": {}, "cells_count": 1, "plan": [{"cell": {}}]}
    (tmp_path / "run.json").write_text(json.dumps(manifest))
    resumed = cli("run", "--resume", str(tmp_path))
    assert resumed.returncode == 2
    assert resumed.stderr.strip().splitlines() == [
        "seqbench: error: malformed plan entry: {'cell': {}}"
    ]


def test_a_plan_naming_a_missing_benchmark_stops_before_any_cell(cli, tmp_path):
    out = tmp_path / "run"
    ok = cli("run", "--profile", "smoke", "--families", "latency", "--models", "rnn",
             "--out", str(out))  # fmt: skip
    assert ok.returncode == 0, ok.stderr[-2000:]
    manifest = json.loads((out / "run.json").read_text())
    renamed = dict(manifest["plan"][1], nodeid="benchmarks/test_latency.py::test_gone[x]")
    manifest["plan"].append(renamed)
    (out / "run.json").write_text(json.dumps(manifest))
    resumed = cli("run", "--resume", str(out))
    assert resumed.returncode == 2
    assert "the plan names 1 items the benchmark definitions do not have" in (
        resumed.stdout + resumed.stderr
    )
