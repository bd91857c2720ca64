"""Shared helpers for the unit tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqbench.models import MODELS

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


# A GRU whose one-step cell, while the gate file exists, says so and then never returns: the
# job is caught mid-cell for certain, on a fast machine or a slow one, with no polling race.
HELD_EXTENSION = """
import os
import time
from pathlib import Path

from torch import nn

from seqbench.models import MODELS, ModelSpec


def _hold():
    gate = Path(os.environ["SEQBENCH_TEST_GATE"])
    if gate.exists():
        gate.with_suffix(".entered").touch()
        while True:
            time.sleep(0.05)


class HeldGRU(nn.GRU):
    def forward(self, *args, **kwargs):
        _hold()
        return super().forward(*args, **kwargs)


class HeldGRUCell(nn.GRUCell):
    def forward(self, *args, **kwargs):
        _hold()
        return super().forward(*args, **kwargs)


MODELS["held-gru"] = ModelSpec(HeldGRU, HeldGRUCell, gates=3)
MODELS["next-gru"] = MODELS["gru"]  # profiles follow registry order: the cell after the held one
"""


@pytest.fixture
def held_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, str], Path]:
    """The environment that registers `held-gru` and `next-gru` in a run's processes, and the
    gate file that holds `held-gru`'s cell (`<gate>.entered` appears once it is held). The
    two names are registered here too, so the test can read the run's plan back."""
    for name in ("held-gru", "next-gru"):
        monkeypatch.setitem(MODELS, name, MODELS["gru"])
    (tmp_path / "ext").mkdir()
    (tmp_path / "ext" / "seqbench_held_extension.py").write_text(HELD_EXTENSION)
    gate = tmp_path / "gate"
    gate.touch()
    env = {
        "PYTHONPATH": str(tmp_path / "ext"),
        "SEQBENCH_EXTENSIONS": "seqbench_held_extension",
        "SEQBENCH_TEST_GATE": str(gate),
    }
    return env, gate
