"""Worker processes: each benchmark item runs in a fresh process forked from a pytest session
that has imported everything and run nothing, and a timing cell runs in several.

Why: on CPU a cell's time depends on the heap history of the process it runs in (glibc's
mmap/trim decisions; README, "Timing"). In a fork of a session that never ran a cell, every
item starts from the same pristine heap, so no cell's number depends on which cells ran
before it. A timing cell is measured in `cell.processes` such workers, each with its own
warm-up and rounds (after pyperf), and each writes its own record: the report and the claims
take one sample per process, so their spread is the between-process spread. The session runs
the processes in the plan's rounds (after asv): the first process of every cell, then the
second of every timing cell, and so on, so a cell's processes see the host at different
moments of the run (launchers/plan.py).

Why fork and not exec: a fresh interpreter that imports torch, pytest and seqbench takes about
4 s on this machine kind; a fork takes milliseconds. The parent never runs a torch operation,
so no OpenMP thread pool exists to be broken by the fork.

The parent logs each worker's test reports and adds its benchmark to pytest-benchmark's
session, so the terminal table and the JSON file stay complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from _pytest.reports import TestReport
from _pytest.runner import runtestprotocol
from pytest_benchmark.stats import Metadata

from seqbench import env
from seqbench.launchers import records


def _read_all(fd: int) -> bytes:
    chunks = []
    with os.fdopen(fd, "rb") as pipe:
        while chunk := pipe.read(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks)


def _wait(pid: int) -> int:
    """The worker's exit: its code, or minus the signal that killed it."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            return 0
    return os.waitstatus_to_exitcode(status)


def in_fork(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` computed in a forked child, its JSON-able result returned: the parent
    stays free of torch work (the matmul ceiling, measured once and inherited by workers)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_fd)
        code = 1
        try:
            os.write(write_fd, json.dumps(function(*args)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    data = _read_all(read_fd)
    code = _wait(pid)
    if code != 0 or not data:
        raise RuntimeError(f"forked computation of {function.__name__} failed (exit {code})")
    return json.loads(data)


def prepare_session(config: pytest.Config, device: str) -> None:
    """Once, in the session before its first worker: what every worker would otherwise repeat.
    torch.optim imports torch._dynamo on its first use, about 4 s on this machine kind; the
    recorded environment queries torch's inter-op pool, so it is collected in a fork."""
    import torch._dynamo  # noqa: F401  (imported for its side effect: loaded once, here)

    config._seqbench_machine_info = {"seqbench": in_fork(env.collect, device)}


def run_item(item: pytest.Item, processes: list[int | None]) -> None:
    """pytest's run-test protocol for one item, once per process index, each in a worker."""
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for process in processes:
        for report in _run_in_worker(item, process):
            ihook.pytest_runtest_logreport(report=report)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)


def _run_in_worker(item: pytest.Item, process: int | None) -> list[TestReport]:
    config = item.config
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: run the item, send its reports and benchmark, exit at once
        os.close(read_fd)
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the worker outright
            config.seqbench_process = process
            reports = runtestprotocol(item, log=False, nextitem=None)
            bench = config.seqbench_worker_benchmark
            payload = {
                "reports": [
                    config.hook.pytest_report_to_serializable(config=config, report=r)
                    for r in reports
                ],
                "benchmark": bench,
            }
            os.write(write_fd, json.dumps(payload, default=str).encode())
            code = 0
        finally:
            os._exit(code)  # no atexit, no pytest teardown: those belong to the parent
    os.close(write_fd)
    try:
        data = _read_all(read_fd)
        code = _wait(pid)
    except KeyboardInterrupt:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait(pid)
        raise
    if code != 0 or not data:
        return [_worker_died(item, process, code)]
    payload = json.loads(data)
    if payload.get("benchmark"):
        config._benchmarksession.benchmarks.append(_metadata(payload["benchmark"]))
    return [
        config.hook.pytest_report_from_serializable(config=config, data=r)
        for r in payload["reports"]
    ]


def _worker_died(item: pytest.Item, process: int | None, code: int) -> TestReport:
    """A worker killed mid-cell (the OOM killer, a segfault): record the cell as crashed and
    go on with the next one; the session itself is unharmed."""
    why = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    cells_dir = getattr(item.config, "seqbench_cells_dir", None)
    if cells_dir is not None:
        running = records.read_running(cells_dir) or {}
        records.write_unmeasured(
            cells_dir,
            item.nodeid,
            running.get("config") or {},
            "crashed",
            f"worker process {why}",
            process=process,
        )
        records.clear_running(cells_dir)
    print(
        f"seqbench: cell crashed: {records.run_key(item.nodeid, process)} (worker process "
        f"{why}); continuing",
        file=sys.stderr,
    )
    return TestReport(
        item.nodeid,
        item.location,
        {},
        "failed",
        f"seqbench worker process {why}",
        "call",
    )


def _metadata(entry: dict[str, Any]) -> Metadata:
    """pytest-benchmark's Metadata rebuilt from a worker's `as_dict()`, so the parent's
    session writes it to the JSON file and the terminal table like its own."""
    process = (entry.get("extra_info") or {}).get("worker_process")
    fixture = SimpleNamespace(
        # The terminal table tells a cell's processes apart by name; fullname stays the node id.
        name=records.run_key(entry["name"], process),
        fullname=entry["fullname"],
        group=entry.get("group"),
        param=entry.get("param"),
        params=entry.get("params"),
        extra_info=entry.get("extra_info") or {},
        cprofile_stats=None,
        has_error=False,
    )
    stats = entry["stats"]
    meta = Metadata(fixture, iterations=stats.get("iterations", 1), options=entry["options"])
    meta.stats.data.extend(stats["data"])  # already per iteration
    return meta
