"""The per-time-step gradient ‖∂L/∂h_t‖ against an independent autograd reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqbench.config import CellConfig
from seqbench.models import MODELS
from seqbench.scenarios.gradients import gradient_flow, log_spaced_steps
from seqbench.scenarios.workload import Workload


def workload(model: str, T: int = 6, **kw) -> Workload:
    c = CellConfig(family="gradients", model=model, task="mean-sign", seq_len=T, batch_size=3,
                   input_size=2, hidden_size=4, dtype="float64", **kw)
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
            _step_out, state = rnn(w.x[:, t:t + 1], None if t == 0 else
                                  ((h, c) if c is not None else h))
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
            rest, _ = rnn(w.x[:, t + 1:], init)
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
        torch.stack([p.grad.norm() for p in w.model.parameters()]).norm().item(), rel=1e-9)


def test_summary_fits_a_known_geometric_decay():
    from seqbench.scenarios.gradients import GradientFlow

    T = 50
    g = 0.9 ** np.arange(T)[::-1]  # ‖∂L/∂h_t‖ = 0.9^(T-t)
    flow = GradientFlow(1.0, 1.0, {}, g, g)
    s = flow.summary()
    assert s["grad_h_decay_per_step_ratio"] == pytest.approx(0.9)
    assert s["grad_h_first_over_last_ratio"] == pytest.approx(0.9 ** (T - 1))
    assert s["grad_h_underflow_steps_count"] == 0


def test_series_are_log_spaced_and_capped():
    steps = log_spaced_steps(20000)
    assert len(steps) <= 256 and steps[0] == 1 and steps[-1] == 20000
    assert np.all(np.diff(steps) > 0)
    assert list(log_spaced_steps(5)) == [1, 2, 3, 4, 5]
