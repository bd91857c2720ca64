"""The cluster launchers' knobs: from an options file a lab writes once, then the command line.

The file is TOML with one key per option, named like the command-line flag:

    partition = "gpu"
    time_limit = "4:00:00"        # SLURM's forms: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
    mem = "32G"
    cpus_per_task = 8
    gpus_per_node = 1
    account = "mylab"
    constraint = "a100"
    array_parallelism = 32
    setup = ["module load cuda/12.1", "source ~/venvs/seqbench/bin/activate"]

It is `--cluster-options FILE`, else $SEQBENCH_CLUSTER_OPTIONS, else ./seqbench-cluster.toml
when present. Flags win over the file. The options a run was launched with are kept in its
run.json, so `--resume` submits with the same ones unless flags change them.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from seqbench.errors import SeqbenchError
from seqbench.launchers.preflight import parse_size

OPTIONS_ENV = "SEQBENCH_CLUSTER_OPTIONS"
OPTIONS_FILE = "seqbench-cluster.toml"
# A SLURM job with no limit given gets this one: submitit would otherwise ask for 5 minutes.
# (A local job gets none: launcher.LOCAL_TIME_LIMIT_MIN.)
DEFAULT_TIME_LIMIT_MIN = 120


@dataclass(frozen=True)
class ClusterOptions:
    partition: str | None = None  # SLURM partition (sbatch --partition)
    time_limit_min: int | None = None  # each job's wall-time limit in minutes (sbatch --time)
    mem_bytes: int | None = None  # memory of each job (sbatch --mem)
    cpus_per_task: int | None = None  # CPUs of each job (sbatch --cpus-per-task)
    gpus_per_node: int | None = None  # GPUs of each job (sbatch --gpus-per-node)
    account: str | None = None  # account charged (sbatch --account)
    constraint: str | None = None  # node features required (sbatch --constraint)
    # Array tasks running at once (sbatch --array=...%N); the local launcher's jobs at once.
    array_parallelism: int | None = None
    # Split the pending cells into this many jobs of each kind (timing cells, the others),
    # balanced by estimated cost; None: one job per cell.
    jobs: int | None = None
    # Timing cells run on a node of their own (sbatch --exclusive; locally, alone) unless
    # the user lets them share one: a neighbour's work changes their numbers.
    share_timing_nodes: bool = False
    setup: tuple[str, ...] = ()  # shell lines each job runs first (module load, a venv)
    # Ctrl-C while waiting cancels the SLURM jobs too (default: they keep running).
    cancel_on_interrupt: bool = False

    @property
    def time_limit(self) -> int:
        return self.time_limit_min or DEFAULT_TIME_LIMIT_MIN

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterOptions:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "setup" in values:
            values["setup"] = tuple(values["setup"])
        return cls(**values)


def parse_time_limit(text: str | int) -> int:
    """A SLURM time limit ("90", "45:00", "4:00:00", "2-00", "1-12:30", "1-00:00:00", or an
    integer of minutes) in whole minutes, rounded up."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise SeqbenchError(f"must be a time such as '4:00:00', got {text!r}")
    value = str(text).strip()
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", value)
    if not match:
        raise SeqbenchError(
            f"{value!r} is not a time limit SLURM reads: use minutes, MM:SS, HH:MM:SS, "
            "D-HH, D-HH:MM or D-HH:MM:SS"
        )
    days, first, second, third = match.groups()
    parts = [int(first), *(int(p) for p in (second, third) if p is not None)]
    if days is not None:  # D-HH[:MM[:SS]]
        hours, minutes, seconds = [*parts, 0, 0][:3]
        total_s = ((int(days) * 24 + hours) * 60 + minutes) * 60 + seconds
    elif len(parts) == 3:  # HH:MM:SS
        total_s = (parts[0] * 60 + parts[1]) * 60 + parts[2]
    else:  # MM or MM:SS
        total_s = parts[0] * 60 + (parts[1] if len(parts) == 2 else 0)
    if total_s <= 0:
        raise SeqbenchError(f"must be positive, got {value!r}")
    return math.ceil(total_s / 60)


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SeqbenchError(f"must be a positive integer, got {value!r}")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SeqbenchError(f"must be a non-empty string, got {value!r}")
    return value


# Option name (file key, and the flag with dashes) → how its value is read.
_READERS = {
    "partition": ("partition", _text),
    "time_limit": ("time_limit_min", lambda _, v: parse_time_limit(v)),
    "mem": ("mem_bytes", lambda _, v: parse_size(str(v))),
    "cpus_per_task": ("cpus_per_task", _positive),
    "gpus_per_node": ("gpus_per_node", lambda n, v: v if v == 0 else _positive(n, v)),
    "account": ("account", _text),
    "constraint": ("constraint", _text),
    "array_parallelism": ("array_parallelism", _positive),
    "jobs": ("jobs", _positive),
    "share_timing_nodes": ("share_timing_nodes", lambda n, v: _flag(n, v)),
    "setup": ("setup", lambda n, v: _lines(n, v)),
    "cancel_on_interrupt": ("cancel_on_interrupt", lambda n, v: _flag(n, v)),
}


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SeqbenchError(f"must be true or false, got {value!r}")
    return value


