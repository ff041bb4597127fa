"""Self-contained HTML pages of the summaries (opened from disk and embedded in the Snakemake report): tables,
sortable and filterable by a small inline script (no CDN, works offline), and figures embedded as data URIs.
Every number on a page is a cell of a table passed in; pages add only headings and fixed sentences.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

#: Text of a cell whose quantity does not apply (NaN / None): never shown as 0.
NA = "n/a"

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.2em;color:#222;max-width:100%}
h1{font-size:1.35em;margin:0.2em 0}h2{font-size:1.1em;margin-top:1.4em;border-bottom:1px solid #ddd}
.tw{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:0.82em;margin:0.4em 0}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:nowrap}th{background:#f3f3f3;white-space:normal;min-width:4em;max-width:9em}
td.s,th.s{text-align:left}td.w{white-space:normal;overflow-wrap:anywhere;min-width:12em;max-width:20em}td.na{color:#999}
td.v{white-space:normal;min-width:7em}
th.sort{cursor:pointer}th.sort:after{content:" \\2195";color:#aaa}th.asc:after{content:" \\2191";color:#333}
th.desc:after{content:" \\2193";color:#333}
input.filter{margin:0.3em 0;padding:2px 6px;width:22em}
p.note{color:#555;font-size:0.85em;max-width:70em}img.fig{max-width:100%;height:auto;display:block;margin:0.4em 0}
nav a{margin-right:1em}
table.sticky th:first-child,table.sticky td:first-child{position:sticky;left:0;z-index:1;background:#fff;
box-shadow:1px 0 0 #bbb}table.sticky th:first-child{background:#f3f3f3}
div.cols{font-size:0.8em;color:#444;margin:0.2em 0;max-width:100em}div.cols label{margin-right:0.9em;white-space:nowrap}
"""

# Sort a table by a header click (numbers by value, "n/a" last) and filter its rows by a text box. Vendored
# here (about 30 lines, no library) so pages work offline and inside the Snakemake report.
_SCRIPT = """
(function(){
function key(td){var v=td.getAttribute('data-v');if(v!==null&&v!=='')return parseFloat(v);return td.textContent.trim().toLowerCase();}
function show(t){
  var q=t._q||'',lim=t._all?Infinity:parseInt(t.getAttribute('data-show')||'0',10)||Infinity,n=0,m=0;
  Array.prototype.forEach.call(t.tBodies[0].rows,function(r){
    var hit=!q||r.textContent.toLowerCase().indexOf(q)>=0;if(hit)m++;
    r.style.display=hit&&n<lim?'':'none';if(hit&&n<lim)n++;});
  var b=document.querySelector('button.more[data-for="'+t.id+'"]');
  if(b){b.style.display=m>n||t._all?'':'none';b.textContent=t._all?'show the first rows only':'show all '+m+' rows';}
}
function sortBy(t,col,th){
  var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
  var asc=!th.classList.contains('asc');
  Array.prototype.forEach.call(th.parentNode.cells,function(c){c.classList.remove('asc','desc');});
  th.classList.add(asc?'asc':'desc');
  rows.sort(function(a,b){
    var x=key(a.cells[col]),y=key(b.cells[col]),nx=typeof x==='number',ny=typeof y==='number';
    var ax=a.cells[col].classList.contains('na'),ay=b.cells[col].classList.contains('na');
    if(ax!==ay)return ax?1:-1;
    if(nx&&ny)return asc?x-y:y-x;
    if(nx!==ny)return nx?-1:1;
    return asc?(x<y?-1:x>y?1:0):(x<y?1:x>y?-1:0);
  });
  rows.forEach(function(r){body.appendChild(r);});
  show(t);
}
document.querySelectorAll('table.sortable').forEach(function(t){
  Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){
    th.classList.add('sort');th.addEventListener('click',function(){sortBy(t,i,th);});});
  var f=document.querySelector('input.filter[data-for="'+t.id+'"]');
  if(f)f.addEventListener('input',function(){t._q=f.value.toLowerCase();show(t);});
  var b=document.querySelector('button.more[data-for="'+t.id+'"]');
  if(b)b.addEventListener('click',function(){t._all=!t._all;show(t);});
  document.querySelectorAll('div.cols[data-for="'+t.id+'"] input').forEach(function(c){
    c.addEventListener('change',function(){t.classList.toggle('h'+c.getAttribute('data-col'),!c.checked);});});
});
})();
"""


def fmt(x: object) -> str:
    """Cell text: integers as is, floats to 3 significant digits (small/large in scientific notation),
    booleans yes/no, missing values :data:`NA`."""
    if x is None or x is pd.NA or (isinstance(x, (float, np.floating)) and np.isnan(x)):
        return NA
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


