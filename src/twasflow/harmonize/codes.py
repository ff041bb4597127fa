"""Harmonization constants (reason names, output columns, chromosome and allele codes) and the small vectorised
helpers that turn chromosome labels and alleles into integer codes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import HarmonizeError
from ..tables_schema import table


#: Stable reason names, in the order they are tested (a row gets the first that applies).
REASONS: tuple[str, ...] = (
    "malformed_row",
    "invalid_variant_id",
    "rsid_not_found",
    "liftover_unmapped",
    "liftover_ambiguous",
    "non_numeric",
    "missing_value",
    "invalid_pos",
    "multiallelic",
    "indel",
    "invalid_allele",
    "invalid_p",
    "invalid_se",
    "invalid_effect",
    "invalid_freq",
    "invalid_n",
    "chrom_not_in_panel",
    "not_in_panel",
    "panel_maf_below_min",
    "allele_mismatch",
    "palindromic_dropped",
    "palindromic_ambiguous",
    "strand_inconsistent",
    "duplicate",
    "chrom_not_requested",
)
_R = {name: i + 1 for i, name in enumerate(REASONS)}  # 0 = kept

GWAS_COLUMNS = tuple(table("gwas").names)  # docs/outputs.md, defined in twasflow.tables_schema
XQTL_COLUMNS = tuple(table("xqtl").names)
PANEL_COLUMNS = ("variant_id", "chrom", "pos", "other_allele", "counted_allele", "rsid", "counted_freq")

_CHROM_CODE = {str(i): i for i in range(1, 23)} | {"X": 23, "23": 23, "Y": 24, "24": 24, "XY": 25, "25": 25,
                                                   "MT": 26, "M": 26, "26": 26}
CODE_CHROM = {i: str(i) for i in range(1, 23)} | {23: "X", 24: "Y", 25: "XY", 26: "MT"}
_N_CODES = 27

_LUT = np.zeros(256, dtype=np.uint8)
for _b, _c in ((b"A", 1), (b"C", 2), (b"G", 3), (b"T", 4), (b"a", 1), (b"c", 2), (b"g", 3), (b"t", 4)):
    _LUT[_b[0]] = _c
_ALLELE = np.array(["", "A", "C", "G", "T"], dtype=object)

_BUILD_ALIASES = {"grch37": "GRCh37", "hg19": "GRCh37", "b37": "GRCh37", "37": "GRCh37",
                  "grch38": "GRCh38", "hg38": "GRCh38", "b38": "GRCh38", "38": "GRCh38"}
_BUILD_MIN_ROWS = 50  # below this many comparable rows a low match rate only warns

#: A file (a GTEx chromosome file) counts as being on the panel's strand when at most this fraction of its
#: matched non-palindromic variants match only after complementing. Its palindromic variants without a
#: usable effect-allele frequency are then kept with their allele labels taken at face value.
STRAND_CONSENSUS_MAX_FLIP = 0.01
#: ... provided at least this many non-palindromic variants matched (fewer are no evidence of a strand).
STRAND_CONSENSUS_MIN_VARIANTS = 10


@dataclass(frozen=True)
class Settings:
    """Harmonization options (config ``harmonize``)."""

    palindromic: str = "align_by_freq"
    maf_palindromic_max: float = 0.4
    build_check_min_match: float = 0.7
    strand_consensus_max_flip: float = STRAND_CONSENSUS_MAX_FLIP


# --------------------------------------------------------------------------------------------------
# Small vectorised helpers


def normalize_chrom(label: Any) -> int:
    """Chromosome label → code 1..26 (``chr`` prefix stripped, 23 = X); 0 if not a known chromosome."""
    if label is None:
        return -1
    s = str(label).strip()
    if s[:3].lower() == "chr":
        s = s[3:]
    s = s.upper()
    if s.isdigit():
        s = str(int(s))
    return _CHROM_CODE.get(s, 0)


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start offsets (R,), lengths (R,), bytes, valid mask (R,)) of a string array, without copying."""
    n = len(arr)
    bufs = arr.buffers()
    odt = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=odt, count=n + 1, offset=arr.offset * np.dtype(odt).itemsize)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None and bufs[2].size else np.zeros(2, np.uint8)
    valid = ~arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else np.ones(n, dtype=bool)
    return offsets[:-1], np.diff(offsets), data, valid


