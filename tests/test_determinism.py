"""Same seed on CPU, same loss curve, bit for bit."""

from __future__ import annotations

import math

from seqbench.config import CellConfig
from seqbench.scenarios.convergence import train


def cell(seed: int, **kw) -> CellConfig:
    base = dict(
        family="convergence",
        model="lstm",
        task="adding",
        seq_len=20,
        batch_size=8,
        hidden_size=16,
        train_steps=12,
        heldout_size=16,
        eval_every=4,
        seed=seed,
        clip_grad_norm=1.0,
        threads=2,
    )
    return CellConfig(**base | kw)


def test_same_seed_same_curve_bit_for_bit():
    a, b = train(cell(7)), train(cell(7))
    assert a.train_loss == b.train_loss  # exact float equality, not approx
    assert a.heldout_loss == b.heldout_loss
    assert a.grad_norm == b.grad_norm
    assert len(a.train_loss) == 12


def test_different_seed_different_curve():
    assert train(cell(1)).train_loss != train(cell(2)).train_loss


def test_fixed_training_set_is_reused():
    run = train(cell(0, task="mean-sign", train_size=8, train_steps=30, lr=1e-2))
    # Memorising 8 fixed sequences drives the training loss well below chance.
    assert run.train_loss[-1] < run.train_loss[0]


def test_divergence_is_recorded_not_raised():
    run = train(cell(0, model="rnn", lr=1e30, clip_grad_norm=None, train_steps=20))
    assert run.diverged_at_step is not None and run.diverged_at_step <= 20
    assert not math.isfinite(run.train_loss[-1]) or not math.isfinite(run.grad_norm[-1])
    assert run.metrics()["diverged_at_step"] == run.diverged_at_step
    assert not run.solved
