"""The launcher contract: how a run folder's planned cells get executed.

A run folder is the unit every launcher works on:
  run.json             the manifest: profile, overrides, settings, and the plan (launchers/plan.py)
  cells/               one record per finished cell (launchers/records.py)
  benchmarks-*.json    pytest-benchmark's JSON of each pytest attempt that ended

A launcher runs the planned cells that have no record yet, one at a time (never two timed
cells at once on one machine), until each has one. Whatever happens, nothing finished is
lost: each record is on disk as the cell ends. Once an attempt's pytest-benchmark JSON is
complete, RunFolder.compact turns the records of the measurements it holds into stubs that
name it, so each measurement is stored once (launchers/records.py). On SIGTERM or SIGHUP a
launcher stops its workers, records the interrupted cell so that `--resume` measures it
again, and raises `Terminated`; on Ctrl-C it raises KeyboardInterrupt. Implementations
(LAUNCHERS):
  supervisor  launchers/supervisor.py (the default): pytest in a supervised child process,
              restarted after a crash or a timeout; every item in a forked worker process
  slurm       launchers/cluster/: the pending cells split into SLURM jobs (submitit job
              arrays), each running the supervisor on its share of the plan, all writing
              into the one cells/ folder; timing cells on nodes of their own
  local       the same jobs as processes of this machine (submitit's local executor)
A cluster launcher returns when every job has ended: a cell a job did not reach (its job
was killed) has no record, and `seqbench run --resume` submits it again.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqbench.errors import SeqbenchError
from seqbench.launchers import records
from seqbench.launchers.allocators import LEGACY_ALLOCATOR, allocator_env
from seqbench.launchers.plan import PlannedCell, make_plan, plan_from_json, planned_cells
from seqbench.profiles import Overrides, build_cells

MANIFEST = "run.json"
# `seqbench run --launcher` names → "module:class", imported when chosen: the cluster
# launchers need submitit, which the default one does not.
LAUNCHERS = {
    "supervisor": "seqbench.launchers.supervisor:Supervisor",
    "local": "seqbench.launchers.cluster.launcher:LocalLauncher",
    "slurm": "seqbench.launchers.cluster.launcher:SlurmLauncher",
}
DEFAULT_LAUNCHER = "supervisor"


class Terminated(Exception):
    """The launcher received SIGTERM or SIGHUP; its children were stopped."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class RunFolder:
    path: Path  # the run folder
    manifest: dict[str, Any]  # run.json's content

    @property
    def cells_dir(self) -> Path:
        return self.path / "cells"

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @classmethod
    def create(
        cls,
        path: Path,
        profile: str,
        overrides: Overrides,
        plan: list[PlannedCell],
        **settings: Any,
    ) -> RunFolder:
        """A new run folder whose run.json holds the plan and the run's settings (max_mem_bytes,
        timeout_s, allocator, ...), written before any cell runs."""
        if (path / MANIFEST).exists():
            raise SeqbenchError(
                f"{path} already holds a run: use --resume {path}, or another --out"
            )
        manifest = {
            "profile": profile,
            "overrides": overrides.__dict__,
            **settings,
            "cells_count": len(planned_cells(plan)),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "argv": sys.argv[1:],
            "plan": [p.to_json() for p in plan],
        }
        folder = cls(path, manifest)
        folder.save()
        return folder

    @classmethod
    def load(cls, path: Path) -> RunFolder:
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except FileNotFoundError:
            raise SeqbenchError(f"{path} is not a seqbench run folder (no {MANIFEST})") from None
        except (OSError, ValueError) as exc:
            raise SeqbenchError(f"cannot read {path / MANIFEST}: {exc}") from None
        folder = cls(path, manifest)
        if "plan" not in manifest:
            # Folders from before plans were written: the plan is what their profile and
            # overrides give now, fixed from here on so later resumes cannot drift.
            folder.manifest["plan"] = [p.to_json() for p in make_plan(folder._rebuilt_cells())]
            folder.save()
        _ = folder.plan  # a damaged plan: one line and exit 2 before any work
        return folder

    def save(self) -> None:
        records.write_atomic(self.manifest_path, self.manifest)

    def _rebuilt_cells(self) -> list:
        raw = self.manifest["overrides"]
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        return build_cells(self.manifest["profile"], Overrides(**fields))

    @property
    def plan(self) -> list[PlannedCell]:
        return plan_from_json(self.manifest["plan"])

    @property
    def cells(self) -> list:
        return planned_cells(self.plan)

    def compact(self, json_paths: Iterable[Path] | None = None) -> int:
        """Store each measurement once: the full records whose entries the given
        pytest-benchmark JSON files of this folder hold (None: every one in it) become stubs
        naming their file (records.slim_records); return how many. A JSON that is empty
        (its attempt was killed) or incomplete slims nothing: those cells keep their full
        records. Safe at any time, also while another process writes into cells/."""
        paths = sorted(self.path.glob("benchmarks*.json")) if json_paths is None else json_paths
        return sum(records.slim_records(self.cells_dir, Path(p)) for p in paths)

    def pending(self) -> list[PlannedCell]:
        """Planned entries without a record yet."""
        done = records.finished_nodeids(self.cells_dir)  # by run key: node id@pN per process
        return [p for p in self.plan if p.run_key not in done]

    @property
    def cell_timeout_s(self) -> float | None:
        return self.manifest.get("timeout_s")

    @property
    def launcher(self) -> str:
        """The launcher the run was started with (runs from before there was a choice: the
        supervisor)."""
        return self.manifest.get("launcher", DEFAULT_LAUNCHER)

    @property
    def allocator(self) -> str:
        """The run's heap allocator. Runs recorded before the allocator was a setting used
        glibc's default heap."""
        return self.manifest.get("allocator", LEGACY_ALLOCATOR)

    @property
    def env(self) -> dict[str, str]:
        """Environment of the run's processes (its allocator's)."""
        return allocator_env(self.allocator)


class Launcher(ABC):
    """Runs a run folder's pending cells (see the module docstring for the contract)."""

    name: str  # how `seqbench run --launcher` names it
    events: list[str]  # one line per cell that crashed or timed out, for the summary

    def prepare(self, run: RunFolder) -> None:  # noqa: B027  (optional: most need none)
        """Checks and bookkeeping before any work: one line and exit 2 for what stops the
        launch (a cluster launcher: jobs of an earlier launch still running)."""

    @abstractmethod
    def launch(self, run: RunFolder) -> None:
        """Return when every planned cell has a record (a cluster launcher: when every job
        has ended); raise Terminated or KeyboardInterrupt when stopped (finished records
        stay)."""


def launcher_class(name: str) -> type[Launcher]:
    """The launcher named `name` (one line and exit 2 for an unknown one). Loaded by name,
    like the CLI's command table: the cluster launcher needs submitit, an optional extra, so
    only choosing it imports it."""
    if name not in LAUNCHERS:
        raise SeqbenchError(f"unknown launcher {name!r}: choose from {', '.join(LAUNCHERS)}")
    module, _, cls = LAUNCHERS[name].partition(":")
    return getattr(importlib.import_module(module), cls)
