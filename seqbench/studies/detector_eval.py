"""The detector study's evaluation (seqbench.studies.detector): false-alarm and detection
rates per detector setting, on stored runs.

Input: a folder of pytest-benchmark JSON files named ``pairNN-KIND-rR.json`` where KIND is
``base`` (the baseline: runs of the unchanged tree), ``clean`` (the unchanged tree again) or
``slowPP`` (PP% injected slowdown), and R numbers the repeats of a kind within the pair. Each
non-base kind of a pair is compared with that pair's baseline, under each setting: the first
`baseline_runs` base runs pooled (a committed baseline of several runs), against the first
`current_runs` runs of the kind pooled (2: a flagged run and its confirming rerun).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from seqbench.analysis.markdown import markdown_table
from seqbench.analysis.provenance import machine_names
from seqbench.compare.cells import calibrations
from seqbench.compare.engine import CALIBRATION_WARN_RATIO, Comparison, compare_results
from seqbench.compare.options import CompareOptions
from seqbench.compare.significance import MIN_RUNS_FOR_T
from seqbench.errors import SeqbenchError
from seqbench.results.load import ResultSet, load_results

RUN_NAME = re.compile(r"pair(?P<pair>\d+)-(?P<kind>base|clean|slow\d+)-r(?P<rep>\d+)\.json$")


@dataclass(frozen=True)
class Setting:
    """One detector configuration evaluated on the same runs."""

    threshold: float  # timing threshold (fraction)
    alpha: float  # Mann-Whitney U level
    normalize: bool  # timings divided by the run's calibration
    baseline_runs: int  # base runs pooled into the baseline (1: the first alone)
    current_runs: int = 1  # runs of the current kind pooled (2: a run and its rerun)
    pool: str = "best"  # how pooled runs combine (CompareOptions.pool)
    widen: bool = True  # thresholds widened to the baseline runs' spread (widen_by_spread)
    gate: str = ""  # only cells matching this regex fail a comparison (CompareOptions.gate)
    run_alpha: float = CompareOptions().run_alpha  # t-test level over runs, >= 2 a side

    def options(self) -> CompareOptions:
        return CompareOptions(
            threshold=self.threshold,
            alpha=self.alpha,
            run_alpha=self.run_alpha,
            normalize=self.normalize,
            pool=self.pool,
            widen_by_spread=self.widen,
            gate=self.gate,
        )

    @property
    def label(self) -> str:
        def runs(n: int) -> str:
            return f"{n} run{'s' if n > 1 else ''}"

        # which test decides (compare/significance.py): over runs with >= 2 a side
        test = (
            f"run alpha {self.run_alpha:g}"
            if min(self.baseline_runs, self.current_runs) >= MIN_RUNS_FOR_T
            else f"alpha {self.alpha:g}"
        )
        return (
            f"threshold {self.threshold * 100:g}%, {test}, "
            f"{'normalised' if self.normalize else 'raw'}, "
            f"baseline {runs(self.baseline_runs)}, current {runs(self.current_runs)}, "
            f"pool {self.pool}{', widened' if self.widen else ''}"
            f"{f', gate {self.gate}' if self.gate else ''}"
        )


def default_grid(
    thresholds: tuple[float, ...] = (0.10,),
    alphas: tuple[float, ...] = (0.05, 0.01, 0.002),
    baseline_runs: tuple[int, ...] = (1,),
    current_runs: tuple[int, ...] = (1,),
    pools: tuple[str, ...] = ("best",),
    widen: tuple[bool, ...] = (False, True),
    gates: tuple[str, ...] = ("",),
) -> list[Setting]:
    return [
        Setting(t, a, n, k, m, p, w, g)
        for k in baseline_runs
        for m in current_runs
        for p in pools
        for w in widen
        for g in gates
        for t in thresholds
        for a in alphas
        for n in (False, True)
        if w <= (k > 1)
    ]  # widening needs several baseline runs


def recipe_grid(
    thresholds: tuple[float, ...], baseline_runs: int, current_runs: int, gate: str = ""
) -> list[Setting]:
    """Only the CI recipe (normalised, pooled by the fastest run) at each threshold, with
    and without widening: a short grid for weighing thresholds against each other. The
    settings are default_grid's, ordered by threshold."""
    grid = default_grid(
        thresholds,
        alphas=(CompareOptions().alpha,),
        baseline_runs=(baseline_runs,),
        current_runs=(current_runs,),
        pools=("best",),
        gates=(gate,),
    )
    return sorted((s for s in grid if s.normalize), key=lambda s: s.threshold)


