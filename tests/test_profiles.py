"""Profiles cover what they promise, and overrides are validated."""

from __future__ import annotations

from dataclasses import replace

import pytest

from seqbench.config import FAMILIES, CellConfig
from seqbench.errors import SeqbenchError
from seqbench.models import base_models
from seqbench.profiles import PROFILES, Overrides, build_cells
from seqbench.tasks import TASKS

BASE = base_models()  # variants (lstm-fb1) run only in the long profile


def test_smoke_covers_every_model_task_and_family():
    cells = build_cells("smoke")
    assert {c.model for c in cells} == set(BASE)
    assert {c.task for c in cells} == set(TASKS)
    assert {(c.family, c.model) for c in cells} == {(f, m) for f in FAMILIES for m in BASE}
    assert {(c.task, c.model) for c in cells if c.family == "convergence"} == {
        (t, m) for t in TASKS for m in BASE
    }
    assert all(c.seq_len <= 16 for c in cells)
    assert {c.batch_size for c in cells if c.family == "latency"} == {1}


def test_quick_has_the_article_sizes_up_to_5000():
    cells = build_cells("quick")
    for family in ("throughput", "memory", "gradients"):
        fam = [c for c in cells if c.family == family]
        assert {c.seq_len for c in fam} == {10, 100, 1000, 5000}
        assert {(c.batch_size, c.input_size, c.hidden_size) for c in fam} == {(100, 1, 50)}
        assert {c.model for c in fam} == set(BASE)
    # Gradients: 6 seeds where the decay rates are compared, one beyond (shared weights).
    grads = [c for c in cells if c.family == "gradients"]
    for model in BASE:
        seeds = {
            T: {c.seed for c in grads if c.model == model and c.seq_len == T} for T in (100, 5000)
        }
        assert seeds == {100: set(range(6)), 5000: {0}}
    # Short runs on mean-sign only: adding and copy need the long profile's budget.
    conv = [c for c in cells if c.family == "convergence"]
    assert {c.task for c in conv} == {"mean-sign"}
    assert len(conv) == 2 * 3 * 3  # lengths × models × seeds
    # Timing cells: 3 worker processes with at least 2 rounds each.
    timed = [c for c in cells if c.family == "throughput"]
    assert all(c.processes == 3 and c.rounds >= 2 for c in timed)
    assert all(c.processes == 1 for c in cells if c.family in ("memory", "gradients"))
    # Rounds per process: a short step gets enough rounds to time 100k tokens (its rounds
    # fall in two modes, and the median of a few jumps between them); longer steps keep the
    # budget rule.
    rounds = {c.seq_len: c.rounds for c in timed if c.impl == "fused"}
    assert rounds == {10: 100, 100: 10, 1000: 7, 5000: 2}


def test_quick_has_b1_latency_at_three_lengths():
    cells = [c for c in build_cells("quick") if c.family == "latency"]
    assert len(cells) == 9
    assert {(c.model, c.seq_len) for c in cells} == {(m, T) for m in BASE for T in (10, 100, 1000)}
    assert {(c.task, c.batch_size, c.input_size, c.hidden_size) for c in cells} == {
        ("mean-sign", 1, 1, 50)
    }
    # Three worker processes, each with its warm-up, together at least 30 rounds.
    assert all(c.processes == 3 and c.warmup_rounds >= 1 for c in cells)
    assert all(c.rounds * c.processes >= 30 for c in cells)
    # The block's cost: under 80k timed and warm-up tokens per model. The slowest B=1 pass
    # (GRU) takes about 80 µs per step on 2 busy cores, so the block stays under ~20 s.
    for model in BASE:
        tokens = sum(
            (c.rounds + c.warmup_rounds) * c.processes * c.seq_len
            for c in cells
            if c.model == model
        )
        assert tokens < 80_000, (model, tokens)


