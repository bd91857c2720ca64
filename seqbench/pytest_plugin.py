"""seqbench's pytest plugin (registered through the pytest11 entry point).

It adds the options that select a profile, and records the environment through
pytest-benchmark's own hooks, so pytest-benchmark's JSON, storage and comparison keep working
unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from seqbench import env
from seqbench.config import CellConfig
from seqbench.errors import SeqbenchError
from seqbench.launchers import records
from seqbench.profiles import DEFAULT_PROFILE, PROFILES, Overrides, build_cells, split_csv
from seqbench.schema import SCHEMA_VERSION


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("seqbench")
    group.addoption(
        "--seqbench-profile",
        default=os.environ.get("SEQBENCH_PROFILE"),
        help=f"benchmark profile: {', '.join(PROFILES)} (env SEQBENCH_PROFILE; "
        f"default {DEFAULT_PROFILE} with --benchmark-only, else smoke)",
    )
    group.addoption("--seqbench-models", default=None, help="comma-separated models to keep")
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
        default=os.environ.get("SEQBENCH_DEVICE"),
        help="cpu or cuda for every cell (env SEQBENCH_DEVICE)",
    )
    group.addoption(
        "--seqbench-threads", type=int, default=None, help="torch intra-op threads for every cell"
    )
    group.addoption(
        "--seqbench-lr", type=float, default=None, help="Adam learning rate for every cell"
    )
    group.addoption(
        "--seqbench-cells-dir",
        default=None,
        help="write each finished cell's record here at once, and skip cells "
        "that already have one (used by `seqbench run` and --resume)",
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


def profile_name(config: pytest.Config) -> str:
    """The profile in force. A plain `pytest` run (the test command) runs the benchmark
    definitions once at smoke size as tests; `pytest --benchmark-only` measures quick."""
    chosen = config.getoption("--seqbench-profile")
    if chosen:
        return chosen
    return DEFAULT_PROFILE if config.getoption("benchmark_only", False) else "smoke"


def overrides(config: pytest.Config) -> Overrides:
    def integers(option: str) -> tuple[int, ...]:
        values = split_csv(config.getoption(option))
        try:
            return tuple(int(v) for v in values)
        except ValueError:
            raise pytest.UsageError(f"{option} takes integers, got {values}") from None

    extra: dict[str, Any] = {}
    # Validation knob for the regression detector (README, "Checking the detector").
    if os.environ.get("SEQBENCH_INJECT_SLOWDOWN"):
        extra["inject_slowdown"] = float(os.environ["SEQBENCH_INJECT_SLOWDOWN"])
    if config.getoption("--seqbench-cell-mem-limit"):
        extra["probe_mem_limit_bytes"] = config.getoption("--seqbench-cell-mem-limit")
    return Overrides(
        models=split_csv(config.getoption("--seqbench-models")),
        tasks=split_csv(config.getoption("--seqbench-tasks")),
        families=split_csv(config.getoption("--seqbench-families")),
        seq_lens=integers("--seqbench-seq-lens"),
        seeds=integers("--seqbench-seeds"),
        device=config.getoption("--seqbench-device"),
        threads=config.getoption("--seqbench-threads"),
        lr=config.getoption("--seqbench-lr"),
        extra=extra,
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.seqbench_cells = build_cells(profile_name(config), overrides(config))
    except SeqbenchError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_benchmark_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    machine_info.pop("node", None)  # the hostname: not ours to publish
    device = config.getoption("--seqbench-device") or "cpu"
    machine_info["seqbench"] = env.collect(device)


def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: list, output_json: dict[str, Any]
) -> None:
    output_json["seqbench"] = {"schema_version": SCHEMA_VERSION, "profile": profile_name(config)}


# --- per-cell persistence (README, "Long sweeps") -------------------------------------------


def _cells_dir(config: pytest.Config) -> Path | None:
    value = config.getoption("--seqbench-cells-dir")
    return Path(value) if value else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cells_dir = _cells_dir(config)
    if cells_dir is None:
        return
    budget = config.getoption("--seqbench-max-mem")
    if budget:
        from seqbench.launchers.preflight import skip_over_budget

        pending = [(i.nodeid, _cell(i)) for i in items if _cell(i) is not None]
        skipped = skip_over_budget(pending, budget, cells_dir)
        for nodeid in skipped:
            print(f"seqbench: skipped {nodeid}: over the memory budget")
    done = records.finished_nodeids(cells_dir)
    keep = [item for item in items if item.nodeid not in done]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i.nodeid in done])
        items[:] = keep


def _cell(item: pytest.Item) -> CellConfig | None:
    callspec = getattr(item, "callspec", None)
    cell = callspec.params.get("cell") if callspec else None
    return cell if isinstance(cell, CellConfig) else None  # an empty family has no cell


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    cells_dir = _cells_dir(item.config)
    if cells_dir is not None and not ("cell" in item.fixturenames and _cell(item) is None):
        cell = _cell(item)
        timeout = (
            cell.timeout_s
            if cell is not None and cell.timeout_s
            else item.config.getoption("--seqbench-cell-timeout")
        )
        records.mark_running(
            cells_dir, item.nodeid, timeout, cell.to_dict() if cell is not None else {}
        )


def _failure_status(excinfo: pytest.ExceptionInfo) -> tuple[str, str]:
    from seqbench.scenarios.memory import MemoryProbeFailed

    exc = excinfo.value
    message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if isinstance(exc, MemoryProbeFailed | MemoryError):
        return "crashed", message
    return "error", message


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    cells_dir = _cells_dir(item.config)
    if cells_dir is None or report.when == "teardown":
        return
    if report.when == "setup" and report.passed:
        return
    if "cell" in item.fixturenames and _cell(item) is None:
        return  # a family the profile leaves empty: no cell, nothing to record
    bench = item.funcargs.get("benchmark") if hasattr(item, "funcargs") else None
    meta = getattr(bench, "stats", None)
    if meta is not None and meta.stats.data:  # a cell that failed mid-measurement has none
        entry = meta.as_dict(include_data=True)
    else:
        entry = {
            "name": item.name,
            "fullname": item.nodeid,
            "stats": None,
            "extra_info": dict(getattr(bench, "extra_info", {}) or {}),
        }
    entry["fullname"] = item.nodeid
    # pytest-benchmark's JSON writer turns parameters into strings; do the same, readably.
    entry["params"] = {
        k: (v.cell_id if hasattr(v, "cell_id") else str(v))
        for k, v in (entry.get("params") or {}).items()
    }
    message = None
    if report.passed:
        status = entry["extra_info"].get("status", "ok")
    elif report.skipped:
        status, message = "skipped", str(report.longrepr[-1]) if report.longrepr else None
    else:
        status, message = _failure_status(call.excinfo)
    if "schema_version" not in entry["extra_info"]:
        from seqbench.schema import make_record

        cell = _cell(item)
        entry["extra_info"] = make_record(
            cell.to_dict() if cell else {},
            cell.family if cell else "unknown",
            "none",
            {},
            status=status,
        )
    entry["extra_info"]["status"] = status
    if message:
        entry["extra_info"]["message"] = message
    records.write_cell(
        cells_dir, item.nodeid, entry, status, message, machine_info=_machine_info(item.config)
    )
    records.clear_running(cells_dir)


def _machine_info(config: pytest.Config) -> dict[str, Any]:
    """The environment block of this session's cell records, collected once."""
    if not hasattr(config, "_seqbench_machine_info"):
        device = config.getoption("--seqbench-device") or "cpu"
        config._seqbench_machine_info = {"seqbench": env.collect(device)}
    return config._seqbench_machine_info
