"""A change judged on one machine: the base and the head timed alternately, then compared.

    python -m seqbench.compare.paired --base origin/main --head HEAD --out paired/

A baseline recorded on another machine cannot gate a change. Two machines of this project's
kind, both "AMD EPYC" with 2 cores, differed 2.58× in the calibration GEMM and 1.2–2.0× in the
recurrent cells, each cell by its own factor, so one calibration ratio cannot map one onto the
other (README, "CI: paired runs on one runner"). So, as asv's `continuous` does, both commits
are checked out here as git worktrees and benchmarked on this machine, alternately: base,
head, head, base, base, head, ... (--repeats runs each; the order flips every repetition so a
drift over the job falls on both sides alike). Each run times every timing cell in one worker
process, so each run is one independent sample per cell. `seqbench compare` then pools the
base runs against the head runs with its usual rules and its exit code is this tool's: 0 no
regression, 1 a regression, 2 bad input.

Each tree runs its own code: `python -m seqbench` started in a tree imports that tree's
seqbench. Both must work with the installed dependencies. The study is resumable: finished
runs are kept, an interrupted one is resumed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from seqbench.errors import SeqbenchError

SIDES = ("base", "head")
DEFAULT_SELECTION = ["--profile", "quick", "--families", "throughput", "--threads", "1"]


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SeqbenchError(f"git {' '.join(args)} failed: {done.stderr.strip()[:200]}")
    return done.stdout.strip()


def checkout(ref: str, tree: Path) -> str:
    """A detached worktree of `ref` at `tree` (kept if it is already there); its commit."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    if not tree.exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        _git("worktree", "add", "--detach", str(tree), commit)
    return commit


def order(repeats: int) -> list[tuple[str, int]]:
    """(side, repetition): base head, head base, base head, ... (ABBA)."""
    runs = []
    for rep in range(1, repeats + 1):
        pair = SIDES if rep % 2 else SIDES[::-1]
        runs += [(side, rep) for side in pair]
    return runs


def run_side(tree: Path, out: Path, selection: list[str]) -> None:
    """One run of the selection with the tree's own code (resumed if it was cut short)."""
    if (out / "run.json").exists():
        args = ["run", "--resume", str(out)]
    else:
        args = ["run", *selection, "--processes", "1", "--out", str(out)]
    done = subprocess.run([sys.executable, "-m", "seqbench", *args], cwd=tree, check=False)
    if done.returncode not in (0, 1):  # 1: some cell failed, which compare reports
        raise SeqbenchError(f"seqbench run in {tree} exited {done.returncode}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seqbench.compare.paired", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--base", required=True, help="git ref of the baseline (origin/main)")
    parser.add_argument("--head", default="HEAD", help="git ref of the change (default HEAD)")
    parser.add_argument("--out", type=Path, required=True, help="folder for trees and runs")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side (default 3)")
    parser.add_argument(
        "--select",
        default=" ".join(DEFAULT_SELECTION),
        help="seqbench run options choosing the cells (default: %(default)s)",
    )
    args, compare_args = parser.parse_known_args(argv)
    try:
        if args.repeats < 1:
            raise SeqbenchError(f"--repeats must be >= 1, got {args.repeats}")
        out = args.out.resolve()
        commits = {
            side: checkout(ref, out / "trees" / side)
            for side, ref in zip(SIDES, (args.base, args.head), strict=True)
        }
        print(f"paired: base {commits['base'][:10]}, head {commits['head'][:10]}", file=sys.stderr)
        for side, rep in order(args.repeats):
            print(f"paired: {side} run {rep} of {args.repeats}", file=sys.stderr)
            run_side(out / "trees" / side, out / "runs" / side / f"r{rep}", args.select.split())
        heads = [str(out / "runs" / "head" / f"r{r}") for r in range(1, args.repeats + 1)]
        compare = [sys.executable, "-m", "seqbench", "compare", str(out / "runs" / "base"), *heads]
        return subprocess.run([*compare, *compare_args], check=False).returncode
    except SeqbenchError as exc:
        print(f"paired: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
