"""Readers of xQTL summary statistics: GTEx v8 Parquet (one file per chromosome) and eQTL Catalogue TSV.

The eQTL Catalogue reader yields :class:`~twasflow.io.gwas.RawBatch` objects with the GWAS roles (``chrom,
pos, ea, oa, beta, se, p, eaf, n``) plus ``extra`` columns ``phenotype_id`` and ``gene_id``. GTEx Parquet is
read one batch at a time with only the needed columns, its ids dictionary-coded (:class:`GtexBlock`: the
distinct variant ids of a block, and integer codes per row; ``tss`` = ``tss_distance``); nothing loads a whole
file into pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import HarmonizeError
from .gwas import RawBatch, read_text_batches, sniff_text

T = TypeVar("T")

GTEX_REQUIRED = ("phenotype_id", "variant_id", "slope", "slope_se")
GTEX_OPTIONAL = ("tss_distance", "pval_nominal")
EQTLCAT_REQUIRED = ("molecular_trait_id", "chromosome", "position", "ref", "alt", "beta", "se")
EQTLCAT_OPTIONAL = {"pvalue": "p", "rsid": "rsid", "ac": "ac", "an": "an"}
_ALL_CHROMS = [str(i) for i in range(1, 23)] + ["X"]


def gtex_file(pattern: str | Path, chrom: str) -> Path:
    """The per-chromosome file of a ``{chrom}`` pattern."""
    return Path(str(pattern).replace("{chrom}", str(chrom)))


def check_gtex_pattern(pattern: str | Path) -> None:
    """Raise unless ``pattern`` contains ``{chrom}`` and at least one chromosome file exists."""
    if "{chrom}" not in str(pattern):
        raise HarmonizeError.at("gtex-parquet path must be a per-chromosome pattern", file=pattern, column="path",
                                found=repr(str(pattern)), expected="a path containing '{chrom}'")
    if not any(gtex_file(pattern, c).is_file() for c in _ALL_CHROMS):
        raise HarmonizeError.at("no per-chromosome file of the pattern exists", file=pattern, column="path",
                                found=f"none of {gtex_file(pattern, '1').name} … {gtex_file(pattern, 'X').name}",
                                expected="one Parquet file per chromosome")


def _split_gtex_ids(vid: pa.Array) -> tuple[dict[str, pa.Array], np.ndarray, np.ndarray]:
    """``chr1_12345_A_G_b38`` → chrom, pos (float64), ref, alt; plus a malformed mask and pos-bad mask."""
    parts = pc.split_pattern(vid, "_")
    nparts = pc.list_value_length(parts).fill_null(0).to_numpy(zero_copy_only=False)
    ok = nparts >= 4
    safe = pc.if_else(pa.array(ok), parts, pa.scalar(["", "", "", ""], pa.list_(pa.string())))
    chrom = pc.list_element(safe, 0)
    pos_s = pc.list_element(safe, 1)
    ref = pc.list_element(safe, 2)
    alt = pc.list_element(safe, 3)
    isnum = pc.match_substring_regex(pos_s, r"^[0-9]+$").to_numpy(zero_copy_only=False)
    pos = np.full(len(vid), np.nan)
    if isnum.any():
        pos[isnum] = pc.cast(pc.filter(pos_s, pa.array(isnum)), pa.float64()).to_numpy(zero_copy_only=False)
    malformed = ~ok | (ok & ~isnum)
    return {"chrom": chrom, "ea": alt, "oa": ref}, pos, malformed


@dataclass
class GtexBlock:
    """One block of GTEx rows with its variant and phenotype ids dictionary-coded.

    A GTEx block of 1e6 rows holds ~10^4-10^5 distinct variants (each tested against every phenotype within
    1 Mb) and a few hundred phenotypes: the ids are parsed, QC'd and matched once per distinct value, and rows
    refer to them by integer codes.

    variants : (V_b,) the distinct ``variant_id`` strings, the last one ``""`` (the code of a missing id).
    vidx : int32 (R,) row → index into ``variants``.
    phenotypes : (F_b,) the distinct ``phenotype_id`` strings.
    fidx : int32 (R,) row → index into ``phenotypes``, -1 where the id is missing.
    numbers : float64 (R,) arrays ``beta, se`` and, when the file has them, ``p, tss``.
    row : int64 (R,) 1-based row numbers in the file.
    """

    variants: pa.Array
    vidx: np.ndarray
    phenotypes: pa.Array
    fidx: np.ndarray
    numbers: dict[str, np.ndarray]
    row: np.ndarray

    def __len__(self) -> int:
        return len(self.row)

    def variant_batch(self) -> RawBatch:
        """The distinct variant ids as a :class:`RawBatch` (chrom, pos, ea = ALT, oa = REF; malformed flagged)."""
        strings, pos, malformed = _split_gtex_ids(self.variants)
        return RawBatch(strings=strings, numbers={"pos": pos}, bad={}, row=np.arange(len(pos), dtype=np.int64),
                        flags={"invalid_variant_id": malformed})


def _codes(col: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """(dictionary, int32 indices with -1 for nulls) of a string column (dictionary-encoded on the way if needed)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col.cast(pa.string()))
    dic = col.dictionary
    if not pa.types.is_string(dic.type):
        dic = dic.cast(pa.string())
    idx = col.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)  # writable copy
    return dic, idx


