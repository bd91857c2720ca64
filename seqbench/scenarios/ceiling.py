"""The machine's matrix-multiply ceiling, measured in the same run as the cells it scales."""

from __future__ import annotations

import torch
from torch.utils import benchmark as tbench

CEILING_GEMM_SIZE = 1024  # n for an n×n @ n×n GEMM: large enough to reach BLAS's peak


def matmul_ceiling_flop_per_s(
    device: str = "cpu",
    dtype: str = "float32",
    n: int = CEILING_GEMM_SIZE,
    min_run_time_s: float = 1.0,
) -> float:
    """Achieved FLOP/s of a large square GEMM (2·n³ FLOPs), median of torch.utils.benchmark
    blocks. torch's Timer synchronizes CUDA itself and runs warm-up before it measures."""
    a = torch.randn(n, n, device=device, dtype=getattr(torch, dtype))
    b = torch.randn(n, n, device=device, dtype=getattr(torch, dtype))
    timer = tbench.Timer("a @ b", globals={"a": a, "b": b}, num_threads=torch.get_num_threads())
    measurement = timer.blocked_autorange(min_run_time=min_run_time_s)
    return 2 * n**3 / measurement.median
