"""Steps to solve a task as survival data: Kaplan–Meier curves and solved fractions.

A training run either meets its task's criterion at some held-out evaluation (the event, at
``steps_to_solve_step``) or ends without meeting it: then all we know is that it needs more
than the steps it ran, a right-censored observation. The Kaplan–Meier estimator (Kaplan and
Meier, "Nonparametric estimation from incomplete observations", JASA 53, 1958) gives the
fraction of runs not yet solved after each step, S(s) = ∏_{s_i ≤ s} (1 − d_i/n_i), with d_i
runs solved at step s_i out of the n_i still unsolved and observed there. Computed by
``scipy.stats.ecdf`` on ``scipy.stats.CensoredData``; the 95% band is Greenwood's pointwise
interval (scipy's default "linear" method, clipped to [0, 1]), which is undefined where
S(s) = 0; those ends are NaN.

Censoring assumes a censored run could still solve later. That holds for a run that used
its whole step budget; a run that diverged (a NaN/Inf loss) cannot solve any more, so it is
censored at the budget, not at its divergence step, where it would otherwise drop out of the
risk set and make the others look more successful than they are.

With every run observed to the same budget and no censoring before it, S(s) is simply the
fraction of runs unsolved at s; the estimator matters for runs cut short (crashed cells are
absent, not censored: they have no record).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from seqbench.implementations import DEFAULT_IMPLEMENTATION
from seqbench.results import CONFIG_COLUMNS

CONFIDENCE = 0.95  # level of the pointwise band
SURVIVAL_COLUMNS = ["step", "survival", "ci_low", "ci_high"]


def _arrays(steps: Any, solved: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(steps, dtype=float)
    e = np.asarray(solved, dtype=bool)
    if t.shape != e.shape or t.ndim != 1:
        raise ValueError("steps and solved must be 1-D and of the same length")
    if len(t) and not np.all(np.isfinite(t) & (t >= 0)):
        raise ValueError("steps must be finite and non-negative")
    return t, e


def _fit(t: np.ndarray, e: np.ndarray) -> Any:
    return stats.ecdf(stats.CensoredData.right_censored(t, ~e))


def km_curve(steps: Any, solved: Any) -> pd.DataFrame:
    """The Kaplan–Meier survival (fraction of runs not yet solved) as a step function.

    steps: per run, the step it was solved at, or for an unsolved run the step it was
    observed to (censored). solved: per run, whether it was solved. Returns one row per
    distinct step, plus step 0 with survival 1: columns step, survival, ci_low, ci_high
    (95% band). Survival holds from a row's step until the next row's (draw it with
    ``where="post"``); the last row is the longest observation, so the curve reaches the
    end of the runs' budget even when nothing happens there.
    """
    t, e = _arrays(steps, solved)
    if len(t) == 0:
        return pd.DataFrame(columns=SURVIVAL_COLUMNS, dtype=float)
    sf = _fit(t, e).sf
    with warnings.catch_warnings():
        # scipy warns where Greenwood's interval is undefined (survival 0); NaN says it.
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = sf.confidence_interval(CONFIDENCE)
    frame = pd.DataFrame(
        {
            "step": sf.quantiles,
            "survival": sf.probabilities,
            "ci_low": ci.low.probabilities,
            "ci_high": ci.high.probabilities,
        }
    )
    start = pd.DataFrame({"step": [0.0], "survival": [1.0], "ci_low": [1.0], "ci_high": [1.0]})
    frame = pd.concat([start, frame[frame["step"] > 0]], ignore_index=True)
    return frame.astype(float)


@dataclass(frozen=True)
class SolvedFraction:
    """How many runs had solved the task by a step, Kaplan–Meier estimate with its CI."""

    by_step: float  # the step at which the fraction is read
    solved_fraction: float  # 1 − S(by_step): estimated share of runs solved by then
    ci_low_fraction: float  # lower end of the 95% band (NaN where undefined)
    ci_high_fraction: float  # upper end of the 95% band (NaN where undefined)
    solved_count: int  # runs observed to solve at or before by_step
    runs_count: int  # runs in all


def solved_fraction(steps: Any, solved: Any, by_step: float | None = None) -> SolvedFraction:
    """The fraction of runs solved by `by_step` (default: the longest observation), 1 − S.

    Without censoring before by_step this is the plain share solved_count / runs_count.
    """
    t, e = _arrays(steps, solved)
    if len(t) == 0:
        raise ValueError("no runs")
    at = float(t.max()) if by_step is None else float(by_step)
    curve = km_curve(t, e)
    row = curve[curve["step"] <= at].iloc[-1]  # survival is constant until the next step
    return SolvedFraction(
        by_step=at,
        solved_fraction=1.0 - float(row["survival"]),
        ci_low_fraction=1.0 - float(row["ci_high"]),
        ci_high_fraction=1.0 - float(row["ci_low"]),
        solved_count=int(np.sum(e & (t <= at))),
        runs_count=len(t),
    )


def median_steps_to_solve(steps: Any, solved: Any) -> float | None:
    """The first step by which half the runs are estimated solved (S ≤ 0.5), or None when
    the survival never gets that low within the observations."""
    curve = km_curve(steps, solved)
    below = curve[curve["survival"] <= 0.5]
    return float(below["step"].iloc[0]) if len(below) else None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def convergence_runs(entries: pd.DataFrame) -> pd.DataFrame:
    """One row per convergence run that recorded ``steps_to_solve_step`` (schema 2): the
    configuration columns, stop_when_solved, eval_every, and ``step`` (solved at, or
    censored at) with ``solved`` (bool), ready for km_curve.

    A run without a solve is censored at steps_run_count (its budget, train_steps, when it
    diverged or lacks the count). Records before schema 2 lack the metric: a run of theirs
    that solved counts as solved at its last step (all they say is that it had by then).
    ``over_chance_ratio`` is the final held-out loss over the task's chance loss.
    """
    rows: list[dict[str, Any]] = []
    keep = ["run", "run_key", "status", *CONFIG_COLUMNS]
    conv = entries[entries["family"] == "convergence"] if len(entries) else entries
    for rec in conv.to_dict("records"):
        metrics = rec.get("metrics") or {}
        if rec.get("status") not in ("ok", "diverged"):
            continue
        config = rec.get("config") or {}
        budget = _number(rec.get("train_steps"))
        solve = _number(metrics.get("steps_to_solve_step"))
        if solve is None and "steps_to_solve_step" not in metrics and metrics.get("solved_count"):
            solve = _number(metrics.get("steps_run_count")) or budget
        if solve is not None:
            step, solved = solve, True
        else:
            ran = _number(metrics.get("steps_run_count"))
            diverged = _number(metrics.get("diverged_at_step")) is not None
            step, solved = (budget if diverged or ran is None else ran), False
        if step is None:
            continue  # neither a count nor a budget: nothing to censor at
        row = {k: rec.get(k) for k in keep}
        impl = row.get("impl")
        if isinstance(impl, str) and impl != DEFAULT_IMPLEMENTATION:
            # Another implementation's runs are their own line in curves and tables
            # ("gru@article"): the article's GRU is another function of the same weights.
            row["model"] = f"{row['model']}@{impl}"
        rows.append(
            row
            | {
                "stop_when_solved": bool(config.get("stop_when_solved", False)),
                "eval_every": config.get("eval_every"),
                "step": step,
                "solved": solved,
                "over_chance_ratio": _number(metrics.get("final_heldout_over_chance_ratio")),
            }
        )
    columns = [*keep, "stop_when_solved", "eval_every", "step", "solved", "over_chance_ratio"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["step"] = pd.to_numeric(frame["step"], errors="coerce")
    frame["solved"] = frame["solved"].astype(bool)
    frame["over_chance_ratio"] = pd.to_numeric(frame["over_chance_ratio"], errors="coerce")
    return frame
