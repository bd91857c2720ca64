"""`pip install .`, not editable, then `seqbench run` in an empty folder: the benchmark
definitions ship inside the package (setup.py) and the run's node ids are the checkout's."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seqbench.launchers import records

REPO = Path(__file__).resolve().parents[1]

# Top-level folders a build does not read: the repository's data, tests and build outputs.
NOT_BUILT = {"results", "reports", "tests", "build", "seqbench.egg-info", ".git"}


def _not_built(folder: str, names: list[str]) -> set[str]:
    top = Path(folder) == REPO
    return {n for n in names if n == "__pycache__" or (top and n in NOT_BUILT)}


@pytest.mark.skipif(
    importlib.util.find_spec("setuptools") is None,
    reason="building without network needs setuptools in this environment",
)
def test_seqbench_runs_from_a_non_editable_install(tmp_path):
    # A copy of the source, so the build writes nothing into the checkout (build/, egg-info).
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=_not_built)
    # A venv over this environment's site-packages: torch and the other dependencies come from
    # there, seqbench from the wheel (a venv's own site-packages comes first on sys.path).
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
    )
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"SEQBENCH_PROGRESS": "0"}
    pip = [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index"]
    installed = subprocess.run(
        [*pip, "--quiet", str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]

    empty = tmp_path / "empty"  # no checkout on sys.path: cwd comes first there
    empty.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import seqbench.launchers.plan as p; print(p.BENCHMARKS_DIR)"],
        cwd=empty,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout  # the installed copy

    out = tmp_path / "out"
    seqbench = [str(venv / "bin" / "seqbench"), "run", "--profile", "smoke", "--out", str(out)]
    run = subprocess.run(
        [*seqbench, "--families", "throughput", "--models", "rnn"],
        cwd=empty,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert list(empty.iterdir()) == []  # nothing left where the user stood
    # Each planned node id has its record, under the node id pytest reported for it.
    finished = records.finished_nodeids(out / "cells")
    plan = json.loads((out / "run.json").read_text())["plan"]
    assert finished == dict.fromkeys((entry["nodeid"] for entry in plan), "ok")
    assert "benchmarks/test_throughput.py::test_forward[rnn-mean-sign-T8-B4-H8-s0]" in finished
