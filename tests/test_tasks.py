"""Tasks: determinism, shapes and the published chance losses."""

from __future__ import annotations

import itertools
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
    c = CellConfig(
        family="convergence",
        model="rnn",
        task="mean-sign",
        seq_len=20,
        batch_size=16,
        heldout_size=16,
    )
    w = Workload.build(c)
    hx, _ = w.heldout()
    assert not torch.equal(w.x, hx)


def test_adding_constant_predictor_gives_one_sixth():
    _, y = gen("adding", 200_000, 50)
    task = TASKS["adding"]
    mse = task.loss(torch.ones_like(y), y).item()
    assert task.chance_loss(50) == pytest.approx(1 / 6)
    assert mse == pytest.approx(1 / 6, rel=0.02)


def test_adding_marks_two_positions_and_sums_them():
    x, y = gen("adding", 64, 40)
    assert torch.all(x[..., 1].sum(1) == 2)
    assert torch.allclose((x[..., 0] * x[..., 1]).sum(1, keepdim=True), y)


@pytest.mark.parametrize(
    "T,published", [(100, 0.1733), (200, 0.0945), (500, 0.0400), (1000, 0.0204)]
)
def test_copy_chance_loss_formula_and_published_values(T, published):
    assert TASKS["copy"].chance_loss(T) == pytest.approx(10 * math.log(8) / (T + 20))
    assert TASKS["copy"].chance_loss(T) == pytest.approx(published, abs=5e-5)


def test_copy_memoryless_predictor_reaches_the_chance_loss():
    T = 30
    _x, y = gen("copy", 256, T)
    # Certain blank for the first T+10 steps, then uniform over the 8 digits.
    logits = torch.full((256, T + 20, 10), -1e9)
    logits[:, : T + 10, 0] = 0.0
    logits[:, T + 10 :, 1:9] = 0.0
    loss = TASKS["copy"].loss(logits, y).item()
    assert loss == pytest.approx(TASKS["copy"].chance_loss(T), rel=1e-5)


def test_copy_layout_matches_tcn():
    x, y = gen("copy", 4, 6)
    tokens = x.argmax(-1)
    assert torch.all(tokens[:, 10:15] == 0)  # T-1 blanks
    assert torch.all(tokens[:, 15:] == 9)  # delimiter on the last 11 steps
    assert torch.equal(y[:, -10:], tokens[:, :10])  # recall the ten digits
    assert torch.all(y[:, :-10] == 0)


def test_mean_sign_labels_and_chance_loss():
    x, y = gen("mean-sign", 1000, 25)
    assert torch.equal(y, (x.mean(dim=(1, 2)) > 0).long())
    assert 0.4 < y.float().mean().item() < 0.6
    assert TASKS["mean-sign"].chance_loss(25) == pytest.approx(math.log(2))


def test_output_sum_shapes_and_default_input_of_ten():
    x, y = gen("output-sum", 5, 40)
    assert x.shape == (5, 40, 10) and y.shape == (5,)
    task = TASKS["output-sum"]
    x3, _ = task.generate(2, 7, 3, torch.Generator().manual_seed(0))
    assert x3.shape == (2, 7, 3)  # an explicit input size is honoured
    assert abs(x.mean().item()) < 0.1 and 0.9 < x.std().item() < 1.1  # N(0, 1)
    assert task.many_to_one and task.output_size == 2


def test_output_sum_loss_is_the_sum_over_the_batch():
    task = TASKS["output-sum"]
    out = torch.randn(4, 2, generator=torch.Generator().manual_seed(1), requires_grad=True)
    loss = task.loss(out, torch.zeros(4))
    assert loss.item() == pytest.approx(out.sum().item())
    # A sum, not a mean: the batch's loss is the sum of its sequences' losses.
    assert loss.item() == pytest.approx(
        sum(task.loss(out[i : i + 1], None).item() for i in range(4))
    )
    loss.backward()
    assert torch.equal(out.grad, torch.ones(4, 2))  # ∂L/∂output = 1 everywhere


def test_output_sum_has_no_chance_loss_and_is_never_solved():
    task = TASKS["output-sum"]
    assert math.isnan(task.chance_loss(10000))
    assert task.accuracy(torch.zeros(3, 2), torch.zeros(3)) is None
    assert task.is_solved(-1e9, None, 10000) is False
    assert task.is_solved(0.0, 1.0, 10) is False


def test_output_sum_training_records_none_where_a_chance_loss_is_needed():
    from seqbench.scenarios.convergence import train
    from seqbench.schema import make_record

    cell = CellConfig(
        family="convergence",
        model="gru",
        task="output-sum",
        seq_len=12,
        batch_size=1,
        input_size=10,
        hidden_size=6,
        train_size=1,
        train_steps=6,
        heldout_size=1,
        eval_every=3,
    )
    run = train(cell)
    assert run.diverged_at_step is None and run.steps_run == 6
    rec = make_record(cell.to_dict(), cell.family, "training_run", run.metrics(), run.series())
    m = rec["metrics"]
    for name in (
        "chance_loss",
        "final_heldout_over_chance_ratio",
        "final_heldout_accuracy",
        "train_steps_to_half_chance_step",
        "heldout_steps_to_half_chance_step",
    ):
        assert m[name] is None, name
    assert m["solved_count"] == 0 and m["final_heldout_loss"] is not None
    # The head's bias alone gets ∂L/∂b = 1 per output: the total norm is at least √2 at B=1.
    assert len(rec["series"]["grad_norm"]) == 6
    assert all(g >= math.sqrt(2) - 1e-6 for g in rec["series"]["grad_norm"])
    # Adam lowers an unbounded loss on the one fixed sequence, step after step.
    losses = rec["series"]["train_loss"]
    assert all(b < a for a, b in itertools.pairwise(losses))
