"""A small self-contained HTML page of summary tables (embedded in the Snakemake report). Every number on
the page is a cell of a table passed in; the page adds only headings and fixed explanatory sentences.
"""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np
import pandas as pd

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.2em;color:#222}
h1{font-size:1.35em}h2{font-size:1.1em;margin-top:1.4em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:0.85em;margin:0.4em 0}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f3f3f3}
td.s{text-align:left}p.note{color:#555;font-size:0.85em;max-width:60em}
"""


def fmt(x: object) -> str:
    """Cell text: integers as is, floats to 3 significant digits (p-values in scientific notation)."""
    if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA:
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        v = float(x)
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3g}"
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.4g}"
    return str(x)


def table_html(df: pd.DataFrame, columns: Sequence[str] | None = None, *, max_rows: int = 200) -> str:
    """An HTML table of ``df`` (selected ``columns``; at most ``max_rows`` rows, the rest noted)."""
    cols = list(columns) if columns is not None else list(df.columns)
    if not len(df):
        return '<p class="note">(none)</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for rec in df[cols].head(max_rows).itertuples(index=False):
        cells = []
        for v in rec:
            text = html.escape(fmt(v))
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            cells.append(f"<td>{text}</td>" if num else f'<td class="s">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f'<p class="note">… {len(df) - max_rows} more rows in the TSV file.</p>' if len(df) > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def page(title: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """A complete HTML document: ``sections`` = (heading, note, body html)."""
    parts = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    for heading, note, body in sections:
        sec_id = "".join(ch if ch.isalnum() else "-" for ch in heading.lower()).strip("-")
        parts.append(f'<section id="{sec_id}"><h2>{html.escape(heading)}</h2>')
        if note:
            parts.append(f'<p class="note">{html.escape(note)}</p>')
        parts.append(body + "</section>")
    parts.append("</body></html>\n")
    return "".join(parts)
