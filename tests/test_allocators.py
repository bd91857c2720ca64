"""The allocator as a chosen, recorded setting: validation, the child's environment, and the
record."""

from __future__ import annotations

import json

import pytest

from seqbench.errors import SeqbenchError
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
