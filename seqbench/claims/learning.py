"""Claims about which model learns a task: decided only where the data can separate models.

A configuration where no model learned the task says nothing about which model learns it
better: a model that fails more slowly or emits blanks sooner is not showing memory. So a
configuration is used only when at least one model *learned*: one of its runs met the task's
solved criterion, or its median held-out loss is at most LEARNED_BELOW_CHANCE of the task's
chance loss.

Long-range learning is judged on steps-to-solve, a censored time-to-event: a run that never
solved is right-censored at its last step. Per model, the survival curve (fraction of runs
not yet solved) is the Kaplan–Meier estimate, and two models are compared with the log-rank
test (scipy.stats.logrank), Holm-corrected across the claim's comparisons. Each model is
taken at the learning rate (of those it was run at) that solved the most runs, ties broken by
the median steps-to-solve: a verdict never rests on a rate that suits one model only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from seqbench.analysis.data import GROUP_COLUMNS, Measured, model_order
from seqbench.analysis.stats import ALPHA, holm
from seqbench.analysis.survival import convergence_runs, median_steps_to_solve
from seqbench.claims.evidence import SEEDS, Sampling, setup_key, where
from seqbench.claims.model import CONTRADICTED, INCONCLUSIVE, SUPPORTED, Claim, Evidence, Outcome
from seqbench.tasks import TASKS, long_range_tasks

# A model learned a task when its median held-out loss is at most this fraction of chance.
LEARNED_BELOW_CHANCE = 0.5
NO_MODEL_LEARNED = "no model learned the task in this regime"


def conv_cells(m: Measured) -> pd.DataFrame:
    """One row per convergence run: its config, `step` (solved at, or censored at), `solved`
    and `over_chance_ratio` (seqbench.analysis.survival.convergence_runs)."""
    return convergence_runs(m.results.entries)


def learned(cells: pd.DataFrame) -> bool:
    """Did any model learn in these cells (one configuration, all models and seeds)?"""
    if cells.empty:
        return False
    if cells["solved"].any():
        return True
    ratios = cells["over_chance_ratio"]
    medians = ratios.groupby(cells["model"]).median()
    return bool((medians <= LEARNED_BELOW_CHANCE).any())


def learnable_only(m: Measured, frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Keep the configurations of a samples frame (convergence metrics) where some model
    learned; say which were left out and why."""
    if frame.empty:
        return frame, ""
    # A task with no chance level (output-sum: loss unbounded below) cannot be learned or not.
    chance = frame.apply(
        lambda r: (
            TASKS[r["task"]].chance_loss(int(r["seq_len"])) if r["task"] in TASKS else math.nan
        ),
        axis=1,
    )
    frame = frame[chance.map(math.isfinite)]
    cells = conv_cells(m)
    cells = cells.assign(_k=setup_key(cells, GROUP_COLUMNS))
    frame = frame.assign(_k=setup_key(frame, GROUP_COLUMNS))
    # Runs stopped when solved end just under the criterion: their final losses compare
    # nothing, so those configurations are judged on steps-to-solve (check_long_range).
    stopped = set(cells.loc[cells["stop_when_solved"], "_k"])
    ok = {k for k, g in cells.groupby("_k") if learned(g)} - stopped
    keep = frame["_k"].isin(ok)
    left = frame.loc[~keep & ~frame["_k"].isin(stopped)].drop_duplicates("_k")
    names = sorted({where(r) for r in left.to_dict("records")})
    note = ""
    if names:
        note = (
            f"Left out, {NO_MODEL_LEARNED} (no run solved it and no model's median "
            f"held-out loss reached {LEARNED_BELOW_CHANCE:.0%} of chance): {', '.join(names)}."
        )
    if stopped & set(frame["_k"]):
        note += " Runs stopped when solved are judged by steps-to-solve, not final loss."
    return frame.loc[keep].drop(columns="_k"), note.strip()


@dataclass(frozen=True)
class Survival:
    """Steps-to-solve of one model at one configuration (its best learning rate)."""

    model: str
    lr: float  # the learning rate chosen (most runs solved)
    steps: np.ndarray  # steps-to-solve, or the last step for runs that never solved
    solved: np.ndarray  # bool per run

    @property
    def n(self) -> int:
        return len(self.steps)

    @property
    def k(self) -> int:
        return int(self.solved.sum())

    def data(self) -> stats.CensoredData:
        return stats.CensoredData.right_censored(self.steps, ~self.solved)

    def median_steps(self) -> float:
        """Kaplan–Meier median steps-to-solve; inf when fewer than half solved."""
        median = median_steps_to_solve(self.steps, self.solved)
        return math.inf if median is None else median

    def rank(self) -> tuple[float, float]:
        """Learned better = larger: more runs solved, then sooner (the claims' and the
        answer table's one ordering of models and learning rates)."""
        return (self.k / max(self.n, 1), -self.median_steps())

    def describe(self) -> str:
        lo, hi = solved_ci(self.k, self.n)
        med = self.median_steps()
        when = f"median {med:.0f} steps" if math.isfinite(med) else "median not reached"
        return (
            f"{self.model} (lr {self.lr:g}) solved {self.k}/{self.n} [{lo:.0%}, {hi:.0%}], {when}"
        )


def solved_ci(k: int, n: int) -> tuple[float, float]:
    """Exact (Clopper–Pearson) 95% interval of a solved fraction k/n: its coverage holds at
    any n, unlike the normal approximation at 5 runs."""
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    return float(ci.low), float(ci.high)


