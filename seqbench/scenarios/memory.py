"""Peak memory of one training step, in a fresh process.

tracemalloc cannot see torch's allocator, and a long-lived process carries the high-water
marks of everything it did before. So each measurement spawns a child that builds the
workload, resets the kernel's RSS high-water mark (writing 5 to /proc/self/clear_refs),
reports its RSS before the step, waits for "go", runs exactly one training step, and reports the
kernel's VmHWM. The parent times only go → done, so the timing is the step's, not the
process start-up's. On CUDA the child uses torch.cuda's allocator peak instead.

The child's whole-process peak (start-up, workload and step) is read from the child's own
memory map: the larger of VmHWM just before the reset and VmHWM after the step. The kernel's
per-process ``ru_maxrss`` (getrusage, or wait4 in the parent) cannot give it: Linux keeps the
largest RSS a process has had across execve in the process's signal struct, and a child
started with vfork or posix_spawn (what subprocess uses) execs out of the parent's memory
map, so its ru_maxrss starts at the parent's high-water mark; fork + exec starts it at the
parent's RSS at fork. Measured (Linux 6.18, Python 3.11) with a parent holding 300 MB: a
bare Python child's ru_maxrss was 315 MB through subprocess and posix_spawn, 311 MB through
fork + exec, while its VmHWM was 14 MB in every case. VmHWM belongs to the memory map, which
execve makes new, so it counts the child's own pages only.

Protocol on the child's stdin/stdout, one JSON object per line:
  parent → child: {"config": {...}} then "go"
  child → parent: {"ready": true, "before_step_bytes": n, "hwm_reset": bool}
                  {"done": true, "peak_bytes": n, "process_peak_bytes": n,
                   "step_time_s": s, ...} or {"error": "..."}
"""

from __future__ import annotations

import gc
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from seqbench.config import CellConfig
from seqbench.errors import SeqbenchError


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    raise OSError(f"{field} not in /proc/self/status")


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # 5 = reset the peak RSS (Documentation/filesystems/proc.rst)
        return True
    except OSError:
        return False


class MemoryProbeFailed(SeqbenchError):
    """The child died or reported an error (out of memory, a signal, a bug)."""

    def __init__(
        self, message: str, signal_name: str | None = None, out_of_memory: bool = False
    ) -> None:
        super().__init__(message)
        self.signal_name = signal_name
        self.out_of_memory = out_of_memory


@dataclass
class MemoryProbe:
    """Parent side: one fresh child per measurement round."""

    cfg: CellConfig
    max_mem_bytes: int | None = None  # RLIMIT_AS for the child (None: no limit)

    def start(self) -> None:
        """Spawn the child and wait until its workload is built (not timed)."""
        cmd = [sys.executable, "-m", "seqbench.scenarios.memory"]
        if self.max_mem_bytes:
            cmd.append(str(self.max_mem_bytes))
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self._send({"config": self.cfg.to_dict()})
        self.ready = self._receive()

    def run_step(self) -> None:
        """Timed by the caller: tell the child to run its step, wait for the report."""
        self._send("go")
        self.result = self._receive()

    def finish(self) -> dict[str, Any]:
        """Reap the child and return all its figures.

        Not wait4's ru_maxrss: it starts at the parent's high-water mark (module docstring).
        """
        self.proc.wait()
        return dict(self.ready) | dict(self.result)

    def _send(self, message: Any) -> None:
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self._died()

    def _receive(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            self._died()
        reply = json.loads(line)
        if "error" in reply:
            self.proc.wait()
            raise MemoryProbeFailed(
                f"memory probe failed: {reply['error']}",
                out_of_memory=reply.get("out_of_memory", False),
            )
        return reply

    def _died(self) -> None:
        code = self.proc.wait()
        if code < 0:
            name = signal.Signals(-code).name
            raise MemoryProbeFailed(
                f"memory probe killed by {name}", signal_name=name, out_of_memory=name == "SIGKILL"
            )
        raise MemoryProbeFailed(f"memory probe exited with code {code}")


def _child(max_mem_bytes: int | None) -> None:
    import resource

    if max_mem_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (max_mem_bytes, max_mem_bytes))
    reply = sys.stdout
    try:
        # Imported in the child, after the address-space limit: the probe's peak must include
        # what loading torch costs, as a real training process's does, and the parent that
        # only reads the reply needs none of it.
        import torch

        from seqbench.scenarios.step import TrainStep
        from seqbench.scenarios.workload import Workload

        cfg = CellConfig(**json.loads(sys.stdin.readline())["config"])
        step = TrainStep(Workload.build(cfg))
        cuda = cfg.device.startswith("cuda")
        gc.collect()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before_step = torch.cuda.memory_allocated()
        startup_hwm = _status_bytes("VmHWM")  # the child's own peak so far: exec made a new map
        hwm_reset = _reset_hwm()
        # Without a reset, the high-water mark so far is the honest level to subtract.
        rss_before_step = _status_bytes("VmRSS" if hwm_reset else "VmHWM")
        if not cuda:
            before_step = rss_before_step
        reply.write(
            json.dumps({"ready": True, "before_step_bytes": before_step, "hwm_reset": hwm_reset})
            + "\n"
        )
        reply.flush()
        assert json.loads(sys.stdin.readline()) == "go"
        start = time.perf_counter()
        step()  # synchronizes CUDA before returning
        step_time = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated() if cuda else _status_bytes("VmHWM")
        reply.write(
            json.dumps(
                {
                    "done": True,
                    "peak_bytes": peak,
                    "step_time_s": step_time,
                    "fwd_time_s": step.phases[-1][0],
                    "bwd_time_s": step.phases[-1][1],
                    "opt_time_s": step.phases[-1][2],
                    "rss_peak_bytes": _status_bytes("VmHWM"),
                    # whole life of the child: start-up, workload, step
                    "process_peak_bytes": max(startup_hwm, _status_bytes("VmHWM")),
                    "rss_before_step_bytes": rss_before_step,
                }
            )
            + "\n"
        )
        reply.flush()
    except (MemoryError, RuntimeError) as exc:  # torch raises RuntimeError when malloc fails
        oom = (
            isinstance(exc, MemoryError)
            or "alloc" in str(exc).lower()
            or "out of memory" in str(exc).lower()
        )
        reply.write(
            json.dumps(
                {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}", "out_of_memory": oom}
            )
            + "\n"
        )
        reply.flush()
        sys.exit(1)


if __name__ == "__main__":
    _child(int(sys.argv[1]) if len(sys.argv) > 1 else None)
