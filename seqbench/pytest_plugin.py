"""seqbench's pytest plugin (registered through the pytest11 entry point).

It adds the options that select a profile, and records the environment through
pytest-benchmark's own hooks, so pytest-benchmark's JSON, storage and comparison keep working
unchanged.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from seqbench import env
from seqbench.errors import SeqbenchError
from seqbench.profiles import DEFAULT_PROFILE, PROFILES, Overrides, build_cells
from seqbench.schema import SCHEMA_VERSION


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("seqbench")
    group.addoption("--seqbench-profile", default=os.environ.get("SEQBENCH_PROFILE"),
                    help=f"benchmark profile: {', '.join(PROFILES)} (env SEQBENCH_PROFILE; "
                         f"default {DEFAULT_PROFILE} with --benchmark-only, else smoke)")
    group.addoption("--seqbench-models", default=None, help="comma-separated models to keep")
    group.addoption("--seqbench-tasks", default=None, help="comma-separated tasks to keep")
    group.addoption("--seqbench-families", default=None, help="comma-separated families")
    group.addoption("--seqbench-seq-lens", default=None,
                    help="comma-separated sequence lengths replacing the profile's")
    group.addoption("--seqbench-device", default=os.environ.get("SEQBENCH_DEVICE"),
                    help="cpu or cuda for every cell (env SEQBENCH_DEVICE)")
    group.addoption("--seqbench-threads", type=int, default=None,
                    help="torch intra-op threads for every cell")


def profile_name(config: pytest.Config) -> str:
    """The profile in force. A plain `pytest` run (the test command) runs the benchmark
    definitions once at smoke size as tests; `pytest --benchmark-only` measures quick."""
    chosen = config.getoption("--seqbench-profile")
    if chosen:
        return chosen
    return DEFAULT_PROFILE if config.getoption("benchmark_only", False) else "smoke"


def overrides(config: pytest.Config) -> Overrides:
    seq_lens = _csv(config.getoption("--seqbench-seq-lens"))
    try:
        lengths = tuple(int(v) for v in seq_lens)
    except ValueError:
        raise pytest.UsageError(f"--seqbench-seq-lens takes integers, got {seq_lens}") from None
    extra: dict[str, Any] = {}
    # Validation knob for the regression detector (README, "Checking the detector").
    if os.environ.get("SEQBENCH_INJECT_SLOWDOWN"):
        extra["inject_slowdown"] = float(os.environ["SEQBENCH_INJECT_SLOWDOWN"])
    return Overrides(models=_csv(config.getoption("--seqbench-models")),
                     tasks=_csv(config.getoption("--seqbench-tasks")),
                     families=_csv(config.getoption("--seqbench-families")),
                     seq_lens=lengths, device=config.getoption("--seqbench-device"),
                     threads=config.getoption("--seqbench-threads"), extra=extra)


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.seqbench_cells = build_cells(profile_name(config), overrides(config))
    except SeqbenchError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_benchmark_update_machine_info(config: pytest.Config,
                                         machine_info: dict[str, Any]) -> None:
    machine_info.pop("node", None)  # the hostname: not ours to publish
    device = config.getoption("--seqbench-device") or "cpu"
    machine_info["seqbench"] = env.collect(device)


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list,
                                 output_json: dict[str, Any]) -> None:
    output_json["seqbench"] = {"schema_version": SCHEMA_VERSION,
                               "profile": profile_name(config)}
