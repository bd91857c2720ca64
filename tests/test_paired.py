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
    finally:
        for side in paired.SIDES:
            subprocess.run(["git", "worktree", "remove", "--force", str(out / "trees" / side)],
                           cwd=REPO, capture_output=True)  # fmt: skip


def test_an_unknown_ref_is_one_line_and_exit_2(git_repo, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert paired.main(["--base", "no-such-ref", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-ref" in err
