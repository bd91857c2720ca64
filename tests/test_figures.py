"""The report's figures on small synthetic results, and the Kaplan–Meier helpers behind the
steps-to-solve figure: zeros stay on the gradient plots, panels exist only for setups that
were measured and carry their whole setup, and survival curves have the values KM gives."""

from __future__ import annotations

import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from seqbench.analysis.data import Measured, measure
from seqbench.analysis.survival import (
    convergence_runs,
    km_curve,
    median_steps_to_solve,
    solved_fraction,
)
from seqbench.analysis.units import unit_of
from seqbench.config import CellConfig
from seqbench.report import figures
from seqbench.results import load_results
from seqbench.schema import make_record

FLOOR = -46.0  # where an exact float32 zero is drawn: a decade below 1.4e-45


# --- synthetic results ---------------------------------------------------------------------


def _config(family: str, model: str, **kw) -> dict:
    task = kw.pop("task", "mean-sign")
    cfg = CellConfig(family=family, model=model, task="mean-sign", **kw).to_dict()
    cfg["task"] = task  # tasks another module may not register yet (output-sum) pass as-is
    return cfg


def _bench(
    i: int,
    cfg: dict,
    family: str,
    measurement: str,
    metrics: dict,
    series: dict | None = None,
    status: str = "ok",
) -> dict:
    return {
        "name": f"test_{family}[{i}]",
        "fullname": f"benchmarks/x.py::test_{family}[{i}]",
        "stats": {"median": 1.0, "rounds": 1},
        "extra_info": make_record(cfg, family, measurement, metrics, series, status),
    }


def _measured(tmp_path, benches: list[dict]) -> Measured:
    path = tmp_path / "benchmarks.json"
    path.write_text(
        json.dumps({"seqbench": {"schema_version": 2, "profile": "test"}, "benchmarks": benches})
    )
    return measure(load_results([path]))


@pytest.fixture
def drawn(monkeypatch):
    """The figures each draw function finished (readable after saving and closing)."""
    kept: list = []
    finish = figures._finish

    def keep(fig, path, title, handles=None):
        kept.append(fig)
        finish(fig, path, title, handles)

    monkeypatch.setattr(figures, "_finish", keep)
    return kept


def _lines(ax, label: str) -> list:
    return [ln for ln in ax.get_lines() if ln.get_label() == label]


def _assert_no_empty_axes(fig) -> None:
    for ax in fig.axes:
        assert ax.get_lines() or ax.patches, f"empty panel {ax.get_title()!r}"
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


# Two setups with different lengths, as in a report of the quick and seed profiles together.
GRAD_SETUPS = [
    (dict(batch_size=100, hidden_size=50, input_size=1), (10, 100, 400)),
    (dict(batch_size=1, hidden_size=20, input_size=10), (10, 50)),
]


def _gradient_results(tmp_path) -> Measured:
    """‖∂L/∂h_t‖ = f^(T−t)·(1 + seed/10), f = 0.3 (rnn), 0.25 (lstm), 0.5 (gru); a norm
    below 1e-45 is exactly 0, as float32 gradients become. At T=100 only gru keeps a nonzero
    ‖∂L/∂h_1‖ (set to 1e-20)."""
    benches, i = [], 0
    for setup, lengths in GRAD_SETUPS:
        for T in lengths:
            for model, factor in (("rnn", 0.3), ("lstm", 0.25), ("gru", 0.5)):
                for seed in (0, 1):
                    steps = np.arange(1, T + 1)
                    norms = factor ** (T - steps) * (1 + 0.1 * seed)
                    norms[norms < 1e-45] = 0.0
                    if T == 100 and model == "gru":
                        norms[0] = 1e-20
                    cfg = _config("gradients", model, seq_len=T, seed=seed, **setup)
                    metrics = {"grad_total_norm": 0.5, "grad_h_first_norm": norms[0]}
                    series = {"grad_h_step": steps.tolist(), "grad_h_norm": norms.tolist()}
                    benches.append(_bench(i, cfg, "gradients", "gradient_flow", metrics, series))
                    i += 1
    return _measured(tmp_path, benches)


