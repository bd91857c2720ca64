"""The report's seaborn figures, drawn headless (Agg) to PNG.

Each figure is a spec (file name, title, caption) plus a draw function. A draw function
raises NoData with the reason when the results lack what it needs; the report then says
why the figure is absent instead of failing. Bands and error bars are 95% percentile
bootstrap CIs of the mean across seeds (and rounds, for timings), 1000 resamples with a fixed
seed: seaborn's own for the timing figures, and the same estimate computed here, vectorised,
for the curves with hundreds of points (loss curves, gradient flow), where seaborn's loop over
x takes minutes.

Panels are laid out per setup (task, B, H, I, and whatever else tells configurations apart)
and drawn only for the combinations the results hold, so results of several profiles never
leave empty panels, and every panel's title names its whole setup.

Gradient norms span hundreds of decades, and a gradient can be exactly zero (it underflowed
in the model's dtype). They are drawn as log10 on a linear axis, and an exact zero is drawn
at a floor one decade below the smallest nonzero value the dtype can hold (1e-46 for
float32, whose smallest subnormal is 1.4e-45), with its own marker: dropping zeros before a
log axis would hide precisely the models whose gradient vanished first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display, before pyplot is imported anywhere below

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullLocator, ScalarFormatter

from seqbench.analysis.data import Measured, config_label, model_order
from seqbench.analysis.survival import convergence_runs, km_curve
from seqbench.analysis.units import fmt
from seqbench.implementations import DEFAULT_IMPLEMENTATION, IMPLEMENTATIONS
from seqbench.tasks import TASKS

ERRORBAR = ("ci", 95)  # seaborn's bootstrap CI of the mean across seeds/rounds at each x
N_BOOT = 1000  # seaborn's default resamples, stated so the report can cite it
BOOT_SEED = 0  # fixed: the same results always draw the same bands
DPI = 100  # small files: the HTML report embeds every PNG
T_AXIS = "sequence length T (steps)"
MAX_COLUMNS = 4  # panels per figure row; a setup with more lengths wraps onto more rows
PANEL_SIZE = (3.4, 2.7)  # inches per panel (width, height)
ZERO_LABEL = "exact 0 (underflow)"
ZERO_MARKER = "v"
LR_STYLES = ("-", "--", ":", "-.")  # line style per learning rate of one model
# Columns whose values tell two setups apart in a panel title (model, seed and lr are lines).
LABEL_COLUMNS = [
    "task",
    "seq_len",
    "batch_size",
    "hidden_size",
    "input_size",
    "num_layers",
    "bidirectional",
    "device",
    "impl",
    "dtype",
    "train_size",
    "train_steps",
]
# Smallest positive value of each dtype (its smallest subnormal). bfloat16 shares float32's
# exponent range and stops at 9.2e-41, so float32's floor lies below it too.
_SMALLEST = {
    "float64": float(np.finfo(np.float64).smallest_subnormal),
    "float32": float(np.finfo(np.float32).smallest_subnormal),
    "float16": float(np.finfo(np.float16).smallest_subnormal),
}


class NoData(Exception):
    """The results hold nothing this figure can draw; the message says what is missing."""


@dataclass(frozen=True)
class FigureSpec:
    name: str  # file stem under figures/
    title: str  # heading in the report
    # What the figure shows and how to read it; a function when the text reads a registry
    # (the tasks' chance losses), so that it lists what is registered when the report is built.
    caption: str | Callable[[], str]
    draw: Callable[[Measured, Path], None]  # writes the PNG or raises NoData

    def caption_text(self) -> str:
        return self.caption() if callable(self.caption) else self.caption


def _palette(models: pd.Series) -> tuple[list[str], dict[str, tuple]]:
    order = model_order(models)
    colors = sns.color_palette("colorblind", len(order))
    return order, dict(zip(order, colors, strict=True))


def _model_handles(order: list[str], palette: dict[str, tuple]) -> list[Line2D]:
    return [Line2D([], [], color=palette[m], label=m) for m in order]


# --- labels and layout --------------------------------------------------------------------


def lr_text(lr: float) -> str:
    """A learning rate as the article writes it: 0.001 → ``1e-3``, 0.00015 → ``1.5e-4``."""
    mantissa, exponent = f"{float(lr):.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def _label(row: dict[str, Any], with_T: bool, with_steps: bool) -> str:
    """A panel title: the setup (task, T, B, H, I, ...), plus the dtype when it is not
    float32 and the training budget for convergence panels."""
    r = dict(row)
    if not with_T:
        r["seq_len"] = None
    text = config_label(r)
    dtype = r.get("dtype")
    if isinstance(dtype, str) and dtype != "float32":
        text += f" {dtype}"
    steps = r.get("train_steps")
    if with_steps and steps is not None and not (isinstance(steps, float) and math.isnan(steps)):
        text += f", {int(steps)} train steps"
    return text


def _with_setup(frame: pd.DataFrame, with_steps: bool = False) -> pd.DataFrame:
    """Add T, `setup` (the title without T: one figure row per setup) and `panel` (with T).

    Labels are made once per distinct configuration, not per row: curve frames of long runs
    hold hundreds of thousands of rows.
    """
    frame = frame.copy()
    frame["T"] = frame["seq_len"].astype(int)
    cols = [c for c in LABEL_COLUMNS if c in frame.columns]
    group = frame.groupby(cols, dropna=False, sort=False).ngroup()
    firsts = frame.assign(_g=group.to_numpy()).drop_duplicates("_g").set_index("_g")
    setups = {g: _label(row, False, with_steps) for g, row in firsts[cols].iterrows()}
    panels = {g: _label(row, True, with_steps) for g, row in firsts[cols].iterrows()}
    frame["setup"] = group.map(setups).to_numpy()
    frame["panel"] = group.map(panels).to_numpy()
    return frame


def _grid(
    rows: list[tuple[Hashable, list[Hashable]]],
    max_columns: int = MAX_COLUMNS,
    size: tuple[float, float] = PANEL_SIZE,
) -> tuple[Figure, dict[tuple[Hashable, Hashable], plt.Axes]]:
    """One figure row per (row key, its column keys), wrapped at max_columns; axes exist
    only for the keys given (the rest of a short row is removed, never left empty)."""
    lines = [
        (key, cols[i : i + max_columns])
        for key, cols in rows
        for i in range(0, len(cols), max_columns)
    ]
    if not lines:
        raise NoData("nothing to draw")
    ncols = max(len(cols) for _, cols in lines)
    fig, axes = plt.subplots(
        len(lines),
        ncols,
        squeeze=False,
        layout="constrained",
        figsize=(size[0] * ncols, size[1] * len(lines)),
    )
    panels = {}
    for r, (key, cols) in enumerate(lines):
        for c in range(ncols):
            if c < len(cols):
                panels[(key, cols[c])] = axes[r, c]
            else:
                fig.delaxes(axes[r, c])
    return fig, panels


def _rows_by_setup(frame: pd.DataFrame) -> list[tuple[str, list[int]]]:
    """(setup, its lengths) for the combinations present, setups in a stable order."""
    return [
        (setup, sorted(int(t) for t in sub["T"].unique()))
        for setup, sub in sorted(frame.groupby("setup"), key=lambda kv: kv[0])
    ]


def _finish(fig: Figure, path: Path, title: str, handles: list | None = None) -> None:
    if handles:
        fig.legend(handles=handles, loc="outside right center", frameon=False)
    fig.suptitle(title)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def _move_legend(fig: Figure, panels: dict) -> list:
    """Take the handles seaborn drew in the panels' legends (the union, first seen first)
    for one figure legend, and remove the per-panel legends."""
    handles: dict[str, Any] = {}
    for ax in panels.values():
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    for label, h in handles.items():
        h.set_label(label)
    return list(handles.values())


def _plain_log(axis: Any) -> None:
    """Tick labels of a log axis written plainly (20, 0.5; not 2×10¹, 5×10⁻¹); the minor
    ticks at 2× and 5× a power of ten are labelled too while the axis spans less than a
    factor 20, where a log axis would otherwise show one label or none."""
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))

    def minor(v: float, _pos: int) -> str:
        lo, hi = sorted(axis.get_view_interval())
        if v <= 0 or lo <= 0 or hi / lo >= 20:
            return ""
        leading = round(v / 10 ** math.floor(math.log10(v)))
        return f"{v:g}" if leading in (2, 5) else ""

    axis.set_minor_formatter(FuncFormatter(minor))


def _log_T(ax: plt.Axes, lengths: list[int]) -> None:
    """Log x axis ticked at the measured lengths, written plainly (20000, not 2×10⁴)."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(lengths)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.tick_params(axis="x", labelrotation=45 if len(lengths) > 4 else 0)


