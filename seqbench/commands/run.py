"""`seqbench run`: run a profile's benchmark definitions through pytest, losing nothing."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from seqbench.errors import SeqbenchError
from seqbench.launchers import records
from seqbench.launchers.allocators import (
    ALLOCATORS,
    DEFAULT_ALLOCATOR,
    FALLBACK_ALLOCATOR,
    allocator_env,
    resolve_allocator,
)
from seqbench.launchers.base import (
    DEFAULT_LAUNCHER,
    LAUNCHERS,
    Launcher,
    RunFolder,
    Terminated,
    launcher_class,
)
from seqbench.launchers.cluster import options as cluster_options
from seqbench.launchers.cluster import scheduler
from seqbench.launchers.plan import make_plan, validation_knobs
from seqbench.launchers.preflight import default_budget, parse_size, skip_over_budget
from seqbench.launchers.progress import SweepProgress
from seqbench.profiles import DEFAULT_PROFILE, PROFILES, Overrides, build_cells, split_csv

HELP = "run a benchmark profile and store pytest-benchmark JSON plus per-cell records"


def _ints(text: str | None, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in split_csv(text))
    except ValueError:
        raise SeqbenchError(f"{option} takes comma-separated integers, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", default=None, help=f"one of {', '.join(PROFILES)} (default {DEFAULT_PROFILE})"
    )
    parser.add_argument(
        "--out", default=None, help="results folder (default: a new results/<profile>-<time>/)"
    )
    parser.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="finish an interrupted run: only cells without a record run",
    )
    parser.add_argument("--models", help="comma-separated models to keep (rnn,lstm,gru)")
    parser.add_argument(
        "--impls", help="comma-separated implementations to keep (fused,loop,compiled,article)"
    )
    parser.add_argument("--tasks", help="comma-separated tasks to keep")
    parser.add_argument("--families", help="comma-separated families to keep")
    parser.add_argument("--seq-lens", help="comma-separated sequence lengths to use instead")
    parser.add_argument("--seeds", help="comma-separated seeds to keep")
    parser.add_argument("--device", help="cpu or cuda for every cell")
    parser.add_argument("--threads", type=int, help="torch threads for every cell")
    parser.add_argument("--lr", type=float, help="Adam learning rate for every cell")
    parser.add_argument(
        "--processes",
        type=int,
        help="fresh worker processes each timing cell is measured in (default: the profile's)",
    )
    parser.add_argument(
        "--max-mem",
        default=None,
        help="memory budget (e.g. 16G); cells estimated above it are skipped "
        "(default: 80%% of available memory)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds one cell may run before it is stopped as `timeout`",
    )
    parser.add_argument(
        "--cell-mem-limit",
        default=None,
        help="address-space limit for each memory probe process (e.g. 2G)",
    )
    parser.add_argument(
        "--allocator",
        default=None,
        help=f"heap allocator of the run's processes: {', '.join(ALLOCATORS)} "
        f"(default {DEFAULT_ALLOCATOR}, or {FALLBACK_ALLOCATOR} with a notice where its library "
        "is not installed; recorded in the environment)",
    )
    parser.add_argument(
        "--launcher",
        choices=list(LAUNCHERS),
        default=None,
        help=f"how the cells run: {DEFAULT_LAUNCHER} (default: here, one at a time), slurm "
        "(SLURM jobs through submitit), local (the same jobs as local processes); "
        "--resume uses the run's own unless given",
    )
    cluster_options.add_arguments(parser)


def _overrides(args: argparse.Namespace) -> Overrides:
    return Overrides(
        models=split_csv(args.models),
        impls=split_csv(args.impls),
        tasks=split_csv(args.tasks),
        families=split_csv(args.families),
        seq_lens=_ints(args.seq_lens, "--seq-lens"),
        seeds=_ints(args.seeds, "--seeds"),
        device=args.device,
        threads=args.threads,
        lr=args.lr,
        processes=args.processes,
    )


def _writable_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise SeqbenchError(
            f"cannot write to output folder {path}: {exc.strerror or exc}"
        ) from None
    return path


def _default_out(profile: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / "results" / f"{profile}-{stamp}"


def _launcher_settings(
    args: argparse.Namespace, name: str, stored: dict | None
) -> cluster_options.ClusterOptions | None:
    """The cluster options in force for launcher `name` (None for the default launcher);
    a missing submitit or sbatch is one line and exit 2 here, before any work."""
    if name == DEFAULT_LAUNCHER:
        flags = cluster_options.given_flags(args)
        if flags:
            raise SeqbenchError(f"{', '.join(flags)} need --launcher local or slurm")
        return None
    options = cluster_options.from_args(args, stored)
    scheduler.require(name)
    return options


def _cells(profile: str, overrides: Overrides, launcher: str) -> list:
    """The profile's cells with the overrides; SLURM jobs check CUDA on their nodes, not on
    the login node that submits them."""
    if launcher == "slurm" and overrides.device == "cuda":
        cells = build_cells(profile, replace(overrides, device=None))
        return [c.replace(device="cuda") for c in cells]
    return build_cells(profile, overrides)  # validates every value


def _check_gpus(options: cluster_options.ClusterOptions | None, cells: list) -> None:
    if options and options.gpus_per_node and all(c.device == "cpu" for c in cells):
        raise SeqbenchError(
            f"--gpus-per-node {options.gpus_per_node} asks for GPUs, but every cell runs on "
            "the CPU (--device cpu): drop the GPUs, or run with --device cuda"
        )


def _new_run(args: argparse.Namespace) -> RunFolder:
    """Validate every value, resolve the plan and write the run folder, before any work."""
    profile = args.profile or DEFAULT_PROFILE
    if args.timeout is not None and not args.timeout > 0:
        raise SeqbenchError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if args.allocator is not None:
        allocator_env(args.allocator)  # an unknown name or a missing library: exit 2 now
    launcher = args.launcher or DEFAULT_LAUNCHER
    options = _launcher_settings(args, launcher, None)
    overrides = _overrides(args)
    cell_mem_limit = parse_size(args.cell_mem_limit) if args.cell_mem_limit else None
    extra = validation_knobs()
    if cell_mem_limit:
        extra["probe_mem_limit_bytes"] = cell_mem_limit
    overrides = replace(overrides, extra=extra)
    cells = _cells(profile, overrides, launcher)
    _check_gpus(options, cells)
    plan = make_plan(cells)
    budget = parse_size(args.max_mem) if args.max_mem else default_budget()
    out = _writable_dir(Path(args.out) if args.out else _default_out(profile))
    # Last: its notice only for a run that goes on.
    allocator = resolve_allocator(args.allocator, "seqbench")
    settings = {"launcher": launcher}
    if options is not None:
        settings["cluster"] = options.to_json()
    run = RunFolder.create(
        out,
        profile,
        overrides,
        plan,
        max_mem_bytes=budget,
        cell_mem_limit_bytes=cell_mem_limit,
        timeout_s=args.timeout,
        allocator=allocator,
        **settings,
    )
    # A cell whose estimated peak exceeds the budget gets a `skipped` record before any runs.
    entries = [(e.nodeid, e.cell) for e in plan if e.cell is not None and e.process is None]
    skip_over_budget(entries, budget, run.cells_dir)
    return run


def _resumed_run(args: argparse.Namespace) -> RunFolder:
    out = Path(args.resume)
    run = RunFolder.load(out)
    _writable_dir(out)
    if args.profile and args.profile != run.manifest["profile"]:
        raise SeqbenchError(
            f"{out} holds a {run.manifest['profile']!r} run; cannot resume it as {args.profile!r}"
        )
    if args.allocator and args.allocator != run.allocator:
        raise SeqbenchError(
            f"{out} was run under allocator {run.allocator}; a resume keeps it (got --allocator "
            f"{args.allocator}): drop --allocator, or start a new run"
        )
    launcher = args.launcher or run.launcher
    options = _launcher_settings(args, launcher, run.manifest.get("cluster"))
    _check_gpus(options, run.cells)
    if launcher != DEFAULT_LAUNCHER:
        run.manifest["cluster"] = options.to_json()  # what this launch submits with
        run.save()
    else:
        for nodeid in records.forget_interrupted(run.cells_dir):
            print(
                f"seqbench: {nodeid} was interrupted by a signal: running it again",
                file=sys.stderr,
            )
    return run


def _make_launcher(run: RunFolder, args: argparse.Namespace) -> Launcher:
    name = args.launcher or run.launcher
    cls = launcher_class(name)
    if name == DEFAULT_LAUNCHER:
        return cls()
    return cls(options=cluster_options.ClusterOptions.from_json(run.manifest["cluster"]))


def run(args: argparse.Namespace) -> int:
    run = _resumed_run(args) if args.resume else _new_run(args)
    out = run.path
    launcher = _make_launcher(run, args)
    if run.manifest["overrides"].get("device") == "cuda" and launcher.name != "slurm":
        Overrides(device="cuda").validate()  # CUDA must really be present
    _ = run.env  # an allocator library removed since the run started: exit 2 before any work
    launcher.prepare(run)
    print(
        f"seqbench: profile {run.manifest['profile']!r}, {run.manifest['cells_count']} cells, "
        f"results in {out}",
        file=sys.stderr,
    )
    launcher.progress = SweepProgress(run.plan, run.cells_dir)
    try:
        launcher.launch(run)
    except (KeyboardInterrupt, Terminated) as exc:
        done = records.finished_nodeids(run.cells_dir)
        why = f"stopped by {exc}" if isinstance(exc, Terminated) else "interrupted"
        print(
            f"\nseqbench: {why}; {len(done)} finished cells are kept in {out}.\n"
            f"Resume with: seqbench run --resume {out}",
            file=sys.stderr,
        )
        return 128 + (exc.signum if isinstance(exc, Terminated) else signal.SIGINT)
    finally:
        launcher.progress.close()
    statuses = Counter(records.finished_nodeids(run.cells_dir).values())
    summary = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    print(f"seqbench: done: {summary}. Results in {out}", file=sys.stderr)
    for event in launcher.events:
        print(f"  {event}", file=sys.stderr)
    unrun = run.pending()
    if unrun:  # a cluster job ended before it reached them
        print(
            f"seqbench: {len(unrun)} planned entries have no record (their job ended before "
            f"reaching them); run them with: seqbench run --resume {out}",
            file=sys.stderr,
        )
    print(str(out))
    return 0 if set(statuses) <= {"ok", "diverged", "skipped"} and not unrun else 1
