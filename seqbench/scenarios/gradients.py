"""Gradient norms, and the gradient that reaches each time step, ‖∂L/∂h_t‖.

torch's fused RNN modules do not expose intermediate hidden states to autograd, and
∂L/∂out[:, t] of the output tensor is only the head's direct path (zero for t < T with a
last-step head). The gradient through the recurrence needs the recurrence unrolled: the
fused module's own Parameters are shared with a one-step cell (RNNCell, LSTMCell, GRUCell
have the same weight layout), so h_t exists as a tensor whose .grad is the total derivative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from seqbench.models import RecurrentModel

MAX_SERIES_POINTS = 256  # curves are stored on at most this many log-spaced time steps


def _shared_cell(model: RecurrentModel, layer: int, suffix: str, input_size: int) -> nn.Module:
    """A one-step cell whose parameters are the fused module's own (gradients land there)."""
    rnn = model.rnn
    cell = model.spec.step_module(input_size, rnn.hidden_size, bias=rnn.bias,
                                  **model.spec.kwargs).to(rnn.weight_ih_l0.device)
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if rnn.bias else [])
    for name in names:
        setattr(cell, name, getattr(rnn, f"{name}_l{layer}{suffix}"))
    return cell


def unrolled_forward(model: RecurrentModel, x: torch.Tensor
                     ) -> tuple[torch.Tensor, list[list[torch.Tensor]]]:
    """Run the model step by step. Returns the head's output and the top layer's h_t per
    direction (each (B, H), retaining its gradient)."""
    rnn = model.rnn
    B, T, _ = x.shape
    directions = 2 if rnn.bidirectional else 1
    layer_input = x  # (B, T, I_l)
    top_states: list[list[torch.Tensor]] = []
    for layer in range(rnn.num_layers):
        is_top = layer == rnn.num_layers - 1
        outputs = []
        # unbind, not layer_input[:, t]: each slice's backward would allocate a zero tensor
        # of the whole sequence, making the pass O(T²); unbind's backward stacks once.
        inputs_t = layer_input.unbind(1)  # T × (B, I_l)
        for direction in range(directions):
            cell = _shared_cell(model, layer, "_reverse" if direction else "",
                                layer_input.shape[-1])
            h = x.new_zeros(B, rnn.hidden_size)  # h0 = 0, as the fused module defaults
            c = x.new_zeros(B, rnn.hidden_size)
            states: list[torch.Tensor] = [h] * T
            steps = range(T - 1, -1, -1) if direction else range(T)
            for t in steps:
                if model.spec.has_cell_state:
                    h, c = cell(inputs_t[t], (h, c))
                else:
                    h = cell(inputs_t[t], h)
                if is_top:
                    h.retain_grad()
                states[t] = h
            outputs.append(torch.stack(states, dim=1))  # (B, T, H)
            if is_top:
                top_states.append(states)
        layer_input = torch.cat(outputs, dim=-1)  # (B, T, D*H)
        if not is_top and rnn.dropout > 0:
            layer_input = F.dropout(layer_input, rnn.dropout, model.training)
    return model.head_on(layer_input), top_states


def log_spaced_steps(T: int, points: int = MAX_SERIES_POINTS) -> np.ndarray:
    """Up to `points` distinct 1-based time steps, log-spaced over 1..T, always with 1 and T."""
    if points >= T:
        return np.arange(1, T + 1)
    return np.unique(np.round(np.geomspace(1, T, num=min(points, T))).astype(int))


@dataclass
class GradientFlow:
    loss: float
    total_norm: float  # L2 norm over every parameter's gradient
    param_norms: dict[str, float]  # L2 norm per parameter tensor
    grad_h: np.ndarray  # (T,) ‖∂L/∂h_t‖, Frobenius over batch and D·H, t = 1..T
    grad_x: np.ndarray  # (T,) ‖∂L/∂x_t‖

    def summary(self) -> dict[str, float | None]:
        """Ratio ‖∂L/∂h_1‖/‖∂L/∂h_T‖ and the fitted decay factor per step back in time.

        The fit is least squares of ln‖∂L/∂h_t‖ on t over the nonzero steps; with slope b the
        gradient is multiplied by exp(-b) per step back (< 1 vanishing, > 1 exploding).
        Steps whose gradient underflowed to exactly 0 are counted, not fitted.
        """
        g = self.grad_h
        nonzero = np.flatnonzero((g > 0) & np.isfinite(g))
        decay = None
        if len(nonzero) >= 2:
            slope = np.polyfit(nonzero + 1, np.log(g[nonzero]), 1)[0]
            decay = float(np.exp(-slope))
        last = float(g[-1])
        return {
            "grad_h_first_over_last_ratio": float(g[0]) / last if last > 0 else None,
            "grad_h_decay_per_step_ratio": decay,
            "grad_h_underflow_steps_count": int(len(g) - len(nonzero)),
            "grad_h_first_norm": float(g[0]),
            "grad_h_last_norm": last,
            "grad_x_first_norm": float(self.grad_x[0]),
            "grad_x_last_norm": float(self.grad_x[-1]),
        }

    def series(self) -> dict[str, list[float]]:
        steps = log_spaced_steps(len(self.grad_h))
        return {"grad_h_step": steps.tolist(), "grad_h_norm": self.grad_h[steps - 1].tolist(),
                "grad_x_norm": self.grad_x[steps - 1].tolist()}


def gradient_flow(model: RecurrentModel, loss_fn, x: torch.Tensor,
                  y: torch.Tensor) -> GradientFlow:
    """One forward and backward pass through the unrolled model; gradients land in model's
    parameters (zeroed first)."""
    model.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_(True)
    output, top_states = unrolled_forward(model, x)
    loss = loss_fn(output, y)
    loss.backward()
    T = x.shape[1]
    grad_h = np.zeros(T)
    for t in range(T):
        parts = [states[t].grad for states in top_states if states[t].grad is not None]
        grad_h[t] = torch.linalg.vector_norm(torch.cat(parts, -1)).item() if parts else 0.0
    grad_x = torch.linalg.vector_norm(x.grad, dim=(0, 2)).cpu().double().numpy()  # (T,)
    return GradientFlow(loss=loss.item(), total_norm=parameter_grad_norm(model),
                        param_norms=parameter_grad_norms(model), grad_h=grad_h, grad_x=grad_x)


def parameter_grad_norms(model: nn.Module) -> dict[str, float]:
    return {name: (p.grad.norm().item() if p.grad is not None else 0.0)
            for name, p in model.named_parameters()}


def parameter_grad_norm(model: nn.Module) -> float:
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return 0.0
    return torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item()
