"""The cluster launchers (`seqbench run --launcher local|slurm`), run for real: submitit's
local executor, and its SLURM executor against stand-in sbatch/srun/sacct/squeue/scancel
(tests/fixtures/fake_slurm) that run the batch scripts on this machine."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from seqbench.analysis.provenance import mixed_machine_warnings
from seqbench.cli import main
from seqbench.compare import CompareOptions, compare_results
from seqbench.errors import SeqbenchError
from seqbench.launchers import records
from seqbench.launchers.base import RunFolder
from seqbench.launchers.cluster.jobs import split
from seqbench.launchers.cluster.options import (
    ClusterOptions,
    add_arguments,
    from_args,
    parse_time_limit,
)
from seqbench.launchers.plan import make_plan
from seqbench.profiles import Overrides, build_cells
from seqbench.results import load_results

pytest.importorskip("submitit")

REPO = Path(__file__).resolve().parents[1]
FAKE_SLURM = REPO / "tests" / "fixtures" / "fake_slurm"
sys.path.insert(0, str(FAKE_SLURM))
from _fakeslurm import process_tree  # noqa: E402

SMOKE_GRADIENTS = ("--profile", "smoke", "--families", "gradients")


def _records(out: Path) -> dict[str, dict]:
    return records.read_records(out / "cells")


def _job_of(out: Path, record: dict) -> dict:
    """The job that measured a record's cell, from its environment: a stub's is in the
    job's JSON it names; a full record (unmeasured, or never slimmed) carries its own."""
    if records.is_stub(record):
        info = json.loads((out / record["entry_in"]).read_text())["machine_info"]
    else:
        info = record.get("machine_info") or {}
    return info.get("seqbench_job") or {}


def _one_record_per_entry(out: Path) -> dict[str, dict]:
    """Every planned entry has exactly one record file, and no other record exists."""
    run = RunFolder.load(out)
    keys = Counter(
        json.loads(p.read_text()).get("run_key")
        or json.loads(p.read_text())["cell_record"]["fullname"]
        for p in (out / "cells").glob("*.json")
    )
    assert keys == Counter(e.run_key for e in run.plan)
    return _records(out)


def _measured_once(out: Path) -> None:
    """No entry appears in two pytest-benchmark JSON files: nothing was measured twice."""
    names = Counter(
        b["fullname"]
        for path in out.glob("benchmarks-job*.json")
        if path.stat().st_size
        for b in json.loads(path.read_text())["benchmarks"]
    )
    assert names and max(names.values()) == 1, names


