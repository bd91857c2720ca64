"""A model and a task registered from outside seqbench run through smoke, report and compare.

The extension lives in its own module, outside the repository, and touches no seqbench
module: one MODELS entry and one TASKS entry, named to seqbench by SEQBENCH_EXTENSIONS.
"""

from __future__ import annotations

import json
import textwrap

from seqbench.launchers.records import finished_nodeids

EXTENSION = '''
"""A test extension: a GRU twin and a task whose answer is the sign of the first input."""
import math

import torch
from torch import nn
from torch.nn import functional as F

from seqbench.models import MODELS, ModelSpec
from seqbench.tasks import TASKS
from seqbench.tasks.base import Task

MODELS["twin-gru"] = ModelSpec(nn.GRU, nn.GRUCell, gates=3, saved_units=7.0, backward_units=7.7)


class FirstSign(Task):
    name = "first-sign"
    many_to_one = True
    output_size = 2
    loss_unit = "nats"
    long_range = True  # the answer is at t=1, the head reads t=T
    chance_caption = "ln 2, a uniform guess between two balanced classes"

    def generate(self, n, seq_len, input_size, generator):
        x = torch.randn(n, seq_len, input_size, generator=generator)  # (n, T, I)
        return x, (x[:, 0, 0] > 0).long()  # (n,)

    def loss(self, output, target):
        return F.cross_entropy(output, target)

    def accuracy(self, output, target):
        return (output.argmax(-1) == target).float().mean().item()

    def chance_loss(self, seq_len):
        return math.log(2)

    def is_solved(self, heldout_loss, heldout_accuracy, seq_len):
        return heldout_accuracy is not None and heldout_accuracy >= 0.9


TASKS["first-sign"] = FirstSign()
'''


def test_a_model_and_a_task_registered_outside_run_through_smoke_report_and_compare(cli, tmp_path):
    (tmp_path / "ext").mkdir()
    (tmp_path / "ext" / "seqbench_test_extension.py").write_text(textwrap.dedent(EXTENSION))
    env = {"PYTHONPATH": str(tmp_path / "ext"), "SEQBENCH_EXTENSIONS": "seqbench_test_extension"}

    # Without the extension the names are unknown: the registry is what makes them exist.
    unknown = cli("run", "--profile", "smoke", "--models", "twin-gru", "--out", str(tmp_path / "x"))
    assert unknown.returncode == 2 and "unknown model 'twin-gru'" in unknown.stderr

    out = tmp_path / "run"
    families = "throughput,gradients,convergence"
    # torch.nn's implementation only: the other implementations have their own tests, and
    # compiling twin-gru's step in each worker took most of this test's 86 s.
    proc = cli(
        "run", "--profile", "smoke", "--models", "twin-gru", "--families", families,
        "--impls", "fused", "--out", str(out), env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    plan = json.loads((out / "run.json").read_text())["plan"]
    nodeids = {entry["nodeid"] for entry in plan}
    assert any("first-sign" in n for n in nodeids), nodeids  # smoke iterates the task registry
    cells = {n for n in nodeids if "test_calibration" not in n}  # calibration: one per run
    assert cells and all("twin-gru" in n for n in cells), cells
    finished = finished_nodeids(out / "cells")
    assert nodeids <= set(finished), nodeids - set(finished)

    report = tmp_path / "report"
    proc = cli("report", str(out), "--out", str(report), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    final = (report / "tables" / "final_losses.csv").read_text()
    assert "twin-gru" in final and "first-sign" in final
    assert "nats" in (report / "report.md").read_text()  # the task's own loss unit

    proc = cli("compare", str(out), str(out), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "twin-gru" in proc.stdout
