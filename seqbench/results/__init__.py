"""Loading stored results into pandas: shared by `seqbench report` and `seqbench compare`."""

from seqbench.results.load import (
    CONFIG_COLUMNS,
    ResultSet,
    load_results,
)

__all__ = ["CONFIG_COLUMNS", "ResultSet", "load_results"]
