"""Which normaliser cancels run-to-run differences best? An offline analysis of whole runs.

    python results/detector-study/whole-runs/normalisers.py RUN_FOLDER ...

For every pair of runs and every timed cell at T >= 100, the change of the cell's median
time between the two runs after dividing each by its run's normaliser: none, the
calibration GEMM (what `seqbench compare --normalize` uses: its fastest round), the LSTM
T=10 forward cell (a fixed small LSTM step: its fastest round), or their geometric mean.
The smaller the changes, the better the normaliser cancels what differs between runs.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

LSTM_STEP = "test_forward[lstm-mean-sign-T10-B100-H50-I1-s0]"

rows = [{"run": str(run), "name": b["name"], "median_s": b["stats"]["median"],
         "min_s": b["stats"]["min"]}
        for run in map(Path, sys.argv[1:]) for f in sorted(run.glob("benchmarks-*.json"))
        for b in json.loads(f.read_text())["benchmarks"]]
frame = pd.DataFrame(rows)
median = frame.pivot(index="name", columns="run", values="median_s")
fastest = frame.pivot(index="name", columns="run", values="min_s")
gemm, lstm = fastest.loc["test_calibration"], fastest.loc[LSTM_STEP]
normalisers = {"none": gemm / gemm, "calibration GEMM (--normalize)": gemm,
               "LSTM T=10 forward": lstm, "geometric mean of both": np.sqrt(gemm * lstm)}
timed = [n for n in median.index if n.startswith(("test_forward", "test_train_step"))
         and "-T10-" not in n]
subsets = {"T=100 cells": [n for n in timed if "-T100-" in n], "T>=100 cells": timed}
out = []
for label, norm in normalisers.items():
    for subset, cells in subsets.items():
        logs = np.concatenate([np.abs(np.log((median.loc[cells, a] / norm[a])
                                             / (median.loc[cells, b] / norm[b])))
                               for a, b in itertools.combinations(median.columns, 2)])
        change = np.expm1(logs)  # |change| of the slower over the faster run
        out.append({"normaliser": label, "cells": subset,
                    "median_abs_change": f"{np.median(change):.1%}",
                    "p95_abs_change": f"{np.quantile(change, 0.95):.1%}",
                    "comparisons": len(change)})
print(f"{len(median.columns)} runs; calibration (fastest round) spread "
      f"{gemm.max() / gemm.min() - 1:.1%}")
print(pd.DataFrame(out).to_string(index=False))
