"""Harmonization of GWAS and xQTL summary statistics to the reference panel.

Every effect is re-oriented to the panel's **counted** allele (variant id ``chrom:pos:other:counted``).
Rows are matched on (chromosome, position) and then on the allele pair, so multi-allelic panel sites
are matched allele by allele. The rules, the reason names of dropped rows and the build check are
documented in ``docs/harmonization.md``; every input row ends up kept or counted under one reason.

Everything is vectorised: alleles become small integer codes (A=1, C=2, G=3, T=4, so the complement of
``c`` is ``5 - c``), a variant's position becomes one int64 key ``chrom_code * 2**32 + pos``, and the
panel is searched with ``np.searchsorted`` on its sorted keys.
"""

from __future__ import annotations

import functools
import math
import queue
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy import special

from .errors import HarmonizeError
from .io.gwas import RawBatch, read_gwas_batches, read_rsid_head
from .io.tables import atomic_path, write_json, write_parquet

#: Stable reason names, in the order they are tested (a row gets the first that applies).
REASONS: tuple[str, ...] = (
    "malformed_row",
    "invalid_variant_id",
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
    "allele_mismatch",
    "palindromic_dropped",
    "palindromic_ambiguous",
    "strand_inconsistent",
    "duplicate",
    "chrom_not_requested",
)
_R = {name: i + 1 for i, name in enumerate(REASONS)}  # 0 = kept

GWAS_COLUMNS = ("variant_id", "chrom", "pos", "other_allele", "counted_allele", "z", "n", "p", "beta", "se",
                "counted_freq", "rsid")
XQTL_COLUMNS = ("pair_id", "phenotype_id", "gene_id", "tissue", "qtl_type", "variant_id", "pos", "z", "n", "beta",
                "se", "tss_distance")
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


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


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


# --------------------------------------------------------------------------------------------------
# Panel index


@dataclass
class PanelIndex:
    """The panel's variants sorted by (chromosome code, position), with integer allele codes.

    ``table`` holds the output columns (variant_id, chrom, pos, other_allele, counted_allele, rsid) in
    the sorted order; every other array is aligned with it.
    """

    table: pa.Table
    keys: np.ndarray  # int64 (V,)
    run_end: np.ndarray  # int64 (V,), one past the last panel row with the same key
    counted: np.ndarray  # uint8 (V,)
    other: np.ndarray  # uint8 (V,)
    pair: np.ndarray  # uint8 (V,), 5 * counted + other: the code of (effect = counted, other)
    pair_sw: np.ndarray  # uint8 (V,), 5 * other + counted: the code of the swapped pair
    freq: np.ndarray  # float64 (V,), counted-allele frequency (NaN if unknown)
    chrom_present: np.ndarray  # bool (27,)
    max_run: int
    chrom_lo_key: np.ndarray  # int64 (27,), smallest panel key per chromosome code (int64 max if none)
    chrom_hi_key: np.ndarray  # int64 (27,), largest panel key per chromosome code (-1 if none)
    chrom_label: list  # (27,), the panel's own label of each chromosome code ('X' or '23', …)

    @classmethod
    def build(cls, panel_variants: pd.DataFrame | pa.Table) -> "PanelIndex":
        if isinstance(panel_variants, pd.DataFrame):
            missing = [c for c in PANEL_COLUMNS if c not in panel_variants.columns]
            if missing:
                raise HarmonizeError.at("panel variants table lacks columns", file="panel_variants", column=missing[0],
                                        found=f"columns {list(panel_variants.columns)}",
                                        expected=f"columns {list(PANEL_COLUMNS)}")
            t = pa.Table.from_pandas(panel_variants[list(PANEL_COLUMNS)], preserve_index=False)
        else:
            missing = [c for c in PANEL_COLUMNS if c not in panel_variants.column_names]
            if missing:
                raise HarmonizeError.at("panel variants table lacks columns", file="panel_variants", column=missing[0],
                                        found=f"columns {panel_variants.column_names}",
                                        expected=f"columns {list(PANEL_COLUMNS)}")
            t = panel_variants.select(list(PANEL_COLUMNS))
        t = t.replace_schema_metadata(None)
        ccode = chrom_codes(t.column("chrom")).astype(np.int64)
        pos = t.column("pos").to_numpy().astype(np.int64)
        keys = (ccode << 32) | pos
        if len(keys) > 1 and not np.all(keys[1:] >= keys[:-1]):
            order = np.argsort(keys, kind="stable")
            t = t.take(pa.array(order))
            keys = keys[order]
            ccode = ccode[order]
        counted, _ = allele_codes(t.column("counted_allele"))
        other, _ = allele_codes(t.column("other_allele"))
        freq = t.column("counted_freq").to_numpy(zero_copy_only=False).astype(np.float64)
        v = len(keys)
        if v:
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            ends = np.r_[starts[1:], v]
            run_end = np.repeat(ends, ends - starts).astype(np.int64)
            max_run = int((ends - starts).max())
        else:
            run_end = np.zeros(0, dtype=np.int64)
            max_run = 0
        present = np.zeros(_N_CODES, dtype=bool)
        lo_key = np.full(_N_CODES, np.iinfo(np.int64).max)
        hi_key = np.full(_N_CODES, -1, dtype=np.int64)
        labels = [CODE_CHROM.get(c, "") for c in range(_N_CODES)]
        if v:
            # keys are sorted, so each chromosome is one run; its ends give the key range and the label
            cstart = np.flatnonzero(np.r_[True, ccode[1:] != ccode[:-1]])
            cend = np.r_[cstart[1:], v] - 1
            chrom_col = t.column("chrom")
            for a, b in zip(cstart, cend):
                c = int(ccode[a])
                if 0 < c < _N_CODES:
                    present[c] = True
                    lo_key[c], hi_key[c] = keys[a], keys[b]
                    labels[c] = str(chrom_col[int(a)].as_py())
        # single-chunk columns: taking rows from a chunked array would concatenate its chunks on every call
        out = t.select(["variant_id", "chrom", "pos", "other_allele", "counted_allele", "rsid"]).combine_chunks()
        out = out.set_column(2, "pos", pa.array(pos if not len(keys) else (keys & 0xFFFFFFFF), type=pa.int64()))
        return cls(table=out, keys=keys, run_end=run_end, counted=counted, other=other,
                   pair=counted * np.uint8(5) + other, pair_sw=other * np.uint8(5) + counted, freq=freq,
                   chrom_present=present, max_run=max_run, chrom_lo_key=lo_key, chrom_hi_key=hi_key,
                   chrom_label=labels)

    def strings_of(self, pidx: np.ndarray) -> dict[str, pa.Array]:
        """chrom, other_allele and counted_allele of panel rows ``pidx`` (SNVs) as dictionary arrays.

        Cheaper than taking strings from the panel table: integer codes over a handful of labels.
        """
        def dict_str(codes: np.ndarray, labels: list[str]) -> pa.Array:
            return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(labels, pa.string()))

        cc = (self.keys[pidx] >> 32).astype(np.int32)
        letters = ["", "A", "C", "G", "T"]
        return {"chrom": dict_str(cc, self.chrom_label), "other_allele": dict_str(self.other[pidx], letters),
                "counted_allele": dict_str(self.counted[pidx], letters)}

    def __len__(self) -> int:
        return len(self.keys)

    def chrom_range(self, code: int) -> tuple[int, int]:
        """Index range [lo, hi) of the panel rows on chromosome ``code``."""
        lo = int(np.searchsorted(self.keys, np.int64(code) << 32, "left"))
        hi = int(np.searchsorted(self.keys, np.int64(code + 1) << 32, "left"))
        return lo, hi

    @property
    def chrom_labels(self) -> list[str]:
        return [CODE_CHROM[c] for c in np.flatnonzero(self.chrom_present)]


@dataclass
class Match:
    """Result of matching rows to the panel: panel row (or -1), status, orientation and flags."""

    pidx: np.ndarray  # int64 (R,)
    status: np.ndarray  # int8 (R,): 0 matched, else a reason code
    sign: np.ndarray  # int8 (R,): +1 effect allele is the counted allele, -1 it is the other
    flipped: np.ndarray  # bool (R,): matched only after complementing (non-palindromic)
    palin: np.ndarray  # bool (R,): A/T or C/G


