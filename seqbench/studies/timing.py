"""The timing study: are a timing cell's numbers independent of the run they come from?

    python -m seqbench.studies.timing --out results/timing-study --runs 5

It measures, on this machine, what README's "Timing" section states:
- between runs: each timing cell's max/min of its run medians over --runs whole quick runs
  of the unchanged tree, under --allocator (default: `seqbench run`'s default);
- alone against inside: one cell (LSTM train step at T=100 and T=1000) run alone, against
  the same cell inside the whole runs;
- held out: how often a run's median lies inside the 95% prediction interval of the other
  runs' medians, and (for comparison) inside the interval of the median from the other
  runs' processes pooled, which the report computes for one run's processes;
- allocators: --allocator-runs runs of quick's timing families under each other allocator,
  their between-run spread and their speed against the whole runs' allocator;
- where the between-run spread comes from (rounds, processes, or runs as wholes), what more
  processes or rounds would buy and cost, and each run's shift over all cells
  (studies/spread.py);
- the wall time of each whole quick run.

Every run goes through the default launcher, one at a time, in an order shuffled per repetition
so drift over the study favours no kind. A run folder that finished is kept and one that did
not is resumed, so the study can be stopped and started again. Outputs in --out: runs/ (the
run folders), runs.csv (kind, allocator, wall time), cells.csv (per run and cell: the median
of each process and of the run), held_out.csv (per run and cell: inside each interval or not)
and summary.md.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from seqbench.analysis.markdown import markdown_table
from seqbench.analysis.provenance import machine_names
from seqbench.analysis.stats import prediction_interval, summarize
from seqbench.compare.cells import calibrations
from seqbench.config import TIMING_FAMILIES
from seqbench.errors import SeqbenchError
from seqbench.launchers import records
from seqbench.launchers.allocators import (
    ALLOCATORS,
    allocator_env,
    default_allocator,
    resolve_allocator,
)
from seqbench.launchers.base import MANIFEST, RunFolder, Terminated
from seqbench.launchers.plan import make_plan
from seqbench.launchers.supervisor import Supervisor
from seqbench.profiles import DEFAULT_PROFILE, Overrides, build_cells
from seqbench.results import load_results
from seqbench.studies import spread, stopped

# The cell the issue found 1.65× slower inside whole runs than alone, and the one whose
# between-run spread was the worst (1.75×): LSTM train step at T=100 and T=1000.
ALONE = Overrides(families=("throughput",), models=("lstm",), seq_lens=(100, 1000))
TIMING_ONLY = Overrides(families=TIMING_FAMILIES)
TARGET_BETWEEN_RUNS_RATIO = 1.10
TARGET_ALONE_RATIO = 1.10
TARGET_HELD_OUT_FRACTION = 0.90


def planned_runs(
    runs: int,
    allocator_runs: int,
    allocators: list[str],
    baseline: str,
    processes: int | None = None,
) -> list[tuple]:
    """(kind, allocator, repetition, overrides) of every run, repetition by repetition; the
    whole runs (and their alone runs) are under `baseline`. `processes`, if given, is every
    timing cell's number of worker processes (`seqbench run --processes`), rounds unchanged."""
    plan = []
    for rep in range(1, max(runs, allocator_runs) + 1):
        batch = []
        if rep <= runs:
            batch.append(("whole", baseline, rep, Overrides()))
            batch.append(("alone", baseline, rep, ALONE))
        if rep <= allocator_runs:
            for name in allocators:
                if name != baseline:
                    batch.append(("timing", name, rep, TIMING_ONLY))
                    batch.append(("alone", name, rep, ALONE))
        if processes is not None:
            batch = [(*run[:3], replace(run[3], processes=processes)) for run in batch]
        plan.append(batch)
    return plan


def _folder(root: Path, kind: str, allocator: str, rep: int) -> Path:
    return root / f"{kind}-{allocator}-r{rep}"


