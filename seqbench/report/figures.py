"""The report's seaborn figures, drawn headless (Agg) to PNG.

Each figure is a spec (file name, title, caption) plus a draw function. A draw function
raises NoData with the reason when the results lack what it needs; the report then says
why the figure is absent instead of failing. Bands and error bars are seaborn's own 95%
bootstrap CIs across seeds (and rounds, for timings), with a fixed seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display, before pyplot is imported anywhere below

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import NullLocator, ScalarFormatter

from seqbench.report.data import Measured, model_order
from seqbench.report.units import LOSS_UNITS, fmt

ERRORBAR = ("ci", 95)  # seaborn's bootstrap CI of the mean across seeds/rounds at each x
N_BOOT = 1000  # seaborn's default resamples, stated so the report can cite it
BOOT_SEED = 0  # fixed: the same results always draw the same bands
DPI = 100  # small files: the HTML report embeds every PNG
T_AXIS = "sequence length T (steps)"


class NoData(Exception):
    """The results hold nothing this figure can draw; the message says what is missing."""


@dataclass(frozen=True)
class FigureSpec:
    name: str  # file stem under figures/
    title: str  # heading in the report
    caption: str  # what the figure shows, how to read it
    draw: Callable[[Measured, Path], None]  # writes the PNG or raises NoData


def _palette(models: pd.Series) -> tuple[list[str], dict[str, tuple]]:
    order = model_order(models)
    colors = sns.color_palette("colorblind", len(order))
    return order, dict(zip(order, colors, strict=True))


def _setup(frame: pd.DataFrame) -> pd.Series:
    """The part of a configuration other than T and the model: B, H and I."""
    def label(row: pd.Series) -> str:
        parts = [f"B={int(row['batch_size'])}", f"H={int(row['hidden_size'])}"]
        if pd.notna(row.get("input_size")):
            parts.append(f"I={int(row['input_size'])}")
        return " ".join(parts)

    return frame.apply(label, axis=1) if len(frame) else pd.Series(dtype=str)


def _with_T(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["T"] = frame["seq_len"].astype(int)
    frame["setup"] = _setup(frame)
    return frame


def _save(grid: sns.FacetGrid, path: Path, title: str) -> None:
    grid.figure.suptitle(title, y=1.02)
    grid.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(grid.figure)


def _log_T(ax: plt.Axes, lengths: list[int]) -> None:
    """Log x axis ticked at the measured lengths, written plainly (20000, not 2×10⁴)."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(lengths)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.tick_params(axis="x", labelrotation=45 if len(lengths) > 4 else 0)


def _row_kw(frame: pd.DataFrame) -> dict:
    """Facet rows by setup only when the results mix several (e.g. quick and seed)."""
    return {"row": "setup"} if frame["setup"].nunique() > 1 else {}


def draw_loss_curves(m: Measured, path: Path) -> None:
    c = m.curves.dropna(subset=["loss"])
    if c.empty:
        raise NoData("no convergence results")
    c = _with_T(c)
    order, palette = _palette(c["model"])
    grid = sns.relplot(data=c, x="step", y="loss", hue="model", hue_order=order,
                       palette=palette, style="split", style_order=["train", "held-out"],
                       row="task", col="T", kind="line", errorbar=ERRORBAR, n_boot=N_BOOT,
                       seed=BOOT_SEED, height=2.6, aspect=1.3,
                       facet_kws={"sharey": False, "sharex": False, "margin_titles": True})
    baselines = c.groupby(["task", "T"])["baseline_loss"].median()
    first_column, bottom_row = set(grid.axes[:, 0]), set(grid.axes[-1, :])
    for (task, T), ax in grid.axes_dict.items():
        if (task, T) in baselines.index and pd.notna(baselines[(task, T)]):
            b = baselines[(task, T)]
            ax.axhline(b, color="black", linestyle=":", linewidth=1.2)
            ax.annotate("chance", (1, b), xycoords=("axes fraction", "data"), ha="right",
                        va="bottom", fontsize=7)
        ax.set_ylabel(f"loss ({LOSS_UNITS.get(task, 'loss units')})"
                      if ax in first_column else "")
        ax.set_xlabel("optimizer step (steps)" if ax in bottom_row else "")
    _save(grid, path, "Loss curves: train and held-out, per task and length")


