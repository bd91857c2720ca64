"""Parametrizes every benchmark over the cells of the selected profile.

A benchmark function declares its family with ``FAMILY = "..."`` at module level and takes a
``cell`` argument; the profile (``--seqbench-profile``) decides which cells exist.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest
import torch

from seqbench.implementations import IMPLEMENTATIONS, ImplementationUnavailable
from seqbench.pytest_plugin import activate
from seqbench.scenarios.ceiling import matmul_ceiling_flop_per_s


def pytest_configure(config: pytest.Config) -> None:
    # The entry-point plugin loads seqbench's session plugin (cells, records, workers) only
    # where these definitions are collected, so other projects' pytest runs never import torch.
    activate(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cell" not in metafunc.fixturenames:
        return
    family = metafunc.module.FAMILY
    cells = [c for c in metafunc.config.seqbench_cells if c.family == family]
    metafunc.parametrize("cell", cells, ids=[c.cell_id for c in cells])


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """A cell whose implementation cannot run here (no compiler for torch.compile, say) is
    recorded `skipped` with the reason, before it starts or when its first call finds out;
    never `crashed`."""
    cell = getattr(pyfuncitem, "callspec", None) and pyfuncitem.callspec.params.get("cell")
    if cell is not None:
        reason = IMPLEMENTATIONS[cell.impl].unavailable(torch.device(cell.device))
        if reason:
            pytest.skip(f"implementation {cell.impl!r} unavailable: {reason}")
    try:
        return (yield)
    except ImplementationUnavailable as exc:
        pytest.skip(f"implementation {cell.impl!r} unavailable: {exc}")


@pytest.fixture(scope="session")
def matmul_ceiling(request: pytest.FixtureRequest) -> float:
    """The machine's GEMM ceiling in FLOP/s, measured once per run, before the cells. With
    worker processes the plugin measures it in a fork of its own before the first worker,
    so the session that forks the workers never runs torch work and they inherit it."""
    measured = request.config.seqbench_matmul_ceiling
    if measured is not None:
        return measured
    cells = request.config.seqbench_cells
    return matmul_ceiling_flop_per_s(cells[0].device if cells else "cpu")