def _is_num(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def table_html(df: pd.DataFrame, columns: Sequence[str] | None = None, *, max_rows: int = 500,
               headings: Mapping[str, str] | None = None, sortable: bool = False, table_id: str | None = None,
               links: Mapping[str, str] | None = None, sort_keys: Mapping[str, str] | None = None,
               show: int = 100, optional: Sequence[str] = (), sticky: bool = False, wrap: Sequence[str] = ()) -> str:
    """An HTML table of ``df`` (selected ``columns``; at most ``max_rows`` rows, the rest noted).

    ``headings``: column -> header text. ``sortable``: header clicks sort, and a filter box is added (needs
    ``table_id``). ``links``: column -> column holding the href of that cell's link. ``sort_keys``: column ->
    numeric column whose value sorts that (text) column. ``show``: a sortable table displays its first ``show``
    rows (after sorting and filtering) and a button shows the rest — hidden rows cost the browser no layout, so
    a genome-wide table opens fast. ``optional``: columns hidden at first, each with a check box above the table
    that shows it (needs ``table_id``), so a wide table opens at screen width. ``sticky``: the first column stays
    in view when the table scrolls sideways. ``wrap``: short text columns allowed to wrap between words (the
    method cells ``call · PIP · set``), so the table stays narrow.
    """
    cols = list(columns) if columns is not None else list(df.columns)
    if not len(df):
        return '<p class="note">(none)</p>'
    heads = headings or {}
    opt = {c: i for i, c in enumerate(cols) if c in set(optional)} if table_id else {}
    oc = {c: f' class="o{i}"' for c, i in opt.items()}
    # headers align with their cells: left over text columns, right over numbers
    head = ""
    for c in cols:
        classes = (["s"] if not _is_num(_first_value(df, c)) or (sort_keys and c in sort_keys) else []) + \
            ([f"o{opt[c]}"] if c in opt else [])
        attr = f' class="{" ".join(classes)}"' if classes else ""
        head += f"<th{attr}>{html.escape(str(heads.get(c, c)))}</th>"
    links = links or {}
    body = []
    for i, rec in enumerate(df.head(max_rows).to_dict("records")):
        cells = []
        for c in cols:
            v = rec.get(c)
            text = html.escape(fmt(v))
            o = f" o{opt[c]}" if c in opt else ""
            if c in links and isinstance(rec.get(links[c]), str) and rec.get(links[c]):
                text = f'<a href="{html.escape(rec[links[c]])}">{text}</a>'
            k = rec.get(sort_keys[c]) if sort_keys and c in sort_keys else None
            if text == NA:
                cells.append(f'<td class="na{o}">{text}</td>')
            elif _is_num(k) and np.isfinite(float(k)):
                v_cls = " v" if c in wrap else ""
                cells.append(f'<td class="s{v_cls}{o}" data-v="{float(k)!r}">{text}</td>')
            elif len(text) > 30:  # long text (tissue lists, collinear members) wraps; short text stays on one line
                cells.append(f'<td class="s w{o}">{text}</td>')
            elif _is_num(v):
                cells.append(f'<td{oc.get(c, "")} data-v="{float(v)!r}">{text}</td>')
            else:
                cells.append(f'<td class="s{o}">{text}</td>')
        hidden = sortable and i >= show
        body.append(('<tr style="display:none">' if hidden else "<tr>") + "".join(cells) + "</tr>")
    more = f'<p class="note">… {len(df) - max_rows} more rows in the TSV file.</p>' if len(df) > max_rows else ""
    tid = f' id="{html.escape(table_id)}"' if table_id else ""
    classes = (["sortable"] if sortable else []) + (["sticky"] if sticky else []) + [f"h{i}" for i in opt.values()]
    cls = (f' class="{" ".join(classes)}"' if classes else "") + (f' data-show="{show}"' if sortable else "")
    toggles = ""
    if opt:
        t = html.escape(str(table_id))
        rules = "".join(f"#{t}.h{i} .o{i}{{display:none}}" for i in opt.values())
        boxes = "".join(f'<label><input type="checkbox" data-col="{i}"> {html.escape(str(heads.get(c, c)))}</label>'
                        for c, i in opt.items())
        toggles = f'<style>{rules}</style><div class="cols" data-for="{t}">more columns: {boxes}</div>'
    filt = (f'<input class="filter" type="search" placeholder="filter rows…" data-for="{html.escape(table_id)}">'
            if sortable and table_id else "")
    n = min(len(df), max_rows)
    btn = (f'<button class="more" data-for="{html.escape(table_id)}">show all {n} rows</button>'
           if sortable and table_id and n > show else "")
    return (f'{filt}{toggles}<div class="tw"><table{tid}{cls}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}'
            f"</tbody></table></div>{btn}{more}")


def _first_value(df: pd.DataFrame, column: str) -> object:
    """The column's first non-missing value (None when it has none or no such column)."""
    if column not in df.columns:
        return None
    v = df[column].dropna()
    return v.iloc[0] if len(v) else None


def embed_image(path: str | Path, *, alt: str = "", link: str | None = None) -> str:
    """An ``<img>`` with the PNG inlined as a data URI (the page stays one self-contained file)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    img = f'<img class="fig" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
    return f'<a href="{html.escape(link)}">{img}</a>' if link else img


def page(title: str, sections: Sequence[tuple[str, str, str]], *, intro: str = "", nav: bool = False) -> str:
    """A complete HTML document: ``sections`` = (heading, note, body html); ``intro``: html under the title;
    ``nav``: a line of links to the sections."""
    ids = ["".join(ch if ch.isalnum() else "-" for ch in h.lower()).strip("-") for h, _, _ in sections]
    parts = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width\"><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{intro}"]
    if nav:
        parts.append("<nav>" + "".join(f'<a href="#{i}">{html.escape(h)}</a>' for i, (h, _, _) in
                                       zip(ids, sections)) + "</nav>")
    for sec_id, (heading, note, body) in zip(ids, sections):
        parts.append(f'<section id="{sec_id}"><h2>{html.escape(heading)}</h2>')
        if note:
            parts.append(f'<p class="note">{html.escape(note)}</p>')
        parts.append(body + "</section>")
    parts.append(f"<script>{_SCRIPT}</script></body></html>\n")
    return "".join(parts)
