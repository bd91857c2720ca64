"""A job that ended: the records of the cells it did not finish name the job and its state.

Two ways a job leaves a cell unfinished:
  - it was killed outright (the time limit's SIGKILL, the node's OOM killer, a node failure,
    `kill -9`): its running marker still names the cell. The cell gets a record here:
    `timeout` if the job hit its time limit, else `crashed`; `interrupted by job ...` when
    the cluster or the user stopped the job (preemption, scancel), so --resume measures it
    again.
  - a signal reached it first (SIGTERM, submitit's time-limit SIGUSR2): the job's supervisor
    recorded the cell as interrupted. That record gets the job's id and state here, and
    becomes `timeout` if the job was at its time limit.
Cells the job never started keep no record: --resume submits them again.
"""

from __future__ import annotations

from typing import Any

from seqbench.launchers import records
from seqbench.launchers.base import RunFolder
from seqbench.launchers.cluster import scheduler
from seqbench.launchers.cluster.jobs import marker


def _job_info(job: dict[str, Any], state: str) -> dict[str, Any]:
    return {"launcher": job["launcher"], "job_id": job["job_id"], "state": state}


def _died_in_cell(
    run: RunFolder, job: dict[str, Any], state: str, timed_out: bool, kill_orphans: bool
) -> list[str]:
    path = marker(run, job["tag"])
    running = records.read_running(run.cells_dir, path)
    if running is None:
        return []
    if kill_orphans:  # a local job's pytest session, left behind by a killed controller
        scheduler.kill_group(running.get("pgid"))
    nodeid, process = running["nodeid"], running.get("process")
    key = records.run_key(nodeid, process)
    events = []
    if key not in records.finished_nodeids(run.cells_dir):
        name = scheduler.word(state)
        if timed_out or name in scheduler.TIMEOUT_STATES:
            status, message = "timeout", f"job {job['job_id']} reached its time limit ({state})"
        elif name in scheduler.INTERRUPTING_STATES:
            status, message = "crashed", f"{records.INTERRUPTED_BY}job {job['job_id']} ({state})"
        else:
            status, message = "crashed", f"job {job['job_id']} ended {state} during the cell"
        records.write_unmeasured(
            run.cells_dir,
            nodeid,
            running.get("config") or {},
            status,
            message,
            process=process,
            job=_job_info(job, state),
        )
        events.append(f"{status}: {key} ({message})")
    records.clear_running(run.cells_dir, path)
    return events


def _stopped_by_signal(
    run: RunFolder, job: dict[str, Any], state: str, timed_out: bool
) -> list[str]:
    events = []
    entries = set(job["entries"])
    timeout = timed_out or scheduler.word(state) in scheduler.TIMEOUT_STATES
    for key, record in records.read_records(run.cells_dir).items():
        message = str(record.get("message") or "")
        if (
            key not in entries
            or records.is_stub(record)  # a measurement, in its JSON: nothing was stopped
            or "job" in record
            or not message.startswith(records.INTERRUPTED_BY)
            or record.get("finished_unix_s", 0) < job["submitted_unix_s"]
        ):
            continue
        entry = record["cell_record"]
        extra = entry.get("extra_info") or {}
        if timeout:
            status, message = "timeout", f"job {job['job_id']} reached its time limit ({state})"
        else:
            status, message = "crashed", f"{message} (job {job['job_id']}, {state})"
        records.write_unmeasured(
            run.cells_dir,
            entry["fullname"],
            extra.get("config") or {},
            status,
            message,
            process=extra.get("worker_process"),
            job=_job_info(job, state),
        )
        events.append(f"{status}: {key} ({message})")
    return events


def settle(
    run: RunFolder,
    job: dict[str, Any],
    state: str,
    timed_out: bool = False,
    kill_orphans: bool = False,
) -> list[str]:
    """Record what the ended `job` (its line in run.json's "jobs") left unfinished, in the
    terms of its final `state`; return one line per record written. `timed_out`: the job
    itself saw its time-limit signal. `kill_orphans`: the job ran on this machine just now,
    so a process group its marker names is its own."""
    events = _died_in_cell(run, job, state, timed_out, kill_orphans)
    events += _stopped_by_signal(run, job, state, timed_out)
    for stale in run.path.glob(f"benchmarks-job{job['job_id']}-*.json"):
        if stale.stat().st_size == 0:  # opened by a pytest the job's end killed
            stale.unlink()
    return events
