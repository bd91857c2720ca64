"""The tidy frames the claims and the report are built from, derived from a loaded ResultSet.

`ResultSet.metrics()` already gives one row per cell and metric. This module adds the frames
it does not: per-round timings (samples across rounds, not only each cell's median), loss
curves indexed by optimizer step, and what the result set holds (families, profiles).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from seqbench.config import FAMILIES
from seqbench.implementations import DEFAULT_IMPLEMENTATION
from seqbench.results import CONFIG_COLUMNS, ResultSet
from seqbench.tasks import TASKS

MODEL_ORDER = ("rnn", "lstm", "gru")  # the article's order; other models follow, sorted
# Configuration columns that tell cells apart, apart from the model and the seed: two cells
# that agree on these are repeats (seeds) of one experiment.
GROUP_COLUMNS = [c for c in CONFIG_COLUMNS if c not in ("model", "seed")]
# Measurements timed per round whose rounds are processing a batch of tokens.
TOKEN_MEASUREMENTS = {
    "forward": "forward_flop",
    "train_step": "train_step_flop",
    "forward_b1": "forward_flop",
}


def model_order(models: list[str] | pd.Series) -> list[str]:
    present = set(models)
    return [m for m in MODEL_ORDER if m in present] + sorted(present - set(MODEL_ORDER))


def tokens_per_step(task: str, batch_size: int, seq_len: int) -> int:
    """B × T': sequence elements per step (T' includes the copy task's framing)."""
    return int(batch_size) * TASKS[task].total_len(int(seq_len))


@dataclass
class Measured:
    """Everything claims and figures read, as long-format pandas frames."""

    results: ResultSet  # as loaded
    metrics: pd.DataFrame  # one row per cell and metric (ResultSet.metrics()), finite values
    rounds: pd.DataFrame  # one row per timed round: time_s, tokens_per_s, ceiling_fraction_ratio
    curves: pd.DataFrame  # convergence losses: one row per cell, split and step
    profiles: list[str] = field(default_factory=list)  # profiles named in the files' headers

    @property
    def families(self) -> list[str]:
        return sorted(set(self.results.entries["family"].dropna()))

    @property
    def missing_families(self) -> list[str]:
        """The benchmark families (seqbench.config.FAMILIES) these results hold none of."""
        present = set(self.families)
        return [f for f in FAMILIES if f not in present]

    @property
    def impls(self) -> list[str]:
        """The implementations these results measured (seqbench/implementations)."""
        return sorted({i for f in (self.metrics, self.rounds) for i in _impl_of(f)})

    def only_impl(self, impl: str) -> Measured:
        """The same results restricted to one implementation's cells."""
        entries = self.results.entries
        return replace(
            self,
            results=replace(self.results, entries=entries[_impl_of(entries) == impl]),
            metrics=self.metrics[_impl_of(self.metrics) == impl],
            rounds=self.rounds[_impl_of(self.rounds) == impl],
            curves=self.curves[_impl_of(self.curves) == impl],
        )

    def metric(
        self, name: str, family: str | None = None, measurement: str | None = None
    ) -> pd.DataFrame:
        """Rows of one metric, optionally of one family and measurement."""
        m = self.metrics
        keep = m["metric"] == name
        if family is not None:
            keep &= m["family"] == family
        if measurement is not None:
            keep &= m["measurement"] == measurement
        return m[keep]


def _impl_of(frame: pd.DataFrame) -> pd.Series:
    """Each row's implementation; rows from before the axis were torch.nn's fused module."""
    if "impl" not in frame:
        return pd.Series(DEFAULT_IMPLEMENTATION, index=frame.index, dtype=object)
    return frame["impl"].fillna(DEFAULT_IMPLEMENTATION)


