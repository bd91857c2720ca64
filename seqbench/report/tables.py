"""pandas tables of a result set: long metrics, aggregates across seeds and rounds, the
per-model summary, and the curves the figures draw. Numbers stay raw (SI units named in the
column or the `unit` column); formatting for people happens in `render`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seqbench.analysis.data import GROUP_COLUMNS, Measured, model_order
from seqbench.analysis.stats import aggregate
from seqbench.analysis.units import unit_of
from seqbench.claims import Judged
from seqbench.claims.learning import conv_cells, solved_ci, survival_of, survivals
from seqbench.implementations import DEFAULT_IMPLEMENTATION, IMPLEMENTATIONS
from seqbench.schema import cell_of_run_keys

SUMMARY_COLUMNS = [
    *GROUP_COLUMNS,
    "model",
    "metric",
    "unit",
    "n",
    "n_cells",
    "median",
    "q1",
    "q3",
    "iqr",
    "min",
    "max",
    "ci95_low",
    "ci95_high",
]


# The loss-curve table keeps what tells a curve apart; the full configuration of each cell is
# in metrics_long.csv (a long study's curves with every config column run to tens of MB).
CURVE_COLUMNS = [
    "run",
    "run_key",
    "model",
    "task",
    "seq_len",
    "batch_size",
    "hidden_size",
    "lr",
    "seed",
    "train_steps",
    "chance_loss",
    "split",
    "step",
    "loss",
]


CURVE_POINTS_MAX = 250  # per cell and split in loss_curves.csv; the figure uses every point


def thin_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """About CURVE_POINTS_MAX evenly spaced points per cell and split, the last one kept:
    210 runs of 2000 steps would otherwise write 50 MB of CSV for a figure-sized curve."""
    if curves.empty:
        return curves
    keys = ["run", "run_key", "split"]
    position = curves.groupby(keys, sort=False).cumcount()
    size = curves.groupby(keys, sort=False)["step"].transform("size")
    stride = -(-size // CURVE_POINTS_MAX)  # ceil: at most CURVE_POINTS_MAX + 1 kept
    keep = (position % stride == 0) | (position == size - 1)
    return curves[keep].reset_index(drop=True)


def _with_units(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["unit"] = [
        unit_of(m, t if isinstance(t, str) else None)
        for m, t in zip(frame["metric"], frame["task"], strict=True)
    ]
    return frame


def metrics_long(m: Measured) -> pd.DataFrame:
    """One row per cell and metric, the configuration as columns, and the metric's unit."""
    return _with_units(m.metrics)


def metric_summary(m: Measured) -> pd.DataFrame:
    """Each metric aggregated across seeds (and runs): one row per configuration, model and
    metric. `n` counts cells, i.e. seeds of the same experiment."""
    by = [*GROUP_COLUMNS, "model", "metric"]
    agg = aggregate(m.metrics, by)
    agg["n_cells"] = agg["n"]
    return _with_units(agg)[SUMMARY_COLUMNS]


def timing_summary(m: Measured) -> pd.DataFrame:
    """Timings aggregated across processes: each cell's process contributes one value, the
    median of its timed rounds, because rounds inside one process share its heap history and
    understate how much another run differs. Where several runs measured a configuration,
    each run contributes one value instead, the median of its processes: the processes of
    one run share its shift (the host's speed over that run; whole runs 4.2% apart in the
    timing study), so pooled they would give an interval that misses the spread between
    runs. `n` counts
    processes (seeds × processes), or runs where several runs measured it; `n_cells` the
    cells; `within_process_iqr` is the median IQR of the rounds inside a process, shown
    apart so it is never mistaken for an interval."""
    columns = [*SUMMARY_COLUMNS, "within_process_iqr"]
    if m.rounds.empty:
        return pd.DataFrame(columns=columns)
    quantities = ["time_s", "tokens_per_s", "achieved_flop_per_s", "ceiling_fraction_ratio"]
    by = [*GROUP_COLUMNS, "model"]
    long = m.rounds.melt(
        id_vars=[*by, "run_key", "run"],
        value_vars=quantities,
        var_name="metric",
        value_name="value",
    ).dropna(subset=["value"])
    per_process = (
        long.groupby([*by, "metric", "run", "run_key"], dropna=False)["value"]
        .agg(value="median", iqr=lambda v: v.quantile(0.75) - v.quantile(0.25))
        .reset_index()
    )
    agg = aggregate(_independent_units(per_process, [*by, "metric"]), [*by, "metric"])
    extra = (
        per_process.assign(cell=cell_of_run_keys(per_process["run_key"]))
        .groupby([*by, "metric"], dropna=False)
        .agg(n_cells=("cell", "nunique"), within_process_iqr=("iqr", "median"))
        .reset_index()
    )
    agg = agg.merge(extra, on=[*by, "metric"], how="left")
    return _with_units(agg)[columns]


