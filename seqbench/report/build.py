"""`build_report`: result paths in, a folder of tables, figures, report.md and report.html
out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqbench.analysis.data import measure
from seqbench.claims import Judged, evaluate
from seqbench.report import sections
from seqbench.report.answer import answer
from seqbench.report.document import render_html, render_markdown
from seqbench.report.figures import DrawnFigure, draw_all
from seqbench.report.tables import build_tables, claims_frames, write_tables
from seqbench.results import load_results

TITLE = "seqbench report"


@dataclass(frozen=True)
class Report:
    """What build_report wrote."""

    folder: Path  # the output folder
    markdown: Path  # report.md
    html: Path  # report.html, self-contained
    tables: list[Path]  # tables/*.csv
    figures: list[DrawnFigure]  # every figure, drawn or with the reason it is absent
    judged: list[Judged]  # every claim with its verdict
    missing_families: list[str]  # families the results lack


def build_report(paths: list[str | Path], out: str | Path) -> Report:
    """Load results (SeqbenchError on bad input) and write the report into `out`."""
    results = load_results(list(paths))
    out = Path(out)
    m = measure(results)
    tables = build_tables(m)
    judged = evaluate(m)
    tables.update(claims_frames(judged))
    table_paths = write_tables(tables, out / "tables")
    drawn = draw_all(m, out / "figures")
    # The user's question first; how it was measured and on what machine, last.
    blocks = [
        *sections.overview(m, out),
        *answer(m),
        *sections.characteristics(judged),
        *sections.claims_table(judged),
        *sections.model_summaries(m, tables),
        *sections.implementations(tables),
        *sections.figures(drawn, out),
        *sections.cells(tables),
        *sections.method(),
        *sections.table_files(table_paths, out),
        *sections.environment(m),
    ]
    md = out / "report.md"
    md.write_text(render_markdown(blocks), encoding="utf-8")
    page = out / "report.html"
    page.write_text(render_html(blocks, TITLE), encoding="utf-8")
    return Report(out, md, page, table_paths, drawn, judged, m.missing_families)
