"""`seqbench report` on the committed fixture of real smoke-size results (plus its throughput
entries derived as the other implementations): tables, figures, report.md and report.html
(the last in a real headless browser)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from seqbench.claims import CLAIMS
from seqbench.config import CellConfig
from seqbench.models.costs import param_count, train_step_flops
from seqbench.report import build_report
from seqbench.report.figures import FIGURES
from seqbench.report.tables import _independent_units
from seqbench.schema import cell_of_run_keys, run_key

FIXTURE = Path(__file__).parent / "fixtures" / "report" / "smoke"
FIXTURE_JSON = FIXTURE / "benchmarks.json"


def _with_implementations(data: dict) -> dict:
    """The fixture predates the implementations axis: its throughput entries again as each
    other implementation (the same rounds, 10% slower each), derived in memory for the
    report's plumbing, not numbers to quote."""
    extra_entries = []
    for slower, impl in enumerate(("loop", "compiled", "article"), start=1):
        for bench in data["benchmarks"]:
            info = bench["extra_info"]
            if info.get("family") != "throughput":
                continue
            twin = json.loads(json.dumps(bench))
            cfg = twin["extra_info"]["config"] | {"impl": impl}
            twin["extra_info"]["config"] = cfg
            twin["extra_info"]["schema_version"] = 5
            cell_id = CellConfig(**cfg).cell_id
            for key in ("name", "fullname", "param"):
                if key in twin and isinstance(twin[key], str):
                    twin[key] = twin[key].replace(f"[{twin['param']}]", f"[{cell_id}]")
            twin["param"] = cell_id
            data_s = twin["stats"].get("data") or []
            twin["stats"]["data"] = [t * (1 + 0.1 * slower) for t in data_s]
            twin["stats"]["median"] *= 1 + 0.1 * slower
            extra_entries.append(twin)
    return data | {"benchmarks": data["benchmarks"] + extra_entries}


@pytest.fixture(scope="module")
def raw() -> dict:
    return _with_implementations(json.loads(FIXTURE_JSON.read_text()))


@pytest.fixture(scope="module")
def report(tmp_path_factory, raw):
    inputs = tmp_path_factory.mktemp("inputs")
    (inputs / "benchmarks.json").write_text(json.dumps(raw))
    return build_report([inputs], tmp_path_factory.mktemp("report"))


def _table(report, name: str) -> pd.DataFrame:
    return pd.read_csv(report.folder / "tables" / f"{name}.csv")


def test_every_table_is_written(report):
    names = {p.stem for p in report.tables}
    assert {
        "metrics_long",
        "metric_summary",
        "timing_summary",
        "model_costs",
        "final_losses",
        "status",
        "loss_curves",
        "gradient_flow",
        "claims",
        "claims_evidence",
        "characteristics",
    } <= names
    assert all(p.stat().st_size > 0 for p in report.tables)


def test_long_table_has_one_row_per_cell_and_metric(report, raw):
    long = _table(report, "metrics_long")
    expected = sum(
        1
        for b in raw["benchmarks"]
        if b["extra_info"].get("config", {}).get("model")
        for v in b["extra_info"]["metrics"].values()
        if v is not None
    )
    assert len(long) == expected
    assert long["unit"].notna().all()
    assert set(long.loc[long["metric"] == "tokens_per_s", "unit"]) == {"tokens/s"}
    assert set(long.loc[long["metric"] == "peak_mem_bytes", "unit"]) == {"bytes"}


def test_model_costs_match_the_cost_formulas(report):
    costs = _table(report, "model_costs")
    assert len(costs) == 6  # 3 models × T ∈ {8, 32}
    for row in costs.itertuples():
        cell = CellConfig(
            family="throughput",
            model=row.model,
            task="mean-sign",
            seq_len=int(row.seq_len),
            batch_size=int(row.batch_size),
            hidden_size=int(row.hidden_size),
        )
        assert row.param_count == param_count(cell)
        assert row.train_step_flop == train_step_flops(cell)
        assert row.peak_mem_bytes > 0


