"""The per-time-step gradient ‖∂L/∂h_t‖ against an independent autograd reference, and norms
that do not underflow before the gradient itself does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqbench.config import CellConfig
from seqbench.models import MODELS
from seqbench.scenarios.gradients import (
    GradientFlow,
    gradient_flow,
    l2_norm,
    log_spaced_steps,
    unrolled_forward,
)
from seqbench.scenarios.workload import Workload


def workload(model: str, T: int = 6, dtype: str = "float64", **kw) -> Workload:
    c = CellConfig(
        family="gradients",
        model=model,
        task="mean-sign",
        seq_len=T,
        batch_size=3,
        input_size=2,
        hidden_size=4,
        dtype=dtype,
        **kw,
    )
    return Workload.build(c)


def reference_grad_h(w: Workload) -> np.ndarray:
    """‖∂L/∂h_t‖ computed differently: rerun the fused module from h_t on x_{t+1..T} and
    differentiate the loss with respect to that initial state (c_t held fixed for LSTM)."""
    rnn, T = w.model.rnn, w.x.shape[1]
    with torch.no_grad():
        _out, _ = rnn(w.x)  # (B, T, H): h_t for every t
        states = []
        h, c = None, None
        for t in range(T):  # recover c_t too, one step at a time through the fused module
            _step_out, state = rnn(
                w.x[:, t : t + 1], None if t == 0 else ((h, c) if c is not None else h)
            )
            if isinstance(state, tuple):
                h, c = state
            else:
                h = state
            states.append((h.clone(), None if c is None else c.clone()))
    norms = []
    for t in range(T):
        h_t = states[t][0].clone().requires_grad_(True)
        if t == T - 1:
            logits = w.model.head(h_t[-1])
        else:
            init = (h_t, states[t][1]) if states[t][1] is not None else h_t
            rest, _ = rnn(w.x[:, t + 1 :], init)
            logits = w.model.head(rest[:, -1])
        loss = w.task.loss(logits, w.y)
        (g,) = torch.autograd.grad(loss, h_t)
        norms.append(g.norm().item())
    return np.array(norms)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_grad_h_matches_reference(model):
    w = workload(model)
    flow = gradient_flow(w.model, w.task.loss, w.x, w.y)
    np.testing.assert_allclose(flow.grad_h, reference_grad_h(w), rtol=1e-9, atol=1e-12)
    assert np.all(flow.grad_h[:-1] > 0)  # the recurrence carries gradient to t < T


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, False), (2, True)])
def test_unrolled_parameter_gradients_match_fused_module(model, layers, bidirectional):
    w = workload(model, num_layers=layers, bidirectional=bidirectional)
    flow = gradient_flow(w.model, w.task.loss, w.x, w.y)
    unrolled = {n: p.grad.clone() for n, p in w.model.named_parameters()}
    x = w.x.clone().requires_grad_(True)
    w.model.zero_grad()
    loss = w.task.loss(w.model(x), w.y)
    loss.backward()
    assert flow.loss == pytest.approx(loss.item(), rel=1e-12)
    for name, p in w.model.named_parameters():
        torch.testing.assert_close(unrolled[name], p.grad, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(flow.grad_x, x.grad.norm(dim=(0, 2)).numpy(), rtol=1e-9)
    assert flow.total_norm == pytest.approx(
        torch.stack([p.grad.norm() for p in w.model.parameters()]).norm().item(), rel=1e-9
    )


def test_summary_fits_a_known_geometric_decay():
    T = 50
    g = 0.9 ** np.arange(T)[::-1]  # ‖∂L/∂h_t‖ = 0.9^(T-t)
    flow = GradientFlow(1.0, 1.0, {}, g, g)
    s = flow.summary()
    assert s["grad_h_decay_per_step_ratio"] == pytest.approx(0.9)
    assert s["grad_h_first_over_last_ratio"] == pytest.approx(0.9 ** (T - 1))
    assert s["grad_h_underflow_steps_count"] == 0
    assert s["grad_h_first_over_last_log10_ratio"] == pytest.approx((T - 1) * np.log10(0.9))
    assert s["grad_h_decay_log10_per_step"] == pytest.approx(np.log10(0.9))


def test_summary_counts_exact_zeros_and_fits_around_them():
    g = np.array([0.0, 0.0, 1e-40, 1e-30, 1e-20, 1e-10, 1.0])  # a factor 1e10 per step
    s = GradientFlow(1.0, 1.0, {}, g, g).summary()
    assert s["grad_h_underflow_steps_count"] == 2
    assert s["grad_h_first_over_last_ratio"] == 0.0
    assert s["grad_h_first_over_last_log10_ratio"] is None  # log of an exact 0
    assert s["grad_h_decay_log10_per_step"] == pytest.approx(-10.0)
    assert s["grad_h_decay_per_step_ratio"] == pytest.approx(1e-10)
    tiny = GradientFlow(1.0, 1.0, {}, np.array([1e-300, 1e-200, 1e10]), np.ones(3)).summary()
    # The ratio underflows float64 to 0; its log10 does not.
    assert tiny["grad_h_first_over_last_log10_ratio"] == pytest.approx(-310.0)
    assert tiny["grad_h_underflow_steps_count"] == 0


def test_summary_does_not_fit_the_subnormal_floor():
    # GRU at T=1000 (the quick run of 2026-11-28, float32 norms): 0.6 per step back until
    # float32's subnormal floor, then hundreds of steps at about 1e-44. Fitted through the
    # floor, the decay read 0.95.
    tiny = float(torch.finfo(torch.float32).tiny)
    decaying = 0.6 ** np.arange(150)[::-1]  # 1 at t=T down to 0.6^149 ≈ 1e-33
    g = np.concatenate([np.full(800, 1.4e-44), decaying])
    s = GradientFlow(1.0, 1.0, {}, g, g, tiny=tiny).summary()
    assert s["grad_h_decay_per_step_ratio"] == pytest.approx(0.6, rel=1e-3)
    assert s["grad_h_underflow_steps_count"] == 800 + np.count_nonzero(decaying < tiny)
    # The measured pass records the float32 floor it used.
    assert gradient_flow_tiny() == tiny


def gradient_flow_tiny() -> float:
    cell = CellConfig(family="gradients", model="gru", task="mean-sign", seq_len=4,
                      batch_size=2, hidden_size=3, input_size=2)  # fmt: skip
    w = Workload.build(cell)
    return gradient_flow(w.model, w.task.loss, w.x, w.y).tiny


def test_l2_norm_does_not_square_into_underflow():
    g = torch.full((50,), 1e-25, dtype=torch.float32)  # float32 entries, squares ~1e-50
    assert np.sqrt(np.sum(g.numpy() ** 2)) == 0.0  # a float32 sum of squares loses them all
    assert l2_norm(g).item() == pytest.approx(1e-25 * np.sqrt(50), rel=1e-6)
    assert l2_norm(torch.zeros(3)).item() == 0.0
    assert l2_norm(torch.tensor([1.0, float("inf")])).item() == float("inf")
    assert np.isnan(l2_norm(torch.tensor([1.0, float("nan")])).item())
    x = torch.zeros(2, 3, 4)
    x[1, 2, 3] = 3e-30
    x[0, 0, 0], x[1, 0, 1] = 3.0, 4.0
    np.testing.assert_allclose(l2_norm(x, dim=(0, 2)).numpy(), [5.0, 0.0, 3e-30], rtol=1e-6)


def test_float32_gradient_norms_are_zero_only_where_the_gradient_is():
    """A recurrent weight of 1e-3·I shrinks the gradient a thousandfold per step back, so in
    float32 it passes through the range where squaring underflows (about 1e-23 to 1e-45)
    before the gradient itself becomes exactly 0."""
    w = workload("rnn", T=30, dtype="float32")
    with torch.no_grad():
        w.model.rnn.weight_hh_l0.copy_(1e-3 * torch.eye(4))
    flow = gradient_flow(w.model, w.task.loss, w.x, w.y)
    # The gradients themselves, from an independent pass.
    w.model.zero_grad()
    out, states = unrolled_forward(w.model, w.x.clone().requires_grad_(True))
    w.task.loss(out, w.y).backward()
    grads = [states[0][t].grad for t in range(30)]
    exact_zero = np.array([bool((g == 0).all()) for g in grads])
    float32_norm = np.array([torch.linalg.vector_norm(g).item() for g in grads])
    squared_away = (float32_norm == 0) & ~exact_zero
    assert squared_away.sum() >= 3  # the case under test: float32 squaring reads them as 0
    assert exact_zero.sum() >= 3
    assert np.all(flow.grad_h[~exact_zero] > 0)
    assert np.all(flow.grad_h[exact_zero] == 0)
    # float64 holds the squares of every float32 value, so its plain norm is the reference.
    want = np.array([torch.linalg.vector_norm(g.double()).item() for g in grads])
    np.testing.assert_allclose(flow.grad_h, want, rtol=1e-12)
    s = flow.summary()
    # Underflowed: exactly 0, or subnormal (below float32's smallest normal number).
    subnormal = ~exact_zero & (want < torch.finfo(torch.float32).tiny)
    assert subnormal.sum() >= 1
    assert s["grad_h_underflow_steps_count"] == exact_zero.sum() + subnormal.sum()
    assert s["grad_h_first_norm"] == 0.0 and s["grad_h_first_over_last_log10_ratio"] is None


def test_series_are_log_spaced_and_capped():
    steps = log_spaced_steps(20000)
    assert len(steps) <= 256 and steps[0] == 1 and steps[-1] == 20000
    assert np.all(np.diff(steps) > 0)
    assert list(log_spaced_steps(5)) == [1, 2, 3, 4, 5]
    # Both ends are dense: the first and the last ten steps are all there.
    assert set(range(1, 11)) <= set(steps) and set(range(19991, 20001)) <= set(steps)
