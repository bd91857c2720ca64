"""The report's sections as document blocks: numbers formatted with their units."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from seqbench.analysis.data import Measured, config_label, model_order
from seqbench.analysis.provenance import mixed_machine_warnings
from seqbench.analysis.stats import ALPHA, CONFIDENCE, MIN_N_FOR_CI
from seqbench.analysis.units import fmt, fmt_range, loss_unit
from seqbench.claims import CHARACTERISTICS, Judged
from seqbench.claims.evidence import EXACT, MEMORY, SEEDS, TIMING
from seqbench.claims.learning import LEARNED_BELOW_CHANCE
from seqbench.report.document import Block, Bullets, Heading, Image, Paragraph, Table
from seqbench.report.figures import N_BOOT, DrawnFigure


def _median_ci(row: pd.Series, column: str, unit: str) -> str:
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    low, high = row.get(f"{column}_ci95_low"), row.get(f"{column}_ci95_high")
    ci = fmt_range(low, high, unit)
    n = row.get(f"{column}_n")
    count = f" (n={int(n)})" if isinstance(n, int | float) and not math.isnan(n) else ""
    return fmt(value, unit) + (count if ci == "n/a" else f" {ci}")


def overview(m: Measured, out: Path) -> list[Block]:
    files = sorted({str(p) for p in m.results.files})
    items = [
        f"result files: {len(files)} ({', '.join(files[:5])}" + (", …)" if len(files) > 5 else ")"),
        f"profiles: {', '.join(m.profiles) or 'not recorded (per-cell records only)'}",
        f"families present: {', '.join(f for f in m.families if f != 'calibration')}",
    ]
    if m.missing_families:
        items.append(
            f"families missing: {', '.join(m.missing_families)} — the sections, "
            "figures and claims that need them say so below"
        )
    else:
        items.append("families missing: none")
    items += [f"warning: {w}" for w in mixed_machine_warnings(m.results)]
    return [
        Heading("seqbench report", 1),
        Paragraph(
            f"Built by `seqbench report` into {out}. Every number carries its unit; "
            f"an interval is a distribution-free {CONFIDENCE:.0%} interval of the "
            f"median, given only from {MIN_N_FOR_CI} samples up (see Method). The "
            "environment is at the end."
        ),
        Bullets(items),
    ]


def environment(m: Measured) -> list[Block]:
    blocks: list[Block] = [Heading("Environment")]
    columns = {}
    for run, info in sorted(m.results.machines.items()):
        env = dict((info or {}).get("seqbench") or {})
        if not env:
            env = {k: info.get(k) for k in ("python_version", "machine", "system") if info}
        columns[run] = {k: "" if v is None else str(v) for k, v in env.items()}
    # A cluster run's jobs land on whichever nodes the scheduler gives them.
    blocks += [Paragraph(f"Warning: {w}.") for w in mixed_machine_warnings(m.results)]
    if not columns:
        return [*blocks, Paragraph("The results record no environment.")]
    frame = pd.DataFrame(columns)
    if frame.shape[1] > 1 and (frame.nunique(axis=1) <= 1).all():
        frame = frame.iloc[:, :1].set_axis([f"all {frame.shape[1]} runs"], axis=1)
    frame = frame.reset_index().rename(columns={"index": "property"})
    return [*blocks, Table(frame.fillna(""))]


def implementations(tables: dict[str, pd.DataFrame]) -> list[Block]:
    """Speedups of each implementation over torch.nn's fused module, where both ran."""
    table = tables.get("implementations")
    if table is None or table.empty:
        return []
    rows = [
        {
            "model": r["model"],
            "setup": config_label(r.drop(labels=["impl"])),
            "implementation": r["impl"],
            "training step": fmt(r["tokens_per_s"], "tokens/s"),
            "vs fused": f"{r['speedup_vs_fused_ratio']:.2f}×",
            "samples": str(int(r["n"])) if pd.notna(r["n"]) else "",
        }
        for _, r in table.iterrows()
    ]
    return [
        Heading("Implementations"),
        Paragraph(
            "Training-step tokens/s of each implementation of the same math, and its ratio "
            "to torch.nn's fused module at the same configuration (above 1: faster). "
            "Medians across processes (across runs, each the median of its processes, where "
            "several runs measured one setup; 'samples' counts them). Compile time of "
            "`compiled` is recorded apart "
            "(first_step_s), never inside these medians."
        ),
        Table(pd.DataFrame(rows)),
    ]