def _independent_units(per_process: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The values an interval may treat as independent: each process of a configuration
    measured in one run, each run's median of its processes where several runs measured it."""
    runs = per_process.groupby(by, dropna=False)["run"].transform("nunique")
    per_run = (
        per_process[runs > 1].groupby([*by, "run"], dropna=False)["value"].median().reset_index()
    )
    return pd.concat([per_process[runs <= 1][[*by, "value"]], per_run[[*by, "value"]]])


def implementation_speedups(tsum: pd.DataFrame) -> pd.DataFrame:
    """Training-step tokens/s of every implementation next to fused's at the same
    configuration: `speedup_vs_fused_ratio` > 1 is faster than torch.nn's module."""
    columns = [*GROUP_COLUMNS, "model", "tokens_per_s", "n", "speedup_vs_fused_ratio"]
    rows = tsum[(tsum["metric"] == "tokens_per_s") & (tsum["measurement"] == "train_step")]
    if rows.empty or set(rows["impl"].dropna()) <= {DEFAULT_IMPLEMENTATION}:
        return pd.DataFrame(columns=columns)
    keys = [c for c in GROUP_COLUMNS if c != "impl"] + ["model"]
    rows = rows.rename(columns={"median": "tokens_per_s"})
    fused = rows[rows["impl"] == DEFAULT_IMPLEMENTATION][[*keys, "tokens_per_s"]]
    out = rows.merge(fused, on=keys, how="inner", suffixes=("", "_fused"))
    out["speedup_vs_fused_ratio"] = out["tokens_per_s"] / out["tokens_per_s_fused"]
    models = {name: i for i, name in enumerate(model_order(out["model"]))}
    impls = {name: i for i, name in enumerate(IMPLEMENTATIONS)}
    keys = ["_model", *[c for c in ("task", "batch_size", "hidden_size", "seq_len")], "_impl"]
    return (
        out[columns]
        .assign(_model=out["model"].map(models), _impl=out["impl"].map(impls))
        .sort_values(keys, kind="stable")
        .drop(columns=["_model", "_impl"])
        .reset_index(drop=True)
    )


def _pick(
    summary: pd.DataFrame, family: str, measurement: str, metric: str, column: str
) -> pd.DataFrame:
    s = summary[
        (summary["family"] == family)
        & (summary["measurement"] == measurement)
        & (summary["metric"] == metric)
        # The per-model summary is torch.nn's modules'; the Implementations table has the rest.
        & (summary["impl"].fillna(DEFAULT_IMPLEMENTATION) == DEFAULT_IMPLEMENTATION)
    ]
    return s[
        ["model", "seq_len", "batch_size", "hidden_size", "median", "n", "ci95_low", "ci95_high"]
    ].rename(
        columns={
            "median": column,
            "n": f"{column}_n",
            "ci95_low": f"{column}_ci95_low",
            "ci95_high": f"{column}_ci95_high",
        }
    )


def model_costs(m: Measured, metric_sum: pd.DataFrame, timing_sum: pd.DataFrame) -> pd.DataFrame:
    """Per model and length: params, FLOPs/step, train and forward tokens/s (rounds pooled
    over seeds) and measured and estimated peak memory (median over seeds)."""
    key = ["model", "seq_len", "batch_size", "hidden_size"]
    parts = [
        _pick(metric_sum, "throughput", "train_step", "param_count", "param_count"),
        _pick(metric_sum, "throughput", "train_step", "train_step_flop", "train_step_flop"),
        _pick(timing_sum, "throughput", "train_step", "tokens_per_s", "train_tokens_per_s"),
        _pick(timing_sum, "throughput", "forward", "tokens_per_s", "forward_tokens_per_s"),
        _pick(metric_sum, "memory", "memory_step", "peak_mem_bytes", "peak_mem_bytes"),
        _pick(metric_sum, "memory", "memory_step", "peak_mem_est_bytes", "peak_mem_est_bytes"),
    ]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=key)
    out = parts[0]
    for p in parts[1:]:
        out = out.merge(p, on=key, how="outer")
    return _sorted(
        out.drop(
            columns=[
                c
                for c in out.columns
                if c.startswith(("param_count_", "train_step_flop_", "peak_mem_est_bytes_"))
            ]
        )
    )


def final_losses(metric_sum: pd.DataFrame) -> pd.DataFrame:
    """Per model, task and convergence configuration: final held-out and train loss (median
    and CI over seeds), the chance loss, and the fraction of seeds that solved the task."""
    conv = metric_sum[metric_sum["family"] == "convergence"]
    key = [
        "model",
        "task",
        "seq_len",
        "batch_size",
        "hidden_size",
        "train_steps",
        "train_size",
        "clip_grad_norm",
        "lr",
    ]
    wanted = {
        "final_heldout_loss": ["median", "ci95_low", "ci95_high", "n"],
        "final_train_loss": ["median"],
        "chance_loss": ["median"],
        "final_heldout_over_chance_ratio": ["median"],
        "solved_count": ["median"],
    }
    out = None
    for metric, cols in wanted.items():
        part = conv[conv["metric"] == metric][key + cols]
        part = part.rename(columns={c: metric if c == "median" else f"{metric}_{c}" for c in cols})
        out = part if out is None else out.merge(part, on=key, how="outer")
    out = out.rename(
        columns={"final_heldout_loss_n": "seeds_count", "solved_count": "solved_median_ratio"}
    )
    return _sorted(out)


