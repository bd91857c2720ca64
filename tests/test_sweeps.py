"""Long sweeps lose nothing: faults provoked for real, at small sizes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from seqbench.launchers.records import finished_nodeids
from seqbench.results import load_results

REPO = Path(__file__).resolve().parents[1]


def statuses(out) -> Counter:
    return Counter(finished_nodeids(out / "cells").values())


def test_sigkill_halfway_then_resume_gives_each_cell_once(cli, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seqbench",
            "run",
            "--profile",
            "smoke",
            "--families",
            "convergence,throughput",
            "--models",
            "rnn",
            "--impls",
            "fused",
            "--out",
            str(out),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ | {"SEQBENCH_PROGRESS": "0"},
    )
    deadline = time.time() + 120
    while len(finished_nodeids(out / "cells")) < 3 and time.time() < deadline:
        time.sleep(0.1)
    # Kill the supervisor and the pytest it started, as a power cut would.
    running = (
        json.loads((out / "cells" / "running.json").read_text())
        if (out / "cells" / "running.json").exists()
        else None
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running["pgid"], signal.SIGKILL)
    done_before = len(finished_nodeids(out / "cells"))
    assert 3 <= done_before < 7
    # The interrupted run can be reported before it is resumed: its cells are on disk.
    assert len(load_results([out]).entries) == done_before
    resumed = cli("run", "--resume", str(out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    results = load_results([out])
    names = list(results.entries.fullname)
    assert len(names) == len(set(names)) == 7  # 4 convergence + 2 throughput + calibration
    assert set(results.entries.status) == {"ok"}


def test_timeout_is_recorded_and_the_sweep_goes_on(cli, tmp_path):
    out = tmp_path / "run"
    # Every training step is made to spin a million times its own duration (the detector's
    # injected slowdown), so the train-step cell hangs on any machine, however fast; the
    # forward cell trains nothing and finishes.
    proc = cli(
        "run",
        "--profile",
        "smoke",
        "--families",
        "throughput",
        "--models",
        "rnn",
        "--impls",
        "fused",
        "--timeout",
        "5",
        "--out",
        str(out),
        env={"SEQBENCH_INJECT_SLOWDOWN": "1e6"},
    )
    assert proc.returncode == 1  # some cell did not finish
    records = finished_nodeids(out / "cells")
    timed_out = [k for k, v in records.items() if v == "timeout"]
    assert [k.split("::")[-1].split("[")[0] for k in timed_out] == ["test_train_step"]
    assert statuses(out)["ok"] == 2  # the forward cell and the calibration
    assert "timeout" in proc.stderr


def test_child_over_its_memory_limit_is_recorded_crashed(cli, tmp_path):
    out = tmp_path / "run"
    proc = cli(
        "run",
        "--profile",
        "quick",
        "--families",
        "memory",
        "--models",
        "lstm",
        "--seq-lens",
        "10,20000",
        "--cell-mem-limit",
        "3G",
        "--out",
        str(out),
    )
    assert proc.returncode == 1
    results = load_results([out])
    by_len = {int(r.seq_len): r for r in results.entries.itertuples() if r.family == "memory"}
    assert by_len[20000].status == "crashed"
    assert by_len[10].status == "ok"  # the sweep carried on


def test_pytest_killed_mid_cell_is_recorded_crashed(tmp_path, held_models):
    out = tmp_path / "run"
    env, gate = held_models
    # Two smoke convergence cells: held-gru's holds until killed, on a fast machine or a slow
    # one, with no race between a poll and a cell that might finish first; next-gru's runs.
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqbench", "run", "--profile", "smoke",
         "--families", "convergence", "--models", "held-gru,next-gru", "--tasks", "adding",
         "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"SEQBENCH_PROGRESS": "0"} | env,
    )  # fmt: skip
    entered = gate.with_suffix(".entered")
    deadline = time.time() + 300
    while not entered.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert entered.exists(), "the held cell never started"
    running = json.loads((out / "cells" / "running.json").read_text())
    assert "held-gru" in running["nodeid"]
    os.kill(running["pid"], signal.SIGKILL)  # the cell's worker, as the OOM killer would
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    st = finished_nodeids(out / "cells")
    assert st[running["nodeid"]] == "crashed"
    assert "worker process killed by SIGKILL" in err
    assert list(st.values()).count("ok") == 2  # the next-gru cell + calibration


def test_diverging_cell_is_recorded_as_diverged(cli, tmp_path):
    out = tmp_path / "run"
    proc = cli(
        "run",
        "--profile",
        "smoke",
        "--families",
        "convergence",
        "--tasks",
        "adding",
        "--models",
        "rnn",
        "--lr",
        "1e30",
        "--out",
        str(out),
    )
    assert proc.returncode == 0
    entry = load_results([out]).entries.query("family == 'convergence'").iloc[0]
    assert entry.status == "diverged"
    assert entry.metrics["diverged_at_step"] >= 1


def test_preflight_skips_cells_over_the_budget(cli, tmp_path):
    out = tmp_path / "run"
    proc = cli(
        "run",
        "--profile",
        "quick",
        "--families",
        "memory",
        "--models",
        "gru",
        "--seq-lens",
        "10,20000",
        "--max-mem",
        "1G",
        "--out",
        str(out),
    )
    assert proc.returncode == 0
    entries = load_results([out]).entries
    skipped = entries[entries.status == "skipped"]
    assert list(skipped.seq_len) == [20000]
    assert skipped.iloc[0].metrics["peak_mem_est_bytes"] > 2**30
    assert set(entries[entries.seq_len == 10].status) == {"ok"}


def test_resume_of_a_finished_run_runs_nothing(cli, tmp_path):
    out = tmp_path / "run"
    assert (
        cli("run", "--profile", "smoke", "--families", "gradients", "--out", str(out)).returncode
        == 0
    )
    before = sorted(p.name for p in (out / "cells").iterdir())
    again = cli("run", "--resume", str(out))
    assert again.returncode == 0
    assert sorted(p.name for p in (out / "cells").iterdir()) == before
    assert len(load_results([out]).entries) == 4  # 3 gradient cells + calibration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but not yet reaped; /proc says which.
    with contextlib.suppress(OSError):
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    return False


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if text in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
    return [pid for pid in found if pid != os.getpid() and _alive(pid)]


def test_sigterm_stops_every_child_records_the_cell_and_resume_reruns_it(cli, tmp_path):
    out = tmp_path / "run"
    # The train-step cell's every step spins 30 times its own duration (the detector's
    # injected slowdown, kept in the plan, so the resumed cell is slowed alike): a second or
    # more on any machine, so SIGTERM lands in it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqbench", "run", "--profile", "smoke", "--families",
         "throughput", "--models", "rnn", "--impls", "fused", "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"SEQBENCH_PROGRESS": "0", "SEQBENCH_INJECT_SLOWDOWN": "30"},
    )  # fmt: skip
    marker = out / "cells" / "running.json"

    def in_train_step() -> bool:
        with contextlib.suppress(OSError, ValueError):
            return "test_train_step" in json.loads(marker.read_text())["nodeid"]
        return False

    deadline = time.time() + 120
    while not in_train_step() and time.time() < deadline:
        time.sleep(0.02)
    running = json.loads(marker.read_text())
    proc.send_signal(signal.SIGTERM)  # what `timeout`, `kill` and CI cancellation send
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert f"Resume with: seqbench run --resume {out}" in stderr
    assert not _alive(running["pid"])  # the cell's worker did not outlive the supervisor
    assert not _alive(running["pgid"])  # nor did pytest
    assert _processes_mentioning(str(out)) == []
    record = finished_nodeids(out / "cells")
    assert record[running["nodeid"]] == "crashed"
    assert set(record.values()) <= {"ok", "crashed"}  # the forward cell may have finished
    (path,) = [p for p in (out / "cells").glob("*.json") if "crashed" in p.read_text()]
    assert json.loads(path.read_text())["message"] == "interrupted by SIGTERM"
    resumed = cli("run", "--resume", str(out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "was interrupted by a signal: running it again" in resumed.stderr
    after = finished_nodeids(out / "cells")
    assert after[running["nodeid"]] == "ok"  # measured again, not left crashed
    assert set(after.values()) == {"ok"}  # the calibration ran too, after the cell
