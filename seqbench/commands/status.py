"""`seqbench status DIR`: a run's cells, finished (with their statuses), running and queued,
and its cluster jobs with the scheduler's word on each. It only reads: the run folder, and
for a SLURM run one sacct call."""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

from seqbench.launchers import records
from seqbench.launchers.base import RunFolder
from seqbench.launchers.cluster import scheduler
from seqbench.launchers.cluster.jobs import marker, submitted
from seqbench.launchers.cluster.launcher import SUBMITIT_DIR

HELP = "list a run's cells (finished with their status, running, queued) and its jobs"

QUEUED = "queued"  # a job that has not ended will run it
NOT_SUBMITTED = "to run"  # no job will: `seqbench run --resume DIR` runs it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="DIR", help="a run folder (seqbench run --out)")
    parser.add_argument(
        "--summary", action="store_true", help="only the counts, not one line per cell"
    )


def _job_states(run: RunFolder) -> dict[str, str]:
    """job id → state, for the jobs not yet seen to end (the others keep their final one)."""
    jobs = submitted(run)
    states = {j["job_id"]: j["state"] for j in jobs if j.get("state")}
    open_jobs = [j for j in jobs if not j.get("state")]
    for launcher in {j["launcher"] for j in open_jobs}:
        mine = [j for j in open_jobs if j["launcher"] == launcher]
        states |= scheduler.states(launcher, mine, run.path / SUBMITIT_DIR)
    return states


def _alive(pgid: int | None) -> bool:
    """Whether the process group a default launcher's marker names still exists."""
    if not pgid:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cell_lines(run: RunFolder) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """(state, run key, note) per planned entry, and the jobs' states."""
    finished = records.read_records(run.cells_dir)
    states = _job_states(run) if submitted(run) else {}
    running: dict[str, str] = {}  # run key → note
    queued: dict[str, str] = {}
    markers = [(None, run.cells_dir / records.RUNNING)]
    markers += [(j, marker(run, j["tag"])) for j in submitted(run)]
    now = time.time()
    for job, path in markers:
        mark = records.read_running(run.cells_dir, path)
        if mark is None:
            continue
        alive = scheduler.is_active(states[job["job_id"]]) if job else _alive(mark.get("pgid"))
        if not alive:
            continue  # a marker that a killed run or job left behind
        key = records.run_key(mark["nodeid"], mark.get("process"))
        where = f"job {job['job_id']}, " if job else ""
        running[key] = f"{where}for {now - mark['started_unix_s']:.0f} s"
        if job is None:  # the default launcher, still at work: it runs the rest in turn
            queued |= {e.run_key: "this machine" for e in run.plan}
    for job in submitted(run):
        if scheduler.is_active(states[job["job_id"]]):
            for key in job["entries"]:
                queued.setdefault(key, f"job {job['job_id']} {states[job['job_id']]}")
    lines = []
    for entry in run.plan:
        key = entry.run_key
        if key in finished:
            record = finished[key]
            lines.append((record["status"], key, record.get("message") or ""))
        elif key in running:
            lines.append(("running", key, running[key]))
        elif key in queued:
            lines.append((QUEUED, key, queued[key]))
        else:
            lines.append((NOT_SUBMITTED, key, ""))
    return lines, states


def run(args: argparse.Namespace) -> int:
    run = RunFolder.load(Path(args.run_dir))
    lines, states = cell_lines(run)
    counts = Counter(state for state, _, _ in lines)
    done = {s: n for s, n in counts.items() if s not in ("running", QUEUED, NOT_SUBMITTED)}
    print(
        f"run {run.path}: profile {run.manifest['profile']!r}, launcher {run.launcher}, "
        f"{len(lines)} planned entries"
    )
    if states:
        by_state = Counter(states.values())
        print(
            f"jobs: {len(states)} ("
            + ", ".join(f"{n} {s}" for s, n in sorted(by_state.items()))
            + ")"
        )
        if not args.summary:
            for job in submitted(run):
                print(f"  {job['job_id']:<14} {states[job['job_id']]:<12} log: {job['log']}")
    finished = ", ".join(f"{n} {s}" for s, n in sorted(done.items())) or "none"
    print(
        f"cells: {sum(done.values())} finished ({finished}), {counts['running']} running, "
        f"{counts[QUEUED]} queued, {counts[NOT_SUBMITTED]} to run"
    )
    if not args.summary:
        for state, key, note in lines:
            print(f"  {state:<9} {key}" + (f"  ({note})" if note else ""))
    if counts[NOT_SUBMITTED] and not counts["running"] and not counts[QUEUED]:
        print(f"run the rest with: seqbench run --resume {run.path}")
    return 0