def test_seed_has_the_article_experiments():
    cells = build_cells("seed")
    headline = [c for c in cells if c.family == "convergence" and c.task == "mean-sign"]
    assert len(headline) == 9
    assert {
        (
            c.model,
            c.seq_len,
            c.batch_size,
            c.input_size,
            c.hidden_size,
            c.train_steps,
            c.train_size,
            c.heldout_size,
            c.eval_every,
            c.clip_grad_norm,
            c.lr,
        )
        for c in headline
    } == {(m, 20000, 100, 1, 50, 100, 100, 100, 10, None, 1e-3) for m in BASE}
    # Seed-major: every model at seed 0 first, so a partial run still compares the models.
    assert [(c.seed, c.model) for c in headline] == [
        (s, m) for s in (0, 1, 2) for m in ("rnn", "lstm", "gru")
    ]
    # Experiment 3 as the article wrote it: loss = output.sum(), one sequence, 100 epochs.
    out_sum = [c for c in cells if c.task == "output-sum"]
    assert len(out_sum) == 9 and {c.family for c in out_sum} == {"convergence"}
    assert {(c.model, c.seed) for c in out_sum} == {(m, s) for m in BASE for s in (0, 1, 2)}
    assert {
        (
            c.seq_len,
            c.batch_size,
            c.input_size,
            c.hidden_size,
            c.train_size,
            c.train_steps,
            c.eval_every,
            c.clip_grad_norm,
            c.lr,
        )
        for c in out_sum
    } == {(10000, 1, 10, 20, 1, 100, 10, None, 1e-3)}
    assert all(c.heldout_size <= 8 for c in out_sum)
    # A run cut short holds both experiments at its first seeds.
    conv = [c for c in cells if c.family == "convergence"]
    assert [c.seed for c in conv] == sorted(c.seed for c in conv)
    sweep = [c for c in cells if c.family == "gradients"]
    assert {c.seq_len for c in sweep} == {10, 50, 100, 500, 1000}
    assert len({c.seed for c in sweep}) >= 5
    assert {(c.input_size, c.hidden_size, c.batch_size) for c in sweep} == {(10, 20, 1)}
    # Throughput, memory and overhead at the article's length and sizes (quick stops at 5000).
    timed = [c for c in cells if c.family in ("throughput", "memory", "overhead")]
    assert {(c.family, c.model) for c in timed} == {
        (f, m) for f in ("throughput", "memory", "overhead") for m in BASE
    }
    assert {(c.seq_len, c.batch_size, c.input_size, c.hidden_size) for c in timed} == {
        (20000, 100, 1, 50)
    }
    assert all(c.processes == 3 for c in timed if c.family == "throughput")


def test_overrides_filter_and_replace():
    cells = build_cells(
        "quick", Overrides(models=("gru",), seq_lens=(64,), families=("throughput",), threads=1)
    )
    assert {(c.model, c.seq_len, c.family, c.threads) for c in cells} == {
        ("gru", 64, "throughput", 1)
    }


def test_lengths_asked_for_keep_the_profiles_rounds_at_those_lengths():
    """--seq-lens moves every cell to the lengths given; a length the profile measures keeps
    its own rounds, one it lacks takes its nearest length's (not the shortest cell's: T=10's
    100 rounds at T=5000 would take minutes)."""
    only = Overrides(families=("throughput",), impls=("fused",), models=("gru",))
    native = {c.seq_len: c.rounds for c in build_cells("quick", only)}
    moved = build_cells("quick", replace(only, seq_lens=(10, 100, 1000, 5000, 20000, 30)))
    rounds = {c.seq_len: c.rounds for c in moved}
    assert rounds == native | {20000: native[5000], 30: native[10]}
    assert len(moved) == len(rounds)  # one cell per length


@pytest.mark.parametrize(
    "overrides,message",
    [
        (Overrides(models=("transformer",)), "unknown model 'transformer'"),
        (Overrides(tasks=("parity",)), "unknown task 'parity'"),
        (Overrides(seq_lens=(0,)), "sequence length must be a positive integer"),
        (Overrides(seq_lens=(-5,)), "sequence length must be a positive integer"),
        (Overrides(device="tpu"), "unknown device 'tpu'"),
        (Overrides(lr=-1.0), "learning rate must be > 0"),
        (Overrides(threads=0), "threads must be a positive integer"),
    ],
)
def test_bad_overrides_name_the_value(overrides, message):
    with pytest.raises(SeqbenchError, match=message):
        build_cells("smoke", overrides)


def test_unknown_profile():
    with pytest.raises(SeqbenchError, match=r"unknown profile 'huge'.*smoke, quick, seed"):
        build_cells("huge")
    assert set(PROFILES) == {"smoke", "quick", "seed", "long"}


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("dropout", 1.0, r"dropout must be in \[0, 1\)"),
        ("dropout", -0.1, r"dropout must be in \[0, 1\)"),
        ("lr", 0.0, "lr must be > 0"),
        ("seq_len", 0, "seq_len must be a positive integer"),
        ("batch_size", -1, "batch_size must be a positive integer"),
        ("hidden_size", 0, "hidden_size must be a positive integer"),
        ("num_layers", 0, "num_layers must be a positive integer"),
        ("input_size", 3, "task 'adding' needs input_size 2"),
        ("family", "latency", "the latency family measures batch size 1, got batch_size 100"),
    ],
)
def test_cell_config_validation(field, value, message):
    base = dict(family="throughput", model="rnn", task="adding", seq_len=5)
    with pytest.raises(SeqbenchError, match=message):
        CellConfig(**base | {field: value})


def test_a_model_registered_at_runtime_runs_in_every_profile(monkeypatch):
    from seqbench.models import MODELS

    monkeypatch.setitem(MODELS, "gru-twin", MODELS["gru"])
    for profile in ("smoke", "quick", "seed", "long"):
        models = {c.model for c in build_cells(profile)}
        assert "gru-twin" in models, profile
