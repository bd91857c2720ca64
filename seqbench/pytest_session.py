"""seqbench's pytest session: what the entry-point plugin (seqbench/pytest_plugin.py) loads
once seqbench is in a pytest session, that is, its benchmark definitions are collected or a
--seqbench-* option is given.

It selects the cells to run: a run folder's plan (`--seqbench-plan`, what `seqbench run`
passes), or a profile and overrides given as pytest options (a direct `pytest` run). It
records the environment through pytest-benchmark's own hooks, so pytest-benchmark's JSON,
storage and comparison keep working unchanged. With `--seqbench-fork` every item runs in
worker processes (launchers/workers.py), in the plan's order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from seqbench import env
from seqbench.config import CellConfig
from seqbench.errors import SeqbenchError
from seqbench.extensions import load_extensions
from seqbench.launchers import records, workers
from seqbench.launchers.plan import (
    BENCHMARKS_DIR,
    PlannedCell,
    make_plan,
    plan_from_json,
    planned_cells,
    validation_knobs,
)
from seqbench.launchers.preflight import skip_over_budget
from seqbench.profiles import DEFAULT_PROFILE, Overrides, build_cells, split_csv
from seqbench.scenarios.ceiling import matmul_ceiling_flop_per_s
from seqbench.scenarios.memory import MemoryProbeFailed
from seqbench.schema import SCHEMA_VERSION, make_record


def profile_name(config: pytest.Config) -> str:
    """The profile in force. A plain `pytest` run (the test command) runs the benchmark
    definitions once at smoke size as tests; `pytest --benchmark-only` measures quick."""
    chosen = config.getoption("--seqbench-profile") or os.environ.get("SEQBENCH_PROFILE")
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

    extra: dict[str, Any] = validation_knobs()  # README, "Checking the detector"
    if config.getoption("--seqbench-cell-mem-limit"):
        extra["probe_mem_limit_bytes"] = config.getoption("--seqbench-cell-mem-limit")
    return Overrides(
        models=split_csv(config.getoption("--seqbench-models")),
        impls=split_csv(config.getoption("--seqbench-impls")),
        tasks=split_csv(config.getoption("--seqbench-tasks")),
        families=split_csv(config.getoption("--seqbench-families")),
        seq_lens=integers("--seqbench-seq-lens"),
        seeds=integers("--seqbench-seeds"),
        device=config.getoption("--seqbench-device") or os.environ.get("SEQBENCH_DEVICE"),
        threads=config.getoption("--seqbench-threads"),
        lr=config.getoption("--seqbench-lr"),
        extra=extra,
    )


def _manifest(path: str) -> dict[str, Any]:
    try:
        manifest = json.loads(Path(path).read_text())
        plan_from_json(manifest.get("plan"))
    except (OSError, ValueError, SeqbenchError) as exc:
        raise pytest.UsageError(f"cannot read the plan in {path}: {exc}") from None
    return manifest


def pytest_configure(config: pytest.Config) -> None:
    config.seqbench_process = None  # set in a worker measuring one process of a timing cell
    config.seqbench_worker_benchmark = None  # a worker's benchmark entry, for its parent
    config.seqbench_matmul_ceiling = None  # FLOP/s, measured once in a fork (worker mode)
    config.seqbench_cells_dir = _cells_dir(config)
    running_file = config.getoption("--seqbench-running-file")
    records.use_running_file(Path(running_file) if running_file else None)
    plan_path = config.getoption("--seqbench-plan")
    try:
        load_extensions()  # user-registered models and tasks, before the plan names them
        if plan_path:
            manifest = _manifest(plan_path)
            plan = plan_from_json(manifest["plan"])
            config.seqbench_cell_timeout = manifest.get("timeout_s")
            # The run's own profile: no --seqbench-profile is given with a plan, and the
            # default would label a long run's JSON "quick".
            config.seqbench_profile = manifest.get("profile") or profile_name(config)
        else:
            config.seqbench_profile = profile_name(config)
            plan = make_plan(build_cells(config.seqbench_profile, overrides(config)))
            config.seqbench_cell_timeout = config.getoption("--seqbench-cell-timeout")
    except SeqbenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.seqbench_plan = plan
    config.seqbench_cells = planned_cells(plan)
    config.seqbench_collected = False  # whether any benchmark definition was collected


def _pending(config: pytest.Config) -> dict[str, list[int | None]]:
    """node id → the worker processes of it still without a record."""
    done = records.finished_nodeids(config.seqbench_cells_dir) if config.seqbench_cells_dir else {}
    pending: dict[str, list[int | None]] = {}
    entry: PlannedCell
    for entry in config.seqbench_plan:
        if entry.run_key not in done:
            pending.setdefault(entry.nodeid, []).append(entry.process)
    return pending


def pytest_benchmark_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    if not config.seqbench_collected:
        return  # a session of other benchmarks, given a --seqbench-* option: not ours
    machine_info.pop("node", None)  # the hostname: not ours to publish
    machine_info.update(_machine_info(config))  # the block every cell record carries


def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: list, output_json: dict[str, Any]
) -> None:
    if config.seqbench_collected:
        output_json["seqbench"] = {
            "schema_version": SCHEMA_VERSION,
            "profile": config.seqbench_profile,
        }


# --- per-cell persistence (README, "Long sweeps") -------------------------------------------


def _cells_dir(config: pytest.Config) -> Path | None:
    value = config.getoption("--seqbench-cells-dir")
    return Path(value) if value else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cells_dir = config.seqbench_cells_dir
    budget = config.getoption("--seqbench-max-mem")
    if cells_dir is not None and budget and not config.getoption("--seqbench-plan"):
        pending = [(i.nodeid, _cell(i)) for i in items if _cell(i) is not None]
        skipped = skip_over_budget(pending, budget, cells_dir)
        for nodeid in skipped:
            print(f"seqbench: skipped {nodeid}: over the memory budget")
    config.seqbench_collected = any(_is_benchmark(i) for i in items)
    if config.getoption("--seqbench-plan"):
        collected = {i.nodeid for i in items if _is_benchmark(i)}
        missing = [p.nodeid for p in config.seqbench_plan if p.nodeid not in collected]
        if missing:
            raise pytest.UsageError(
                f"the plan names {len(missing)} items the benchmark definitions do not have "
                f"(first: {missing[0]}); were they renamed since the run started?"
            )
    config.seqbench_pending = pending = _pending(config)
    # Only the benchmark definitions follow the plan; any other test (the unit tests, which
    # share this plugin through its entry point) runs as pytest chose.
    dropped = [i for i in items if _is_benchmark(i) and i.nodeid not in pending]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = {id(i) for i in dropped}
        items[:] = [i for i in items if id(i) not in gone]


def _is_benchmark(item: pytest.Item) -> bool:
    return Path(str(item.path)).resolve().parent == BENCHMARKS_DIR


# The worker process(es) of a benchmark item that the next pytest_runtest_protocol call runs.
PROCESSES = pytest.StashKey[list]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    """With --seqbench-fork the benchmark items run in the plan's order, one worker process at
    a time, so a timing cell's processes fall in the plan's rounds (launchers/plan.py), spread
    over the run, not back to back. Any other item runs first, as pytest runs it. Each step
    goes through pytest_runtest_protocol, so pytest's wrappers of it (warning capture,
    faulthandler) surround each worker as they did when pytest's own loop ran the items."""
    config = session.config
    if not config.getoption("--seqbench-fork") or config.option.collectonly:
        return None
    if session.testsfailed and not config.option.continue_on_collection_errors:
        return None  # pytest's own loop stops on the collection errors
    benchmarks = {i.nodeid: i for i in session.items if _is_benchmark(i)}
    others = [i for i in session.items if not _is_benchmark(i)]
    for index, item in enumerate(others):
        nextitem = others[index + 1] if index + 1 < len(others) else None
        config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        _stop_if_asked(session)
    pending = config.seqbench_pending
    for entry in config.seqbench_plan:
        if entry.nodeid in benchmarks and entry.process in pending.get(entry.nodeid, ()):
            item = benchmarks[entry.nodeid]
            item.stash[PROCESSES] = [entry.process]
            config.hook.pytest_runtest_protocol(item=item, nextitem=None)
            _stop_if_asked(session)
    return True


