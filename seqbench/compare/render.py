"""Render a Comparison as a Markdown pull-request comment, plain text, or JSON."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pandas as pd

from seqbench.analysis.markdown import markdown_table
from seqbench.analysis.units import fmt
from seqbench.compare.engine import Comparison
from seqbench.compare.metrics import infer_spec

DISPLAY_COLUMNS = ["cell", "metric", "baseline", "current", "change", "limit", "p", "verdict"]
MARKS = {
    "regression": "🔴 regression",
    "improvement": "🟢 improvement",
    "changed": "changed",
    "untested": "untested",
    "missing": "missing",
    "unchanged": "unchanged",
}


def format_value(value: Any, unit: str) -> str:
    """A value of a comparison row: seqbench.analysis.units.fmt with 4 significant digits
    (changes of a few percent stay visible) and "—" where a side has no value."""
    return fmt(value, unit, digits=4, missing="—")


def format_limit(tolerance: float, metric: str, unit: str) -> str:
    """The change a row had to pass: a share for timing, memory and gradient rows (a timing
    or memory limit above --threshold was widened to the baseline runs' spread), an amount
    of loss for loss rows."""
    if pd.isna(tolerance):
        return "—"
    if infer_spec(metric).kind == "loss":
        return "±" + format_value(tolerance, unit)
    return f"±{tolerance:.0%}"


def display_table(comparison: Comparison, rows: pd.DataFrame | None = None) -> pd.DataFrame:
    rows = comparison.rows if rows is None else rows
    return pd.DataFrame(
        {
            "cell": rows["name"],
            "metric": rows["metric"],
            "baseline": [
                format_value(v, u) for v, u in zip(rows["baseline"], rows["unit"], strict=True)
            ],
            "current": [
                format_value(v, u) for v, u in zip(rows["current"], rows["unit"], strict=True)
            ],
            "change": [f"{c:+.1%}" if pd.notna(c) else "—" for c in rows["change"]],
            "limit": [
                format_limit(t, m, u)
                for t, m, u in zip(rows["tolerance"], rows["metric"], rows["unit"], strict=True)
            ],
            "p": [f"{p:.2g}" if pd.notna(p) else "—" for p in rows["p_value"]],
            "verdict": [
                MARKS[v] + (" (not gating)" if v == "regression" and not g else "")
                for v, g in zip(rows["verdict"], rows["gates"], strict=True)
            ],
        },
        columns=DISPLAY_COLUMNS,
    )


def summary_line(c: Comparison) -> str:
    counts = [
        f"{c.count(v)} {v}"
        for v in ("regression", "improvement", "changed", "untested", "missing", "unchanged")
        if c.count(v)
    ]
    if c.count("regression") > c.gating_regressions:
        counts[0] += f" ({c.gating_regressions} gating)"
    return ", ".join(counts) or "nothing compared"


def rules_line(c: Comparison) -> str:
    o = c.options
    text = (
        f"timing: slower by > {o.threshold:.0%} and the runs differ (t-test over runs "
        f"p < {o.run_alpha:g} with 2 or more a side, else Mann-Whitney U on rounds "
        f"p < {o.alpha:g}); "
        f"memory: > {o.mem_threshold:.0%} and > {o.mem_floor_bytes / 2**20:g} MiB; "
        f"loss (mean over seeds): > max({o.loss_tolerance:.0%} of chance loss, "
        f"{o.loss_sigmas:g} standard errors of the seed spread)"
    )
    text += (
        "; repeated runs of a cell: the fastest run's timing"
        if o.pool == "best"
        else "; repeated runs of a cell: the median run's timing"
    )
    if o.widen_by_spread:
        text += (
            "; a cell's timing and memory limit is widened to its baseline runs' spread "
            "(max/min - 1) where that is larger"
        )
    if o.normalize:
        text += "; timings normalised by each run's calibration (unit: cal)"
    if o.gate:
        text += (
            f"; timing and memory fail only in cells matching `{o.gate}`, the others are reported"
        )
    if c.calibration_ratio is not None:
        text += f"; calibration current/baseline: {c.calibration_ratio:.3f}×"
    return text


def to_markdown(c: Comparison, baseline: str, current: str) -> str:
    flagged = c.rows[c.rows["verdict"] != "unchanged"]
    quiet = c.rows[c.rows["verdict"] == "unchanged"]
    head = (
        "regression"
        if c.exit_code
        else "no gating regression"
        if c.count("regression")
        else "no regression"
    )
    out = [
        f"### seqbench compare: {head} ({summary_line(c)})",
        "",
        f"Baseline `{baseline}` vs current `{current}`. Rules: {rules_line(c)}.",
        "",
    ]
    out += [f"> ⚠️ {w}" for w in c.warnings] + ([""] if c.warnings else [])
    if len(flagged):
        out += [markdown_table(display_table(c, flagged)), ""]
    if len(quiet):
        out += [
            f"<details><summary>{len(quiet)} unchanged</summary>",
            "",
            markdown_table(display_table(c, quiet)),
            "",
            "</details>",
            "",
        ]
    for title, names in (
        ("Only in baseline", c.only_baseline),
        ("Only in current", c.only_current),
    ):
        if names:
            out += [f"**{title}** ({len(names)} cells, not compared):", ""]
            out += [f"- `{n}`" for n in names] + [""]
    return "\n".join(out)


def to_text(c: Comparison, baseline: str, current: str) -> str:
    out = [
        f"seqbench compare: {baseline} -> {current}: {summary_line(c)}",
        f"rules: {rules_line(c)}",
    ]
    out += [f"WARNING: {w}" for w in c.warnings]
    if len(c.rows):
        out.append(display_table(c).to_string(index=False))
    for title, names in (
        ("only in baseline", c.only_baseline),
        ("only in current", c.only_current),
    ):
        out += (
            [f"{title} ({len(names)} cells, not compared):"] + [f"  {n}" for n in names]
            if names
            else []
        )
    return "\n".join(out)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(c: Comparison, baseline: str, current: str) -> str:
    rows = [{k: _clean(v) for k, v in r.items()} for r in c.rows.to_dict("records")]
    return json.dumps(
        {
            "baseline": baseline,
            "current": current,
            "exit_code": c.exit_code,
            "counts": {v: c.count(v) for v in MARKS},
            "options": dataclasses.asdict(c.options),
            "warnings": c.warnings,
            "calibration_ratio": c.calibration_ratio,
            "only_baseline": c.only_baseline,
            "only_current": c.only_current,
            "rows": rows,
        },
        indent=1,
    )


RENDERERS = {"md": to_markdown, "text": to_text, "json": to_json}
