"""The versioned record seqbench adds to each pytest-benchmark entry.

pytest-benchmark owns the outer JSON (machine_info, commit_info, benchmarks[*].stats). Each
benchmark's ``extra_info`` holds seqbench's record, and the file's top level holds a
``seqbench`` block. Loaders refuse a schema_version they do not know (after pyperf).

Schema history (keep old files as fixtures under tests/fixtures/ when bumping):
  1 — 2026-11: first version. extra_info = {schema_version, family, measurement, status,
      config, metrics, series}; file top level = {"seqbench": {schema_version, profile}}.
  2 — 2026-12: config gains ``stop_when_solved`` (absent in version 1: False); convergence
      metrics gain ``steps_to_solve_step``; convergence series may carry ``train_step``
      (the step each ``train_loss``/``grad_norm`` value ends: long runs store block means).
      New family ``latency`` (measurement ``forward_b1``). Memory cells record the child's own
      ``process_peak_bytes`` instead of ``process_maxrss_bytes`` (which was the parent's
      high-water mark, carried across exec). Gradient norms are taken in float64.
  3 — 2026-12: config gains ``processes`` (absent before: 1). A cell measured in several
      worker processes has one entry per process, each with ``worker_process`` (0, 1, ...)
      in extra_info; entries of one cell share its fullname.
  4 — 2026-12: "baseline" means only compare's reference run, so metrics named after the
      chance loss or the memory before the step are renamed (RENAMED_METRICS); loaders
      read older records under the new names.
  5 — 2026-12: config gains ``impl``, the implementation that computed the steps
      (seqbench/implementations: "fused", "loop", "compiled", "article"; absent before:
      "fused", torch.nn's module, the only one there was).

extra_info layout (version 5):
  schema_version  int, this module's SCHEMA_VERSION
  family          "throughput" | "latency" | "memory" | "gradients" | "convergence" |
                  "overhead" | "calibration"
  measurement     what pytest-benchmark's stats time: "forward", "forward_b1", "train_step",
                  "memory_step", "gradient_flow", "training_run", "train_step_overhead",
                  "matmul"
  status          "ok" | "diverged" (see README, "Statuses")
  config          CellConfig fields (seqbench/config.py), threads as actually used
  metrics         flat {name: number | None}; every name ends in its unit:
                  _s, _bytes, _per_s, _flop, _ratio, _count, _loss, _accuracy, _step
  series          {name: list of numbers}: curves (loss per step, gradient per time step)
  worker_process  int, only in the entries of a cell measured in several worker processes
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for a hint: this module stays free of pandas at import
    import pandas as pd

SCHEMA_VERSION = 5
KNOWN_SCHEMA_VERSIONS = (1, 2, 3, 4, 5)
# Config fields added after version 1, with the value an older record implies by lacking them.
CONFIG_FIELDS_ADDED = {"stop_when_solved": False, "processes": 1, "impl": "fused"}
STATUSES = ("ok", "diverged", "crashed", "timeout", "skipped", "error")
# The field of a stub record (cells/<stem>.json) naming the pytest-benchmark JSON, in its run
# folder, that holds its entry (launchers/records.py writes stubs, results/load.py reads them).
ENTRY_IN = "entry_in"


def run_key(nodeid: str, process: int | None = None) -> str:
    """What a record finishes, and the loader's key of an entry: a node id, or one worker
    process of a timing cell measured in several (launchers/workers.py)."""
    return nodeid if process is None else f"{nodeid}@p{process}"


def cell_of_run_keys(run_keys: pd.Series) -> pd.Series:
    """run_key's inverse for a column of keys: each key's cell node id (a cell's worker
    processes share it and add @pN)."""
    return run_keys.str.replace(r"@p\d+$", "", regex=True)


# Metric names of versions before 4 → their version-4 names.
RENAMED_METRICS = {
    "baseline_loss": "chance_loss",
    "final_heldout_over_baseline_ratio": "final_heldout_over_chance_ratio",
    "train_steps_to_half_baseline_step": "train_steps_to_half_chance_step",
    "heldout_steps_to_half_baseline_step": "heldout_steps_to_half_chance_step",
    "baseline_mem_bytes": "before_step_mem_bytes",
    "rss_baseline_bytes": "rss_before_step_bytes",
}


def current_metric_names(version: int, metrics: dict[str, Any]) -> dict[str, Any]:
    """A record's metrics under this version's names (a record of version < 4 renamed)."""
    if version >= 4:
        return metrics
    return {RENAMED_METRICS.get(name, name): value for name, value in metrics.items()}


def _clean(value: Any) -> Any:
    """JSON-safe numbers: NaN and Inf become None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def make_record(
    config: dict[str, Any],
    family: str,
    measurement: str,
    metrics: dict[str, Any],
    series: dict[str, list[float]] | None = None,
    status: str = "ok",
    threads: int | None = None,
) -> dict[str, Any]:
    """Build the extra_info record for one benchmark entry from a cell's config dict."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    config = dict(config)
    if threads is not None:
        config["threads"] = threads
    return {
        "schema_version": SCHEMA_VERSION,
        "family": family,
        "measurement": measurement,
        "status": status,
        "config": config,
        "metrics": {k: _clean(v) for k, v in metrics.items()},
        "series": {k: [_clean(float(v)) for v in vs] for k, vs in (series or {}).items()},
    }
