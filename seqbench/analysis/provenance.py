"""Warnings when two result sets come from different software or hardware, or from
different commands."""

from __future__ import annotations

from typing import Any

from seqbench.results.load import ResultSet

# Fields of the environment record (seqbench/env.py) that change timings by themselves.
CHECKED_FIELDS = (
    "torch_version",
    "cpu_model",
    # The marketing name alone ("AMD EPYC") joins machines 2.6x apart; these tell them apart.
    "cpu_family",
    "cpu_model_number",
    "cpu_stepping",
    "cpu_microcode",
    "cpu_flags_digest",
    "cuda_device",
    "cuda_version",
    "torch_threads",
    "cpu_affinity_count",
    "python_version",
    "numpy_version",
    "allocator",
)


def _env(machine_info: dict[str, Any]) -> dict[str, Any]:
    env = dict(machine_info.get("seqbench") or {})
    # Plain pytest-benchmark files lack seqbench's block; their own fields still tell a lot.
    env.setdefault("cpu_model", (machine_info.get("cpu") or {}).get("brand_raw"))
    env.setdefault("python_version", machine_info.get("python_version"))
    return env


def _values(results: ResultSet, field: str) -> set[str]:
    return {
        str(v) for info in results.machines.values() if (v := _env(info).get(field)) is not None
    }


def environment_warnings(baseline: ResultSet, current: ResultSet) -> list[str]:
    """One line per field whose recorded values differ between the two sides, then one per
    run whose cells came from different machines."""
    warnings = []
    for field in CHECKED_FIELDS:
        base, cur = _values(baseline, field), _values(current, field)
        if base and cur and base != cur:
            warnings.append(
                f"{field} differs: baseline {', '.join(sorted(base))}; "
                f"current {', '.join(sorted(cur))}"
            )
    return (
        warnings
        + mixed_machine_warnings(baseline, "baseline")
        + mixed_machine_warnings(current, "current")
    )


# What tells machines apart within one run: the checked environment, and the host a cluster
# job ran on (a digest of its name: seqbench/launchers/cluster/job.py).
HOST_FIELD = "host"


def _machine(info: dict[str, Any]) -> dict[str, Any]:
    env = _env(info)
    machine = {f: env.get(f) for f in CHECKED_FIELDS if env.get(f) is not None}
    host = (info.get("seqbench_job") or {}).get("host_id")
    if host:
        machine[HOST_FIELD] = host
    return machine


# The fields that name the hardware (not the software or the run's settings).
HARDWARE_FIELDS = ("cpu_model", "cpu_family", "cpu_model_number", "cpu_stepping", "cpu_microcode")


def machine_names(results: ResultSet) -> set[str]:
    """The machines a result set was measured on, one readable name each (the CPU's marketing
    name with its family, model number, stepping and microcode, and the GPU if any)."""
    names = set()
    for info in results.machines.values():
        env = _env(info)
        cpu = " ".join(str(env.get(f)) for f in HARDWARE_FIELDS if env.get(f) is not None)
        gpu = env.get("cuda_device")
        names.add(f"{cpu}, {gpu}" if gpu else cpu)
    return names


def mixed_machine_warnings(results: ResultSet, side: str | None = None) -> list[str]:
    """One line per run whose cells were measured on different machines or GPUs (a cluster
    run's jobs land where the scheduler puts them): its timings mix machines, and a
    comparison against it compares machines as much as code."""
    warnings = []
    for run, infos in sorted(results.run_machines.items()):
        machines = [_machine(info) for info in infos]
        differing = {}
        for field in (*CHECKED_FIELDS, HOST_FIELD):
            values = {str(m[field]) for m in machines if field in m}
            if len(values) > 1:
                differing[field] = values
        if not differing:
            continue
        detail = "; ".join(
            f"{field}: {', '.join(sorted(values))}"
            for field, values in differing.items()
            if field != HOST_FIELD
        )
        where = f"{side} run {run}" if side else f"run {run}"
        if HOST_FIELD in differing:
            hosts = f"{len(differing[HOST_FIELD])} hosts"
            what = f"{hosts} ({detail})" if detail else f"{hosts} of the same kind"
        else:
            what = detail
        warnings.append(
            f"{where} holds cells measured on different machines: {what}; its timings "
            "mix machines (pin a cluster run's jobs to one node kind with --constraint)"
        )
    return warnings
