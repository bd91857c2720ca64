"""The cluster launchers: a run's pending cells fanned out to jobs through submitit.

  slurm  SLURM jobs through submitit's AutoExecutor: the timing jobs as one job array with
         whole nodes (sbatch --exclusive), the others as another array that may share nodes
  local  the same jobs as processes of this machine (submitit's local executor), at most
         --array-parallelism at once; timing jobs run alone, after the others

Each job runs the default launcher on its share of the plan (job.py, jobs.py) and writes
its records into the run's cells/ as they finish, and its own pytest-benchmark JSON; once
that JSON is written, the records of the measurements it holds become stubs naming it
(RunFolder.compact). So the run folder is the same as a local run's, and the bar and
`seqbench status` follow it while the jobs run. When a job ends, the cells it left
unfinished get records naming the job and its state (faults.py); cells it never reached keep
none, and `seqbench run --resume` submits them again.

Ctrl-C while waiting leaves SLURM jobs running (unless --cancel-on-interrupt) and says how
to follow them and resume; local jobs are this machine's processes and stop with the run.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from seqbench.errors import SeqbenchError
from seqbench.launchers import records
from seqbench.launchers.base import Launcher, RunFolder, Terminated
from seqbench.launchers.cluster import scheduler
from seqbench.launchers.cluster.faults import settle
from seqbench.launchers.cluster.job import run_job
from seqbench.launchers.cluster.jobs import (
    JobSpec,
    marker,
    next_launch,
    split,
    submitted,
    write_manifest,
)
from seqbench.launchers.cluster.options import ClusterOptions
from seqbench.launchers.progress import SweepProgress

SUBMITIT_DIR = "submitit"  # the run folder's subfolder of submitit's scripts, pickles and logs
STOP_GRACE_S = 10  # how long stopped local jobs get to record and exit
# A local job's limit when none is given: submitit's local executor kills a job at its
# limit (2 minutes by default), and a local sweep has no queue to be fair to.
LOCAL_TIME_LIMIT_MIN = 30 * 24 * 60


def _terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


@dataclass
class Tracked:
    spec: JobSpec  # what the job runs
    job: Any  # submitit's Job
    entry: dict[str, Any]  # its line in run.json's "jobs"
    state: str = "PENDING"  # the scheduler's latest word on it


@dataclass
class ClusterLauncher(Launcher):
    options: ClusterOptions = field(default_factory=ClusterOptions)
    verbose: bool = True
    progress: SweepProgress | None = None  # the sweep's bar, redrawn at each poll
    events: list[str] = field(default_factory=list)  # fault lines, for the summary
    poll_s: float = 0.5  # how often records and result files are looked at
    state_poll_s: float = 15.0  # how often the scheduler is asked (one sacct call)
    run_folder: RunFolder | None = None  # set by launch()
    _last_states_s: float = 0.0

    cluster: ClassVar[str]  # submitit's name of the executor

    # --- what differs between SLURM and local ----------------------------------------------

    def parameters(self, timing: bool) -> dict[str, Any]:
        raise NotImplementedError

    def time_limit_min(self) -> int:
        """Each job's wall-time limit."""
        return self.options.time_limit

    def may_start(self, spec: JobSpec, busy: list[JobSpec]) -> bool:
        """Whether `spec` may start beside `busy` (the jobs running, and those starting)."""
        raise NotImplementedError

    def refresh(self, active: list[Tracked]) -> None:
        """Update each active job's state."""
        raise NotImplementedError

    def ended_state(self, tracked: Tracked) -> str:
        """The state of a job that left no result."""
        return tracked.state

    def stopped_state(self, tracked: Tracked, signal_name: str) -> str:
        """The state of a job that returned early because a signal reached it."""
        return f"STOPPED by {signal_name}"

    def stop(self, active: list[Tracked]) -> None:
        """Ctrl-C or a signal while waiting."""
        raise NotImplementedError

    # --- the loop ---------------------------------------------------------------------------

    @property
    def run(self) -> RunFolder:
        assert self.run_folder is not None
        return self.run_folder

    def prepare(self, run: RunFolder) -> None:
        """Settle the jobs of earlier launches (or stop: some still run), then forget the
        interrupted cells, which this launch measures again."""
        if self.run_folder is run:
            return
        self.run_folder = run
        self.settle_earlier()
        run.compact()  # jobs killed between writing their JSON and slimming their records
        for nodeid in records.forget_interrupted(run.cells_dir):
            self._say(f"{nodeid} was interrupted: running it again")

    def launch(self, run: RunFolder) -> None:
        """Submit the pending cells and wait until every job has ended. Ctrl-C propagates
        as KeyboardInterrupt, SIGTERM and SIGHUP as Terminated."""
        self.prepare(run)
        pending = run.pending()
        if not pending:
            return
        specs = split(run.plan, pending, self.options.jobs, next_launch(run))
        specs.sort(key=lambda s: s.timing)  # locally, timing jobs wait for the others
        for spec in specs:
            write_manifest(run, spec)
        self._say(f"{len(specs)} {self.cluster} jobs for {len(pending)} planned entries")
        queue, active = list(specs), []
        previous = {s: signal.signal(s, _terminated) for s in (signal.SIGTERM, signal.SIGHUP)}
        try:
            while queue or active:
                ready: list[JobSpec] = []
                for spec in queue:
                    if self.may_start(spec, [t.spec for t in active] + ready):
                        ready.append(spec)
                if ready:
                    active += self.submit(ready)
                    queue = [s for s in queue if s not in ready]
                self.refresh(active)
                for tracked in [t for t in active if self._ended(t)]:
                    self.finish(tracked)
                    active.remove(tracked)
                self._show(queue, active)
                if queue or active:
                    time.sleep(self.poll_s)
        except (KeyboardInterrupt, Terminated):
            self.stop(active)
            raise
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _say(self, line: str) -> None:
        if self.verbose:
            print(f"seqbench: {line}", file=sys.stderr)

    def executor(self, timing: bool):
        import submitit

        executor = submitit.AutoExecutor(folder=self.run.path / SUBMITIT_DIR, cluster=self.cluster)
        executor.update_parameters(**self.parameters(timing))
        return executor

    def submit(self, specs: list[JobSpec]) -> list[Tracked]:
        """One submission per kind (timing or not): a job array on SLURM."""
        from submitit.core.utils import FailedJobError

        tracked = []
        for timing in (True, False):
            group = [s for s in specs if s.timing == timing]
            if not group:
                continue
            n = len(group)
            try:
                jobs = self.executor(timing).map_array(
                    run_job,
                    [str(self.run.path)] * n,
                    [s.tag for s in group],
                    [self.time_limit_min()] * n,
                )
            except (FailedJobError, OSError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise SeqbenchError(f"submitting the jobs failed: {first}") from None
            now = time.time()
            for spec, job in zip(group, jobs, strict=True):
                entry = {
                    "tag": spec.tag,
                    "launcher": self.cluster,
                    "job_id": str(job.job_id),
                    "timing": spec.timing,
                    "entries": spec.run_keys,
                    "submitted_unix_s": now,
                    "log": str(job.paths.stdout),
                    "state": None,  # set when the job is seen to end
                }
                submitted(self.run).append(entry)
                tracked.append(Tracked(spec, job, entry))
        self.run.save()
        if self.cluster == "slurm":  # a local job is a process: its id says little
            ids = sorted({t.entry["job_id"].split("_")[0] for t in tracked})
            self._say(f"submitted {len(tracked)} jobs ({', '.join(ids)})")
        return tracked

    def _ended(self, tracked: Tracked) -> bool:
        return tracked.job.paths.result_pickle.exists() or not scheduler.is_active(tracked.state)

    def _result(self, tracked: Tracked) -> tuple[str | None, Any]:
        """("success", run_job's dict) or ("error", traceback text), or (None, None) when the
        job left no result."""
        path = tracked.job.paths.result_pickle
        for _ in range(10):  # submitit moves the file into place: it may be an instant late
            try:
                with path.open("rb") as f:
                    return pickle.load(f)
            except FileNotFoundError:
                return None, None
            except (EOFError, pickle.UnpicklingError):
                time.sleep(0.2)
        return None, None

    def finish(self, tracked: Tracked) -> None:
        """A job ended: record what it left unfinished, in its state's terms."""
        outcome, value = self._result(tracked)
        job_id = tracked.entry["job_id"]
        timed_out = False
        if outcome == "success":
            state = "COMPLETED"
            if value.get("stopped_by"):  # it stopped early: the scheduler may say why
                state = self.stopped_state(tracked, value["stopped_by"])
            timed_out = bool(value.get("timed_out"))
            self.events += [f"{e} (job {job_id})" for e in value.get("events", [])]
        elif outcome == "error":
            state = "FAILED"
            last = str(value).strip().splitlines()[-1] if str(value).strip() else ""
            self.events.append(f"job {job_id} failed: {last}; log: {tracked.entry['log']}")
        else:
            state = self.ended_state(tracked)
        self.events += settle(
            self.run,
            tracked.entry,
            state,
            timed_out=timed_out,
            kill_orphans=self.cluster == "local",
        )
        # The job's supervisor slims its records after each attempt; a job killed in between
        # left full records beside a complete JSON.
        self.run.compact(self.run.path.glob(f"benchmarks-job{job_id}-*.json"))
        tracked.entry["state"] = state
        self.run.save()
        if scheduler.word(state) != "COMPLETED":
            self._say(f"job {job_id} ended {state}; log: {tracked.entry['log']}")

    def settle_earlier(self) -> None:
        """Jobs of an earlier launch that ended while nobody watched (a Ctrl-C, a logout)
        get their faults recorded now; a resume while some still run would measure their
        cells twice, so it stops with one line."""
        unsettled = [j for j in submitted(self.run) if j.get("state") is None]
        if not unsettled:
            return
        by_launcher: dict[str, list[dict]] = {}
        for job in unsettled:
            by_launcher.setdefault(job["launcher"], []).append(job)
        states: dict[str, str] = {}
        for launcher, jobs in by_launcher.items():
            if launcher == "slurm":
                scheduler.require("slurm")
            states |= scheduler.states(launcher, jobs, self.run.path / SUBMITIT_DIR)
        running = [j["job_id"] for j in unsettled if scheduler.is_active(states[j["job_id"]])]
        if running:
            shown = ", ".join(running[:5]) + (", ..." if len(running) > 5 else "")
            cancel = "scancel" if any(j["launcher"] == "slurm" for j in unsettled) else "kill"
            raise SeqbenchError(
                f"jobs {shown} of this run are still queued or running: follow them with "
                f"`seqbench status {self.run.path}`, or stop them ({cancel}), then resume"
            )
        for job in unsettled:
            self.events += settle(self.run, job, states[job["job_id"]])
            job["state"] = states[job["job_id"]]
        self.run.save()

    def _show(self, queue: list[JobSpec], active: list[Tracked]) -> None:
        if self.progress is None:
            return
        done = records.finished_nodeids(self.run.cells_dir)
        running = sum(marker(self.run, t.spec.tag).exists() for t in active)
        waiting = sum(k not in done for s in queue for k in s.run_keys)
        waiting += sum(k not in done for t in active for k in t.spec.run_keys) - running
        jobs = sum(scheduler.word(t.state) != "PENDING" for t in active)
        self.progress.update(
            f"{running} running, {max(waiting, 0)} queued ({jobs}/{len(active) + len(queue)} "
            "jobs started)"
        )


@dataclass
class SlurmLauncher(ClusterLauncher):
    name = "slurm"
    cluster = "slurm"

    def parameters(self, timing: bool) -> dict[str, Any]:
        o = self.options
        return {
            "name": f"seqbench-{self.run.path.name}",
            "timeout_min": self.time_limit_min(),
            "nodes": 1,
            "tasks_per_node": 1,
            "mem_gb": o.mem_bytes / 2**30 if o.mem_bytes else None,
            "cpus_per_task": o.cpus_per_task,
            "gpus_per_node": o.gpus_per_node,
            "slurm_partition": o.partition,
            "slurm_account": o.account,
            "slurm_constraint": o.constraint,
            "slurm_array_parallelism": o.array_parallelism,
            "slurm_setup": list(o.setup) or None,
            # A timing cell never shares its node: a neighbour's work changes its numbers.
            "slurm_exclusive": True if timing and not o.share_timing_nodes else None,
        }

    def may_start(self, spec: JobSpec, busy: list[JobSpec]) -> bool:
        return True  # SLURM queues them; --array-parallelism bounds the running ones

    def refresh(self, active: list[Tracked]) -> None:
        if not active or time.time() - self._last_states_s < self.state_poll_s:
            return
        self._last_states_s = time.time()
        states = scheduler.slurm_states([t.entry["job_id"] for t in active])
        for t in active:
            t.state = states.get(t.entry["job_id"], t.state)

    def ended_state(self, tracked: Tracked) -> str:
        # sacct may lag the job's end by a moment: ask again for a while.
        deadline = time.time() + 3 * self.poll_s + 5
        while True:
            state = scheduler.slurm_states([tracked.entry["job_id"]])[tracked.entry["job_id"]]
            if not scheduler.is_active(state) or time.time() > deadline:
                return state
            time.sleep(self.poll_s)

    def stopped_state(self, tracked: Tracked, signal_name: str) -> str:
        state = self.ended_state(tracked)  # PREEMPTED, CANCELLED, TIMEOUT
        if scheduler.is_active(state) or scheduler.word(state) == "COMPLETED":
            return super().stopped_state(tracked, signal_name)
        return state

    def stop(self, active: list[Tracked]) -> None:
        ids = sorted({t.entry["job_id"].split("_")[0] for t in active})
        if not ids:
            return
        if self.options.cancel_on_interrupt:
            for t in active:
                t.job.cancel(check=False)
            self._say(f"cancelled jobs {', '.join(ids)}")
            return
        self._say(
            f"jobs {', '.join(ids)} keep running on the cluster: follow them with "
            f"`seqbench status {self.run.path}`, cancel them with `scancel {' '.join(ids)}`; "
            "once they have ended, --resume runs what they did not"
        )


@dataclass
class LocalLauncher(ClusterLauncher):
    name = "local"
    cluster = "local"

    def parameters(self, timing: bool) -> dict[str, Any]:
        o = self.options
        # submitit hides every GPU from a local job that asks for none.
        gpus = o.gpus_per_node
        if gpus is None:
            gpus = int(any(c.device == "cuda" for c in self.run.cells))
        return {
            "timeout_min": self.time_limit_min(),
            "gpus_per_node": gpus,
            "local_setup": list(o.setup) or None,
        }

    def time_limit_min(self) -> int:
        return self.options.time_limit_min or LOCAL_TIME_LIMIT_MIN

    def may_start(self, spec: JobSpec, busy: list[JobSpec]) -> bool:
        # This machine is the node: a timing job runs alone, and nothing starts beside it.
        exclusive = not self.options.share_timing_nodes
        if exclusive and any(s.timing for s in busy):
            return False
        if exclusive and spec.timing:
            return not busy
        return len(busy) < (self.options.array_parallelism or os.cpu_count() or 1)

    def refresh(self, active: list[Tracked]) -> None:
        for t in active:
            code = t.job._process.poll() if t.job._process is not None else 0
            if code is None:
                t.state = "RUNNING"
            elif code < 0:
                t.state = f"KILLED by {signal.Signals(-code).name}"
            else:
                t.state = "FAILED" if code else "COMPLETED"

    def ended_state(self, tracked: Tracked) -> str:
        # The controller outlives a task killed under it and exits 0: no result is a failure.
        return "FAILED" if tracked.state == "COMPLETED" else tracked.state

    def stop(self, active: list[Tracked]) -> None:
        # Local jobs are this run's processes (a terminal's Ctrl-C reached them already).
        for t in active:
            with contextlib.suppress(OSError):
                t.job.cancel(check=False)
        deadline = time.time() + STOP_GRACE_S
        while time.time() < deadline and any(t.job._process.poll() is None for t in active):
            time.sleep(0.1)
        for t in active:
            if t.job._process.poll() is None:
                with contextlib.suppress(OSError):
                    t.job._process.kill()
                t.job._process.wait()
            self.events += settle(self.run, t.entry, "CANCELLED", kill_orphans=True)
            t.entry["state"] = "CANCELLED"
        self.run.save()
        if active:
            self._say(f"stopped {len(active)} local jobs")