def _stop_if_asked(session: pytest.Session) -> None:
    """What pytest's own loop does after each item (-x, --maxfail)."""
    if session.shouldfail:
        raise session.Failed(session.shouldfail)
    if session.shouldstop:
        raise session.Interrupted(session.shouldstop)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if not item.config.getoption("--seqbench-fork") or not _is_benchmark(item):
        return None  # pytest runs the item in this process, once
    config = item.config
    device = _device(config)
    if not hasattr(config, "_seqbench_machine_info"):
        workers.prepare_session(config, device)
    if "matmul_ceiling" in item.fixturenames and config.seqbench_matmul_ceiling is None:
        config.seqbench_matmul_ceiling = workers.in_fork(matmul_ceiling_flop_per_s, device)
    processes = item.stash.get(PROCESSES, None) or config.seqbench_pending.get(item.nodeid, [None])
    workers.run_item(item, processes)
    return True


def _cell(item: pytest.Item) -> CellConfig | None:
    callspec = getattr(item, "callspec", None)
    cell = callspec.params.get("cell") if callspec else None
    return cell if isinstance(cell, CellConfig) else None  # an empty family has no cell


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    cells_dir = item.config.seqbench_cells_dir
    if cells_dir is not None and not ("cell" in item.fixturenames and _cell(item) is None):
        cell = _cell(item)
        timeout = (
            cell.timeout_s
            if cell is not None and cell.timeout_s
            else item.config.seqbench_cell_timeout
        )
        records.mark_running(
            cells_dir,
            item.nodeid,
            timeout,
            cell.to_dict() if cell is not None else {},
            process=item.config.seqbench_process,
        )


def _failure_status(excinfo: pytest.ExceptionInfo) -> tuple[str, str]:
    exc = excinfo.value
    message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if isinstance(exc, MemoryProbeFailed | MemoryError):
        return "crashed", message
    return "error", message


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    cells_dir = item.config.seqbench_cells_dir
    if cells_dir is None or report.when == "teardown":
        return
    if report.when == "setup" and report.passed:
        return
    if "cell" in item.fixturenames and _cell(item) is None:
        return  # a family the profile leaves empty: no cell, nothing to record
    bench = item.funcargs.get("benchmark") if hasattr(item, "funcargs") else None
    meta = getattr(bench, "stats", None)
    process = item.config.seqbench_process
    if meta is not None and meta.stats.data:  # a cell that failed mid-measurement has none
        entry = meta.as_dict(include_data=True)
        item.config.seqbench_worker_benchmark = entry  # a worker's parent adds it to its JSON
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
    if process is not None:
        entry["extra_info"]["worker_process"] = process
    records.write_cell(
        cells_dir,
        item.nodeid,
        entry,
        status,
        message,
        machine_info=_machine_info(item.config),
        process=process,
    )
    records.clear_running(cells_dir)


def _machine_info(config: pytest.Config) -> dict[str, Any]:
    """The environment block of this session's cell records, collected once."""
    if not hasattr(config, "_seqbench_machine_info"):
        config._seqbench_machine_info = {"seqbench": env.collect(_device(config))}
    return config._seqbench_machine_info | _job_info()


def _device(config: pytest.Config) -> str:
    """The session's device: its planned cells' (a plan carries no --seqbench-device)."""
    return config.seqbench_cells[0].device if config.seqbench_cells else "cpu"


def _job_info() -> dict[str, Any]:
    """The cluster job this session runs in (launchers/cluster/job.py sets the variables), so
    each record says which job and which host measured it: the report and compare warn when
    one run's cells came from different machines. The host is a digest, not its name."""
    job_id = os.environ.get("SEQBENCH_JOB_ID")
    if not job_id:
        return {}
    return {
        "seqbench_job": {
            "launcher": os.environ.get("SEQBENCH_LAUNCHER"),
            "job_id": job_id,
            "host_id": os.environ.get("SEQBENCH_HOST_ID"),
        }
    }