def survival_of(cells: pd.DataFrame, model: str, lr: float) -> Survival:
    """The survival data of some runs (rows of conv_cells)."""
    return Survival(
        model, lr, cells["step"].to_numpy(dtype=float), cells["solved"].to_numpy(dtype=bool)
    )


def survivals(cells: pd.DataFrame) -> dict[str, Survival]:
    """Per model, the survival data at its best learning rate."""
    out = {}
    for model in model_order(cells["model"]):
        best = None
        for lr, g in cells[cells["model"] == model].groupby("lr", sort=True):
            s = survival_of(g, model, float(lr))
            rank = s.rank()
            if best is None or rank > best[0]:
                best = (rank, s)
        if best is not None:
            out[model] = best[1]
    return out


def logrank(a: Survival, b: Survival) -> tuple[float, bool]:
    """Two-sided log-rank p-value, and whether a solves sooner (the statistic's sign: observed
    minus expected solves of a). (NaN, False) when neither solved: nothing to test, and not a
    member of the claim's family of tests."""
    if a.k == 0 and b.k == 0:
        return math.nan, False
    result = stats.logrank(a.data(), b.data())
    return float(result.pvalue), bool(result.statistic > 0)


@dataclass(frozen=True)
class LongRangeSpec:
    """'Model a learns long-range structure better than model b' for each pair."""

    pairs: tuple[tuple[str, str], ...]  # (a, b): the article says a learns better than b
    # The tasks judged; empty: the task registry's long-range tasks (Task.long_range), read
    # when the claim is checked.
    tasks: tuple[str, ...] = ()
    sampling: Sampling = SEEDS  # runs (seeds) per model needed for a test


def _better(a: Survival, b: Survival) -> bool:
    """a learned better: more runs solved, or as many and sooner."""
    return a.rank() > b.rank()


def check_long_range(claim: Claim, m: Measured) -> Outcome:
    spec: LongRangeSpec = claim.spec
    tasks = spec.tasks or long_range_tasks()
    cells = conv_cells(m)
    cells = cells[cells["task"].isin(tasks)]
    if cells.empty:
        return Outcome(INCONCLUSIVE, f"no convergence results on {', '.join(tasks)}.")
    setup = [c for c in GROUP_COLUMNS if c != "lr"]
    cells = cells.assign(_k=setup_key(cells, setup))
    tests, skipped, evidence = [], [], []
    for _, group in sorted(
        cells.groupby("_k"),
        key=lambda kv: (str(kv[1]["task"].iloc[0]), float(kv[1]["seq_len"].iloc[0])),
    ):
        config = group.iloc[0].to_dict() | {"lr": None}  # each model at its own best rate
        surv = survivals(group)
        line = "; ".join(s.describe() for s in surv.values())
        evidence.append(Evidence(where(config), line))
        if not any(s.k for s in surv.values()):
            skipped.append(where(config))
            continue
        for a, b in spec.pairs:
            if a in surv and b in surv:
                sa, sb = surv[a], surv[b]
                enough = min(sa.n, sb.n) >= spec.sampling.min_samples
                p, sooner = logrank(sa, sb) if enough else (math.nan, False)
                tests.append((config, a, b, sa, sb, p, sooner))
    adjusted = holm([t[5] for t in tests])
    held, reversed_, undecided = [], [], []
    for (config, a, b, sa, sb, p, sooner), p_adj in zip(tests, adjusted, strict=True):
        label = f"{where(config)}: {a} vs {b}"
        if min(sa.n, sb.n) < spec.sampling.min_samples:
            undecided.append(
                f"{label} (too few runs: {min(sa.n, sb.n)}, needs ≥ {spec.sampling.min_samples})"
            )
        elif not math.isfinite(p):
            undecided.append(f"{label} (neither solved it)")
        elif sooner != _better(sa, sb):
            # Crossing curves: the test's direction and the solved fractions disagree.
            undecided.append(f"{label} (log-rank and solved fractions disagree on the order)")
        elif p_adj <= ALPHA and sooner:
            held.append(f"{label} (log-rank p = {p:.2g}, Holm {p_adj:.2g})")
        elif p_adj <= ALPHA:
            reversed_.append(
                f"{label}: {b} learned better (log-rank p = {p:.2g}, Holm {p_adj:.2g})"
            )
        else:
            undecided.append(f"{label} (log-rank p = {p:.2g}, Holm {p_adj:.2g})")
    rule = (
        "rule: per configuration, each model at its best learning rate; steps-to-solve "
        "compared by the log-rank test, Holm-corrected across the claim's comparisons "
        f"(α = {ALPHA:.0%})"
    )
    tail = f" ({rule})."
    if skipped:
        tail += f" Left out, {NO_MODEL_LEARNED} (no run solved it): {', '.join(skipped)}."
    ev = tuple(evidence)
    measured = "; ".join(f"{e.where}: {e.numbers}" for e in evidence)
    if not tests:
        return Outcome(
            INCONCLUSIVE, f"{NO_MODEL_LEARNED} at any configuration" + tail, ev, measured
        )
    if reversed_:
        text = "reversed at " + "; ".join(reversed_)
        if held:
            text += ". Holds at " + "; ".join(held)
        return Outcome(CONTRADICTED, text + tail, ev, measured)
    if held:
        text = "holds at " + "; ".join(held)
        if undecided:
            text += "; undecided at " + "; ".join(undecided)
        return Outcome(SUPPORTED, text + tail, ev, measured)
    return Outcome(
        INCONCLUSIVE, "no difference decided: " + "; ".join(undecided) + tail, ev, measured
    )