def test_timing_summary_counts_processes_not_rounds(report, raw):
    timing = _table(report, "timing_summary")
    for bench in raw["benchmarks"]:
        extra = bench["extra_info"]
        if extra.get("measurement") != "train_step":
            continue
        cfg = extra["config"]
        row = timing[
            (timing["measurement"] == "train_step")
            & (timing["model"] == cfg["model"])
            & (timing["seq_len"] == cfg["seq_len"])
            & (timing["impl"] == cfg.get("impl", "fused"))
            & (timing["metric"] == "time_s")
        ]
        assert len(row) == 1
        # One process: its value is pytest-benchmark's own median of its rounds, and it is
        # one sample (rounds inside a process do not stand for another run), so no interval.
        assert row["median"].item() == pytest.approx(bench["stats"]["median"])
        assert row["n"].item() == 1
        assert pd.isna(row["ci95_low"].item())
        assert row["within_process_iqr"].item() >= 0


def test_final_losses_hold_every_convergence_cell(report, raw):
    losses = _table(report, "final_losses")
    conv = [b for b in raw["benchmarks"] if b["extra_info"].get("family") == "convergence"]
    assert len(losses) == len(conv) == 18  # 3 models × 3 tasks × 2 lengths
    for bench in conv:
        cfg, metrics = bench["extra_info"]["config"], bench["extra_info"]["metrics"]
        row = losses[
            (losses["model"] == cfg["model"])
            & (losses["task"] == cfg["task"])
            & (losses["seq_len"] == cfg["seq_len"])
        ]
        assert row["final_heldout_loss"].item() == pytest.approx(metrics["final_heldout_loss"])
        # The fixture predates schema 4, where the chance loss was stored as baseline_loss.
        assert row["chance_loss"].item() == pytest.approx(metrics["baseline_loss"])


def test_each_figure_file_is_written(report):
    assert [d.spec.name for d in report.figures] == [f.name for f in FIGURES]
    for drawn in report.figures:
        assert drawn.missing is None, drawn.missing
        assert drawn.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_md_holds_the_claims_and_characteristics_tables(report):
    md = report.markdown.read_text()
    assert "| claim | the article says | verdict | reason |" in md
    for claim in CLAIMS:
        assert f"| {claim.id} |" in md
    assert "## The article's characteristics table, re-measured" in md
    for prop in (
        "parameter count",
        "training speed",
        "memory usage",
        "gradient vanishing",
        "long-term dependency",
        "computational complexity",
    ):
        assert f"| {prop} |" in md
    assert "## Environment" in md and "torch_version" in md
    for drawn in report.figures:
        assert f"]({drawn.path.relative_to(report.folder).as_posix()})" in md


def test_report_html_is_self_contained(report):
    html = report.html.read_text()
    assert html.count('<img src="data:image/png;base64,') == len(FIGURES)
    assert "http://" not in html and "https://" not in html and "<script" not in html


def _chromium() -> str:
    """A Chromium binary, installed with apt-get where absent (root on Debian/Ubuntu)."""
    from seqbench.report.browser import find_chromium

    found = find_chromium()
    if found:
        return found
    if os.environ.get("SEQBENCH_NO_BROWSER_INSTALL"):
        pytest.skip("no Chromium, and SEQBENCH_NO_BROWSER_INSTALL forbids installing it")
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip("no Chromium, and no root apt-get to install it (apt-get install -y chromium)")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    log = ""
    for cmd in (
        ["apt-get", "install", "-y", "-q", "chromium"],
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "chromium"],
    ):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        except subprocess.TimeoutExpired:
            pytest.skip(f"no Chromium: `{' '.join(cmd)}` timed out")
        log = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
        log = log[0]
        if cmd[1] == "install" and done.returncode == 0:
            break
    found = find_chromium()
    if not found:
        pytest.skip(f"no Chromium: `apt-get install -y chromium` failed ({log})")
    return found


@pytest.mark.browser
def test_report_html_renders_every_figure_in_headless_chromium(report):
    from seqbench.report.browser import check_page

    page = check_page(report.html, _chromium())
    assert page.errors == []
    assert len(page.images) == len(FIGURES)
    assert page.blank_images == []
    assert all(image["width"] > 0 for image in page.images)


