"""The environment recorded with every run (and printed by ``seqbench env``)."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from typing import Any

import torch

import seqbench


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, falling back to platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# /proc/cpuinfo fields that tell two CPUs with one marketing name apart ("AMD EPYC" is all a
# virtual machine may show): family, model number, stepping, microcode, cache size.
CPUINFO_FIELDS = {
    "cpu family": "cpu_family",
    "model": "cpu_model_number",
    "stepping": "cpu_stepping",
    "microcode": "cpu_microcode",
    "cache size": "cpu_cache_size",
}


def cpu_signature() -> dict[str, str | None]:
    """The first processor's identifying fields from /proc/cpuinfo, and a digest of its flags
    (the instruction sets, which decide which kernels oneDNN may use). Empty values where the
    file or a field is missing."""
    found: dict[str, str | None] = dict.fromkeys([*CPUINFO_FIELDS.values(), "cpu_flags_digest"])
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block ends here
                key, _, value = (part.strip() for part in line.partition(":"))
                if key in CPUINFO_FIELDS:
                    found[CPUINFO_FIELDS[key]] = value
                elif key == "flags":
                    digest = hashlib.sha1(" ".join(sorted(value.split())).encode()).hexdigest()
                    found["cpu_flags_digest"] = digest[:12]
    except OSError:
        pass
    return found


def collect(device: str = "cpu") -> dict[str, Any]:
    """Versions, hardware and threading: what a reader needs to trust a number. No hostname."""
    import numpy
    import pandas
    import pytest_benchmark

    info: dict[str, Any] = {
        "seqbench_version": seqbench.__version__,
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
        "pandas_version": pandas.__version__,
        "pytest_benchmark_version": pytest_benchmark.__version__,
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        **cpu_signature(),
        "cpu_count_logical": os.cpu_count(),
        "cpu_affinity_count": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "mkldnn_enabled": torch.backends.mkldnn.is_available(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_device": None,
        "cuda_version": torch.version.cuda,
        "cudnn_version": None,
        "requested_device": device,
        # The heap allocator `seqbench run --allocator` chose (glibc when run otherwise).
        "allocator": os.environ.get("SEQBENCH_ALLOCATOR", "glibc"),
        "ld_preload": os.environ.get("LD_PRELOAD") or None,
        "executable": sys.executable,
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["cuda_device"] = props.name
        info["cuda_memory_bytes"] = props.total_memory
        info["cudnn_version"] = torch.backends.cudnn.version()
    return info
