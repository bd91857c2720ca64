"""A fixed calibration workload, timed in every run.

`seqbench compare --normalize` divides timings by this entry's median, so a uniformly slower
runner does not read as a regression. The workload never changes with the profile; changing
it is a schema change for comparisons.
"""

from __future__ import annotations

import torch

from seqbench.scenarios.recording import timed_median_s
from seqbench.schema import make_record

CALIBRATION_GEMM_SIZE = 256  # n for a chain of four n×n GEMMs: about 0.5 ms on 2 cores


def test_calibration(benchmark, request):
    cells = request.config.seqbench_cells
    threads = cells[0].threads if cells and cells[0].threads else torch.get_num_threads()
    torch.set_num_threads(threads)
    n = CALIBRATION_GEMM_SIZE
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator)
    b = torch.randn(n, n, generator=generator)

    def gemm_chain():
        c = a
        for _ in range(4):
            c = torch.tanh(c @ b)  # tanh keeps values bounded, like a recurrence

    benchmark.group = "calibration"
    benchmark(gemm_chain)  # pytest-benchmark calibrates iterations and rounds itself
    median = timed_median_s(benchmark)
    flop = 4 * 2 * n**3
    benchmark.extra_info.update(
        make_record(
            {"device": "cpu", "threads": threads, "gemm_size": n},
            "calibration",
            "matmul",
            {
                "calibration_time_s": median,
                "calibration_flop": flop,
                "achieved_flop_per_s": flop / median if median else None,
            },
        )
    )