def cells(tables: dict[str, pd.DataFrame]) -> list[Block]:
    status = tables["status"].rename(columns={"cells_count": "cells (count)"})
    return [Heading("Cells by status"), Table(status)]


def model_summaries(m: Measured, tables: dict[str, pd.DataFrame]) -> list[Block]:
    costs, losses = tables["model_costs"], tables["final_losses"]
    blocks: list[Block] = [
        Heading("Summary per model"),
        Paragraph(
            "Costs: parameters and matrix FLOPs per training step (analytic), "
            "tokens/s of the training step and of the forward pass (median over timed "
            "rounds and seeds, with CI) and peak memory of one step (fresh process). "
            "Losses: final held-out loss per task, median over seeds, next to the "
            "task's chance loss."
        ),
    ]
    models = model_order(
        pd.concat(
            [costs.get("model", pd.Series(dtype=str)), losses.get("model", pd.Series(dtype=str))]
        )
    )
    if not models:
        return [*blocks, Paragraph("No throughput, memory or convergence results.")]
    for model in models:
        blocks.append(Heading(model.upper(), 3))
        c = costs[costs["model"] == model] if "model" in costs else costs.iloc[0:0]
        if not c.empty:
            rows = []
            for _, r in c.iterrows():
                rows.append(
                    {
                        "T (steps)": f"{int(r['seq_len'])}",
                        "B × H": f"{int(r['batch_size'])} × {int(r['hidden_size'])}",
                        "params": fmt(r.get("param_count"), "parameters"),
                        "FLOPs/step": fmt(r.get("train_step_flop"), "FLOP"),
                        "train tokens/s": _median_ci(r, "train_tokens_per_s", "tokens/s"),
                        "forward tokens/s": _median_ci(r, "forward_tokens_per_s", "tokens/s"),
                        "peak memory (measured)": _median_ci(r, "peak_mem_bytes", "bytes"),
                        "peak memory (estimate, partly fitted)": fmt(
                            r.get("peak_mem_est_bytes"), "bytes"
                        ),
                    }
                )
            blocks.append(Table(pd.DataFrame(rows).replace("n/a", "")))
        else:
            blocks.append(Paragraph("No throughput or memory results for this model."))
        lo = losses[losses["model"] == model] if "model" in losses else losses.iloc[0:0]
        if not lo.empty:
            rows = []
            for _, r in lo.iterrows():
                unit = loss_unit(r["task"])
                rows.append(
                    {
                        "task": r["task"],
                        "T (steps)": f"{int(r['seq_len'])}",
                        "steps": fmt(r.get("train_steps"), "steps"),
                        "held-out loss": _median_ci(r, "final_heldout_loss", unit),
                        "train loss": fmt(r.get("final_train_loss"), unit),
                        "chance loss": fmt(r.get("chance_loss"), unit),
                        "held-out / chance": fmt(r.get("final_heldout_over_chance_ratio"), "ratio"),
                        "seeds": fmt(r.get("seeds_count"), "count"),
                    }
                )
            blocks.append(Table(pd.DataFrame(rows)))
        else:
            blocks.append(Paragraph("No convergence results for this model."))
    return blocks


def characteristics(judged: list[Judged]) -> list[Block]:
    ids = {c.id for c in CHARACTERISTICS}
    rows = []
    for j in judged:
        if j.claim.id not in ids:
            continue
        a = j.claim.article
        rows.append(
            {
                "property": j.claim.prop,
                "article: RNN / LSTM / GRU": f"{a['rnn']} / {a['lstm']} / {a['gru']}",
                "measured ranking (by median)": j.outcome.measured or "no data",
                "verdict": j.outcome.verdict,
                "reason": j.outcome.reason,
            }
        )
    return [
        Heading("The article's characteristics table, re-measured"),
        Paragraph(
            "Each row of the article's table, with the ranking measured at every "
            "configuration in these results (rates such as tokens/s are listed "
            "highest first, everything else lowest first). The numbers behind each "
            "row are under Claims, evidence."
        ),
        Table(pd.DataFrame(rows)),
    ]