def test_implementations_have_their_figure_table_and_section(report):
    table = _table(report, "implementations")
    assert set(table["impl"]) == {"fused", "loop", "compiled", "article"}
    loop = table[table["impl"] == "loop"]["speedup_vs_fused_ratio"]
    assert loop.to_numpy() == pytest.approx(1 / 1.1, rel=1e-6)  # 10% slower rounds
    md = report.markdown.read_text()
    assert "## Implementations" in md and "| rnn | mean-sign T=8 B=4 H=8 | loop |" in md
    drawn = {d.spec.name: d for d in report.figures}["implementations"]
    assert drawn.missing is None and drawn.path.exists()


def test_a_run_folder_s_profile_comes_from_its_manifest(tmp_path):
    """JSON written from a plan before 2026-12-02 says "quick" whatever ran; run.json knows."""
    from seqbench.analysis.data import measure
    from seqbench.results import load_results

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(FIXTURE_JSON, run / "benchmarks-1.json")
    assert measure(load_results([run])).profiles == ["smoke"]  # the JSON's own label
    (run / "run.json").write_text(json.dumps({"profile": "long"}))
    assert measure(load_results([run])).profiles == ["long"]


def test_the_answer_ranks_torch_s_models_and_shows_variants_alongside():
    """A variant (lstm-fb1) or another implementation (gru@article) that solves more is
    shown next to the answer, never as it: users ask about RNN, LSTM and GRU."""
    import copy

    from seqbench.analysis.data import measure
    from seqbench.report.answer import answer
    from seqbench.results import ResultSet, load_results

    rs = load_results([FIXTURE])
    records = rs.entries.to_dict("records")
    template = next(r for r in records if r["family"] == "convergence")
    runs = {
        ("rnn", "fused"): [None] * 5,
        ("lstm", "fused"): [None] * 5,
        ("gru", "fused"): [900, 1000, 1100, None, None],
        ("lstm-fb1", "fused"): [100, 200, 300, 400, 500],
        ("gru", "article"): [100, 150, 200, 250, 300],
    }
    for (model, impl), steps in runs.items():
        for seed, step in enumerate(steps):
            rec = copy.deepcopy(template)
            rec.update(model=model, impl=impl, seed=seed, task="adding", seq_len=100,
                       batch_size=50, hidden_size=64, train_steps=2000, lr=1e-3,
                       run_key=f"{model}-{impl}-{seed}")  # fmt: skip
            rec["metrics"] = dict(rec["metrics"], steps_to_solve_step=step,
                                  solved_count=int(step is not None),
                                  steps_run_count=step or 2000)  # fmt: skip
            records.append(rec)
    blocks = answer(measure(ResultSet(pd.DataFrame(records), rs.machines, rs.files)))
    table = blocks[-1].frame
    cell = table.loc[table["T (steps)"] == "100", "learns adding"].item()
    assert cell.startswith("**gru** (solved rnn 0/5, lstm 0/5, gru 3/5)")
    assert "alongside, not ranked: solved gru@article 5/5, lstm-fb1 5/5" in cell


def test_a_configuration_measured_in_several_runs_has_runs_as_its_samples():
    """Processes of one run share its shift: with two runs, the interval's samples are the
    two run medians, not the six processes, so n is 2 and the range spans the runs."""
    per_process = pd.DataFrame(
        {
            "model": ["lstm"] * 6 + ["gru"] * 3,
            "run": ["a", "a", "a", "b", "b", "b", "a", "a", "a"],
            "value": [1.0, 1.01, 0.99, 1.1, 1.11, 1.09, 2.0, 2.1, 2.2],
        }
    )
    units = _independent_units(per_process, ["model"]).sort_values(["model", "value"])
    assert units.to_dict("list") == {
        "model": ["gru", "gru", "gru", "lstm", "lstm"],
        "value": [2.0, 2.1, 2.2, 1.0, 1.1],
    }


def test_a_cells_processes_count_as_one_cell():
    keys = pd.Series(["b/t.py::test_f[x]@p0", "b/t.py::test_f[x]@p1", "b/t.py::test_f[y]"])
    assert cell_of_run_keys(keys).nunique() == 2
    # run_key's inverse: a worker process's key gives back its cell's node id
    assert list(cell_of_run_keys(pd.Series([run_key("b/t.py::test_f[x]", 3)]))) == [
        "b/t.py::test_f[x]"
    ]
