"""PLINK 1 binary fileset reader (``.bed`` / ``.bim`` / ``.fam``).

The ``.bed`` is memory-mapped and only the requested variant rows are decoded, through 256-entry lookup
tables (one byte holds four people). Genotype codes in a ``.bed`` (2 bits per person, first person in the
lowest bits): ``00`` = two copies of A1 (bim column 5), ``01`` = missing, ``10`` = heterozygous,
``11`` = two copies of A2 (bim column 6).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from twasflow.errors import PanelError

BED_MAGIC = b"\x6c\x1b\x01"
MISSING = -1

# code -> A1 count; missing -> -1
_CODE_TO_COUNT = np.array([2, MISSING, 1, 0], dtype=np.int8)
# byte -> the four 2-bit codes it holds (person order)
CODE_LUT = ((np.arange(256, dtype=np.uint16)[:, None] >> (2 * np.arange(4))) & 3).astype(np.uint8)
COUNT_LUT = _CODE_TO_COUNT[CODE_LUT]  # (256, 4) int8

BIM_COLUMNS = ["chrom", "id", "cm", "pos", "a1", "a2"]
FAM_COLUMNS = ["fid", "iid", "father", "mother", "sex", "pheno"]


def _prefix_path(prefix: str | os.PathLike[str], ext: str) -> Path:
    p = Path(prefix)
    if p.suffix in (".bed", ".bim", ".fam"):
        p = p.with_suffix("")
    return Path(str(p) + ext)


_CHROM_CODES = {"23": "X", "24": "Y", "25": "XY", "26": "MT", "M": "MT"}


def _norm_one(c: str) -> str:
    c = c[3:] if c[:3].lower() == "chr" else c
    return _CHROM_CODES.get(c, c)


def norm_chrom(values: pd.Series) -> pd.Series:
    """Strip a ``chr`` prefix (any case) and map PLINK numeric codes 23/24/25/26 to X/Y/XY/MT."""
    values = pd.Series(values).astype(str)
    uniq = pd.unique(values)  # few distinct chromosomes: map them, not every row
    return values.map({u: _norm_one(u) for u in uniq}).astype(object)


def read_bim(prefix: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``.bim`` file.

    Returns
    -------
    DataFrame with columns ``chrom`` (str, ``chr`` stripped), ``id``, ``cm`` (float), ``pos`` (int64),
    ``a1``, ``a2`` (str), one row per variant in file order.
    """
    path = _prefix_path(prefix, ".bim")
    if not path.is_file():
        raise PanelError.at("PLINK .bim file not found", file=path)
    df = _read_bim_arrow(path)
    if df is not None:
        df["chrom"] = norm_chrom(df["chrom"])
        return df
    try:
        df = pd.read_csv(
            path,
            sep=r"\s+",
            header=None,
            names=BIM_COLUMNS,
            dtype={"chrom": str, "id": str, "cm": float, "pos": np.int64, "a1": str, "a2": str},
            keep_default_na=False,
            engine="c",
        )
    except (ValueError, pd.errors.ParserError) as e:
        raise PanelError.at("cannot parse .bim", file=path, found=str(e).splitlines()[0],
                            expected="6 whitespace-separated columns: chrom id cm pos A1 A2") from e
    if df.isna().any().any():
        bad = int(np.flatnonzero(df.isna().any(axis=1).to_numpy())[0]) + 1
        raise PanelError.at("missing field in .bim", file=path, row=bad, expected="6 columns")
    df["chrom"] = norm_chrom(df["chrom"])
    return df


def _read_bim_arrow(path: Path) -> pd.DataFrame | None:
    """Fast path for tab-delimited .bim files (what PLINK writes); None to fall back to pandas."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    with open(path, "rb") as fh:
        first = fh.readline()
    if first.count(b"\t") != 5 or b" " in first.strip():
        return None
    try:
        tb = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(column_names=BIM_COLUMNS),
            parse_options=pcsv.ParseOptions(delimiter="\t"),
            convert_options=pcsv.ConvertOptions(column_types={
                "chrom": pa.string(), "id": pa.string(), "cm": pa.float64(), "pos": pa.int64(),
                "a1": pa.string(), "a2": pa.string()}, strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    if tb.num_columns != 6 or any(tb.column(c).null_count for c in BIM_COLUMNS):
        return None
    return pd.DataFrame({c: (tb.column(c).to_numpy(zero_copy_only=False) if c not in ("cm", "pos")
                             else tb.column(c).to_numpy()) for c in BIM_COLUMNS})


def read_fam(prefix: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``.fam`` file: columns ``fid, iid, father, mother, sex, pheno`` (all str), file order."""
    path = _prefix_path(prefix, ".fam")
    if not path.is_file():
        raise PanelError.at("PLINK .fam file not found", file=path)
    try:
        df = pd.read_csv(path, sep=r"\s+", header=None, names=FAM_COLUMNS, dtype=str,
                         keep_default_na=False, engine="c")
    except (ValueError, pd.errors.ParserError) as e:
        raise PanelError.at("cannot parse .fam", file=path, found=str(e).splitlines()[0],
                            expected="6 whitespace-separated columns") from e
    if (df == "").any().any() or df.isna().any().any():
        bad = int(np.flatnonzero((df.isna() | (df == "")).any(axis=1).to_numpy())[0]) + 1
        raise PanelError.at("missing field in .fam", file=path, row=bad, expected="6 columns")
    return df


