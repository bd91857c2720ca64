"""`seqbench report`: pandas tables, seaborn figures and claim verdicts from result files.

The report is the top layer: it reads the frames, statistics and units of seqbench.analysis
and the verdicts of seqbench.claims, and nothing below it imports it.
"""

from seqbench.report.build import Report, build_report

__all__ = ["Report", "build_report"]
