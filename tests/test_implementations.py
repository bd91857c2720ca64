"""Implementations of one model's math: same outputs and gradients where the math is the
same, and the article's GRU measured against torch's where it is not."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqbench.implementations import IMPLEMENTATIONS, ImplementationUnavailable
from seqbench.implementations import compiled as compiled_module
from seqbench.models import MODELS

# float32 over a few steps: the implementations sum the same products in other orders.
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def _fused(model: str, layers: int = 1, bidirectional: bool = False) -> nn.RNNBase:
    spec = MODELS[model]
    torch.manual_seed(0)
    return spec.sequence_module(
        3, 5, num_layers=layers, batch_first=True, bidirectional=bidirectional, **spec.kwargs
    )


def _outputs_and_grads(rnn: nn.RNNBase, model: str, impl: str, x: torch.Tensor):
    """The top layer's outputs and every parameter's gradient of their sum of squares."""
    rnn.zero_grad()
    out = IMPLEMENTATIONS[impl].bind(rnn, MODELS[model])(x)  # (B, T, D*H)
    out.pow(2).sum().backward()
    return out.detach(), {n: p.grad.clone() for n, p in rnn.named_parameters()}


def _same(rnn: nn.RNNBase, model: str, impl: str, x: torch.Tensor) -> None:
    want_out, want_grads = _outputs_and_grads(rnn, model, "fused", x)
    got_out, got_grads = _outputs_and_grads(rnn, model, impl, x)
    assert got_out.shape == want_out.shape
    torch.testing.assert_close(got_out, want_out, **TOLERANCE)
    assert got_grads.keys() == want_grads.keys()
    for name in want_grads:
        torch.testing.assert_close(got_grads[name], want_grads[name], **TOLERANCE, msg=name)


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, True)])
def test_the_cell_loop_is_the_fused_module(model, layers, bidirectional):
    rnn = _fused(model, layers, bidirectional)
    _same(rnn, model, "loop", torch.randn(4, 7, 3, generator=torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("model", ["rnn", "lstm"])
def test_the_article_s_rnn_and_lstm_are_torch_s(model):
    rnn = _fused(model, 2, True)
    _same(rnn, model, "article", torch.randn(4, 7, 3, generator=torch.Generator().manual_seed(2)))


def test_the_article_s_gru_is_not_torch_s():
    rnn = _fused("gru")
    x = torch.randn(4, 7, 3, generator=torch.Generator().manual_seed(3))
    torch_out, _ = _outputs_and_grads(rnn, "gru", "fused", x)
    article_out, _ = _outputs_and_grads(rnn, "gru", "article", x)
    assert (torch_out - article_out).abs().max() > 1e-2  # the same weights, another function


def test_the_article_s_gru_is_torch_s_with_r_pinned_to_1_and_z_negated():
    """Where the two forms can agree, they do: with r = 1, r*(W h) = W (r*h); and σ(-a) =
    1 - σ(a) swaps which of h and h~ z weighs. This checks the article's equations term by
    term, not only that they differ."""
    torch_gru, article_gru = _fused("gru"), _fused("gru")
    H = torch_gru.hidden_size
    with torch.no_grad():
        for rnn in (torch_gru, article_gru):
            rnn.bias_ih_l0[:H] = 50.0  # r = σ(≥ 40) = 1 in float32
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(article_gru, name)[H : 2 * H] *= -1  # z's pre-activation negated
    x = torch.randn(4, 7, 3, generator=torch.Generator().manual_seed(4))
    want = IMPLEMENTATIONS["fused"].bind(torch_gru, MODELS["gru"])(x)
    got = IMPLEMENTATIONS["article"].bind(article_gru, MODELS["gru"])(x)
    torch.testing.assert_close(got, want, **TOLERANCE)


def test_implementations_share_the_fused_module_s_parameters():
    rnn = _fused("lstm")
    runner = IMPLEMENTATIONS["loop"].bind(rnn, MODELS["lstm"])
    x = torch.randn(2, 3, 3)
    before = runner(x).detach()
    with torch.no_grad():
        rnn.weight_hh_l0.add_(0.5)  # an optimizer step on the module...
    assert not torch.allclose(runner(x), before)  # ...is seen by the bound runner
    assert runner.first_call_s is not None and runner.first_call_s > 0


def test_compiled_without_a_compiler_is_unavailable_with_the_reason(monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(compiled_module.shutil, "which", lambda name: None)
    impl = IMPLEMENTATIONS["compiled"]
    reason = impl.unavailable(torch.device("cpu"))
    assert reason and "C++ compiler" in reason
    with pytest.raises(ImplementationUnavailable, match="C\\+\\+ compiler"):
        impl.bind(_fused("gru"), MODELS["gru"])


def test_a_compiler_failure_is_unavailable_not_a_crash(monkeypatch):
    def broken(*args, **kwargs):
        def call(*a, **k):
            raise RuntimeError("inductor: no working toolchain\nlong details")

        return call

    monkeypatch.setattr(compiled_module.torch, "compile", broken)
    runner = IMPLEMENTATIONS["compiled"].bind(_fused("rnn"), MODELS["rnn"])
    with pytest.raises(ImplementationUnavailable, match="RuntimeError: inductor: no working"):
        runner(torch.randn(2, 3, 3))


def test_the_compiled_loop_is_the_fused_module():
    reason = IMPLEMENTATIONS["compiled"].unavailable(torch.device("cpu"))
    if reason:
        pytest.skip(reason)
    torch._dynamo.reset()
    x = torch.randn(4, 6, 3, generator=torch.Generator().manual_seed(5))
    for model in ("rnn", "lstm", "gru"):
        _same(_fused(model), model, "compiled", x)


# --- the axis: config, cell ids, profiles, records ------------------------------------------


def test_the_implementation_is_named_in_the_cell_id_only_when_not_fused():
    from seqbench.config import CellConfig

    fused = CellConfig(family="throughput", model="gru", task="mean-sign", seq_len=100)
    assert fused.impl == "fused" and fused.cell_id == "gru-mean-sign-T100-B100-H50-s0"
    loop = fused.replace(impl="loop")
    assert loop.cell_id == "gru-mean-sign-T100-B100-H50-loop-s0"


def test_an_unknown_implementation_is_one_line(cli, tmp_path):
    from seqbench.errors import SeqbenchError
    from seqbench.profiles import Overrides

    with pytest.raises(SeqbenchError, match="unknown implementation 'jit'"):
        Overrides(impls=("jit",)).validate()
    done = cli("run", "--profile", "smoke", "--impls", "jit", "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and "unknown implementation 'jit'" in done.stderr
    assert "Traceback" not in done.stderr


def test_smoke_and_quick_cover_every_implementation():
    from seqbench.profiles import Overrides, build_cells

    smoke = build_cells("smoke")
    assert {c.impl for c in smoke} == set(IMPLEMENTATIONS)
    for impl in IMPLEMENTATIONS:
        assert {c.model for c in smoke if c.impl == impl} == {"rnn", "lstm", "gru"}
    only = build_cells("smoke", Overrides(impls=("article",)))
    assert only and {c.impl for c in only} == {"article"}
    quick = build_cells("quick")
    for impl in IMPLEMENTATIONS:
        lengths = {c.seq_len for c in quick if c.impl == impl and c.family == "throughput"}
        assert {100, 1000} <= lengths, (impl, lengths)


def test_records_from_before_the_axis_load_as_fused():
    from pathlib import Path

    from seqbench.results import load_results

    fixture = Path(__file__).parent / "fixtures" / "schema4_quick_excerpt.json"
    entries = load_results([fixture]).entries
    assert len(entries) == 4 and set(entries["impl"]) == {"fused"}


def test_the_forget_bias_variant_starts_with_forget_bias_one():
    from seqbench.config import CellConfig
    from seqbench.models import base_models
    from seqbench.models.recurrent import build_model

    cfg = CellConfig(family="convergence", model="lstm-fb1", task="adding", seq_len=5)
    rnn = build_model(cfg).rnn
    H = rnn.hidden_size
    total = rnn.bias_ih_l0 + rnn.bias_hh_l0  # torch adds the two
    assert torch.equal(total[H : 2 * H], torch.ones(H))
    default = build_model(cfg.replace(model="lstm")).rnn
    # Same seed, same draws: only the forget rows differ from the default LSTM.
    for rows in (slice(0, H), slice(2 * H, 4 * H)):
        assert torch.equal(rnn.bias_ih_l0[rows], default.bias_ih_l0[rows])
    assert torch.equal(rnn.weight_hh_l0, default.weight_hh_l0)
    assert "lstm-fb1" not in base_models()  # a variant: only the long profile runs it


def test_the_long_profile_trains_the_forget_bias_variant_and_quick_does_not():
    from seqbench.profiles import build_cells

    long_models = {c.model for c in build_cells("long")}
    assert long_models == {"rnn", "lstm", "gru", "lstm-fb1"}
    assert "lstm-fb1" not in {c.model for c in build_cells("quick")}


def test_a_model_trains_the_same_whichever_implementation_computes_it():
    """One optimizer step through the loop moves the fused module's own weights."""
    from seqbench.config import CellConfig
    from seqbench.models.recurrent import build_model

    cfg = CellConfig(family="throughput", model="gru", task="mean-sign", seq_len=6,
                     batch_size=3, hidden_size=4, impl="loop")  # fmt: skip
    model = build_model(cfg)
    before = model.rnn.weight_hh_l0.detach().clone()
    x = torch.randn(3, 6, 1)
    loss = model(x).pow(2).sum()
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(model.rnn.weight_hh_l0, before)
    assert sum(1 for _ in model.parameters()) == 6  # the cells add no parameters of their own


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("impl", ["loop", "article"])
def test_implementations_on_cuda(impl):
    rnn = _fused("lstm").cuda()
    x = torch.randn(4, 7, 3, device="cuda")
    _same(rnn, "lstm", impl, x)


