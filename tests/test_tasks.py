"""Tasks: determinism, shapes and the published chance baselines."""

from __future__ import annotations

import math

import pytest
import torch

from seqbench.config import CellConfig
from seqbench.scenarios.workload import Workload
from seqbench.tasks import TASKS


def gen(name: str, n: int, T: int, seed: int = 0):
    task = TASKS[name]
    return task.generate(n, T, task.input_size(None), torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", sorted(TASKS))
def test_generation_is_deterministic_by_seed(name):
    x1, y1 = gen(name, 8, 30, seed=3)
    x2, y2 = gen(name, 8, 30, seed=3)
    x3, _ = gen(name, 8, 30, seed=4)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    assert x1.shape == (8, TASKS[name].total_len(30), TASKS[name].input_size(None))


def test_heldout_split_differs_from_training_data():
    c = CellConfig(family="convergence", model="rnn", task="mean-sign", seq_len=20,
                   batch_size=16, heldout_size=16)
    w = Workload.build(c)
    hx, _ = w.heldout()
    assert not torch.equal(w.x, hx)


def test_adding_constant_predictor_gives_one_sixth():
    _, y = gen("adding", 200_000, 50)
    task = TASKS["adding"]
    mse = task.loss(torch.ones_like(y), y).item()
    assert task.baseline_loss(50) == pytest.approx(1 / 6)
    assert mse == pytest.approx(1 / 6, rel=0.02)


def test_adding_marks_two_positions_and_sums_them():
    x, y = gen("adding", 64, 40)
    assert torch.all(x[..., 1].sum(1) == 2)
    assert torch.allclose((x[..., 0] * x[..., 1]).sum(1, keepdim=True), y)


@pytest.mark.parametrize("T,published", [(100, 0.1733), (200, 0.0945), (500, 0.0400),
                                         (1000, 0.0204)])
def test_copy_baseline_formula_and_published_values(T, published):
    assert TASKS["copy"].baseline_loss(T) == pytest.approx(10 * math.log(8) / (T + 20))
    assert TASKS["copy"].baseline_loss(T) == pytest.approx(published, abs=5e-5)


def test_copy_memoryless_predictor_reaches_the_baseline():
    T = 30
    _x, y = gen("copy", 256, T)
    # Certain blank for the first T+10 steps, then uniform over the 8 digits.
    logits = torch.full((256, T + 20, 10), -1e9)
    logits[:, : T + 10, 0] = 0.0
    logits[:, T + 10 :, 1:9] = 0.0
    loss = TASKS["copy"].loss(logits, y).item()
    assert loss == pytest.approx(TASKS["copy"].baseline_loss(T), rel=1e-5)


def test_copy_layout_matches_tcn():
    x, y = gen("copy", 4, 6)
    tokens = x.argmax(-1)
    assert torch.all(tokens[:, 10:15] == 0)  # T-1 blanks
    assert torch.all(tokens[:, 15:] == 9)  # delimiter on the last 11 steps
    assert torch.equal(y[:, -10:], tokens[:, :10])  # recall the ten digits
    assert torch.all(y[:, :-10] == 0)


def test_mean_sign_labels_and_baseline():
    x, y = gen("mean-sign", 1000, 25)
    assert torch.equal(y, (x.mean(dim=(1, 2)) > 0).long())
    assert 0.4 < y.float().mean().item() < 0.6
    assert TASKS["mean-sign"].baseline_loss(25) == pytest.approx(math.log(2))
