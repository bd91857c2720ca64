"""Measure the regression detector's false-alarm and detection rates on this machine.

    python -m seqbench.studies.detector --pairs 10 --out study/

Each "pair" is --baseline-runs runs of the unchanged tree (the baseline), --current-runs more
runs of it ("clean") and as many per injected slowdown (SEQBENCH_INJECT_SLOWDOWN, which makes
TrainStep spin for that fraction of its own time). The runs of a pair go in a random order,
so drift over the study does not favour one kind. Each non-base kind is then compared with its
pair's baseline under several detector settings: alpha, raw or normalised timings, 1 or all
base runs, 1 current run or all of them (a flagged run and its rerun), pooled by the best or
the median run. Outputs in --out: runs/ (the JSON files and logs), comparisons.csv, cells.csv,
rates.csv, noise.csv, runs.csv (calibration time per run, to spot runs disturbed by other
load) and summary.md.

The default subset: the quick profile's throughput cells at T=100 (forward and train step
of RNN, LSTM and GRU at B=100, H=50, 30 timed rounds each) plus the calibration entry, at 1
torch thread (the CI gate's setting: 2 threads on 2 shared cores time tiny recurrent steps
bimodally, README "Comparing runs"); about 12 s a run on a quiet 2-core machine, so --pairs 20
with 3 baseline and 2 current runs (180 runs) takes about 40 minutes.

    python -m seqbench.studies.detector --paired --baseline-runs 4 --current-runs 4 ...

--paired evaluates the paired workflow's recipe instead of the grid (python -m
seqbench.compare.paired: raw timings, pooled by the fastest run, widened; runs minus one a
side, a flag confirmed with all runs a side); run it with --processes 1, as the paired runs.
It also re-splits each finished pair's runs of the unchanged tree every way into base and head
(resampled.csv): a steadier estimate of the rates from the same runs, the pairs still being
the independent units.

    python -m seqbench.studies.detector --out whole/ --splits RUN1 RUN2 RUN3 RUN4 ...

--splits instead measures false alarms on whole runs already made (any profile): every choice
of --baseline-runs of them as the baseline against the rest (splits.md, splits.csv,
splits_flagged.csv). --evaluate-only re-evaluates the runs already in --out/runs.

--lock-file PATH holds PATH while timing (other jobs on a shared machine agree not to load the
CPU while it exists). It is created atomically; when another process holds it the study stops
with an error naming the holder, and it is removed when the study ends, however it ends.

The study is a client of the regression detector: it calls seqbench.compare's public API
(compare_results, CompareOptions, the runs' calibrations) as `seqbench compare` does; the
evaluation lives in seqbench.studies.detector_eval. The runs go through the default launcher
(seqbench.launchers), like `seqbench run`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pandas as pd

from seqbench.compare.engine import CALIBRATION_WARN_RATIO
from seqbench.compare.options import POOLS, CompareOptions, parse_fraction
from seqbench.errors import SeqbenchError
from seqbench.launchers.allocators import resolve_allocator
from seqbench.launchers.base import RunFolder, Terminated
from seqbench.launchers.plan import make_plan
from seqbench.launchers.supervisor import Supervisor
from seqbench.profiles import Overrides, build_cells, split_csv
from seqbench.studies import stopped
from seqbench.studies.detector_eval import (
    SLOW_RUN_RATIO,
    confirmed,
    default_grid,
    evaluate,
    noise,
    pair_conditions,
    paired_grid,
    rates,
    recipe_grid,
    resampled_by_condition,
    resampled_paired,
    resampled_rates,
    run_health,
    split_evaluate,
    summary_table,
)
from seqbench.studies.detector_scan import scan_section

# The subset a study run times: the quick profile's throughput cells at T=100 of torch.nn's
# implementation (the others are timed in quick too, since 2026-12-02), 1 torch thread.
DEFAULT_SUBSET = Overrides(families=("throughput",), seq_lens=(100,), impls=("fused",), threads=1)
DEFAULT_PROFILE = "quick"


def run_once(
    out: Path, subset: Overrides, profile: str, slowdown: float, log: Path, allocator: str
) -> float:
    """One run of the subset through the default launcher, into the run folder beside `out`;
    its pytest-benchmark JSON is then copied to `out`. Returns the wall time in seconds."""
    folder = out.with_suffix("")
    shutil.rmtree(folder, ignore_errors=True)  # a run interrupted before its JSON: redo it
    extra = {"inject_slowdown": slowdown} if slowdown else {}
    cells = build_cells(profile, replace(subset, extra=extra))
    start = time.perf_counter()
    run = RunFolder.create(
        folder, profile, replace(subset, extra=extra), make_plan(cells), allocator=allocator
    )
    log.unlink(missing_ok=True)
    Supervisor(verbose=False, log=log).launch(run)
    produced = sorted(folder.glob("benchmarks-*.json"))
    if not produced:
        raise SeqbenchError(f"benchmark run produced no JSON; see {log}")
    shutil.copyfile(produced[-1], out)  # only a finished run gets its final name
    return time.perf_counter() - start


LOCK_OWNER = "seqbench detector study"


@contextmanager
def timing_lock(path: Path | None):
    """Hold the lock file `path` while timing (shared machines: other jobs agree not to load
    the CPU while it exists). It is created atomically (O_CREAT | O_EXCL), so of two studies
    started at once exactly one gets it; the other stops with a one-line SeqbenchError naming
    the holder. It is removed on exit, on an exception and on SIGTERM (`timeout`, `kill`)."""
    if path is None:
        yield
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise SeqbenchError(
            f"lock file {path} is held by {_lock_holder(path)}; wait for it to finish, or "
            "remove the file if that process is gone"
        ) from None
    except OSError as exc:
        raise SeqbenchError(f"cannot create lock file {path}: {exc.strerror}") from None
    mine = f"{LOCK_OWNER}, pid {os.getpid()}"
    written = False
    previous = None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(mine + "\n")
        written = True
        # A `timeout` or `kill` sends SIGTERM: turn it into SystemExit so the lock is removed.
        previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        yield
    finally:
        # Never remove a lock someone else took since (after removing ours by hand).
        if not written or _lock_holder(path) == mine:
            path.unlink(missing_ok=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _lock_holder(path: Path) -> str:
    """The first line of a lock file: who holds it (or where that is unknown, why)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return "a process that has since released it"
    return lines[0] if lines else "a process still writing it"


