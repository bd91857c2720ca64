"""`seqbench report RESULTS... [--out DIR]`: tables, figures and claim verdicts (stub)."""

from __future__ import annotations

import argparse

from seqbench.errors import SeqbenchError

HELP = "build tables, figures and a report (Markdown and HTML) from result files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", help="results folders or pytest-benchmark JSON files")
    parser.add_argument("--out", default="report", help="output folder (default: ./report)")


def run(args: argparse.Namespace) -> int:
    raise SeqbenchError("report is not implemented yet")
