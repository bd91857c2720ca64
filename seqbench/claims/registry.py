"""Every claim of the source tutorial article, as data: its characteristics table of RNN,
LSTM and GRU, its selection guide by sequence length, and the results its PyTorch
experiments print.

Each entry names the metric and the ordering or threshold the article implies and the check
that judges it; the wording follows the article. Thresholds are stated here, not in code.
"""

from __future__ import annotations

from seqbench.analysis.data import Measured
from seqbench.claims.equations import EquationsSpec, check_equations
from seqbench.claims.evidence import EXACT, MEMORY, SEEDS, SEEDS_SHARED_WEIGHTS, TIMING
from seqbench.claims.gradients import VanishingSpec, check_vanishing
from seqbench.claims.learning import LongRangeSpec, check_long_range
from seqbench.claims.model import Claim, Outcome, combine
from seqbench.claims.ranking import RankingSpec, check_ranking
from seqbench.claims.training import (
    HeadlineSpec,
    NotWorseSpec,
    SmallGradSpec,
    check_clipping,
    check_headline,
    check_not_measured,
    check_not_worse,
    check_small_grad,
)
from seqbench.tasks import short_range_tasks

# The long-term dependency rows are judged on the long-range tasks (Task.long_range: adding
# and copy, the standard tests of long time lags; LongRangeSpec reads them from the task
# registry), not on mean-sign, which a running sum solves. The held-out-loss part of best
# accuracy is judged on the other tasks that have a chance level (read when it is checked).

# The selection guide's bins: short < 100 ≤ medium ≤ 500 < long.
SHORT, MEDIUM, LONG = (None, 99), (100, 500), (501, None)


def _both(claim: Claim, m: Measured) -> Outcome:
    """A claim made of two sub-claims (spec: list of (name, Claim))."""
    return combine([(name, part.evaluate(m)) for name, part in claim.spec])


def _ranking(
    id: str,
    statement: str,
    spec: RankingSpec,
    group: str = "comparison",
    prop: str | None = None,
    article: dict[str, str] | None = None,
) -> Claim:
    return Claim(id, group, statement, check_ranking, spec, prop, article or {})


TRAIN_TOKENS = dict(
    metric="tokens_per_s",
    family="throughput",
    measurement="train_step",
    sampling=TIMING,
    higher_first=True,
)
FORWARD_TOKENS = dict(
    metric="tokens_per_s",
    family="throughput",
    measurement="forward",
    sampling=TIMING,
    higher_first=True,
)
HELDOUT = dict(
    metric="final_heldout_loss",
    family="convergence",
    measurement=None,
    sampling=SEEDS,
    learned_only=True,
)
# B=1 latency of one forward pass: what "real time" means (a stream served one request at a
# time), not batched throughput.
LATENCY = dict(metric="time_s", family="latency", measurement=None, sampling=TIMING)

CHARACTERISTICS: list[Claim] = [
    Claim(
        "char-long-term-dependency",
        "characteristics",
        "Long-term dependency: RNN poor, "
        "LSTM excellent, GRU good (on the long-range tasks, more runs solved and sooner is "
        "better).",
        check_long_range,
        LongRangeSpec(pairs=(("lstm", "gru"), ("gru", "rnn"), ("lstm", "rnn"))),
        "long-term dependency",
        {"rnn": "poor", "lstm": "excellent", "gru": "good"},
    ),
    _ranking(
        "char-gradient-vanishing",
        "Gradient vanishing: RNN severe, LSTM and GRU minimal "
        "(fitted per-step decay factor of ‖∂L/∂h_t‖ at initialisation; lower = more "
        "vanishing).",
        RankingSpec(
            "grad_h_decay_per_step_ratio",
            "gradients",
            "gradient_flow",
            (("rnn", "lstm"), ("rnn", "gru")),
            SEEDS_SHARED_WEIGHTS,
        ),
        "characteristics",
        "gradient vanishing",
        {"rnn": "severe", "lstm": "minimal", "gru": "minimal"},
    ),
    _ranking(
        "char-computational-complexity",
        "Computational complexity: RNN low, LSTM high, "
        "GRU medium (matrix FLOPs per training step).",
        RankingSpec(
            "train_step_flop", "throughput", "train_step", (("rnn", "gru"), ("gru", "lstm")), EXACT
        ),
        "characteristics",
        "computational complexity",
        {"rnn": "low", "lstm": "high", "gru": "medium"},
    ),
    _ranking(
        "char-parameter-count",
        "Parameter count: RNN least, LSTM most, GRU medium.",
        RankingSpec(
            "param_count", "throughput", "train_step", (("rnn", "gru"), ("gru", "lstm")), EXACT
        ),
        "characteristics",
        "parameter count",
        {"rnn": "least", "lstm": "most", "gru": "medium"},
    ),
    _ranking(
        "char-training-speed",
        "Training speed: RNN fast, LSTM slow, GRU medium "
        "(training-step tokens/s; higher is faster).",
        RankingSpec(**TRAIN_TOKENS, pairs=(("gru", "rnn"), ("lstm", "gru"))),
        "characteristics",
        "training speed",
        {"rnn": "fast", "lstm": "slow", "gru": "medium"},
    ),
    _ranking(
        "char-memory-usage",
        "Memory usage: RNN low, LSTM high, GRU medium (peak memory of one training step).",
        RankingSpec(
            "peak_mem_bytes", "memory", "memory_step", (("rnn", "gru"), ("gru", "lstm")), MEMORY
        ),
        "characteristics",
        "memory usage",
        {"rnn": "low", "lstm": "high", "gru": "medium"},
    ),
]