def read_gtex_blocks(pattern: str | Path, chrom: str, *, batch_rows: int = 1_000_000) -> Iterator[GtexBlock]:
    """Stream the GTEx Parquet of one chromosome as :class:`GtexBlock` objects (nothing if the file is absent).

    The id columns are read dictionary-coded (Parquet stores them so): no Python or Arrow string per row.
    GTEx v8: ``variant_id`` = ``chr{c}_{pos}_{ref}_{alt}_b38``; ``slope``/``slope_se`` refer to ALT.
    """
    path = gtex_file(pattern, chrom)
    if not path.is_file():
        return
    pf = open_parquet(path, read_dictionary=["variant_id", "phenotype_id"])
    names = pf.schema_arrow.names
    for c in GTEX_REQUIRED:
        if c not in names:
            raise HarmonizeError.at("GTEx Parquet lacks a required column", file=path, column=c,
                                    found=f"columns {names}", expected=f"columns {list(GTEX_REQUIRED)}")
    cols = list(GTEX_REQUIRED) + [c for c in GTEX_OPTIONAL if c in names]

    def block(rb: pa.RecordBatch, row: np.ndarray) -> GtexBlock:
        vdic, vidx = _codes(rb.column("variant_id"))
        vdic = pa.concat_arrays([vdic, pa.array([""], pa.string())])  # "" = a missing id: malformed
        vidx[vidx < 0] = len(vdic) - 1
        fdic, fidx = _codes(rb.column("phenotype_id"))
        numbers = {"beta": _f64(rb.column("slope")), "se": _f64(rb.column("slope_se"))}
        if "pval_nominal" in cols:
            numbers["p"] = _f64(rb.column("pval_nominal"))
        if "tss_distance" in cols:
            numbers["tss"] = _f64(rb.column("tss_distance"))
        return GtexBlock(vdic, vidx, fdic, fidx, numbers, row)

    yield from iter_parquet(pf, path, cols, batch_rows, block)


def open_parquet(path: str | Path, **kwargs) -> pq.ParquetFile:
    """Open an xQTL Parquet file; an unreadable one is a HarmonizeError naming it."""
    try:
        return pq.ParquetFile(path, **kwargs)
    except (OSError, pa.ArrowInvalid) as exc:
        raise HarmonizeError.at("cannot read Parquet", file=path, found=str(exc), expected="a Parquet file") from None


