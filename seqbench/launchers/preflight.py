"""Memory pre-flight: skip, before it runs, a cell whose estimated peak exceeds the budget."""

from __future__ import annotations

import re
from pathlib import Path

from seqbench.config import CellConfig
from seqbench.errors import SeqbenchError
from seqbench.launchers import records
from seqbench.models.costs import peak_step_bytes

# The default budget: this fraction of MemAvailable when the run starts, leaving room for
# the supervisor, pytest itself and the estimate's own error (README, "--max-mem").
DEFAULT_BUDGET_FRACTION = 0.8
_UNITS = {
    "": 1,
    "B": 1,
    "K": 2**10,
    "KB": 2**10,
    "KIB": 2**10,
    "M": 2**20,
    "MB": 2**20,
    "MIB": 2**20,
    "G": 2**30,
    "GB": 2**30,
    "GIB": 2**30,
    "T": 2**40,
    "TB": 2**40,
    "TIB": 2**40,
}


def parse_size(text: str) -> int:
    """'8G', '512MiB', '1.5GB' or plain bytes → bytes (binary units)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise SeqbenchError(f"cannot read size {text!r}: use bytes or a unit like 512M, 8G")
    size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size <= 0:
        raise SeqbenchError(f"size must be positive, got {text!r}")
    return size


def available_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise OSError("MemAvailable not in /proc/meminfo")


def default_budget() -> int:
    return int(DEFAULT_BUDGET_FRACTION * available_bytes())


def estimate_cell_bytes(cell: CellConfig) -> int:
    """Peak above the memory before the step, for the cell's heaviest step. The gradients
    family unrolls the recurrence, which keeps about the fused step's activations twice."""
    estimate = peak_step_bytes(cell)
    return 2 * estimate if cell.family == "gradients" else estimate


def skip_over_budget(
    cells: list[tuple[str, CellConfig]], budget: int, cells_dir: Path
) -> list[str]:
    """Write a `skipped` record for each (nodeid, cell) over budget; return their nodeids."""
    skipped = []
    for nodeid, cell in cells:
        estimate = estimate_cell_bytes(cell)
        if estimate <= budget:
            continue
        message = (
            f"estimated peak {estimate / 2**30:.2f} GiB exceeds the memory budget "
            f"{budget / 2**30:.2f} GiB"
        )
        records.write_unmeasured(
            cells_dir,
            nodeid,
            cell.to_dict(),
            "skipped",
            message,
            {"peak_mem_est_bytes": estimate, "mem_budget_bytes": budget},
        )
        skipped.append(nodeid)
    return skipped
