"""The pytest11 entry point loads seqbench's plugin into every pytest run in the environment.
In another project's run it must stay inert: no torch import, and pytest-benchmark's
machine_info and JSON as pytest-benchmark alone writes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Another project's benchmark: it writes down which modules its pytest process has loaded.
OTHER_PROJECT_TEST = """
import json
import sys


def test_sum(benchmark):
    benchmark(sum, range(100))
    loaded = {m: m in sys.modules for m in ("torch", "seqbench.pytest_plugin",
                                            "seqbench.pytest_session")}
    with open("loaded.json", "w") as f:
        json.dump(loaded, f)
"""


def _run_other_project(tmp_path: Path, *options: str) -> tuple[dict, dict]:
    """pytest with pytest-benchmark on a throwaway project outside the repository, with
    seqbench importable as if installed; the modules its test saw and the JSON."""
    project = tmp_path / "other"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")  # its own rootdir, whatever is above
    (project / "test_other.py").write_text(OTHER_PROJECT_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SEQBENCH_"))}
    # seqbench's environment variables alone do not bring seqbench into a session.
    env |= {"PYTHONPATH": str(REPO), "SEQBENCH_PROFILE": "smoke", "SEQBENCH_JOB_ID": "7"}
    command = [sys.executable, "-m", "pytest", "test_other.py", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*command, "--benchmark-json", "bench.json", *options],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    loaded = json.loads((project / "loaded.json").read_text())
    return loaded, json.loads((project / "bench.json").read_text())


def _untouched(output: dict) -> None:
    machine_info = output["machine_info"]
    assert not [k for k in machine_info if k.startswith("seqbench")], machine_info.keys()
    assert "node" in machine_info  # seqbench's own runs drop the hostname; others keep it
    assert "seqbench" not in output


def test_another_projects_pytest_run_imports_no_torch_and_keeps_its_machine_info(tmp_path):
    loaded, output = _run_other_project(tmp_path)
    assert loaded["seqbench.pytest_plugin"]  # the entry point did load the plugin
    assert not loaded["seqbench.pytest_session"]
    assert not loaded["torch"]
    _untouched(output)


def test_a_seqbench_option_loads_the_session_but_other_benchmarks_stay_untouched(tmp_path):
    loaded, output = _run_other_project(tmp_path, "--seqbench-threads", "1")
    assert loaded["seqbench.pytest_session"]
    _untouched(output)
