"""Worker processes: every item in a fork of a session that ran nothing, timing cells in
several, each process its own sample."""

from __future__ import annotations

import json
import os

import pytest

from seqbench.launchers.records import finished_nodeids, read_records
from seqbench.launchers.workers import in_fork
from seqbench.results import load_results


def _pid_and_sum(a: int, b: int) -> list[int]:
    return [os.getpid(), a + b]


def _fails() -> None:
    raise ValueError("boom")


def test_in_fork_returns_the_childs_result():
    pid, total = in_fork(_pid_and_sum, 2, 3)
    assert total == 5 and pid != os.getpid()  # computed in another process
    with pytest.raises(RuntimeError, match="_fails failed"):
        in_fork(_fails)


def test_a_timing_cell_is_measured_in_each_of_its_processes(cli, tmp_path):
    out = tmp_path / "run"
    done = cli("run", "--profile", "smoke", "--families", "throughput", "--models", "rnn",
               "--impls", "fused", "--processes", "3", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    keys = finished_nodeids(out / "cells")
    assert len(keys) == 1 + 2 * 3  # calibration; forward and train step, 3 processes each
    entries = load_results([out]).entries
    timed = entries[entries["family"] == "throughput"]
    # One row per process: the report's and the claims' samples are processes.
    assert len(timed) == timed["run_key"].nunique() == 6
    assert sorted(timed["worker_process"].astype(int)) == [0, 0, 1, 1, 2, 2]
    assert all(len(t) == 3 for t in timed["round_times_s"])  # each with its own rounds
    # In the plan's rounds: the first process of both functions, then the second, ... (not
    # one function's three processes back to back).
    done = sorted(read_records(out / "cells").items(), key=lambda kv: kv[1]["finished_unix_s"])
    order = [key.rsplit("@p", 1)[-1] for key, _ in done if "@p" in key]
    assert order == ["0", "0", "1", "1", "2", "2"]
    # pytest-benchmark's own JSON holds every process too, named apart.
    (json_file,) = out.glob("benchmarks-*.json")
    names = [b["name"] for b in json.loads(json_file.read_text())["benchmarks"]]
    assert sorted(n for n in names if n.startswith("test_forward")) == [
        f"test_forward[rnn-mean-sign-T8-B4-H8-s0]@p{k}" for k in range(3)
    ]
    # A resume finds every process done.
    again = cli("run", "--resume", str(out))
    assert again.returncode == 0 and finished_nodeids(out / "cells") == keys
