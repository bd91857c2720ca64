"""Out-of-sample check of the peak-memory estimate (seqbench.models.costs.peak_step_bytes).

    python -m seqbench.studies.memory_model --out results/memory-model

The estimate of one training step's peak above the process's memory before the step has
three terms (seqbench/models/costs.py):
  saved activations    derived: saved_units·H floats per (sequence, step, layer,
                       direction), what autograd saves (read with saved_tensors_hooks),
                       plus each layer's input x_t;
  backward working set FITTED: backward_units·H floats per (sequence, step, layer,
                       direction), constants fitted to fresh-process peaks at one
                       configuration (costs.BACKWARD_FIT: T=5000, B=100, H=50, I=1, one
                       layer, torch 2.13 CPU); its scaling with B, T, H and layers is assumed;
  gradients and Adam   derived: 3× the parameters.
At the fit point the fitted term is 77% of RNN's estimate, 52% of GRU's and 8% of LSTM's, so
the estimate is only as good as the fit's extrapolation. This study measures that: for each
model and grid point one fresh-process probe (seqbench.scenarios.memory, the memory family's
own) measures the step's peak above the memory before it, and the ratio estimate / measured
is 1 for a perfect estimate, below 1 where it underestimates. The fit point is measured
--fit-repeats times, spread over the run: the spread is the measurement's own run-to-run
noise, and the ratio says whether the fit still reproduces.

The grid (GRID) first varies one axis at a time away from the fit point (T, B, H, layers),
then takes the corners of B ∈ {20, 200} × H ∈ {32, 128} × layers ∈ {1, 2} at T=500 and four
combined points at T=2000 and 5000. A point whose estimate exceeds --max-estimate is skipped,
and every child runs under an address-space limit (--probe-limit), so no probe can grow past
about 3 GiB resident.

--live adds an in-process measurement: the peak of live tensor bytes during one step, from
torch.profiler's memory timeline (torch.profiler._memory_profiler, a private torch API). That
is what a derivation from autograd's graph would predict; set beside the fresh-process peaks
it shows why the backward term is fitted and not derived.

Outputs in --out: study.csv (one row per probe), summary.md, env.json (seqbench.env.collect),
run.json (command, start, wall time, load, code version) and live.csv (--live).
--summary-only rewrites summary.md from those files without measuring anything.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from seqbench import env
from seqbench.analysis.markdown import markdown_table
from seqbench.config import CellConfig
from seqbench.launchers.plan import SOURCE_CHECKOUT
from seqbench.models import MODELS
from seqbench.models.costs import (
    BACKWARD_FIT,
    activation_bytes,
    backward_working_set_bytes,
    optimizer_bytes,
    peak_step_bytes,
)
from seqbench.scenarios.memory import MemoryProbe, MemoryProbeFailed
from seqbench.scenarios.step import TrainStep
from seqbench.scenarios.workload import Workload

# Out of sample, a median ratio outside these bounds is called "badly off" in summary.md:
# beyond the ±10% margin the claims allow a memory comparison, plus the fit point's own noise.
BADLY_OFF_RATIO = (0.8, 1.25)
# Below this measured peak the first step's fixed cost (code pages, oneDNN primitives:
# about 10-20 MB, not in the estimate) dominates, so summary.md also reports the rest alone.
LARGE_CELL_BYTES = 100 * 10**6
LIVE_SEQ_LEN = 200  # --live profiles every op of a step, so it runs at a short T


@dataclass(frozen=True)
class GridPoint:
    """One configuration of the study (task mean-sign, input size 1, float32, CPU)."""

    seq_len: int  # T
    batch_size: int  # B
    hidden_size: int  # H
    num_layers: int  # stacked unidirectional layers
    varies: str  # what departs from the fit point: "fit point", "T", "B", "H", ...


def _corners() -> tuple[GridPoint, ...]:
    return tuple(
        GridPoint(500, b, h, layers, "B, H, layers at T=500")
        for b in (20, 200)
        for h in (32, 128)
        for layers in (1, 2)
    )


GRID: tuple[GridPoint, ...] = (
    GridPoint(
        BACKWARD_FIT.seq_len,
        BACKWARD_FIT.batch_size,
        BACKWARD_FIT.hidden_size,
        BACKWARD_FIT.num_layers,
        "fit point",
    ),
    GridPoint(500, 100, 50, 1, "T"),
    GridPoint(2000, 100, 50, 1, "T"),
    GridPoint(2000, 20, 50, 1, "B"),
    GridPoint(2000, 200, 50, 1, "B"),
    GridPoint(2000, 100, 32, 1, "H"),
    GridPoint(2000, 100, 128, 1, "H"),
    GridPoint(500, 100, 50, 2, "layers"),
    GridPoint(2000, 100, 50, 2, "layers"),
    *_corners(),
    GridPoint(2000, 20, 128, 2, "combined"),
    GridPoint(2000, 200, 32, 2, "combined"),
    GridPoint(5000, 200, 32, 1, "combined"),
    GridPoint(5000, 20, 128, 2, "combined"),
)
# Seconds, not minutes: for the study's own test.
TINY_GRID: tuple[GridPoint, ...] = (GridPoint(20, 4, 8, 1, "T"), GridPoint(30, 4, 8, 2, "layers"))
LIVE_GRID: tuple[GridPoint, ...] = (
    GridPoint(LIVE_SEQ_LEN, 100, 50, 1, "fit point's B, H"),
    GridPoint(LIVE_SEQ_LEN, 20, 128, 1, "H"),
    GridPoint(LIVE_SEQ_LEN, 100, 50, 2, "layers"),
)

COLUMNS = (
    "model",
    "cell_id",
    "seq_len",
    "batch_size",
    "hidden_size",
    "input_size",
    "num_layers",
    "threads",
    "varies",
    "sample",
    "repeat",
    "status",
    "measured_peak_bytes",
    "estimate_peak_bytes",
    "est_over_measured_ratio",
    "activation_est_bytes",
    "backward_est_bytes",
    "optimizer_est_bytes",
    "before_step_bytes",
    "process_peak_bytes",
    "step_time_s",
    "probe_wall_s",
    "message",
)


def cell_for(model: str, point: GridPoint, threads: int | None) -> CellConfig:
    """The memory family's cell for a grid point (one round, no warm-up)."""
    return CellConfig(
        family="memory",
        model=model,
        task="mean-sign",
        seq_len=point.seq_len,
        batch_size=point.batch_size,
        hidden_size=point.hidden_size,
        input_size=1,
        num_layers=point.num_layers,
        threads=threads,
        rounds=1,
        warmup_rounds=0,
    )