def test_a_training_run_records_how_far_its_implementation_is_from_fused():
    from seqbench.config import CellConfig
    from seqbench.scenarios.convergence import train

    base = CellConfig(family="convergence", model="gru", task="adding", seq_len=6,
                      batch_size=4, hidden_size=8, train_steps=2, heldout_size=8,
                      eval_every=1, rounds=1, warmup_rounds=0)  # fmt: skip
    fused = train(base, measure_flow=False).metrics()
    assert "init_output_gap_vs_fused_ratio" not in fused
    loop = train(base.replace(impl="loop"), measure_flow=False).metrics()
    assert loop["init_output_gap_vs_fused_ratio"] < 1e-5  # the same function
    article = train(base.replace(impl="article"), measure_flow=False).metrics()
    assert article["init_output_gap_vs_fused_ratio"] > 1e-3  # another function


@pytest.mark.parametrize(
    ("model", "impl", "same_function"),
    [("lstm", "fused", None), ("rnn", "article", True), ("lstm", "article", True),
     ("gru", "loop", True), ("gru", "article", False)],
)  # fmt: skip
def test_the_forward_gap_to_fused_separates_rounding_from_another_function(
    model, impl, same_function
):
    from seqbench.config import CellConfig
    from seqbench.scenarios.workload import Workload

    cfg = CellConfig(family="throughput", model=model, task="mean-sign", seq_len=20,
                     batch_size=8, hidden_size=16, impl=impl)  # fmt: skip
    w = Workload.build(cfg)
    gap = w.output_gap_vs_fused(w.x)
    if same_function is None:
        assert gap is None  # fused is the reference
    elif same_function:
        assert gap < 1e-5  # float32 rounding only
    else:
        assert gap > 1e-2  # r before the recurrent matmul is another function


def test_the_long_profile_trains_the_article_s_gru_where_torch_s_learns():
    from seqbench.profiles import LONG_ARTICLE_GRU, LONG_SEEDS, build_cells

    article = [c for c in build_cells("long") if c.impl == "article"]
    assert {c.model for c in article} == {"gru"}
    assert len(article) == len(LONG_SEEDS) * sum(map(len, LONG_ARTICLE_GRU.values()))