def draw_gradient_flow(m: Measured, path: Path) -> None:
    s = m.results.series("grad_h_norm", "grad_h_step")
    s = s[s["family"] == "gradients"].copy()
    s["value"] = pd.to_numeric(s["value"], errors="coerce")
    s = s[s["value"] > 0]  # a log axis cannot show steps whose gradient underflowed to 0
    if s.empty:
        raise NoData("no gradients results")
    s = _with_T(s)
    order, palette = _palette(s["model"])
    lengths = sorted(s["T"].unique())
    kw = _row_kw(s) or {"col_wrap": min(3, len(lengths))}
    grid = sns.relplot(data=s, x="step", y="value", hue="model", hue_order=order,
                       palette=palette, col="T", kind="line", errorbar=ERRORBAR,
                       n_boot=N_BOOT, seed=BOOT_SEED, height=2.8, aspect=1.2,
                       facet_kws={"sharex": False, "sharey": False}, **kw)
    for ax in grid.axes.flat:
        ax.set_yscale("log")
        ax.set_xlabel("time step t (steps)")
        ax.set_ylabel("‖∂L/∂h_t‖ (loss units per unit of h)")
    for key, ax in grid.axes_dict.items():
        # Faceted by row as well, the keys are (row, col) tuples; compare element by element,
        # never a tuple with a numpy scalar (that broadcasts into an array).
        panel_T = key[-1] if isinstance(key, tuple) else key
        if float(panel_T) > 100:
            ax.set_xscale("log")
    _save(grid, path, "Gradient reaching each time step at initialisation")


def draw_grad_norm_vs_T(m: Measured, path: Path) -> None:
    names = {"grad_total_norm": "total parameter gradient ‖∂L/∂θ‖ (the article's measure)",
             "grad_h_first_norm": "gradient reaching step 1, ‖∂L/∂h_1‖"}
    g = m.metrics[(m.metrics["family"] == "gradients") & m.metrics["metric"].isin(names)]
    g = g[g["value"] > 0]
    if g.empty:
        raise NoData("no gradients results")
    g = _with_T(g)
    g["quantity"] = g["metric"].map(names)
    order, palette = _palette(g["model"])
    grid = sns.relplot(data=g, x="T", y="value", hue="model", hue_order=order, palette=palette,
                       col="quantity", col_order=list(names.values()), kind="line",
                       marker="o", errorbar=ERRORBAR, n_boot=N_BOOT, seed=BOOT_SEED,
                       height=3.2, aspect=1.3, facet_kws={"sharey": False}, **_row_kw(g))
    for ax in grid.axes.flat:
        ax.set(yscale="log", xlabel=T_AXIS, ylabel="gradient L2 norm (loss units per unit)")
        _log_T(ax, sorted(g["T"].unique()))
    grid.set_titles("{col_name}")
    _save(grid, path, "Gradient norm at initialisation against sequence length")


def _rounds(m: Measured, column: str) -> pd.DataFrame:
    r = m.rounds[(m.rounds["family"] == "throughput")
                 & m.rounds["measurement"].isin(["forward", "train_step"])]
    r = r.dropna(subset=[column])
    if r.empty:
        raise NoData("no throughput results")
    r = _with_T(r)
    r["measurement"] = r["measurement"].map({"forward": "forward only",
                                             "train_step": "training step"})
    return r


def draw_throughput(m: Measured, path: Path) -> None:
    r = _rounds(m, "tokens_per_s")
    order, palette = _palette(r["model"])
    grid = sns.relplot(data=r, x="T", y="tokens_per_s", hue="model", hue_order=order,
                       palette=palette, style="measurement", markers=True, kind="line",
                       errorbar=ERRORBAR, n_boot=N_BOOT, seed=BOOT_SEED, height=3.5,
                       aspect=1.4, **_row_kw(r))
    for ax in grid.axes.flat:
        ax.set(yscale="log", xlabel=T_AXIS, ylabel="throughput (tokens/s)")
        _log_T(ax, sorted(r["T"].unique()))
    _save(grid, path, "Throughput against sequence length (log-log)")


def draw_memory(m: Measured, path: Path) -> None:
    names = {"peak_mem_bytes": "measured", "peak_mem_est_bytes": "analytic"}
    mem = m.metrics[(m.metrics["family"] == "memory") & m.metrics["metric"].isin(names)]
    mem = mem[mem["value"] > 0]
    if mem.empty:
        raise NoData("no memory results")
    mem = _with_T(mem)
    mem["source"] = mem["metric"].map(names)
    mem["MiB"] = mem["value"] / 2**20
    order, palette = _palette(mem["model"])
    grid = sns.relplot(data=mem, x="T", y="MiB", hue="model", hue_order=order,
                       palette=palette, style="source", style_order=["measured", "analytic"],
                       markers=True, kind="line", errorbar=ERRORBAR, n_boot=N_BOOT,
                       seed=BOOT_SEED, height=3.5, aspect=1.4, **_row_kw(mem))
    for ax in grid.axes.flat:
        ax.set(yscale="log", xlabel=T_AXIS, ylabel="peak memory of one training step (MiB)")
        _log_T(ax, sorted(mem["T"].unique()))
    _save(grid, path, "Peak memory against sequence length: measured and analytic")


