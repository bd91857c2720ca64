"""Per-cell records: each finished cell is on disk, atomically, as soon as it finishes.

A run folder holds:
  run.json              the manifest: profile and overrides, so --resume runs the same sweep
  cells/<key>.json      one record per finished cell (any status), written atomically
  cells/running.json    the cell in progress (so the supervisor can name a crashed cell); a
                        cluster job, one of several writing into the same cells/, keeps its
                        own marker instead (jobs/<tag>/running.json, --seqbench-running-file)
  benchmarks-<n>.json   pytest-benchmark's own JSON, one per pytest attempt that ended

A record has the shape of a pytest-benchmark entry ({"cell_record": {name, fullname, stats,
extra_info}}) so the result loader reads both alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from seqbench.schema import make_record

RUNNING = "running.json"
# Where this process's running marker goes when it is not cells/running.json: set once by the
# pytest plugin from --seqbench-running-file, so the forked workers (launchers/workers.py),
# which call these functions with the cells folder only, use the job's own marker.
_running_file: Path | None = None


def use_running_file(path: Path | None) -> None:
    """Make `path` this process's running marker (None: cells/running.json)."""
    global _running_file
    _running_file = path


def running_path(cells_dir: Path, marker: Path | None = None) -> Path:
    """The running marker: `marker` if given, else the process's (use_running_file), else
    cells/running.json."""
    return marker or _running_file or cells_dir / RUNNING


def cell_key(nodeid: str) -> str:
    return hashlib.sha1(nodeid.encode()).hexdigest()[:16]


def run_key(nodeid: str, process: int | None = None) -> str:
    """What a record finishes: a node id, or one worker process of a timing cell measured
    in several (launchers/workers.py)."""
    return nodeid if process is None else f"{nodeid}@p{process}"


def write_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_cell(
    cells_dir: Path,
    nodeid: str,
    entry: dict[str, Any],
    status: str,
    message: str | None = None,
    machine_info: dict[str, Any] | None = None,
    process: int | None = None,
    job: dict[str, Any] | None = None,
) -> Path:
    """One finished cell, or one worker process of it. `machine_info` is pytest-benchmark's
    environment block (the same the run's JSON gets at its end), so a run cut short before
    its JSON is written still says where each cell was measured. `job` names the scheduler's
    job (id, state) that a cluster launcher saw end during the cell."""
    key = run_key(nodeid, process)
    path = cells_dir / f"{cell_key(key)}.json"
    record = {
        "cell_record": entry,
        "status": status,
        "message": message,
        "finished_unix_s": time.time(),
    }
    if process is not None:
        record["run_key"] = key
    if machine_info:
        record["machine_info"] = machine_info
    if job:
        record["job"] = job
    write_atomic(path, record)
    return path


def write_unmeasured(
    cells_dir: Path,
    nodeid: str,
    config: dict[str, Any],
    status: str,
    message: str,
    metrics: dict[str, Any] | None = None,
    process: int | None = None,
    job: dict[str, Any] | None = None,
) -> Path:
    """Record a cell that produced no measurement (skipped, crashed, timed out), in the same
    shape as a measured one so the loader reads it alike."""
    extra = make_record(
        config, config.get("family", "unknown"), "none", metrics or {}, status=status
    )
    extra["message"] = message
    if process is not None:
        extra["worker_process"] = process
    if job:
        extra["job"] = job
    entry = {"name": nodeid.split("::")[-1], "fullname": nodeid, "stats": None, "extra_info": extra}
    return write_cell(cells_dir, nodeid, entry, status, message, process=process, job=job)


# Message prefix of a cell stopped by a signal to the supervisor (SIGTERM, SIGHUP): the cell
# did nothing wrong, so a resumed run measures it again.
INTERRUPTED_BY = "interrupted by "


def forget_interrupted(cells_dir: Path, only: set[str] | None = None) -> list[str]:
    """Remove the records of interrupted cells (of the run keys in `only`, if given); return
    their node ids."""
    forgotten = []
    for path in cells_dir.glob("*.json") if cells_dir.is_dir() else ():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("cell_record"), dict):
            continue
        key = data.get("run_key") or data["cell_record"].get("fullname")
        if only is not None and key not in only:
            continue
        if str(data.get("message") or "").startswith(INTERRUPTED_BY):
            path.unlink()
            forgotten.append(data["cell_record"].get("fullname", path.stem))
    return forgotten


def read_records(cells_dir: Path) -> dict[str, dict[str, Any]]:
    """run key → the whole record, for every finished cell in the folder."""
    found: dict[str, dict[str, Any]] = {}
    for path in cells_dir.glob("*.json") if cells_dir.is_dir() else ():
        if path.name == RUNNING:
            continue
        try:
            data = json.loads(path.read_text())
            found[data.get("run_key") or data["cell_record"]["fullname"]] = data
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a foreign or damaged file is not a finished cell
    return found


def finished_nodeids(cells_dir: Path) -> dict[str, str]:
    """run key (the node id, or node id and worker process) → status of every finished cell
    in the folder."""
    done: dict[str, str] = {}
    if not cells_dir.is_dir():
        return done
    for path in cells_dir.glob("*.json"):
        if path.name == RUNNING:
            continue
        try:
            data = json.loads(path.read_text())
            done[data.get("run_key") or data["cell_record"]["fullname"]] = data["status"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a foreign or damaged file is not a finished cell
    return done


def mark_running(
    cells_dir: Path,
    nodeid: str,
    timeout_s: float | None,
    config: dict[str, Any],
    process: int | None = None,
    marker: Path | None = None,
) -> None:
    write_atomic(
        running_path(cells_dir, marker),
        {
            "nodeid": nodeid,
            "process": process,
            "started_unix_s": time.time(),
            "timeout_s": timeout_s,
            "pid": os.getpid(),  # the worker process running the cell
            "pgid": os.getpgrp(),  # the pytest session's group: the worker and its parent
            "config": config,
        },
    )


def read_running(cells_dir: Path, marker: Path | None = None) -> dict[str, Any] | None:
    try:
        return json.loads(running_path(cells_dir, marker).read_text())
    except (OSError, ValueError):
        return None


def clear_running(cells_dir: Path, marker: Path | None = None) -> None:
    running_path(cells_dir, marker).unlink(missing_ok=True)
