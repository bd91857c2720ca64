"""seqbench's pytest plugin, which the pytest11 entry point loads into every pytest run in
the environment.

This module only adds seqbench's options. It imports no torch and changes nothing in a
session until seqbench is in it: its benchmark definitions are collected (benchmarks/conftest.py
calls `activate`) or a --seqbench-* option is given on the command line. Then it loads
seqbench.pytest_session, which selects the cells, records each one and runs them in worker
processes. So installing seqbench leaves other projects' pytest runs, and pytest-benchmark's
machine_info in them, as they were. SEQBENCH_PROFILE and SEQBENCH_DEVICE in the environment
apply once seqbench is in the session; alone they do not bring it in.
"""

from __future__ import annotations

import pytest

# The name seqbench's session plugin is registered under (its module's name).
SESSION_PLUGIN = "seqbench.pytest_session"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("seqbench")
    group.addoption(
        "--seqbench-profile",
        default=None,
        help="benchmark profile, one of those `seqbench run --help` lists (env "
        "SEQBENCH_PROFILE; default: seqbench run's with --benchmark-only, else smoke)",
    )
    group.addoption("--seqbench-models", default=None, help="comma-separated models to keep")
    group.addoption(
        "--seqbench-impls", default=None, help="comma-separated implementations to keep"
    )
    group.addoption("--seqbench-tasks", default=None, help="comma-separated tasks to keep")
    group.addoption("--seqbench-families", default=None, help="comma-separated families")
    group.addoption(
        "--seqbench-seq-lens",
        default=None,
        help="comma-separated sequence lengths replacing the profile's",
    )
    group.addoption("--seqbench-seeds", default=None, help="comma-separated seeds to keep")
    group.addoption(
        "--seqbench-device",
        default=None,
        help="cpu or cuda for every cell (env SEQBENCH_DEVICE)",
    )
    group.addoption(
        "--seqbench-threads", type=int, default=None, help="torch intra-op threads for every cell"
    )
    group.addoption(
        "--seqbench-lr", type=float, default=None, help="Adam learning rate for every cell"
    )
    group.addoption(
        "--seqbench-plan",
        default=None,
        help="a run folder's run.json: run exactly its planned cells, with its settings "
        "(used by `seqbench run`; the selection options above then do not apply)",
    )
    group.addoption(
        "--seqbench-fork",
        action="store_true",
        default=False,
        help="run every item in a fresh worker process forked from this session, and each "
        "timing cell in as many as its `processes` (used by `seqbench run`)",
    )
    group.addoption(
        "--seqbench-cells-dir",
        default=None,
        help="write each finished cell's record here at once, and skip cells "
        "that already have one (used by `seqbench run` and --resume)",
    )
    group.addoption(
        "--seqbench-running-file",
        default=None,
        help="where the cell in progress is marked (default: running.json in the cells "
        "folder); a cluster job, one of several sharing the cells folder, passes its own",
    )
    group.addoption(
        "--seqbench-cell-timeout",
        type=float,
        default=None,
        help="seconds a cell may run before the supervisor stops it",
    )
    group.addoption(
        "--seqbench-max-mem",
        type=int,
        default=None,
        help="memory budget in bytes: cells estimated above it are skipped",
    )
    group.addoption(
        "--seqbench-cell-mem-limit",
        type=int,
        default=None,
        help="address-space limit in bytes for each memory probe's own process",
    )


def pytest_configure(config: pytest.Config) -> None:
    options = {k: v for k, v in vars(config.option).items() if k.startswith("seqbench_")}
    if any(v is not None and v is not False for v in options.values()):  # one was given
        activate(config)


def activate(config: pytest.Config) -> None:
    """Load seqbench's session plugin into this session, once. It is loaded here, on demand,
    and not imported at the top of this module because it imports torch (seconds), which a
    pytest run that has nothing of seqbench's must neither pay for nor find in sys.modules."""
    config.pluginmanager.import_plugin(SESSION_PLUGIN)
