"""Each measurement is stored once: a record is written in full the moment its cell ends (a
crash loses nothing), and once pytest-benchmark's JSON of the attempt is on disk the record
becomes a stub naming that JSON. Old run folders, with full records beside their JSON, still
load, report and compare."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from seqbench.cli import main
from seqbench.errors import SeqbenchError
from seqbench.launchers import records
from seqbench.launchers.base import RunFolder
from seqbench.launchers.plan import make_plan
from seqbench.launchers.progress import SweepProgress, plan_costs
from seqbench.launchers.supervisor import Supervisor
from seqbench.profiles import Overrides, build_cells
from seqbench.results import load, load_results

REPO = Path(__file__).resolve().parents[1]
OLD_RUN = REPO / "tests" / "fixtures" / "old_run"  # five cells of results/seed (README.md)
# A small sweep with worker processes: the calibration, and the forward and train-step cells
# of one model, each timed in two processes (one record per process, keyed node id@pN).
SUBSET = Overrides(families=("throughput",), models=("rnn",), impls=("fused",), processes=2)
SUBSET_ARGS = (
    *("--profile", "smoke", "--families", "throughput"),
    *("--models", "rnn", "--impls", "fused"),
)
KEY_COLUMNS = ["run_key", "fullname", "status", "family", "measurement", "model", "seq_len"]
STATS = ["time_median_s", "time_iqr_s", "time_min_s", "rounds_count", "worker_process"]


def _frame(path_or_paths) -> pd.DataFrame:
    paths = path_or_paths if isinstance(path_or_paths, list) else [path_or_paths]
    entries = load_results(paths).entries
    return entries.sort_values("run_key").reset_index(drop=True)


def assert_same_entries(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """The same cells with the same configuration, statistics, metrics and series."""
    assert len(a) == len(b) and len(a) > 0
    pd.testing.assert_frame_equal(a[KEY_COLUMNS + STATS], b[KEY_COLUMNS + STATS], check_dtype=False)
    assert list(a["metrics"]) == list(b["metrics"])
    assert list(a["series"]) == list(b["series"])
    assert list(a["config"]) == list(b["config"])
    assert list(a["round_times_s"]) == list(b["round_times_s"])


def _records(out: Path) -> dict[str, dict]:
    return records.read_records(out / "cells")


def _json_keys(path: Path) -> set[str]:
    return {records.entry_run_key(b) for b in json.loads(path.read_text())["benchmarks"]}


def _old_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "old"
    shutil.copytree(OLD_RUN, copy)
    return copy


def _compact(folder: Path) -> int:
    return RunFolder(folder, json.loads((folder / "run.json").read_text())).compact()


def _one_line_error(capsys, *needles: str) -> None:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqbench: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- a real run --------------------------------------------------------------------------


def test_a_run_stores_each_measurement_once(cli, tmp_path):
    out = tmp_path / "run"
    done = cli("run", *SUBSET_ARGS, "--processes", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    plan = {e.run_key for e in RunFolder.load(out).plan}
    assert len(plan) == 5  # the calibration; forward and train step, 2 processes each
    found = _records(out)
    assert set(found) == plan
    # Every record is a stub naming the JSON, which holds every measured entry.
    assert {r["entry_in"] for r in found.values()} == {"benchmarks-1.json"}
    assert _json_keys(out / "benchmarks-1.json") == plan
    for path in (out / "cells").glob("*.json"):
        stub = json.loads(path.read_text())
        assert set(stub["cell_record"]) == {"name", "fullname"}  # no stats, no series
        assert "machine_info" not in stub and path.stat().st_size < 1000
    # It reads the same from the folder and from cells/ alone (the stubs' JSON, read for them).
    assert_same_entries(_frame(out), _frame(out / "cells"))
    status = cli("status", str(out))
    assert status.returncode == 0 and "cells: 5 finished (5 ok), 0 running" in status.stdout
    again = cli("run", "--resume", str(out))  # nothing to run
    assert again.returncode == 0, again.stderr[-2000:]
    assert _records(out) == found


def _attempt_without_slimming(tmp_path: Path) -> Path:
    """A run folder as one pytest attempt leaves it before its launcher slims anything: the
    supervisor's own pytest command, run once. Full records, and the filled JSON."""
    out = tmp_path / "attempt"
    run = RunFolder.create(out, "smoke", SUBSET, make_plan(build_cells("smoke", SUBSET)))
    supervisor = Supervisor(verbose=False)
    supervisor.run_folder = run
    proc = subprocess.run(
        supervisor.command(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | run.env | {"SEQBENCH_PROGRESS": "0"},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert supervisor.json_path == out / "benchmarks-1.json"
    return out


def test_slimming_keeps_every_entry_and_a_killed_attempt_keeps_full_records(cli, tmp_path):
    out = _attempt_without_slimming(tmp_path)
    full = _records(out)
    assert len(full) == 5 and not any(records.is_stub(r) for r in full.values())
    for record in full.values():  # each says where it was measured, without the JSON
        assert record["machine_info"]["seqbench"]["torch_version"]
        assert record["cell_record"]["stats"]["data"]
    before = _frame(out / "cells")  # the records alone, as they were written

    # Killed before pytest-benchmark filled its JSON: a 0-byte file beside full records.
    killed = tmp_path / "killed"
    shutil.copytree(out, killed)
    (killed / "benchmarks-1.json").write_bytes(b"")
    assert_same_entries(_frame(killed), before)
    assert RunFolder.load(killed).compact() == 0  # no JSON: nothing to slim
    status = cli("status", str(killed))
    assert status.returncode == 0 and "cells: 5 finished (5 ok)" in status.stdout
    resumed = cli("run", "--resume", str(killed))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _records(killed) == full  # nothing measured again, nothing slimmed
    assert not (killed / "benchmarks-1.json").exists()  # the empty file is gone
    assert_same_entries(_frame(killed), before)

    # The attempt's JSON complete: the next launch (here a resume) slims every record.
    resumed = cli("run", "--resume", str(out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    slim = _records(out)
    assert set(slim) == set(full)
    assert all(r["entry_in"] == "benchmarks-1.json" for r in slim.values())
    for key, record in slim.items():
        assert record["status"] == full[key]["status"]
        assert record["finished_unix_s"] == full[key]["finished_unix_s"]
    assert_same_entries(_frame(out), before)
    assert_same_entries(_frame(out / "cells"), before)


# --- old run folders: full records beside their JSON ---------------------------------------


def test_an_old_run_folder_loads_reports_and_compares(tmp_path, capsys):
    results = load_results([OLD_RUN])
    entries = results.entries
    assert len(entries) == entries["run_key"].nunique() == 5  # each cell once, from the JSON
    assert {Path(f).name for f in entries["file"]} == {"benchmarks-1.json"}
    assert set(entries["family"]) == {"calibration", "convergence", "overhead", "gradients"}
    assert results.machines[str(OLD_RUN)]["seqbench"]["torch_version"]
    convergence = entries[entries["family"] == "convergence"].iloc[0]
    assert len(convergence["series"]["train_loss"]) > 10
    # Its records alone read as the same entries.
    assert_same_entries(_frame(OLD_RUN / "cells"), _frame(OLD_RUN))
    assert main(["report", str(OLD_RUN), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "report.md").exists()
    assert main(["compare", str(OLD_RUN), str(OLD_RUN), "--format", "text"]) == 0
    capsys.readouterr()


def test_compacting_an_old_folder_loses_nothing(tmp_path, capsys):
    copy = _old_copy(tmp_path)
    # A cell that produced no measurement is in no JSON: its record stays whole.
    records.write_unmeasured(
        copy / "cells", "benchmarks/test_x.py::test_y[z]", {"family": "memory"}, "crashed", "boom"
    )
    assert _compact(copy) == 5
    found = _records(copy)
    stubs = {k: r for k, r in found.items() if records.is_stub(r)}
    assert len(stubs) == 5 and {r["entry_in"] for r in stubs.values()} == {"benchmarks-1.json"}
    unmeasured = found["benchmarks/test_x.py::test_y[z]"]
    assert unmeasured["cell_record"]["extra_info"]["message"] == "boom"
    assert _compact(copy) == 0  # once is enough
    after = _frame(copy)
    assert len(after) == 6 and "crashed" in set(after["status"])
    measured = after[after["status"] != "crashed"].reset_index(drop=True)
    assert_same_entries(measured, _frame(OLD_RUN))
    cells_only = _frame(copy / "cells")
    assert_same_entries(cells_only[cells_only["status"] != "crashed"].reset_index(drop=True),
                        _frame(OLD_RUN))  # fmt: skip
    # Resuming and status read stubs like full records; none is an interrupted cell.
    assert records.forget_interrupted(copy / "cells") == []
    assert set(records.finished_nodeids(copy / "cells").values()) == {"ok", "crashed"}
    assert main(["compare", str(OLD_RUN), str(copy), "--format", "text"]) == 0
    capsys.readouterr()


def test_nothing_is_slimmed_without_a_complete_json_holding_the_same_measurement(tmp_path):
    copy = _old_copy(tmp_path)
    json_path = copy / "benchmarks-1.json"
    text = json_path.read_text()
    json_path.write_text(text[: len(text) // 2])  # cut short while pytest wrote it
    assert _compact(copy) == 0
    json_path.write_text("")  # opened and never filled
    assert _compact(copy) == 0
    data = json.loads(text)
    data["benchmarks"][0]["stats"]["data"][0] *= 2  # not the measurement the record holds
    json_path.write_text(json.dumps(data))
    assert _compact(copy) == 4
    kept = _records(copy)[data["benchmarks"][0]["fullname"]]
    assert not records.is_stub(kept) and kept["cell_record"]["stats"]["data"]


def test_a_json_cut_short_by_a_killed_pytest_leaves_the_run_readable_from_its_records(tmp_path):
    copy = _old_copy(tmp_path)
    json_path = copy / "benchmarks-1.json"
    text = json_path.read_text()
    json_path.write_text(text[: len(text) // 2])  # pytest killed while writing it
    assert_same_entries(_frame(copy), _frame(OLD_RUN))  # every cell, from its record
    # Once records are stubs, the JSON holds their only copy: cut short, it is an error.
    json_path.write_text(text)
    assert _compact(copy) == 5
    json_path.write_text(text[: len(text) // 2])
    with pytest.raises(SeqbenchError, match="not valid JSON"):
        load_results([copy])


@pytest.mark.parametrize("damage", ["missing", "empty", "lacks the entry"])
def test_a_stub_without_its_entry_is_a_one_line_error(damage, tmp_path, capsys):
    copy = _old_copy(tmp_path)
    assert _compact(copy) == 5
    json_path = copy / "benchmarks-1.json"
    if damage == "missing":
        json_path.unlink()
        needles = ["which is missing", "benchmarks-1.json"]
    elif damage == "empty":
        json_path.write_text("")
        needles = ["which is empty"]
    else:
        data = json.loads(json_path.read_text())
        gone = data["benchmarks"].pop(1)["fullname"]
        json_path.write_text(json.dumps(data))
        needles = [f"its entry {gone} is not in", "which it names"]
    for target in (copy, copy / "cells"):
        with pytest.raises(SeqbenchError):
            load_results([target])
        assert main(["report", str(target), "--out", str(tmp_path / "report")]) == 2
        _one_line_error(capsys, *needles)
        assert main(["compare", str(OLD_RUN), str(target)]) == 2
        _one_line_error(capsys, *needles)
    assert not (tmp_path / "report" / "report.md").exists()


def test_the_cli_names_a_missing_json_in_one_line(cli, tmp_path):
    copy = _old_copy(tmp_path)
    _compact(copy)
    (copy / "benchmarks-1.json").unlink()
    proc = cli("report", str(copy), "--out", str(tmp_path / "report"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("seqbench: error: ") and "which is missing" in line


def test_the_loader_and_the_writer_agree_on_the_stub_field():
    assert load.ENTRY_IN == records.ENTRY_IN


def test_the_progress_bar_counts_a_stub_by_its_planned_cost(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQBENCH_PROGRESS", "0")
    plan = make_plan(build_cells("smoke", SUBSET))
    entry, cost = plan[-1], plan_costs(plan)[-1]
    path = tmp_path / f"{records.record_stem(entry.run_key)}.json"
    stub = {"cell_record": {"name": "x", "fullname": entry.nodeid}, "status": "ok",
            "run_key": entry.run_key, "entry_in": "benchmarks-1.json"}  # fmt: skip
    records.write_atomic(path, stub)
    progress = SweepProgress(plan, tmp_path)
    assert progress.bar.n == pytest.approx(cost) and cost > 0
    progress.close()