def study_allocator(runs: Path) -> str:
    """The allocator of the study's runs: the one its finished runs recorded, since a study
    that mixed allocators would measure them, not the detector; else `seqbench run`'s
    default (glibc with a one-line notice where the default's library is missing)."""
    recorded = {
        RunFolder(p.parent, json.loads(p.read_text())).allocator for p in runs.glob("*/run.json")
    }
    if len(recorded) > 1:
        raise SeqbenchError(f"{runs} holds runs under {len(recorded)} allocators: {recorded}")
    # A recorded one whose library is missing here: one line naming the package, exit 2.
    return resolve_allocator(recorded.pop() if recorded else None, "detector study")


def collect(
    runs: Path,
    pairs: int,
    baseline_runs: int,
    current_runs: int,
    slowdowns: list[float],
    subset: Overrides,
    profile: str,
    seed: int,
) -> None:
    runs.mkdir(parents=True, exist_ok=True)
    allocator = study_allocator(runs)
    kinds = [("base", 0.0, r) for r in range(1, baseline_runs + 1)] + [
        (kind, s, r)
        for kind, s in [("clean", 0.0)] + [(f"slow{round(s * 100):02d}", s) for s in slowdowns]
        for r in range(1, current_runs + 1)
    ]
    rng = random.Random(seed)
    started = time.perf_counter()
    for pair in range(1, pairs + 1):
        order = kinds[:]
        rng.shuffle(order)
        for kind, slowdown, rep in order:
            out = runs / f"pair{pair:02d}-{kind}-r{rep}.json"
            if out.exists():
                continue  # resumable: an interrupted study keeps its finished runs
            wall = run_once(out, subset, profile, slowdown, out.with_suffix(".log"), allocator)
            print(
                f"pair {pair}/{pairs} {kind} r{rep}: {wall:.1f} s "
                f"(study so far {time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )


def health_caution(health: pd.DataFrame) -> str:
    """One paragraph on the runs' health (run_health): which were disturbed by other load
    before their calibration, and which were slow after it."""
    disturbed = health[health["disturbed"]]
    slow = health[health["slow"] & ~health["disturbed"]]
    caution = (
        f"**Caution: {len(disturbed)} of {len(health)} runs were disturbed by other "
        f"load** (calibration more than {CALIBRATION_WARN_RATIO:g}× the fastest "
        "run's): " + ", ".join(disturbed["run"]) + "."
        if len(disturbed)
        else f"All {len(health)} runs have calibration times within "
        f"{CALIBRATION_WARN_RATIO:g}× of the fastest run's."
    )
    if len(slow):
        caution += (
            f" Slow runs (timed rounds over {SLOW_RUN_RATIO:g}× the median run of "
            "their kind; load that began after the calibration looks like this): "
            + ", ".join(slow["run"])
            + "."
        )
    return caution


def summarize(
    out: Path,
    thresholds: tuple[float, ...],
    baseline_runs: int,
    current_runs: int = 1,
    recipe_only: bool = False,
    paired: bool = False,
) -> str:
    if paired:
        grid = paired_grid(thresholds, baseline_runs)
    elif recipe_only:
        grid = recipe_grid(thresholds, baseline_runs, current_runs)
    else:
        grid = default_grid(
            thresholds,
            baseline_runs=tuple(sorted({1, baseline_runs})),
            current_runs=tuple(sorted({1, current_runs})),
            pools=POOLS,
        )
    comparisons, cells = evaluate(out / "runs", grid)
    if paired:  # the workflow's outcome: a flag stands only if the confirmation flags too
        comparisons = pd.concat([comparisons, confirmed(comparisons, baseline_runs)])
    comparisons.to_csv(out / "comparisons.csv", index=False)
    cells.to_csv(out / "cells.csv", index=False)
    table = rates(comparisons)
    table.to_csv(out / "rates.csv", index=False)
    spread = noise(cells)
    spread.to_csv(out / "noise.csv", index=False)
    wide = table.pivot(index="setting", columns="kind", values="rate").reset_index()
    health = run_health(out / "runs")
    health.to_csv(out / "runs.csv", index=False)
    caution = health_caution(health)
    resampled = []
    if paired:
        shares = resampled_paired(out / "runs", thresholds, baseline_runs)
        shares.to_csv(out / "resampled.csv", index=False)
        resampled = [
            "## The paired recipe, resampled within each pair",
            "",
            f"Each finished pair's {2 * baseline_runs} runs of the unchanged tree split every "
            f"way into {baseline_runs} base and {baseline_runs} head runs (clean), or "
            f"{baseline_runs} of them as the base against a slowdown's runs; `rate` is the "
            "mean over pairs of each pair's share of splits the recipe fails (first comparison "
            "and confirmation both flagged). It uses every run, so it varies less than the "
            "one comparison per kind above; the splits of a pair share runs, so the pairs, "
            "not the splits, are the independent units (resampled.csv).",
            "",
            summary_table(resampled_rates(shares)) if len(shares) else "no finished pair yet",
            "",
            *_by_condition(shares, health, out),
            *scan_section(out / "runs", out, thresholds[0], baseline_runs, shares),
        ]
    text = "\n".join(
        [
            "# seqbench detector study",
            "",
            f"{comparisons['pair'].nunique()} pairs. A comparison is flagged when `seqbench "
            "compare` would exit 1. Rate on `clean` = false-alarm rate; on `slowPP` = detection "
            "rate of a PP% slowdown injected into the training step (SEQBENCH_INJECT_SLOWDOWN).",
            "",
            caution,
            "",
            "## Rates (fraction of comparisons flagged)",
            "",
            summary_table(wide),
            "",
            "## With 95% Wilson intervals",
            "",
            summary_table(table),
            "",
            *resampled,
            "## Run-to-run noise of the unchanged tree",
            "",
            "Per timed cell, current/baseline ratio of median times of two runs of the unchanged "
            "tree: RMS of its log, and quantiles of |ratio - 1| (fractions: 0.05 = 5%).",
            "",
            summary_table(spread),
            "",
        ]
    )
    (out / "summary.md").write_text(text)
    return text


def _by_condition(shares: pd.DataFrame, health: pd.DataFrame, out: Path) -> list[str]:
    """The resampled rates split by how steady the host was, under both confirmation rules,
    and the per-pair table behind them (pairs.csv)."""
    if shares.empty:
        return []
    conditions = pair_conditions(health)
    per_pair = conditions.merge(
        shares.pivot_table(
            index="pair",
            columns=["kind", "threshold"],
            values=["flagged_share", "flagged_share_same_cell"],
        ).pipe(lambda t: t.set_axis([f"{v} {k} {th:g}" for v, k, th in t.columns], axis=1)),
        left_on="pair",
        right_index=True,
    )
    per_pair.to_csv(out / "pairs.csv", index=False)
    return [
        "### By host condition, and a stricter confirmation",
        "",
        f"A pair is `steady` when none of its runs was disturbed (calibration over "
        f"{CALIBRATION_WARN_RATIO}× the study's fastest). `rate` is the workflow's rule (any "
        "flag in the first comparison, then any in the confirmation); `rate_same_cell` "
        "counts a failure only when the confirmation flags a cell the first comparison "
        "flagged.",
        "",
        summary_table(resampled_by_condition(shares, conditions)),
        "",
        "Per pair (pairs.csv): the share of its splits each rule fails, by kind and threshold.",
        "",
        summary_table(per_pair),
        "",
    ]


def summarize_splits(
    out: Path,
    run_dirs: list[Path],
    thresholds: tuple[float, ...],
    baseline_runs: int,
    current_runs: int,
    gate: str = "",
    recipe_only: bool = False,
) -> str:
    """False alarms of whole runs of the unchanged tree: every split of run_dirs into a
    baseline and a current side (detector_eval.split_evaluate); with `gate`, each setting also
    with only the matching cells failing (with `recipe_only`, only gated)."""
    grid = (
        recipe_grid(thresholds, baseline_runs, current_runs, gate)
        if recipe_only
        else default_grid(
            thresholds,
            alphas=(CompareOptions().alpha,),
            baseline_runs=(baseline_runs,),
            current_runs=tuple(sorted({1, current_runs})),
            pools=POOLS,
            gates=("", gate) if gate else ("",),
        )
    )
    comparisons, flagged = split_evaluate(run_dirs, baseline_runs, grid)
    out.mkdir(parents=True, exist_ok=True)
    comparisons.to_csv(out / "splits.csv", index=False)
    flagged.to_csv(out / "splits_flagged.csv", index=False)
    table = (
        comparisons.groupby("setting", sort=False)
        .agg(
            flagged=("flagged", "sum"),
            splits=("flagged", "size"),
            regressed_rows=("regressed_rows", "sum"),
        )
        .reset_index()
    )
    # Which rows raise the alarms, under the CI recipe's setting (normalised, every current
    # run) pooled either way: one column per pool, the count of splits flagging the row.
    recipe = comparisons.loc[
        comparisons["setting"].str.contains("normalised")
        & comparisons["setting"].str.contains(f"current {current_runs} run")
        & (recipe_only | ~comparisons["setting"].str.contains("gate")),
        "setting",
    ].unique()
    in_recipe = flagged[flagged["setting"].isin(recipe)] if len(flagged) else flagged
    often = (
        pd.DataFrame()
        if in_recipe.empty
        else (
            in_recipe.assign(pool=lambda f: f["setting"].str.extract(r"pool (.+)$")[0])
            .pivot_table(
                index=["cell", "metric"],
                columns="pool",
                values="change",
                aggfunc="size",
                fill_value=0,
            )
            .reset_index()
        )
    )
    text = "\n".join(
        [
            "# seqbench false alarms over whole runs",
            "",
            f"{len(run_dirs)} runs of the unchanged tree: "
            + ", ".join(str(p) for p in run_dirs)
            + f". Every choice of {baseline_runs} as the baseline is compared with the others "
            "as the current side (the first of them, or the first and its rerun).",
            "",
            "## Splits flagged (false alarms)",
            "",
            summary_table(table),
            "",
            f"## Rows flagged under `--normalize` with {current_runs} current run(s), in how "
            "many splits, per --pool",
            "",
            summary_table(often) if len(often) else "none",
            "",
        ]
    )
    (out / "splits.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seqbench.studies.detector", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--pairs", type=int, default=10, help="pairs of runs (default 10)")
    parser.add_argument("--out", type=Path, required=True, help="study folder")
    parser.add_argument(
        "--baseline-runs",
        type=int,
        default=3,
        help="runs of the unchanged tree pooled into each pair's baseline (default %(default)s)",
    )
    parser.add_argument(
        "--current-runs",
        type=int,
        default=2,
        help="runs of each current kind (clean, slowPP): the second is the "
        "rerun that confirms a flag (default %(default)s)",
    )
    parser.add_argument(
        "--slowdowns", default="10%,25%", help="injected slowdowns (default %(default)s)"
    )
    parser.add_argument(
        "--thresholds", default="10%", help="timing thresholds to evaluate (default %(default)s)"
    )
    parser.add_argument(
        "--profile", default=DEFAULT_PROFILE, help="profile of the subset (default %(default)s)"
    )
    parser.add_argument(
        "--families",
        default=",".join(DEFAULT_SUBSET.families),
        help="families of the subset (default %(default)s)",
    )
    parser.add_argument(
        "--seq-lens",
        default=",".join(map(str, DEFAULT_SUBSET.seq_lens)),
        help="sequence lengths of the subset (default %(default)s)",
    )
    parser.add_argument(
        "--impls",
        default=",".join(DEFAULT_SUBSET.impls),
        help="implementations of the subset (default %(default)s)",
    )
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_SUBSET.threads, help="torch threads (default 1)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="worker processes per timing cell in each run (default: the profile's); "
        "1 makes each run one sample per cell, as the paired comparison runs them",
    )
    parser.add_argument(
        "--paired",
        action="store_true",
        help="evaluate the paired workflow's recipe: raw timings, pool best, widened, with "
        "--baseline-runs minus 1 runs a side and a flag confirmed with --baseline-runs a "
        "side (needs --current-runs equal to --baseline-runs)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the run order")
    parser.add_argument(
        "--lock-file",
        type=Path,
        default=None,
        help="hold this file while timing, created atomically; stop with an error if "
        "another process holds it",
    )
    parser.add_argument(
        "--evaluate-only", action="store_true", help="re-evaluate the runs already in --out/runs"
    )
    parser.add_argument(
        "--gate",
        default="",
        metavar="REGEX",
        help="--splits: also evaluate every setting with `seqbench compare "
        "--gate REGEX` (only matching cells fail)",
    )
    parser.add_argument(
        "--splits",
        nargs="+",
        type=Path,
        metavar="RUN",
        help="instead of a study: results folders of whole runs of the "
        "unchanged tree (any profile); report the false alarms of every "
        "split into --baseline-runs baseline runs and the rest",
    )
    parser.add_argument(
        "--recipe-only",
        action="store_true",
        help="evaluate only the CI recipe (--normalize, --pool best, "
        "--baseline-runs and --current-runs as given, with --gate) at "
        "each of --thresholds, widened and not: a quick threshold scan",
    )
    args = parser.parse_args(argv)
    try:
        if min(args.pairs, args.baseline_runs, args.current_runs) < 1:
            raise SeqbenchError("--pairs, --baseline-runs and --current-runs must be >= 1")
        if args.paired and not args.baseline_runs == args.current_runs >= 2:
            raise SeqbenchError(
                "--paired needs --baseline-runs equal to --current-runs, at least 2 "
                f"(got {args.baseline_runs} and {args.current_runs})"
            )
        slowdowns = [parse_fraction(s) for s in args.slowdowns.split(",")]
        thresholds = tuple(parse_fraction(s) for s in args.thresholds.split(","))
        if args.splits:
            print(
                summarize_splits(
                    args.out,
                    args.splits,
                    thresholds,
                    args.baseline_runs,
                    args.current_runs,
                    args.gate,
                    args.recipe_only,
                )
            )
            return 0
        if not args.evaluate_only:
            with timing_lock(args.lock_file):
                try:
                    lengths = tuple(int(v) for v in split_csv(args.seq_lens))
                except ValueError:
                    raise SeqbenchError(
                        f"--seq-lens takes integers, got {args.seq_lens!r}"
                    ) from None
                subset = Overrides(
                    families=split_csv(args.families),
                    seq_lens=lengths,
                    impls=split_csv(args.impls),
                    threads=args.threads,
                    processes=args.processes,
                )
                build_cells(args.profile, subset)  # every value checked before the first run
                collect(
                    args.out / "runs",
                    args.pairs,
                    args.baseline_runs,
                    args.current_runs,
                    slowdowns,
                    subset,
                    args.profile,
                    args.seed,
                )
        print(
            summarize(
                args.out,
                thresholds,
                args.baseline_runs,
                args.current_runs,
                args.recipe_only,
                args.paired,
            )
        )
    except SeqbenchError as exc:
        print(f"detector study: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated as exc:  # SIGTERM/SIGHUP: the launcher stopped the run in progress
        return stopped("detector study", exc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