def _seqbench(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqbench", *args]


def _start(*args: str, env: dict | None = None) -> subprocess.Popen:
    """`seqbench ARGS` in the background, its output captured as text. Ctrl-C (SIGINT) is
    given its default action in the child: a shell that starts this suite in the background
    ignores SIGINT for it, the children inherit that, and Python then installs no handler."""
    return subprocess.Popen(
        _seqbench(*args),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"SEQBENCH_PROGRESS": "0"} | (env or {}),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    """`seqbench ARGS` in this process: bad input must fail before any job is started."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- options and grouping ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("90", 90), ("45:30", 46), ("4:00:00", 240), ("2-00", 2880), ("1-12:30", 2190), (30, 30)],
)
def test_time_limits_read_as_slurm_reads_them(text, minutes):
    assert parse_time_limit(text) == minutes


@pytest.mark.parametrize("text", ["1h30", "4:00:00:00", "0", "", "-5"])
def test_malformed_time_limits_are_refused(text):
    with pytest.raises(SeqbenchError, match=r"time limit SLURM reads|positive"):
        parse_time_limit(text)


def test_the_options_file_is_read_and_flags_win(tmp_path, monkeypatch):
    path = tmp_path / "cluster.toml"
    path.write_text(
        'partition = "gpu"\ntime_limit = "1-00:00:00"\nmem = "32G"\njobs = 4\n'
        'setup = ["module load cuda"]\n'
    )
    monkeypatch.chdir(tmp_path)
    args = _args(cluster_options=str(path), partition="debug")
    options = from_args(args)
    assert options == ClusterOptions(
        partition="debug",
        time_limit_min=1440,
        mem_bytes=32 * 2**30,
        jobs=4,
        setup=("module load cuda",),
    )
    # A resumed run keeps what it was launched with; flags still change it.
    assert from_args(_args(jobs="2"), stored=options.to_json()).jobs == 2
    path.write_text('partion = "gpu"\n')
    with pytest.raises(SeqbenchError, match="unknown option 'partion'"):
        from_args(args)


def _args(**given):
    """The cluster flags as the CLI parses them (none given), with `given` set on top."""
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return argparse.Namespace(**(vars(parser.parse_args([])) | given))


def test_timing_cells_get_jobs_of_their_own_and_the_rest_is_balanced():
    cells = build_cells("smoke", Overrides(families=("gradients", "latency", "convergence")))
    plan = make_plan(cells)
    specs = split(plan, plan, jobs=2, launch=1)
    timing = [s for s in specs if s.timing]
    packed = [s for s in specs if not s.timing]
    assert len(timing) == 2 and len(packed) == 2
    assert all(e.cell.family == "latency" for s in timing for e in s.entries if e.cell)
    assert all(e.cell.family != "latency" for s in packed for e in s.entries)
    # The calibration runs with the first timing job, on a timing job's node.
    assert timing[0].entries[0].cell is None
    assert sorted(k for s in specs for k in s.run_keys) == sorted(e.run_key for e in plan)
    costs = [s.cost for s in packed]
    assert max(costs) < 1.5 * min(costs)
    # By default, one job per cell.
    assert len(split(plan, plan, jobs=None, launch=1)) == len(cells)
    # A timing cell measured in 3 worker processes is measured on one machine: one job.
    triple = make_plan([c.replace(processes=3) for c in cells if c.family == "latency"])
    for spec in split(triple, triple, jobs=None, launch=1):
        processes = [e.process for e in spec.entries if e.cell is not None]
        assert processes == [0, 1, 2] and len({e.nodeid for e in spec.entries if e.cell}) == 1
    assert {s.tag for s in specs} == {"1-0", "1-1", "1-2", "1-3"}


def test_locally_a_timing_job_runs_alone_and_the_others_up_to_the_parallelism():
    from seqbench.launchers.cluster.jobs import JobSpec
    from seqbench.launchers.cluster.launcher import LocalLauncher

    packed = [JobSpec(f"1-{i}", (), False, 1.0) for i in range(3)]
    timing = [JobSpec(f"1-{i}", (), True, 1.0) for i in (3, 4)]
    launcher = LocalLauncher(options=ClusterOptions(array_parallelism=2))
    assert launcher.may_start(packed[1], [packed[0]])
    assert not launcher.may_start(packed[2], packed[:2])  # the parallelism
    assert not launcher.may_start(timing[0], [packed[0]])  # waits for the machine to be free
    assert launcher.may_start(timing[0], [])
    assert not launcher.may_start(timing[1], [timing[0]])
    assert not launcher.may_start(packed[0], [timing[0]])  # nothing beside a timing job
    shared = LocalLauncher(options=ClusterOptions(array_parallelism=2, share_timing_nodes=True))
    assert shared.may_start(timing[1], [timing[0]])


# --- bad input: one line, exit 2, nothing written --------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--launcher", "lsf"], "invalid choice: 'lsf'"),
        (["--launcher", "local", "--time-limit", "1h30"], "--time-limit: '1h30' is not a"),
        (["--launcher", "local", "--jobs", "two"], "--jobs takes an integer"),
        (
            ["--launcher", "local", "--gpus-per-node", "1", "--device", "cpu"],
            "every cell runs on the CPU",
        ),
        (["--partition", "gpu"], "--partition need --launcher local or slurm"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, stderr = _cli(capsys, "run", *SMOKE_GRADIENTS, "--out", str(out), *args)
    assert code == 2
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("seqbench: error:")
    assert not out.exists()


def test_slurm_without_submitit_or_sbatch_says_what_to_install(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    run = ("run", *SMOKE_GRADIENTS, "--out", str(out), "--launcher", "slurm")
    monkeypatch.setitem(sys.modules, "submitit", None)
    code, _, stderr = _cli(capsys, *run)
    assert code == 2 and "pip install 'seqbench[cluster]'" in stderr
    monkeypatch.delitem(sys.modules, "submitit")
    monkeypatch.setenv("PATH", str(tmp_path))  # no SLURM here
    code, _, stderr = _cli(capsys, *run)
    assert code == 2 and "needs SLURM's sbatch" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not out.exists()


# --- the local launcher, end to end -------------------------------------------------------


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, cli):
    """A smoke sweep of the gradients family fanned out to 2 local jobs."""
    out = tmp_path_factory.mktemp("cluster") / "run"
    proc = cli(
        *("run", *SMOKE_GRADIENTS, "--out", str(out), "--launcher", "local", "--jobs", "2"),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_local_jobs_fill_one_run_folder_that_report_and_compare_read(local_run, tmp_path, capsys):
    found = _one_record_per_entry(local_run)
    assert {r["status"] for r in found.values()} == {"ok"}
    manifest = json.loads((local_run / "run.json").read_text())
    assert manifest["launcher"] == "local"
    assert [j["state"] for j in manifest["jobs"]] == ["COMPLETED", "COMPLETED"]
    # Each job recorded its own environment in its JSON, and each cell's record is a stub
    # naming the JSON of the job that ran it.
    jsons = {p.name: json.loads(p.read_text()) for p in local_run.glob("benchmarks-job*.json")}
    assert len(jsons) == 2
    jobs = {d["machine_info"]["seqbench_job"]["job_id"] for d in jsons.values()}
    assert jobs == {j["job_id"] for j in manifest["jobs"]}
    for key, record in found.items():
        held = jsons[record["entry_in"]]
        assert key in {b["fullname"] for b in held["benchmarks"]}
        job_id = held["machine_info"]["seqbench_job"]["job_id"]
        assert record["entry_in"] == f"benchmarks-job{job_id}-1.json"
    _measured_once(local_run)
    results = load_results([local_run])
    assert len(results.entries) == len(found)
    assert mixed_machine_warnings(results) == []  # one machine: no warning
    code, stdout, _ = _cli(capsys, "compare", str(local_run), str(local_run), "--format", "text")
    assert code == 0 and "gradient" in stdout
    code, stdout, _ = _cli(capsys, "report", str(local_run), "--out", str(tmp_path / "rep"))
    assert code == 0 and (tmp_path / "rep" / "report.md").exists()
    code, stdout, _ = _cli(capsys, "status", str(local_run))
    assert code == 0 and f"cells: {len(found)} finished ({len(found)} ok), 0 running" in stdout


def test_cells_from_different_machines_are_warned_about(local_run, tmp_path):
    from seqbench.analysis.data import measure
    from seqbench.report import sections

    mixed = tmp_path / "mixed"
    shutil.copytree(local_run, mixed)
    # One job's results (its JSON, which its cells' stub records name) from another machine.
    for path in sorted(mixed.glob("benchmarks-job*.json")):
        data = json.loads(path.read_text())
        if not any("calibration" in b["fullname"] for b in data["benchmarks"]):
            break
    data["machine_info"]["seqbench"]["cpu_model"] = "Other CPU 9000"
    data["machine_info"]["seqbench_job"]["host_id"] = "0123456789ab"
    path.write_text(json.dumps(data))
    results = load_results([mixed])
    warnings = mixed_machine_warnings(results)
    assert len(warnings) == 1
    assert "2 hosts (cpu_model:" in warnings[0] and "Other CPU 9000" in warnings[0]
    comparison = compare_results(load_results([local_run]), results, CompareOptions())
    assert any("current run" in w and "different machines" in w for w in comparison.warnings)
    texts = [getattr(b, "text", "") for b in sections.environment(measure(results))]
    assert any("different machines" in t for t in texts)


# --- faults ---------------------------------------------------------------------------------


def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def test_a_job_killed_mid_cell_is_crashed_with_its_id_and_resume_completes(
    cli, tmp_path, held_models
):
    out = tmp_path / "run"
    env, gate = held_models
    # One job: the calibration, the held cell, then a GRU gradient cell (work for resume).
    models = ("--models", "held-gru,next-gru")
    proc = _start(
        *("run", *SMOKE_GRADIENTS, *models, "--out", str(out)),
        *("--launcher", "local", "--jobs", "1"),
        env=env,
    )
    marker = out / "jobs" / "1-0" / "running.json"
    _wait_for(gate.with_suffix(".entered").exists, 300, "the job to enter the held cell")
    nodeid = json.loads(marker.read_text())["nodeid"]
    assert "held-gru" in nodeid and nodeid not in _records(out)
    job_id = json.loads((out / "run.json").read_text())["jobs"][0]["job_id"]
    tree = process_tree(int(job_id))
    _signal_all(tree, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr[-3000:]
    assert "--resume" in stderr
    found = _records(out)
    crashed = found[nodeid]
    assert crashed["status"] == "crashed"
    assert crashed["job"]["job_id"] == job_id and crashed["job"]["state"] == "KILLED by SIGKILL"
    assert f"job {job_id} ended KILLED by SIGKILL during the cell" in crashed["message"]
    plan = [e.nodeid for e in RunFolder.load(out).plan]
    assert sorted(found) == sorted(plan[: plan.index(nodeid) + 1])  # nothing after it ran
    before = {k: r["finished_unix_s"] for k, r in found.items()}
    gate.unlink()  # were the crashed cell run again, it would now finish: the counts below tell
    resumed = cli("run", "--resume", str(out), env=env)
    assert resumed.returncode == 1, resumed.stderr[-3000:]  # 1: the crashed cell stays
    found = _one_record_per_entry(out)
    assert Counter(r["status"] for r in found.values()) == {"ok": len(plan) - 1, "crashed": 1}
    assert all(found[k]["finished_unix_s"] == t for k, t in before.items())  # not re-run
    jobs = json.loads((out / "run.json").read_text())["jobs"]
    assert [j["tag"] for j in jobs] == ["1-0", "2-0"]
    assert jobs[1]["entries"] == plan[plan.index(nodeid) + 1 :]
    second = {k for k, r in found.items() if _job_of(out, r).get("job_id") == jobs[1]["job_id"]}
    assert second == set(jobs[1]["entries"])
    _measured_once(out)


def test_a_job_s_end_state_decides_the_fault_record(tmp_path):
    """faults.settle on a run folder: the state a job ended in, as sacct gives it, decides
    whether its unfinished cell is `timeout`, `crashed`, or interrupted (measured again)."""
    from seqbench.launchers.cluster.faults import settle
    from seqbench.launchers.cluster.jobs import marker as job_marker

    cells = build_cells("smoke", Overrides(families=("gradients",)))
    run = RunFolder.create(tmp_path / "run", "smoke", Overrides(), make_plan(cells))
    entries = [e for e in run.plan if e.cell is not None]

    def job(tag: str, entry, state: str) -> dict:
        info = {"tag": tag, "job_id": f"77_{tag}", "launcher": "slurm", "submitted_unix_s": 0}
        info["entries"] = [entry.run_key]
        records.mark_running(
            run.cells_dir, entry.nodeid, None, entry.cell.to_dict(), marker=job_marker(run, tag)
        )
        assert settle(run, info, state)  # one event line for the record it wrote
        assert not job_marker(run, tag).exists()
        return _records(run.path)[entry.run_key]

    timed_out = job("0", entries[0], "TIMEOUT")
    assert timed_out["status"] == "timeout" and timed_out["job"]["job_id"] == "77_0"
    assert timed_out["job"]["state"] == "TIMEOUT"
    oom = job("1", entries[1], "OUT_OF_MEMORY")
    assert oom["status"] == "crashed" and "job 77_1 ended OUT_OF_MEMORY" in oom["message"]
    preempted = job("2", entries[2], "PREEMPTED")
    assert preempted["status"] == "crashed"
    assert records.forget_interrupted(run.cells_dir) == [entries[2].nodeid]  # runs again
    # A cell the job's own supervisor recorded as interrupted (SIGTERM) gets the job's word.
    records.write_unmeasured(
        run.cells_dir, entries[2].nodeid, {}, "crashed", f"{records.INTERRUPTED_BY}SIGTERM"
    )
    info = {"tag": "3", "job_id": "78", "launcher": "slurm", "submitted_unix_s": 0}
    settle(run, info | {"entries": [entries[2].run_key]}, "TIMEOUT")
    assert _records(run.path)[entries[2].run_key]["status"] == "timeout"


# --- SLURM, against stand-in commands -------------------------------------------------------


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    state = tmp_path / "slurm-state"
    monkeypatch.setenv("PATH", f"{FAKE_SLURM}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(state))
    return state


def _scripts(state: Path) -> list[str]:
    return [p.read_text() for p in sorted((state / "scripts").glob("*.sh"))]


def test_slurm_job_arrays_run_end_to_end_with_the_options_given(fake_slurm, tmp_path, capsys, cli):
    out = tmp_path / "run"
    options = tmp_path / "cluster.toml"
    options.write_text('partition = "debug"\naccount = "lab"\nconstraint = "epyc"\n')
    proc = cli(
        *("run", *SMOKE_GRADIENTS, "--models", "rnn,lstm", "--out", str(out)),
        *("--launcher", "slurm", "--cluster-options", str(options), "--jobs", "2"),
        *("--time-limit", "0:30:00", "--mem", "3G", "--cpus-per-task", "2"),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (script,) = _scripts(fake_slurm)  # one array of 2 tasks
    for line in (
        "--partition=debug",
        "--time=30",
        "--mem=3GB",
        "--cpus-per-task=2",
        "--account=lab",
        "--constraint=epyc",
        "--array=0-1%2",
    ):
        assert f"#SBATCH {line}\n" in script
    assert "--exclusive" not in script  # gradient cells may share a node
    found = _one_record_per_entry(out)
    assert {r["status"] for r in found.values()} == {"ok"}
    array = json.loads((out / "run.json").read_text())["jobs"][0]["job_id"].split("_")[0]
    jobs = {_job_of(out, r)["job_id"] for r in found.values()}
    assert jobs == {f"{array}_0", f"{array}_1"}
    assert {_job_of(out, r)["launcher"] for r in found.values()} == {"slurm"}
    _measured_once(out)
    code, stdout, _ = _cli(capsys, "status", str(out))
    assert code == 0 and "jobs: 2 (2 COMPLETED)" in stdout


def test_slurm_gpus_exclusive_timing_nodes_and_ctrl_c_leaves_the_jobs(
    fake_slurm, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "run"
    monkeypatch.setenv("FAKE_SLURM_HOLD", "1")  # the jobs stay queued: nothing runs
    proc = _start(
        *("run", "--profile", "smoke", "--families", "gradients,latency", "--models", "rnn"),
        *("--device", "cuda", "--out", str(out), "--launcher", "slurm"),
        *("--gpus-per-node", "2"),
    )
    _wait_for(lambda: len(_scripts(fake_slurm)) == 2, 120, "two submissions")
    _wait_for(
        lambda: len(json.loads((out / "run.json").read_text()).get("jobs", [])) == 2,
        30,
        "the jobs in run.json",
    )
    timing, packed = sorted(_scripts(fake_slurm), key=lambda s: "--exclusive" not in s)
    assert "#SBATCH --exclusive\n" in timing and "--exclusive" not in packed
    assert all("#SBATCH --gpus-per-node=2\n" in s for s in (timing, packed))
    assert "#SBATCH --time=120\n" in timing  # the default limit, not submitit's 5 minutes
    code, stdout, _ = _cli(capsys, "status", str(out))
    assert "3 queued" in stdout and "PENDING" in stdout
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=180)  # generous: a loaded CI machine
    assert proc.returncode == 130
    assert "keep running on the cluster" in stderr and "seqbench status" in stderr
    # The jobs are still queued: a resume would run their cells twice, so it refuses.
    code, _, stderr = _cli(capsys, "run", "--resume", str(out))
    assert code == 2 and "still queued or running" in stderr
    assert len(stderr.strip().splitlines()) == 1
    ids = {j["job_id"].split("_")[0] for j in json.loads((out / "run.json").read_text())["jobs"]}
    subprocess.run(["scancel", *ids], check=True)
    code, stdout, _ = _cli(capsys, "status", str(out), "--summary")
    assert "0 queued, 3 to run" in stdout and "2 CANCELLED" in stdout
