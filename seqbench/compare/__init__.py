"""`seqbench compare`: regression detection between two result sets (README, "Comparing
runs"). The detector's own false-alarm and detection rates: ``python -m
seqbench.compare.detector_study``."""

from seqbench.compare.engine import Comparison, compare_results
from seqbench.compare.options import CompareOptions, parse_fraction

__all__ = ["CompareOptions", "Comparison", "compare_results", "parse_fraction"]
