"""The one reader of gene annotations (gene positions), used by the locus plots, the locus pages and the
summaries alike.

Accepted layouts (tab-separated, header, optionally gzipped):

* the example's ``genes.tsv``: ``gene_id, gene_name, chrom, start, end`` (optional ``strand``, ``tss``, ...);
* the documented annotation layout (``enrichment.gene_annotation``, e.g. org.Hs.eg.db exports):
  ``ensembl_gene_id, symbol, chrom, start, end`` (several ids joined by ``;`` become one row each; a gene
  without an Ensembl id keeps an empty ``gene_id`` and is matched by its symbol).

The annotation's genome build is read from a ``build``/``genome_build`` column, else from the file name
(``hg19``, ``hg38``, ``GRCh37``, ``GRCh38``, ``b37``, ``b38`` as a name token); when it is known and differs
from the run's ``genome_build`` the reader raises :class:`~twasflow.errors.InputError` (gene positions of
another build put genes at the wrong place on every plot and in every nearby-gene count).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

#: Columns of :func:`read_gene_annotation`'s result.
ANNOTATION_COLUMNS = ["gene_id", "gene_name", "chrom", "start", "end", "strand"]
_BUILDS = {"hg19": "GRCh37", "grch37": "GRCh37", "b37": "GRCh37", "hg38": "GRCh38", "grch38": "GRCh38",
           "b38": "GRCh38"}
_NAME_TOKEN = re.compile(r"(?<![a-z0-9])(hg19|hg38|grch37|grch38|b37|b38)(?![0-9])", re.I)


def _key(x: str) -> str:
    """Version-stripped, upper-cased Ensembl id (the summaries' gene key)."""
    s = x.strip().upper()
    return s.split(".", 1)[0] if s.startswith("ENSG") else s


def annotation_build(path: str | Path, table: pd.DataFrame | None = None) -> str | None:
    """The genome build an annotation declares (``GRCh37``/``GRCh38``), or None when it declares none.

    A ``build``/``genome_build`` column (one value) wins over a build token in the file name.
    """
    if table is not None:
        col = next((c for c in ("genome_build", "build") if c in table.columns), None)
        if col is not None:
            vals = {_BUILDS.get(str(v).strip().lower(), str(v).strip()) for v in table[col] if str(v).strip()}
            if len(vals) > 1:
                raise InputError.at("gene annotation mixes genome builds", file=path, column=col,
                                    found=", ".join(sorted(vals)), expected="one build")
            if vals:
                return vals.pop()
    m = _NAME_TOKEN.search(Path(path).name)
    return _BUILDS[m.group(1).lower()] if m else None


def read_gene_annotation(path: str | Path, genome_build: str | None = None) -> pd.DataFrame:
    """Gene positions of an annotation file.

    Parameters
    ----------
    path : annotation TSV (see the module docstring for the accepted layouts).
    genome_build : the run's build (``GRCh37``/``GRCh38``); None skips the build check.

    Returns
    -------
    :data:`ANNOTATION_COLUMNS`: ``gene_id`` (version-stripped Ensembl id, ``""`` when none), ``gene_name``
    (symbol), ``chrom`` (no ``chr`` prefix), ``start <= end`` (bp, int64; negative minus-strand coordinates
    made positive), ``strand`` (``+``/``-``/``""``). One row per (id, gene) when a row lists several ids.

    Raises
    ------
    InputError
        Missing file, missing column, a non-numeric position, or a declared build other than ``genome_build``.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError.at("gene annotation does not exist", file=p, column="enrichment.gene_annotation",
                            expected="a tab-separated gene annotation (chrom, start, end, gene id/symbol)")
    df = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)
    df.columns = [str(c).strip() for c in df.columns]
    build = annotation_build(p, df)
    if genome_build is not None and build is not None and build != genome_build:
        raise InputError.at("gene annotation is in another genome build", file=p, column="genome_build",
                            found=build, expected=f"{genome_build} (the run's genome_build)")
    idc = next((c for c in ("gene_id", "ensembl_gene_id") if c in df.columns), None)
    # "symbol" first: annotation tables often use gene_name for the long description
    namec = next((c for c in ("symbol", "gene_symbol", "gene_name") if c in df.columns), None)
    for c in ("chrom", "start", "end"):
        if c not in df.columns:
            raise InputError.at("gene annotation lacks a column", file=p, column=c, found=f"columns {list(df.columns)}",
                                expected="chrom, start, end and gene_id/ensembl_gene_id and/or gene_name/symbol")
    if idc is None and namec is None:
        raise InputError.at("gene annotation has no gene identifier column", file=p,
                            found=f"columns {list(df.columns)}", expected="gene_id, ensembl_gene_id, gene_name or symbol")
    out = pd.DataFrame({
        "gene_id": df[idc].astype(object) if idc else "",
        "gene_name": df[namec].str.strip().astype(object) if namec else "",
        "chrom": df["chrom"].str.strip().str.removeprefix("chr").astype(object),
    })
    for c in ("start", "end"):
        v = pd.to_numeric(df[c], errors="coerce")
        bad = v.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise InputError.at("gene position is not a number", file=p, column=c, row=row,
                                found=repr(df[c].iloc[row - 1]), expected="an integer (bp)")
        # some sources code the minus strand as negative coordinates
        out[c] = v.abs().astype(np.int64)
    neg = pd.to_numeric(df["start"], errors="coerce").to_numpy() < 0
    strand = df["strand"].str.strip() if "strand" in df.columns else pd.Series("", index=df.index)
    out["strand"] = np.where(strand.isin(["+", "-"]), strand, np.where(neg, "-", "")).astype(object)
    lo = np.minimum(out["start"], out["end"])
    out["end"] = np.maximum(out["start"], out["end"])
    out["start"] = lo
    out["gene_id"] = out["gene_id"].astype(str).str.split(";")
    out = out.explode("gene_id", ignore_index=True)
    out["gene_id"] = [_key(g) if g.strip() else "" for g in out["gene_id"].astype(str)]
    out.attrs["build"] = build
    return out[ANNOTATION_COLUMNS]


def genes_in_window(annotation: pd.DataFrame | None, chrom: str, start: float, end: float) -> pd.DataFrame:
    """Annotation rows of genes overlapping ``chrom:[start, end]`` (one row per gene: rows sharing a symbol
    and span, e.g. one gene with two Ensembl ids, collapse to the first), sorted by start."""
    cols = ANNOTATION_COLUMNS
    if annotation is None or not len(annotation):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    a = annotation
    g = a[(a["chrom"].astype(str) == str(chrom)) & (a["end"] >= start) & (a["start"] <= end)]
    if len(g):
        label = g["gene_name"].where(g["gene_name"] != "", g["gene_id"])
        g = g.loc[~pd.DataFrame({"k": label, "s": g["start"], "e": g["end"]}).duplicated().to_numpy()]
    return g.sort_values(["start", "end", "gene_name"], kind="mergesort").reset_index(drop=True)[cols]
