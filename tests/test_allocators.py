"""The allocator as a chosen, recorded setting: validation, the child's environment, and the
record."""

from __future__ import annotations

import json

import pytest

from seqbench.errors import SeqbenchError
from seqbench.launchers import allocators
from seqbench.launchers.allocators import ALLOCATORS, GLIBC_PINNED_ENV, allocator_env
from seqbench.results import load_results


def test_unknown_allocator_is_refused(cli):
    proc = cli("run", "--allocator", "hoard", "--profile", "smoke")
    assert proc.returncode == 2
    assert "unknown allocator 'hoard': choose from glibc, glibc-pinned, jemalloc" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["jemalloc", "tcmalloc"])
def test_a_preloaded_allocator_needs_its_library(name):
    allocator = ALLOCATORS[name]
    if allocator.library_path() is None:
        with pytest.raises(SeqbenchError, match=f"apt-get install {allocator.package}"):
            allocator_env(name)
    else:
        env = allocator_env(name)
        assert str(allocator.library_path()) in env["LD_PRELOAD"]
        assert env["SEQBENCH_ALLOCATOR"] == name


def test_glibc_pinned_sets_the_mallopt_variables():
    env = allocator_env("glibc-pinned")
    assert env == GLIBC_PINNED_ENV | {"SEQBENCH_ALLOCATOR": "glibc-pinned"}
    assert "LD_PRELOAD" not in allocator_env("glibc")


def test_the_run_records_its_allocator(cli, tmp_path):
    out = tmp_path / "run"
    proc = cli(
        "run",
        "--profile",
        "smoke",
        "--families",
        "latency",
        "--models",
        "rnn",
        "--allocator",
        "glibc-pinned",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((out / "run.json").read_text())["allocator"] == "glibc-pinned"
    # Every environment the run's results carry (its JSON's; full records' where a run was
    # cut short before its JSON) names the allocator.
    infos = load_results([out]).run_machines[str(out)]
    assert infos and {i["seqbench"]["allocator"] for i in infos} == {"glibc-pinned"}


def test_the_default_is_tcmalloc_where_its_library_is_installed(tmp_path, monkeypatch):
    (tmp_path / "libtcmalloc_minimal.so.4").write_bytes(b"")
    monkeypatch.setattr(allocators, "LIB_DIRS", (str(tmp_path),))
    assert allocators.default_allocator() == ("tcmalloc", None)
    assert allocators.resolve_allocator(None, "seqbench") == "tcmalloc"


def test_a_missing_default_library_falls_back_to_glibc_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(allocators, "LIB_DIRS", (str(tmp_path),))  # nothing installed
    name, notice = allocators.default_allocator()
    assert name == "glibc" and "apt-get install libtcmalloc-minimal4" in notice
    assert allocators.resolve_allocator(None, "seqbench") == "glibc"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("seqbench: note: the default allocator")
    # Chosen by name, the missing library is still refused (exit 2 naming the package).
    with pytest.raises(SeqbenchError, match="apt-get install libtcmalloc-minimal4"):
        allocators.resolve_allocator("tcmalloc", "seqbench")


def test_a_resume_keeps_the_runs_allocator(cli, tmp_path):
    out = tmp_path / "run"
    args = ["--profile", "smoke", "--families", "gradients", "--models", "rnn"]
    first = cli("run", *args, "--allocator", "glibc-pinned", "--out", str(out))
    assert first.returncode == 0, first.stderr[-2000:]
    again = cli("run", "--resume", str(out), "--allocator", "glibc")
    assert again.returncode == 2
    assert "was run under allocator glibc-pinned; a resume keeps it" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