def founder_mask(fam: pd.DataFrame) -> np.ndarray:
    """People with both parents unknown (``0``) in the ``.fam``: PLINK's founders. Shape (N,) bool."""
    return ((fam["father"] == "0") & (fam["mother"] == "0")).to_numpy()


def open_bed(prefix: str | os.PathLike[str], n_variants: int, n_samples: int) -> np.ndarray:
    """Memory-map a variant-major ``.bed`` as uint8 of shape (n_variants, ceil(n_samples/4)).

    Raises :class:`PanelError` for a missing file, wrong magic bytes or a size that does not match the
    ``.bim``/``.fam`` counts (the message gives expected and found byte sizes).
    """
    path = _prefix_path(prefix, ".bed")
    if not path.is_file():
        raise PanelError.at("PLINK .bed file not found", file=path)
    bpv = (n_samples + 3) // 4
    expected = 3 + n_variants * bpv
    size = path.stat().st_size
    with open(path, "rb") as fh:
        magic = fh.read(3)
    if magic[:2] != BED_MAGIC[:2]:
        raise PanelError.at("not a PLINK .bed file (wrong magic bytes)", file=path,
                            found=magic.hex(), expected=BED_MAGIC.hex())
    if magic[2:3] != b"\x01":
        raise PanelError.at("sample-major .bed files are not supported", file=path,
                            found=f"mode byte {magic[2:3].hex()}", expected="01 (variant-major)")
    if size != expected:
        raise PanelError.at(
            ".bed size does not match .bim/.fam", file=path,
            found=f"{size} bytes",
            expected=f"{expected} bytes = 3 + {n_variants} variants x {bpv} bytes ({n_samples} samples)")
    if n_variants == 0:
        return np.zeros((0, bpv), dtype=np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r", offset=3, shape=(n_variants, bpv))


def decode_codes(packed: np.ndarray, n_samples: int, sample_rows: np.ndarray | None = None) -> np.ndarray:
    """2-bit codes (0 hom A1, 1 missing, 2 het, 3 hom A2) of packed rows (k, B) -> uint8 (k, N)."""
    k = packed.shape[0]
    codes = CODE_LUT[np.asarray(packed)].reshape(k, -1)[:, :n_samples]
    if sample_rows is not None:
        codes = codes[:, sample_rows]
    return codes


def decode_counts(packed: np.ndarray, n_samples: int, sample_rows: np.ndarray | None = None) -> np.ndarray:
    """A1 allele counts (int8, -1 = missing) of packed rows (k, B) -> (k, N)."""
    k = packed.shape[0]
    counts = COUNT_LUT[np.asarray(packed)].reshape(k, -1)[:, :n_samples]
    if sample_rows is not None:
        counts = counts[:, sample_rows]
    return counts


def pack_codes(codes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`decode_codes`: uint8 codes (k, N) -> packed (k, ceil(N/4)), zero padding."""
    k, n = codes.shape
    b = (n + 3) // 4
    padded = np.zeros((k, 4 * b), dtype=np.uint8)
    padded[:, :n] = codes
    p = padded.reshape(k, b, 4)
    return (p[:, :, 0] | (p[:, :, 1] << 2) | (p[:, :, 2] << 4) | (p[:, :, 3] << 6)).astype(np.uint8)


def read_bed(
    prefix: str | os.PathLike[str],
    variant_rows: np.ndarray | None = None,
    sample_rows: np.ndarray | None = None,
) -> np.ndarray:
    """Read A1 allele counts from a PLINK fileset.

    Parameters
    ----------
    prefix : fileset prefix (``x`` for ``x.bed``/``x.bim``/``x.fam``).
    variant_rows : 0-based rows of the ``.bim`` to read (default: all), in the order wanted.
    sample_rows : 0-based rows of the ``.fam`` to keep (default: all).

    Returns
    -------
    int8 array (N, k): copies of A1 (bim column 5) per person and variant, ``-1`` where missing.
    """
    bim_n = _count_lines(_prefix_path(prefix, ".bim"))
    fam_n = _count_lines(_prefix_path(prefix, ".fam"))
    bed = open_bed(prefix, bim_n, fam_n)
    rows = np.arange(bim_n) if variant_rows is None else np.asarray(variant_rows, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= bim_n):
        raise PanelError.at("variant row out of range", file=_prefix_path(prefix, ".bim"),
                            found=f"rows {rows.min()}..{rows.max()}", expected=f"0..{bim_n - 1}")
    sr = None if sample_rows is None else np.asarray(sample_rows, dtype=np.int64)
    if sr is not None and sr.size and (sr.min() < 0 or sr.max() >= fam_n):
        raise PanelError.at("sample row out of range", file=_prefix_path(prefix, ".fam"),
                            found=f"rows {sr.min()}..{sr.max()}", expected=f"0..{fam_n - 1}")
    return np.ascontiguousarray(decode_counts(bed[rows], fam_n, sr).T)


def _count_lines(path: Path) -> int:
    if not path.is_file():
        raise PanelError.at("PLINK file not found", file=path)
    n = 0
    last = b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")
