"""Per-cell records: each finished cell is on disk, atomically, as soon as it finishes.

A run folder holds:
  run.json              the manifest: profile and overrides, so --resume runs the same sweep
  cells/<key>.json      one record per finished cell (any status), written atomically
  cells/running.json    the cell in progress (so the supervisor can name a crashed cell); a
                        cluster job, one of several writing into the same cells/, keeps its
                        own marker instead (jobs/<tag>/running.json, --seqbench-running-file)
  benchmarks-<n>.json   pytest-benchmark's own JSON, one per pytest attempt that ended (a
                        cluster job's: benchmarks-job<id>-<n>.json)

A record is written in full the moment its cell ends: it has the shape of a pytest-benchmark
entry ({"cell_record": {name, fullname, stats, extra_info}}) so the result loader reads both
alike, and the environment (machine_info), so a run killed before pytest-benchmark wrote its
JSON loses nothing. Each measured cell is stored once, not twice: once an attempt's JSON is
complete and on disk (parsed, fsynced), the launcher turns each record whose measurement
that JSON holds into a stub (`slim_records`, through RunFolder.compact):

  {"cell_record": {name, fullname}, "status", "message", "finished_unix_s", "run_key",
   "entry_in": "benchmarks-<n>.json"}

The stub keeps what resuming and `seqbench status` read (run key, status, message); the
entry, with its stats and series, is read from the JSON it names (results/load.py). Records
of cells that produced no measurement (skipped, crashed, timed out: in no JSON) stay whole.
Folders written before stubs existed hold full records beside their JSON, and still load.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from seqbench.schema import ENTRY_IN, make_record, run_key

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


def record_stem(nodeid: str) -> str:
    """The file name (without .json) of the record of a run key: node ids are too long and
    hold characters a file name must not."""
    return hashlib.sha1(nodeid.encode()).hexdigest()[:16]


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
    path = cells_dir / f"{record_stem(key)}.json"
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


# --- one copy of each measurement: records slimmed to stubs once their JSON is on disk ------


def is_stub(record: Any) -> bool:
    """Whether `record` is a stub whose entry is in a pytest-benchmark JSON (ENTRY_IN)."""
    return isinstance(record, dict) and isinstance(record.get(ENTRY_IN), str)


def entry_run_key(entry: dict[str, Any]) -> str:
    """The run key of a pytest-benchmark entry written by seqbench (its record's key)."""
    process = (entry.get("extra_info") or {}).get("worker_process")
    return run_key(entry["fullname"], process)


def _same_measurement(record_entry: dict[str, Any], json_entry: dict[str, Any]) -> bool:
    """The JSON holds the record's measurement: the same seqbench record (config, metrics,
    series, status) and the same rounds. Labels may differ (pytest-benchmark's table names a
    worker process's entry name@pN) and the statistics derive from the rounds."""
    data = (record_entry.get("stats") or {}).get("data")
    return (
        bool(data)
        and data == (json_entry.get("stats") or {}).get("data")
        and record_entry.get("extra_info") == json_entry.get("extra_info")
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_durable_json(path: Path) -> dict[str, Any] | None:
    """A finished pytest-benchmark JSON, first forced onto the disk (pytest-benchmark writes
    it without fsync): file and folder entry. None if it is empty (an attempt killed before
    its end), truncated or not pytest-benchmark's."""
    try:
        if path.stat().st_size == 0:
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(path.parent)
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        return None
    return data


def stub(record: dict[str, Any], json_name: str) -> dict[str, Any]:
    """The stub of a full record whose entry the JSON `json_name` holds."""
    entry = record["cell_record"]
    lean = {k: v for k, v in record.items() if k not in ("cell_record", "machine_info")}
    lean["cell_record"] = {"name": entry.get("name"), "fullname": entry.get("fullname")}
    lean["run_key"] = record.get("run_key") or entry["fullname"]
    lean[ENTRY_IN] = json_name
    return lean


def slim_records(cells_dir: Path, json_path: Path) -> int:
    """Turn the full records of `cells_dir` whose measurement the pytest-benchmark JSON
    `json_path` (in the run folder, beside cells/) holds into stubs naming it; return how
    many. Nothing is slimmed unless the JSON is complete and on disk first, so a crash at
    any point leaves each measurement in a record or in the JSON. A record that cannot be
    read or rewritten stays as it is."""
    if json_path.parent.resolve() != cells_dir.parent.resolve():
        raise ValueError(f"{json_path} is not in the run folder of {cells_dir}")
    data = read_durable_json(json_path)
    if data is None:
        return 0
    held: dict[str, dict[str, Any]] = {}
    for entry in data["benchmarks"]:
        if isinstance(entry, dict) and isinstance(entry.get("fullname"), str):
            held[entry_run_key(entry)] = entry
    slimmed = 0
    for key, entry in held.items():
        path = cells_dir / f"{record_stem(key)}.json"
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # no record (not seqbench's entry), or a damaged one: leave it
        if not isinstance(record, dict) or is_stub(record):
            continue
        if (record.get("run_key") or (record.get("cell_record") or {}).get("fullname")) != key:
            continue
        if not _same_measurement(record.get("cell_record") or {}, entry):
            continue  # measured again since (or not this measurement): the record stays
        try:
            write_atomic(path, stub(record, json_path.name))
        except OSError:
            continue  # a full disk: the full record stays, which loses nothing
        slimmed += 1
    return slimmed
