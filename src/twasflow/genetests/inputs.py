"""Annotation inputs of the gene tests, in the formats users have, read into tidy tables (the I/O edge).

* Consequence table (``read_consequences``): one row per variant × gene × consequence term, from
  - ``table``: tab-separated with columns ``chrom, pos, gene, consequence`` (+ optional ``ref, alt``);
  - ``vep``: Ensembl VEP's tab output (``#Uploaded_variation, Location, Allele, Gene, …, Consequence``;
    ``Location`` = ``chrom:pos`` or ``chrom:start-end``; consequences joined by ``,``);
  - ``annovar``: ANNOVAR's ``table_annovar`` output (``Chr, Start, End, Ref, Alt, Func.refGene,
    Gene.refGene, ExonicFunc.refGene``; the exonic function is used for exonic variants, ``Func`` otherwise;
    genes joined by ``;`` or ``,``).
  Terms are mapped to (class, subclass) by the configured hierarchy (:func:`class_map`), case-insensitively;
  unmapped terms (intron, intergenic …) are counted and left out.
* TSS table (``read_tss``): the gene annotation (``gene_id``/``ensembl_gene_id``, ``gene_name``/``symbol``,
  ``chrom``, and ``tss`` or ``start, end, strand``; TSS = start on +, end on −).
* Element BED (``read_elements``): GAMBIT's ``--anno-bed`` layout, ``chrom start end class element_id
  targets`` with ``targets`` = ``GENE:score|GENE:score``; BED coordinates (0-based start, end exclusive:
  a variant at 1-based ``pos`` is inside when ``start < pos <= end``). A header line starting with ``#`` is
  skipped.

Every reader raises :class:`twasflow.errors.InputError` naming file, column, row and what was expected.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError

CONSEQUENCE_COLUMNS = ["chrom", "pos", "ref", "alt", "gene", "class", "subclass", "term"]
TSS_COLUMNS = ["gene_id", "gene_name", "chrom", "tss"]
ELEMENT_COLUMNS = ["chrom", "start", "end", "element_class", "element_id", "gene", "score"]
FORMATS = ("table", "vep", "annovar")


def _norm_chrom(s: pd.Series) -> pd.Series:
    return s.astype(str).str.strip().str.removeprefix("chr").astype(object)


def _need(df: pd.DataFrame, cols: Sequence[str], path: Path, expected: str) -> None:
    for c in cols:
        if c not in df.columns:
            raise InputError.at("annotation table lacks a column", file=path, column=c,
                                found=f"columns {list(df.columns)[:12]}", expected=expected)


def _int_col(v: pd.Series, path: Path, col: str) -> np.ndarray:
    x = pd.to_numeric(v, errors="coerce")
    bad = x.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise InputError.at("position is not a number", file=path, column=col, row=row,
                            found=repr(v.iloc[row - 1]), expected="an integer (bp)")
    return x.to_numpy(np.int64)


def class_map(hierarchy: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """Lower-cased term -> [(class, subclass), …] from the config hierarchy
    (``[{class, subclass, terms: [...]}, …]``; a term may belong to several subclasses)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for h in hierarchy:
        for t in h["terms"]:
            out.setdefault(str(t).strip().lower(), []).append((str(h["class"]), str(h["subclass"])))
    return out


def _split_terms(s: pd.Series) -> pd.Series:
    return s.astype(str).str.split(r"[,&;]")