def _round_rows(entries: pd.DataFrame) -> pd.DataFrame:
    """Per-round samples of the timed measurements (pytest-benchmark's stats.data)."""
    rows: list[dict[str, Any]] = []
    keep = ["run", "run_key", *CONFIG_COLUMNS]
    for rec in entries.to_dict("records"):
        times = rec.get("round_times_s")
        if (
            not isinstance(times, list)
            or rec.get("status") != "ok"
            or not isinstance(rec.get("model"), str)
        ):
            continue
        metrics = rec.get("metrics") or {}
        base = {k: rec.get(k) for k in keep}
        tokens = None
        if rec["measurement"] in TOKEN_MEASUREMENTS and rec.get("task") in TASKS:
            tokens = tokens_per_step(rec["task"], rec["batch_size"], rec["seq_len"])
        flop = metrics.get(TOKEN_MEASUREMENTS.get(rec["measurement"], ""), None)
        ceiling = metrics.get("matmul_ceiling_flop_per_s")
        for i, t in enumerate(times):
            if t is None or not math.isfinite(t) or t <= 0:
                continue
            rows.append(
                base
                | {
                    "round": i,
                    "time_s": t,
                    "tokens_per_s": tokens / t if tokens else None,
                    "achieved_flop_per_s": flop / t if flop else None,
                    "ceiling_fraction_ratio": flop / t / ceiling if flop and ceiling else None,
                }
            )
    columns = [
        *keep,
        "round",
        "time_s",
        "tokens_per_s",
        "achieved_flop_per_s",
        "ceiling_fraction_ratio",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for col in columns[-4:]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def _curve_rows(entries: pd.DataFrame) -> pd.DataFrame:
    """Train loss per optimizer step and held-out loss per evaluation, per convergence cell."""
    rows: list[dict[str, Any]] = []
    keep = ["run", "run_key", "status", *CONFIG_COLUMNS]
    conv = entries[entries["family"] == "convergence"]
    for rec in conv.to_dict("records"):
        series = rec.get("series") or {}
        metrics = rec.get("metrics") or {}
        base = {k: rec.get(k) for k in keep} | {"chance_loss": metrics.get("chance_loss")}
        losses = series.get("train_loss") or []
        # Long runs store block means with the step each block ends; short runs every step.
        steps = series.get("train_step") or range(1, len(losses) + 1)
        for step, loss in zip(steps, losses, strict=False):
            rows.append(base | {"split": "train", "step": step, "loss": loss})
        for step, loss in zip(
            series.get("eval_step") or [], series.get("heldout_loss") or [], strict=False
        ):
            rows.append(base | {"split": "held-out", "step": step, "loss": loss})
    columns = [*keep, "chance_loss", "split", "step", "loss"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["loss"] = pd.to_numeric(frame["loss"], errors="coerce")
    return frame


def _profiles(results: ResultSet) -> list[str]:
    """The profile of each result file: its run folder's manifest (run.json) where there is
    one, else the file's `seqbench.profile` (cell records carry none). The manifest comes
    first because JSON written before 2026-12-02 from a plan says "quick" whatever ran."""
    found: set[str] = set()
    for path in results.files:
        for source, key in ((path.parent / "run.json", None), (path, "seqbench")):
            try:
                data = json.loads(source.read_text())
            except (OSError, ValueError):
                continue  # no manifest, or a race: the loader read the file already
            top = data.get(key) if key and isinstance(data, dict) else data
            if isinstance(top, dict) and top.get("profile"):
                found.add(str(top["profile"]))
                break
    return sorted(found)


def measure(results: ResultSet) -> Measured:
    """The claims' and the report's frames, from loaded results."""
    metrics = results.metrics()
    metrics = metrics[metrics["value"].notna() & metrics["model"].notna()]
    metrics = metrics[metrics["value"].map(math.isfinite)].reset_index(drop=True)
    return Measured(
        results=results,
        metrics=metrics,
        rounds=_round_rows(results.entries),
        curves=_curve_rows(results.entries),
        profiles=_profiles(results),
    )


def config_label(row: dict[str, Any] | pd.Series, with_task: bool = True) -> str:
    """A short human label for a configuration: ``mean-sign T=100 B=100 H=50``."""

    def has(key: str) -> bool:
        v = row.get(key)
        return v is not None and not (isinstance(v, float) and math.isnan(v))

    parts = [str(row["task"])] if with_task and has("task") else []
    for key, short in (
        ("seq_len", "T"),
        ("batch_size", "B"),
        ("hidden_size", "H"),
        ("input_size", "I"),
    ):
        if has(key):
            parts.append(f"{short}={int(row[key])}")
    if has("num_layers") and int(row["num_layers"]) != 1:
        parts.append(f"L={int(row['num_layers'])}")
    if has("bidirectional") and bool(row["bidirectional"]):
        parts.append("bidirectional")
    if has("device") and row["device"] != "cpu":
        parts.append(str(row["device"]))
    if has("impl") and row["impl"] != DEFAULT_IMPLEMENTATION:
        parts.append(f"impl={row['impl']}")
    if has("train_size"):
        parts.append(f"train set {int(row['train_size'])}")
    return " ".join(parts)
