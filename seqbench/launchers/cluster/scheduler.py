"""What the scheduler says about a run's jobs, and what a fault record makes of it.

SLURM's job states (sacct) are the vocabulary. A local job (submitit's local executor) is a
process of this machine: RUNNING while its controller lives, then COMPLETED, FAILED, or
KILLED when a signal ended it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
from pathlib import Path

from seqbench.errors import SeqbenchError

# States of a job that may still run cells (sacct's, and UNKNOWN: not in sacct yet).
ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "SUSPENDED",
        "SIGNALING",
        "STAGE_OUT",
        "UNKNOWN",
    }
)
# A job that ended in one of these stopped its cell at the time limit: the cell is `timeout`.
TIMEOUT_STATES = frozenset({"TIMEOUT", "DEADLINE"})
# A job that ended in one of these was stopped by the cluster or the user, not by its cell:
# the cell's record says `interrupted by ...`, and --resume measures it again.
INTERRUPTING_STATES = frozenset({"PREEMPTED", "CANCELLED", "NODE_FAIL", "BOOT_FAIL"})
# Executables the SLURM launcher calls (submitit needs srun inside the batch script).
SLURM_COMMANDS = ("sbatch", "sacct", "srun", "scancel")


def word(state: str | None) -> str:
    """The state's name: sacct writes "CANCELLED by 1234"."""
    return (state or "UNKNOWN").split()[0].upper()


def is_active(state: str | None) -> bool:
    return word(state) in ACTIVE_STATES


def require(launcher: str) -> None:
    """One line naming what to install when a cluster launcher cannot run here."""
    if importlib.util.find_spec("submitit") is None:
        raise SeqbenchError(
            f"--launcher {launcher} needs submitit: pip install 'seqbench[cluster]' "
            "(or pip install submitit)"
        )
    if launcher == "slurm":
        missing = [c for c in SLURM_COMMANDS if shutil.which(c) is None]
        if missing:
            raise SeqbenchError(
                f"--launcher slurm needs SLURM's {', '.join(missing)} on PATH: run seqbench "
                "on the cluster's login node (the SLURM client tools install them)"
            )


def slurm_states(job_ids: list[str]) -> dict[str, str]:
    """job id → sacct's state, through submitit's own sacct reader; jobs sacct does not
    know (yet) are UNKNOWN."""
    if not job_ids:
        return {}
    from submitit.slurm.slurm import SlurmInfoWatcher

    watcher = SlurmInfoWatcher(delay_s=0)
    for job_id in job_ids:
        watcher.register_job(job_id)
    watcher.update()  # one sacct call for all of them; an error leaves them UNKNOWN
    return {job_id: watcher.get_state(job_id, mode="cache") for job_id in job_ids}


def _alive_controller(pid: int) -> bool:
    """Whether `pid` is still one of submitit's local job controllers."""
    with contextlib.suppress(OSError):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        return b"submitit.local" in cmdline
    return False


def local_state(job_id: str, result_pickle: Path | None) -> str:
    """A local job seen after the launcher that started it is gone: RUNNING while its
    controller process lives, COMPLETED when it left its result, else KILLED."""
    with contextlib.suppress(ValueError):
        if _alive_controller(int(job_id)):
            return "RUNNING"
    if result_pickle is not None and result_pickle.exists():
        return "COMPLETED"
    return "KILLED"


def states(launcher: str, jobs: list[dict], submitit_dir: Path) -> dict[str, str]:
    """job id → state, for jobs recorded in a run's manifest."""
    ids = [str(j["job_id"]) for j in jobs]
    if launcher == "slurm":
        if shutil.which("sacct") is None or importlib.util.find_spec("submitit") is None:
            return dict.fromkeys(ids, "UNKNOWN")  # read away from the cluster
        return slurm_states(ids)
    return {
        i: local_state(i, submitit_dir / f"{i}_0_result.pkl" if submitit_dir else None) for i in ids
    }


def kill_group(pgid: int | None) -> None:
    """SIGKILL what is left of a local job's pytest session (its worker, memory probes)."""
    if pgid and pgid != os.getpgrp():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