def match_to_panel(index: PanelIndex, ccode: np.ndarray, pos: np.ndarray, ea: np.ndarray, oa: np.ndarray) -> Match:
    """Match SNVs (codes 1..4) at (ccode, pos) to the panel, allele pair by allele pair.

    A direct match (same alleles, either orientation) wins over a strand-flipped one; among panel rows
    at one position the first that matches is taken.
    """
    r = len(pos)
    key = (ccode.astype(np.int64) << 32) | pos.astype(np.int64)
    pidx = np.full(r, -1, dtype=np.int64)
    status = np.zeros(r, dtype=np.int8)
    sign = np.zeros(r, dtype=np.int8)
    flipped = np.zeros(r, dtype=bool)
    palin = ea == (5 - oa)
    cc = np.clip(ccode, 0, _N_CODES - 1)
    chrom_ok = index.chrom_present[cc] & (ccode > 0)
    status[~chrom_ok] = _R["chrom_not_in_panel"]
    if len(index) == 0 or r == 0:
        status[chrom_ok] = _R["not_in_panel"]
        return Match(pidx, status, sign, flipped, palin)
    # a block of a sorted file covers a short stretch of the panel: searching only there stays in cache
    a = int(np.searchsorted(index.keys, key.min(), "left"))
    b = int(np.searchsorted(index.keys, key.max(), "right"))
    loc = np.searchsorted(index.keys[a:b], key, "left") + a
    np.minimum(loc, len(index) - 1, out=loc)
    hit = chrom_ok & (index.keys[loc] == key)
    status[chrom_ok & ~hit] = _R["not_in_panel"]
    # first panel row at the position, same strand: one comparison of pair codes per orientation
    rp = ea * np.uint8(5) + oa
    same = hit & (index.pair[loc] == rp)
    swap = hit & (index.pair_sw[loc] == rp)
    found = same | swap
    pidx[found] = loc[found]
    sign[same] = 1
    sign[swap] = -1
    rest = np.flatnonzero(hit & ~found)
    # the rare rest: other panel rows at the position (multi-allelic sites), then the complemented pair
    for flip_pass in (False, True):
        todo = rest[~found[rest]]
        if flip_pass:
            todo = todo[~palin[todo]]  # a palindromic pair reads the same on both strands
        for k in range(1 if not flip_pass else 0, index.max_run):
            if not len(todo):
                break
            cand = loc[todo] + k
            ok = cand < index.run_end[loc[todo]]
            rows, cand = todo[ok], cand[ok]
            q = rp[rows] if not flip_pass else (5 - ea[rows]) * np.uint8(5) + (5 - oa[rows])
            s_ = index.pair[cand] == q
            w_ = index.pair_sw[cand] == q
            m = s_ | w_
            pidx[rows[m]] = cand[m]
            sign[rows[s_]] = 1
            sign[rows[w_]] = -1
            flipped[rows[m]] = flip_pass
            found[rows[m]] = True
            todo = todo[~found[todo]]
    status[hit & ~found] = _R["allele_mismatch"]
    return Match(pidx, status, sign, flipped, palin)
    lo = np.searchsorted(index.keys, key, "left")
    loc = np.minimum(lo, len(index) - 1)
    hit = chrom_ok & (index.keys[loc] == key)
    status[chrom_ok & ~hit] = _R["not_in_panel"]
    found = np.zeros(r, dtype=bool)
    # each pass works on the rows still unmatched: first the direct pass over all hits, then the rare rest
    todo = np.flatnonzero(hit)
    for flip_pass in (False, True):
        if flip_pass:
            todo = todo[~palin[todo]]  # a palindromic pair reads the same on both strands
        for k in range(index.max_run):
            if not len(todo):
                break
            cand = loc[todo] + k
            ok = cand < index.run_end[loc[todo]]
            rows, cand = todo[ok], cand[ok]
            a, b = ea[rows], oa[rows]
            if flip_pass:
                a, b = (5 - a).astype(np.uint8), (5 - b).astype(np.uint8)
            pcnt = index.counted[cand]
            poth = index.other[cand]
            same = (a == pcnt) & (b == poth)
            swap = (a == poth) & (b == pcnt)
            m = same | swap
            pidx[rows[m]] = cand[m]
            sign[rows[same]] = 1
            sign[rows[swap]] = -1
            flipped[rows[m]] = flip_pass
            found[rows[m]] = True
            todo = todo[~found[todo]]
        todo = np.flatnonzero(hit & ~found)
    status[hit & ~found] = _R["allele_mismatch"]
    return Match(pidx, status, sign, flipped, palin)


# --------------------------------------------------------------------------------------------------
# Row-level QC and effect derivation


@dataclass
class Rows:
    """Per-row values after row QC (arrays of length R aligned with the batch)."""

    reason: np.ndarray  # int8
    ccode: np.ndarray  # int16
    pos: np.ndarray  # int64
    ea: np.ndarray  # uint8
    oa: np.ndarray  # uint8
    z: np.ndarray
    beta: np.ndarray
    se: np.ndarray
    p: np.ndarray
    n: np.ndarray
    eaf: np.ndarray
    p_zero_kept: int = 0


def _num(batch: RawBatch, role: str, r: int) -> np.ndarray:
    v = batch.numbers.get(role)
    return np.full(r, np.nan) if v is None else v


def row_qc(batch: RawBatch, *, sheet_n: float | None) -> Rows:
    """Derive z, beta, se, p, n, eaf and the first failing reason of every row of ``batch``."""
    r = len(batch)
    reason = np.zeros(r, dtype=np.int8)

    def mark(mask: np.ndarray, name: str) -> None:
        # most masks are empty in a clean file: one pass to find out, the assignment only when needed
        if mask.any():
            reason[(reason == 0) & mask] = _R[name]

    for name, b in batch.flags.items():
        mark(b, name)
    for b in batch.bad.values():
        mark(b, "non_numeric")
    ccode = chrom_codes(batch.strings["chrom"])
    posf = _num(batch, "pos", r)
    ea, ea_kind = allele_codes(batch.strings["ea"])
    oa, oa_kind = allele_codes(batch.strings["oa"])
    kinds = ea_kind.any() or oa_kind.any()
    mark((ccode < 0) | np.isnan(posf) | ((ea_kind == 1) | (oa_kind == 1) if kinds else False), "missing_value")
    with np.errstate(invalid="ignore"):
        badpos = ~((posf >= 1) & (posf < 2**32) & (posf == np.floor(posf)))
    mark(badpos, "invalid_pos")
    if kinds:
        mark((ea_kind == 3) | (oa_kind == 3), "multiallelic")
        mark((ea_kind == 2) | (oa_kind == 2), "indel")
        mark((ea_kind == 4) | (oa_kind == 4), "invalid_allele")
    mark(ea == oa, "invalid_allele")  # codes of non-bases are 0 = 0, already marked above
    pos = (np.where(badpos, 0, posf) if badpos.any() else posf).astype(np.int64)

    beta = _num(batch, "beta", r)
    orr = batch.numbers.get("or")
    with np.errstate(divide="ignore", invalid="ignore"):
        if orr is not None and "beta" not in batch.numbers:
            mark(orr <= 0, "invalid_effect")
            beta = np.log(np.where(orr > 0, orr, np.nan))
            mark(np.isinf(orr), "invalid_effect")
        se = _num(batch, "se", r)
        zg = batch.numbers.get("z")
        p = _num(batch, "p", r)
        lp = batch.numbers.get("lp")
        se_ok = np.isfinite(se) & (se > 0)
        beta_ok = np.isfinite(beta)
        bse = beta_ok & se_ok
        p_ok = (p > 0) & (p <= 1)
        # p = 0 (underflow in the file) is kept when beta/se give z; p is then recomputed from z
        p_zero = (p == 0) & bse
        mark(~p_ok & ~np.isnan(p) & ~p_zero, "invalid_p")
        lp_ok = None
        if lp is not None:
            use_lp = np.isnan(p) & ~np.isnan(lp)
            mark(use_lp & ~(np.isfinite(lp) & (lp >= 0)), "invalid_p")
            lp_ok = use_lp & np.isfinite(lp) & (lp >= 0)
            p = np.where(lp_ok, np.maximum(np.power(10.0, -np.where(lp_ok, lp, 0.0)), np.nextafter(0.0, 1.0)), p)
            p_ok = p_ok | lp_ok
        mark(~np.isnan(se) & ~se_ok, "invalid_se")
        mark(np.isinf(beta) if zg is None else (np.isinf(beta) | np.isinf(zg)), "invalid_effect")
        eaf = _num(batch, "eaf", r)
        mark(~np.isnan(eaf) & ~((eaf >= 0) & (eaf <= 1)), "invalid_freq")
        nrow = batch.numbers.get("n")
        if nrow is None:
            n = np.full(r, np.nan if sheet_n is None else sheet_n)
        else:
            n = np.where(np.isnan(nrow), np.nan if sheet_n is None else sheet_n, nrow)
        mark(np.isnan(n), "missing_value")
        mark(~np.isnan(n) & ~(np.isfinite(n) & (n > 0)), "invalid_n")

        z = beta / se
        if not bse.all():
            z[~bse] = np.nan
        if zg is not None:
            z = np.where(np.isfinite(zg), zg, z)
        # the special functions run only on the rows that need them (usually none)
        zn = np.isnan(z)
        if zn.any():
            need = np.flatnonzero(zn & beta_ok & p_ok)
            if len(need):
                # z from p in log space, so -log10 p far beyond the double range stays exact
                logp = np.log(p[need])
                if lp_ok is not None:
                    logp = np.where(lp_ok[need], -lp[need] * np.log(10.0), logp)
                z[need] = np.sign(beta[need]) * -special.ndtri_exp(logp - np.log(2.0))
                zn[need] = np.isnan(z[need])
            mark(zn, "missing_value")
        # p of a row without one (or with p = 0 next to a usable beta/se) comes from z
        p_out = p if lp is not None else p.copy()
        need = np.flatnonzero(~p_ok & ~zn)
        if len(need):
            p_out[need] = np.maximum(np.exp(np.log(2.0) + special.log_ndtr(-np.abs(z[need]))),
                                     np.nextafter(0.0, 1.0))
    kept = reason == 0
    return Rows(reason=reason, ccode=ccode, pos=pos, ea=ea, oa=oa, z=z,
                beta=beta if beta_ok.all() else np.where(beta_ok, beta, np.nan),
                se=se if se_ok.all() else np.where(se_ok, se, np.nan), p=p_out, n=n, eaf=eaf,
                p_zero_kept=int((p_zero & kept).sum()) if p_zero.any() else 0)


