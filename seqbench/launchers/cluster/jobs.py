"""How a run's pending cells become scheduler jobs, and what a run folder keeps about them.

A job runs its share of the plan with the same pytest command as the default launcher: its
own manifest (jobs/<tag>/run.json, the run's settings with the plan cut to the job's
entries), its own running marker (jobs/<tag>/running.json: several jobs write into the one
cells/ folder at once), and its own pytest-benchmark JSON beside the run's
(benchmarks-job<id>-<n>.json). The loader skips run.json and running.json wherever they are,
so a cluster run folder reads like any other.

Each submitted job is listed in the run's run.json under "jobs" (its tag, the scheduler's id,
its entries, and its final state once seen), which `seqbench status` and `--resume` read.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqbench.config import TIMING_FAMILIES
from seqbench.launchers import records
from seqbench.launchers.base import MANIFEST, RunFolder
from seqbench.launchers.plan import PlannedCell
from seqbench.launchers.progress import plan_costs

JOBS_DIR = "jobs"  # the run folder's subfolder of job manifests and running markers


@dataclass(frozen=True)
class JobSpec:
    tag: str  # names the job's folder jobs/<tag>/: "<launch>-<index>", unique in the run
    entries: tuple[PlannedCell, ...]  # the plan entries it runs, in plan order
    timing: bool  # holds a timing cell: a node of its own unless the user shares them
    cost: float  # estimated token-steps (launchers/progress.py), to balance the jobs

    @property
    def run_keys(self) -> list[str]:
        return [e.run_key for e in self.entries]


def job_dir(run: RunFolder, tag: str) -> Path:
    return run.path / JOBS_DIR / tag


def marker(run: RunFolder, tag: str) -> Path:
    """The job's running marker (records.mark_running, through --seqbench-running-file)."""
    return job_dir(run, tag) / records.RUNNING


def _units(pending: list[PlannedCell]) -> list[list[PlannedCell]]:
    """The entries of one cell stay together: a timing cell measured in several worker
    processes must be measured on one machine (its spread is the between-process spread),
    and a throughput cell's two functions describe one configuration."""
    units: dict[tuple[str, str] | None, list[PlannedCell]] = {}
    for entry in pending:
        key = (entry.cell.family, entry.cell.cell_id) if entry.cell else None
        units.setdefault(key, []).append(entry)
    return list(units.values())


def _is_timing(unit: list[PlannedCell]) -> bool:
    return any(e.cell is not None and e.cell.family in TIMING_FAMILIES for e in unit)


def _balance(units: list[list[PlannedCell]], costs: dict[str, float], bins: int | None):
    """Units into at most `bins` groups of about equal cost (longest first onto the least
    loaded group); None: one group per unit."""
    if bins is None or bins >= len(units):
        return [list(u) for u in units]
    groups: list[list[PlannedCell]] = [[] for _ in range(bins)]
    loads = [0.0] * bins
    for unit in sorted(units, key=lambda u: -sum(costs[e.run_key] for e in u)):
        i = loads.index(min(loads))
        groups[i].extend(unit)
        loads[i] += sum(costs[e.run_key] for e in unit)
    return [g for g in groups if g]


def split(
    plan: list[PlannedCell], pending: list[PlannedCell], jobs: int | None, launch: int
) -> list[JobSpec]:
    """The pending entries as jobs: timing cells apart from the others, each kind in `jobs`
    jobs (None: one per cell). The session entries (the calibration GEMM) go with the first
    timing job, on whose machine `compare --normalize` divides timings by them; without
    timing cells they are one more unit to balance."""
    costs = dict(zip([e.run_key for e in plan], plan_costs(plan), strict=True))
    units = _units(pending)
    session = [u for u in units if u[0].cell is None]
    timing_units = [u for u in units if u[0].cell is not None and _is_timing(u)]
    packed_units = [u for u in units if u[0].cell is not None and not _is_timing(u)]
    if not timing_units:
        packed_units = session + packed_units
    timing = _balance(timing_units, costs, jobs)
    packed = _balance(packed_units, costs, jobs)
    if timing and session:
        timing[0] = [e for u in session for e in u] + timing[0]
    groups = [(g, True) for g in timing] + [(g, False) for g in packed]
    order = {e.run_key: i for i, e in enumerate(plan)}
    specs = []
    for index, (group, is_timing) in enumerate(groups):
        entries = tuple(sorted(group, key=lambda e: order[e.run_key]))
        cost = sum(costs[e.run_key] for e in entries)
        specs.append(JobSpec(f"{launch}-{index}", entries, is_timing, cost))
    return specs


def write_manifest(run: RunFolder, spec: JobSpec) -> Path:
    """jobs/<tag>/run.json: the run's settings with the plan cut to the job's entries."""
    manifest = {k: copy.deepcopy(v) for k, v in run.manifest.items() if k not in ("jobs",)}
    manifest["plan"] = [e.to_json() for e in spec.entries]
    manifest["job_tag"] = spec.tag
    path = job_dir(run, spec.tag) / MANIFEST
    records.write_atomic(path, manifest)
    return path


def submitted(run: RunFolder) -> list[dict[str, Any]]:
    """The jobs of every launch so far (run.json's "jobs")."""
    return run.manifest.setdefault("jobs", [])


def next_launch(run: RunFolder) -> int:
    """The number of this launch: 1, then 2 for the first --resume that submits, ..."""
    launches = [int(str(j["tag"]).split("-")[0]) for j in submitted(run)]
    return max(launches, default=0) + 1