def _lines(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SeqbenchError(f"must be a list of shell lines, got {value!r}")
    return tuple(value)


def _read(values: dict[str, Any], where: str | None) -> dict[str, Any]:
    """Option name → value, read and checked, as ClusterOptions fields. `where` names the
    file the values come from (None: the command line, whose flags name themselves)."""
    out = {}
    for key, value in values.items():
        if key not in _READERS:
            raise SeqbenchError(
                f"unknown option {key!r} in {where}: known are {', '.join(_READERS)}"
            )
        field_name, reader = _READERS[key]
        name = key if where else "--" + key.replace("_", "-")
        try:
            out[field_name] = reader(name, value)
        except SeqbenchError as exc:
            raise SeqbenchError(f"{where}: {name}: {exc}" if where else f"{name}: {exc}") from None
    return out


def options_file(explicit: str | None) -> Path | None:
    """The options file in force: the flag's, the environment's, or ./seqbench-cluster.toml."""
    if explicit:
        return Path(explicit)
    if os.environ.get(OPTIONS_ENV):
        return Path(os.environ[OPTIONS_ENV])
    default = Path.cwd() / OPTIONS_FILE
    return default if default.is_file() else None


def load_file(path: Path) -> dict[str, Any]:
    """The options in a TOML file, read and checked (field name → value)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise SeqbenchError(
                f"reading {path} needs Python 3.11 or tomli: pip install 'seqbench[cluster]'"
            ) from None
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SeqbenchError(f"cluster options file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SeqbenchError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SeqbenchError(f"{path} is not valid TOML: {exc}") from None
    return _read(data, str(path))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "cluster (--launcher local or slurm; also settable in an options file)"
    )
    group.add_argument(
        "--cluster-options",
        metavar="FILE",
        help=f"TOML file of the options below (default: ${OPTIONS_ENV}, else ./{OPTIONS_FILE})",
    )
    group.add_argument("--partition", help="SLURM partition")
    group.add_argument(
        "--time-limit",
        help=f"each job's wall-time limit, in SLURM's forms (e.g. 4:00:00, 1-12:00; "
        f"default {DEFAULT_TIME_LIMIT_MIN} min on SLURM, none locally)",
    )
    group.add_argument("--mem", help="memory of each job (e.g. 32G)")
    group.add_argument("--cpus-per-task", help="CPUs of each job")
    group.add_argument("--gpus-per-node", help="GPUs of each job (needs --device cuda)")
    group.add_argument("--account", help="SLURM account to charge")
    group.add_argument("--constraint", help="SLURM node features required (e.g. a100)")
    group.add_argument("--array-parallelism", help="array tasks (local: jobs) running at once")
    group.add_argument(
        "--jobs",
        help="split the cells into this many jobs of each kind, timing and other "
        "(default: one job per cell)",
    )
    group.add_argument(
        "--share-timing-nodes",
        action="store_const",
        const=True,
        default=None,
        help="let timing cells share a node with other jobs (default: exclusive)",
    )
    group.add_argument(
        "--cancel-on-interrupt",
        action="store_const",
        const=True,
        default=None,
        help="Ctrl-C cancels the submitted SLURM jobs too (default: they keep running)",
    )


# Flags (argparse destinations) of the group above, as option names.
_FLAG_OPTIONS = (
    "partition",
    "time_limit",
    "mem",
    "cpus_per_task",
    "gpus_per_node",
    "account",
    "constraint",
    "array_parallelism",
    "jobs",
    "share_timing_nodes",
    "cancel_on_interrupt",
)
_INTEGER_OPTIONS = ("cpus_per_task", "gpus_per_node", "array_parallelism", "jobs")


def given_flags(args: argparse.Namespace) -> list[str]:
    """The cluster flags on the command line, as `--name`."""
    named = [k for k in _FLAG_OPTIONS if getattr(args, k, None) is not None]
    if getattr(args, "cluster_options", None):
        named.append("cluster_options")
    return ["--" + k.replace("_", "-") for k in named]


def from_args(args: argparse.Namespace, stored: dict[str, Any] | None = None) -> ClusterOptions:
    """The options in force: those a resumed run was launched with (or else the options
    file's), then the flags given now."""
    options = ClusterOptions.from_json(stored) if stored is not None else ClusterOptions()
    path = options_file(args.cluster_options) if stored is None or args.cluster_options else None
    if path is not None:
        options = replace(options, **load_file(path))
    flags: dict[str, Any] = {}
    for key in _FLAG_OPTIONS:
        value = getattr(args, key, None)
        if value is None:
            continue
        if key in _INTEGER_OPTIONS:
            try:
                value = int(value)
            except ValueError:
                flag = "--" + key.replace("_", "-")
                raise SeqbenchError(f"{flag} takes an integer, got {value!r}") from None
        flags[key] = value
    return replace(options, **_read(flags, None))
