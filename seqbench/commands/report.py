"""`seqbench report RESULTS... [--out DIR]`: tables, figures and claim verdicts."""

from __future__ import annotations

import argparse

from seqbench.errors import SeqbenchError

HELP = "build tables, figures and a report (Markdown and HTML) from result files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", help="results folders or pytest-benchmark JSON files")
    parser.add_argument(
        "--out",
        default="report",
        help="output folder for tables/, figures/, report.md and report.html (default: ./report)",
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: pandas, scipy and matplotlib load only when a report is asked for,
    # so `seqbench --help` and the other subcommands stay fast.
    from seqbench.report import build_report

    try:
        report = build_report(args.results, args.out)
    except OSError as exc:  # the output folder cannot be written: the user's input, not a bug
        raise SeqbenchError(
            f"cannot write the report to {args.out}: {exc.strerror or exc}"
        ) from None
    drawn = sum(d.path is not None for d in report.figures)
    verdicts = [j.outcome.verdict for j in report.judged]
    print(f"wrote {report.markdown} and {report.html}")
    print(
        f"  {len(report.tables)} tables in {report.folder / 'tables'}, {drawn} of "
        f"{len(report.figures)} figures in {report.folder / 'figures'}"
    )
    print(
        f"  claims: {verdicts.count('supported')} supported, "
        f"{verdicts.count('contradicted')} contradicted, "
        f"{verdicts.count('inconclusive')} inconclusive"
    )
    if report.missing_families:
        print(f"  missing families: {', '.join(report.missing_families)}")
    return 0
