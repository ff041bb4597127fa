"""Header checks of the xQTL sheet's files for ``twasflow check-config``: each file is opened and its header
(Parquet schema, first text line, SQLite table columns) compared with what its ``format`` needs, before any job
runs. Only headers are read; the values are checked by the harmonize rules."""

from __future__ import annotations

import glob
import gzip
import os
import sqlite3
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import InputError
from .eqtlcatalogue import is_parquet

#: columns each summary-statistic format must have (the readers' own lists)
from .xqtl import EQTLCAT_REQUIRED, GTEX_REQUIRED  # noqa: E402

PREDICTDB_REQUIRED = ("gene", "rsid", "ref_allele", "eff_allele", "weight")
COVARIANCE_HEADER = ("GENE", "RSID1", "RSID2", "VALUE")
FUSION_POS_REQUIRED = ("WGT", "ID")


def _first_line(path: Path) -> str:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    try:
        with opener(path, "rt", errors="replace") as fh:
            for line in fh:
                if line.strip() and not line.startswith("##"):
                    return line.rstrip("\r\n").lstrip("#")
    except (OSError, EOFError) as exc:
        raise InputError.at(f"cannot read ({exc})", file=path, expected="a text table, plain or gzip") from None
    raise InputError.at("empty file", file=path, found="no header line", expected="a header line")


def _split(header: str) -> list[str]:
    for sep in ("\t", ","):
        if sep in header:
            return [c.strip() for c in header.split(sep)]
    return header.split()


def _need(path: Path, found: Sequence[str], required: Sequence[str], what: str) -> None:
    missing = [c for c in required if c not in found]
    if missing:
        raise InputError.at(f"{what} lacks a required column", file=path, column=missing[0],
                            found=f"columns {list(found)}", expected=f"columns {list(required)}")


def _parquet_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix, named
        raise InputError.at(f"not a readable Parquet file ({exc})", file=path,
                            expected="a Parquet file") from None


def _predictdb_columns(path: Path) -> list[str]:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [r[1] for r in con.execute("PRAGMA table_info(weights)")]
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise InputError.at(f"not a SQLite database ({exc})", file=path, expected="a PredictDB .db") from None


def _columns(path: Path) -> list[str]:
    return _parquet_columns(path) if is_parquet(path) else _split(_first_line(path))


def _check_susie(path: Path, credible_sets: str | os.PathLike[str] | None) -> str:
    """eqtlcat-susie: the lbf_variable file (``path``) and its credible sets file, TSV or Parquet."""
    from .susie_xqtl import CS_REQUIRED, LBF_REQUIRED, lbf_columns

    cols = _columns(path)
    _need(path, cols, LBF_REQUIRED, "eQTL Catalogue lbf_variable file")
    if not lbf_columns(cols):
        raise InputError.at("eQTL Catalogue lbf_variable file has no lbf_variable<k> column", file=path,
                            column="lbf_variable1", found=f"columns {cols}", expected="lbf_variable1 … lbf_variable10")
    if not credible_sets:
        raise InputError.at("eqtlcat-susie needs its credible sets file", file=path, column="credible_sets",
                            found="blank", expected="the QTD*.credible_sets file in column credible_sets")
    cs = Path(credible_sets)
    if not cs.is_file():
        raise InputError.at("credible sets file not found", file=cs, column="credible_sets",
                            expected="an existing file")
    _need(cs, _columns(cs), CS_REQUIRED, "eQTL Catalogue credible_sets file")
    return (f"lbf_variable with {len(lbf_columns(cols))} effects; credible sets with "
            f"{', '.join(CS_REQUIRED)}")


