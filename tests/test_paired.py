"""The paired same-machine comparison: run order, and base against head end to end."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from seqbench.compare import paired

REPO = Path(__file__).resolve().parents[1]


def test_sides_alternate_and_the_order_flips_every_repetition():
    assert paired.order(3) == [
        ("base", 1),
        ("head", 1),
        ("head", 2),
        ("base", 2),
        ("base", 3),
        ("head", 3),
    ]


@pytest.fixture
def git_repo() -> None:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True)
    if done.returncode != 0:
        pytest.skip("not a git checkout")


def test_base_against_head_on_one_machine(git_repo, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("SEQBENCH_PROGRESS", "0")
    out = tmp_path / "paired"
    select = "--profile smoke --families latency --models rnn --threads 1"
    try:
        code = paired.main(
            [
                "--base",
                "HEAD",
                "--head",
                "HEAD",
                "--out",
                str(out),
                "--repeats",
                "1",
                "--select",
                select,
                "--format",
                "md",
            ]
        )
        assert code == 0  # the same commit twice: no regression
        for side in paired.SIDES:
            assert (out / "trees" / side / "seqbench" / "__init__.py").exists()
            assert len(list((out / "runs" / side / "r1" / "cells").glob("*.json"))) == 2
        assert "rnn" in capfd.readouterr().out  # compare's table, on stdout
        # The workflow's confirmation: a larger --repeats keeps the finished runs and adds the
        # next repetition (head, then base), which compare pools with them.
        first = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("cells/*.json")}
        argv = ["--base", "HEAD", "--out", str(out), "--repeats", "2", "--select", select]
        assert paired.main([*argv, "--format", "md"]) == 0
        assert {p: p.stat().st_mtime_ns for p in first} == first
        for side in paired.SIDES:
            assert len(list((out / "runs" / side / "r2" / "cells").glob("*.json"))) == 2
        assert "paired: head run 2 of 2" in capfd.readouterr().err
    finally:
        for side in paired.SIDES:
            subprocess.run(["git", "worktree", "remove", "--force", str(out / "trees" / side)],
                           cwd=REPO, capture_output=True)  # fmt: skip


def test_an_unknown_ref_is_one_line_and_exit_2(git_repo, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert paired.main(["--base", "no-such-ref", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-ref" in err


def test_the_workflow_gates_every_forward_and_train_step_cell_the_paired_runs_time():
    """The CI gate (.github/workflows/benchmarks.yml, GATE) covers every forward and train-step
    cell of the paired tool's default selection, and nothing else it times."""
    import re

    from seqbench.launchers.plan import make_plan
    from seqbench.profiles import Overrides, build_cells

    workflow = (REPO / ".github" / "workflows" / "benchmarks.yml").read_text()
    gate = re.compile(re.search(r"^\s*GATE: '(.+)'", workflow, re.M).group(1))
    selection = paired.DEFAULT_SELECTION
    assert selection[selection.index("--profile") + 1] == "quick"
    overrides = Overrides(families=(selection[selection.index("--families") + 1],), threads=1)
    names = {p.nodeid.split("::")[-1] for p in make_plan(build_cells("quick", overrides))}
    gated = {n for n in names if gate.search(n)}
    timed = {n for n in names if n.startswith(("test_forward[", "test_train_step["))}
    assert gated == timed
    # every sequence length and implementation of quick's throughput family, not only T=100
    assert {re.search(r"-T(\d+)-", n).group(1) for n in gated} == {"10", "100", "1000", "5000"}
    assert any("-compiled-" in n for n in gated) and any("-article-" in n for n in gated)


def test_the_workflow_runs_losses_gradients_and_memory_paired_and_gates_none_by_time():
    """Part 2 of the workflow: the paired tool's --select names quick's convergence, gradient
    and memory cells, and OUTCOMES_GATE matches none of them (memory is shown, losses fail
    by compare's own rule)."""
    import re

    from seqbench.launchers.plan import make_plan
    from seqbench.profiles import Overrides, build_cells

    workflow = (REPO / ".github" / "workflows" / "benchmarks.yml").read_text()
    select = re.search(r"^\s*OUTCOMES_SELECT: '(.+)'", workflow, re.M).group(1).split()
    gate = re.compile(re.search(r"^\s*OUTCOMES_GATE: '(.+)'", workflow, re.M).group(1))
    assert '--select "$OUTCOMES_SELECT"' in workflow and "--repeats 1" in workflow
    families = tuple(select[select.index("--families") + 1].split(","))
    assert set(families) == {"convergence", "gradients", "memory"}
    overrides = Overrides(families=families, threads=int(select[select.index("--threads") + 1]))
    names = [p.nodeid.split("::")[-1] for p in make_plan(build_cells("quick", overrides))]
    assert any(n.startswith("test_convergence[") for n in names)
    assert not [n for n in names if gate.search(n)]
