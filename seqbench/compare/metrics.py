"""Which metrics compare looks at, and how each one is judged."""

from __future__ import annotations

from dataclasses import dataclass

from seqbench.errors import SeqbenchError

KINDS = ("time", "memory", "loss", "change")
# Families whose timed rounds are the measurement. The other families time one round of
# something else (a whole training run, a child process), which no test can judge.
TIMING_FAMILIES = ("throughput", "overhead")


@dataclass(frozen=True)
class MetricSpec:
    """One comparable number of a benchmark entry."""

    name: str  # key in the entry's metrics, or "time_median_s" (pytest-benchmark's median)
    kind: str  # one of KINDS: the rule (threshold and test, memory, seed-aware, change only)
    better: str  # "lower", "higher", or "none" (a change is reported, never a regression)
    unit: str  # unit of the raw value, for display: "s", "tokens/s", "B", "loss", "1"
    from_rounds: bool = False  # derived from the timed rounds, so the rounds can be tested
    families: tuple[str, ...] = ()  # only entries of these families have it (empty: all)


# The default set: the step times, tokens/s, peak memory, final held-out loss and
# gradient summaries. Phase times (fwd_time_s, ...) are recorded as medians only, so they are
# not here: without their rounds no significance test is possible.
DEFAULT_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("time_median_s", "time", "lower", "s", from_rounds=True, families=TIMING_FAMILIES),
    MetricSpec(
        "tokens_per_s", "time", "higher", "tokens/s", from_rounds=True, families=TIMING_FAMILIES
    ),
    MetricSpec("peak_mem_bytes", "memory", "lower", "B"),
    MetricSpec("final_heldout_loss", "loss", "lower", "loss"),
    MetricSpec("grad_total_norm", "change", "none", "1"),
    MetricSpec("grad_h_first_over_last_ratio", "change", "none", "1"),
)
_BY_NAME = {m.name: m for m in DEFAULT_METRICS}


def infer_spec(name: str) -> MetricSpec:
    """A spec for a metric outside the default set, from the unit suffix every metric name
    carries (seqbench/schema.py). Such a timing metric has no rounds of its own."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.endswith("_per_s"):
        return MetricSpec(name, "time", "higher", "1/s")
    if name.endswith("_s"):
        return MetricSpec(name, "time", "lower", "s")
    if name.endswith("_bytes"):
        return MetricSpec(name, "memory", "lower", "B")
    if name.endswith("_loss"):
        return MetricSpec(name, "loss", "lower", "loss")
    # _log10_ratio and _log10_per_step end in _ratio and _step, so they land here too.
    if name.endswith(("_norm", "_ratio", "_fraction", "_count", "_accuracy", "_step", "_flop")):
        # No direction is "worse" for these in general: report changes, never fail on them.
        return MetricSpec(name, "change", "none", "1")
    raise SeqbenchError(
        f"metric {name!r} has no unit suffix seqbench knows "
        "(_s, _per_s, _bytes, _loss, _norm, _ratio, _fraction, ...)"
    )


def select(names: tuple[str, ...]) -> tuple[MetricSpec, ...]:
    """The specs for --metric NAME... (all defaults when none are named)."""
    return tuple(infer_spec(n) for n in names) if names else DEFAULT_METRICS
