"""Gradient norms, and the gradient that reaches each time step, ‖∂L/∂h_t‖.

torch's fused RNN modules do not expose intermediate hidden states to autograd, and
∂L/∂out[:, t] of the output tensor is only the head's direct path (zero for t < T with a
last-step head). The gradient through the recurrence needs the recurrence unrolled: the
fused module's own Parameters are shared with a one-step cell (RNNCell, LSTMCell, GRUCell
have the same weight layout), so h_t exists as a tensor whose .grad is the total derivative.

Norms are taken in float64 after scaling by the largest magnitude, ‖g‖ = s·‖g/s‖ with
s = max|g_i| (the scaling of LAPACK's dnrm2 and of Blue, "A portable Fortran program to find
the Euclidean norm of a vector", ACM TOMS 4(1), 1978). A float32 norm squares float32 values:
every element below about 1e-23 squares to zero, and the smallest norm it can return is
sqrt(1.4e-45) = 3.7e-23 (the square root of float32's smallest subnormal), so gradients of
1e-30 would read as 0 although they are not. Scaled, a norm is 0 exactly when every element
of the gradient is 0: "underflow" below means the gradient itself, not its norm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from seqbench.implementations.loop import shared_cell
from seqbench.models.recurrent import RecurrentModel

MAX_SERIES_POINTS = 256  # curves are stored on at most this many log-spaced time steps


def unrolled_forward(
    model: RecurrentModel, x: torch.Tensor
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
            cell = shared_cell(rnn, model.spec, layer, direction, layer_input.shape[-1])
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
    """Up to `points` distinct 1-based time steps over 1..T, always with 1 and T.

    Half are log-spaced forward from t = 1 and half backward from t = T (k = T − t log-spaced
    from 0): the gradient is read in steps back from the loss, where it changes fastest, and a
    forward-only spacing would leave the last hundreds of steps of a long sequence unsampled.
    """
    if points >= T:
        return np.arange(1, T + 1)
    front = np.geomspace(1, T, num=points // 2)
    back = T + 1 - np.geomspace(1, T, num=points - points // 2)  # k + 1 log-spaced
    steps = np.unique(np.round(np.concatenate([front, back])).astype(int))
    return steps[(steps >= 1) & (steps <= T)]


def l2_norm(g: torch.Tensor, dim: int | tuple[int, ...] | None = None) -> torch.Tensor:
    """Euclidean norm in float64, scaled by the largest magnitude so nothing squares to 0.

    Over all elements (dim None) or over `dim`. Returns a float64 tensor; an entry is 0 exactly
    when every element it covers is 0, inf when one is infinite, NaN when one is NaN.
    """
    g = g.detach().double()
    if dim is None:
        g, dim = g.reshape(-1), 0
    scale = torch.amax(g.abs(), dim=dim, keepdim=True)
    # All-zero slices keep scale 1 (and norm 0); an infinite element makes the norm infinite
    # (g/inf would be NaN).
    safe = torch.where((scale > 0) & torch.isfinite(scale), scale, torch.ones_like(scale))
    norm = torch.linalg.vector_norm(g / safe, dim=dim) * safe.squeeze(dim)
    return torch.where(torch.isposinf(scale.squeeze(dim)), scale.squeeze(dim), norm)


@dataclass
class GradientFlow:
    loss: float  # the batch-mean loss of the pass
    total_norm: float  # L2 norm over every parameter's gradient (float64, scaled)
    param_norms: dict[str, float]  # L2 norm per parameter tensor (float64, scaled)
    grad_h: np.ndarray  # (T,) ‖∂L/∂h_t‖, Frobenius over batch and D·H, t = 1..T; 0 = exact 0
    grad_x: np.ndarray  # (T,) ‖∂L/∂x_t‖, Frobenius over batch and input features
    # The model dtype's smallest normal number: a gradient below it is subnormal (or 0).
    tiny: float = 0.0

    def summary(self) -> dict[str, float | None]:
        """Ratios of the first and last step's gradient, the fitted decay per step back in
        time, and the steps whose gradient is exactly zero.

        The fit is least squares of ln‖∂L/∂h_t‖ on t over the steps with a nonzero finite
        norm; with slope b the gradient is multiplied by exp(−b) per step back (< 1
        vanishing, > 1 exploding), i.e. by 10^(−b/ln 10): that exponent is
        grad_h_decay_log10_per_step (negative vanishing, e.g. −0.25 is a factor 10 lost every
        4 steps back). Steps whose gradient is exactly 0 (every element, in the model's own
        dtype) are counted, not fitted: their logarithm does not exist. So are steps whose
        norm is below the dtype's smallest normal number (`tiny`): their elements are
        subnormal, with a few bits of precision left, and pile up at float32's floor near
        1e-44 instead of decaying (GRU at T ≥ 1000: hundreds of steps at 1e-44, which a fit
        through them would read as no decay at all).
        """
        g = self.grad_h
        nonzero = np.flatnonzero((g > 0) & (g >= self.tiny) & np.isfinite(g))
        decay = log10_decay = None
        if len(nonzero) >= 2:
            slope = np.polyfit(nonzero + 1, np.log(g[nonzero]), 1)[0]
            decay = float(np.exp(-slope))
            log10_decay = float(-slope / np.log(10))
        first, last = float(g[0]), float(g[-1])
        both = first > 0 and last > 0 and np.isfinite(first) and np.isfinite(last)
        return {
            "grad_h_first_over_last_ratio": first / last if last > 0 else None,
            # A difference of logarithms, not log10 of the ratio: finite even where the
            # ratio itself would underflow float64 (below 1e-308).
            "grad_h_first_over_last_log10_ratio": float(np.log10(first) - np.log10(last))
            if both
            else None,
            "grad_h_decay_per_step_ratio": decay,
            "grad_h_decay_log10_per_step": log10_decay,
            "grad_h_underflow_steps_count": int(np.count_nonzero((g == 0) | (g < self.tiny))),
            "grad_h_first_norm": first,
            "grad_h_last_norm": last,
            "grad_x_first_norm": float(self.grad_x[0]),
            "grad_x_last_norm": float(self.grad_x[-1]),
        }

    def series(self) -> dict[str, list[float]]:
        steps = log_spaced_steps(len(self.grad_h))
        return {
            "grad_h_step": steps.tolist(),
            "grad_h_norm": self.grad_h[steps - 1].tolist(),
            "grad_x_norm": self.grad_x[steps - 1].tolist(),
        }


def gradient_flow(model: RecurrentModel, loss_fn, x: torch.Tensor, y: torch.Tensor) -> GradientFlow:
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
        grad_h[t] = l2_norm(torch.cat(parts, -1)).item() if parts else 0.0
    grad_x = l2_norm(x.grad, dim=(0, 2)).cpu().numpy()  # (T,)
    return GradientFlow(
        loss=loss.item(),
        total_norm=parameter_grad_norm(model),
        param_norms=parameter_grad_norms(model),
        grad_h=grad_h,
        grad_x=grad_x,
        tiny=float(torch.finfo(x.dtype).tiny),
    )


def parameter_grad_norms(model: nn.Module) -> dict[str, float]:
    """L2 norm of each parameter's gradient (0.0 for a parameter without one)."""
    return {
        name: (l2_norm(p.grad).item() if p.grad is not None else 0.0)
        for name, p in model.named_parameters()
    }


def parameter_grad_norm(model: nn.Module) -> float:
    """L2 norm over every parameter's gradient, as if all were one vector."""
    norms = [l2_norm(p.grad).item() for p in model.parameters() if p.grad is not None]
    # math.hypot scales too: the sum of squares of tiny norms would underflow float64 as well.
    return math.hypot(*norms) if norms else 0.0