def run_one(folder: Path, profile: str, overrides: Overrides, allocator: str) -> float:
    """Run (or finish) one run folder through the default launcher; its wall time in s."""
    if (folder / MANIFEST).exists():
        run = RunFolder.load(folder)
        if not run.pending():
            return float("nan")  # finished earlier; its wall time is in runs.csv already
        records.forget_interrupted(run.cells_dir)
    else:
        cells = build_cells(profile, overrides)
        run = RunFolder.create(folder, profile, overrides, make_plan(cells), allocator=allocator)
    start = time.perf_counter()
    Supervisor(verbose=False, log=folder.with_suffix(".log")).launch(run)
    return time.perf_counter() - start


def collect(
    out: Path,
    profile: str,
    runs: int,
    allocator_runs: int,
    allocators: list[str],
    baseline: str,
    seed: int,
    processes: int | None = None,
) -> None:
    root = out / "runs"
    root.mkdir(parents=True, exist_ok=True)
    walls = out / "runs.csv"
    done = pd.read_csv(walls) if walls.exists() else pd.DataFrame(columns=["run"])
    rng = random.Random(seed)
    for batch in planned_runs(runs, allocator_runs, allocators, baseline, processes):
        rng.shuffle(batch)
        for kind, allocator, rep, overrides in batch:
            folder = _folder(root, kind, allocator, rep)
            if folder.name in set(done["run"]):
                continue
            wall_s = run_one(folder, profile, overrides, allocator)
            row = {
                "run": folder.name,
                "kind": kind,
                "allocator": allocator,
                "rep": rep,
                "wall_s": wall_s,
            }
            done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
            done.to_csv(walls, index=False)
            print(f"{folder.name}: {wall_s:.0f} s", file=sys.stderr)


def _process_walls(folder: Path) -> dict[str, float]:
    """Run key → seconds from the previous record's finish to its own: the wall time of that
    worker process, fork, set-up and warm-up included, under the default launcher, which runs
    one at a time (a run's first record has none; the first after a resume includes the
    pause, which the median over processes and runs shrugs off)."""
    found = sorted(
        (
            (key, record)
            for key, record in records.read_records(folder / "cells").items()
            if isinstance(record.get("finished_unix_s"), int | float)
        ),
        key=lambda kv: kv[1]["finished_unix_s"],
    )
    return {
        key: record["finished_unix_s"] - previous["finished_unix_s"]
        for (_, previous), (key, record) in itertools.pairwise(found)
    }


# Columns of cell_table that stay out of cells.csv: the rounds are in the run folders, and
# the cell id names its T.
NOT_IN_CELLS_CSV = ["seq_len", "process_rounds_s", "process_wall_s"]


def cell_table(out: Path) -> pd.DataFrame:
    """Per run and timing cell: each process's median time, rounds and wall time, and the
    run's median of the process medians."""
    runs = pd.read_csv(out / "runs.csv")
    rows = []
    for run in runs.to_dict("records"):
        results = load_results([out / "runs" / run["run"]])
        walls = _process_walls(out / "runs" / run["run"])
        machine = "; ".join(sorted(machine_names(results)))
        # The host's speed during the run: its calibration GEMM's fastest round.
        calibration_s = min(calibrations(results).values(), default=np.nan)
        entries = results.entries
        timed = entries[entries["family"].isin(TIMING_FAMILIES) & (entries["status"] == "ok")]
        for fullname, group in timed.groupby("fullname"):
            times = group["time_median_s"].astype(float).tolist()
            # Each process's rounds (None where a run was saved without them).
            rounds = [
                list(r) if isinstance(r, list | tuple) else None for r in group["round_times_s"]
            ]
            rows.append(
                {
                    **run,
                    "machine": machine,
                    "calibration_s": calibration_s,
                    "cell": fullname.split("::")[-1],
                    "seq_len": int(group["seq_len"].iloc[0]),
                    "process_medians_s": times,
                    "process_rounds_s": rounds,
                    "process_wall_s": [walls.get(key, np.nan) for key in group["run_key"]],
                    "run_median_s": float(np.median(times)),
                }
            )
    return pd.DataFrame(rows)


