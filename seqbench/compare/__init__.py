"""`seqbench compare`: regression detection between two result sets (README, "Comparing
runs"). The detector's own false-alarm and detection rates are measured by a study that
uses this package as a client: ``python -m seqbench.studies.detector``."""

from seqbench.compare.engine import Comparison, compare_results
from seqbench.compare.options import CompareOptions, parse_fraction

__all__ = ["CompareOptions", "Comparison", "compare_results", "parse_fraction"]