_GRU_PARAMS = _ranking(
    "gru-fewer-params",
    "GRU has fewer parameters than LSTM.",
    RankingSpec("param_count", "throughput", "train_step", (("gru", "lstm"),), EXACT),
)
_GRU_FLOPS = _ranking(
    "gru-less-compute",
    "GRU needs less computation than LSTM.",
    RankingSpec("train_step_flop", "throughput", "train_step", (("gru", "lstm"),), EXACT),
)
_MEDIUM_SPEED = _ranking(
    "guide-medium-speed",
    "GRU is faster than LSTM at 100 ≤ T ≤ 500.",
    RankingSpec(**TRAIN_TOKENS, pairs=(("lstm", "gru"),), lengths=MEDIUM),
)
_MEDIUM_LOSS = Claim(
    "guide-medium-loss",
    "guide",
    "GRU's held-out loss is not worse than LSTM's at 100 ≤ T ≤ 500.",
    check_not_worse,
    NotWorseSpec("gru", ("lstm",), MEDIUM),
)

_BEST_LONG = Claim(
    "guide-best-accuracy-long",
    "guide",
    "LSTM learns the long-range tasks best.",
    check_long_range,
    LongRangeSpec(pairs=(("lstm", "gru"), ("lstm", "rnn"))),
)
_BEST_LOSS = _ranking(
    "guide-best-accuracy-loss",
    "LSTM has the lowest held-out loss.",
    RankingSpec(**HELDOUT, pairs=(("lstm", "gru"), ("lstm", "rnn")), tasks=short_range_tasks),
    "guide",
)

GUIDE: list[Claim] = [
    Claim(
        "guide-short",
        "guide",
        "Short sequences (T < 100): a plain RNN may suffice (its "
        "held-out loss is not worse than the best of LSTM and GRU).",
        check_not_worse,
        NotWorseSpec("rnn", ("lstm", "gru"), SHORT),
    ),
    Claim(
        "guide-medium",
        "guide",
        "Medium sequences (100 ≤ T ≤ 500): GRU, fast and efficient "
        "(faster than LSTM, and its held-out loss not worse).",
        _both,
        [("speed", _MEDIUM_SPEED), ("loss", _MEDIUM_LOSS)],
    ),
    Claim(
        "guide-long",
        "guide",
        "Long sequences (T > 500): LSTM, more stable (its held-out "
        "loss is not worse than the best of GRU and RNN).",
        check_not_worse,
        NotWorseSpec("lstm", ("gru", "rnn"), LONG),
    ),
    _ranking(
        "guide-real-time",
        "Real-time: GRU computes fastest (B=1 latency of one forward pass below LSTM's and RNN's).",
        RankingSpec(**LATENCY, pairs=(("gru", "lstm"), ("gru", "rnn"))),
        "guide",
    ),
    Claim(
        "guide-best-accuracy",
        "guide",
        "Best accuracy: LSTM (on the long-range tasks: more "
        "runs solved, and sooner; elsewhere: lowest held-out loss where a model learned).",
        _both,
        [("long-range tasks", _BEST_LONG), ("held-out loss", _BEST_LOSS)],
    ),
]

OTHERS: list[Claim] = [
    _ranking(
        "gru-faster-than-lstm",
        "GRU is faster than LSTM (training-step tokens/s).",
        RankingSpec(**TRAIN_TOKENS, pairs=(("lstm", "gru"),)),
    ),
    Claim(
        "gru-lighter-than-lstm",
        "comparison",
        "GRU: fewer parameters, less computation than LSTM.",
        _both,
        [("parameters", _GRU_PARAMS), ("FLOPs", _GRU_FLOPS)],
    ),
    Claim(
        "rnn-gradient-vanishes",
        "gradients",
        "RNN's gradient falls sharply as T grows, while LSTM and GRU stay relatively stable.",
        check_vanishing,
        VanishingSpec(vanishing=("rnn",), stable=("lstm", "gru")),
    ),
    Claim(
        "headline-epoch-80",
        "headline",
        "Mean-sign, T = 20000: at epoch 80 the training "
        "loss orders GRU (0.0934) < LSTM (0.1023) < RNN (0.2145).",
        check_headline,
        HeadlineSpec(
            "mean-sign",
            80,
            {"rnn": 0.2145, "lstm": 0.1023, "gru": 0.0934},
            (("gru", "lstm"), ("lstm", "rnn")),
        ),
    ),
    Claim(
        "training-gradients-small",
        "gradients",
        "Gradient norms while training on a long "
        "sequence (T = 10000, batch 1, input 10, hidden 20, loss = output.sum(), 100 "
        "epochs) are very small.",
        check_small_grad,
        SmallGradSpec(task="output-sum", min_length=10000, small_below=1e-3),
    ),
    Claim(
        "clipping-prevents-explosion",
        "other",
        "Gradient clipping (clip_grad_norm_, max_norm = 1.0) prevents exploding gradients.",
        check_clipping,
    ),
    Claim(
        "bidirectional-both-directions",
        "other",
        "Bidirectional layers use both directions.",
        check_not_measured,
        "not measured: no benchmark family compares bidirectional models with unidirectional ones.",
    ),
    Claim(
        "equations",
        "other",
        "The RNN, LSTM and GRU equations as printed (PyTorch's GRU "
        "applies r after the recurrent matmul).",
        check_equations,
        # The article's RNN and LSTM equations are torch's; its GRU (r before the recurrent
        # matmul, Cho et al. 2014) is not, as its own note says.
        EquationsSpec(same=("rnn", "lstm"), different=("gru",)),
        across_impls=True,
    ),
]

CLAIMS: list[Claim] = CHARACTERISTICS + GUIDE + OTHERS