def read_consequences(path: str | Path, hierarchy: Sequence[Mapping[str, Any]], fmt: str = "table"
                      ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Variant consequences mapped to annotation classes.

    Returns
    -------
    (table, counts): :data:`CONSEQUENCE_COLUMNS` (one row per variant × gene × subclass, deduplicated;
    ``ref``/``alt`` empty when the format has none) and counts ``rows``, ``mapped``, ``unmapped_terms``.
    """
    p = Path(path)
    if fmt not in FORMATS:
        raise InputError.at("unknown consequence format", column="gene_tests.annotations.consequences_format",
                            found=repr(fmt), expected=" | ".join(FORMATS))
    if not p.is_file():
        raise InputError.at("consequence table does not exist", file=p, column="gene_tests.annotations.consequences")
    if fmt == "vep":
        lines = [ln for ln in p.read_text().splitlines() if not ln.startswith("##")]
        if not lines:
            raise InputError.at("empty VEP file", file=p)
        header = lines[0].lstrip("#").split("\t")
        df = pd.DataFrame([ln.split("\t") for ln in lines[1:]], columns=header, dtype=object)
        _need(df, ["Location", "Gene", "Consequence"], p, "VEP tab output columns Location, Gene, Consequence")
        loc = df["Location"].astype(str).str.extract(r"^(?:chr)?([^:]+):(\d+)")
        t = pd.DataFrame({"chrom": loc[0], "pos": loc[1], "ref": "",
                          "alt": df["Allele"] if "Allele" in df.columns else "", "gene": df["Gene"],
                          "term": _split_terms(df["Consequence"])})
    elif fmt == "annovar":
        df = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)
        _need(df, ["Chr", "Start", "Ref", "Alt", "Func.refGene", "Gene.refGene"], p,
              "ANNOVAR table_annovar columns Chr, Start, Ref, Alt, Func.refGene, Gene.refGene, ExonicFunc.refGene")
        exonic = df.get("ExonicFunc.refGene", pd.Series("", index=df.index)).astype(str)
        term = np.where((df["Func.refGene"].astype(str).str.contains("exonic")) & ~exonic.isin(["", "."]),
                        exonic.str.replace(" ", "_"), df["Func.refGene"].astype(str))
        t = pd.DataFrame({"chrom": df["Chr"], "pos": df["Start"], "ref": df["Ref"], "alt": df["Alt"],
                          "gene": df["Gene.refGene"].astype(str).str.split(r"[;,]"),
                          "term": pd.Series(term, index=df.index).str.split(";")})
        t = t.explode("gene", ignore_index=True)
    else:
        df = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)
        _need(df, ["chrom", "pos", "gene", "consequence"], p, "chrom, pos, gene, consequence (+ optional ref, alt)")
        t = pd.DataFrame({"chrom": df["chrom"], "pos": df["pos"], "ref": df.get("ref", ""),
                          "alt": df.get("alt", ""), "gene": df["gene"], "term": _split_terms(df["consequence"])})
    n_rows = len(t)
    t = t.explode("term", ignore_index=True)
    t["term"] = t["term"].astype(str).str.strip()
    t["chrom"] = _norm_chrom(t["chrom"])
    t["pos"] = _int_col(t["pos"], p, "pos")
    t["gene"] = t["gene"].astype(str).str.strip().str.replace(r"\.\d+$", "", regex=True)
    cmap = class_map(hierarchy)
    hits = t["term"].str.lower().map(cmap)
    mapped = hits.notna()
    unmapped = int((~mapped).sum())
    t = t[mapped].assign(cls=hits[mapped]).explode("cls", ignore_index=True)
    t["class"] = [c[0] for c in t["cls"]]
    t["subclass"] = [c[1] for c in t["cls"]]
    t = t[(t["gene"] != "") & (t["gene"] != ".")]
    t["ref"] = t["ref"].fillna("").astype(str)
    t["alt"] = t["alt"].fillna("").astype(str)
    out = t[CONSEQUENCE_COLUMNS].drop_duplicates(["chrom", "pos", "ref", "alt", "gene", "subclass"])
    out = out.sort_values(["chrom", "pos", "gene", "class", "subclass"], kind="stable").reset_index(drop=True)
    return out, {"rows": n_rows, "mapped": int(len(out)), "unmapped_terms": unmapped}


def read_tss(path: str | Path) -> pd.DataFrame:
    """TSS per gene (:data:`TSS_COLUMNS`) from a gene annotation table (tab-separated)."""
    p = Path(path)
    if not p.is_file():
        raise InputError.at("TSS / gene annotation table does not exist", file=p, column="gene_tests.annotations.tss")
    df = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)
    idc = next((c for c in ("gene_id", "ensembl_gene_id") if c in df.columns), None)
    namec = next((c for c in ("symbol", "gene_symbol", "gene_name") if c in df.columns), None)
    if idc is None and namec is None:
        raise InputError.at("TSS table has no gene identifier column", file=p, found=f"columns {list(df.columns)}",
                            expected="gene_id, ensembl_gene_id, gene_name or symbol")
    _need(df, ["chrom"], p, "chrom and tss (or start, end, strand)")
    if "tss" in df.columns:
        tss = _int_col(df["tss"], p, "tss")
    else:
        _need(df, ["start", "end", "strand"], p, "tss, or start, end and strand")
        s, e = np.abs(_int_col(df["start"], p, "start")), np.abs(_int_col(df["end"], p, "end"))
        strand = df["strand"].astype(str).str.strip()
        bad = ~strand.isin(["+", "-", "1", "-1"])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise InputError.at("strand not + or -", file=p, column="strand", row=row,
                                found=repr(strand.iloc[row - 1]), expected="+ or - (or 1 / -1)")
        tss = np.where(strand.isin(["+", "1"]), np.minimum(s, e), np.maximum(s, e))
    out = pd.DataFrame({
        "gene_id": df[idc].astype(str).str.strip().str.replace(r"\.\d+$", "", regex=True) if idc else "",
        "gene_name": df[namec].astype(str).str.strip() if namec else "",
        "chrom": _norm_chrom(df["chrom"]), "tss": tss.astype(np.int64)})
    out["gene_id"] = np.where(out["gene_id"] == "", out["gene_name"], out["gene_id"])
    out = out.drop_duplicates("gene_id").sort_values(["chrom", "tss", "gene_id"], kind="stable")
    return out.reset_index(drop=True)[TSS_COLUMNS]


_TARGET = re.compile(r"^([^:|]+):([^:|]+)$")


def read_elements(path: str | Path) -> pd.DataFrame:
    """Regulatory elements with target genes: one row per element × target (:data:`ELEMENT_COLUMNS`)."""
    p = Path(path)
    if not p.is_file():
        raise InputError.at("element BED does not exist", file=p, column="gene_tests.annotations.elements")
    rows: list[tuple[Any, ...]] = []
    with open(p) as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            f = line.rstrip("\n").split("\t")
            if len(f) < 6:
                raise InputError.at("element BED row has too few columns", file=p, row=i, found=f"{len(f)} columns",
                                    expected="chrom start end class element_id GENE:score|GENE:score")
            try:
                start, end = int(f[1]), int(f[2])
            except ValueError:
                raise InputError.at("element position is not an integer", file=p, row=i, column="start/end",
                                    found=f"{f[1]!r}, {f[2]!r}", expected="BED integers") from None
            for tgt in f[5].split("|"):
                m = _TARGET.match(tgt.strip())
                if m is None:
                    raise InputError.at("element target is not GENE:score", file=p, row=i, column="targets",
                                        found=repr(tgt), expected="GENE:score, several joined by |")
                try:
                    score = float(m.group(2))
                except ValueError:
                    raise InputError.at("element target score is not a number", file=p, row=i, column="targets",
                                        found=repr(tgt), expected="GENE:score") from None
                rows.append((f[0].removeprefix("chr"), start, end, f[3], f[4],
                             re.sub(r"\.\d+$", "", m.group(1).strip()), score))
    out = pd.DataFrame(rows, columns=ELEMENT_COLUMNS)
    out["start"] = out["start"].astype(np.int64)
    out["end"] = out["end"].astype(np.int64)
    return out.sort_values(["chrom", "start", "element_id", "gene"], kind="stable").reset_index(drop=True)
