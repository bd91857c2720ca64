"""Training runs: loss curves, held-out evaluation, gradient norms and divergence."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from seqbench.config import CellConfig
from seqbench.scenarios.gradients import GradientFlow, gradient_flow, parameter_grad_norms
from seqbench.scenarios.workload import Workload, make_batch


@dataclass
class ConvergenceRun:
    chance_loss: float  # the task's chance-level loss at this T
    train_loss: list[float] = field(default_factory=list)  # per optimizer step
    grad_norm: list[float] = field(default_factory=list)  # total, before clipping, per step
    # train_loss and grad_norm hold one value per `stride` steps (their block mean); train_step
    # holds the step each block ends. Runs up to MAX_STORED_STEPS keep every step (stride 1).
    stride: int = 1
    train_step: list[int] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)  # steps at which held-out was measured
    heldout_loss: list[float] = field(default_factory=list)
    heldout_accuracy: list[float] = field(default_factory=list)  # NaN for regression tasks
    diverged_at_step: int | None = None  # first step whose loss or gradient was NaN/Inf
    solved: bool = False  # the task's criterion met at the last evaluation
    steps_to_solve: int | None = None  # first evaluation step meeting it; None: censored
    steps_run: int = 0
    param_grad_norms: dict[str, float] = field(default_factory=dict)  # at the last step
    # ‖f_impl(x) − f_fused(x)‖ / ‖f_fused(x)‖ on held-out inputs at initialisation, for an
    # implementation other than fused: how far its function is from torch.nn's on the
    # same weights (float error for loop and compiled; the article's GRU differs).
    init_output_gap: float | None = None
    final_flow: GradientFlow | None = None  # ‖∂L/∂h_t‖ after training

    @staticmethod
    def _steps_to_half(losses: list[float], steps: list[int], chance: float) -> int | None:
        """First step at which the loss is at most half the chance loss, or None."""
        for step, loss in zip(steps, losses, strict=False):
            if loss is not None and math.isfinite(loss) and loss <= chance / 2:
                return step
        return None

    def metrics(self) -> dict[str, float | int | None]:
        finite = self.heldout_loss and math.isfinite(self.heldout_loss[-1])
        accuracy = self.heldout_accuracy[-1] if self.heldout_accuracy else float("nan")
        out = {
            "chance_loss": self.chance_loss,
            "final_train_loss": self.train_loss[-1] if self.train_loss else None,
            "final_heldout_loss": self.heldout_loss[-1] if finite else None,
            "final_heldout_accuracy": accuracy if math.isfinite(accuracy) else None,
            "final_heldout_over_chance_ratio": self.heldout_loss[-1] / self.chance_loss
            if finite
            else None,
            "train_steps_to_half_chance_step": self._steps_to_half(
                self.train_loss, self.train_step, self.chance_loss
            ),
            "heldout_steps_to_half_chance_step": self._steps_to_half(
                self.heldout_loss, self.eval_step, self.chance_loss
            ),
            "solved_count": int(self.solved),
            "steps_to_solve_step": self.steps_to_solve,
            "diverged_at_step": self.diverged_at_step,
            "steps_run_count": self.steps_run,
            "grad_norm_median": float(np.median(self.grad_norm)) if self.grad_norm else None,
            "grad_norm_final": self.grad_norm[-1] if self.grad_norm else None,
        }
        if self.init_output_gap is not None:
            out["init_output_gap_vs_fused_ratio"] = self.init_output_gap
        out.update({f"param_grad_norm[{k}]": v for k, v in self.param_grad_norms.items()})
        if self.final_flow is not None:
            out.update({f"trained_{k}": v for k, v in self.final_flow.summary().items()})
        return out

    def series(self) -> dict[str, list[float]]:
        out = {
            "train_loss": self.train_loss,
            "grad_norm": self.grad_norm,
            **({"train_step": self.train_step} if self.stride > 1 else {}),
            "eval_step": self.eval_step,
            "heldout_loss": self.heldout_loss,
            "heldout_accuracy": self.heldout_accuracy,
        }
        if self.final_flow is not None:
            out.update({f"trained_{k}": v for k, v in self.final_flow.series().items()})
        return out


# Longer runs store block means of this many values at most: a 5000-step study of 200 runs would
# otherwise store two million numbers, twice, and the curves would be unreadable noise anyway.
MAX_STORED_STEPS = 1000


class _BlockMeans:
    """Accumulates per-step values and appends the mean of each full block of `stride`."""

    def __init__(self, run: ConvergenceRun) -> None:
        self.run, self.loss, self.grad = run, [], []

    def add(self, step: int, loss: float, grad: float) -> None:
        self.loss.append(loss)
        self.grad.append(grad)
        if len(self.loss) == self.run.stride:
            self.flush(step)

    def flush(self, step: int) -> None:
        if self.loss:
            self.run.train_loss.append(float(np.mean(self.loss)))
            self.run.grad_norm.append(float(np.mean(self.grad)))
            self.run.train_step.append(step)
            self.loss, self.grad = [], []


def _evaluate(
    w: Workload, x: torch.Tensor, y: torch.Tensor, chunk: int = 100
) -> tuple[float, float]:
    """Held-out loss and accuracy, in chunks so evaluation never needs more memory than a
    training batch."""
    w.model.eval()
    losses, accs, sizes = [], [], []
    with torch.inference_mode():
        for i in range(0, x.shape[0], chunk):
            out = w.model(x[i : i + chunk])
            losses.append(w.task.loss(out, y[i : i + chunk]).item())
            acc = w.task.accuracy(out, y[i : i + chunk])
            accs.append(float("nan") if acc is None else acc)
            sizes.append(out.shape[0])
    w.model.train()
    return float(np.average(losses, weights=sizes)), float(np.average(accs, weights=sizes))


def train(cfg: CellConfig, measure_flow: bool = True) -> ConvergenceRun:
    """Adam for cfg.train_steps steps. NaN/Inf ends the run as divergence, not as a crash.

    With train_size set, the model trains on that fixed set (the article's full-batch
    regime: 100 sequences reused every epoch); otherwise each step draws a fresh batch.
    """
    w = Workload.build(cfg)
    run = ConvergenceRun(
        chance_loss=w.task.chance_loss(cfg.seq_len),
        stride=max(1, math.ceil(cfg.train_steps / MAX_STORED_STEPS)),
    )
    blocks = _BlockMeans(run)
    data_gen = torch.Generator().manual_seed(cfg.seed)
    if cfg.train_size is not None:
        train_x, train_y = make_batch(cfg, cfg.train_size, data_gen)
    heldout_x, heldout_y = w.heldout()
    run.init_output_gap = w.output_gap_vs_fused(heldout_x[:100])
    clip = cfg.clip_grad_norm if cfg.clip_grad_norm is not None else math.inf
    progress = tqdm(
        total=cfg.train_steps,
        desc=f"train {cfg.cell_id}",
        unit="step",
        leave=False,
        disable=os.environ.get("SEQBENCH_PROGRESS") == "0",
    )
    for step in range(1, cfg.train_steps + 1):
        if cfg.train_size is None:
            x, y = make_batch(cfg, cfg.batch_size, data_gen)
        else:
            start = ((step - 1) * cfg.batch_size) % cfg.train_size
            x = train_x[start : start + cfg.batch_size]
            y = train_y[start : start + cfg.batch_size]
        loss = w.task.loss(w.model(x), y)
        w.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # clip_grad_norm_ returns the total norm before clipping; max_norm=inf only measures.
        grad_norm = torch.nn.utils.clip_grad_norm_(w.model.parameters(), clip).item()
        loss_value = loss.item()
        run.steps_run = step
        blocks.add(step, loss_value, grad_norm)
        if not (math.isfinite(loss_value) and math.isfinite(grad_norm)):
            run.diverged_at_step = step
            break
        w.optimizer.step()
        progress.update(1)
        if step % cfg.eval_every == 0 or step == cfg.train_steps:
            loss_h, acc_h = _evaluate(w, heldout_x, heldout_y)
            run.eval_step.append(step)
            run.heldout_loss.append(loss_h)
            run.heldout_accuracy.append(acc_h)
            progress.set_postfix(heldout_loss=f"{loss_h:.4f}")
            if not math.isfinite(loss_h):
                run.diverged_at_step = step
                break
            solved = w.task.is_solved(loss_h, acc_h if math.isfinite(acc_h) else None, cfg.seq_len)
            if solved and run.steps_to_solve is None:
                run.steps_to_solve = step
            if solved and cfg.stop_when_solved:
                break
    blocks.flush(run.steps_run)
    progress.close()
    run.param_grad_norms = parameter_grad_norms(w.model)
    if run.diverged_at_step is None and run.heldout_loss:
        acc = run.heldout_accuracy[-1]
        run.solved = w.task.is_solved(
            run.heldout_loss[-1], acc if math.isfinite(acc) else None, cfg.seq_len
        )
        if measure_flow:
            n = min(cfg.batch_size, heldout_x.shape[0])
            run.final_flow = gradient_flow(w.model, w.task.loss, heldout_x[:n], heldout_y[:n])
    return run
