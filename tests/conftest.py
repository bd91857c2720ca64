"""Shared helpers for the unit tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, timeout: float = 300, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run `python -m seqbench ...` as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "seqbench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or REPO,
        env=os.environ | {"SEQBENCH_PROGRESS": "0"} | (env or {}),
    )


@pytest.fixture(scope="session")  # a plain function: module-scoped fixtures may use it too
def cli():
    return run_cli
