"""Which normaliser cancels run-to-run differences best? An offline analysis of whole runs.

    python -m seqbench.studies.normalisers RUN_FOLDER RUN_FOLDER ... [--out DIR]

For every pair of runs and every timed cell at T >= 100 (forward and train step), the change
of the cell's median time between the two runs after dividing each by its run's normaliser:

  none                            the raw median times
  calibration GEMM (--normalize)  the calibration entry's fastest round, what
                                  `seqbench compare --normalize` divides by
  LSTM T=10 forward               the fastest round of a fixed small LSTM step
                                  (the quick profile's LSTM forward cell at T=10)
  geometric mean of both          sqrt(GEMM × LSTM step)

A change is |log(a/b)| of the two normalised medians, shown as expm1 of it: how much slower
the slower run is than the faster one. The smaller the changes, the better the normaliser
cancels what differs between the runs (machine speed, other load). The table gives, for the
T=100 cells and for all T >= 100 cells, the median and 95th percentile of the changes over
every pair of runs and cell.

The runs are read with seqbench.results.load_results (pytest-benchmark JSON or per-cell
records). The table is printed; with --out it is also written to DIR/normalisers.txt.
results/detector-study/whole-runs/normalisers.txt is its output on that study's 7 runs.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from seqbench.errors import SeqbenchError
from seqbench.results import load_results

CALIBRATION = "test_calibration"
LSTM_STEP = "test_forward[lstm-mean-sign-T10-B100-H50-I1-s0]"
TIMED_PREFIXES = ("test_forward", "test_train_step")


def run_times(runs: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(median, fastest): each entry's median and fastest round in seconds, one row per entry
    name and one column per run folder. An entry measured in several worker processes takes
    the median of its processes' medians and the fastest of their rounds."""
    if len(runs) < 2:
        raise SeqbenchError(f"give at least 2 run folders to compare, got {len(runs)}")
    frame = load_results(list(runs)).entries
    median = frame.pivot_table(
        index="name", columns="run", values="time_median_s", aggfunc="median"
    )
    fastest = frame.pivot_table(index="name", columns="run", values="time_min_s", aggfunc="min")
    if median.shape[1] < 2:
        raise SeqbenchError(f"{', '.join(map(str, runs))} hold only one run")
    for name in (CALIBRATION, LSTM_STEP):
        row = fastest.loc[name] if name in fastest.index else fastest.iloc[0] * np.nan
        missing = [str(run) for run, value in row.items() if pd.isna(value)]
        if missing:
            raise SeqbenchError(f"{name} is missing from run(s): {', '.join(missing)}")
    return median, fastest


def normalisers(fastest: pd.DataFrame) -> dict[str, pd.Series]:
    """Each normaliser's value per run (a Series indexed like fastest's columns)."""
    gemm, lstm = fastest.loc[CALIBRATION], fastest.loc[LSTM_STEP]
    return {
        "none": gemm / gemm,
        "calibration GEMM (--normalize)": gemm,
        "LSTM T=10 forward": lstm,
        "geometric mean of both": np.sqrt(gemm * lstm),
    }


def cell_subsets(names: pd.Index) -> dict[str, list[str]]:
    """The timed cells at T >= 100 (forward and train step), and those at T=100 alone."""
    timed = [n for n in names if n.startswith(TIMED_PREFIXES) and "-T10-" not in n]
    return {"T=100 cells": [n for n in timed if "-T100-" in n], "T>=100 cells": timed}


def changes(median: pd.DataFrame, norm: pd.Series, cells: list[str]) -> np.ndarray:
    """|change| of each cell between every pair of runs after normalising: expm1 of
    |log((median_a / norm_a) / (median_b / norm_b))|, the slower over the faster run."""
    logs = [
        np.abs(np.log((median.loc[cells, a] / norm[a]) / (median.loc[cells, b] / norm[b])))
        for a, b in itertools.combinations(median.columns, 2)
    ]
    return np.expm1(np.concatenate(logs))


def table(median: pd.DataFrame, fastest: pd.DataFrame) -> pd.DataFrame:
    """One row per normaliser and cell subset: median and 95th percentile of the changes
    (fractions), and how many (pair of runs, cell) comparisons they summarise."""
    rows = []
    for label, norm in normalisers(fastest).items():
        for subset, cells in cell_subsets(median.index).items():
            if not cells:
                continue
            change = changes(median, norm, cells)
            rows.append(
                {
                    "normaliser": label,
                    "cells": subset,
                    "median_abs_change": float(np.median(change)),
                    "p95_abs_change": float(np.quantile(change, 0.95)),
                    "comparisons": len(change),
                }
            )
    if not rows:
        raise SeqbenchError("the runs hold no timed cells at T >= 100 (forward, train step)")
    return pd.DataFrame(rows)


def render(median: pd.DataFrame, fastest: pd.DataFrame) -> str:
    """The report: the runs' calibration spread, then the table with changes in percent."""
    gemm = fastest.loc[CALIBRATION]
    shown = table(median, fastest)
    for col in ("median_abs_change", "p95_abs_change"):
        shown[col] = shown[col].map(lambda v: f"{v:.1%}")
    return (
        f"{len(median.columns)} runs; calibration (fastest round) spread "
        f"{gemm.max() / gemm.min() - 1:.1%}\n" + shown.to_string(index=False) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seqbench.studies.normalisers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders")
    parser.add_argument("--out", type=Path, help="also write DIR/normalisers.txt")
    args = parser.parse_args(argv)
    try:
        text = render(*run_times(args.runs))
    except SeqbenchError as exc:
        print(f"normalisers: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(text, end="")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "normalisers.txt").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
