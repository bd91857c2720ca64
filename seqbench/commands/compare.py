"""`seqbench compare BASELINE CURRENT`: flag regressions between two result sets.

Exit codes: 0 no regression, 1 at least one regression, 2 bad input (missing or corrupt
file, no cells in common, bad option).
"""

from __future__ import annotations

import argparse
import os
import sys

from seqbench.compare import CompareOptions, compare_results, parse_fraction
from seqbench.compare.options import POOLS
from seqbench.compare.render import RENDERERS
from seqbench.results.load import load_results

HELP = "compare two result sets and flag regressions (exit 0: none, 1: a regression, 2: bad input)"
_DEFAULTS = CompareOptions()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", help="baseline: a results folder or pytest-benchmark JSON")
    parser.add_argument(
        "current",
        nargs="+",
        help="current: results folders or pytest-benchmark JSON files; "
        "several (a run and its rerun) are pooled, see --pool",
    )
    parser.add_argument(
        "--threshold",
        default=f"{_DEFAULTS.threshold:.0%}",
        help="timing change that counts, if the rounds also differ (default %(default)s)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=_DEFAULTS.alpha,
        help="one run a side: Mann-Whitney U p-value below which the rounds differ "
        "(default %(default)s, asv's)",
    )
    parser.add_argument(
        "--run-alpha",
        type=float,
        default=_DEFAULTS.run_alpha,
        help="2 or more runs a side: t-test p-value over the runs below which they differ "
        "(default %(default)s, from the detector study)",
    )
    parser.add_argument(
        "--mem-threshold",
        default=f"{_DEFAULTS.mem_threshold:.0%}",
        help="peak-memory growth that counts (default %(default)s)",
    )
    parser.add_argument(
        "--mem-floor",
        type=float,
        default=_DEFAULTS.mem_floor_bytes / 2**20,
        metavar="MIB",
        help="memory growth below this many MiB never counts (default %(default)g)",
    )
    parser.add_argument(
        "--loss-tolerance",
        default=f"{_DEFAULTS.loss_tolerance:.0%}",
        help="loss change reported (and the least that fails), as a share of "
        "the task's chance loss (default %(default)s)",
    )
    parser.add_argument(
        "--loss-sigmas",
        type=float,
        default=_DEFAULTS.loss_sigmas,
        help="a configuration's mean loss over its seeds regresses past this "
        "many standard errors of the seed spread (default %(default)g)",
    )
    parser.add_argument(
        "--seed-sd-prior",
        default=f"{_DEFAULTS.seed_sd_prior:.0%}",
        help="seed standard deviation assumed when the baseline has one seed, "
        "as a share of chance loss (default %(default)s)",
    )
    parser.add_argument(
        "--grad-tolerance",
        default=f"{_DEFAULTS.grad_tolerance:.0%}",
        help="gradient-summary change reported as 'changed' (default %(default)s)",
    )
    parser.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="NAME",
        help="compare only this metric (repeatable; default: time_median_s, "
        "tokens_per_s, peak_mem_bytes, final_heldout_loss, "
        "grad_total_norm, grad_h_first_over_last_ratio)",
    )
    parser.add_argument(
        "--format",
        choices=sorted(RENDERERS),
        default="md",
        help="output format (default %(default)s: a pull-request comment)",
    )
    parser.add_argument(
        "--normalize",
        action="store_true",
        help="compare timings as ratios to each run's calibration workload",
    )
    parser.add_argument(
        "--pool",
        choices=POOLS,
        default=_DEFAULTS.pool,
        help="several runs of a cell on one side: 'best' compares the fastest "
        "run's timing (load only slows a run, so a rerun confirms or "
        "clears a flag), 'median' the middle run's (default %(default)s)",
    )
    parser.add_argument(
        "--no-widen",
        dest="widen",
        action="store_false",
        help="keep every cell's timing and memory limit at --threshold and "
        "--mem-threshold; by default a cell whose baseline runs already "
        "spread wider gets that spread as its limit",
    )
    parser.add_argument(
        "--gate",
        default="",
        metavar="REGEX",
        help="only timing and memory regressions of cells whose name matches "
        "REGEX (Python re.search) fail with exit 1; the others are "
        "reported; a status or loss regression fails in any cell "
        "(default: every cell gates)",
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="also write the output to FILE (e.g. for a PR comment)",
    )


def options_from_args(args: argparse.Namespace) -> CompareOptions:
    return CompareOptions(
        threshold=parse_fraction(args.threshold),
        alpha=args.alpha,
        run_alpha=args.run_alpha,
        mem_threshold=parse_fraction(args.mem_threshold),
        mem_floor_bytes=args.mem_floor * 2**20,
        loss_tolerance=parse_fraction(args.loss_tolerance),
        loss_sigmas=args.loss_sigmas,
        seed_sd_prior=parse_fraction(args.seed_sd_prior),
        grad_tolerance=parse_fraction(args.grad_tolerance),
        normalize=args.normalize,
        pool=args.pool,
        widen_by_spread=args.widen,
        metrics=tuple(args.metric),
        gate=args.gate,
    )


def run(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    comparison = compare_results(load_results([args.baseline]), load_results(args.current), options)
    text = RENDERERS[args.format](comparison, args.baseline, " + ".join(args.current))
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `seqbench compare ... | head`: the reader left; keep the verdict
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    for warning in comparison.warnings:  # also on stderr, where CI logs show them plainly
        print(f"seqbench compare: warning: {warning}", file=sys.stderr)
    return comparison.exit_code