def paired_grid(thresholds: tuple[float, ...], runs: int, gate: str = "") -> list[Setting]:
    """The paired workflow's recipe (python -m seqbench.compare.paired, README "CI: the
    workflow"): base and head timed on one machine, raw timings, pooled by the fastest run,
    limits widened to the base runs' spread; `runs - 1` runs a side, then `runs` a side to
    confirm a flag."""
    if runs < 2:
        raise SeqbenchError(f"the paired recipe needs at least 2 runs a side, got {runs}")
    alpha = CompareOptions().alpha
    return [
        Setting(t, alpha, False, k, k, "best", True, gate)
        for t in thresholds
        for k in (runs - 1, runs)
    ]


def confirmed(comparisons: pd.DataFrame, runs: int) -> pd.DataFrame:
    """The paired workflow's outcome per (pair, kind, threshold): it fails only when the
    comparison of `runs - 1` runs a side is flagged and so is the one with `runs` a side (the
    confirmation adds one run per side and pools all of them). Rows shaped like evaluate's."""
    paired = comparisons[
        ~comparisons["normalize"]
        & (comparisons["baseline_runs"] == comparisons["current_runs"])
        & comparisons["baseline_runs"].isin([runs - 1, runs])
    ]
    rows = []
    for (_, _, threshold), g in paired.groupby(["pair", "kind", "threshold"], sort=False):
        first = g[g["baseline_runs"] == runs - 1]
        confirm = g[g["baseline_runs"] == runs]
        if first.empty or confirm.empty:
            continue
        row = confirm.iloc[0].to_dict()
        row["setting"] = (
            f"paired at {threshold * 100:g}%: {runs - 1} runs a side, "
            f"a flag confirmed with {runs} a side"
        )
        row["flagged"] = bool(first["flagged"].iloc[0] and confirm["flagged"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def find_runs(folder: Path) -> pd.DataFrame:
    """The runs in a study folder: columns pair, kind, rep, path."""
    rows = [
        {"pair": int(m["pair"]), "kind": m["kind"], "rep": int(m["rep"]), "path": p}
        for p in sorted(folder.glob("pair*.json"))
        if (m := RUN_NAME.search(p.name))
    ]
    if not rows:
        raise SeqbenchError(f"{folder} holds no study runs (pairNN-KIND-rR.json)")
    return pd.DataFrame(rows).sort_values(["pair", "kind", "rep"], ignore_index=True)


def _cells(pair: int, kind: str, setting: Setting, rows: pd.DataFrame) -> list[dict]:
    timed = rows[rows["metric"] == "time_median_s"]
    return [
        {
            "pair": pair,
            "kind": kind,
            "setting": setting.label,
            "normalize": setting.normalize,
            "pool": setting.pool,
            "baseline_runs": setting.baseline_runs,
            "current_runs": setting.current_runs,
            "cell": r.name,
            "ratio": r.current / r.baseline,
            "p_value": r.p_value,
            "verdict": r.verdict,
        }
        for r in timed.itertuples(index=False)
    ]


def _cached_loader() -> Callable[[list[Path]], ResultSet]:
    """load_results, loading each combination of runs once (a study compares each many
    times)."""
    loaded: dict[tuple[Path, ...], ResultSet] = {}

    def load(paths: list[Path]) -> ResultSet:
        key = tuple(paths)
        if key not in loaded:
            loaded[key] = load_results(list(paths))
        return loaded[key]

    return load


def _one_machine(pair: int, machines: set[str]) -> None:
    """A pair stands for one CI job, on one runner: its runs must come from one machine.
    (Pairs on different machines of one kind are fine: they sample the runners.)"""
    if len(machines) > 1:
        raise SeqbenchError(
            f"pair {pair}'s runs come from {len(machines)} machines ({'; '.join(sorted(machines))}"
            "): a pair is one runner's job; remove its runs from all but one machine and "
            "resume there"
        )


def evaluate(folder: Path, grid: list[Setting]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(comparisons, cells): one row per (pair, kind, setting), and per timed cell too."""
    runs = find_runs(folder)
    comparisons, cells = [], []
    load = _cached_loader()
    for pair, group in runs.groupby("pair"):
        # One file at a time: a result set keys its machines by folder, and a study's runs
        # share one.
        _one_machine(pair, set().union(*(machine_names(load([p])) for p in group["path"])))
        base_paths = list(group.loc[group["kind"] == "base", "path"])
        for kind, other in group[group["kind"] != "base"].groupby("kind", sort=False):
            cur_paths = list(other["path"])
            for setting in grid:
                if setting.baseline_runs > len(base_paths) or setting.current_runs > len(cur_paths):
                    continue  # this pair has fewer runs than the setting pools
                result = compare_results(
                    load(base_paths[: setting.baseline_runs]),
                    load(cur_paths[: setting.current_runs]),
                    setting.options(),
                )
                comparisons.append(
                    {
                        "pair": pair,
                        "kind": kind,
                        "setting": setting.label,
                        "threshold": setting.threshold,
                        "alpha": setting.alpha,
                        "normalize": setting.normalize,
                        "pool": setting.pool,
                        "baseline_runs": setting.baseline_runs,
                        "current_runs": setting.current_runs,
                        "flagged": result.exit_code == 1,
                        "regressed_rows": result.count("regression"),
                        "calibration_ratio": result.calibration_ratio,
                    }
                )
                cells += _cells(pair, kind, setting, result.rows)
    return pd.DataFrame(comparisons), pd.DataFrame(cells)


def rates(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Per setting and kind: how often a comparison was flagged, with a 95% Wilson interval.
    For "clean" that is the false-alarm rate; for "slowPP" the detection rate."""
    rows = []
    for (label, kind), g in comparisons.groupby(["setting", "kind"], sort=False):
        k, n = int(g["flagged"].sum()), len(g)
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        rows.append(
            {
                "setting": label,
                "kind": kind,
                "flagged": k,
                "comparisons": n,
                "rate": k / n,
                "ci95_low": ci.low,
                "ci95_high": ci.high,
            }
        )
    return pd.DataFrame(rows)


def noise(cells: pd.DataFrame) -> pd.DataFrame:
    """Run-to-run noise of the unchanged tree, per timed cell comparison: how far the
    current/baseline ratio of median times strays from 1 (raw and normalised)."""
    keys = ["normalize", "pool", "baseline_runs", "current_runs"]
    clean = cells[cells["kind"] == "clean"].drop_duplicates(["pair", "cell", *keys])
    clean = clean.assign(log_ratio=np.log(clean["ratio"]), abs_change=(clean["ratio"] - 1).abs())
    out = clean.groupby(keys).agg(
        rms_log_ratio=("log_ratio", lambda s: float(np.sqrt(np.mean(np.square(s))))),
        median_abs_change=("abs_change", "median"),
        p95_abs_change=("abs_change", lambda s: float(s.quantile(0.95))),
        max_abs_change=("abs_change", "max"),
        cells=("abs_change", "size"),
    )
    return out.reset_index()


# A run whose timed rounds took this much longer than the median run of its kind is listed
# as slow. Not proof of other load: on 2 shared cores run totals spread continuously (the
# 10-pair study: 0.8-1.5× the median), so this is a pointer for the reader, not a filter.
SLOW_RUN_RATIO = 1.25


def _timed_total_s(results: ResultSet) -> float:
    frame = results.entries
    return float(
        frame.loc[frame["family"] != "calibration", "time_mean_s"].mul(frame["rounds_count"]).sum()
    )


def run_health(folder: Path) -> pd.DataFrame:
    """Signs that a run was disturbed by other load on the machine (load only ever slows a
    run). `disturbed`: its calibration is slower than the study's fastest by more than
    CALIBRATION_WARN_RATIO (quiet runs agree within a few percent; busy ones are 1.8-90×
    slower). `slow`: its timed rounds took more than SLOW_RUN_RATIO × the median run of its
    kind (unchanged tree, or one injected slowdown), which a busy machine also causes after
    the calibration has run."""
    runs = find_runs(folder)
    loaded = [load_results([p]) for p in runs["path"]]
    kind = runs["kind"].where(runs["kind"].str.startswith("slow"), "unchanged")  # base, clean
    out = runs.assign(
        run=[p.name for p in runs["path"]],
        calibration_s=[
            float(np.median(list(calibrations(r).values()) or [np.nan])) for r in loaded
        ],
        timed_total_s=[_timed_total_s(r) for r in loaded],
    )
    out["calibration_vs_fastest"] = out["calibration_s"] / out["calibration_s"].min()
    out["total_vs_kind_median"] = out["timed_total_s"] / out.groupby(kind)[
        "timed_total_s"
    ].transform("median")
    out["disturbed"] = out["calibration_vs_fastest"] > CALIBRATION_WARN_RATIO
    out["slow"] = out["total_vs_kind_median"] > SLOW_RUN_RATIO
    return out[
        [
            "run",
            "calibration_s",
            "calibration_vs_fastest",
            "timed_total_s",
            "total_vs_kind_median",
            "disturbed",
            "slow",
        ]
    ]


def split_evaluate(
    run_dirs: list[Path], baseline_runs: int, grid: list[Setting]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """False alarms of whole runs of the unchanged tree (any profile): every choice of
    `baseline_runs` of them as the baseline, against the others as the current side (the
    first `current_runs` of them, in order). Returns (comparisons, flagged rows)."""
    if len(run_dirs) <= baseline_runs:
        raise SeqbenchError(
            f"--splits needs more than {baseline_runs} runs (--baseline-runs), got {len(run_dirs)}"
        )
    load = _cached_loader()
    comparisons, flagged = [], []
    for base in combinations(run_dirs, baseline_runs):
        rest = [p for p in run_dirs if p not in base]
        split = f"{'+'.join(p.name for p in base)} vs {'+'.join(p.name for p in rest)}"
        for setting in grid:
            if setting.current_runs > len(rest):
                continue
            result = compare_results(
                load(list(base)), load(rest[: setting.current_runs]), setting.options()
            )
            comparisons.append(
                {
                    "split": split,
                    "setting": setting.label,
                    "flagged": result.exit_code == 1,
                    "regressed_rows": result.count("regression"),
                }
            )
            bad = result.rows[result.rows["verdict"] == "regression"]
            flagged += [
                {
                    "split": split,
                    "setting": setting.label,
                    "cell": r.name,
                    "metric": r.metric,
                    "change": r.change,
                    "tolerance": r.tolerance,
                    "gates": r.gates,
                }
                for r in bad.itertuples(index=False)
            ]
    return pd.DataFrame(comparisons), pd.DataFrame(
        flagged, columns=["split", "setting", "cell", "metric", "change", "tolerance", "gates"]
    )


def summary_table(frame: pd.DataFrame) -> str:
    """A Markdown table of `frame` for a study summary, floats to 3 significant digits."""
    return markdown_table(frame.map(lambda v: f"{v:.3g}" if isinstance(v, float) else v))


def finished_pair(
    group: pd.DataFrame, runs: int
) -> tuple[list[Path], dict[str, list[Path] | None]] | None:
    """A pair's runs (find_runs' rows) as the resampling splits them: its runs of the unchanged
    tree, sorted, and its head kinds: "clean" (None: the unchanged runs a split leaves over)
    and each slowdown with at least `runs` runs, sorted. None while the pair has fewer than
    2·`runs` runs of the unchanged tree (unfinished)."""
    unchanged = sorted(group.loc[group["kind"].isin(["base", "clean"]), "path"])
    if len(unchanged) < 2 * runs:
        return None
    slow = group[group["kind"].str.startswith("slow")].groupby("kind")
    heads = {kind: sorted(g["path"]) for kind, g in slow if len(g) >= runs}
    return unchanged, {"clean": None} | heads


def resampled_paired(folder: Path, thresholds: tuple[float, ...], runs: int) -> pd.DataFrame:
    """The paired recipe's outcome averaged over every re-split of each pair: one row per
    (pair, kind, threshold) with the share of splits that fail (`flagged_share`).

    Within a pair the base and clean runs are 2·`runs` runs of the unchanged tree on one
    machine, in one shuffled order, so any `runs` of them can be the base side and the rest
    the head ("clean"), and any `runs` of them the base side against a slowdown's runs. Each
    side's first `runs - 1` runs (by name) make the first comparison, all `runs` the
    confirmation (confirmed's rule). The share is a lower-variance estimate of the pair's
    probability of failing than its one disjoint comparison, but the splits of a pair share
    runs: the pairs stay the independent units."""
    grid = paired_grid(thresholds, runs)
    first_of = {s.threshold: s for s in grid if s.baseline_runs == runs - 1}
    confirm_of = {s.threshold: s for s in grid if s.baseline_runs == runs}
    load = _cached_loader()
    rows = []
    for pair, group in find_runs(folder).groupby("pair"):
        if (finished := finished_pair(group, runs)) is None:
            continue
        unchanged, heads = finished
        for kind, head_paths in heads.items():
            for threshold in thresholds:
                outcomes, same_cell = [], []
                for base in combinations(unchanged, runs):
                    head = head_paths or [p for p in unchanged if p not in base]
                    first = compare_results(
                        load(list(base[: runs - 1])),
                        load(head[: runs - 1]),
                        first_of[threshold].options(),
                    )
                    if first.exit_code != 1:
                        outcomes.append(False)
                        same_cell.append(False)
                        continue
                    confirm = compare_results(
                        load(list(base)), load(head), confirm_of[threshold].options()
                    )
                    outcomes.append(confirm.exit_code == 1)
                    same_cell.append(bool(_regressed(first) & _regressed(confirm)))
                rows.append(
                    {
                        "pair": pair,
                        "kind": kind,
                        "threshold": threshold,
                        "splits": len(outcomes),
                        "flagged_share": float(np.mean(outcomes)),
                        "flagged_share_same_cell": float(np.mean(same_cell)),
                    }
                )
    return pd.DataFrame(rows, columns=RESAMPLED_COLUMNS)


RESAMPLED_COLUMNS = [
    "pair",
    "kind",
    "threshold",
    "splits",
    "flagged_share",  # the workflow's rule: the first comparison and the confirmation flag
    "flagged_share_same_cell",  # stricter: the confirmation flags a cell the first flagged
]


def _regressed(result: Comparison) -> frozenset[tuple[str, str]]:
    """(cell, metric) of every gating regression of a comparison (what its exit code counts)."""
    bad = result.rows[(result.rows["verdict"] == "regression") & result.rows["gates"]]
    return frozenset(zip(bad["name"], bad["metric"], strict=True))


def pair_conditions(health: pd.DataFrame) -> pd.DataFrame:
    """Per pair, how steady the machine was while it ran (run_health's rows): its runs, how
    many were disturbed, its median calibration against the study's fastest, and `steady`
    (no run disturbed). Pairs on a busy host alarm more often; this says which they were."""
    pair = health["run"].str.extract(RUN_NAME)["pair"].astype(int)
    table = (
        health.assign(pair=pair)
        .groupby("pair")
        .agg(
            runs=("run", "size"),
            disturbed_runs=("disturbed", "sum"),
            calibration_vs_fastest=("calibration_vs_fastest", "median"),
        )
        .reset_index()
    )
    table["steady"] = table["disturbed_runs"] == 0
    return table


def resampled_by_condition(shares: pd.DataFrame, conditions: pd.DataFrame) -> pd.DataFrame:
    """resampled_rates for the steady pairs, the others, and all, under both confirmation
    rules (columns `rate` and `rate_same_cell`)."""
    frame = shares.merge(conditions[["pair", "steady"]], on="pair")
    parts = [("steady", frame[frame["steady"]]), ("disturbed", frame[~frame["steady"]])]
    rows = []
    for host, part in [*parts, ("all", frame)]:
        if part.empty:
            continue
        for (kind, threshold), g in part.groupby(["kind", "threshold"], sort=False):
            rows.append(
                {
                    "pairs_on": host,
                    "kind": kind,
                    "threshold": threshold,
                    "pairs": g["pair"].nunique(),
                    "rate": g["flagged_share"].mean(),
                    "highest_pair": g["flagged_share"].max(),
                    "rate_same_cell": g["flagged_share_same_cell"].mean(),
                    "highest_pair_same_cell": g["flagged_share_same_cell"].max(),
                }
            )
    return pd.DataFrame(rows)


def resampled_rates(shares: pd.DataFrame) -> pd.DataFrame:
    """Per kind and threshold: the mean over pairs of each pair's share of failing splits
    (resampled_paired), with the pairs' lowest and highest share."""
    return (
        shares.groupby(["kind", "threshold"], sort=False)
        .agg(
            pairs=("pair", "nunique"),
            rate=("flagged_share", "mean"),
            lowest_pair=("flagged_share", "min"),
            highest_pair=("flagged_share", "max"),
            splits_per_pair=("splits", "median"),
        )
        .reset_index()
    )