# --- log10 with a floor for exact zeros ---------------------------------------------------


def zero_floor_log10(dtype: str | None) -> float:
    """Where an exact zero is drawn: one decade below the dtype's smallest positive value
    (−46 for float32)."""
    smallest = _SMALLEST.get(dtype or "float32", _SMALLEST["float32"])
    return float(math.floor(math.log10(smallest)) - 1)


def _log10_with_floor(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Add `log10` (exact zeros at their dtype's floor), `exact_zero` and `floor`; drop only
    what has no place on the axis at all (NaN, Inf, negative)."""
    frame = frame.copy()
    frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame = frame[np.isfinite(frame[column]) & (frame[column] >= 0)].copy()
    dtypes = frame["dtype"] if "dtype" in frame.columns else pd.Series("float32", frame.index)
    frame["floor"] = dtypes.map(zero_floor_log10).astype(float)
    frame["exact_zero"] = frame[column] == 0
    positive = frame[column].where(~frame["exact_zero"], 1.0)
    frame["log10"] = np.where(frame["exact_zero"], frame["floor"], np.log10(positive))
    return frame


def _draw_zeros(ax: plt.Axes, frame: pd.DataFrame, x: str, palette: dict[str, tuple]) -> bool:
    """Mark exact zeros at the floor, a dashed line there with its label; True if any."""
    zeros = frame[frame["exact_zero"]]
    if zeros.empty:
        return False
    floor = float(zeros["floor"].min())
    ax.axhline(floor, color="0.45", linestyle="--", linewidth=0.8, zorder=1)
    ax.annotate(
        ZERO_LABEL,
        (0.02, floor),
        xycoords=("axes fraction", "data"),
        xytext=(0, 3),
        textcoords="offset points",
        fontsize=7,
        color="0.3",
    )
    for model, sub in zeros.groupby("model", sort=False):
        pts = sub.drop_duplicates(x)
        ax.scatter(
            pts[x],
            pts["floor"],
            marker=ZERO_MARKER,
            s=16,
            color=palette[model],
            zorder=3,
            clip_on=False,
            linewidths=0,
        )
    return True


def _zero_handle() -> Line2D:
    return Line2D(
        [],
        [],
        color="0.45",
        linestyle="--",
        marker=ZERO_MARKER,
        markerfacecolor="0.45",
        markeredgewidth=0,
        label=ZERO_LABEL,
    )


def _units(frame: pd.DataFrame) -> pd.Series:
    """What one bootstrap sample is: a seed of a run (one cell per seed at each x)."""
    return frame["run"].astype(str) + "/" + frame["seed"].astype(str)


def bootstrap_mean_ci(frame: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Mean of y across units (column `unit`) at each x, with the percentile bootstrap 95% CI
    of that mean (N_BOOT resamples of the units present at that x, fixed seed).

    The same estimate seaborn's errorbar=("ci", 95) draws, vectorised over x: seaborn's loop
    takes minutes for a few thousand x values of a long-run report, this takes a second.
    Returns columns x, mean, ci_low, ci_high, sorted by x.
    """
    wide = frame.pivot_table(index=x, columns="unit", values=y, aggfunc="mean", sort=True)
    packed = np.sort(wide.to_numpy(dtype=float), axis=1)  # NaN (unit absent at x) last
    n = np.sum(~np.isnan(packed), axis=1)  # units present at each x, ≥ 1
    width = packed.shape[1]
    rng = np.random.default_rng(BOOT_SEED)
    draws = rng.random((N_BOOT, width))
    idx = np.floor(draws[None, :, :] * n[:, None, None]).astype(int)  # (x, boot, draw)
    sample = np.take_along_axis(packed[:, None, :], idx, axis=2)
    used = np.arange(width)[None, None, :] < n[:, None, None]  # n draws per resample
    means = np.where(used, sample, 0.0).sum(axis=2) / n[:, None]
    low, high = np.percentile(means, [2.5, 97.5], axis=1)
    return pd.DataFrame(
        {
            x: wide.index.to_numpy(dtype=float),
            "mean": np.nanmean(packed, axis=1),
            "ci_low": low,
            "ci_high": high,
        }
    )


def _mean_line(
    ax: plt.Axes,
    data: pd.DataFrame,
    x: str,
    y: str,
    color: tuple,
    label: str,
    band: bool = True,
    **line: Any,
) -> None:
    """A line of the mean across units with its 95% band; the Line2D carries `label`, so
    legends and tests can find it."""
    ci = bootstrap_mean_ci(data, x, y)
    ax.plot(ci[x], ci["mean"], color=color, label=label, **line)
    if band:
        ax.fill_between(ci[x], ci["ci_low"], ci["ci_high"], color=color, alpha=0.2, linewidth=0)


# --- figures ------------------------------------------------------------------------------


def _line_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """Add `line`: the model, with its learning rate when one model has several, and
    `lr_rank` (0, 1, ...: which of its model's rates)."""
    frame = frame.copy()
    lr = pd.to_numeric(frame["lr"], errors="coerce") if "lr" in frame.columns else None
    if lr is None or lr.groupby(frame["model"]).nunique().max() <= 1:
        frame["line"], frame["lr_rank"] = frame["model"], 0
        return frame
    frame["lr"] = lr
    frame["line"] = [
        f"{m} lr={lr_text(v)}" if pd.notna(v) else m
        for m, v in zip(frame["model"], lr, strict=True)
    ]
    # Higher rates first, as the registry lists them.
    frame["lr_rank"] = frame.groupby("model")["lr"].rank(method="dense", ascending=False) - 1
    frame["lr_rank"] = frame["lr_rank"].fillna(0).astype(int)
    return frame


def _line_order(frame: pd.DataFrame, order: list[str]) -> list[tuple[str, str, int]]:
    """(line, model, lr_rank) in model order, then by rate."""
    ids = frame[["line", "model", "lr_rank"]].drop_duplicates()
    ids = ids.assign(_m=ids["model"].map({m: i for i, m in enumerate(order)}))
    return [
        (r.line, r.model, int(r.lr_rank)) for r in ids.sort_values(["_m", "lr_rank"]).itertuples()
    ]


def _shade(color: tuple, rank: int) -> tuple:
    """The model's colour for its first rate, lighter for each further one."""
    mix = min(0.6, 0.35 * rank)
    return tuple(c + (1 - c) * mix for c in to_rgb(color))


def draw_loss_curves(m: Measured, path: Path) -> None:
    c = m.curves.dropna(subset=["loss"])
    if c.empty:
        raise NoData("no convergence results")
    base = pd.to_numeric(c["chance_loss"], errors="coerce")
    chance = np.isfinite(base) & (base > 0)
    skipped = sorted(c.loc[~chance, "task"].dropna().unique())
    c = c[chance].assign(ratio=c["loss"] / base)
    c = c[np.isfinite(c["ratio"]) & (c["ratio"] > 0)]  # a log axis has no place for 0
    if c.empty:
        raise NoData(
            "no convergence results of a task with a chance level"
            + (f" ({', '.join(skipped)} have none)" if skipped else "")
        )
    c = _line_ids(_with_setup(c, with_steps=True))
    c["unit"] = _units(c)
    order, palette = _palette(c["model"])
    lines = _line_order(c, order)
    fig, panels = _grid(_rows_by_setup(c))
    styles = {"train": "-", "held-out": "--"}
    for (setup, T), ax in panels.items():
        panel = c[(c["setup"] == setup) & (c["T"] == T)]
        for line, model, rank in lines:
            for split, style in styles.items():
                d = panel[(panel["line"] == line) & (panel["split"] == split)]
                if d.empty:
                    continue
                color = _shade(palette[model], rank)
                # Runs that stop when solved (or diverge) end at different steps; a mean over
                # the runs still going would be biased, so each run gets its own line.
                if d.groupby("unit")["step"].max().nunique() > 1:
                    for _, run in d.groupby("unit", sort=True):
                        ax.plot(
                            run["step"],
                            run["ratio"],
                            color=color,
                            linestyle=style,
                            linewidth=0.8,
                            alpha=0.8,
                            label=line,
                        )
                else:
                    _mean_line(ax, d, "step", "ratio", color, line, linestyle=style)
        ax.set_yscale("log")
        _plain_log(ax.yaxis)
        ax.axhline(1.0, color="black", linestyle=":", linewidth=1.2)
        ax.annotate(
            "chance",
            (1, 1),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize=7,
        )
        ax.set_title(panel["panel"].iloc[0], fontsize=8)
        ax.set_xlabel("optimizer step (steps)")
        ax.set_ylabel("loss ÷ chance loss (ratio)")
    handles = [
        Line2D([], [], color=_shade(palette[mdl], rank), label=line) for line, mdl, rank in lines
    ]
    handles += [
        Line2D([], [], color="0.3", linestyle=s, label=split) for split, s in styles.items()
    ]
    handles.append(Line2D([], [], color="black", linestyle=":", label="chance (ratio 1)"))
    title = "Loss relative to chance: train and held-out, per task and length"
    if skipped:
        title += f"\n(not drawn, no chance level: {', '.join(skipped)})"
    _finish(fig, path, title, handles)


def _km_runs(m: Measured) -> pd.DataFrame:
    runs = convergence_runs(m.results.entries)
    if runs.empty:
        raise NoData(
            "no convergence results that record steps_to_solve_step "
            "(results of seqbench schema 2 or later)"
        )
    return _line_ids(_with_setup(runs, with_steps=True))


def draw_steps_to_solve(m: Measured, path: Path) -> None:
    runs = _km_runs(m)
    order, palette = _palette(runs["model"])
    lines = _line_order(runs, order)
    fig, panels = _grid(_rows_by_setup(runs))
    for (setup, T), ax in panels.items():
        panel = runs[(runs["setup"] == setup) & (runs["T"] == T)]
        budget = pd.to_numeric(panel["train_steps"], errors="coerce").max()
        horizon = float(budget) if pd.notna(budget) else float(panel["step"].max())
        never, counts = [], []
        for line, model, rank in lines:
            d = panel[panel["line"] == line]
            if d.empty:
                continue
            km = km_curve(d["step"], d["solved"])
            color, style = palette[model], LR_STYLES[rank % len(LR_STYLES)]
            ax.step(
                km["step"],
                km["survival"],
                where="post",
                color=color,
                linestyle=style,
                linewidth=1.6,
                label=line,
            )
            ax.fill_between(
                km["step"],
                km["ci_low"],
                km["ci_high"],
                step="post",
                color=color,
                alpha=0.12,
                linewidth=0,
            )
            counts.append(len(d))
            if not d["solved"].any():
                never.append(line)
        if never:
            text = ", ".join(never)
            ax.annotate(
                f"never solved within {horizon:.0f} steps:\n{_wrap(text)}",
                (0.02, 0.03),
                xycoords="axes fraction",
                fontsize=6.5,
                color="0.25",
                va="bottom",
            )
        runs_text = (
            f"{counts[0]} run{'s' if counts[0] != 1 else ''} per line"
            if len(set(counts)) == 1
            else f"{min(counts)}–{max(counts)} runs per line"
        )
        ax.set_title(f"{panel['panel'].iloc[0]}\n{runs_text}", fontsize=8)
        ax.set_xlim(0, horizon)
        ax.set_ylim(-0.03, 1.05)
        ax.set_xlabel("optimizer step (steps)")
        ax.set_ylabel("runs not yet solved (fraction)")
    handles = [
        Line2D([], [], color=palette[mdl], linestyle=LR_STYLES[rank % len(LR_STYLES)], label=line)
        for line, mdl, rank in lines
    ]
    _finish(fig, path, "Steps to solve: fraction of runs not yet solved (Kaplan–Meier)", handles)


def _wrap(text: str, width: int = 42) -> str:
    words, out, line = text.split(", "), [], ""
    for w in words:
        candidate = f"{line}, {w}" if line else w
        if len(candidate) > width and line:
            out.append(line + ",")
            line = w
        else:
            line = candidate
    return "\n".join([*out, line])


def draw_gradient_flow(m: Measured, path: Path) -> None:
    s = m.results.series("grad_h_norm", "grad_h_step")
    s = s[s["family"] == "gradients"]
    if s.empty:
        raise NoData("no gradients results")
    s = _log10_with_floor(_with_setup(s), "value")
    if s.empty:
        raise NoData("no finite gradient norms in the gradients results")
    s["step"] = pd.to_numeric(s["step"])
    s["k1"] = s["T"] - s["step"] + 1  # steps back from the last, plus one for the log axis
    s["unit"] = _units(s)
    order, palette = _palette(s["model"])
    fig, panels = _grid(_rows_by_setup(s), max_columns=5)  # the profiles' five lengths
    any_zero = False
    for (setup, T), ax in panels.items():
        panel = s[(s["setup"] == setup) & (s["T"] == T)]
        for model in order:
            d = panel[panel["model"] == model]
            if not d.empty:
                _mean_line(ax, d, "k1", "log10", palette[model], model)
        any_zero |= _draw_zeros(ax, panel, "k1", palette)
        ax.set_xscale("log")
        ax.set_xlim(1, max(2, T))  # k + 1 runs from 1 (the last step) to T (the first)
        _plain_log(ax.xaxis)
        ax.set_title(panel["panel"].iloc[0], fontsize=8)
        ax.set_xlabel("k + 1, k = T − t steps back (steps)")
        ax.set_ylabel("log10 ‖∂L/∂h_t‖ (log10 L2 norm)")
    handles = _model_handles(order, palette) + ([_zero_handle()] if any_zero else [])
    _finish(
        fig,
        path,
        "Gradient reaching each time step at initialisation, by steps back from the last",
        handles,
    )


GRAD_QUANTITIES = {
    "grad_total_norm": "total parameter gradient ‖∂L/∂θ‖\n(the article's measure)",
    "grad_h_first_norm": "gradient reaching step 1, ‖∂L/∂h_1‖",
}


def draw_grad_norm_vs_T(m: Measured, path: Path) -> None:
    g = m.metrics[(m.metrics["family"] == "gradients") & m.metrics["metric"].isin(GRAD_QUANTITIES)]
    if g.empty:
        raise NoData("no gradients results")
    g = _log10_with_floor(_with_setup(g), "value")
    g["unit"] = _units(g)
    order, palette = _palette(g["model"])
    rows = [(setup, list(GRAD_QUANTITIES)) for setup in sorted(g["setup"].unique())]
    fig, panels = _grid(rows)
    any_zero = False
    for (setup, metric), ax in panels.items():
        panel = g[(g["setup"] == setup) & (g["metric"] == metric)]
        for model in order:
            d = panel[panel["model"] == model]
            if not d.empty:
                _mean_line(ax, d, "T", "log10", palette[model], model, marker="o", markersize=4)
        any_zero |= _draw_zeros(ax, panel, "T", palette)
        _log_T(ax, sorted(g.loc[g["setup"] == setup, "T"].unique()))
        ax.set_title(f"{GRAD_QUANTITIES[metric]}\n{setup}", fontsize=8)
        ax.set_xlabel(T_AXIS)
        ax.set_ylabel("log10 gradient norm (log10 L2 norm)")
    handles = _model_handles(order, palette) + ([_zero_handle()] if any_zero else [])
    _finish(fig, path, "Gradient norm at initialisation against sequence length", handles)


def _per_setup_against_T(
    frame: pd.DataFrame,
    path: Path,
    title: str,
    y: str,
    ylabel: str,
    style: str,
    style_order: list[str] | None = None,
) -> None:
    """One panel per setup: y against T (log-log), hue model, style `style`."""
    order, palette = _palette(frame["model"])
    fig, panels = _grid([("all", sorted(frame["setup"].unique()))], 3, size=(4.9, 3.5))
    for (_, setup), ax in panels.items():
        d = frame[frame["setup"] == setup]
        sns.lineplot(
            data=d,
            x="T",
            y=y,
            hue="model",
            hue_order=order,
            palette=palette,
            style=style,
            style_order=style_order,
            markers=True,
            errorbar=ERRORBAR,
            n_boot=N_BOOT,
            seed=BOOT_SEED,
            ax=ax,
        )
        ax.set(yscale="log", xlabel=T_AXIS, ylabel=ylabel)
        _log_T(ax, sorted(d["T"].unique()))
        ax.set_title(setup, fontsize=8)
    _finish(fig, path, title, _move_legend(fig, panels))


def _rounds(m: Measured, column: str) -> pd.DataFrame:
    r = m.rounds[
        (m.rounds["family"] == "throughput")
        & m.rounds["measurement"].isin(["forward", "train_step"])
    ]
    r = r.dropna(subset=[column])
    if r.empty:
        raise NoData("no throughput results")
    r = _with_setup(r)
    r["measurement"] = r["measurement"].map(
        {"forward": "forward only", "train_step": "training step"}
    )
    return r


def draw_throughput(m: Measured, path: Path) -> None:
    r = _rounds(m, "tokens_per_s")
    _per_setup_against_T(
        r,
        path,
        "Throughput against sequence length (log-log)",
        "tokens_per_s",
        "throughput (tokens/s)",
        "measurement",
        ["forward only", "training step"],
    )


def draw_implementations(m: Measured, path: Path) -> None:
    """Training-step tokens/s against T, one panel per model and setup, one line per
    implementation: what the same math costs computed different ways."""
    r = m.rounds
    r = r[(r["family"] == "throughput") & (r["measurement"] == "train_step")]
    r = r.dropna(subset=["tokens_per_s"])
    if r.empty or set(r["impl"].dropna()) <= {DEFAULT_IMPLEMENTATION}:
        raise NoData(
            "only torch.nn's fused modules were measured (`seqbench run --impls "
            "fused,loop,compiled,article` measures the others)"
        )
    # The setup without the implementation: the implementations share a panel.
    r = _with_setup(r.assign(implementation=r["impl"], impl=DEFAULT_IMPLEMENTATION))
    compared = r.groupby("setup")["implementation"].nunique()
    r = r[r["setup"].isin(compared[compared > 1].index)]
    order = model_order(r["model"])
    impls = [i for i in IMPLEMENTATIONS if i in set(r["implementation"])]
    rows = [(setup, [m_ for m_ in order if m_ in set(sub["model"])]) for setup, sub in
            sorted(r.groupby("setup"), key=lambda kv: kv[0])]  # fmt: skip
    fig, panels = _grid(rows, 3, size=(4.2, 3.2))
    for (setup, model), ax in panels.items():
        d = r[(r["setup"] == setup) & (r["model"] == model)]
        sns.lineplot(
            data=d,
            x="T",
            y="tokens_per_s",
            hue="implementation",
            hue_order=impls,
            palette="colorblind",
            markers=True,
            style="implementation",
            style_order=impls,
            errorbar=ERRORBAR,
            n_boot=N_BOOT,
            seed=BOOT_SEED,
            ax=ax,
        )
        ax.set(yscale="log", xlabel=T_AXIS, ylabel="training step (tokens/s)")
        _log_T(ax, sorted(d["T"].unique()))
        ax.set_title(f"{model}: {setup}", fontsize=8)
    _finish(fig, path, "Training-step throughput by implementation", _move_legend(fig, panels))


def draw_memory(m: Measured, path: Path) -> None:
    names = {"peak_mem_bytes": "measured", "peak_mem_est_bytes": "estimate (partly fitted)"}
    mem = m.metrics[(m.metrics["family"] == "memory") & m.metrics["metric"].isin(names)]
    mem = mem[mem["value"] > 0]
    if mem.empty:
        raise NoData("no memory results")
    mem = _with_setup(mem)
    mem["source"] = mem["metric"].map(names)
    mem["MiB"] = mem["value"] / 2**20
    _per_setup_against_T(
        mem,
        path,
        "Peak memory against sequence length: measured and estimate (partly fitted)",
        "MiB",
        "peak memory of one training step (MiB)",
        "source",
        ["measured", "estimate (partly fitted)"],
    )


def draw_step_phases(m: Measured, path: Path) -> None:
    names = {"fwd_time_s": "forward", "bwd_time_s": "backward", "opt_time_s": "optimizer"}
    p = m.metrics[(m.metrics["measurement"] == "train_step") & m.metrics["metric"].isin(names)]
    if p.empty:
        raise NoData("no throughput results (training step)")
    p = _with_setup(p)
    p["phase"] = p["metric"].map(names)
    p["ms"] = p["value"] * 1e3
    order, _ = _palette(p["model"])
    fig, panels = _grid(_rows_by_setup(p), 3, size=(3.2, 3.0))
    for (setup, T), ax in panels.items():
        d = p[(p["setup"] == setup) & (p["T"] == T)]
        sns.barplot(
            data=d,
            x="model",
            order=order,
            y="ms",
            hue="phase",
            hue_order=list(names.values()),
            errorbar=ERRORBAR,
            n_boot=N_BOOT,
            seed=BOOT_SEED,
            palette="deep",
            ax=ax,
        )
        ax.set_title(d["panel"].iloc[0], fontsize=8)
        ax.set(xlabel="model", ylabel="median phase time per step (ms)")
    _finish(
        fig,
        path,
        "Training step split into forward, backward and optimizer",
        _move_legend(fig, panels),
    )


def draw_ceiling_fraction(m: Measured, path: Path) -> None:
    r = _rounds(m, "ceiling_fraction_ratio")
    ceiling = m.metric("matmul_ceiling_flop_per_s")["value"].median()
    _per_setup_against_T(
        r,
        path,
        f"Achieved FLOP/s as a fraction of the measured ceiling ({fmt(ceiling, 'FLOP/s')})",
        "ceiling_fraction_ratio",
        "achieved FLOP/s ÷ GEMM ceiling (ratio)",
        "measurement",
        ["forward only", "training step"],
    )


def _loss_curves_caption() -> str:
    """The loss curves' caption, with each registered task's chance loss."""
    chance = "; ".join(
        f"{name}: {task.chance_caption}" for name, task in TASKS.items() if task.has_chance_level()
    )
    without = ", ".join(name for name, task in TASKS.items() if not task.has_chance_level())
    return (
        f"Train (solid) and held-out (dashed) loss divided by the task's chance loss "
        f"({chance}), per optimizer step, log y: the dotted line at 1 is chance, 0.1 is "
        "ten times better than chance. One panel per setup (title: task, T, B, H, I, "
        "training budget), one colour per model (lighter: the model's lower learning "
        "rate, when it has several); bands are 95% bootstrap CIs across seeds. Where runs "
        "end at different steps (stopped when solved, or diverged) each run is drawn on "
        "its own, since a mean over the runs still going would be biased."
        + (f" Tasks without a chance level ({without}) are left out." if without else "")
    )


FIGURES: list[FigureSpec] = [
    FigureSpec("loss_curves", "Loss curves", _loss_curves_caption, draw_loss_curves),
    FigureSpec(
        "steps_to_solve",
        "Steps to solve",
        "Kaplan–Meier estimate of the fraction of runs not yet solved (the task's "
        "criterion on held-out data, checked at each evaluation) against optimizer "
        "step; one panel per setup, one colour per model, one line style per learning "
        "rate; bands are pointwise 95% Greenwood CIs. A run that never solved is "
        "right-censored where it stopped (a diverged run at the step budget: it "
        "cannot solve any more). A curve that never leaves 1 means no run of that "
        "line was solved within the panel's train steps; the panel lists those lines "
        'as "never solved".',
        draw_steps_to_solve,
    ),
    FigureSpec(
        "gradient_flow",
        "Gradient flow",
        "log10 ‖∂L/∂h_t‖ at initialisation against k + 1 (log x), where k = T − t is "
        "the number of steps back from the last step (k = 0, at the left, is the step "
        "the loss reads); one line per model, one panel per setup (title: task, T, "
        "B, H, I). A line falling to the right means the gradient vanishes on its way "
        "back in time. A gradient that is exactly 0 (it underflowed in float32) is "
        "drawn at the dashed floor, one decade below float32's smallest positive "
        'value (10^-46), marked ▼ and labelled "exact 0 (underflow)". Lines are '
        "means of log10 across seeds (geometric means), floors included as that "
        "value, with 95% bootstrap CIs.",
        draw_gradient_flow,
    ),
    FigureSpec(
        "grad_norm_vs_T",
        "Gradient norm at initialisation against T",
        "Left: the article's quantity, the L2 norm of every parameter's gradient. "
        "Right: the gradient that reaches the first time step, the quantity that "
        "actually vanishes. log10 of the norm against T (log x), one row of panels "
        "per setup; points are means of log10 across seeds with 95% bootstrap CIs. "
        "An exactly-zero gradient is drawn at the dashed floor (10^-46 for float32, "
        "marked ▼) and averaged as that value, not left out.",
        draw_grad_norm_vs_T,
    ),
    FigureSpec(
        "throughput",
        "Throughput",
        "Tokens (B×T sequence elements) per second against T, log-log, one line per "
        "model, one panel per setup; forward only and full training step. Bands: 95% "
        "CIs across timed rounds and seeds.",
        draw_throughput,
    ),
    FigureSpec(
        "implementations",
        "Throughput by implementation",
        "Training-step tokens per second against T, log-log, one panel per model and "
        "setup, one line per implementation of the same math: fused (torch.nn's "
        "module), loop (its one-step cell in a Python loop), compiled (that loop with "
        "the step compiled by torch.compile; compile time is recorded apart) and "
        "article (the article's printed equations in tensors; for GRU another function "
        "of the same weights). Bands: 95% CIs across timed rounds and processes.",
        draw_implementations,
    ),
    FigureSpec(
        "memory",
        "Peak memory",
        "Peak resident memory of one training step above the memory before it "
        "(fresh process, kernel high-water mark), against T, with the estimate of "
        "seqbench.models.costs (dashed: derived terms plus a backward term fitted at "
        "one configuration), one panel per setup.",
        draw_memory,
    ),
    FigureSpec(
        "step_phases",
        "Training step phases",
        "Median time of the forward pass, backward pass and optimizer step, per model, "
        "one panel per setup and sequence length; error bars are 95% CIs across seeds "
        "when there are several.",
        draw_step_phases,
    ),
    FigureSpec(
        "ceiling_fraction",
        "Achieved FLOP/s",
        "Analytic matrix FLOPs per step divided by the measured time, as a fraction of "
        "the GEMM ceiling measured in the same run, one panel per setup; bands are 95% "
        "CIs across rounds.",
        draw_ceiling_fraction,
    ),
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