# --------------------------------------------------------------------------------------------------
# Accumulation over a file


@dataclass
class _Acc:
    """Matched rows of one stream plus the counters for QC and the build check."""

    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)
    extra_parts: dict[str, list[pa.Array]] = field(default_factory=dict)
    counts: np.ndarray = field(default_factory=lambda: np.zeros(len(REASONS) + 1, dtype=np.int64))
    n_input: int = 0
    p_zero_kept: int = 0
    dom_rows: int = 0
    dom_match: int = 0
    fmin: np.ndarray = field(default_factory=lambda: np.full(_N_CODES, np.iinfo(np.int64).max))
    fmax: np.ndarray = field(default_factory=lambda: np.full(_N_CODES, -1, dtype=np.int64))
    rsid_sample: list[tuple[np.ndarray, np.ndarray, pa.Array]] = field(default_factory=list)
    rsid_sampled: int = 0
    chroms_seen: set[str] = field(default_factory=set)

    def add(self, name: str, arr: np.ndarray) -> None:
        self.parts.setdefault(name, []).append(arr)

    def cat(self, name: str, dtype: Any) -> np.ndarray:
        p = self.parts.get(name)
        return np.concatenate(p) if p else np.zeros(0, dtype=dtype)


class _Prefetch:
    """Read the next blocks in a background thread while the caller matches the current one.

    The thread starts at construction, so reading can begin while the panel index is being built.
    Decompression and CSV parsing (pyarrow, ISA-L) and most numpy matching release the GIL, so on two
    cores the reader and the matcher overlap. Exceptions of the reader are re-raised in the caller.
    :meth:`close` stops the thread (also when the blocks were never consumed).
    """

    _DONE = object()

    def __init__(self, batches: Iterable[RawBatch], depth: int = 3) -> None:
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._work, args=(batches,), name="twasflow-reader", daemon=True)
        self._th.start()

    def _work(self, batches: Iterable[RawBatch]) -> None:
        try:
            for b in batches:
                if not self._put(b):
                    return
            self._put(self._DONE)
        except BaseException as exc:  # handed to the consumer thread
            self._put(exc)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[RawBatch]:
        try:
            while True:
                item = self._q.get()
                if item is self._DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self._th.join(timeout=5)


def _prefetch(batches: Iterable[RawBatch]) -> Iterable[RawBatch]:
    return batches if isinstance(batches, _Prefetch) else _Prefetch(batches)


def _consume(batches: Iterable[RawBatch], index: PanelIndex, acc: _Acc, panel_hit: np.ndarray, *,
             sheet_n: float | None, extra: Sequence[str] = (), extra_num: Sequence[str] = (),
             on_block: Callable[[int, dict[str, np.ndarray]], None] | None = None) -> None:
    """Row QC and matching of every block; matched rows are accumulated in ``acc``.

    ``on_block(offset, arrays)`` (optional) gets each block's matched rows (pidx, sign, palin, eaf, z, n, p,
    beta, se; ``offset`` = matched rows of earlier blocks) as soon as the block is matched.
    """
    n_matched = 0
    for batch in _prefetch(batches):
        rows = row_qc(batch, sheet_n=sheet_n)
        acc.n_input += len(batch)
        acc.p_zero_kept += rows.p_zero_kept
        ok = rows.reason == 0
        if len(batch) and len(acc.chroms_seen) < 100:
            acc.chroms_seen.update(str(x) for x in pc.unique(batch.strings["chrom"]).to_pylist()[:100])
        sel = np.flatnonzero(ok)
        m = match_to_panel(index, rows.ccode[sel].astype(np.int64), rows.pos[sel], rows.ea[sel], rows.oa[sel])
        reason = rows.reason
        reason[sel] = m.status
        acc.counts += np.bincount(reason, minlength=len(REASONS) + 1)
        # build check bookkeeping: rows on panel chromosomes within the panel's range there
        cc = rows.ccode[sel].astype(np.int64)
        ps = rows.pos[sel]
        onp = m.status != _R["chrom_not_in_panel"]
        if onp.any():
            cco, pso = cc[onp], ps[onp]
            present = np.flatnonzero(np.bincount(cco, minlength=_N_CODES))
            for c in present:
                pc_ = pso if len(present) == 1 else pso[cco == c]  # a sorted file: mostly one chromosome per block
                acc.fmin[c] = min(acc.fmin[c], int(pc_.min()))
                acc.fmax[c] = max(acc.fmax[c], int(pc_.max()))
            key = (cc << 32) | ps
            dom = onp & (key >= index.chrom_lo_key[cc]) & (key <= index.chrom_hi_key[cc])
            acc.dom_rows += int(dom.sum())
            acc.dom_match += int((dom & (m.status == 0)).sum())
        good = m.status == 0
        panel_hit[m.pidx[good]] = True
        if "rsid" in batch.strings and acc.rsid_sampled < 200_000:
            acc.rsid_sample.append((cc, ps, batch.strings["rsid"].take(pa.array(sel))))
            acc.rsid_sampled += len(sel)
        keep = sel[good]
        acc.add("pidx", m.pidx[good])
        acc.add("sign", m.sign[good])
        acc.add("flipped", m.flipped[good])
        acc.add("palin", m.palin[good])
        acc.add("row", batch.row[keep])
        block = {"pidx": m.pidx[good], "sign": m.sign[good], "palin": m.palin[good]}
        for name in ("z", "beta", "se", "p", "n", "eaf"):
            block[name] = getattr(rows, name)[keep]
            acc.add(name, block[name])
        if on_block is not None:
            on_block(n_matched, block)
        n_matched += len(keep)
        for name in extra_num:
            v = batch.numbers.get(name)
            acc.add(name, np.full(len(keep), np.nan) if v is None else v[keep])
        if extra:
            take = pa.array(keep)
            for name in extra:
                acc.extra_parts.setdefault(name, []).append(batch.extra[name].take(take))


@dataclass
class _Final:
    """Kept rows after palindromic and duplicate resolution, oriented to the counted allele."""

    keep: np.ndarray  # indices into the accumulated arrays, sorted by output order
    pidx: np.ndarray
    sign: np.ndarray
    dropped: dict[str, int]
    flipped_strand: int
    swapped: int
    palindromic_aligned: int  # kept palindromic variants whose frequency confirmed the labels
    palindromic_by_strand: int  # kept palindromic variants without a frequency, labels vouched for by strand
    warnings: list[str]


