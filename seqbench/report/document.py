"""A tiny document model, rendered to Markdown and to a self-contained HTML page.

Both renderings come from the same blocks, so report.md and report.html never disagree.
HTML embeds every figure as a base64 data URI and has no scripts or external resources.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from seqbench.analysis.markdown import markdown_table


@dataclass(frozen=True)
class Heading:
    text: str  # heading text
    level: int = 2  # 1 = title


@dataclass(frozen=True)
class Paragraph:
    text: str  # plain text (no markup); rendered escaped


@dataclass(frozen=True)
class Bullets:
    items: list[str]  # plain-text list items


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame  # cells already formatted as text with units


@dataclass(frozen=True)
class Image:
    path: Path  # the PNG on disk
    alt: str  # alternative text (the figure's title)
    relative: str  # path from the report's folder, for Markdown


Block = Heading | Paragraph | Bullets | Table | Image


def render_markdown(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Paragraph):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Table):
            out.append(markdown_table(b.frame))
        elif isinstance(b, Image):
            out.append(f"![{b.alt}]({b.relative})")
    return "\n\n".join(out) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 75rem;
       padding: 0 1rem; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #f3f3f3; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
"""


def slug(text: str) -> str:
    """The anchor a heading gets, as code-hosting sites make it: lower case, punctuation
    dropped, spaces as hyphens. HTML headings carry it as their id, so links work in both."""
    return re.sub(r"[^\w\- ]", "", text.lower()).strip().replace(" ", "-")


def _inline(text: str) -> str:
    """Escaped text with Markdown's `code` spans as <code> and [text](#anchor) links as
    <a>, so both renderings agree."""
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"\[([^\]]+)\]\((#[\w\-]+)\)", r'<a href="\2">\1</a>', out)


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_inline(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_inline('' if pd.isna(v) else str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(blocks: list[Block], title: str) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
    ]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f'<h{b.level} id="{slug(b.text)}">{html.escape(b.text)}</h{b.level}>')
        elif isinstance(b, Paragraph):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            items = "".join(f"<li>{_inline(i)}</li>" for i in b.items)
            out.append(f"<ul>{items}</ul>")
        elif isinstance(b, Table):
            out.append(_html_table(b.frame))
        elif isinstance(b, Image):
            out.append(
                f'<figure><img src="{_data_uri(b.path)}" alt="{html.escape(b.alt)}"></figure>'
            )
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
