"""One progress bar over a whole sweep: cells done out of all, the cell running, and an ETA
weighted by each cell's estimated cost.

Cells differ in cost by five orders of magnitude (a T=10 forward pass against a 2000-step
training run at T=400), so a bar that counts cells would promise the wrong end time. Each
pytest item gets a cost in token-steps: sequence elements processed (B·T′) times how often
the measurement processes them. tqdm's rate over those units gives the ETA. The per-step bar
of a convergence cell, drawn by the pytest child, stays; this bar is redrawn by the
supervisor whenever a cell finishes. A cluster launcher (launchers/cluster/) runs several
jobs at once, each with its own running marker: it gives the bar a line of how many cells
run and wait instead. `SEQBENCH_PROGRESS=0` turns both off.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from seqbench.launchers import records
from seqbench.launchers.plan import PlannedCell
from seqbench.tasks import TASKS

# Token-step equivalents of what a cost does not scale with, at about 2 M token-steps per
# second (an LSTM training step at B=100, T=100 takes 16 ms on 2 cores): every item's set-up
# (model, data, pytest; about 0.2 s), a memory probe's fresh process (interpreter and torch
# import, about a second) and the calibration's GEMM chain (about half a second).
ITEM_OVERHEAD_COST = 400_000
PROCESS_START_COST = 2_000_000
CALIBRATION_COST = 1_000_000
# The unrolled gradients pass runs one Python-level cell call per step: much slower per token
# than a fused step.
UNROLLED_SLOWDOWN = 20


def item_cost(family: str, measurement: str | None, config: dict[str, Any]) -> float:
    """Estimated cost of one pytest item, in token-steps."""
    return ITEM_OVERHEAD_COST + _work(family, measurement, config)


def _work(family: str, measurement: str | None, config: dict[str, Any]) -> float:
    if family == "calibration" or config.get("task") not in TASKS:
        return CALIBRATION_COST
    tokens = config["batch_size"] * TASKS[config["task"]].total_len(config["seq_len"])
    repeats = config.get("rounds", 1) + config.get("warmup_rounds", 0)
    if family == "convergence":
        steps = config.get("train_steps", 0)
        evals = steps / max(config.get("eval_every", 1), 1)
        heldout = config.get("heldout_size", 0) * TASKS[config["task"]].total_len(config["seq_len"])
        return 3.0 * steps * tokens + evals * heldout
    if family == "gradients":
        return 3.0 * UNROLLED_SLOWDOWN * tokens
    if family == "memory":
        return 3.0 * repeats * tokens + PROCESS_START_COST * max(repeats, 1)
    if family == "overhead":
        return 2 * 3.0 * repeats * tokens
    if family == "throughput" and measurement == "forward":
        return float(repeats * tokens)
    if family == "throughput":
        return 3.0 * repeats * tokens
    return float(repeats * tokens)  # latency and anything else: forward passes


def plan_costs(plan: list[PlannedCell]) -> list[float]:
    """Every entry of a sweep's plan (a cell timed in N processes has N): session entries
    are the calibration; the throughput family's functions name their measurement."""
    costs = []
    for entry in plan:
        if entry.cell is None:
            costs.append(item_cost("calibration", None, {}))
            continue
        function = entry.nodeid.split("::")[-1].split("[")[0]
        measurement = function.removeprefix("test_")
        costs.append(item_cost(entry.cell.family, measurement, entry.cell.to_dict()))
    return costs


def _record_cost(path: Path) -> float:
    """The cost of a finished item, from its record; 0 for a file that is not one."""
    try:
        extra = json.loads(path.read_text())["cell_record"].get("extra_info") or {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return 0.0
    return item_cost(extra.get("family", ""), extra.get("measurement"), extra.get("config") or {})


class SweepProgress:
    """The sweep's bar. `update()` runs at every supervisor poll: it lists the records folder
    and reads only records it has not seen, so a long sweep's poll stays cheap."""

    def __init__(self, plan: list[PlannedCell], cells_dir: Path) -> None:
        costs = plan_costs(plan)
        self.items = len(costs)
        self.cells_dir = cells_dir
        # record file name -> its planned item's cost: a stub record (its entry is in a
        # pytest-benchmark JSON) no longer says what the cell was
        self.planned = {
            f"{records.record_stem(e.run_key)}.json": c for e, c in zip(plan, costs, strict=True)
        }
        self.costs: dict[str, float] = {}  # record file name -> its item's cost
        self.current: str | None = None
        self.activity: str | None = None  # e.g. "2 running, 5 queued", from a cluster launcher
        disabled = os.environ.get("SEQBENCH_PROGRESS") == "0" or not sys.stderr.isatty()
        self.bar = tqdm(
            total=sum(costs),
            desc="sweep",
            unit="token-step",
            unit_scale=True,
            disable=disabled,
            bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
        )
        self.update()

    def update(self, activity: str | None = None) -> None:
        """Redraw after new records; `activity` replaces the running cell's name (several
        jobs run cells at once)."""
        names = (
            {p.name for p in self.cells_dir.glob("*.json")} - {records.RUNNING}
            if self.cells_dir.is_dir()
            else set()
        )
        new = names - self.costs.keys()
        for name in new:
            cost = self.planned.get(name)
            self.costs[name] = _record_cost(self.cells_dir / name) if cost is None else cost
        current = None
        if activity is None:
            running = records.read_running(self.cells_dir)
            current = running["nodeid"].split("::")[-1] if running else None
        if not new and current == self.current and activity == self.activity:
            return
        self.current, self.activity = current, activity
        done = sum(self.costs.values())
        now = activity or f"now {current or '-'}"
        self.bar.set_description_str(
            f"sweep: {len(self.costs)}/{self.items} cells, {now}", refresh=False
        )
        self.bar.n = min(done, self.bar.total)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
