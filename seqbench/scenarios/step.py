"""One training step, split into forward, backward and optimizer phases.

pytest-benchmark times the whole call; the step also records each phase so the split can be
reported. On CUDA the phases are timed with CUDA events and the step synchronizes once at its
end, so the benchmark's clock reads finished work without extra syncs inside the step.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch

from seqbench.scenarios.workload import Workload


class _PhaseClock:
    """Marks phase boundaries: perf_counter on CPU, CUDA events on a GPU."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")

    def mark(self) -> object:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def finish(self, marks: list) -> list[float]:
        """Seconds between consecutive marks (synchronizes on CUDA)."""
        if self.cuda:
            torch.cuda.synchronize()
            return [a.elapsed_time(b) / 1e3 for a, b in itertools.pairwise(marks)]
        return [b - a for a, b in itertools.pairwise(marks)]


def _busy_wait(seconds: float) -> None:
    """Spin, not sleep: an injected cost should load the CPU like real work."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class TrainStep:
    """Callable full-batch training step with a phase split.

    Validation knobs (cfg.extra), for checking the tools, never for real measurements:
      inject_alloc_bytes  hold an extra buffer of this size through backward (memory probe test)
      inject_slowdown     spin for this fraction of the step's own time (regression detector)
    """

    def __init__(self, workload: Workload) -> None:
        self.w = workload
        self.clock = _PhaseClock(workload.cfg.device)
        self.clip = workload.cfg.clip_grad_norm
        self.inject_alloc_bytes = int(workload.cfg.extra.get("inject_alloc_bytes", 0))
        self.inject_slowdown = float(workload.cfg.extra.get("inject_slowdown", 0.0))
        self.phases: list[tuple[float, float, float]] = []  # (forward, backward, optimizer) s
        self.last_loss: float = float("nan")

    def __call__(self) -> None:
        w = self.w
        start = self.clock.mark()
        held = None
        if self.inject_alloc_bytes:
            # torch.ones touches every page, so the kernel really maps it.
            held = torch.ones(self.inject_alloc_bytes, dtype=torch.uint8, device=w.cfg.device)
        loss = w.task.loss(w.model(w.x), w.y)
        after_forward = self.clock.mark()
        w.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip is not None:
            torch.nn.utils.clip_grad_norm_(w.model.parameters(), self.clip)
        after_backward = self.clock.mark()
        w.optimizer.step()
        end = self.clock.mark()
        del held
        phases = self.clock.finish([start, after_forward, after_backward, end])
        self.phases.append((phases[0], phases[1], phases[2]))
        self.last_loss = loss.item()
        if self.inject_slowdown:
            _busy_wait(self.inject_slowdown * sum(phases))

    def phase_medians(self, last: int) -> dict[str, float]:
        """Median and IQR of each phase over the last `last` calls (the timed rounds)."""
        data = np.array(self.phases[-last:]) if self.phases else np.zeros((1, 3))
        out: dict[str, float] = {}
        for i, name in enumerate(("fwd", "bwd", "opt")):
            q1, med, q3 = np.percentile(data[:, i], [25, 50, 75])
            out[f"{name}_time_s"] = float(med)
            out[f"{name}_time_iqr_s"] = float(q3 - q1)
        return out


class ForwardOnly:
    """Inference-mode forward pass: no autograd graph is built."""

    def __init__(self, workload: Workload) -> None:
        self.w = workload
        self.cuda = workload.cfg.device.startswith("cuda")

    def __call__(self) -> None:
        with torch.inference_mode():
            self.w.model(self.w.x)
        if self.cuda:
            torch.cuda.synchronize()