def measure(cfg: CellConfig, probe_limit_bytes: int | None) -> dict[str, Any]:
    """One fresh-process probe, exactly as benchmarks/test_memory.py runs one round."""
    probe = MemoryProbe(cfg, probe_limit_bytes)
    probe.start()
    probe.run_step()
    return probe.finish()


def probe_row(
    model: str,
    point: GridPoint,
    repeat: int,
    threads: int | None,
    max_estimate_bytes: int,
    probe_limit_bytes: int | None,
) -> dict[str, Any]:
    """Measure one point for one model; the row of study.csv, whatever happened."""
    cfg = cell_for(model, point, threads)
    estimate = peak_step_bytes(cfg)
    row: dict[str, Any] = {
        "model": model,
        "cell_id": cfg.cell_id,
        "seq_len": point.seq_len,
        "batch_size": point.batch_size,
        "hidden_size": point.hidden_size,
        "input_size": 1,
        "num_layers": point.num_layers,
        "threads": threads,
        "varies": point.varies,
        "sample": "fit" if BACKWARD_FIT.matches(cfg) else "out",
        "repeat": repeat,
        "estimate_peak_bytes": estimate,
        "activation_est_bytes": activation_bytes(cfg),
        "backward_est_bytes": backward_working_set_bytes(cfg),
        "optimizer_est_bytes": optimizer_bytes(cfg),
    }
    if estimate > max_estimate_bytes:
        return row | {
            "status": "skipped",
            "message": f"estimate {estimate / 2**30:.2f} GiB over --max-estimate",
        }
    start = time.perf_counter()
    try:
        result = measure(cfg, probe_limit_bytes)
    except MemoryProbeFailed as exc:
        return row | {
            "status": "failed",
            "message": str(exc),
            "probe_wall_s": time.perf_counter() - start,
        }
    measured = result["peak_bytes"] - result["before_step_bytes"]
    return row | {
        "status": "ok",
        "measured_peak_bytes": measured,
        "est_over_measured_ratio": estimate / measured if measured > 0 else None,
        "before_step_bytes": result["before_step_bytes"],
        "process_peak_bytes": result["process_peak_bytes"],
        "step_time_s": result["step_time_s"],
        "probe_wall_s": time.perf_counter() - start,
        "message": "" if result["hwm_reset"] else "VmHWM could not be reset",
    }


def schedule(points: tuple[GridPoint, ...], fit_repeats: int) -> list[tuple[GridPoint, int]]:
    """The points in order, the fit point's repeats spread evenly over the run, so a drift
    during the run shows up as a spread there."""
    fit = [p for p in points if p.varies == "fit point"]
    rest = [(p, 0) for p in points if p.varies != "fit point"]
    if not fit:
        return rest
    order: list[tuple[GridPoint, int]] = []
    for r in range(fit_repeats):
        order.append((fit[0], r))
        order.extend(rest[r * len(rest) // fit_repeats : (r + 1) * len(rest) // fit_repeats])
    return order


def run_study(
    out: Path,
    models: tuple[str, ...],
    points: tuple[GridPoint, ...],
    fit_repeats: int = 3,
    threads: int | None = 1,
    max_estimate_bytes: int = int(2.5 * 2**30),
    probe_limit_bytes: int | None = 4 * 2**30,
) -> pd.DataFrame:
    """Probe every (point, model); rewrite study.csv after each probe, so an interrupted
    study keeps what it measured. Returns the table."""
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    order = schedule(points, fit_repeats)
    quiet = os.environ.get("SEQBENCH_PROGRESS") == "0"
    for i, (point, repeat) in enumerate(order):
        for model in models:
            rows.append(
                probe_row(model, point, repeat, threads, max_estimate_bytes, probe_limit_bytes)
            )
            table = pd.DataFrame(rows, columns=list(COLUMNS))
            table.to_csv(out / "study.csv", index=False)
            if not quiet:
                r = rows[-1]
                print(
                    f"[{i + 1}/{len(order)}] {r['cell_id']} {r['status']} ratio "
                    f"{r.get('est_over_measured_ratio')} ({r.get('probe_wall_s', 0):.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def live_peak_bytes(cfg: CellConfig) -> int:
    """Peak of live tensor bytes during one training step (first step, as the probe's),
    from torch.profiler's memory timeline: allocations minus frees, in time order."""
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import Action

    step = TrainStep(Workload.build(cfg))
    with profile(
        activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True
    ) as prof:  # the memory timeline needs all three
        step()
    live = peak = 0
    for _, action, _, size in prof._memory_profile().timeline:
        if action == Action.CREATE:
            live += size
        elif action == Action.DESTROY:
            live -= size
        peak = max(peak, live)
    return peak


def run_live(
    out: Path, models: tuple[str, ...], points: tuple[GridPoint, ...], threads: int | None
) -> pd.DataFrame:
    """live.csv: live-tensor peak per (point, model), in units of B·T·H floats per layer."""
    rows = []
    for point in points:
        for model in models:
            cfg = cell_for(model, point, threads)
            unit = 4 * point.batch_size * point.seq_len * point.hidden_size
            peak = live_peak_bytes(cfg)
            rows.append(
                {
                    "model": model,
                    "cell_id": cfg.cell_id,
                    "seq_len": point.seq_len,
                    "batch_size": point.batch_size,
                    "hidden_size": point.hidden_size,
                    "num_layers": point.num_layers,
                    "live_peak_bytes": peak,
                    "live_peak_units_count": peak / unit,
                    "activation_est_units_count": activation_bytes(cfg) / unit,
                    "estimate_units_count": peak_step_bytes(cfg) / unit,
                }
            )
    table = pd.DataFrame(rows)
    table.to_csv(out / "live.csv", index=False)
    return table


def ratio_stats(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and sample (fit / out): n, median, min and max of estimate / measured."""
    ok = table[table["status"] == "ok"]
    stats = ok.groupby(["model", "sample"])["est_over_measured_ratio"].agg(
        ["count", "median", "min", "max"]
    )
    return stats.reset_index()


def _md_table(frame: pd.DataFrame, digits: int = 2) -> str:
    """The frame through the one Markdown-table writer, floats to `digits` decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "–" if pd.isna(value) else f"{value:.{digits}f}"
        return str(value)

    return markdown_table(frame.map(cell))


def _findings(table: pd.DataFrame) -> list[str]:
    """Plain sentences: every axis value whose out-of-sample median ratio is badly off, among
    points large enough for the per-step terms to dominate (B, H and T over one-layer points
    only, so that the layers axis does not decide them); then the small points."""
    ok = table[(table["status"] == "ok") & (table["sample"] == "out")]
    large = ok[ok["measured_peak_bytes"] >= LARGE_CELL_BYTES]
    low, high = BADLY_OFF_RATIO
    found = []
    for model, rows in large.groupby("model"):
        for axis in ("num_layers", "batch_size", "hidden_size", "seq_len"):
            pool = rows if axis == "num_layers" else rows[rows["num_layers"] == 1]
            for value, group in pool.groupby(axis):
                ratios = group["est_over_measured_ratio"]
                if not low <= ratios.median() <= high:
                    word = "overestimates" if ratios.median() > high else "underestimates"
                    found.append(
                        f"- **{model}, {axis} = {value}**: the estimate {word} "
                        f"(median ratio {ratios.median():.2f} over {len(group)} "
                        f"point{'s' if len(group) > 1 else ''}, range "
                        f"{ratios.min():.2f}–{ratios.max():.2f})."
                    )
    if large.empty:
        found.append(f"- No out-of-sample point reached {LARGE_CELL_BYTES / 1e6:.0f} MB.")
    elif not found:
        found.append(
            f"- No axis value has a median ratio outside {low}–{high} among the "
            f"out-of-sample points of {LARGE_CELL_BYTES / 1e6:.0f} MB or more."
        )
    small = ok[ok["measured_peak_bytes"] < LARGE_CELL_BYTES]
    for model, rows in small.groupby("model"):
        ratios = rows["est_over_measured_ratio"]
        found.append(
            f"- {model}, the {len(rows)} points below "
            f"{LARGE_CELL_BYTES / 1e6:.0f} MB: median ratio {ratios.median():.2f} "
            f"(range {ratios.min():.2f}–{ratios.max():.2f}); the smallest measured "
            f"peak is {rows['measured_peak_bytes'].min() / 1e6:.1f} MB, mostly the "
            "first step's fixed cost that the estimate leaves out."
        )
    return found


def _code_version() -> str:
    """The commit the study ran on, and whether the tree had uncommitted changes."""
    repo = SOURCE_CHECKOUT
    if repo is None:
        return "unknown (an installed seqbench, not a checkout)"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            text=True,
            capture_output=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"commit {head}" + (" plus uncommitted changes" if dirty else "")


def _units(frame: pd.DataFrame, column: str) -> pd.Series:
    """A byte column in units of B·T·H float32 values, as live.csv counts."""
    return frame[column] / (4 * frame["batch_size"] * frame["seq_len"] * frame["hidden_size"])


def _one_axis_table(ok: pd.DataFrame) -> pd.DataFrame:
    """Ratios of the points that change one thing from the fit point, a column per model."""
    first = ok[ok["varies"].isin(["fit point", "T", "B", "H", "layers"])]
    table = first.pivot_table(
        index=["varies", "seq_len", "batch_size", "hidden_size", "num_layers"],
        columns="model",
        values="est_over_measured_ratio",
        aggfunc="median",
    )
    order = {"fit point": 0, "T": 1, "B": 2, "H": 3, "layers": 4}
    table = table.reset_index()
    return table.sort_values(
        ["varies", "seq_len", "batch_size", "hidden_size", "num_layers"],
        key=lambda c: c.map(order) if c.name == "varies" else c,
    )


def write_summary(
    out: Path,
    table: pd.DataFrame,
    info: dict[str, Any],
    run: dict[str, Any],
    live: pd.DataFrame | None = None,
) -> None:
    """summary.md: ratios per model in and out of sample, one axis at a time, per axis value,
    the findings, every point, and the live-tensor comparison. `run` is run.json."""
    ok = table[table["status"] == "ok"]
    fit_point = GridPoint(
        BACKWARD_FIT.seq_len,
        BACKWARD_FIT.batch_size,
        BACKWARD_FIT.hidden_size,
        BACKWARD_FIT.num_layers,
        "fit point",
    )
    fit_share = {
        m: backward_working_set_bytes(cell_for(m, fit_point, None))
        / peak_step_bytes(cell_for(m, fit_point, None))
        for m in sorted(table["model"].unique())
    }
    large = ok[(ok["sample"] == "out") & (ok["measured_peak_bytes"] >= LARGE_CELL_BYTES)]
    large_stats = (
        large.groupby("model")["est_over_measured_ratio"]
        .agg(["count", "median", "min", "max"])
        .reset_index()
    )
    large_stats.insert(1, "sample", f"out, measured ≥ {LARGE_CELL_BYTES / 1e6:.0f} MB")
    stats = pd.concat([ratio_stats(table), large_stats]).sort_values(["model", "sample"])
    stats = stats.rename(
        columns={"count": "n", "median": "median ratio", "min": "min ratio", "max": "max ratio"}
    )
    fit_rows = ok[ok["sample"] == "fit"]
    noise = [
        f"{m}: {g['measured_peak_bytes'].min() / 1e6:.0f}–"
        f"{g['measured_peak_bytes'].max() / 1e6:.0f} MB over {len(g)} probes"
        for m, g in fit_rows.groupby("model")
    ]
    axes = []
    out_ok = ok[ok["sample"] == "out"]
    for axis in ("num_layers", "batch_size", "hidden_size", "seq_len"):
        medians = out_ok.pivot_table(
            index=axis, columns="model", values="est_over_measured_ratio", aggfunc="median"
        )
        axes.append(f"**by {axis}**\n\n" + _md_table(medians.reset_index()))
    points = ok.assign(
        measured_MB=ok["measured_peak_bytes"] / 1e6, estimate_MB=ok["estimate_peak_bytes"] / 1e6
    )[
        [
            "model",
            "seq_len",
            "batch_size",
            "hidden_size",
            "num_layers",
            "sample",
            "varies",
            "measured_MB",
            "estimate_MB",
            "est_over_measured_ratio",
        ]
    ]
    not_ok = table[table["status"] != "ok"][["cell_id", "status", "message"]]
    fit = BACKWARD_FIT
    text = [
        "# Peak-memory estimate: in sample and out of sample",
        "",
        f"Made with `{run['command']}` on {run['started_utc']} UTC, wall time "
        f"{run['wall_s'] / 60:.1f} min; code {run['code']}.",
        f"Machine: {info['cpu_model']}, {info['cpu_count_logical']} logical CPUs, "
        f"{info['platform']}; Python {info['python_version']}, torch {info['torch_version']}"
        f", {run['threads']} torch thread(s) in each probe. Load average at start "
        f"{run['load_start']:.1f}, at end {run['load_end']:.1f} (other work shared the "
        "machine; peak memory does not depend on CPU time, the probes' step times do). "
        "Full environment: env.json.",
        "",
        "Measured: one training step's peak RSS above the memory before the step, in a fresh "
        "process "
        "(kernel VmHWM after a reset, the memory family's probe), one probe per model and "
        "point, task mean-sign, input size 1, float32. Estimate: "
        "`seqbench.models.costs.peak_step_bytes`. Ratio = estimate / measured: above 1 the "
        "estimate is too high, below 1 too low.",
        "",
        f"**Fitting set** (`sample = fit`): T={fit.seq_len}, B={fit.batch_size}, "
        f"H={fit.hidden_size}, I={fit.input_size}, {fit.num_layers} layer: the one "
        "configuration the backward working-set constants (`backward_units`) were fitted at "
        "(on the quick profile's cells), measured again here; the spread of its repeats is "
        "the measurement's own run-to-run noise (" + "; ".join(noise) + "). Every other "
        "point is **out of sample** (`sample = out`). The fitted term is "
        + ", ".join(f"{share:.0%} of {m}'s estimate" for m, share in fit_share.items())
        + " at the fit point.",
        "",
        "## Ratio estimate / measured",
        "",
        _md_table(stats),
        "",
        "## Where the estimate is badly off out of sample",
        "",
        f"Median ratio outside {BADLY_OFF_RATIO[0]}–{BADLY_OFF_RATIO[1]} for an axis value, "
        f"over the points whose measured peak is {LARGE_CELL_BYTES / 1e6:.0f} MB or more "
        "(B, H and T over one-layer points only); smaller points are dominated by the first "
        "step's fixed cost, which the estimate leaves out, and are summarised apart.",
        "",
        *_findings(table),
        "",
        "## One axis at a time from the fit point",
        "",
        _md_table(_one_axis_table(ok)),
        "",
        "## Out-of-sample median ratio per axis value (all points, axes mixed)",
        "",
        "\n\n".join(axes),
        "",
        "## Every point",
        "",
        _md_table(points),
    ]
    if len(not_ok):
        text += ["", "## Not measured", "", _md_table(not_ok)]
    if live is not None:
        measured = (
            fit_rows.assign(units=_units(fit_rows, "measured_peak_bytes"))
            .groupby("model")["units"]
            .median()
        )
        at_fit = (
            (live["batch_size"] == BACKWARD_FIT.batch_size)
            & (live["hidden_size"] == BACKWARD_FIT.hidden_size)
            & (live["num_layers"] == BACKWARD_FIT.num_layers)
        )
        live = live.assign(
            fresh_process_units_at_fit_point=live["model"].map(measured).where(at_fit)
        )
        text += [
            "",
            "## Live tensors (--live)",
            "",
            "Peak of live tensor bytes during one step (torch.profiler's memory "
            f"timeline, in process, T={LIVE_SEQ_LEN}) in units of B·T·H floats, what a "
            "derivation from autograd's graph would predict; beside it the estimate's "
            "units, what autograd saves, and, on the rows with the fit point's B, H and "
            "layers, the fresh-process peak there (median of its repeats). Where the "
            "live-tensor peak and the fresh-process peak disagree, a derivation from the "
            "graph cannot replace the fitted term.",
            "",
            _md_table(
                live[
                    [
                        "model",
                        "batch_size",
                        "hidden_size",
                        "num_layers",
                        "live_peak_units_count",
                        "activation_est_units_count",
                        "estimate_units_count",
                        "fresh_process_units_at_fit_point",
                    ]
                ]
            ),
        ]
    (out / "summary.md").write_text("\n".join(text) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seqbench.studies.memory_model", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the outputs")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models")
    parser.add_argument(
        "--grid",
        choices=("full", "tiny"),
        default="full",
        help="tiny: two small points, for the test (seconds)",
    )
    parser.add_argument(
        "--fit-repeats",
        type=int,
        default=3,
        help="probes of the fit point per model, spread over the run",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each probe")
    parser.add_argument(
        "--max-estimate",
        type=float,
        default=2.5,
        help="skip points whose estimate exceeds this many GiB",
    )
    parser.add_argument(
        "--probe-limit",
        type=float,
        default=4.0,
        help="address-space limit of each probe child, GiB",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help=f"also measure live-tensor peaks at T={LIVE_SEQ_LEN} (live.csv)",
    )
    parser.add_argument(
        "--summary-only",
        action="store_true",
        help="measure nothing: rewrite summary.md from the files in --out",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    if args.summary_only:
        live_csv = out / "live.csv"
        write_summary(
            out,
            # A study written before schema 4 named the memory before the step "baseline".
            pd.read_csv(out / "study.csv").rename(columns={"baseline_bytes": "before_step_bytes"}),
            json.loads((out / "env.json").read_text()),
            json.loads((out / "run.json").read_text()),
            pd.read_csv(live_csv) if live_csv.exists() else None,
        )
        print(out / "summary.md")
        return 0
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown models: {', '.join(unknown)}")
    run: dict[str, Any] = {
        "command": "python -m seqbench.studies.memory_model "
        + shlex.join(sys.argv[1:] if argv is None else argv),
        "started_utc": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}",
        "code": _code_version(),
        "threads": args.threads,
        "load_start": os.getloadavg()[0],
    }
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    info = env.collect("cpu")
    (out / "env.json").write_text(json.dumps(info, indent=2) + "\n")
    points = GRID if args.grid == "full" else TINY_GRID
    table = run_study(
        out,
        models,
        points,
        fit_repeats=args.fit_repeats,
        threads=args.threads,
        max_estimate_bytes=int(args.max_estimate * 2**30),
        probe_limit_bytes=int(args.probe_limit * 2**30),
    )
    live = run_live(out, models, LIVE_GRID, args.threads) if args.live else None
    run |= {"wall_s": time.perf_counter() - start, "load_end": os.getloadavg()[0]}
    (out / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    write_summary(out, table, info, run, live)
    print(out / "summary.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
