"""The report's opening: the user's question answered per sequence length.

For each T the results hold: which model trains fastest (training-step tokens/s), which uses
the least memory (peak of one step), and which learns each long-range task (runs solved,
then steps-to-solve). Each answer says how sure it is, by the same rules the claims use
(seqbench.claims.evidence and .learning), the regime it was measured in, and links to the
claim whose evidence holds the numbers.
"""

from __future__ import annotations

import math

import pandas as pd

from seqbench.analysis.data import Measured
from seqbench.analysis.stats import ALPHA, holm, summarize
from seqbench.claims.evidence import (
    MEMORY,
    TIMING,
    PairResult,
    Sampling,
    configs,
    decide,
    per_model,
    provisional,
    samples,
)
from seqbench.claims.learning import Survival, conv_cells, logrank, survivals
from seqbench.implementations import DEFAULT_IMPLEMENTATION
from seqbench.models import base_models
from seqbench.report.document import Block, Heading, Paragraph, Table
from seqbench.tasks import long_range_tasks


def _regime(config: dict, extra: str = "") -> str:
    parts = [f"B={int(config['batch_size'])}", f"H={int(config['hidden_size'])}"]
    impl = config.get("impl")
    if isinstance(impl, str) and impl != DEFAULT_IMPLEMENTATION:
        parts.append(f"impl={impl}")
    device = config.get("device")
    return " ".join([*parts, str(device) if isinstance(device, str) else "", extra]).strip()


def _confidence(best: str, comps: list[PairResult]) -> str:
    """'decided' when the best model beats every other; otherwise who it is not separated
    from, and why (too few samples, within run-to-run spread, ...)."""
    loose = [c for c in comps if c.relation not in ("lower", "higher")]
    if not loose:
        routes = {c.route for c in comps}
        how = (
            "too few processes for a test; every pairing beyond the run-to-run spread"
            if "single sample" in routes
            else "by construction"
            if routes == {"construction"}
            else "rank test, Holm"
        )
        return f"decided ({how})"
    return "not separated from " + ", ".join(f"{c.b} ({c.relation})" for c in loose)


def _best_of(
    values: dict[str, list[float]],
    sampling: Sampling,
    higher_is_better: bool,
) -> tuple[str, list[PairResult]]:
    medians = {k: summarize(v).median for k, v in values.items()}
    best = (max if higher_is_better else min)(medians, key=medians.__getitem__)
    comps = [
        provisional(best, other, values[best], values[other], sampling)
        for other in values
        if other != best
    ]
    return best, decide(comps, sampling)


def _metric_answers(
    m: Measured,
    metric: str,
    family: str,
    measurement: str,
    sampling: Sampling,
    higher_is_better: bool,
    claim: str,
) -> dict[int, list[str]]:
    """Per T: one answer line per setup measured there."""
    frame = samples(m, metric, sampling, family, measurement)
    out: dict[int, list[str]] = {}
    for config, group in configs(frame):  # every config column apart, so setups never pool
        values = per_model(group)
        if len(values) < 2:
            continue
        best, comps = _best_of(values, sampling, higher_is_better)
        ratios = ", ".join(
            f"{(c.test.ratio if higher_is_better else 1 / c.test.ratio):.2g}× {c.b}"
            for c in comps
            if math.isfinite(c.test.ratio)
        )
        out.setdefault(int(config["seq_len"]), []).append(
            f"**{best}** ({ratios}); {_confidence(best, comps)}; {_regime(config)} "
            f"[evidence](#{claim})"
        )
    return out


def _learning_answers(m: Measured, task: str) -> dict[int, list[str]]:
    cells = conv_cells(m)
    cells = cells[cells["task"] == task]
    out: dict[int, list[str]] = {}
    for key, group in cells.groupby(
        ["seq_len", "batch_size", "hidden_size", "train_steps"], sort=True
    ):
        # The question is RNN, LSTM or GRU as torch.nn computes them: variants (lstm-fb1) and
        # other implementations (gru@article) are shown alongside, never the answer.
        every = survivals(group)
        surv = {k: s for k, s in every.items() if k in base_models()}
        aside = [f"{s.model} {s.k}/{s.n}" for k, s in every.items() if k not in surv]
        if len(surv) < 2:
            continue
        config = group.iloc[0].to_dict()
        regime = _regime(config, f"{int(key[3])} steps")
        if not any(s.k for s in surv.values()):
            text = "no model solved it"
        else:
            best = max(surv.values(), key=Survival.rank)
            others = [s for s in surv.values() if s.model != best.model]
            tests = [logrank(best, s) for s in others]
            adjusted = holm([p for p, _ in tests])
            loose = [
                f"{s.model} (log-rank Holm p = {p:.2g})"
                for s, p, (_, sooner) in zip(others, adjusted, tests, strict=True)
                if not (p <= ALPHA and sooner)
            ]
            how = (
                "decided (log-rank, Holm)"
                if not loose
                else "not separated from " + ", ".join(loose)
            )
            solved = ", ".join(f"{s.model} {s.k}/{s.n}" for s in surv.values())
            text = f"**{best.model}** (solved {solved}); {how}"
        if aside:
            text += f" (alongside, not ranked: solved {', '.join(aside)})"
        out.setdefault(int(key[0]), []).append(
            f"{text}; {regime} [evidence](#char-long-term-dependency)"
        )
    return out


def answer(m: Measured) -> list[Block]:
    columns = {
        "fastest training step": _metric_answers(
            m, "tokens_per_s", "throughput", "train_step", TIMING, True, "char-training-speed"
        ),
        "least memory (one step)": _metric_answers(
            m, "peak_mem_bytes", "memory", "memory_step", MEMORY, False, "char-memory-usage"
        ),
        **{f"learns {task}": _learning_answers(m, task) for task in long_range_tasks()},
    }
    lengths = sorted({T for answers in columns.values() for T in answers})
    blocks: list[Block] = [
        Heading("The answer: which model, at which sequence length"),
        Paragraph(
            "Per sequence length T: the model that trains fastest, the one whose "
            "training step uses the least memory, and the one that learns each "
            "long-range task (most runs solved, then fewest steps), with how sure each "
            "answer is and the regime it was measured in. 'decided' means the winner "
            "beats every other model by the claims' rules (see Method); 'not "
            "separated' names the rivals the data cannot tell apart from it. Blank: "
            "not measured at that T."
        ),
    ]
    if not lengths:
        return [
            *blocks,
            Paragraph(
                "These results hold no throughput, memory or long-range "
                "convergence cells to answer from."
            ),
        ]
    rows = [
        {
            "T (steps)": str(T),
            **{name: " / ".join(answers.get(T, [])) for name, answers in columns.items()},
        }
        for T in lengths
    ]
    return [*blocks, Table(pd.DataFrame(rows))]
