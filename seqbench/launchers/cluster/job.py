"""What runs inside one scheduler job: the default launcher on the job's share of the plan.

submitit pickles `run_job` by reference and calls it on the node. It runs the Supervisor
(launchers/supervisor.py) on the job's manifest, so a job gets everything a local run has: a
worker process per item, per-cell time limits, a crashed worker recorded and the session
going on, pytest restarted after a crash.

Signals: SLURM sends SIGTERM when it preempts or cancels a job, and submitit asks for
SIGUSR2 shortly before the time limit (sbatch --signal). Both stop the job's pytest, record
the cell in progress as interrupted, and return; the launcher, which learns the job's state
from the scheduler, then names the job and its state in that record (scheduler.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from seqbench.extensions import load_extensions
from seqbench.launchers import records
from seqbench.launchers.base import MANIFEST, RunFolder, Terminated
from seqbench.launchers.cluster.jobs import job_dir, marker
from seqbench.launchers.plan import plan_from_json
from seqbench.launchers.supervisor import Supervisor


def host_id() -> str:
    """Tells machines apart in the records without publishing their names."""
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:12]


def _terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


def _timed_out(wall_s: float, time_limit_min: float) -> bool:
    """submitit's own rule for telling a time-limit signal from a preemption: the job has
    used most of its time (submitit.core.job_environment.SignalHandler.has_timed_out)."""
    limit_s = time_limit_min * 60
    return wall_s >= min(0.8 * limit_s, limit_s - 600)


def run_job(run_dir: str, tag: str, time_limit_min: float) -> dict[str, Any]:
    """Run the job's entries of the run folder; return what the launcher reports."""
    import submitit

    started = time.time()
    environment = submitit.JobEnvironment()
    job_id = str(environment.job_id)
    # Read by the pytest plugin: each record names the job and host that measured it.
    os.environ.update(
        SEQBENCH_JOB_ID=job_id,
        SEQBENCH_LAUNCHER=environment.cluster,
        SEQBENCH_HOST_ID=host_id(),
    )
    # submitit starts the job in a fresh interpreter that has not run the CLI: the user's
    # models and tasks must be registered before the plan's cells are read back.
    load_extensions()
    run = RunFolder.load(Path(run_dir))
    manifest = job_dir(run, tag) / MANIFEST
    plan = plan_from_json(json.loads(manifest.read_text())["plan"])
    # A job SLURM requeued after a preemption measures the cell it was stopped in again.
    records.forget_interrupted(run.cells_dir, only={e.run_key for e in plan})
    supervisor = Supervisor(
        plan_path=manifest,
        running_file=marker(run, tag),
        json_prefix=f"benchmarks-job{job_id}",
    )
    usr_signal = getattr(signal, "SIG" + submitit.JobEnvironment.USR_SIG)
    # Ours replace submitit's handlers: its SIGTERM handler ignores the signal, and its
    # SIGUSR2 handler raises out of the supervisor's loop, which would orphan pytest.
    previous = {s: signal.signal(s, _terminated) for s in (signal.SIGTERM, usr_signal)}
    stopped_by = None
    try:
        supervisor.launch(run)
    except Terminated as exc:
        stopped_by = signal.Signals(exc.signum).name
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    wall_s = time.time() - started
    return {
        "job_id": job_id,
        "tag": tag,
        "stopped_by": stopped_by,  # the signal that ended the job early, if one did
        "timed_out": stopped_by is not None and _timed_out(wall_s, time_limit_min),
        "events": supervisor.events,
        "wall_s": wall_s,
    }
