"""Studies: one-off measurements that check seqbench's own models and tools.

Each study is a module runnable with ``python -m seqbench.studies.NAME --out DIR``; it writes
its tables and a summary into DIR. A study stands on the product as a client (launchers,
results, compare); nothing in the product imports a study.

  memory_model    the peak-memory estimate (seqbench.models.costs) against fresh-process
                  peaks, in and out of the configuration its fitted term was fitted at; its
                  summary.md records the machine, versions, date and the exact command
  timing          whether a timing cell's numbers are independent of the run they come from
  detector        `seqbench compare`'s false-alarm and detection rates: pairs of runs with
                  injected slowdowns, or splits of whole runs (evaluation: detector_eval;
                  the level of compare's between-run test, cross-validated: detector_scan)
  normalisers     which normaliser (none, the calibration GEMM, a small LSTM step) cancels
                  run-to-run differences best, over whole runs already made (it takes the
                  run folders as arguments and writes normalisers.txt)
"""

from __future__ import annotations

import sys

from seqbench.launchers.base import Terminated


def stopped(prog: str, exc: Terminated, detail: str = "") -> int:
    """A study stopped by SIGTERM/SIGHUP (the launcher stopped its run in progress): one line
    on stderr saying its finished runs are kept, and the exit code 128 + the signal."""
    print(
        f"{prog}: stopped by {exc}; finished runs are kept. Resume with the same command{detail}.",
        file=sys.stderr,
    )
    return 128 + exc.signum