def _resolve_palindromic(sign: np.ndarray, palin: np.ndarray, eaf: np.ndarray, pidx: np.ndarray,
                         panel_freq: np.ndarray, settings: Settings, *, reverse: bool, on_panel_strand: bool
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decide the palindromic rows among matched rows (R,), given the file's strand consensus.

    ``pidx`` (R,) are the matched panel rows and ``panel_freq`` (V,) the panel's counted-allele
    frequencies. Returns (reason int8 (R,) with 0 = kept, sign int8 (R,) with palindromic rows oriented by
    their labels on the consensus strand, by_strand bool (R,) rows kept on the strand consensus alone,
    nofreq bool (R,) palindromic rows without a usable frequency). Other rows keep reason 0 and their sign.
    """
    r = len(sign)
    reason = np.zeros(r, dtype=np.int8)
    by_strand = np.zeros(r, dtype=bool)
    nofreq = np.zeros(r, dtype=bool)
    ip = np.flatnonzero(palin)
    if not len(ip):
        return reason, sign, by_strand, nofreq
    if settings.palindromic == "drop":
        reason[ip] = _R["palindromic_dropped"]
        return reason, sign, by_strand, nofreq
    # labels on the file's consensus strand give one orientation, frequencies another
    lab = -sign[ip] if reverse else sign[ip]
    e, f = eaf[ip], panel_freq[pidx[ip]]
    mx = settings.maf_palindromic_max
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(e) & np.isfinite(f)
        low = usable & (np.minimum(e, 1 - e) <= mx) & (np.minimum(f, 1 - f) <= mx)
        by_freq = np.where((e - 0.5) * (f - 0.5) > 0, 1, -1)
    rp = np.zeros(len(ip), dtype=np.int8)
    rp[usable & ~low] = _R["palindromic_ambiguous"]
    rp[low & (by_freq != lab)] = _R["strand_inconsistent"]
    # without a frequency only the strand consensus can vouch for the labels
    nofreq[ip[~usable]] = True
    if on_panel_strand:
        by_strand = nofreq
    else:
        rp[~usable] = _R["palindromic_ambiguous"]
    reason[ip] = rp
    sign = sign.copy()
    sign[ip] = lab
    return reason, sign, by_strand, nofreq


def _finalize(acc: _Acc, index: PanelIndex, settings: Settings, *, dup_key: np.ndarray | None = None,
              order_key: Sequence[np.ndarray] = ()) -> _Final:
    pidx = acc.cat("pidx", np.int64)
    sign = acc.cat("sign", np.int8).astype(np.int8)
    flipped = acc.cat("flipped", bool)
    palin = acc.cat("palin", bool)
    eaf = acc.cat("eaf", np.float64)
    row = acc.cat("row", np.int64)
    warnings: list[str] = []
    reason = np.zeros(len(pidx), dtype=np.int8)

    npal = ~palin
    n_flip = int((flipped & npal).sum())
    n_direct = int((~flipped & npal).sum())
    reverse = n_flip > n_direct
    n_np = n_flip + n_direct
    flip_frac = n_flip / n_np if n_np else float("nan")
    # the file is on the panel's strand when (almost) no non-palindromic variant needed complementing
    on_panel_strand = n_np >= STRAND_CONSENSUS_MIN_VARIANTS and flip_frac <= settings.strand_consensus_max_flip
    if n_flip:
        warnings.append(f"{n_flip} of {n_np} non-palindromic variants match the panel only on the "
                        "opposite strand (alleles complemented)")
    if reverse:
        warnings.append("the file is strand-flipped overall: palindromic variants are read on the opposite strand")
    by_strand = np.zeros(len(pidx), dtype=bool)
    if palin.any():
        pres, sign, by_strand, nofreq = _resolve_palindromic(sign, palin, eaf, pidx, index.freq, settings,
                                                            reverse=reverse, on_panel_strand=on_panel_strand)
        reason = pres
        flipped = np.where(palin, reverse, flipped)
        if settings.palindromic != "drop" and not on_panel_strand and nofreq.any():
            why = (f"{flip_frac:.1%} of {n_np} non-palindromic variants match only on the opposite strand "
                   f"(at most {settings.strand_consensus_max_flip:.1%} needed)" if
                   n_np >= STRAND_CONSENSUS_MIN_VARIANTS else
                   f"only {n_np} non-palindromic variants matched (at least {STRAND_CONSENSUS_MIN_VARIANTS} "
                   "needed)")
            warnings.append(f"{int(nofreq.sum())} palindromic variants without a usable effect-allele "
                            f"frequency dropped as palindromic_ambiguous: the file's strand is not established, "
                            f"{why}")
    # duplicates: the first row of the file wins
    dk = pidx if dup_key is None else dup_key
    cand = np.flatnonzero(reason == 0)
    dkc = dk[cand]
    # fast path for the common case of a file sorted like the panel, without duplicates: no sort at all
    if not (len(dkc) < 2 or np.all(dkc[1:] > dkc[:-1])):
        o = cand[np.lexsort((row[cand], dkc))]
        dup = np.zeros(len(o), dtype=bool)
        dup[1:] = dk[o][1:] == dk[o][:-1]
        reason[o[dup]] = _R["duplicate"]
    keep = np.flatnonzero(reason == 0)
    keys = [k[keep] for k in order_key] + [pidx[keep]]
    if len(keep) > 1 and (order_key or not np.all(pidx[keep][1:] > pidx[keep][:-1])):
        keep = keep[np.lexsort(tuple(reversed(keys)))]
    counts = acc.counts.copy()
    counts[0] = 0
    counts += np.bincount(reason, minlength=len(REASONS) + 1)
    counts[0] = 0
    dropped = {REASONS[i - 1]: int(counts[i]) for i in range(1, len(REASONS) + 1) if counts[i]}
    if acc.p_zero_kept:
        warnings.append(f"{acc.p_zero_kept} rows with p = 0 kept; their p is recomputed from beta/se")
    n_by_strand = int(by_strand[keep].sum())
    return _Final(keep=keep, pidx=pidx[keep], sign=sign[keep], dropped=dropped,
                  flipped_strand=int(flipped[keep].sum()), swapped=int((sign[keep] < 0).sum()),
                  palindromic_aligned=int(palin[keep].sum()) - n_by_strand,
                  palindromic_by_strand=n_by_strand, warnings=warnings)


# --------------------------------------------------------------------------------------------------
# Build check


def _rsid_evidence(acc: _Acc, index: PanelIndex) -> str | None:
    """Compare positions of variants matched by rsid; describe the offsets, or None without rsids."""
    if not acc.rsid_sample:
        return None
    cc = np.concatenate([a for a, _, _ in acc.rsid_sample])
    ps = np.concatenate([b for _, b, _ in acc.rsid_sample])
    rs = pa.chunked_array([c for _, _, c in acc.rsid_sample]).combine_chunks()
    prs = index.table.column("rsid").combine_chunks()
    if not pa.types.is_string(prs.type):
        prs = prs.cast(pa.string())
    rs_ok = pc.starts_with(pc.fill_null(rs, ""), "rs").to_numpy(zero_copy_only=False)
    where = pc.index_in(rs, value_set=prs).to_numpy(zero_copy_only=False)
    found = rs_ok & ~np.isnan(where.astype(np.float64))
    if found.sum() < 10:
        return None
    w = where[found].astype(np.int64)
    pk = index.keys[w]
    pchrom = pk >> 32
    ppos = pk & 0xFFFFFFFF
    same_chrom = pchrom == cc[found]
    d = ps[found][same_chrom] - ppos[same_chrom]
    n = len(d)
    if n == 0:
        return f"{int(found.sum())} rsids match panel rsids but all on other chromosomes"
    moved = d != 0
    if not moved.any():
        return f"all {n} rsid-matched variants sit at the panel position (alleles differ)"
    dm = d[moved]
    vals, cnts = np.unique(dm, return_counts=True)
    top = vals[np.argmax(cnts)]
    frac_top = cnts.max() / len(dm)
    desc = (f"{int(moved.sum())} of {n} rsid-matched variants sit at other positions "
            f"(offset median {int(np.median(dm))} bp, range {int(dm.min())}..{int(dm.max())} bp")
    if frac_top > 0.9:
        desc += f"; {frac_top:.0%} shifted by exactly {int(top)} bp"
        if abs(top) == 1:
            desc += ": positions look 0-based instead of 1-based"
    else:
        desc += "; offsets vary along the chromosome, the pattern of a different genome build"
    return desc + ")"


def _build_check(acc: _Acc, index: PanelIndex, panel_hit: np.ndarray, *, path: Any, declared: str | None,
                 panel: str | None, min_match: float, warnings: list[str], raise_on_fail: bool = True,
                 rsid_loader: Any = None) -> dict:
    """Match rate over comparable rows; raise :class:`HarmonizeError` if it is below ``min_match``.

    The rate is the larger of (a) matched / file rows that lie on a panel chromosome inside the panel's
    position range there and (b) matched / panel SNVs inside the file's position range on each shared
    chromosome, so a sparse panel (or a sparse file) does not look like a build mismatch.
    """
    file_rate = acc.dom_match / acc.dom_rows if acc.dom_rows else None
    pan_dom = 0
    pan_hit = 0
    snv = (index.counted > 0) & (index.other > 0)
    for c in np.flatnonzero(acc.fmax >= 0):
        lo = int(np.searchsorted(index.keys, (np.int64(c) << 32) | acc.fmin[c], "left"))
        hi = int(np.searchsorted(index.keys, (np.int64(c) << 32) | acc.fmax[c], "right"))
        pan_dom += int(snv[lo:hi].sum())
        pan_hit += int(panel_hit[lo:hi].sum())
    panel_rate = pan_hit / pan_dom if pan_dom else None
    rates = [r for r in (file_rate, panel_rate) if r is not None]
    rate = max(rates) if rates else None
    n_cmp = max(acc.dom_rows, pan_dom)
    ok = rate is not None and rate >= min_match
    if ok:
        best = panel or declared or "same as panel"
        if declared and panel and declared != panel:
            warnings.append(f"declared build {declared} differs from the panel build {panel}, but positions match "
                            f"the panel (match rate {rate:.3f}); treated as {panel}")
    else:
        if rate is not None and not acc.rsid_sample and rsid_loader is not None:
            for b in rsid_loader():
                acc.rsid_sample.append((chrom_codes(b.strings["chrom"]).astype(np.int64),
                                        np.nan_to_num(b.numbers["pos"], nan=0).astype(np.int64), b.strings["rsid"]))
        evidence = _rsid_evidence(acc, index) if rate is not None else None
        other = {"GRCh37": "GRCh38", "GRCh38": "GRCh37"}.get(panel or "")
        if declared and panel and declared != panel:
            best = declared
        elif evidence and "different genome build" in evidence and other:
            best = other
        elif evidence and "0-based" in evidence:
            best = f"{panel or 'panel build'} (0-based positions)"
        else:
            best = "unknown"
        if rate is not None and n_cmp >= _BUILD_MIN_ROWS and raise_on_fail:
            hint = []
            if declared and panel and declared != panel:
                hint.append(f"the file is declared {declared} but the panel is {panel}: lift the file over to "
                            f"{panel} (e.g. with liftOver/CrossMap) before harmonizing")
            if evidence:
                hint.append(evidence)
            if best != "unknown":
                hint.append(f"likely build: {best}")
            raise HarmonizeError(
                f"{path}: genome build check failed: only {rate:.1%} of the variants on panel chromosomes match "
                f"the panel at their position with compatible alleles (found match rate {rate:.3f}; expected ≥ "
                f"{min_match}); declared build {declared or 'not given'}, panel build {panel or 'not given'}"
                + ("; " + "; ".join(hint) if hint else ""),
                file=str(path), found=rate, expected=min_match)
        if rate is not None:
            warnings.append(f"low match rate {rate:.3f} over only {n_cmp} comparable variants; build check not "
                            f"conclusive")
    return {"declared": declared, "panel": panel, "match_rate": None if rate is None else round(float(rate), 6),
            "best_guess": best}


def _no_overlap_error(path: Any, acc: _Acc, index: PanelIndex) -> HarmonizeError:
    return HarmonizeError.at(
        "no variant lies on a panel chromosome", file=path, column="chrom",
        found=f"chromosomes {sorted(acc.chroms_seen)[:30]}", expected=f"some of {index.chrom_labels}")


def _qc_dict(path: Any, acc: _Acc, fin: _Final, build: dict, warnings: list[str], **extra: Any) -> dict:
    qc = {
        "input": str(path),
        "n_input": int(acc.n_input),
        "n_kept": int(len(fin.keep)),
        "dropped": fin.dropped,
        "flipped_strand": fin.flipped_strand,
        "swapped_alleles": fin.swapped,
        "palindromic_aligned": fin.palindromic_aligned,
        "palindromic_kept_by_strand_consensus": fin.palindromic_by_strand,
        "build": build,
        "warnings": fin.warnings + warnings,
    }
    qc.update(extra)
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values()), qc
    return qc


def _settings(palindromic: str, maf_palindromic_max: float, build_check_min_match: float,
              strand_consensus_max_flip: float = STRAND_CONSENSUS_MAX_FLIP) -> Settings:
    if palindromic not in ("align_by_freq", "drop"):
        raise HarmonizeError.at("unknown palindromic mode", column="palindromic", found=repr(palindromic),
                                expected="'align_by_freq' or 'drop'")
    if not 0 <= float(maf_palindromic_max) <= 0.5:
        raise HarmonizeError.at("maf_palindromic_max out of range", column="maf_palindromic_max",
                                found=maf_palindromic_max, expected="a number in [0, 0.5]")
    if not 0 <= float(build_check_min_match) <= 1:
        raise HarmonizeError.at("build_check_min_match out of range", column="build_check_min_match",
                                found=build_check_min_match, expected="a number in [0, 1]")
    if not 0 <= float(strand_consensus_max_flip) < 0.5:
        raise HarmonizeError.at("strand_consensus_max_flip out of range", column="strand_consensus_max_flip",
                                found=strand_consensus_max_flip, expected="a number in [0, 0.5)")
    return Settings(palindromic, float(maf_palindromic_max), float(build_check_min_match),
                    float(strand_consensus_max_flip))


# --------------------------------------------------------------------------------------------------
# GWAS


def harmonize_gwas(
    path: str | Path,
    *,
    fmt: str,
    panel_variants: pd.DataFrame | pa.Table,
    out: str | Path,
    qc_out: str | Path,
    trait: str | None = None,
    n: float | None = None,
    colmap: Mapping[str, str | None] | None = None,
    declared_build: str | None = None,
    panel_build: str | None = None,
    palindromic: str = "align_by_freq",
    maf_palindromic_max: float = 0.4,
    build_check_min_match: float = 0.7,
    strand_consensus_max_flip: float = STRAND_CONSENSUS_MAX_FLIP,
) -> dict[str, Any]:
    """Harmonize one GWAS file to the panel; write ``out`` (Parquet) and ``qc_out`` (JSON).

    Parameters
    ----------
    path : GWAS file (``gwas-ssf`` tsv[.gz], ``gwas-vcf`` bgzipped + indexed, or ``table`` with ``colmap``).
    fmt : ``gwas-ssf`` | ``gwas-vcf`` | ``table``.
    panel_variants : panel variants (V rows; columns variant_id, chrom, pos, other_allele, counted_allele,
        rsid, counted_freq, …).
    n : sample size used where the file has none (per-row ``n`` wins).
    colmap : for ``table``, role → column name (keys chrom, pos, ea, oa, beta, se, z, p, n, eaf, rsid;
        optional ``or`` odds ratio, ``lp`` -log10 p).
    palindromic : ``align_by_freq`` (default) or ``drop``.
    strand_consensus_max_flip : the largest fraction of strand-flipped non-palindromic matches for which
        the file counts as on the panel's strand; palindromic rows without a usable frequency are then kept
        with their labels at face value (else dropped as ``palindromic_ambiguous``).

    Returns
    -------
    The QC dict written to ``qc_out``. The Parquet has columns ``GWAS_COLUMNS``, one row per kept
    variant, sorted by chromosome (1..22, X) and position; z, beta and counted_freq refer to the
    counted allele.
    """
    settings = _settings(palindromic, maf_palindromic_max, build_check_min_match, strand_consensus_max_flip)
    sheet_n = _sheet_n(n, path)
    declared = normalize_build(declared_build)
    pbuild = normalize_build(panel_build)
    batches, roles, src = read_gwas_batches(path, fmt=fmt, colmap=colmap)
    if sheet_n is None and "n" not in roles:
        raise HarmonizeError.at("sample size missing everywhere", file=path, column="n",
                                found="no n column in the file and no n in the sheet",
                                expected="an n column or the sheet's n")
    # the reader starts at once: the first blocks are decompressed and parsed while the index is built
    batches = _Prefetch(batches)
    try:
        index = PanelIndex.build(panel_variants)
    except BaseException:
        batches.close()
        raise
    acc = _Acc()
    panel_hit = np.zeros(len(index), dtype=bool)
    warnings: list[str] = []
    with atomic_path(out) as tmp:
        # kept rows are written while the file is still being read, on the guess that the file is sorted
        # like the panel and on its strand; the guess is checked against the whole-file decision below
        stream = _GwasStream(index, settings, tmp)
        try:
            _consume(batches, index, acc, panel_hit, sheet_n=sheet_n, on_block=stream.push)
            if src is not None and src.malformed:
                acc.n_input += len(src.malformed)
                acc.counts[_R["malformed_row"]] += len(src.malformed)
            if acc.n_input == 0:
                raise HarmonizeError.at("no data rows", file=path, expected="at least one variant")
            if acc.fmax.max() < 0 and not any(acc.counts[_R[r]] for r in ("not_in_panel", "allele_mismatch")):
                if acc.counts[_R["chrom_not_in_panel"]] == acc.n_input:
                    raise _no_overlap_error(path, acc, index)
            if "eaf" not in roles:
                warnings.append("no effect-allele frequency in the file: palindromic variants cannot be aligned "
                                "by frequency; they are kept only if the file is on the panel's strand")
            loader = (lambda: read_rsid_head(src, roles)) if src is not None else None
            build = _build_check(acc, index, panel_hit, path=path, declared=declared, panel=pbuild,
                                 min_match=settings.build_check_min_match, warnings=warnings, rsid_loader=loader)
            fin = _finalize(acc, index, settings)
            streamed = stream.finish(fin)
        except BaseException:
            stream.abort()
            raise
        if not streamed:
            k = fin.keep
            table = _gwas_table(index, fin.pidx, fin.sign, {name: acc.cat(name, np.float64)[k]
                                                            for name in ("z", "n", "p", "beta", "se", "eaf")})
            _write_gwas_parquet(table, tmp)
        extra = {"format": fmt}
        if trait is not None:
            extra["trait"] = trait
        qc = _qc_dict(path, acc, fin, build, warnings, **extra)
    write_json(qc, qc_out)
    return qc


def _gwas_table(index: PanelIndex, pidx: np.ndarray, sign: np.ndarray, vals: Mapping[str, np.ndarray]) -> pa.Table:
    """Output rows (K,) from panel rows ``pidx`` (K,), orientation ``sign`` (K,) and the file's values.

    ``vals`` holds z, n, p, beta, se, eaf (K,) as read (oriented to the file's effect allele).
    """
    s = sign.astype(np.float64)
    take = pa.array(pidx)
    vid = index.table.column("variant_id").chunk(0).take(take) if len(index) else pa.array([], pa.string())
    rs = index.table.column("rsid").chunk(0).take(take) if len(index) else pa.array([], pa.string())
    codes = index.strings_of(pidx)
    eaf = vals["eaf"]
    cfreq = np.where(s > 0, eaf, 1.0 - eaf)
    rsid = rs.cast(pa.string())
    rsid = pc.if_else(pc.equal(rsid, "."), pa.scalar(None, pa.string()), rsid)
    return pa.table({
        "variant_id": vid.cast(pa.string()),
        "chrom": codes["chrom"],
        "pos": pa.array(index.keys[pidx] & 0xFFFFFFFF),
        "other_allele": codes["other_allele"],
        "counted_allele": codes["counted_allele"],
        "z": pa.array(vals["z"] * s),
        "n": pa.array(vals["n"]),
        "p": pa.array(vals["p"]),
        "beta": pa.array(vals["beta"] * s, from_pandas=True),
        "se": pa.array(vals["se"], from_pandas=True),
        "counted_freq": pa.array(cfreq, from_pandas=True),
        "rsid": rsid,
    })


_ROW_GROUP = 1 << 20  # rows per Parquet row group of the GWAS output (pyarrow's default)
# chrom and alleles arrive as Arrow dictionary arrays (written as dictionary pages without hashing);
# without the stored Arrow schema they read back as plain strings. Dictionary-encoding unique strings
# (variant ids, rsids) and keeping min/max statistics of every float column roughly doubled the write
# time of a 10-million-row file for no benefit to readers.
_GWAS_PARQUET = dict(compression="zstd", use_dictionary=["chrom", "other_allele", "counted_allele"],
                     write_statistics=["chrom", "pos"], store_schema=False,
                     # byte-stream-split floats: zstd then costs half the CPU for about the same size on
                     # 6-decimal effects (p and frequencies grow from ~35 to ~64 MB per 10 M rows);
                     # sorted positions delta-encoded (11 MB instead of 17 MB, 3x faster than plain zstd)
                     column_encoding={"pos": "DELTA_BINARY_PACKED"} | {
                         c: "BYTE_STREAM_SPLIT" for c in ("z", "n", "p", "beta", "se", "counted_freq")})


class _RowGroupWriter:
    """Writes tables to one Parquet file in a background thread, in row groups of exactly ``_ROW_GROUP`` rows.

    pyarrow encodes and compresses without the GIL, so the write overlaps with reading and matching. The
    row groups do not depend on how the rows arrived (one table or many), so a file written block by block
    is byte-identical to one written at once.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self.rows = 0
        self._q: queue.Queue = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._th = threading.Thread(target=self._work, name="twasflow-writer", daemon=True)
        self._th.start()

    def put(self, table: pa.Table | Callable[[], pa.Table], rows: int | None = None) -> None:
        """Queue a table, or a function building one (``rows`` rows) to run in the writer thread."""
        if self._error is not None:
            raise self._error
        self.rows += table.num_rows if rows is None else rows
        self._q.put(table)

    def close(self) -> None:
        """Write the last partial row group and the footer; re-raise a failure of the thread."""
        self._q.put(None)
        self._th.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        self._q.put(None)
        self._th.join()

    def _work(self) -> None:
        writer = None
        buf: list[pa.Table] = []
        nbuf = 0
        t: Any = ()
        try:
            while True:
                t = self._q.get()
                if callable(t):
                    t = t()
                if t is not None:
                    buf.append(t)
                    nbuf += t.num_rows
                while nbuf >= _ROW_GROUP or (t is None and nbuf):
                    whole = pa.concat_tables(buf)
                    head = whole.slice(0, min(_ROW_GROUP, nbuf))
                    rest = whole.slice(head.num_rows)
                    if writer is None:
                        writer = pq.ParquetWriter(self.path, head.schema, **_GWAS_PARQUET)
                    # one chunk per column, so pages do not depend on the block boundaries
                    writer.write_table(head.combine_chunks(), row_group_size=_ROW_GROUP)
                    buf, nbuf = ([rest] if rest.num_rows else []), rest.num_rows
                if t is None:
                    break
        except BaseException as exc:  # handed to the caller in put/close
            self._error = exc
            while t is not None:  # drain up to the end mark so the caller never blocks
                t = self._q.get()
        finally:
            if writer is not None:
                writer.close()


class _GwasStream:
    """Speculative block-by-block output of :func:`harmonize_gwas`.

    Each block's rows are decided as if the file were on the panel's strand (palindromic labels at face
    value where no frequency decides) and sorted like the panel without duplicates, and written at once.
    :meth:`finish` keeps the file only if the whole-file decision (:func:`_finalize`) kept exactly the same
    rows with the same orientation; otherwise (a strand-flipped or unsorted file) the caller rewrites it.
    """

    def __init__(self, index: PanelIndex, settings: Settings, path: str | Path) -> None:
        self.index, self.settings = index, settings
        self.active = True
        self.last = -1
        self.keep: list[np.ndarray] = []
        self.pidx: list[np.ndarray] = []
        self.sign: list[np.ndarray] = []
        self.writer: _RowGroupWriter | None = _RowGroupWriter(path)

    def push(self, offset: int, b: Mapping[str, np.ndarray]) -> None:
        if not self.active:
            return
        pidx = b["pidx"]
        reason, sign, _, _ = _resolve_palindromic(b["sign"], b["palin"], b["eaf"], pidx, self.index.freq,
                                                  self.settings, reverse=False, on_panel_strand=True)
        keep = np.flatnonzero(reason == 0)
        pk = pidx[keep]
        if len(pk) and (pk[0] <= self.last or (len(pk) > 1 and not np.all(pk[1:] > pk[:-1]))):
            self.abort()  # not in panel order (or a duplicate): only the whole-file pass can order it
            return
        if not len(pk):
            return
        self.last = int(pk[-1])
        sk = sign[keep]
        self.keep.append(keep + offset)
        self.pidx.append(pk)
        self.sign.append(sk)
        vals = {n: b[n][keep] for n in ("z", "n", "p", "beta", "se", "eaf")}
        # the table (string takes from the panel) is built in the writer thread, beside the matching
        self.writer.put(functools.partial(_gwas_table, self.index, pk, sk, vals), rows=len(pk))

    def finish(self, fin: _Final) -> bool:
        """Close the file; True if it holds exactly the rows ``fin`` keeps, in its order."""
        if not self.active or self.writer is None or self.writer.rows == 0:
            self.abort()
            return False
        self.writer.close()
        self.writer = None
        cat = lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt)  # noqa: E731
        return (np.array_equal(cat(self.keep, np.int64), fin.keep) and np.array_equal(cat(self.pidx, np.int64), fin.pidx)
                and np.array_equal(cat(self.sign, np.int8), fin.sign))

    def abort(self) -> None:
        self.active = False
        self.keep, self.pidx, self.sign = [], [], []
        if self.writer is not None:
            self.writer.abort()
            self.writer = None


def _write_gwas_parquet(table: pa.Table, path: str | Path) -> None:
    """Write the whole GWAS output at once (same layout as :class:`_RowGroupWriter`)."""
    table = table.replace_schema_metadata(None)
    if table.num_rows == 0:
        pq.write_table(table, path, **_GWAS_PARQUET)
        return
    w = _RowGroupWriter(path)
    w.put(table)
    w.close()


# --------------------------------------------------------------------------------------------------
# xQTL


_ENSG = re.compile(r"(ENSG\d+)(?:\.\d+)?")


def gene_id_of(phenotype_id: str) -> str | None:
    """Ensembl gene id (version stripped) of a phenotype id; for sQTL clusters the trailing ENSG."""
    hits = _ENSG.findall(phenotype_id or "")
    return hits[-1] if hits else None


def _gene_ids(pheno: pa.Array, gene_map: Mapping[str, str] | None, given: pa.Array | None) -> pa.Array:
    """gene_id per row: gene_map override, else the file's gene_id column, else parsed from the phenotype."""
    enc = pc.dictionary_encode(pheno)
    dic = enc.dictionary.to_pylist()
    genes = [gene_id_of(p) for p in dic]
    if given is not None:
        # the file's gene_id of the first row with one, per phenotype (one value per phenotype in practice)
        idx = enc.indices.to_numpy(zero_copy_only=False)
        ok = ~given.is_null().to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(ok)
        ph_of, first = np.unique(idx[rows], return_index=True)
        vals = given.take(pa.array(rows[first])).to_pylist()
        for ph, g in zip(ph_of, vals):
            genes[int(ph)] = gene_id_of(g) or g
    if gene_map:
        genes = [gene_map.get(p, g) for p, g in zip(dic, genes)]
    return pa.DictionaryArray.from_arrays(enc.indices, pa.array(genes, type=pa.string())).cast(pa.string())


def read_gene_map(path: Any) -> dict[str, str] | None:
    """A gene map TSV (``phenotype_id, gene_id``) → dict with version-stripped gene ids; None when blank."""
    if _blank(path):
        return None
    p = Path(path)
    if not p.is_file():
        raise HarmonizeError.at("gene map does not exist", file=p, column="gene_map",
                                expected="a TSV with columns phenotype_id, gene_id")
    df = pd.read_csv(p, sep="\t", dtype=str)
    for c in ("phenotype_id", "gene_id"):
        if c not in df.columns:
            raise HarmonizeError.at("gene map lacks a column", file=p, column=c, found=f"columns {list(df.columns)}",
                                    expected="columns phenotype_id, gene_id")
    return {a: (gene_id_of(b) or b) for a, b in zip(df["phenotype_id"], df["gene_id"])}


def _empty_xqtl() -> pa.Table:
    return pa.table({
        "pair_id": pa.array([], pa.string()), "phenotype_id": pa.array([], pa.string()),
        "gene_id": pa.array([], pa.string()), "tissue": pa.array([], pa.string()),
        "qtl_type": pa.array([], pa.string()), "variant_id": pa.array([], pa.string()),
        "pos": pa.array([], pa.int64()), "z": pa.array([], pa.float64()), "n": pa.array([], pa.float64()),
        "beta": pa.array([], pa.float64()), "se": pa.array([], pa.float64()),
        "tss_distance": pa.array([], pa.int64()),
    })


def _xqtl_table(acc: _Acc, fin: _Final, index: PanelIndex, *, pheno: pa.Array, tss: np.ndarray | None,
                tissue: str, qtl_type: str, gene_map: Mapping[str, str] | None, given_gene: pa.Array | None) -> pa.Table:
    k = fin.keep
    if len(k) == 0:
        return _empty_xqtl()
    s = fin.sign.astype(np.float64)
    sub = index.table.select(["variant_id"]).take(pa.array(fin.pidx))
    ph = pheno.take(pa.array(k))
    genes = _gene_ids(ph, gene_map, None if given_gene is None else given_gene.take(pa.array(k)))
    suffix = f"|{tissue}|{qtl_type}"
    pair = pc.binary_join_element_wise(ph, pa.scalar(suffix), "")
    m = len(k)
    if tss is not None:
        t = tss[k]
        bad = ~np.isfinite(t)
        tss_arr = pa.array(np.where(bad, 0, t).astype(np.int64), type=pa.int64(), mask=bad)
    else:
        tss_arr = pa.nulls(m, pa.int64())
    return pa.table({
        "pair_id": pair,
        "phenotype_id": ph,
        "gene_id": genes,
        "tissue": pa.repeat(pa.scalar(tissue, pa.string()), m),
        "qtl_type": pa.repeat(pa.scalar(qtl_type, pa.string()), m),
        "variant_id": sub.column("variant_id").cast(pa.string()),
        "pos": pa.array(index.keys[fin.pidx] & 0xFFFFFFFF),
        "z": pa.array(acc.cat("z", np.float64)[k] * s),
        "n": pa.array(acc.cat("n", np.float64)[k]),
        "beta": pa.array(acc.cat("beta", np.float64)[k] * s, from_pandas=True),
        "se": pa.array(acc.cat("se", np.float64)[k], from_pandas=True),
        "tss_distance": tss_arr,
    })


def _pheno_rank(pheno: pa.Array) -> np.ndarray:
    """Integer rank of each phenotype id in sorted order (ties share a rank)."""
    enc = pc.dictionary_encode(pheno)
    dic = np.array(enc.dictionary.to_pylist(), dtype=object)
    rank = np.empty(len(dic), dtype=np.int64)
    rank[np.argsort(dic, kind="stable")] = np.arange(len(dic))
    return rank[enc.indices.to_numpy(zero_copy_only=False)]


def harmonize_xqtl(
    path: str | Path,
    *,
    fmt: str,
    panel_variants: pd.DataFrame | pa.Table,
    out_dir: str | Path,
    qc_out: str | Path,
    dataset: str,
    tissue: str,
    qtl_type: str,
    n: float | None = None,
    gene_map: str | Path | None = None,
    declared_build: str | None = None,
    panel_build: str | None = None,
    chroms: Sequence[str] | None = None,
    palindromic: str = "align_by_freq",
    maf_palindromic_max: float = 0.4,
    build_check_min_match: float = 0.7,
    strand_consensus_max_flip: float = STRAND_CONSENSUS_MAX_FLIP,
) -> dict[str, Any]:
    """Harmonize one xQTL dataset; write ``{out_dir}/{chrom}.parquet`` per chromosome and the QC JSON.

    Parameters
    ----------
    path : ``gtex-parquet``: a pattern with ``{chrom}`` (one Parquet per chromosome, GTEx v8 columns);
        ``eqtl-catalogue``: one TSV(.gz) with eQTL Catalogue columns (ALT = effect allele).
    n : sample size (sheet). For eQTL Catalogue files without it, ``an / 2`` is used per row.
    gene_map : optional TSV ``phenotype_id, gene_id`` overriding the gene parsed from phenotype ids.
    chroms : chromosomes to write (default: the panel's); a chromosome without data gets an empty file.
    strand_consensus_max_flip : as for :func:`harmonize_gwas`, decided per input file (per chromosome
        file for GTEx). GTEx gives no effect-allele frequency, so this decides its palindromic variants.

    Returns
    -------
    The QC dict. Each Parquet has columns ``XQTL_COLUMNS`` sorted by position (then phenotype id), row
    groups of at most 1e6 rows; z, beta refer to the panel's counted allele.
    """
    from .io import xqtl as xio

    settings = _settings(palindromic, maf_palindromic_max, build_check_min_match, strand_consensus_max_flip)
    sheet_n = _sheet_n(n, path)
    declared = normalize_build(declared_build)
    pbuild = normalize_build(panel_build)
    gmap = read_gene_map(gene_map)
    index = PanelIndex.build(panel_variants)
    out_dir = Path(out_dir)
    want = [CODE_CHROM[normalize_chrom(c)] if normalize_chrom(c) > 0 else str(c) for c in chroms] \
        if chroms is not None else index.chrom_labels
    acc_all = _Acc()
    panel_hit = np.zeros(len(index), dtype=bool)
    parts: dict[str, list[pa.Table]] = {c: [] for c in want}
    dropped_total: dict[str, int] = {}
    flipped = swapped = pal = pal_strand = 0
    fin_warnings: list[str] = []
    if fmt == "gtex-parquet":
        xio.check_gtex_pattern(path)
        if sheet_n is None:
            raise HarmonizeError.at("sample size missing everywhere", file=path, column="n",
                                    found="no n in the sheet", expected="the xQTL sheet's n (GTEx files carry none)")
        missing = [c for c in want if not xio.gtex_file(path, c).is_file()]
        if missing:
            fin_warnings.append(f"no file for chromosome(s) {', '.join(missing)}: written empty")
        streams = [(c, xio.read_gtex_batches(path, c)) for c in want if c not in missing]
        extra_cols, extra_num = ["phenotype_id"], ["tss"]
    elif fmt == "eqtl-catalogue":
        streams = [(None, xio.read_eqtl_catalogue_batches(path, sheet_n=sheet_n))]
        extra_cols, extra_num = ["phenotype_id", "gene_id"], []
    else:
        raise HarmonizeError.at("unknown xQTL format", file=path, column="format", found=repr(fmt),
                                expected="gtex-parquet or eqtl-catalogue")
    for chrom, batches in streams:
        acc = _Acc()
        _consume(batches, index, acc, panel_hit, sheet_n=sheet_n, extra=extra_cols, extra_num=extra_num)
        _merge_acc(acc_all, acc)
        if chrom is not None and acc_all.dom_rows >= 10 * _BUILD_MIN_ROWS:
            # fail on a wrong build after the first chromosome rather than after all of them
            _build_check(acc_all, index, panel_hit, path=path, declared=declared, panel=pbuild,
                         min_match=settings.build_check_min_match, warnings=[])
        pheno = _cat_extra(acc, "phenotype_id")
        prank = _pheno_rank(pheno) if len(pheno) else np.zeros(0, dtype=np.int64)
        pidx = acc.cat("pidx", np.int64)
        nph = int(prank.max()) + 1 if len(prank) else 1
        fin = _finalize(acc, index, settings, dup_key=pidx * nph + prank)
        k = fin.keep
        if len(k):  # output order: position (panel order), then phenotype id
            o = np.lexsort((prank[k], pidx[k]))
            fin.keep, fin.pidx, fin.sign = k[o], fin.pidx[o], fin.sign[o]
        for r, c in fin.dropped.items():
            dropped_total[r] = dropped_total.get(r, 0) + c
        flipped += fin.flipped_strand
        swapped += fin.swapped
        pal += fin.palindromic_aligned
        pal_strand += fin.palindromic_by_strand
        fin_warnings += [w if chrom is None else f"chr{chrom}: {w}" for w in fin.warnings]
        tss = acc.cat("tss", np.float64) if extra_num else None
        given_gene = _cat_extra(acc, "gene_id") if "gene_id" in acc.extra_parts else None
        tab = _xqtl_table(acc, fin, index, pheno=pheno, tss=tss, tissue=tissue, qtl_type=qtl_type,
                          gene_map=gmap, given_gene=given_gene)
        if tab.num_rows:
            # file names use the canonical labels (1..22, X) whatever the panel calls its chromosomes
            codes = (index.keys[fin.pidx] >> 32).astype(np.int32)
            chrom_col = pa.DictionaryArray.from_arrays(
                pa.array(codes), pa.array([CODE_CHROM.get(c, str(c)) for c in range(_N_CODES)])).cast(pa.string())
            for c in pc.unique(chrom_col).to_pylist():
                piece = tab.filter(pc.equal(chrom_col, c))
                if c in parts:
                    parts[c].append(piece)
                else:
                    dropped_total["chrom_not_requested"] = dropped_total.get("chrom_not_requested", 0) + piece.num_rows
    if acc_all.n_input == 0:
        raise HarmonizeError.at("no data rows", file=path, expected="at least one xQTL association")
    if acc_all.fmax.max() < 0 and acc_all.counts[_R["chrom_not_in_panel"]] == acc_all.n_input:
        raise _no_overlap_error(path, acc_all, index)
    warnings: list[str] = []
    build = _build_check(acc_all, index, panel_hit, path=path, declared=declared, panel=pbuild,
                         min_match=settings.build_check_min_match, warnings=warnings)
    n_kept = 0
    pairs: set[str] = set()
    for c in want:
        ps = parts[c]
        if not ps:
            t = _empty_xqtl()
        elif len(ps) == 1:
            t = ps[0]
        else:
            t = pa.concat_tables(ps)
            t = t.take(pc.sort_indices(t, [("pos", "ascending"), ("phenotype_id", "ascending"),
                                           ("variant_id", "ascending")]))
        n_kept += t.num_rows
        if t.num_rows:
            pairs.update(pc.unique(t.column("pair_id")).to_pylist())
        write_parquet(t, out_dir / f"{c}.parquet", row_group_size=1_000_000)
    qc = {
        "input": str(path),
        "n_input": int(acc_all.n_input),
        "n_kept": int(n_kept),
        "dropped": dict(sorted(dropped_total.items())),
        "flipped_strand": int(flipped),
        "swapped_alleles": int(swapped),
        "palindromic_aligned": int(pal),
        "palindromic_kept_by_strand_consensus": int(pal_strand),
        "build": build,
        "warnings": fin_warnings + warnings,
        "format": fmt,
        "dataset": dataset,
        "tissue": tissue,
        "qtl_type": qtl_type,
        "n_pairs": len(pairs),
    }
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values()), qc
    write_json(qc, qc_out)
    return qc


def _cat_extra(acc: _Acc, name: str) -> pa.Array:
    parts = acc.extra_parts.get(name)
    if not parts:
        return pa.array([], pa.string())
    return pa.chunked_array(parts).combine_chunks()


def _merge_acc(total: _Acc, acc: _Acc) -> None:
    total.n_input += acc.n_input
    total.counts += acc.counts
    total.dom_rows += acc.dom_rows
    total.dom_match += acc.dom_match
    total.fmin = np.minimum(total.fmin, acc.fmin)
    total.fmax = np.maximum(total.fmax, acc.fmax)
    total.chroms_seen |= acc.chroms_seen
    if total.rsid_sampled < 200_000:
        total.rsid_sample += acc.rsid_sample
        total.rsid_sampled += acc.rsid_sampled


def read_harmonized_gwas(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a harmonized GWAS Parquet (convenience for tests and downstream stages)."""
    return pq.read_table(path, columns=list(columns) if columns else None).to_pandas()


__all__ = ["harmonize_gwas", "harmonize_xqtl", "PanelIndex", "match_to_panel", "allele_codes", "chrom_codes",
           "gene_id_of", "normalize_build", "REASONS", "GWAS_COLUMNS", "XQTL_COLUMNS"]
