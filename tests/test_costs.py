"""Parameter counts, FLOPs and the activation-memory model against torch itself."""

from __future__ import annotations

import pytest
import torch

from seqbench.config import CellConfig
from seqbench.models import MODELS
from seqbench.models.costs import (
    BACKWARD_FIT,
    activation_bytes,
    backward_working_set_bytes,
    forward_flops,
    optimizer_bytes,
    param_count,
    peak_step_bytes,
    train_step_flops,
)
from seqbench.models.recurrent import build_model


def cell(model: str, **kw) -> CellConfig:
    kw.setdefault("task", "mean-sign")
    return CellConfig(family="throughput", model=model, seq_len=kw.pop("seq_len", 7), **kw)


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("input_size", [1, 2, 10])
@pytest.mark.parametrize("hidden_size", [3, 50])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_param_count_matches_torch(model, input_size, hidden_size, num_layers, bidirectional):
    c = cell(
        model,
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        bidirectional=bidirectional,
    )
    assert param_count(c) == sum(p.numel() for p in build_model(c).parameters())


@pytest.mark.parametrize("task", ["adding", "copy"])
def test_param_count_uses_task_sizes(task):
    c = cell("gru", task=task, hidden_size=16)
    assert param_count(c) == sum(p.numel() for p in build_model(c).parameters())


def test_worked_example_from_references():
    # references.md: I=2, H=128 gives RNN 16,896, GRU 50,688 and LSTM 67,584 (recurrent part)
    expected = {"rnn": 16_896, "gru": 50_688, "lstm": 67_584}
    for model, count in expected.items():
        c = cell(model, task="adding", hidden_size=128)  # adding has input size 2, output 1
        head = 128 + 1
        assert param_count(c) - head == count


def test_flops_formula_and_ratio():
    c = cell("lstm", seq_len=10, batch_size=3, input_size=4, hidden_size=5)
    recurrent = 2 * 4 * 5 * (4 + 5) * 10 * 3
    head = 2 * 5 * 2 * 3  # last-step head: 2·H·O per sequence
    assert forward_flops(c) == recurrent + head
    assert train_step_flops(c) == 3 * forward_flops(c)
    # 1 : 3 : 4 arithmetic ratio for the recurrent part (references.md)
    big = {m: forward_flops(cell(m, seq_len=100, hidden_size=64)) for m in MODELS}
    assert big["gru"] / big["rnn"] == pytest.approx(3, rel=0.01)
    assert big["lstm"] / big["rnn"] == pytest.approx(4, rel=0.01)


def _saved_bytes(c: CellConfig) -> int:
    """Bytes of distinct storages autograd saves in a forward pass."""
    model = build_model(c)
    x = torch.randn(c.batch_size, c.seq_len, c.input_size or 1)
    storages: dict[int, int] = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model.rnn(x)
    return sum(storages.values())


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("sizes", [(100, 1, 50), (32, 2, 128)])
def test_activation_model_matches_what_autograd_saves(model, sizes):
    batch, inputs, hidden = sizes
    short, long = (
        cell(model, seq_len=T, batch_size=batch, input_size=inputs, hidden_size=hidden)
        for T in (50, 100)
    )
    measured_per_step = (_saved_bytes(long) - _saved_bytes(short)) / 50
    model_per_step = (activation_bytes(long) - activation_bytes(short)) / 50
    # oneDNN pads its LSTM workspace, so allow 15%; the others are exact up to the input
    assert model_per_step == pytest.approx(measured_per_step, rel=0.15)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_peak_estimate_is_derived_terms_plus_the_fitted_one(model):
    c = cell(model, seq_len=300, batch_size=8, hidden_size=16, num_layers=2)
    assert peak_step_bytes(c) == (
        activation_bytes(c) + backward_working_set_bytes(c) + optimizer_bytes(c)
    )
    assert optimizer_bytes(c) == 3 * 4 * param_count(c)
    # the fitted term is B·T·H·backward_units floats per layer
    expected = 4 * 8 * 300 * 16 * MODELS[model].backward_units * 2
    assert backward_working_set_bytes(c) == pytest.approx(expected, abs=1)


def test_fit_point_names_the_fitted_configuration_only():
    fit = cell(
        "rnn",
        seq_len=BACKWARD_FIT.seq_len,
        batch_size=BACKWARD_FIT.batch_size,
        hidden_size=BACKWARD_FIT.hidden_size,
        input_size=BACKWARD_FIT.input_size,
    )
    assert BACKWARD_FIT.matches(fit)
    assert BACKWARD_FIT.matches(fit.replace(seed=3))  # any seed
    for change in (
        {"seq_len": 2000},
        {"batch_size": 20},
        {"hidden_size": 128},
        {"num_layers": 2},
        {"bidirectional": True},
        {"input_size": 2},
    ):
        assert not BACKWARD_FIT.matches(fit.replace(**change))
