"""The default launcher (`supervisor`): pytest on the run's plan in a supervised child process.

pytest-benchmark writes its JSON only when a session ends, so each cell's record is written
as the cell finishes (seqbench/pytest_session.py); once a session's JSON is written, the
records of the measurements it holds become stubs that name it (RunFolder.compact). Every
item runs in a worker process forked from the pytest session (launchers/workers.py): a
worker that dies (the OOM killer, a segfault) is recorded as `crashed` and the session goes
on. If pytest itself dies or a cell overstays its time limit, the supervisor records the
cell in progress as `crashed` or `timeout` and starts pytest again on the cells still to
run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from seqbench.errors import SeqbenchError
from seqbench.launchers import records
from seqbench.launchers.base import Launcher, RunFolder, Terminated
from seqbench.launchers.plan import benchmarks_dir, pytest_location_args
from seqbench.launchers.progress import SweepProgress

POLL_S = 0.5  # how often the supervisor checks the child and the running cell's clock
# What `timeout`, `kill`, CI cancellation, container stop and SLURM preemption send. The
# supervisor passes them on to pytest's process group, so no child outlives it.
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
GRACE_S = 30  # how long pytest gets to stop after a forwarded signal before SIGKILL


def _terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


@dataclass
class Supervisor(Launcher):
    name = "supervisor"
    verbose: bool = True
    attempts: int = 0  # pytest launches so far
    events: list[str] = field(default_factory=list)  # crashed/timeout lines, for the summary
    json_path: Path | None = None  # pytest-benchmark's JSON of the latest attempt
    progress: SweepProgress | None = None  # the whole sweep's bar, redrawn at each poll
    run_folder: RunFolder | None = None  # set by launch()
    log: Path | None = None  # where pytest's output goes (default: this terminal)
    # A cluster job (launchers/cluster/job.py) runs its share of the plan: its own manifest,
    # its own running marker (other jobs write into the same cells/ at the same time) and
    # its own pytest-benchmark JSON names. None: the run folder's run.json and cells marker.
    plan_path: Path | None = None
    running_file: Path | None = None
    json_prefix: str = "benchmarks"  # pytest-benchmark's JSON is <prefix>-<attempt>.json

    @property
    def out_dir(self) -> Path:
        assert self.run_folder is not None
        return self.run_folder.path

    @property
    def cells_dir(self) -> Path:
        return self.out_dir / "cells"

    def _next_json(self) -> Path:
        """A new file per pytest attempt: a resumed run never overwrites an earlier one."""
        n = 1
        while (self.out_dir / f"{self.json_prefix}-{n}.json").exists():
            n += 1
        return self.out_dir / f"{self.json_prefix}-{n}.json"

    def command(self) -> list[str]:
        assert self.run_folder is not None
        bench_dir = benchmarks_dir()
        json_path = self.json_path = self._next_json()
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            str(bench_dir),
            "--benchmark-only",
            "--benchmark-json",
            str(json_path),
            # pytest-benchmark makes its storage folder (default ./.benchmarks) even when
            # nothing is saved there: keep it in the run folder, not wherever the user stands.
            "--benchmark-storage",
            f"file://{self.out_dir / '.benchmarks'}",
            "--seqbench-plan",
            str(self.plan_path or self.run_folder.manifest_path),
            "--seqbench-fork",
            "--seqbench-cells-dir",
            str(self.cells_dir),
            "-p",
            "no:cacheprovider",
            *pytest_location_args(bench_dir),
            "-s",
            "-q",
            "--no-header",
            "--benchmark-columns",
            "median,iqr,rounds",
        ]
        if self.running_file is not None:
            cmd += ["--seqbench-running-file", str(self.running_file)]
        return cmd

    def launch(self, run: RunFolder) -> None:
        """Launch pytest until every planned cell has a record. Ctrl-C propagates as
        KeyboardInterrupt, SIGTERM and SIGHUP as Terminated (records stay)."""
        self.run_folder = run
        # [0-9]: this launcher's attempts only, never a cluster job's benchmarks-job<id>-N.json,
        # which a job still running may hold open.
        for stale in self.out_dir.glob(f"{self.json_prefix}-[0-9]*.json"):  # left by a killed run
            if stale.stat().st_size == 0:
                stale.unlink()
        # A run killed after pytest wrote its JSON but before its records were slimmed.
        run.compact(self.out_dir.glob(f"{self.json_prefix}-[0-9]*.json"))
        while True:
            before = len(records.finished_nodeids(self.cells_dir))
            self.attempts += 1
            try:
                code = self._launch_once()
            finally:
                self._attempt_ended()
            if code in (3, 4):  # pytest's internal or usage error: a bug, not a cell's fault
                records.clear_running(self.cells_dir, self.running_file)
                raise SeqbenchError(
                    f"pytest failed with exit code {code} (internal or usage "
                    "error); see its output above"
                )
            fault = self._record_fault(code)
            after = len(records.finished_nodeids(self.cells_dir))
            if code in (0, 1, 5) and fault is None:
                return  # pytest finished its session: every cell has run (1 = some failed)
            if code == 2 and fault is None:
                raise KeyboardInterrupt  # pytest was interrupted
            if after == before:
                raise SeqbenchError(
                    f"pytest exited with code {code} before running any cell; see the output above"
                )

    def _attempt_ended(self) -> None:
        """pytest-benchmark opens its JSON file at start-up and fills it at the end: an
        attempt that was killed, or ran no benchmark, leaves it empty (removed here; its
        cells keep their full records). A filled one holds the attempt's measurements: their
        records become stubs naming it (RunFolder.compact)."""
        path = self.json_path
        if path is None or not path.exists():
            return
        if path.stat().st_size == 0:
            path.unlink()
        elif self.run_folder is not None:
            self.run_folder.compact([path])

    def _launch_once(self) -> int:
        # A new session (process group) lets the supervisor kill pytest and everything it
        # started (memory probes) at once on a timeout, without signalling itself.
        # Handlers first: a signal between Popen and them would orphan pytest's session.
        previous = {s: signal.signal(s, _terminated) for s in FORWARDED_SIGNALS}
        self._timed_out: dict | None = None
        try:
            assert self.run_folder is not None
            output = self.log.open("a") if self.log else None
            try:
                proc = subprocess.Popen(
                    self.command(),
                    start_new_session=True,
                    env=os.environ | self.run_folder.env,
                    stdout=output,
                    stderr=subprocess.STDOUT if output else None,
                )
            finally:
                if output:
                    output.close()  # the child holds its own descriptor
        except BaseException:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            raise
        try:
            while proc.poll() is None:
                time.sleep(POLL_S)
                if self.progress is not None:
                    self.progress.update()
                running = records.read_running(self.cells_dir, self.running_file)
                if (
                    running
                    and running.get("timeout_s")
                    and time.time() - running["started_unix_s"] > running["timeout_s"]
                ):
                    self._timed_out = running
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        except KeyboardInterrupt:
            # The terminal sent SIGINT to our group only; pass it on so pytest stops cleanly.
            self._stop(proc, signal.SIGINT)
            records.clear_running(self.cells_dir, self.running_file)
            raise
        except Terminated as exc:
            # pytest runs in its own session, so SIGTERM to us never reached it: forward it,
            # and record the cell it interrupted, which will not finish. A repeated signal
            # (SLURM and systemd send more) must not cut the grace period short.
            for signum in FORWARDED_SIGNALS:
                signal.signal(signum, signal.SIG_IGN)
            self._stop(proc, exc.signum)
            self._record_fault(-exc.signum, interrupted=True)
            raise
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return proc.returncode

    @staticmethod
    def _stop(proc: subprocess.Popen, signum: int) -> None:
        """Signal pytest's whole process group; SIGKILL what is left after GRACE_S."""
        try:
            os.killpg(proc.pid, signum)
            proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # grandchildren (memory probes) that lingered

    def _record_fault(self, code: int, interrupted: bool = False) -> str | None:
        """If a cell was in progress when pytest ended, record why; return that status. An
        interrupted cell (a signal to the supervisor, not the cell's fault) is marked so that
        --resume runs it again."""
        running = records.read_running(self.cells_dir, self.running_file)
        if running is None:
            return None
        nodeid = running["nodeid"]
        if self._timed_out is not None:
            status = "timeout"
            message = f"exceeded its time limit of {running['timeout_s']:g} s"
        else:
            status = "crashed"
            message = (
                f"{records.INTERRUPTED_BY}{signal.Signals(-code).name}"
                if interrupted
                else f"killed by {signal.Signals(-code).name}"
                if code < 0
                else f"pytest exited with code {code} during the cell"
            )
        records.write_unmeasured(
            self.cells_dir,
            nodeid,
            running.get("config") or {},
            status,
            message,
            process=running.get("process"),
        )
        records.clear_running(self.cells_dir, self.running_file)
        self.events.append(f"{status}: {nodeid} ({message})")
        if self.verbose:
            print(f"seqbench: cell {status}: {nodeid} ({message}); continuing", file=sys.stderr)
        return status