def check_xqtl_header(path: str | os.PathLike[str], fmt: str, *, covariance: str | os.PathLike[str] | None = None,
                      credible_sets: str | os.PathLike[str] | None = None) -> str:
    """Open ``path`` (and ``covariance``) of one xQTL sheet row and check the columns its ``fmt`` needs.

    ``gtex-parquet``: every file the ``{chrom}`` pattern matches has ``GTEX_REQUIRED`` in its schema;
    ``eqtl-catalogue``: the TSV header or Parquet schema has ``EQTLCAT_REQUIRED``; ``eqtlcat-susie``: the
    lbf_variable file has ``molecular_trait_id, variant, lbf_variable<k>`` and ``credible_sets`` has
    ``molecular_trait_id, variant, cs_id, z``; ``predictdb``: the ``weights`` table has
    ``gene, rsid, ref_allele, eff_allele, weight``; ``weights-long``: ``model, weight`` and ``variant_id`` or
    ``effect_allele`` with ``chrom``+``pos`` or ``rsid``; ``fusion``: a ``.pos`` list has ``WGT ID`` (a single
    ``.wgt.RDat`` is only checked to exist); a PredictDB covariance file starts ``GENE RSID1 RSID2 VALUE``.

    Returns a one-line description of what was checked; raises :class:`InputError` naming the file, the column,
    what was found and what was expected.
    """
    p = Path(path)
    if fmt == "gtex-parquet":
        files = sorted(glob.glob(str(p).replace("{chrom}", "*"))) if "{chrom}" in str(p) else [str(p)]
        files = [f for f in files if os.path.isfile(f)]
        if not files:
            raise InputError.at("no file matches the pattern", file=p, expected="files with {chrom} filled in")
        for f in files:
            _need(Path(f), _parquet_columns(Path(f)), GTEX_REQUIRED, "GTEx Parquet file")
        desc = f"{len(files)} Parquet file(s) with {', '.join(GTEX_REQUIRED)}"
    elif fmt == "eqtl-catalogue":
        parquet = is_parquet(p)
        _need(p, _parquet_columns(p) if parquet else _split(_first_line(p)), EQTLCAT_REQUIRED, "eQTL Catalogue file")
        desc = ("Parquet with " if parquet else "columns ") + ", ".join(EQTLCAT_REQUIRED)
    elif fmt == "eqtlcat-susie":
        desc = _check_susie(p, credible_sets)
    elif fmt == "predictdb":
        cols = _predictdb_columns(p)
        if not cols:
            raise InputError.at("no 'weights' table", file=p, column="weights", found="no such table",
                                expected="a PredictDB database with tables weights, extra")
        _need(p, cols, PREDICTDB_REQUIRED, "PredictDB weights table")
        desc = "weights table with " + ", ".join(PREDICTDB_REQUIRED) + (", varID" if "varID" in cols else
                                                                         " (no varID: matched by rsid)")
    elif fmt == "weights-long":
        cols = _split(_first_line(p))
        _need(p, cols, ("model", "weight"), "weights table")
        if "variant_id" not in cols:
            _need(p, cols, ("effect_allele",), "weights table")
            if not ({"chrom", "pos"} <= set(cols) or "rsid" in cols):
                raise InputError.at("weights table has no variant columns", file=p, column="variant_id",
                                    found=f"columns {cols}", expected="variant_id, or chrom + pos, or rsid")
        desc = f"columns {', '.join(cols)}"
    elif fmt == "fusion":
        if p.suffix.lower() == ".pos":
            _need(p, _split(_first_line(p)), FUSION_POS_REQUIRED, "FUSION .pos list")
            desc = "FUSION weights list with WGT, ID"
        else:
            desc = "FUSION .wgt.RDat (read when harmonized)"
    else:
        raise InputError.at("unknown xQTL format", file=p, column="format", found=repr(fmt),
                            expected="gtex-parquet, eqtl-catalogue, predictdb, weights-long, fusion or eqtlcat-susie")
    if covariance:
        c = Path(covariance)
        head = [h.upper() for h in _split(_first_line(c))[:4]]
        if tuple(head) != COVARIANCE_HEADER:
            raise InputError.at("covariance file has an unexpected header", file=c, column="GENE RSID1 RSID2 VALUE",
                                found=" ".join(head), expected=" ".join(COVARIANCE_HEADER))
        desc += "; covariance GENE RSID1 RSID2 VALUE"
    return desc


def _sheet_path(value: object, base: Path) -> Path | None:
    """An optional sheet path (blank/NaN → None), relative to ``base``."""
    if value is None or str(value).strip() in ("", "nan"):
        return None
    return Path(str(value)) if Path(str(value)).is_absolute() else base / str(value)


def check_xqtl_sheet(rows: Sequence[Mapping[str, object]], *, sheet: str, base: Path,
                     skip: Mapping[int, str] | None = None) -> list[str]:
    """:func:`check_xqtl_header` for every sheet row (paths relative to ``base``); ``skip`` {row number: why} for
    rows not to open (files the example simulator writes). One line per row; an error names the sheet row."""
    lines = []
    for i, rec in enumerate(rows, start=1):
        p = str(rec["path"])
        if skip and i in skip:
            lines.append(f"{sheet}, row {i} ({rec['dataset']}): {p}: {skip[i]}")
            continue
        full = Path(p) if Path(p).is_absolute() else base / p
        cov, cs = (_sheet_path(rec.get(k), base) for k in ("covariance", "credible_sets"))
        try:
            desc = check_xqtl_header(full, str(rec["format"]), covariance=cov, credible_sets=cs)
        except InputError as exc:
            raise InputError(f"{sheet}, row {i} ({rec['dataset']}): {exc}", file=exc.file, column=exc.column,
                             row=i, found=exc.found, expected=exc.expected) from None
        lines.append(f"{sheet}, row {i} ({rec['dataset']}): {full}: {desc}")
    return lines