def iter_parquet(pf: pq.ParquetFile, path: str | Path, cols: Sequence[str], batch_rows: int,
                 convert: Callable[[pa.RecordBatch, np.ndarray], T]) -> Iterator[T]:
    """Yield ``convert(batch, row)`` for each non-empty batch of ``cols`` (``row``: 1-based file rows, int64).

    A read or conversion error becomes a HarmonizeError naming the file and the first row of its batch.
    """
    done = 0
    try:
        for rb in pf.iter_batches(batch_size=batch_rows, columns=list(cols)):
            m = rb.num_rows
            if m == 0:
                continue
            yield convert(rb, np.arange(done + 1, done + m + 1, dtype=np.int64))
            done += m
    except (OSError, pa.ArrowInvalid) as exc:
        raise HarmonizeError.at("cannot read Parquet", file=path, row=done + 1, found=str(exc),
                                expected="a readable Parquet file") from None


def _f64(arr: pa.Array) -> np.ndarray:
    if not pa.types.is_floating(arr.type) or arr.type != pa.float64():
        try:
            arr = arr.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            arr = pc.cast(arr.cast(pa.string()), pa.float64(), safe=False)
    return arr.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def read_eqtl_catalogue_batches(path: str | Path, *, sheet_n: float | None) -> Iterator[RawBatch]:
    """Stream an eQTL Catalogue nominal summary-statistics TSV(.gz) or Parquet (ALT = effect allele).

    The effect-allele frequency is ``ac / an``; without a sheet ``n`` the per-row sample size is ``an / 2``.
    One variant split over several rows by its rsids is caught downstream as ``duplicate``. A Parquet file
    (``QTD*.all.parquet``, recognized by its magic bytes) is read by :mod:`twasflow.io.eqtlcatalogue`.
    """
    from .eqtlcatalogue import is_parquet, read_eqtl_catalogue_parquet

    if is_parquet(path):
        yield from read_eqtl_catalogue_parquet(path, sheet_n=sheet_n)
        return
    src = sniff_text(path)
    roles = eqtl_catalogue_roles(src.columns, sheet_n, src.path)
    extra = ["molecular_trait_id"] + (["gene_id"] if "gene_id" in src.columns else [])
    for b in read_text_batches(src, roles, extra=extra):
        yield finish_eqtl_catalogue_batch(b, sheet_n)


def eqtl_catalogue_roles(columns: Sequence[str], sheet_n: float | None, path: str | Path) -> dict[str, str]:
    """Role -> column of an eQTL Catalogue file with ``columns`` (TSV or Parquet); raises on a missing required
    column or without any sample size."""
    for c in EQTLCAT_REQUIRED:
        if c not in columns:
            raise HarmonizeError.at("eQTL Catalogue file lacks a required column", file=path, column=c,
                                    found=f"columns {list(columns)}", expected=f"columns {list(EQTLCAT_REQUIRED)}")
    roles = {"chrom": "chromosome", "pos": "position", "ea": "alt", "oa": "ref", "beta": "beta", "se": "se"}
    for col, role in EQTLCAT_OPTIONAL.items():
        if col in columns:
            roles[role] = col
    if sheet_n is None and "an" not in roles:
        raise HarmonizeError.at("sample size missing everywhere", file=path, column="an",
                                found="no n in the sheet and no 'an' column", expected="the sheet's n or an 'an' column")
    return roles


def finish_eqtl_catalogue_batch(b: RawBatch, sheet_n: float | None) -> RawBatch:
    """eaf = ac/an, n = an/2 without a sheet n, ``molecular_trait_id`` -> ``phenotype_id`` (TSV and Parquet)."""
    ac = b.numbers.pop("ac", None)
    an = b.numbers.pop("an", None)
    if ac is not None and an is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            b.numbers["eaf"] = np.where(an > 0, ac / an, np.nan)
    if sheet_n is None and an is not None:
        b.numbers["n"] = an / 2.0
    b.extra["phenotype_id"] = b.extra.pop("molecular_trait_id")
    if "gene_id" not in b.extra:  # optional column: the gene then comes from the phenotype id
        b.extra["gene_id"] = pa.nulls(len(b.extra["phenotype_id"]), pa.string())
    b.strings["chrom"] = pc.if_else(pc.is_null(b.extra["phenotype_id"]), pa.scalar(None, pa.string()),
                                    b.strings["chrom"])
    return b


__all__ = ["read_gtex_blocks", "GtexBlock", "read_eqtl_catalogue_batches", "check_gtex_pattern", "gtex_file"]
