"""`seqbench env`: print the environment a run would record."""

from __future__ import annotations

import argparse
import json

from seqbench import env

HELP = "print the environment that a run records (versions, CPU/GPU, threads)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))


def run(args: argparse.Namespace) -> int:
    info = env.collect(args.device)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(map(len, info))
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return 0
