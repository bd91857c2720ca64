"""The command line: one-line errors with exit code 2, and a real end-to-end run."""

from __future__ import annotations

import json
import os

import pytest

from seqbench.results import load_results
from seqbench.schema import SCHEMA_VERSION


def assert_one_line_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("seqbench: error:")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize(
    "args,needles",
    [
        (
            ["run", "--models", "transformer"],
            ["unknown model 'transformer'", "gru, lstm, lstm-fb1, rnn"],
        ),
        (["run", "--tasks", "parity"], ["unknown task 'parity'", "adding, copy, mean-sign"]),
        (["run", "--profile", "huge"], ["unknown profile 'huge'", "smoke, quick, seed"]),
        (["run", "--seq-lens", "0"], ["sequence length must be a positive integer, got 0"]),
        (["run", "--seq-lens", "-3"], ["sequence length must be a positive integer, got -3"]),
        (["run", "--seq-lens", "ten"], ["--seq-lens takes comma-separated integers"]),
        (["run", "--lr", "0"], ["learning rate must be > 0"]),
        (["run", "--timeout", "-3"], ["--timeout must be a positive number of seconds, got -3"]),
        (["run", "--timeout", "0"], ["--timeout must be a positive number of seconds, got 0"]),
        (["run", "--threads", "0"], ["threads must be a positive integer"]),
        (["run", "--device", "tpu"], ["unknown device 'tpu'"]),
        (["run", "--max-mem", "lots"], ["cannot read size 'lots'"]),
        (["run", "--families", "speed"], ["unknown family 'speed'"]),
        (["run", "--resume", "/nonexistent/run"], ["not a seqbench run folder"]),
        (["run", "--bogus"], ["unrecognized arguments: --bogus"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, args, needles, tmp_path):
    assert_one_line_error(cli(*args, "--out", str(tmp_path / "out")), *needles)


def test_unwritable_out_is_one_line(cli, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    target = locked / "run"
    if os.access(locked, os.W_OK):  # root ignores permission bits: use an impossible path
        target = tmp_path / "file"
        target.write_text("")
        target = target / "run"
    assert_one_line_error(
        cli("run", "--profile", "smoke", "--out", str(target)), "cannot write to output folder"
    )


def test_cuda_requested_without_cuda(cli, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert_one_line_error(
        cli("run", "--device", "cuda", "--out", str(tmp_path / "o")), "no CUDA device"
    )


def test_env_prints_the_recorded_environment(cli):
    proc = cli("env", "--json")
    assert proc.returncode == 0
    info = json.loads(proc.stdout)
    for key in ("torch_version", "cpu_model", "torch_threads", "cuda_available"):
        assert key in info
    assert "node" not in info and "hostname" not in info


def test_run_smoke_end_to_end(cli, tmp_path):
    out = tmp_path / "smoke"
    # Every implementation but `compiled`, whose compile time the definitions' own run and
    # tests/test_implementations.py pay already.
    impls = "fused,loop,article"
    proc = cli("run", "--profile", "smoke", "--out", str(out), "--families", "throughput,memory",
               "--impls", impls)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith(str(out))  # it says where the results went
    data = json.loads((out / "benchmarks-1.json").read_text())
    assert data["seqbench"]["schema_version"] == SCHEMA_VERSION
    assert data["seqbench"]["profile"] == "smoke"  # the run's, not pytest's default
    machine = data["machine_info"]
    assert "node" not in machine
    assert machine["seqbench"]["torch_version"]
    # Each measurement is stored once: once the JSON is written, every record is a stub
    # naming it (tests/test_stored_once.py: full records, with the environment, until then).
    for record in (out / "cells").glob("*.json"):
        assert json.loads(record.read_text())["entry_in"] == "benchmarks-1.json"
    assert load_results([out / "cells"]).machines[str(out)]["seqbench"]["cpu_model"]
    results = load_results([out])
    throughput = results.entries[results.entries.family == "throughput"]
    assert set(throughput.measurement) == {"forward", "train_step"}
    assert set(throughput.model) == {"rnn", "lstm", "gru"}
    assert set(throughput.impl) == set(impls.split(","))
    step = throughput[throughput.measurement == "train_step"].iloc[0]
    for key in (
        "step_time_s",
        "fwd_time_s",
        "bwd_time_s",
        "opt_time_s",
        "tokens_per_s",
        "achieved_flop_per_s",
        "ceiling_fraction_ratio",
    ):
        assert step.metrics[key] > 0, key
    assert (
        step.metrics["fwd_time_s"] + step.metrics["bwd_time_s"] + step.metrics["opt_time_s"]
        <= step.time_max_s * 1.01
    )
    config = step.config
    for key in (
        "model",
        "task",
        "seq_len",
        "batch_size",
        "hidden_size",
        "input_size",
        "num_layers",
        "bidirectional",
        "device",
        "dtype",
        "seed",
        "threads",
    ):
        assert key in config
    assert config["threads"] >= 1
    memory = results.entries[results.entries.family == "memory"].iloc[0]
    assert memory.metrics["peak_mem_bytes"] > 0
    assert memory.metrics["step_time_s"] < 5  # the step's time, not the process start-up
