"""Heap allocators a run can measure under: a chosen, recorded setting.

On CPU, torch's tensors come from the C heap, and glibc's heap decides by its history of
allocations whether a freed block is returned to the kernel (mmap, trim) or kept: the same
cell then runs in a fast or a slow mode depending on what ran before it in the process
(3.3 M minor page faults for the LSTM train step at T=1000 in one mode, 0.29 M with the heap
pinned). PyTorch's and Intel's CPU performance guides recommend jemalloc or tcmalloc through
LD_PRELOAD. Which one a run used is part of what it measured, so it goes into the recorded
environment (env.collect reads SEQBENCH_ALLOCATOR) and `compare` warns when two runs differ.

An allocator is one registry entry: the environment its processes get, and the library to
preload with the Debian package that ships it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from seqbench.errors import SeqbenchError

# glibc's own knobs (mallopt(3)): never serve a block by mmap, never trim the heap's top, and
# grow it 256 MiB at a time, so freed memory is kept and reused instead of faulted in again.
GLIBC_PINNED_ENV = {
    "MALLOC_MMAP_MAX_": "0",
    "MALLOC_TRIM_THRESHOLD_": str(2**36),
    "MALLOC_TOP_PAD_": str(2**28),
}
# The jemalloc setting of Intel's PyTorch guides: no decay, so freed pages stay for reuse.
JEMALLOC_CONF = (
    "oversize_threshold:1,background_thread:true,metadata_thp:auto,"
    "dirty_decay_ms:-1,muzzy_decay_ms:-1"
)
LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")


@dataclass(frozen=True)
class Allocator:
    env: dict[str, str] = field(default_factory=dict)  # variables set for the run's processes
    library: str | None = None  # shared object to LD_PRELOAD; None: glibc's own malloc
    package: str | None = None  # the Debian package that ships the library

    def library_path(self) -> Path | None:
        """Where the library is installed, or None (also for glibc, which needs none)."""
        if self.library is None:
            return None
        return next((p for d in LIB_DIRS if (p := Path(d) / self.library).is_file()), None)


ALLOCATORS: dict[str, Allocator] = {
    "glibc": Allocator(),
    "glibc-pinned": Allocator(env=GLIBC_PINNED_ENV),
    "jemalloc": Allocator({"MALLOC_CONF": JEMALLOC_CONF}, "libjemalloc.so.2", "libjemalloc2"),
    "tcmalloc": Allocator({}, "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
}
# The default, from the timing study (README, "The timing study"): tcmalloc had the smallest
# between-run spread (median cell max/min 1.030, worst 1.13) and was 1.17× faster than glibc.
DEFAULT_ALLOCATOR = "tcmalloc"
# A fresh machine may lack the default's library; a run then falls back to glibc's heap with a
# one-line notice instead of refusing to start (a chosen --allocator is still refused).
FALLBACK_ALLOCATOR = "glibc"
# What runs recorded before the allocator was a setting used.
LEGACY_ALLOCATOR = "glibc"


def default_allocator() -> tuple[str, str | None]:
    """The allocator a run gets when none is chosen, and a one-line notice (None when the
    default's library is installed) saying it fell back and which package restores it."""
    default = ALLOCATORS[DEFAULT_ALLOCATOR]
    if default.library is None or default.library_path() is not None:
        return DEFAULT_ALLOCATOR, None
    return FALLBACK_ALLOCATOR, (
        f"the default allocator {DEFAULT_ALLOCATOR} needs {default.library}, which is not "
        f"installed: timing under {FALLBACK_ALLOCATOR} instead (`apt-get install "
        f"{default.package}` for the default; --allocator {FALLBACK_ALLOCATOR} hides this)"
    )


def resolve_allocator(chosen: str | None, prog: str) -> str:
    """The allocator a run (or study) uses: `chosen`, checked (an unknown name or a missing
    library is a SeqbenchError naming the package), else the default, or glibc with the
    one-line notice `prog: note: ...` on stderr where the default's library is missing (a
    newcomer's machine should run, not stop at an optional package)."""
    if chosen is None:
        chosen, notice = default_allocator()
        if notice:
            print(f"{prog}: note: {notice}", file=sys.stderr)
    allocator_env(chosen)
    return chosen


def allocator_env(name: str) -> dict[str, str]:
    """The environment variables a run under `name` gives its processes; SeqbenchError for an
    unknown name or a library that is not installed (naming the package to install)."""
    if name not in ALLOCATORS:
        raise SeqbenchError(f"unknown allocator {name!r}: choose from {', '.join(ALLOCATORS)}")
    allocator = ALLOCATORS[name]
    env = dict(allocator.env) | {"SEQBENCH_ALLOCATOR": name}
    if allocator.library is not None:
        path = allocator.library_path()
        if path is None:
            raise SeqbenchError(
                f"allocator {name!r} needs {allocator.library}: install it with "
                f"`apt-get install {allocator.package}`"
            )
        preload = os.environ.get("LD_PRELOAD", "")
        env["LD_PRELOAD"] = f"{path} {preload}".strip()
    return env
