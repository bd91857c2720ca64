"""Which metrics compare looks at, and how each one is judged.

A metric's unit comes from seqbench.analysis.units (the one suffix→unit table), and its
unit decides the rule that judges it: a time or a rate is a timing, bytes are memory, a loss
is judged per configuration over its seeds, and every other known unit (norms, ratios,
fractions, counts, steps, FLOPs) is a quantity whose changes are reported, never failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqbench.analysis.units import GENERIC_LOSS_UNIT, UNITLESS, unit_of
from seqbench.errors import SeqbenchError

# Families whose timed rounds are the measurement. The other families time one round of
# something else (a whole training run, a child process), which no test can judge. (Not
# seqbench.config.TIMING_FAMILIES, which says which families run in worker processes.)
ROUND_TIMED_FAMILIES = ("throughput", "overhead")


@dataclass(frozen=True)
class MetricSpec:
    """One comparable number of a benchmark entry."""

    name: str  # key in the entry's metrics, or "time_median_s" (pytest-benchmark's median)
    # The rule: "time" (threshold and a test of the rounds), "memory" (threshold and a floor),
    # "loss" (per configuration, seed-aware) or "change" (reported, never a regression).
    kind: str
    better: str  # "lower", "higher", or "none" (a change is reported, never a regression)
    from_rounds: bool = False  # derived from the timed rounds, so the rounds can be tested
    families: tuple[str, ...] = ()  # only entries of these families have it (empty: all)

    def unit(self, task: str | None = None) -> str:
        """The raw value's unit (a loss in its task's unit), from seqbench.analysis.units."""
        return unit_of(self.name, task)


# The default set: the step times, tokens/s, peak memory, final held-out loss and
# gradient summaries. Phase times (fwd_time_s, ...) are recorded as medians only, so they are
# not here: without their rounds no significance test is possible.
DEFAULT_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("time_median_s", "time", "lower", from_rounds=True, families=ROUND_TIMED_FAMILIES),
    MetricSpec("tokens_per_s", "time", "higher", from_rounds=True, families=ROUND_TIMED_FAMILIES),
    MetricSpec("peak_mem_bytes", "memory", "lower"),
    MetricSpec("final_heldout_loss", "loss", "lower"),
    MetricSpec("grad_total_norm", "change", "none"),
    MetricSpec("grad_h_first_over_last_ratio", "change", "none"),
)
_BY_NAME = {m.name: m for m in DEFAULT_METRICS}


def infer_spec(name: str) -> MetricSpec:
    """A spec for a metric outside the default set, from its unit. Such a timing metric has
    no rounds of its own."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    unit = unit_of(name)
    if unit == "s":
        return MetricSpec(name, "time", "lower")
    if unit.endswith("/s"):  # 1/s, tokens/s, FLOP/s
        return MetricSpec(name, "time", "higher")
    if unit == "bytes":
        return MetricSpec(name, "memory", "lower")
    if unit == GENERIC_LOSS_UNIT:
        return MetricSpec(name, "loss", "lower")
    if unit != UNITLESS:
        # No direction is "worse" for these in general: report changes, never fail on them.
        return MetricSpec(name, "change", "none")
    raise SeqbenchError(
        f"metric {name!r} has no unit suffix seqbench knows "
        "(_s, _per_s, _bytes, _loss, _norm, _ratio, _fraction, ...)"
    )


def select(names: tuple[str, ...]) -> tuple[MetricSpec, ...]:
    """The specs for --metric NAME... (all defaults when none are named)."""
    return tuple(infer_spec(n) for n in names) if names else DEFAULT_METRICS