# --- gradients -----------------------------------------------------------------------------


def test_gradient_flow_keeps_exact_zeros_at_the_floor(tmp_path, drawn):
    m = _gradient_results(tmp_path)
    figures.draw_gradient_flow(m, tmp_path / "g.png")
    (fig,) = drawn
    panels = {ax.get_title(): ax for ax in fig.axes}
    # Only the five measured (setup, T) combinations, not the 2 × 4 product of their values.
    assert sorted(panels) == sorted(
        [
            "mean-sign T=10 B=100 H=50 I=1",
            "mean-sign T=100 B=100 H=50 I=1",
            "mean-sign T=400 B=100 H=50 I=1",
            "mean-sign T=10 B=1 H=20 I=10",
            "mean-sign T=50 B=1 H=20 I=10",
        ]
    )
    _assert_no_empty_axes(fig)
    ax = panels["mean-sign T=400 B=100 H=50 I=1"]
    for model in ("rnn", "lstm", "gru"):
        (line,) = _lines(ax, model)
        x, y = line.get_xdata(), line.get_ydata()
        assert len(x) == 400  # every step, the exact zeros included
        np.testing.assert_array_equal(np.sort(x), np.arange(1, 401))  # k + 1 = T − t + 1
        assert y[np.argmax(x)] == FLOOR  # t = 1: exactly zero for every seed
    (rnn,) = _lines(ax, "rnn")
    x, y = rnn.get_xdata(), rnn.get_ydata()
    # k = 0 (x = 1): mean over seeds of log10(1) and log10(1.1).
    assert y[x == 1][0] == pytest.approx(np.log10(1.1) / 2)
    # k = 10: log10(0.3^10 · s), averaged over the two seeds in log10.
    assert y[x == 11][0] == pytest.approx(10 * np.log10(0.3) + np.log10(1.1) / 2)
    texts = [t.get_text() for t in ax.texts]
    assert "exact 0 (underflow)" in texts
    floors = [
        c.get_offsets()
        for c in ax.collections
        if len(c.get_offsets()) and np.all(np.asarray(c.get_offsets())[:, 1] == FLOOR)
    ]
    assert floors, "exact zeros are marked"
    assert "exact 0 (underflow)" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_grad_norm_vs_T_draws_models_whose_gradient_is_zero(tmp_path, drawn):
    m = _gradient_results(tmp_path)
    figures.draw_grad_norm_vs_T(m, tmp_path / "n.png")
    (fig,) = drawn
    assert len(fig.axes) == 4  # 2 setups × 2 quantities
    _assert_no_empty_axes(fig)
    for ax in fig.axes:
        assert "B=" in ax.get_title() and "H=" in ax.get_title() and "I=" in ax.get_title()
    (ax,) = [a for a in fig.axes if "h_1" in a.get_title() and "B=100" in a.get_title()]
    for model in ("rnn", "lstm", "gru"):
        (line,) = _lines(ax, model)
        assert list(line.get_xdata()) == [10, 100, 400]  # nothing dropped
    (rnn,) = _lines(ax, "rnn")
    assert rnn.get_ydata()[1] == FLOOR  # ‖∂L/∂h_1‖ = 0 at T=100, drawn, not dropped
    (gru,) = _lines(ax, "gru")
    assert gru.get_ydata()[1] == pytest.approx(-20.0)


def test_zero_floor_follows_the_dtype():
    assert figures.zero_floor_log10("float32") == FLOOR
    assert figures.zero_floor_log10("float64") == -325.0
    assert figures.zero_floor_log10("bfloat16") == FLOOR


# --- loss curves ---------------------------------------------------------------------------