def claims_table(judged: list[Judged]) -> list[Block]:
    rows = [
        {
            "claim": j.claim.id,
            "the article says": j.claim.statement,
            "verdict": j.outcome.verdict,
            "reason": j.outcome.reason,
        }
        for j in judged
    ]
    counts = pd.Series([j.outcome.verdict for j in judged]).value_counts()
    summary = ", ".join(f"{n} {v}" for v, n in counts.items())
    blocks: list[Block] = [
        Heading("Claims"),
        Paragraph(f"{len(judged)} claims: {summary}."),
        Table(pd.DataFrame(rows)),
        Heading("Claims, evidence", 3),
    ]
    for j in judged:
        # A heading per claim gives it an anchor (#claim-id) that the answer table links to.
        blocks.append(Heading(j.claim.id, 4))
        blocks.append(Paragraph(f"{j.outcome.verdict}: {j.outcome.reason}"))
        if j.outcome.evidence:
            blocks.append(Bullets([f"{e.where}: {e.numbers}" for e in j.outcome.evidence]))
    return blocks


def figures(drawn: list[DrawnFigure], out: Path) -> list[Block]:
    blocks: list[Block] = [Heading("Figures")]
    for i, d in enumerate(drawn, 1):
        blocks.append(Heading(f"{i}. {d.spec.title}", 3))
        if d.path is None:
            blocks.append(Paragraph(f"Not drawn: {d.missing}."))
            continue
        blocks.append(Paragraph(d.spec.caption_text()))
        blocks.append(Image(d.path, d.spec.title, d.path.relative_to(out).as_posix()))
    return blocks


def method() -> list[Block]:
    return [
        Heading("Method"),
        Bullets(
            [
                "Aggregation: a metric is summarised across seeds (cells of one "
                "configuration); a timing across processes, each process contributing the "
                "median of its timed rounds "
                "(rounds inside one process share its heap history, so they say nothing about how "
                "the next run differs; their spread is shown apart as within-process IQR). Where "
                "several runs measured one configuration, each run contributes the median of its "
                "processes instead, since the processes of one run share its shift (the host's "
                "speed over that run).",
                f"Intervals: the distribution-free {CONFIDENCE:.0%} interval of the median "
                "from order statistics (scipy.stats.quantile_test), exact at any n but only "
                "possible from "
                f"{MIN_N_FOR_CI} values: [min, max] of n values covers the median with "
                "probability "
                "1 − 2·0.5ⁿ (75% at 3, 93.8% at 5). Below that the range is shown, never called a "
                "95% interval.",
                f"Figures: 95% bootstrap bands of the mean across seeds ({N_BOOT} "
                "resamples, fixed seed), drawn headless with Agg; they show spread, not the "
                "verdicts' tests.",
                "A comparison of two models: the ratio of their medians, and a two-sided "
                "Mann–Whitney U test (exact for small samples). All comparisons behind one "
                "claim form "
                f"one family, Holm-corrected (Holm 1979) at α = {ALPHA:.0%}: a difference needs an "
                "adjusted p ≤ α and a ratio beyond the noise margin.",
                f"Deterministic quantities (parameters, analytic FLOPs): {EXACT.rule()}.",
                f"Timings (one value per process): {TIMING.rule()}.",
                f"Peak memory (one fresh process per cell): {MEMORY.rule()}.",
                f"Training and initialisation outcomes (losses): {SEEDS.rule()}.",
                "Gradient decay: cells at several T from one seed share its weights, so each seed "
                "counts once (its longest T).",
                "Learning: a task's configuration is compared only where some model learned "
                "it (a run "
                f"solved it, or a median held-out loss ≤ {LEARNED_BELOW_CHANCE:.0%} of chance); "
                "elsewhere the reason is 'no model learned the task in this regime'. "
                "Long-range tasks compare steps-to-solve, right-censored for runs that never "
                "solved, with Kaplan–Meier "
                "curves and the log-rank test, each model at its best learning rate; solved "
                "fractions carry exact Clopper–Pearson intervals.",
                "A claim is contradicted if any comparison reverses it after the correction; "
                "supported if at least one holds and none reverses; otherwise inconclusive, "
                "with the "
                "reason. Every reason names its regime (task, T, B, H, I, device, steps).",
                "Claims are data plus a check each (seqbench/claims/registry.py); the same code on "
                "other results can reach another verdict.",
            ]
        ),
    ]


def table_files(paths: list[Path], out: Path) -> list[Block]:
    return [
        Heading("Tables"),
        Paragraph(
            "CSV files with raw numbers in SI units (each column or its `unit` "
            "column names the unit):"
        ),
        Bullets([p.relative_to(out).as_posix() for p in paths]),
    ]
