"""`seqbench report`: pandas tables, seaborn figures and claim verdicts from result files."""

from seqbench.report.build import Report, build_report

__all__ = ["Report", "build_report"]