def _convergence(
    i: int,
    model: str,
    task: str,
    T: int,
    losses: list[float],
    chance: float,
    seed: int = 0,
    lr: float = 1e-3,
    budget: int = 4,
    **metrics,
) -> dict:
    cfg = _config(
        "convergence",
        model,
        task=task,
        seq_len=T,
        batch_size=50,
        hidden_size=64,
        input_size=2,
        seed=seed,
        lr=lr,
        train_steps=budget,
        eval_every=2,
    )
    series = {
        "train_loss": losses,
        "grad_norm": [1.0] * len(losses),
        "eval_step": [2, 4],
        "heldout_loss": losses[1:4:2][:2],
        "heldout_accuracy": [float("nan")] * 2,
    }
    return _bench(i, cfg, "convergence", "training_run", {"chance_loss": chance, **metrics}, series)


def test_loss_curves_are_relative_to_chance_and_skip_tasks_without_one(tmp_path, drawn):
    benches = [
        _convergence(0, "lstm", "adding", 50, [0.5, 0.25, 0.1, 0.05], 0.25),
        _convergence(1, "lstm", "adding", 50, [0.5, 0.25, 0.1, 0.05], 0.25, lr=1e-4),
        _convergence(2, "rnn", "adding", 50, [0.3, 0.3, 0.3, 0.3], 0.25),
        _convergence(3, "rnn", "output-sum", 50, [1.0, 0.5, 0.2, 0.1], float("nan")),
    ]
    figures.draw_loss_curves(_measured(tmp_path, benches), tmp_path / "l.png")
    (fig,) = drawn
    (ax,) = fig.axes  # output-sum has no chance level: no panel, no crash
    assert ax.get_title() == "adding T=50 B=50 H=64 I=2, 4 train steps"
    assert ax.get_yscale() == "log"
    (train, _held) = _lines(ax, "lstm lr=1e-3")
    np.testing.assert_allclose(train.get_ydata(), [2.0, 1.0, 0.4, 0.2])
    # Once one model has several rates, every line names its rate.
    assert _lines(ax, "lstm lr=1e-4") and _lines(ax, "rnn lr=1e-3") and not _lines(ax, "rnn")
    chance = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert [list(ln.get_ydata()) for ln in chance] == [[1.0, 1.0]]
    assert "output-sum" in fig.get_suptitle()
    _assert_no_empty_axes(fig)


def test_runs_that_stop_early_are_drawn_one_by_one(tmp_path, drawn):
    # Seed 1 stopped after 2 steps (solved): a mean over steps 3–4 would hold seed 0 alone.
    benches = [
        _convergence(0, "gru", "adding", 50, [0.5, 0.25, 0.1, 0.05], 0.25),
        _convergence(1, "gru", "adding", 50, [0.4, 0.002], 0.25, seed=1),
    ]
    figures.draw_loss_curves(_measured(tmp_path, benches), tmp_path / "l.png")
    (ax,) = drawn[0].axes
    train = [ln for ln in _lines(ax, "gru") if ln.get_linestyle() == "-"]
    assert sorted(len(ln.get_xdata()) for ln in train) == [2, 4]
    assert not ax.collections  # no band: nothing was averaged


def test_bootstrap_mean_ci_resamples_the_units_present():
    frame = pd.DataFrame(
        {
            "x": [1, 1, 1, 2, 2, 3],
            "unit": ["a", "b", "c", "a", "b", "a"],
            "y": [0.0, 1.0, 2.0, 5.0, 7.0, 4.0],
        }
    )
    ci = figures.bootstrap_mean_ci(frame, "x", "y").set_index("x")
    np.testing.assert_allclose(ci["mean"], [1.0, 6.0, 4.0])
    assert 0.0 <= ci.loc[1, "ci_low"] < 1.0 < ci.loc[1, "ci_high"] <= 2.0
    assert 5.0 <= ci.loc[2, "ci_low"] < 6.0 < ci.loc[2, "ci_high"] <= 7.0  # c is absent there
    assert ci.loc[3, "ci_low"] == ci.loc[3, "ci_high"] == 4.0  # one unit: no spread
    again = figures.bootstrap_mean_ci(frame, "x", "y").set_index("x")
    pd.testing.assert_frame_equal(ci, again)  # fixed seed


