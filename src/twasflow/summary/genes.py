"""Gene lists (silver standard, drug targets) and gene positions, as the summaries need them.

Genes are matched by *keys*: the version-stripped, upper-cased Ensembl id and the upper-cased symbol. A
result gene matches a list when its id or its name (or the annotation's symbol for its id) is on the list,
so lists may hold symbols, Ensembl ids or both.

I/O lives in :func:`read_gene_list` and :func:`twasflow.io.annotation.read_gene_annotation`; :func:`nearby_genes` and
:func:`annotate` are pure table functions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.annotation import read_gene_annotation  # noqa: F401  (the one annotation reader, re-exported)

LIST_GENE_COLUMNS = ("gene_symbol", "gene_name", "symbol", "gene_id", "ensembl_gene_id", "gene")
ALL_TRAITS = {"", "*", "all", "nan", "<na>"}


def gene_key(x: object) -> str:
    """Canonical key of one identifier: upper case, Ensembl version stripped ("ensg0000012.3" -> "ENSG0000012")."""
    s = str(x).strip().upper()
    if s.startswith("ENSG") and "." in s:
        s = s.split(".", 1)[0]
    return s


def read_gene_list(path: str | Path, trait: str | None = None) -> frozenset[str]:
    """Gene keys of a list file that apply to ``trait``.

    The file is tab-separated with a header naming at least one of :data:`LIST_GENE_COLUMNS` (every such
    column is used: a row may give a symbol, an id or both). An optional ``trait`` column restricts a row to
    the trait it names (case-insensitive; blank, ``*`` or ``all`` = every trait); without it every row applies.

    Raises :class:`~twasflow.errors.InputError` when the file is missing, has no gene column, or a row names
    no gene.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError.at("gene list does not exist", file=p, expected="a tab-separated file with a header")
    df = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False, comment=None)
    df.columns = [str(c).strip() for c in df.columns]
    cols = [c for c in df.columns if c.lower() in LIST_GENE_COLUMNS]
    if not cols:
        raise InputError.at("gene list has no gene column", file=p, found=f"columns {list(df.columns)}",
                            expected=f"one of {', '.join(LIST_GENE_COLUMNS)}")
    vals = df[cols].apply(lambda s: s.str.strip())
    empty = (vals == "").all(axis=1).to_numpy()
    if empty.any():
        row = int(np.flatnonzero(empty)[0]) + 1
        raise InputError.at("row names no gene", file=p, column=cols[0], row=row, found="blank",
                            expected="a gene symbol or Ensembl id")
    if trait is not None and "trait" in [c.lower() for c in df.columns]:
        tcol = next(c for c in df.columns if c.lower() == "trait")
        t = df[tcol].str.strip().str.lower()
        vals = vals[(t == trait.lower()) | t.isin(ALL_TRAITS)]
    keys = {gene_key(v) for c in cols for v in vals[c] if v != ""}
    return frozenset(keys)


def annotate(genes: pd.DataFrame, annotation: pd.DataFrame | None) -> pd.DataFrame:
    """Add ``symbol, chrom, start, end`` to a table with ``gene_id`` and ``gene_name`` (by id, else by name).

    Returns a copy with those columns (NaN/None where the gene is not in the annotation) and ``keys``: the
    set of keys (id, name, symbol) under which the gene may appear on a list.
    """
    g = genes.copy()
    gid = [gene_key(x) if isinstance(x, str) and x else "" for x in g["gene_id"].astype(object)]
    gname = [gene_key(x) if isinstance(x, str) and x else "" for x in g["gene_name"].astype(object)]
    sym: list[str] = [""] * len(g)
    chrom: list[object] = [None] * len(g)
    start = np.full(len(g), np.nan)
    end = np.full(len(g), np.nan)
    if annotation is not None and len(annotation):
        a = annotation.copy()
        a["_id"] = a["gene_id"].astype(str)
        a["_name"] = [gene_key(x) for x in a["gene_name"].astype(str)]
        by_id = a[a["_id"] != ""].drop_duplicates("_id").set_index("_id")
        by_name = a[a["_name"] != ""].drop_duplicates("_name").set_index("_name")
        for i, (k, n) in enumerate(zip(gid, gname)):
            row = None
            if k and k in by_id.index:
                row = by_id.loc[k]
            elif n and n in by_name.index:
                row = by_name.loc[n]
            if row is not None:
                sym[i] = gene_key(row["gene_name"]) if row["gene_name"] else ""
                chrom[i], start[i], end[i] = row["chrom"], row["start"], row["end"]
    g["symbol"] = sym
    g["chrom"] = chrom
    g["start"] = start
    g["end"] = end
    g["keys"] = [frozenset(x for x in (k, n, s) if x) for k, n, s in zip(gid, gname, sym)]
    return g


def on_list(keys: pd.Series, genes: frozenset[str]) -> np.ndarray:
    """Boolean per row: any of the row's keys is on the list."""
    return np.fromiter((bool(k & genes) for k in keys), dtype=bool, count=len(keys))


def nearby_genes(annotation: pd.DataFrame, silver: frozenset[str], *, radius_bp: float = 1_000_000,
                 tested: frozenset[str] | None = None) -> frozenset[str]:
    """Keys of the genes near a silver-standard gene: the gene's span overlaps [start - radius, end + radius]
    of a silver gene on the same chromosome (the cTWAS paper's bystander genes), silver genes excluded.

    ``tested``: when given, only silver genes whose keys intersect it define windows (cTWAS used the silver
    genes that had an expression model, i.e. could have been found).
    """
    a = annotation.reset_index(drop=True)
    keys = pd.Series([frozenset(x for x in (g, gene_key(n) if n else "") if x)
                      for g, n in zip(a["gene_id"], a["gene_name"])])
    is_silver = on_list(keys, silver)
    anchor = is_silver.copy()
    if tested is not None:
        anchor &= on_list(keys, tested)
    near = np.zeros(len(a), dtype=bool)
    chrom = a["chrom"].to_numpy()
    s = a["start"].to_numpy(np.float64)
    e = a["end"].to_numpy(np.float64)
    for c in np.unique(chrom[anchor]):
        on = chrom == c
        ws = s[anchor & on] - radius_bp
        we = e[anchor & on] + radius_bp
        # gene i overlaps window j when s_i <= we_j and e_i >= ws_j (a few silver genes per chromosome)
        hit = (s[on][:, None] <= we[None, :]) & (e[on][:, None] >= ws[None, :])
        near[np.flatnonzero(on)] = hit.any(axis=1)
    near &= ~is_silver
    out: set[str] = set()
    for k in keys[near]:
        out |= k
    # a key shared with a silver gene (e.g. a duplicated symbol) stays silver
    return frozenset(out - silver)