def _as_string_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.string())
    return arr


def _chrom_lut() -> np.ndarray:
    """int16 (65536,): code of every label of one or two printable ASCII characters, by ``b0 << 8 | b1``.

    A one-character label has ``b1 = 0``. Entries of other byte pairs are -2 (decoded the slow way).
    """
    lut = np.full(1 << 16, -2, dtype=np.int16)
    printable = range(32, 127)
    for a in printable:
        lut[a << 8] = normalize_chrom(chr(a))
        for b in printable:
            lut[(a << 8) | b] = normalize_chrom(chr(a) + chr(b))
    return lut


_CHROM_LUT = _chrom_lut()


def chrom_codes(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Chromosome labels → int16 codes; -1 where missing, 0 where not a known chromosome.

    Labels of one or two characters (``1``..``26``, ``X``, ``MT``…) are decoded from their bytes with a
    lookup table; longer labels (``chr1``…) go through :func:`normalize_chrom` once per distinct value.
    """
    arr = _as_string_array(arr)
    start, length, data, valid = _string_buffers(arr)
    b0 = data.take(start, mode="clip").astype(np.uint16)
    b1 = data.take(start + 1, mode="clip") * (length == 2)  # 0 for a one-character label
    out = _CHROM_LUT.take((b0 << 8) | b1)
    long_ = (length - 1).astype(np.uint64) > 1  # length 0 or > 2
    if long_.any():
        out[long_] = -2
    if not valid.all():
        out[~valid] = -1
    rest = np.flatnonzero(out == -2)
    if len(rest):
        enc = pc.dictionary_encode(arr.take(pa.array(rest)))
        lut = np.array([normalize_chrom(x) for x in enc.dictionary.to_pylist()] + [-1], dtype=np.int16)
        out[rest] = lut[enc.indices.fill_null(len(lut) - 1).to_numpy(zero_copy_only=False)]
    return out


def allele_codes(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Allele strings → (codes, kind).

    codes : uint8 (R,), 1..4 for a single A/C/G/T (any case), 0 otherwise.
    kind : int8 (R,), 0 = single base, 1 = missing, 2 = indel, 3 = multi-allelic list, 4 = invalid.
    """
    arr = _as_string_array(arr)
    n = len(arr)
    start, length, data, valid = _string_buffers(arr)
    one = valid & (length == 1)
    kind = np.zeros(n, dtype=np.int8)
    if one.all():  # the common case: one character everywhere, a single gather
        codes = _LUT[data[start]]
    else:
        codes = np.zeros(n, dtype=np.uint8)
        codes[one] = _LUT[data[start[one]]]
        kind[~valid | (length == 0)] = 1
    other = np.flatnonzero((kind == 0) & (codes == 0))
    if len(other):
        sub = pc.utf8_upper(arr.take(pa.array(other)))
        multi = pc.match_substring_regex(sub, r"[,/]").to_numpy(zero_copy_only=False)
        indel = pc.match_substring_regex(sub, r"^([ACGTN]{2,}|-|I|D|<.*>|\*)$").to_numpy(zero_copy_only=False)
        k = np.full(len(other), 4, dtype=np.int8)
        k[indel] = 2
        k[multi] = 3
        kind[other] = k
    return codes, kind


def _blank(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or (isinstance(x, str) and x.strip() == "")


def _sheet_n(n: Any, path: Any) -> float | None:
    if _blank(n):
        return None
    try:
        v = float(n)
    except (TypeError, ValueError):
        raise HarmonizeError.at("sample size from the sheet is not a number", file=path, column="n",
                                found=repr(n), expected="a positive number") from None
    if not (v > 0 and math.isfinite(v)):
        raise HarmonizeError.at("sample size from the sheet is not positive", file=path, column="n",
                                found=repr(n), expected="a positive number")
    return v


def normalize_build(b: Any) -> str | None:
    """``hg19``/``GRCh37``/``b37`` → ``GRCh37`` (likewise 38); None when blank; other labels unchanged."""
    if _blank(b):
        return None
    return _BUILD_ALIASES.get(str(b).strip().lower(), str(b).strip())
