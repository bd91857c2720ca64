"""`seqbench report` from the command line: bad input gives one line and exit 2; a result
set that lacks families still gives a report that says what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqbench.cli import main

FIXTURE_JSON = Path(__file__).parent / "fixtures" / "report" / "smoke" / "benchmarks.json"


def _fixture() -> dict:
    return json.loads(FIXTURE_JSON.read_text())


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    (tmp / "empty").mkdir()
    (tmp / "not-json.json").write_text("this is not JSON\n")
    (tmp / "other.json").write_text(json.dumps({"hello": "world"}))
    future = _fixture()
    for bench in future["benchmarks"]:
        bench["extra_info"]["schema_version"] = 99
    future.pop("seqbench")
    (tmp / "future.json").write_text(json.dumps(future))
    return {
        "missing path": tmp / "does-not-exist",
        "empty folder": tmp / "empty",
        "invalid JSON": tmp / "not-json.json",
        "not a result file": tmp / "other.json",
        "unknown schema version": tmp / "future.json",
    }


@pytest.mark.parametrize(
    "case",
    ["missing path", "empty folder", "invalid JSON", "not a result file", "unknown schema version"],
)
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, capsys):
    path = _bad_inputs(tmp_path)[case]
    code = main(["report", str(path), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqbench: error: ")
    assert captured.out == ""
    assert not (tmp_path / "out" / "report.md").exists()
    if case == "unknown schema version":
        assert "99" in lines[0]


def test_report_of_partial_results_says_what_is_missing(tmp_path, cli):
    data = _fixture()
    data["benchmarks"] = [
        b for b in data["benchmarks"] if b["extra_info"].get("family") == "gradients"
    ]
    results = tmp_path / "results"
    results.mkdir()
    (results / "benchmarks.json").write_text(json.dumps(data))
    out = tmp_path / "report"
    done = cli("report", str(results), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "missing families: throughput, memory, convergence, overhead" in done.stdout
    md = (out / "report.md").read_text()
    assert "families missing: throughput, memory, convergence, overhead" in md
    assert "Not drawn: no throughput results." in md
    assert "the results hold no throughput family" in md
    drawn = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert drawn == ["grad_norm_vs_T.png", "gradient_flow.png"]
    assert (out / "report.html").read_text().count("<img ") == 2
