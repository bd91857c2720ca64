"""A sweep's plan: every cell it runs, with the pytest node id that runs it.

`seqbench run` resolves the profile and the user's overrides once and writes the plan into
the run folder's run.json. The pytest plugin and every launcher read that plan; nothing
re-derives the cells from command-line options, so options are parsed and validated once
and a resumed run runs exactly the cells it first planned, whatever the profile became since.
"""

from __future__ import annotations

import ast
import importlib.resources
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqbench.config import CellConfig
from seqbench.errors import SeqbenchError
from seqbench.launchers import records
from seqbench.schema import CONFIG_FIELDS_ADDED

# The benchmark definitions. The repository keeps them at its top level, benchmarks/; a wheel
# ships them inside the package as seqbench/benchmarks/ (setup.py). An installed seqbench
# runs its own copy, an editable install the checkout's.
_PACKAGE = Path(str(importlib.resources.files("seqbench"))).resolve()
_INSTALLED_BENCHMARKS = _PACKAGE / "benchmarks"
BENCHMARKS_DIR = (
    _INSTALLED_BENCHMARKS if _INSTALLED_BENCHMARKS.is_dir() else _PACKAGE.parent / "benchmarks"
)
# The repository seqbench runs from (an editable install), or None (an installed copy).
SOURCE_CHECKOUT = (
    _PACKAGE.parent if BENCHMARKS_DIR != _INSTALLED_BENCHMARKS and BENCHMARKS_DIR.is_dir() else None
)


@dataclass(frozen=True)
class PlannedCell:
    nodeid: str  # pytest node id from the folder holding benchmarks/, as in the cell records
    cell: CellConfig | None  # None for a session entry (the calibration GEMM)
    process: int | None = None  # which worker process of a cell measured in several

    @property
    def run_key(self) -> str:
        """What the entry's record is filed under."""
        return records.run_key(self.nodeid, self.process)

    def to_json(self) -> dict[str, Any]:
        cell = self.cell.to_dict() if self.cell else None
        out: dict[str, Any] = {"nodeid": self.nodeid, "cell": cell}
        if self.process is not None:
            out["process"] = self.process
        return out


def validation_knobs() -> dict[str, Any]:
    """Knobs for validating the regression detector, from the environment, merged into every
    planned cell's `extra` so the records say they were set (README, "Checking the
    detector")."""
    knobs: dict[str, Any] = {}
    if os.environ.get("SEQBENCH_INJECT_SLOWDOWN"):
        try:
            knobs["inject_slowdown"] = float(os.environ["SEQBENCH_INJECT_SLOWDOWN"])
        except ValueError:
            raise SeqbenchError(
                "SEQBENCH_INJECT_SLOWDOWN must be a fraction such as 0.1, got "
                f"{os.environ['SEQBENCH_INJECT_SLOWDOWN']!r}"
            ) from None
    return knobs


def benchmarks_dir() -> Path:
    if not BENCHMARKS_DIR.is_dir():
        raise SeqbenchError(
            f"benchmark definitions not found at {BENCHMARKS_DIR}: reinstall seqbench "
            "(pip install . or pip install -e . from a checkout)"
        )
    return BENCHMARKS_DIR


def pytest_location_args(bench_dir: Path) -> list[str]:
    """pytest's rootdir, configuration and conftest scope for a session on the benchmark
    definitions. The rootdir is the folder holding them, the checkout or the installed
    package, so node ids read ``benchmarks/test_x.py::...`` either way and match the plan's.
    The configuration is pinned, so no pytest.ini or pyproject.toml around the run's folder
    applies: the checkout's pyproject.toml, or none in an install (os.devnull: pytest's
    defaults). Only the definitions' own conftest.py is loaded."""
    root = bench_dir.parent
    config = root / "pyproject.toml"
    return [
        "--rootdir",
        str(root),
        "-c",
        str(config) if config.is_file() else os.devnull,
        "--confcutdir",
        str(bench_dir),
    ]


def benchmark_functions(bench_dir: Path) -> dict[str | None, list[str]]:
    """family → the node id prefixes ("benchmarks/test_x.py::test_y") of its benchmark
    functions, read from each module's ``FAMILY`` constant without importing it. Functions
    without a ``cell`` argument run once per session, under the key None."""
    found: dict[str | None, list[str]] = {}
    for path in sorted(bench_dir.glob("test_*.py")):
        tree = ast.parse(path.read_text(), str(path))
        family = next(
            (
                node.value.value
                for node in tree.body
                if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "FAMILY" for t in node.targets)
                and isinstance(node.value, ast.Constant)
            ),
            None,
        )
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                takes_cell = any(a.arg == "cell" for a in node.args.args)
                prefix = f"{bench_dir.name}/{path.name}::{node.name}"
                found.setdefault(family if takes_cell else None, []).append(prefix)
    return found


def make_plan(cells: list[CellConfig], bench_dir: Path | None = None) -> list[PlannedCell]:
    """The session entries, then every (benchmark function, cell) pair of the cells' families
    in rounds (after asv's `processes`): a cell measured in N worker processes has one entry
    per process, the k-th in round k. Round 0 holds every cell in the cells' order; each later
    round, the next process of every timing cell. The worker launcher runs the plan in this
    order.

    Why rounds: the host's speed drifts over minutes (README, "The timing study"). Measured
    back to back, a cell's processes share one moment of that drift, so their spread misses it
    and the cell's median moves with it from run to run; spread over the run, they sample it,
    and the between-process interval covers it."""
    functions = benchmark_functions(bench_dir or benchmarks_dir())
    session = [PlannedCell(prefix, None) for prefix in functions.get(None, [])]
    rounds: list[list[PlannedCell]] = []
    for cell in cells:
        processes = range(cell.processes) if cell.processes > 1 else [None]
        for prefix in functions.get(cell.family, []):
            for k, process in enumerate(processes):
                if k == len(rounds):
                    rounds.append([])
                rounds[k].append(PlannedCell(f"{prefix}[{cell.cell_id}]", cell, process))
    return session + [entry for entries in rounds for entry in entries]


def cell_from_dict(data: dict[str, Any]) -> CellConfig:
    """A CellConfig from a plan or a record; fields added since (schema.CONFIG_FIELDS_ADDED)
    take the value their absence meant."""
    try:
        return CellConfig(**(CONFIG_FIELDS_ADDED | data))
    except TypeError as exc:
        raise SeqbenchError(f"a planned cell does not fit this seqbench: {exc}") from None


def plan_from_json(entries: Any) -> list[PlannedCell]:
    if not isinstance(entries, list):
        raise SeqbenchError("the run's plan is not a list of cells")
    plan = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("nodeid"), str):
            raise SeqbenchError(f"malformed plan entry: {entry!r:.80}")
        cell = entry.get("cell")
        plan.append(
            PlannedCell(
                entry["nodeid"], cell_from_dict(cell) if cell else None, entry.get("process")
            )
        )
    return plan


def planned_cells(plan: list[PlannedCell]) -> list[CellConfig]:
    """The distinct cells of a plan, in order (a throughput cell has two functions)."""
    seen: dict[tuple[str, str], CellConfig] = {}
    for entry in plan:
        if entry.cell is not None:
            seen.setdefault((entry.cell.family, entry.cell.cell_id), entry.cell)
    return list(seen.values())