def test_loss_curves_without_any_chance_level_are_not_drawn(tmp_path):
    m = _measured(
        tmp_path, [_convergence(0, "rnn", "output-sum", 50, [1.0, 0.5, 0.2, 0.1], float("nan"))]
    )
    with pytest.raises(figures.NoData, match="output-sum"):
        figures.draw_loss_curves(m, tmp_path / "l.png")


# --- steps to solve ------------------------------------------------------------------------


def test_km_curve_of_two_solved_runs_and_one_censored():
    km = km_curve([100, 200, 300], [True, True, False])
    assert list(km["step"]) == [0, 100, 200, 300]
    np.testing.assert_allclose(km["survival"], [1, 2 / 3, 1 / 3, 1 / 3])
    # Greenwood at step 100: var = S²·d/(n(n−d)) = (4/9)/6; the upper end is clipped to 1.
    assert km["ci_low"][1] == pytest.approx(2 / 3 - 1.959964 * math.sqrt(4 / 54), rel=1e-5)
    assert km["ci_high"][1] == 1.0
    assert np.all(km["ci_low"] <= km["survival"]) and np.all(km["survival"] <= km["ci_high"])


def test_km_curve_censoring_is_not_failure():
    # Censored at 50, the third run leaves the risk set: the solve at 100 is 1 of 2, not 1 of 3.
    km = km_curve([50, 100, 300], [False, True, False])
    np.testing.assert_allclose(km.set_index("step")["survival"][[100, 300]], [0.5, 0.5])
    never = km_curve([300, 300], [False, False])
    assert list(never["survival"]) == [1.0, 1.0] and list(never["step"]) == [0, 300]


def test_solved_fraction_and_median():
    f = solved_fraction([100, 200, 300], [True, True, False], by_step=150)
    assert (f.solved_fraction, f.solved_count, f.runs_count) == (pytest.approx(1 / 3), 1, 3)
    assert f.ci_low_fraction == 0.0 and f.ci_high_fraction == pytest.approx(
        1 - (2 / 3 - 1.959964 * math.sqrt(4 / 54)), rel=1e-5
    )
    assert solved_fraction([100, 200, 300], [True, True, False]).solved_fraction == pytest.approx(
        2 / 3
    )
    # No censoring before the step: the plain share.
    assert solved_fraction(
        [100, 100, 500, 500], [True, True, False, False]
    ).solved_fraction == pytest.approx(0.5)
    assert median_steps_to_solve([100, 200, 300], [True, True, False]) == 200
    assert median_steps_to_solve([100, 300, 300], [True, False, False]) is None


def _solve_run(
    i: int,
    model: str,
    T: int,
    solve: int | None,
    ran: int,
    lr: float = 1e-3,
    diverged: int | None = None,
    budget: int = 300,
) -> dict:
    cfg = _config(
        "convergence",
        model,
        task="adding",
        seq_len=T,
        batch_size=50,
        hidden_size=64,
        seed=i,
        lr=lr,
        train_steps=budget,
        eval_every=100,
        stop_when_solved=True,
    )
    metrics = {
        "chance_loss": 1 / 6,
        "steps_to_solve_step": solve,
        "solved_count": int(solve is not None),
        "steps_run_count": ran,
        "diverged_at_step": diverged,
    }
    return _bench(
        i,
        cfg,
        "convergence",
        "training_run",
        metrics,
        {"train_loss": [0.1] * 3, "eval_step": [100], "heldout_loss": [0.1]},
        status="diverged" if diverged else "ok",
    )


def test_convergence_runs_censor_where_a_run_could_still_have_solved(tmp_path):
    m = _measured(
        tmp_path,
        [
            _solve_run(0, "lstm", 50, 100, 100),
            _solve_run(1, "lstm", 50, None, 300),
            _solve_run(2, "lstm", 50, None, 42, diverged=42),
        ],
    )
    runs = convergence_runs(m.results.entries).sort_values("seed")
    assert list(runs["step"]) == [100, 300, 300]  # the diverged run at the budget, not 42
    assert list(runs["solved"]) == [True, False, False]
    assert runs["stop_when_solved"].all()


