"""Profiles: which cells a sweep holds. Each is a plain function of the user's overrides.

Measured wall times on 2 cores are in README.md ("Profiles").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from seqbench.config import FAMILIES, TIMING_FAMILIES, CellConfig
from seqbench.errors import SeqbenchError
from seqbench.implementations import DEFAULT_IMPLEMENTATION, IMPLEMENTATIONS
from seqbench.models import MODELS, base_models
from seqbench.tasks import TASKS


def split_csv(text: str | None) -> tuple[str, ...]:
    """'a, b,,c' → ('a', 'b', 'c'): the comma lists of the CLI and the pytest options."""
    return tuple(v.strip() for v in text.split(",") if v.strip()) if text else ()


@dataclass(frozen=True)
class Overrides:
    """What the user narrows or changes on top of a profile (CLI or pytest options)."""

    models: tuple[str, ...] = ()  # keep only these models (empty: all the profile has)
    impls: tuple[str, ...] = ()  # keep only cells of these implementations (IMPLEMENTATIONS)
    tasks: tuple[str, ...] = ()  # keep only these tasks
    families: tuple[str, ...] = ()  # keep only these families
    seq_lens: tuple[int, ...] = ()  # replace the profile's sequence lengths
    seeds: tuple[int, ...] = ()  # keep only cells with these seeds
    device: str | None = None  # run every cell on this device
    threads: int | None = None  # torch threads for every cell
    lr: float | None = None  # Adam learning rate for every cell
    processes: int | None = None  # worker processes per timing cell (TIMING_FAMILIES)
    extra: dict = field(default_factory=dict)  # validation knobs merged into every cell.extra

    def validate(self) -> None:
        for m in self.models:
            if m not in MODELS:
                raise SeqbenchError(f"unknown model {m!r}: choose from {', '.join(sorted(MODELS))}")
        for i in self.impls:
            if i not in IMPLEMENTATIONS:
                raise SeqbenchError(
                    f"unknown implementation {i!r}: choose from {', '.join(IMPLEMENTATIONS)}"
                )
        for t in self.tasks:
            if t not in TASKS:
                raise SeqbenchError(f"unknown task {t!r}: choose from {', '.join(sorted(TASKS))}")
        for f in self.families:
            if f not in FAMILIES:
                raise SeqbenchError(f"unknown family {f!r}: choose from {', '.join(FAMILIES)}")
        for T in self.seq_lens:
            if T <= 0:
                raise SeqbenchError(f"sequence length must be a positive integer, got {T}")
        if self.device not in (None, "cpu", "cuda"):
            raise SeqbenchError(f"unknown device {self.device!r}: choose from cpu, cuda")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise SeqbenchError("device 'cuda' requested but torch sees no CUDA device")
        if self.threads is not None and self.threads <= 0:
            raise SeqbenchError(f"threads must be a positive integer, got {self.threads}")
        if self.lr is not None and not self.lr > 0:
            raise SeqbenchError(f"learning rate must be > 0, got {self.lr}")
        if self.processes is not None and self.processes <= 0:
            raise SeqbenchError(f"processes must be a positive integer, got {self.processes}")


def timing_rounds(
    batch_size: int, seq_len: int, tokens_budget: int, cap: int = 30, processes: int = 1
) -> int:
    """Rounds per worker process for a timing cell. In all, inversely proportional to its
    tokens per step, so a long cell is not repeated for minutes, never fewer than 3 (a median
    needs spread) nor more than `cap`; split over the processes, at least 2 in each (the
    interval comes from the processes, the rounds only steady each process's median)."""
    total = max(3, min(cap, tokens_budget // (batch_size * seq_len)))
    return total if processes == 1 else max(2, math.ceil(total / processes))


# A process of an article-sized timing cell times at least this many tokens (B·T per round),
# in at most SHORT_STEP_MAX_ROUNDS rounds. Why: a step at T=10 takes 0.3-2 ms and its rounds
# fall in a fast and a slow mode (GRU forward: 0.59-0.69 against 0.76-0.95 ms), so the median
# of 10 rounds jumps between them from process to process: at T=10 a process's median moved
# 5.8% (sd), against 2% at T >= 100, and three T=10 cells spread 1.10-1.13x over 5 whole runs
# (results/timing-study-xeon-rounds). 100 rounds of such a step cost under 0.3 s.
MIN_TIMED_TOKENS_PER_PROCESS = 100_000
SHORT_STEP_MAX_ROUNDS = 100


# Worker processes per timing cell in quick and seed: the least that shows between-process
# spread at all. Each costs its own warm-up round; at T=20000 a round is seconds.
TIMING_PROCESSES = 3


def _article_sizes(family: str, model: str, T: int, rounds_budget: int) -> CellConfig:
    # The article's headline configuration: batch 100, input 1, hidden 50, mean-sign.
    timed = family in TIMING_FAMILIES
    processes = TIMING_PROCESSES if timed else 1
    rounds = timing_rounds(100, T, rounds_budget, processes=processes)
    if timed:  # a short step: enough rounds for a steady median (MIN_TIMED_TOKENS_PER_PROCESS)
        short = math.ceil(MIN_TIMED_TOKENS_PER_PROCESS / (100 * T))
        rounds = max(rounds, min(SHORT_STEP_MAX_ROUNDS, short))
    return CellConfig(
        family=family,
        model=model,
        task="mean-sign",
        seq_len=T,
        batch_size=100,
        input_size=1,
        hidden_size=50,
        rounds=rounds if family != "memory" else 1,
        warmup_rounds=1 if family != "memory" else 0,
        processes=processes,
    )


def smoke() -> list[CellConfig]:
    """Every model (variants apart), task, family and implementation at tiny sizes (tests
    and CI). The implementations other than torch.nn's run the throughput family."""
    cells = []
    for model in base_models():
        base = dict(model=model, seq_len=8, batch_size=4, hidden_size=8, rounds=3, warmup_rounds=1)
        cells.append(CellConfig(family="throughput", task="mean-sign", **base))
        cells.append(CellConfig(family="memory", task="mean-sign", **base | {"rounds": 1}))
        cells.append(
            CellConfig(family="gradients", task="mean-sign", input_size=3, **base | {"rounds": 1})
        )
        cells.append(CellConfig(family="overhead", task="mean-sign", **base))
        cells.append(CellConfig(family="latency", task="mean-sign", **base | {"batch_size": 1}))
        for task in TASKS:
            cells.append(
                CellConfig(
                    family="convergence",
                    task=task,
                    train_steps=6,
                    heldout_size=8,
                    eval_every=3,
                    clip_grad_norm=1.0,
                    **base | {"rounds": 1},
                )
            )
    for impl in IMPLEMENTATIONS:
        if impl == DEFAULT_IMPLEMENTATION:
            continue
        for model in base_models():
            cells.append(
                CellConfig(
                    family="throughput",
                    model=model,
                    task="mean-sign",
                    impl=impl,
                    seq_len=8,
                    batch_size=4,
                    hidden_size=8,
                    rounds=3,
                    warmup_rounds=1,
                )
            )
    return cells


# The article's length, T=20000, is not in quick: its throughput, memory and gradient cells
# took 521 s of quick's 18 min (2026-12-02, a 116 GFLOP/s machine), more than the rest of
# the timing block. seed() measures throughput and memory there, beside the article's
# experiments at that length. Gradients add nothing at T=20000 that T=5000 does not show:
# at initialisation the gradient reaching h_t is a float32 zero beyond 150-200 steps back in
# every model (19808-19850 of T=20000's steps, results/quick of 2026-12-02).
QUICK_LENGTHS = (10, 100, 1000, 5000)
ARTICLE_LENGTH = 20000  # the article's headline length, measured by seed()
QUICK_SEEDS = (0, 1, 2)  # seeds for what varies with initialisation (gradients, convergence)
# Gradient decay is compared over seeds with a rank test, which needs ≥ 4 per model to reach
# 5% at all, and 6 to survive a Holm correction over a few comparisons (6 vs 6: p = 0.002).
# Cells of one seed at several T share its weights, and a claim takes one sample per seed
# (its longest T), so the extra seeds run only at T ≤ 1000 and one seed runs beyond it.
GRADIENT_SEEDS = (0, 1, 2, 3, 4, 5)
GRADIENT_SEEDS_MAX_LENGTH = 1000
GRADIENT_LONG_SEEDS = (0,)  # seeds of the gradient cells beyond GRADIENT_SEEDS_MAX_LENGTH
# The task quick's short runs train on. In 200 steps no run of adding or copy learned anything
# (0 of 36 solved in each of two whole quick runs, none below 0.92× its chance loss), so those
# runs decided nothing and took 2 of quick's 3 convergence minutes: the long profile trains
# them until they discriminate. output-sum has no chance level (its loss is unbounded below):
# it is the article's gradient experiment, run by seed().
QUICK_TASKS = ("mean-sign",)
IMPL_LENGTHS = (100, 1000)  # lengths at which quick times every implementation
LATENCY_LENGTHS = (10, 100, 1000)  # real-time inputs: a sentence to a few seconds of signal
# Tokens per latency cell: at B=1 the T=1000 cells get 50 rounds, T ≤ 100 the cap. A B=1 pass
# at T=1000 took 20-80 ms on 2 busy cores (GRU slowest), so the latency block takes about 7 s.
LATENCY_TOKENS_BUDGET = 50_000
LATENCY_MAX_ROUNDS = 100  # a B=1 pass at T=10 takes about 0.3 ms: a stable median is cheap


def quick() -> list[CellConfig]:
    """The default: the article's sizes at T ∈ QUICK_LENGTHS for throughput, memory and
    gradients (6 seeds up to T=1000, 1 beyond); the other implementations' throughput at
    T ∈ IMPL_LENGTHS; B=1 latency at T ∈ LATENCY_LENGTHS; short
    convergence runs on mean-sign at moderate T (3 seeds). Timing cells run in
    TIMING_PROCESSES worker processes each."""
    cells = []
    for family in ("throughput", "memory", "gradients"):
        for T in QUICK_LENGTHS:
            for model in base_models():
                cell = _article_sizes(family, model, T, rounds_budget=2_000_000)
                if family == "gradients":
                    seeds = (
                        GRADIENT_SEEDS if T <= GRADIENT_SEEDS_MAX_LENGTH else GRADIENT_LONG_SEEDS
                    )
                    cells.extend(cell.replace(rounds=1, seed=s) for s in seeds)
                else:
                    cells.append(cell)
    # The same math computed other ways (seqbench/implementations), throughput only: what a
    # Python loop of one-step cells, that loop compiled, and the article's equations cost
    # against torch.nn's fused module, at a short and a long length.
    for impl in IMPLEMENTATIONS:
        if impl == DEFAULT_IMPLEMENTATION:
            continue
        for T in IMPL_LENGTHS:
            for model in base_models():
                cell = _article_sizes("throughput", model, T, rounds_budget=2_000_000)
                cells.append(cell.replace(impl=impl))
    # Real time means B=1: one sequence in, its answer out, at the article's input and H.
    # Warm-up rounds: the first calls pay oneDNN's primitive set-up and the allocator's
    # first pages, which a real-time server pays once at start-up. One thread: at B=1, H=50
    # there is no work to split, and a second oneDNN thread only adds a barrier per step
    # (LSTM at T=8 measured 16-32 ms per pass at 2 threads on busy cores, 0.44 ms at 1).
    for T in LATENCY_LENGTHS:
        for model in base_models():
            cells.append(
                CellConfig(
                    family="latency",
                    model=model,
                    task="mean-sign",
                    seq_len=T,
                    batch_size=1,
                    input_size=1,
                    hidden_size=50,
                    warmup_rounds=3,
                    rounds=timing_rounds(
                        1,
                        T,
                        LATENCY_TOKENS_BUDGET,
                        cap=LATENCY_MAX_ROUNDS,
                        processes=TIMING_PROCESSES,
                    ),
                    processes=TIMING_PROCESSES,
                    threads=1,
                )
            )
    for task in QUICK_TASKS:
        for T in (50, 200):
            for model in base_models():
                for s in QUICK_SEEDS:
                    cells.append(
                        CellConfig(
                            family="convergence",
                            model=model,
                            task=task,
                            seq_len=T,
                            batch_size=32,
                            hidden_size=50,
                            lr=1e-3,
                            clip_grad_norm=1.0,
                            train_steps=200,
                            heldout_size=256,
                            eval_every=20,
                            seed=s,
                            rounds=1,
                            warmup_rounds=0,
                        )
                    )
    return cells


SEED_SEEDS = (0, 1, 2)  # seeds of the article's training experiments in seed()


def seed() -> list[CellConfig]:
    """The article's experiments at full size, and throughput and memory at its length."""
    cells = []
    # Seeds are the outer loop of the training experiments, so a run cut short holds all
    # three models of both experiments at its first seeds rather than some at every seed.
    for s in SEED_SEEDS:
        # Headline: T=20000, B=100, H=50, input 1, 100 full-batch epochs on 100 fixed
        # sequences, Adam lr 1e-3, no clipping, as the article ran it; held-out evaluation
        # added.
        for model in base_models():
            cells.append(
                CellConfig(
                    family="convergence",
                    model=model,
                    task="mean-sign",
                    seq_len=ARTICLE_LENGTH,
                    batch_size=100,
                    input_size=1,
                    hidden_size=50,
                    train_steps=100,
                    train_size=100,
                    heldout_size=100,
                    eval_every=10,
                    seed=s,
                    rounds=1,
                    warmup_rounds=0,
                )
            )
        # Experiment 3: the gradient norm (the grad_norm series) over 100 epochs of one fixed
        # sequence, T=10000, batch 1, input 10, hidden 20, loss = output.sum(), no clipping.
        # One held-out sequence: the loss is a sum over the batch, so a single sequence keeps
        # the held-out loss on the training loss's scale.
        for model in base_models():
            cells.append(
                CellConfig(
                    family="convergence",
                    model=model,
                    task="output-sum",
                    seq_len=10000,
                    batch_size=1,
                    input_size=10,
                    hidden_size=20,
                    train_steps=100,
                    train_size=1,
                    heldout_size=1,
                    eval_every=10,
                    seed=s,
                    rounds=1,
                    warmup_rounds=0,
                )
            )
    # Gradient vanishing: input 10, hidden 20, batch 1, fresh model per T, over 5 seeds.
    for T in (10, 50, 100, 500, 1000):
        for model in base_models():
            for s in range(5):
                cells.append(
                    CellConfig(
                        family="gradients",
                        model=model,
                        task="mean-sign",
                        seq_len=T,
                        batch_size=1,
                        input_size=10,
                        hidden_size=20,
                        seed=s,
                        rounds=1,
                        warmup_rounds=0,
                    )
                )
    # Throughput and peak memory at the article's length (quick stops at T=5000), and the
    # suite's own overhead there.
    for family in ("throughput", "memory"):
        for model in base_models():
            cells.append(_article_sizes(family, model, ARTICLE_LENGTH, rounds_budget=2_000_000))
    for model in base_models():
        cells.append(_article_sizes("overhead", model, ARTICLE_LENGTH, rounds_budget=0))
    return cells


# The long-range regime (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016; Bai et al. 2018):
# lengths at which the tasks separate the models within a few thousand steps on 2 cores.
LONG_SEEDS = (0, 1, 2, 3, 4)
# The article's GRU equations (implementations/article.py: r before the recurrent matmul, z
# weighing the candidate) trained where torch's GRU learns adding (T <= 200, lr 1e-3): does
# the function the article prints learn what torch's does? A Python loop, so only there.
LONG_ARTICLE_GRU = {"adding": (50, 100, 200)}
LONG_ARTICLE_GRU_LR = 1e-3


def _long_cell(model: str, task: str, T: int, lr: float, seed: int, impl: str) -> CellConfig:
    """One run of the long-range regime (the sizes and stopping rule long() states)."""
    return CellConfig(
        family="convergence",
        model=model,
        impl=impl,
        task=task,
        seq_len=T,
        batch_size=50,
        hidden_size=64,
        lr=lr,
        clip_grad_norm=1.0,
        train_steps=2000,
        heldout_size=1000,
        eval_every=100,
        stop_when_solved=True,
        seed=seed,
        rounds=1,
        warmup_rounds=0,
    )


def long() -> list[CellConfig]:
    """Adding and copy trained until solved or 2000 steps: B=50, H=64, Adam at each rate the
    article recommends for the model, clipping at 1, 1000 held-out sequences checked every 100
    steps, 5 seeds. Seeds are the outer loop, so a run cut short holds every configuration at
    fewer seeds rather than some configurations at all of them."""
    cells = []
    for s in LONG_SEEDS:
        # Each task says its lengths (Task.long_lengths), read here so that a task registered
        # at runtime (SEQBENCH_EXTENSIONS) joins the profile: adding 50-400, copy 20-100.
        for task, spec_task in TASKS.items():
            for T in spec_task.long_lengths:
                for model, spec in MODELS.items():
                    for lr in spec.recommended_lrs:
                        cells.append(_long_cell(model, task, T, lr, s, DEFAULT_IMPLEMENTATION))
        for task, lengths in LONG_ARTICLE_GRU.items():
            for T in lengths:
                cells.append(_long_cell("gru", task, T, LONG_ARTICLE_GRU_LR, s, "article"))
    return cells


PROFILES: dict[str, Callable[[], list[CellConfig]]] = {
    "smoke": smoke,
    "quick": quick,
    "seed": seed,
    "long": long,
}
DEFAULT_PROFILE = "quick"


def _at_lengths(cells: list[CellConfig], lengths: list[int]) -> list[CellConfig]:
    """The profile's cells moved to `lengths`. Profiles sweep T, so many cells collapse into
    one (same family and id), in the order they first appear; the one the profile measured
    nearest that length (in log T; the first on a tie) lends its settings, so a cell the
    profile has keeps its own rounds and a length it lacks takes its nearest neighbour's
    (rounds fall with T: T=10's 100 rounds of 1 ms at T=5000 would take minutes)."""
    chosen: dict[tuple[str, str], tuple[float, CellConfig]] = {}
    order: list[tuple[str, str]] = []
    for cell in cells:
        for T in lengths:
            new = cell.replace(seq_len=T)
            key = (new.family, new.cell_id)
            distance = abs(math.log(cell.seq_len / T))
            if key not in chosen:
                order.append(key)
            if key not in chosen or distance < chosen[key][0]:
                chosen[key] = (distance, new)
    return [chosen[key][1] for key in order]


def build_cells(profile: str, overrides: Overrides | None = None) -> list[CellConfig]:
    """The profile's cells after the user's overrides; every cell is validated."""
    if profile not in PROFILES:
        raise SeqbenchError(f"unknown profile {profile!r}: choose from {', '.join(PROFILES)}")
    overrides = overrides or Overrides()
    overrides.validate()
    cells = PROFILES[profile]()
    if overrides.seq_lens:
        cells = _at_lengths(cells, sorted(set(overrides.seq_lens)))
    cells = [
        c
        for c in cells
        if (not overrides.models or c.model in overrides.models)
        and (not overrides.impls or c.impl in overrides.impls)
        and (not overrides.tasks or c.task in overrides.tasks)
        and (not overrides.families or c.family in overrides.families)
        and (not overrides.seeds or c.seed in overrides.seeds)
    ]
    changes = {}
    if overrides.device:
        changes["device"] = overrides.device
    if overrides.threads:
        changes["threads"] = overrides.threads
    if overrides.lr:
        changes["lr"] = overrides.lr
    cells = [c.replace(**changes, extra=c.extra | overrides.extra) for c in cells]
    if overrides.processes:
        cells = [
            c.replace(processes=overrides.processes) if c.family in TIMING_FAMILIES else c
            for c in cells
        ]
    if not cells:
        raise SeqbenchError(f"profile {profile!r} has no cells left after the filters given")
    return cells
