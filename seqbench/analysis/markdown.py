"""The one writer of Markdown tables (GitHub-flavoured pipe tables), for reports, compare's
pull-request comment and the studies' summaries.

Cells are written as their text, unpadded, so a table's source diffs line by line; a pipe in
a cell is escaped and a line break becomes a space, the two characters that would end a cell
or a row early.
"""

from __future__ import annotations

import pandas as pd


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    """A frame's columns and rows as a Markdown table (the index is left out)."""
    header = "| " + " | ".join(_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])