def test_steps_to_solve_figure(tmp_path, drawn):
    benches = [
        _solve_run(0, "lstm", 50, 100, 100),
        _solve_run(1, "lstm", 50, 200, 200),
        _solve_run(2, "lstm", 50, None, 300),
        _solve_run(3, "lstm", 50, 100, 100, lr=1e-4),
        *[_solve_run(4 + s, "gru", 50, None, 300) for s in range(3)],
        _solve_run(7, "gru", 100, None, 300),
    ]
    figures.draw_steps_to_solve(_measured(tmp_path, benches), tmp_path / "s.png")
    (fig,) = drawn
    assert len(fig.axes) == 2  # T = 50 and T = 100
    _assert_no_empty_axes(fig)
    (ax,) = [a for a in fig.axes if "T=50 " in a.get_title()]
    assert ax.get_title().startswith("adding T=50 B=50 H=64")
    assert "300 train steps" in ax.get_title() and "B=" in ax.get_title()
    (lstm,) = _lines(ax, "lstm lr=1e-3")
    assert lstm.get_linestyle() == "-" and lstm.get_drawstyle() == "steps-post"
    np.testing.assert_allclose(lstm.get_xdata(), [0, 100, 200, 300])
    np.testing.assert_allclose(lstm.get_ydata(), [1, 2 / 3, 1 / 3, 1 / 3])
    (other,) = _lines(ax, "lstm lr=1e-4")
    assert other.get_linestyle() == "--"
    (gru,) = _lines(ax, "gru lr=1e-3")
    assert set(gru.get_ydata()) == {1.0}
    notes = " ".join(t.get_text() for t in ax.texts)
    assert "never solved within 300 steps" in notes and "gru lr=1e-3" in notes
    assert "lstm" not in notes


def test_steps_to_solve_reads_records_before_the_metric(tmp_path):
    # Schema-1 records lack steps_to_solve_step: a solved run counts as solved by its last
    # step, an unsolved one is censored there.
    old = [
        _convergence(
            0, "rnn", "adding", 50, [0.5, 0.4, 0.3, 0.2], 0.25, solved_count=1, steps_run_count=4
        ),
        _convergence(
            1,
            "rnn",
            "adding",
            50,
            [0.5, 0.4, 0.3, 0.2],
            0.25,
            seed=1,
            solved_count=0,
            steps_run_count=4,
        ),
    ]
    runs = convergence_runs(_measured(tmp_path, old).results.entries)
    assert sorted(zip(runs["step"], runs["solved"], strict=True)) == [(4.0, False), (4.0, True)]


def test_steps_to_solve_needs_convergence_runs(tmp_path):
    m = _gradient_results(tmp_path)
    with pytest.raises(figures.NoData, match="convergence"):
        figures.draw_steps_to_solve(m, tmp_path / "s.png")


# --- every figure, and units ---------------------------------------------------------------


def test_draw_all_leaves_no_figure_open(tmp_path):
    m = _gradient_results(tmp_path)
    done = figures.draw_all(m, tmp_path / "figures")
    assert {d.spec.name for d in done if d.path} == {"gradient_flow", "grad_norm_vs_T"}
    assert "steps_to_solve" in {d.spec.name for d in done if d.missing}
    assert plt.get_fignums() == []


def test_new_unit_suffixes():
    assert unit_of("grad_h_first_over_last_log10_ratio") == "log10 ratio"
    assert unit_of("grad_h_decay_log10_per_step") == "log10 per step"
    assert unit_of("solved_fraction") == "fraction"
    assert unit_of("ceiling_fraction_ratio") == "ratio"
    assert unit_of("grad_h_decay_per_step_ratio") == "ratio"
    assert unit_of("steps_to_solve_step") == "steps"
