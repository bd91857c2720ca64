"""`seqbench compare BASELINE CURRENT`: flag regressions between two result sets (stub)."""

from __future__ import annotations

import argparse

from seqbench.errors import SeqbenchError

HELP = "compare two result sets and flag regressions (exit 0 none, 1 regression, 2 bad input)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", help="baseline results folder or pytest-benchmark JSON file")
    parser.add_argument("current", help="current results folder or pytest-benchmark JSON file")


def run(args: argparse.Namespace) -> int:
    raise SeqbenchError("compare is not implemented yet")
