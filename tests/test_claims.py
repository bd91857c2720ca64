"""Claims judged on the committed fixture of real smoke results, and verdicts that flip when
the fixture's numbers are changed to contradict (or to support) a claim."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from seqbench.claims import CLAIMS, CONTRADICTED, INCONCLUSIVE, SUPPORTED, evaluate
from seqbench.report.data import Measured, measure
from seqbench.report.stats import ratio_ci, summarize
from seqbench.results import ResultSet, load_results

FIXTURE = Path(__file__).parent / "fixtures" / "report" / "smoke"
BY_ID = {c.id: c for c in CLAIMS}


@pytest.fixture(scope="module")
def loaded() -> ResultSet:
    return load_results([FIXTURE])


def _records(rs: ResultSet) -> list[dict]:
    return copy.deepcopy(rs.entries.to_dict("records"))


def _measure(rs: ResultSet, records: list[dict]) -> Measured:
    return measure(ResultSet(pd.DataFrame(records), rs.machines, rs.files))


def _verdict(claim_id: str, m: Measured):
    return BY_ID[claim_id].evaluate(m)


def _edit(records: list[dict], family: str, change: Callable[[dict], None],
          model: str | None = None, **where) -> int:
    """Apply `change` to each record of `family` (and `model`, and config values)."""
    n = 0
    for rec in records:
        if rec["family"] != family or (model and rec["model"] != model):
            continue
        if any(rec.get(k) != v for k, v in where.items()):
            continue
        change(rec)
        n += 1
    assert n, f"no {family} record matched"
    return n


def _with_seeds(records: list[dict], family: str, seeds: int) -> list[dict]:
    """Repeat each record of `family` as seeds 1..seeds-1, values nudged by 1% per seed, so
    the CI across seeds is real (a stand-in for more seeds of the same experiment)."""
    extra = []
    for rec in records:
        if rec["family"] != family:
            continue
        for s in range(1, seeds):
            twin = copy.deepcopy(rec)
            twin["seed"] = s
            twin["cell_key"] = f"{rec['cell_key']}-s{s}"
            twin["metrics"] = {k: v * (1 + 0.01 * s) if isinstance(v, float) else v
                               for k, v in rec["metrics"].items()}
            extra.append(twin)
    return records + extra


def test_every_claim_gets_a_verdict_and_a_reason(loaded):
    judged = evaluate(measure(loaded))
    assert [j.claim.id for j in judged] == [c.id for c in CLAIMS]
    for j in judged:
        assert j.outcome.verdict in (SUPPORTED, CONTRADICTED, INCONCLUSIVE)
        assert j.outcome.reason.strip()


def test_fixture_verdicts(loaded):
    m = measure(loaded)
    assert _verdict("char-parameter-count", m).verdict == SUPPORTED
    assert _verdict("char-computational-complexity", m).verdict == SUPPORTED
    assert _verdict("gru-lighter-than-lstm", m).verdict == SUPPORTED
    # One seed per model: outcomes that vary with the seed cannot be judged.
    for claim_id in ("char-long-term-dependency", "char-gradient-vanishing",
                     "rnn-gradient-vanishes", "guide-best-accuracy", "guide-short"):
        outcome = _verdict(claim_id, m)
        assert outcome.verdict == INCONCLUSIVE
        assert "1 seed per model" in outcome.reason
    headline = _verdict("headline-epoch-80", m)
    assert headline.verdict == INCONCLUSIVE and "full-batch regime" in headline.reason
    assert _verdict("guide-long", m).verdict == INCONCLUSIVE  # smoke has no T > 500


def test_evidence_carries_units(loaded):
    m = measure(loaded)
    params = _verdict("char-parameter-count", m)
    assert any("106 parameters" in e.numbers for e in params.evidence)
    memory = _verdict("char-memory-usage", m)
    assert all("MiB" in e.numbers for e in memory.evidence)


def test_parameter_count_flips_when_gru_outgrows_lstm(loaded):
    records = _records(loaded)

    def bigger(rec):
        rec["metrics"]["param_count"] = 10_000

    _edit(records, "throughput", bigger, model="gru")
    outcome = _verdict("char-parameter-count", _measure(loaded, records))
    assert outcome.verdict == CONTRADICTED
    assert "gru/lstm" in outcome.reason


def test_memory_usage_flips_when_rnn_uses_the_most(loaded):
    assert _verdict("char-memory-usage", measure(loaded)).verdict == SUPPORTED
    records = _records(loaded)

    def huge(rec):
        rec["metrics"]["peak_mem_bytes"] = 2**30

    _edit(records, "memory", huge, model="rnn")
    assert _verdict("char-memory-usage", _measure(loaded, records)).verdict == CONTRADICTED


def _scale_rounds(records: list[dict], model: str, factor: float) -> None:
    def scale(rec):
        rec["round_times_s"] = [t * factor for t in rec["round_times_s"]]

    _edit(records, "throughput", scale, model=model)


def _set_rounds(records: list[dict], model: str, seconds: float) -> None:
    def put(rec):
        rec["round_times_s"] = [seconds * (1 + 0.01 * i) for i in range(5)]

    _edit(records, "throughput", put, model=model)


def test_gru_faster_than_lstm_follows_the_timings(loaded):
    records = _records(loaded)
    _set_rounds(records, "gru", 0.001)
    _set_rounds(records, "lstm", 0.002)
    fast = _verdict("gru-faster-than-lstm", _measure(loaded, records))
    assert fast.verdict == SUPPORTED
    assert "tokens/s" in fast.evidence[0].numbers
    records = _records(loaded)
    _set_rounds(records, "gru", 0.002)
    _set_rounds(records, "lstm", 0.001)
    assert _verdict("gru-faster-than-lstm", _measure(loaded, records)).verdict == CONTRADICTED


def test_timings_within_noise_are_inconclusive(loaded):
    records = _records(loaded)
    _set_rounds(records, "gru", 0.001)
    _set_rounds(records, "lstm", 0.00102)  # 2% apart: inside the 5% noise margin
    outcome = _verdict("gru-faster-than-lstm", _measure(loaded, records))
    assert outcome.verdict == INCONCLUSIVE
    assert "within noise" in outcome.reason


def _ratio(value: float):
    def put(rec):
        rec["metrics"]["grad_h_first_over_last_ratio"] = value

    return put


def test_vanishing_claim_needs_seeds_then_follows_the_gradients(loaded):
    records = _with_seeds(_records(loaded), "gradients", 3)
    # Real numbers at T=32: every model's gradient to step 1 is ~1e-8 of the last step's,
    # so LSTM and GRU vanish too, against the claim.
    outcome = _verdict("rnn-gradient-vanishes", _measure(loaded, records))
    assert outcome.verdict == CONTRADICTED
    assert "lstm vanished" in outcome.reason
    # Make LSTM and GRU keep half their gradient at T=32: now the claim holds.
    for model in ("lstm", "gru"):
        _edit(records, "gradients", _ratio(0.5), model=model, seq_len=32)
    assert _verdict("rnn-gradient-vanishes", _measure(loaded, records)).verdict == SUPPORTED
    # And an RNN that does not vanish contradicts it again.
    _edit(records, "gradients", _ratio(0.5), model="rnn", seq_len=32)
    assert _verdict("rnn-gradient-vanishes", _measure(loaded, records)).verdict == CONTRADICTED


def _train_loss(at_80: float, steps: int = 100):
    def put(rec):
        rec["train_size"] = rec["batch_size"]  # the article's full-batch regime
        rec["series"] = dict(rec["series"])
        rec["series"]["train_loss"] = [0.69] * 80 + [at_80] + [at_80] * (steps - 81)

    return put


def test_headline_needs_runs_that_reach_epoch_80(loaded):
    records = _with_seeds(_records(loaded), "convergence", 3)

    def full_batch(rec):
        rec["train_size"] = rec["batch_size"]

    _edit(records, "convergence", full_batch, task="mean-sign")
    outcome = _verdict("headline-epoch-80", _measure(loaded, records))
    assert outcome.verdict == INCONCLUSIVE
    assert "reached epoch 80 (the longest ran 6 steps)" in outcome.reason


def test_headline_ordering_flips_with_the_losses(loaded):
    records = _with_seeds(_records(loaded), "convergence", 3)
    claimed = {"gru": 0.09, "lstm": 0.10, "rnn": 0.21}
    for model, loss in claimed.items():
        _edit(records, "convergence", _train_loss(loss), model=model, task="mean-sign")
    outcome = _verdict("headline-epoch-80", _measure(loaded, records))
    assert outcome.verdict == SUPPORTED
    assert any("0.0934" in e.numbers for e in outcome.evidence)  # the article's numbers
    for model, loss in {"gru": 0.3, "lstm": 0.10, "rnn": 0.21}.items():
        _edit(records, "convergence", _train_loss(loss), model=model, task="mean-sign")
    assert _verdict("headline-epoch-80", _measure(loaded, records)).verdict == CONTRADICTED


def _heldout(value: float):
    def put(rec):
        rec["metrics"]["final_heldout_loss"] = value

    return put


def test_guide_short_follows_the_heldout_losses(loaded):
    records = _with_seeds(_records(loaded), "convergence", 3)
    for model in ("rnn", "lstm", "gru"):
        _edit(records, "convergence", _heldout(0.5), model=model)
    assert _verdict("guide-short", _measure(loaded, records)).verdict == SUPPORTED
    _edit(records, "convergence", _heldout(1.0), model="rnn")
    outcome = _verdict("guide-short", _measure(loaded, records))
    assert outcome.verdict == CONTRADICTED
    assert "worse than" in outcome.reason


def test_missing_family_is_inconclusive_and_named(loaded):
    records = [r for r in _records(loaded) if r["family"] != "throughput"]
    m = _measure(loaded, records)
    assert "throughput" in m.missing_families
    outcome = _verdict("char-training-speed", m)
    assert outcome.verdict == INCONCLUSIVE
    assert "no throughput family" in outcome.reason


def test_summary_statistics():
    s = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (s.n, s.median, s.q1, s.q3) == (5, 3.0, 2.0, 4.0)
    assert s.ci_low <= s.median <= s.ci_high
    assert summarize([None, float("nan"), 2.0]).n == 1
    assert math.isnan(summarize([2.0]).ci_low)  # one value: no interval
    r = ratio_ci([1.0, 1.1, 0.9, 1.0], [2.0, 2.2, 1.8, 2.0])
    assert r.ratio == pytest.approx(0.5)
    assert r.ci_low <= 0.5 <= r.ci_high
    exact = ratio_ci([3.0], [4.0])
    assert (exact.ratio, exact.ci_low, exact.ci_high) == (0.75, 0.75, 0.75)