def draw_step_phases(m: Measured, path: Path) -> None:
    names = {"fwd_time_s": "forward", "bwd_time_s": "backward", "opt_time_s": "optimizer"}
    p = m.metrics[(m.metrics["measurement"] == "train_step") & m.metrics["metric"].isin(names)]
    if p.empty:
        raise NoData("no throughput results (training step)")
    p = _with_T(p)
    p["phase"] = p["metric"].map(names)
    p["ms"] = p["value"] * 1e3
    order, _ = _palette(p["model"])
    lengths = sorted(p["T"].unique())
    kw = _row_kw(p) or {"col_wrap": min(3, len(lengths))}
    grid = sns.catplot(data=p, x="model", order=order, y="ms", hue="phase",
                       hue_order=list(names.values()), col="T", kind="bar", errorbar=ERRORBAR,
                       n_boot=N_BOOT, seed=BOOT_SEED, height=3, aspect=1.0, sharey=False,
                       palette="deep", **kw)
    grid.set_axis_labels("model", "median phase time per step (ms)")
    _save(grid, path, "Training step split into forward, backward and optimizer")


def draw_ceiling_fraction(m: Measured, path: Path) -> None:
    r = _rounds(m, "ceiling_fraction_ratio")
    order, palette = _palette(r["model"])
    grid = sns.relplot(data=r, x="T", y="ceiling_fraction_ratio", hue="model",
                       hue_order=order, palette=palette, style="measurement", markers=True,
                       kind="line", errorbar=ERRORBAR, n_boot=N_BOOT, seed=BOOT_SEED,
                       height=3.5, aspect=1.4, **_row_kw(r))
    for ax in grid.axes.flat:
        ax.set(yscale="log", xlabel=T_AXIS, ylabel="achieved FLOP/s ÷ GEMM ceiling (ratio)")
        _log_T(ax, sorted(r["T"].unique()))
    ceiling = m.metric("matmul_ceiling_flop_per_s")["value"].median()
    _save(grid, path, f"Achieved FLOP/s as a fraction of the measured ceiling "
                      f"({fmt(ceiling, 'FLOP/s')})")


FIGURES: list[FigureSpec] = [
    FigureSpec("loss_curves", "Loss curves",
               "Train (solid) and held-out (dashed) loss per optimizer step, one panel per task "
               "and sequence length; bands are 95% bootstrap CIs across seeds. The dotted "
               "black line is the task's chance baseline (ln 2 for mean-sign, 1/6 for adding, "
               "10·ln 8/(T+20) for copy).", draw_loss_curves),
    FigureSpec("gradient_flow", "Gradient flow",
               "‖∂L/∂h_t‖ against time step t at initialisation (log y), one line per model, one "
               "panel per sequence length; bands are 95% CIs across seeds. A line falling "
               "towards t = 1 means the gradient vanishes on its way back in time.",
               draw_gradient_flow),
    FigureSpec("grad_norm_vs_T", "Gradient norm at initialisation against T",
               "Left: the article's quantity, the L2 norm of every parameter's gradient. "
               "Right: the gradient that reaches the first time step, the quantity that "
               "actually vanishes. Log-log; points are medians of seeds with 95% CIs.",
               draw_grad_norm_vs_T),
    FigureSpec("throughput", "Throughput",
               "Tokens (B×T sequence elements) per second against T, log-log, one line per "
               "model; forward only and full training step. Bands: 95% CIs across timed "
               "rounds and seeds.", draw_throughput),
    FigureSpec("memory", "Peak memory",
               "Peak resident memory of one training step above the process's baseline "
               "(fresh process, kernel high-water mark), against T, with the analytic estimate "
               "of seqbench.models.costs (dashed).", draw_memory),
    FigureSpec("step_phases", "Training step phases",
               "Median time of the forward pass, backward pass and optimizer step, per model "
               "and sequence length; error bars are 95% CIs across seeds when there are "
               "several.", draw_step_phases),
    FigureSpec("ceiling_fraction", "Achieved FLOP/s",
               "Analytic matrix FLOPs per step divided by the measured time, as a fraction of "
               "the GEMM ceiling measured in the same run; bands are 95% CIs across rounds.",
               draw_ceiling_fraction),
]


@dataclass(frozen=True)
class DrawnFigure:
    spec: FigureSpec  # which figure
    path: Path | None  # the PNG written, or None when the results lacked the data
    missing: str | None  # why it was not drawn


def draw_all(m: Measured, folder: Path) -> list[DrawnFigure]:
    folder.mkdir(parents=True, exist_ok=True)
    drawn = []
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        for spec in FIGURES:
            path = folder / f"{spec.name}.png"
            try:
                spec.draw(m, path)
            except NoData as exc:
                path.unlink(missing_ok=True)  # never leave a stale figure from an older run
                drawn.append(DrawnFigure(spec, None, str(exc)))
                plt.close("all")
                continue
            drawn.append(DrawnFigure(spec, path, None))
    return drawn