def _full_runs(cells: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs with every timing cell (whole runs and timing-family runs), not the
    alone runs."""
    return cells[cells["kind"].isin(["whole", "timing"])]


def _between_runs(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (allocator, cell) over the runs with every timing cell: max/min of run medians,
    and the same with each run's medians divided by its calibration GEMM. The second tells a
    host that ran slower for a whole run (every cell and the GEMM alike) from a cell that
    moves by itself; it is a diagnosis, not the target, which is about raw times."""
    full = _full_runs(cells)
    full = full.assign(per_calibration=full["run_median_s"] / full["calibration_s"])
    ratio = lambda v: v.max() / v.min()  # noqa: E731
    return (
        full.groupby(["allocator", "cell"])
        .agg(
            runs=("run_median_s", "count"),
            median_s=("run_median_s", "median"),
            max_over_min=("run_median_s", ratio),
            max_over_min_per_calibration=("per_calibration", ratio),
        )
        .reset_index()
    )


def _pairs_of_runs(cells: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per allocator, over every pair of its full runs and every cell: the median max/min of
    the pair's two run medians and the share over `threshold`. Max/min over n runs grows with
    n when nothing changes; two runs are what a comparison (and the paired gate) meets."""
    full = _full_runs(cells)
    rows = []
    for allocator, group in full.groupby("allocator"):
        by_cell = group.pivot_table(index="run", columns="cell", values="run_median_s")
        ratios = [
            np.maximum(by_cell.loc[a], by_cell.loc[b]) / np.minimum(by_cell.loc[a], by_cell.loc[b])
            for a, b in itertools.combinations(by_cell.index, 2)
        ]
        if not ratios:
            continue
        values = pd.concat(ratios).dropna()
        rows.append(
            {
                "allocator": allocator,
                "pairs_of_runs": len(ratios),
                "median_max_over_min": float(values.median()),
                "share_over_threshold": float((values > threshold).mean()),
            }
        )
    return pd.DataFrame(rows)


def _spread_sources(cells: pd.DataFrame) -> pd.DataFrame:
    """Per allocator, medians over cells of two standard deviations on the log scale (≈ a
    fraction of the time): of a process's median about its run's mean (within a run), and of
    the run medians (between runs). Were the processes independent draws, a run median of 3
    would have about 0.67× the within-run sd (the median of 3 normals has variance 0.449σ²);
    a between-run sd above that is a component the processes of one run share."""
    full = _full_runs(cells)
    rows = []
    for (allocator, cell), group in full.groupby(["allocator", "cell"]):
        logs = [np.log(t) for t in group["process_medians_s"] if len(t) >= 2]
        if len(group) < 2 or not logs:
            continue
        within = float(np.sqrt(np.mean([np.var(v, ddof=1) for v in logs])))
        between = float(np.std(np.log(group["run_median_s"].astype(float)), ddof=1))
        rows.append({"allocator": allocator, "cell": cell, "within": within, "between": between})
    frame = pd.DataFrame(rows, columns=["allocator", "cell", "within", "between"])
    return (
        frame.groupby("allocator")
        .agg(
            cells=("cell", "count"),
            within_run_process_sd=("within", "median"),
            between_run_median_sd=("between", "median"),
        )
        .reset_index()
    )


HELD_OUT_COLUMNS = [
    "allocator",
    "cell",
    "run",
    "n_other_processes",
    "n_other_runs",
    "inside_median_ci",
    "inside_prediction",
]


def _held_out(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (allocator, cell, run): is the run's median inside two intervals from the other
    runs? `inside_median_ci`: the interval of the median from their processes pooled (its
    range below 6 values), the report's interval for one run's processes, which is not built
    to hold a new run (it shrinks as processes are added; over several runs the report now
    takes one value per run, report/tables.py). `inside_prediction`: the 95% prediction
    interval for a new run's median from their run medians (analysis.stats.prediction_interval),
    which is."""
    rows = []
    full = _full_runs(cells)
    for (allocator, cell), group in full.groupby(["allocator", "cell"]):
        if len(group) < 2:
            continue
        records = group.to_dict("records")
        for i, row in enumerate(records):
            others = [r for j, r in enumerate(records) if j != i]
            s = summarize([t for r in others for t in r["process_medians_s"]])
            low, high = (s.ci_low, s.ci_high) if s.has_ci else (s.low, s.high)
            p_low, p_high = prediction_interval([r["run_median_s"] for r in others])
            rows.append(
                {
                    "allocator": allocator,
                    "cell": cell,
                    "run": row["run"],
                    "n_other_processes": s.n,
                    "n_other_runs": len(others),
                    "inside_median_ci": low <= row["run_median_s"] <= high,
                    # Below 2 other runs there is no interval: NaN, not counted either way.
                    "inside_prediction": (
                        p_low <= row["run_median_s"] <= p_high if np.isfinite(p_low) else np.nan
                    ),
                }
            )
    # Named columns even with no rows: a study cut short has cells with one run only.
    return pd.DataFrame(rows, columns=HELD_OUT_COLUMNS)


def _alone(cells: pd.DataFrame) -> pd.DataFrame:
    """Per allocator and cell: median over runs alone / median over whole (or timing) runs."""
    alone = cells[cells["kind"] == "alone"].groupby(["allocator", "cell"])["run_median_s"]
    inside = cells[cells["kind"] != "alone"].groupby(["allocator", "cell"])["run_median_s"]
    frame = (
        pd.concat([alone.median().rename("alone_s"), inside.median().rename("inside_s")], axis=1)
        .dropna()
        .reset_index()
    )
    frame["alone_over_inside"] = frame["alone_s"] / frame["inside_s"]
    return frame


def _allocators(between: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per allocator: typical and worst between-run spread, and speed against the whole runs'
    allocator (geometric mean over cells of the baseline's median / this allocator's)."""
    base = between[between["allocator"] == baseline].set_index("cell")["median_s"]
    rows = []
    for allocator, group in between.groupby("allocator"):
        ratio = base.reindex(group["cell"]).to_numpy() / group["median_s"].to_numpy()
        ratio = ratio[np.isfinite(ratio)]
        rows.append(
            {
                "allocator": allocator,
                "runs": int(group["runs"].max()),
                "median_max_over_min": group["max_over_min"].median(),
                "worst_max_over_min": group["max_over_min"].max(),
                "median_per_calibration": group["max_over_min_per_calibration"].median(),
                "worst_cell": group.loc[group["max_over_min"].idxmax(), "cell"],
                "speed_vs_whole_runs": (
                    float(np.exp(np.log(ratio).mean())) if len(ratio) else np.nan
                ),
            }
        )
    return pd.DataFrame(rows)


def _baseline(runs: pd.DataFrame) -> str:
    """The whole runs' allocator (a study's runs.csv records it per run)."""
    names = set(runs.loc[runs["kind"] == "whole", "allocator"])
    if len(names) > 1:
        raise SeqbenchError(f"the study's whole runs used {len(names)} allocators: {names}")
    return names.pop() if names else default_allocator()[0]


def _fraction(flags: pd.Series) -> str:
    counted = flags.dropna().astype(bool)
    return f"{counted.mean():.0%} of {len(counted)}" if len(counted) else "no held-out run yet"


def summarize_study(out: Path) -> str:
    cells = cell_table(out)
    if cells.empty:
        raise SeqbenchError(f"{out} holds no finished study runs")
    machines = cells.groupby("machine")["run"].unique()
    if len(machines) > 1:  # a between-run spread across machines measures the machines
        listed = "; ".join(f"{m}: {', '.join(r)}" for m, r in machines.items())
        raise SeqbenchError(
            f"the study's runs come from {len(machines)} machines ({listed}): remove the "
            "runs of all but one (folder and runs.csv row) and run the study again"
        )
    cells.drop(columns=NOT_IN_CELLS_CSV).to_csv(out / "cells.csv", index=False)
    runs = pd.read_csv(out / "runs.csv")
    baseline = _baseline(runs)
    between, held, alone = _between_runs(cells), _held_out(cells), _alone(cells)
    held.to_csv(out / "held_out.csv", index=False)
    allocators = _allocators(between, baseline)
    whole = runs[runs["kind"] == "whole"]["wall_s"].dropna()
    default = between[between["allocator"] == baseline]
    held_default = held[held["allocator"] == baseline]
    alone_default = alone[alone["allocator"] == baseline]
    parts = spread.components(_full_runs(cells))
    shifts, shifted = spread.run_shifts(_full_runs(cells))
    shifted_default = shifted[shifted["allocator"] == baseline]
    targets = pd.DataFrame(
        [
            {
                "what": "a timing cell's between-run max/min (whole runs, worst cell)",
                "measured": f"{default['max_over_min'].max():.3f} ({len(whole)} runs)",
                "target": f"≤ {TARGET_BETWEEN_RUNS_RATIO:.2f}",
            },
            {
                "what": "the same, each run divided by its calibration GEMM (worst cell; "
                "diagnosis: what is left when the host's speed is taken out)",
                "measured": f"{default['max_over_min_per_calibration'].max():.3f}",
                "target": "",
            },
            {
                "what": "the same, each run's shift over all its cells taken out (worst cell; "
                "diagnosis: what is left of a cell's own spread)",
                "measured": f"{shifted_default['worst_without_run_shifts'].max():.3f}"
                if len(shifted_default)
                else "no full runs",
                "target": "",
            },
            {
                "what": "alone / inside a whole run (worst of the alone cells)",
                "measured": f"{alone_default['alone_over_inside'].max():.3f}",
                "target": f"≤ {TARGET_ALONE_RATIO:.2f}",
            },
            {
                "what": "held-out run's median inside the 95% prediction interval of the "
                "other runs' medians",
                "measured": _fraction(held_default["inside_prediction"]),
                "target": f"≥ {TARGET_HELD_OUT_FRACTION:.0%}",
            },
            {
                "what": "held-out run's median inside the interval of the median from the "
                "other runs' processes pooled (the report's for one run; not built to hold a "
                "new run)",
                "measured": _fraction(held_default["inside_median_ci"]),
                "target": "(shown for comparison)",
            },
            {
                "what": "whole quick run wall time",
                "measured": f"{whole.median() / 60:.1f} min (median; {whole.min() / 60:.1f}–"
                f"{whole.max() / 60:.1f})"
                if len(whole)
                else "no run",
                "target": "≤ 10 min",
            },
        ]
    )
    text = "\n\n".join(
        [
            "# Timing study",
            f"Machine: {machines.index[0]}; every run's environment is in its folder. "
            f"Runs: {len(runs)}. Whole runs' allocator: {baseline}.",
            "## Targets\n\n" + markdown_table(targets),
            "## Allocators\n\n" + markdown_table(allocators.round(3)),
            "## Any two runs\n\nOver every pair of full runs and every timing cell: the "
            f"pair's max/min; the share is over {TARGET_BETWEEN_RUNS_RATIO:.2f}.\n\n"
            + markdown_table(_pairs_of_runs(cells, TARGET_BETWEEN_RUNS_RATIO).round(4)),
            "## Where the spread comes from\n\nMedians over cells of standard deviations on "
            "the log scale: a process's median about its run's mean, and the run medians. "
            "Independent processes would give a run median of 3 about 0.67× the first; more "
            "than that is a component the processes of one run share (the host's drift, when "
            "they run back to back).\n\n" + markdown_table(_spread_sources(cells).round(4)),
            "## Rounds, processes and runs\n\nPer sequence length, pooled over cells (root mean "
            "variance), three parts of a run time's spread as standard deviations on the log "
            "scale (studies/spread.py): a process's median of its rounds (from the robust spread "
            "of its rounds after the first; empty where fewer than 4 remain), what a process "
            "adds beyond its rounds, and what the processes of one run share. Then the run "
            "times' observed sd and the model's for what ran: equal where the run part is above "
            "0, above the observed where the process medians' spread within a run alone exceeds "
            "it. Where the model's column stands above the observed, it does not fit, and what "
            "it says of more processes there is too hopeful.\n\n"
            + markdown_table(spread.by_length(parts).round(4)),
            "## What more processes or rounds would buy\n\nEach cell's observed between-run "
            "variance (pooled over its sequence length) scaled by the change the model predicts: "
            "the between-run sd (median cell), the worst cell's max/min over as many runs as "
            "ran (median over simulated studies; of the run part, the runs' shifts are drawn "
            "once per run for every cell, the rest per cell), the share of those studies with "
            f"every cell within {TARGET_BETWEEN_RUNS_RATIO:.2f}, and the wall time each whole run "
            "would add (each added process at a worker's measured wall time, each added round at "
            "the cell's round time). The first row is what ran: its worst cell against the "
            "measured one checks the model's tails. With 5 runs the run part rests on about 4 "
            "degrees of freedom, so the shares are rough.\n\n"
            + markdown_table(spread.trade_off(parts, shifts, TARGET_BETWEEN_RUNS_RATIO).round(4)),
            "## Each run's shift\n\nA run's mean deviation over every cell from the cells' "
            "means over runs (the host's speed during that run), next to its calibration GEMM."
            "\n\n" + markdown_table(shifts.round(4)),
            "## Alone against inside\n\n" + markdown_table(alone.round(5)),
            "## Between runs, per cell\n\n" + markdown_table(between.round(5)),
        ]
    )
    (out / "summary.md").write_text(text + "\n")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seqbench.studies.timing", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="study folder")
    parser.add_argument("--runs", type=int, default=5, help="whole runs (default 5)")
    parser.add_argument(
        "--allocator-runs",
        type=int,
        default=3,
        help="timing-family runs per other allocator (default 3)",
    )
    parser.add_argument(
        "--allocators", default=",".join(ALLOCATORS), help="allocators to compare (default: all)"
    )
    parser.add_argument(
        "--allocator",
        default=None,
        help="allocator of the whole runs (default: seqbench run's default)",
    )
    parser.add_argument("--profile", default=DEFAULT_PROFILE, help="profile (default quick)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run order")
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="worker processes per timing cell in every run, rounds per process unchanged "
        "(default: the profile's)",
    )
    parser.add_argument(
        "--summarize-only", action="store_true", help="only summarise the runs already in --out"
    )
    args = parser.parse_args(argv)
    try:
        allocators = [a.strip() for a in args.allocators.split(",") if a.strip()]
        if min(args.runs, args.allocator_runs) < 0 or args.runs < 2:
            raise SeqbenchError("--runs must be >= 2 and --allocator-runs >= 0")
        if args.processes is not None and args.processes < 1:
            raise SeqbenchError(f"--processes must be a positive integer, got {args.processes}")
        if not args.summarize_only:  # summarising needs no allocator installed
            for name in allocators:
                allocator_env(name)  # unknown or not installed: one line, exit 2, before any run
            # Last: its notice only for a study that goes on to run.
            baseline = resolve_allocator(args.allocator, "timing study")
            collect(
                args.out,
                args.profile,
                args.runs,
                args.allocator_runs,
                allocators,
                baseline,
                args.seed,
                args.processes,
            )
        print(summarize_study(args.out))
    except SeqbenchError as exc:
        print(f"timing study: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated as exc:  # SIGTERM/SIGHUP: the run in progress recorded its cell
        return stopped(
            "timing study", exc, ": a finished run is kept and an interrupted one resumed"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
