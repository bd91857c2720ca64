"""Read pytest-benchmark JSON files and seqbench's per-cell records into tidy DataFrames.

Inputs are files or folders. A folder contributes every pytest-benchmark JSON in it (any
depth) and every per-cell record under a ``cells/`` folder. An entry present both in a JSON
file and as a cell record of the same run is taken once, from the JSON.

A record is either full (the entry itself: a cell that produced no measurement, a run
killed before pytest-benchmark wrote its JSON, and every record of folders written before
stubs existed) or a stub naming the run folder's JSON that holds its entry
(seqbench/launchers/records.py). A stub's entry is read from that JSON, also when only the
``cells/`` folder is given; a stub whose JSON is missing or lacks its entry is a damaged
results folder, one line and exit 2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from seqbench.errors import SeqbenchError
from seqbench.schema import (
    CONFIG_FIELDS_ADDED,
    ENTRY_IN,
    KNOWN_SCHEMA_VERSIONS,
    current_metric_names,
    run_key,
)
# Configuration columns every entry row carries (CellConfig fields plus provenance).
CONFIG_COLUMNS = [
    "family",
    "measurement",
    "model",
    "impl",
    "task",
    "seq_len",
    "batch_size",
    "hidden_size",
    "input_size",
    "num_layers",
    "bidirectional",
    "dropout",
    "device",
    "dtype",
    "seed",
    "threads",
    "lr",
    "clip_grad_norm",
    "train_steps",
    "train_size",
]
# pytest-benchmark's per-entry statistics, renamed with their unit.
STATS_COLUMNS = {
    "median": "time_median_s",
    "iqr": "time_iqr_s",
    "mean": "time_mean_s",
    "stddev": "time_stddev_s",
    "min": "time_min_s",
    "max": "time_max_s",
    "rounds": "rounds_count",
}


@dataclass
class ResultSet:
    """Everything loaded from some result paths."""

    entries: pd.DataFrame  # one row per benchmark entry (cell × measurement)
    machines: dict[str, dict[str, Any]]  # run id → pytest-benchmark machine_info
    files: list[Path]
    # run id → every distinct machine_info its files and cell records carry: a cluster run's
    # jobs each record their own (analysis/provenance.py warns when they differ).
    run_machines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def metrics(self) -> pd.DataFrame:
        """Long format: one row per entry and metric, the configuration as columns."""
        rows = []
        keep = ["run", "run_key", "status", *CONFIG_COLUMNS]
        for rec in self.entries.to_dict("records"):
            base = {k: rec.get(k) for k in keep}
            for name, value in (rec.get("metrics") or {}).items():
                rows.append(base | {"metric": name, "value": value})
        columns = [*keep, "metric", "value"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
        return frame

    def series(self, name: str, step: str) -> pd.DataFrame:
        """Long format for one curve: rows of (configuration, step, value)."""
        rows = []
        keep = ["run", "run_key", *CONFIG_COLUMNS]
        for rec in self.entries.to_dict("records"):
            s = rec.get("series") or {}
            if name in s and step in s and s[name]:
                for x, y in zip(s[step], s[name], strict=False):
                    rows.append({k: rec.get(k) for k in keep} | {"step": x, "value": y})
        return pd.DataFrame(rows, columns=[*keep, "step", "value"])


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise SeqbenchError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SeqbenchError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None


def _check_schema(path: Path, extra: dict[str, Any]) -> None:
    version = extra.get("schema_version")
    if version not in KNOWN_SCHEMA_VERSIONS:
        raise SeqbenchError(
            f"{path}: seqbench schema version {version!r} is not one this "
            f"seqbench reads ({', '.join(map(str, KNOWN_SCHEMA_VERSIONS))})"
        )


def _entry_row(path: Path, run: str, bench: dict[str, Any]) -> dict[str, Any] | None:
    extra = bench.get("extra_info") or {}
    if "schema_version" not in extra:
        return None  # a plain pytest-benchmark entry that seqbench did not write
    _check_schema(path, extra)
    # Fields added since a record was written take the value their absence meant.
    config = CONFIG_FIELDS_ADDED | (extra.get("config") or {})
    row: dict[str, Any] = {
        "run": run,
        "file": str(path),
        "name": bench.get("name"),
        "fullname": bench.get("fullname"),
    }
    row.update({k: config.get(k) for k in CONFIG_COLUMNS})
    row["family"] = extra.get("family")
    row["measurement"] = extra.get("measurement")
    row["status"] = extra.get("status", "ok")
    stats = bench.get("stats") or {}
    row.update({col: stats.get(key) for key, col in STATS_COLUMNS.items()})
    row["round_times_s"] = stats.get("data")  # present when saved with include_data
    row["metrics"] = current_metric_names(extra["schema_version"], extra.get("metrics") or {})
    row["series"] = extra.get("series") or {}
    row["config"] = config
    # One row per worker process of a cell measured in several (schema 3): each is a sample.
    process = extra.get("worker_process")
    row["worker_process"] = process
    if process is not None:
        # pytest-benchmark's table names a cell's processes apart (name@pN); the cell's name
        # stays the cell's, and its key tells the processes apart.
        row["name"] = str(row["name"]).removesuffix(f"@p{process}")
        row["run_key"] = run_key(row["fullname"], process)
    else:
        row["run_key"] = run_key(row["fullname"])
    return row


def _load_benchmark_json(path: Path, data: dict[str, Any], run: str) -> list[dict[str, Any]]:
    top = data.get("seqbench")
    if top is not None:
        _check_schema(path, top)
    rows = [_entry_row(path, run, b) for b in data["benchmarks"]]
    return [r for r in rows if r is not None]


def _is_cell_record(data: Any) -> bool:
    return isinstance(data, dict) and "cell_record" in data


def _is_stub(data: Any) -> bool:
    """A cell record whose entry is in a pytest-benchmark JSON (records.ENTRY_IN)."""
    return _is_cell_record(data) and isinstance(data.get(ENTRY_IN), str)


def _stub_key(path: Path, data: dict[str, Any]) -> str:
    key = data.get("run_key") or (data.get("cell_record") or {}).get("fullname")
    if not isinstance(key, str):
        raise SeqbenchError(f"{path} is a damaged cell record (it names no cell)")
    return key


def _collect(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if not p.exists():
            raise SeqbenchError(f"no such file or folder: {p}")
        if p.is_dir():
            # run.json is a run's manifest (seqbench run), running.json a cell in progress.
            # A zero-byte JSON beside a run.json is the file a killed pytest attempt opened
            # and never filled: that run's finished cells are in its cells/ records.
            found = sorted(
                q
                for q in p.rglob("*.json")
                if q.is_file()
                and q.name not in ("run.json", "running.json")
                and not (q.stat().st_size == 0 and (q.parent / "run.json").exists())
            )
            if not found:
                raise SeqbenchError(f"{p} holds no result files (*.json)")
            files.extend(found)
        else:
            files.append(p)
    return files


def load_results(paths: list[str | Path]) -> ResultSet:
    """Load result files and folders; raise SeqbenchError with one line on bad input."""
    if not paths:
        raise SeqbenchError("no result paths given")
    files = _collect([Path(p) for p in paths])
    rows: list[dict[str, Any]] = []
    machines: dict[str, dict[str, Any]] = {}
    run_machines: dict[str, dict[str, dict[str, Any]]] = {}
    json_keys: set[tuple[str, str]] = set()
    cell_rows: list[dict[str, Any]] = []
    stubs: list[tuple[Path, str, str, Path]] = []  # (record, run, run key, its JSON)
    loaded: dict[Path, set[str]] = {}  # each JSON file read (resolved) → its entries' keys
    cut: list[Path] = []  # run JSONs a killed pytest left cut short, passed over

    def add_json(path: Path, data: dict[str, Any], run: str) -> None:
        entries = _load_benchmark_json(path, data, run)
        rows.extend(entries)
        json_keys.update((run, r["run_key"]) for r in entries)
        machines[run] = data.get("machine_info", {})
        _add_machine(run_machines, run, data.get("machine_info"))
        loaded.setdefault(path.resolve(), set()).update(r["run_key"] for r in entries)

    for path in files:
        try:
            data = _read_json(path)
        except SeqbenchError:
            if _is_cut_attempt(path):
                cut.append(path)  # its cells' records are whole: stubs follow a complete JSON
                continue
            raise
        run = _run_id(path)
        if isinstance(data, dict) and isinstance(data.get("benchmarks"), list):
            add_json(path, data, run)
        elif _is_stub(data):
            stubs.append((path, run, _stub_key(path, data), Path(run) / data[ENTRY_IN]))
        elif _is_cell_record(data):
            row = _entry_row(path, run, data["cell_record"])
            if row is not None:
                cell_rows.append(row)
                machines.setdefault(run, data.get("machine_info", {}))
                _add_machine(run_machines, run, data.get("machine_info"))
        else:
            raise SeqbenchError(f"{path} is not a pytest-benchmark or seqbench result file")
    for path, run, key, json_path in stubs:  # each stub's entry: from the JSON it names
        if json_path.resolve() not in loaded:  # only the cells/ folder was given
            add_json(json_path, _stub_json(path, json_path), run)
            files.append(json_path)
        if key not in loaded[json_path.resolve()]:
            raise SeqbenchError(f"{path}: its entry {key} is not in {json_path}, which it names")
    rows.extend(r for r in cell_rows if (r["run"], r["run_key"]) not in json_keys)
    if not rows:
        raise SeqbenchError("no seqbench entries found in: " + ", ".join(str(p) for p in paths))
    distinct = {run: list(infos.values()) for run, infos in run_machines.items()}
    read = [f for f in files if f not in cut]
    return ResultSet(pd.DataFrame(rows), machines, read, distinct)


def _is_cut_attempt(path: Path) -> bool:
    """A run's pytest-benchmark JSON that a killed pytest left cut short. Its records were
    never turned into stubs (launchers/records.py slims only after a complete JSON), so the
    run's cells are all in cells/; a stub naming it still fails, in _stub_json."""
    return (path.parent / "run.json").is_file() and path.name.startswith("benchmarks")


def _stub_json(stub: Path, path: Path) -> dict[str, Any]:
    """The pytest-benchmark JSON a stub record names, or one line saying why it is not."""
    if not path.is_file():
        raise SeqbenchError(f"{stub}: its entry is stored in {path}, which is missing")
    if path.stat().st_size == 0:
        raise SeqbenchError(f"{stub}: its entry is stored in {path}, which is empty")
    data = _read_json(path)
    if not (isinstance(data, dict) and isinstance(data.get("benchmarks"), list)):
        raise SeqbenchError(
            f"{stub}: its entry is stored in {path}, which is not a pytest-benchmark JSON"
        )
    return data


def _add_machine(found: dict[str, dict[str, dict[str, Any]]], run: str, info: Any) -> None:
    if isinstance(info, dict) and info:
        found.setdefault(run, {})[json.dumps(info, sort_keys=True, default=str)] = info


def _run_id(path: Path) -> str:
    """Files of one run share a folder; per-cell records sit in its cells/ subfolder."""
    folder = path.parent.parent if path.parent.name == "cells" else path.parent
    return str(folder)
