"""Per-cell records: each finished cell is on disk, atomically, as soon as it finishes.

A run folder holds:
  run.json              the manifest: profile and overrides, so --resume runs the same sweep
  cells/<key>.json      one record per finished cell (any status), written atomically
  cells/running.json    the cell in progress (so the supervisor can name a crashed cell)
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

RUNNING = "running.json"


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
) -> Path:
    """One finished cell, or one worker process of it. `machine_info` is pytest-benchmark's
    environment block (the same the run's JSON gets at its end), so a run cut short before
    its JSON is written still says where each cell was measured."""
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
) -> Path:
    """Record a cell that produced no measurement (skipped, crashed, timed out), in the same
    shape as a measured one so the loader reads it alike."""
    from seqbench.schema import make_record

    extra = make_record(
        config, config.get("family", "unknown"), "none", metrics or {}, status=status
    )
    extra["message"] = message
    if process is not None:
        extra["worker_process"] = process
    entry = {"name": nodeid.split("::")[-1], "fullname": nodeid, "stats": None, "extra_info": extra}
    return write_cell(cells_dir, nodeid, entry, status, message, process=process)


# Message prefix of a cell stopped by a signal to the supervisor (SIGTERM, SIGHUP): the cell
# did nothing wrong, so a resumed run measures it again.
INTERRUPTED_BY = "interrupted by "


def forget_interrupted(cells_dir: Path) -> list[str]:
    """Remove the records of interrupted cells; return their node ids."""
    forgotten = []
    for path in cells_dir.glob("*.json") if cells_dir.is_dir() else ():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and str(data.get("message") or "").startswith(INTERRUPTED_BY):
            path.unlink()
            forgotten.append(data.get("cell_record", {}).get("fullname", path.stem))
    return forgotten


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
) -> None:
    write_atomic(
        cells_dir / RUNNING,
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


def read_running(cells_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((cells_dir / RUNNING).read_text())
    except (OSError, ValueError):
        return None


def clear_running(cells_dir: Path) -> None:
    (cells_dir / RUNNING).unlink(missing_ok=True)