def long_range(m: Measured) -> pd.DataFrame:
    """Per task, T, model and learning rate: runs, runs solved, the solved fraction with its
    exact (Clopper–Pearson) 95% interval, and the Kaplan–Meier median steps-to-solve (empty
    when fewer than half the runs solved). `best_lr` marks the rate the claims judge."""
    cells = conv_cells(m)
    columns = [
        "task",
        "seq_len",
        "batch_size",
        "hidden_size",
        "train_steps",
        "model",
        "lr",
        "best_lr",
        "runs_count",
        "solved_count",
        "solved_fraction",
        "solved_fraction_ci95_low",
        "solved_fraction_ci95_high",
        "median_steps_to_solve_step",
    ]
    if cells.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    setup = ["task", "seq_len", "batch_size", "hidden_size", "train_steps"]
    for key, group in cells.groupby(setup, sort=True):
        best = {s.model: s.lr for s in survivals(group).values()}
        for (model, lr), g in group.groupby(["model", "lr"], sort=True):
            s = survival_of(g, model, float(lr))
            low, high = solved_ci(s.k, s.n)
            median = s.median_steps()
            rows.append(
                dict(zip(setup, key, strict=True))
                | {
                    "model": model,
                    "lr": lr,
                    "best_lr": best.get(model) == lr,
                    "runs_count": s.n,
                    "solved_count": s.k,
                    "solved_fraction": s.k / s.n,
                    "solved_fraction_ci95_low": low,
                    "solved_fraction_ci95_high": high,
                    "median_steps_to_solve_step": median if median != float("inf") else None,
                }
            )
    return _sorted(pd.DataFrame(rows, columns=columns))


def status_counts(m: Measured) -> pd.DataFrame:
    """Cells per family and status: what ran, diverged, crashed or timed out."""
    e = m.results.entries
    return (
        e.groupby(["family", "status"], dropna=False)
        .size()
        .rename("cells_count")
        .reset_index()
        .sort_values(["family", "status"])
        .reset_index(drop=True)
    )


def gradient_flow_curves(m: Measured) -> pd.DataFrame:
    """‖∂L/∂h_t‖ at initialisation per gradients cell and time step (log-spaced steps)."""
    s = m.results.series("grad_h_norm", "grad_h_step")
    s = s[s["family"] == "gradients"].rename(columns={"step": "time_step", "value": "grad_h_norm"})
    s["grad_h_norm"] = pd.to_numeric(s["grad_h_norm"], errors="coerce")
    return s.reset_index(drop=True)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty or "model" not in frame:
        return frame.reset_index(drop=True)
    order = {name: i for i, name in enumerate(model_order(frame["model"]))}
    cols = [c for c in ("task", "seq_len", "batch_size", "hidden_size") if c in frame]
    return (
        frame.assign(_order=frame["model"].map(order))
        .sort_values(["_order", *cols])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def claims_frames(judged: list[Judged]) -> dict[str, pd.DataFrame]:
    """Claims with verdicts, their evidence lines, and the characteristics table."""
    claims = pd.DataFrame(
        [
            {
                "claim": j.claim.id,
                "group": j.claim.group,
                "statement": j.claim.statement,
                "verdict": j.outcome.verdict,
                "reason": j.outcome.reason,
                "measured": j.outcome.measured,
            }
            for j in judged
        ]
    )
    evidence = pd.DataFrame(
        [
            {"claim": j.claim.id, "where": e.where, "numbers": e.numbers}
            for j in judged
            for e in j.outcome.evidence
        ],
        columns=["claim", "where", "numbers"],
    )
    chars = pd.DataFrame(
        [
            {
                "property": j.claim.prop,
                **{f"article_{k}": v for k, v in j.claim.article.items()},
                "measured": j.outcome.measured,
                "verdict": j.outcome.verdict,
                "reason": j.outcome.reason,
            }
            for j in judged
            if j.claim.group == "characteristics"
        ]
    )
    return {"claims": claims, "claims_evidence": evidence, "characteristics": chars}


def build_tables(m: Measured) -> dict[str, pd.DataFrame]:
    """Every table of the report, by file stem."""
    msum = metric_summary(m)
    tsum = timing_summary(m)
    return {
        "metrics_long": metrics_long(m),
        "metric_summary": msum,
        "timing_summary": tsum,
        "model_costs": model_costs(m, msum, tsum),
        "final_losses": final_losses(msum),
        "status": status_counts(m),
        "long_range": long_range(m),
        "implementations": implementation_speedups(tsum),
        # run_key tells curves apart while thinning; the configuration columns say the rest.
        "loss_curves": thin_curves(m.curves)[[c for c in CURVE_COLUMNS if c != "run_key"]],
        "gradient_flow": gradient_flow_curves(m),
    }


def write_tables(tables: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths
