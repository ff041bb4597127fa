"""PLINK 1 binary fileset reader (``.bed`` / ``.bim`` / ``.fam``).

The ``.bed`` is memory-mapped and only the requested variant rows are decoded, through 256-entry lookup
tables (one byte holds four people). Genotype codes in a ``.bed`` (2 bits per person, first person in the
lowest bits): ``00`` = two copies of A1 (bim column 5), ``01`` = missing, ``10`` = heterozygous,
``11`` = two copies of A2 (bim column 6).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from twasflow.errors import PanelError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

# pandas is imported inside the functions that return DataFrames: `twasflow clump`/`ld` start-up time
# counts against plink1.9's, and the arrow/numpy readers below do not need it.

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


def norm_chrom(values: "pd.Series") -> "pd.Series":
    """Strip a ``chr`` prefix (any case) and map PLINK numeric codes 23/24/25/26 to X/Y/XY/MT."""
    import pandas as pd

    values = pd.Series(values).astype(str)
    uniq = pd.unique(values)  # few distinct chromosomes: map them, not every row
    return values.map({u: _norm_one(u) for u in uniq}).astype(object)


def read_bim(prefix: str | os.PathLike[str]) -> "pd.DataFrame":
    """Read a ``.bim`` file.

    Returns
    -------
    DataFrame with columns ``chrom`` (str, ``chr`` stripped), ``id``, ``cm`` (float), ``pos`` (int64),
    ``a1``, ``a2`` (str), one row per variant in file order.
    """
    import pandas as pd

    path = _prefix_path(prefix, ".bim")
    if not path.is_file():
        raise PanelError.at("PLINK .bim file not found", file=path)
    tb = _read_bim_arrow(path, BIM_COLUMNS)
    if tb is None:
        return _read_bim_pandas(path)
    df = pd.DataFrame({c: (tb.column(c).to_numpy(zero_copy_only=False) if c not in ("cm", "pos")
                           else tb.column(c).to_numpy()) for c in BIM_COLUMNS})
    df["chrom"] = norm_chrom(df["chrom"])
    return df


def _bim_parse_error(path: Path, exc: Exception) -> PanelError:
    """The first .bim row (1-based, blank lines not counted) that does not parse, named with its column."""
    with open(path) as fh:
        rows = (ln.split() for ln in fh)
        for i, tok in enumerate((t for t in rows if t), start=1):
            if len(tok) != 6:
                return PanelError.at("wrong number of fields in .bim", file=path, row=i, found=f"{len(tok)} fields",
                                     expected="6 columns: chrom id cm pos A1 A2")
            for col, j, conv, what in (("cm", 2, float, "a number (centimorgans)"),
                                       ("pos", 3, int, "an integer base-pair position")):
                try:
                    conv(tok[j])
                except ValueError:
                    return PanelError.at("not a number in .bim", file=path, column=col, row=i, found=repr(tok[j]),
                                         expected=what)
    return PanelError.at("cannot parse .bim", file=path, found=str(exc).splitlines()[0],
                         expected="6 whitespace-separated columns: chrom id cm pos A1 A2")


def _read_bim_pandas(path: Path) -> "pd.DataFrame":
    """Whitespace-delimited .bim through pandas (any spacing); errors name the file and row."""
    import pandas as pd

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
        raise _bim_parse_error(path, e) from None
    # with keep_default_na=False a short row reads its absent string fields as "" rather than NaN
    short = (df.isna().any(axis=1) | (df[["chrom", "id", "a1", "a2"]] == "").any(axis=1)).to_numpy()
    if short.any():
        bad = int(np.flatnonzero(short)[0]) + 1
        raise PanelError.at("missing field in .bim", file=path, row=bad, expected="6 columns")
    df["chrom"] = norm_chrom(df["chrom"])
    return df


def splits_like_whitespace(data: bytes, delim: bytes) -> bool:
    """True when cutting every line of ``data`` at each ``delim`` byte gives exactly the fields that
    splitting on runs of whitespace gives (what PLINK and pandas ``sep=r"\\s+"`` do).

    That holds when no other whitespace byte occurs (space/tab, ``\\r``, ``\\v``, ``\\f``), no two bytes
    <= 0x20 are adjacent (no empty field, no blank line) and the text does not start with one. Lets a
    single-delimiter C++ CSV reader stand in for a whitespace tokenizer: a few memchr scans and three numpy
    passes (~20 ms for 20 MB).
    """
    if not data:
        return False
    for other in (b" ", b"\t", b"\r", b"\x0b", b"\x0c"):
        if other != delim and other in data:
            return False
    ws = np.frombuffer(data, dtype=np.uint8) <= 0x20
    return not (ws[0] or bool(np.any(ws[1:] & ws[:-1])))


def _arrow_csv(data: bytes, delim: str, names: list[str], types: dict[str, Any], *,
               skip_rows: int = 0, include: list[str] | None = None, null_values: list[str] | None = None) -> Any:
    """Parse ``data`` with pyarrow's multithreaded CSV reader (no quoting, no type inference for the
    columns in ``types``); None when it cannot (ragged rows, a value that does not convert)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        return pcsv.read_csv(
            pa.BufferReader(data),
            read_options=pcsv.ReadOptions(column_names=names, skip_rows=skip_rows),
            parse_options=pcsv.ParseOptions(delimiter=delim, quote_char=False),
            convert_options=pcsv.ConvertOptions(
                column_types=types, include_columns=include or [], strings_can_be_null=False,
                null_values=null_values if null_values is not None else [], quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, ValueError):
        return None


_BIM_TYPES = {"chrom": "string", "id": "string", "cm": "float64", "pos": "int64", "a1": "string", "a2": "string"}


def _read_bim_arrow(path: Path, columns: list[str]) -> Any:
    """Tab- or space-delimited .bim with uniform single delimiters (what PLINK writes) as a pyarrow Table
    of ``columns``; None to fall back to the pandas whitespace reader."""
    import pyarrow as pa

    data = path.read_bytes()
    first = data[:data.find(b"\n")]
    delim = b"\t" if b"\t" in first else b" "
    if not splits_like_whitespace(data, delim):
        return None
    types = {c: pa.type_for_alias(_BIM_TYPES[c]) for c in columns}
    tb = _arrow_csv(data, delim.decode(), BIM_COLUMNS, types, include=columns)
    if tb is None or any(tb.column(c).null_count for c in columns):
        return None
    return tb


def arrow_to_numpy(col: Any, fill: float | None = None) -> np.ndarray:
    """A pyarrow integer/float Array or ChunkedArray as a numpy array, read from the data buffers.

    Nulls are an error unless ``fill`` is given (then they take that value). pyarrow's own ``to_numpy``
    and ``fill_null`` initialise its pandas bridge (import pandas, ~0.4 s CPU) on first use.
    """
    chunks = col.chunks if hasattr(col, "chunks") else [col]
    dtype = np.dtype(col.type.to_pandas_dtype())
    parts = []
    for c in chunks:
        if not len(c):
            continue
        v = np.frombuffer(c.buffers()[1], dtype=dtype, count=len(c), offset=c.offset * dtype.itemsize)
        if c.null_count:
            if fill is None:
                raise ValueError("arrow_to_numpy: array has nulls")
            valid = np.unpackbits(np.frombuffer(c.buffers()[0], dtype=np.uint8), bitorder="little")
            v = np.where(valid[c.offset:c.offset + len(c)].astype(bool), v, fill)
        parts.append(v)
    if not parts:
        return np.zeros(0, dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


_BYTE_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_H1 = np.uint64(0x9E3779B97F4A7C15)
_H2 = np.uint64(0xBF58476D1CE4E5B9)
_H3 = np.uint64(0x94D049BB133111EB)


class StringColumn:
    """Variable-length UTF-8 strings as one byte buffer plus offsets: string i is
    ``data[offsets[i]:offsets[i + 1]]``. Hashing, exact comparison and lengths are vectorised numpy over
    8-byte words, so a million ids need neither Python ``str`` objects, pandas nor ``pyarrow.compute``
    (whose import alone costs ~0.1 s CPU).

    ``offsets`` int64 (M + 1,), ``data`` uint8.
    """

    def __init__(self, offsets: np.ndarray, data: np.ndarray) -> None:
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.data = np.asarray(data, dtype=np.uint8)
        self._words: np.ndarray | None = None

    @classmethod
    def from_arrow(cls, arr: Any) -> "StringColumn":
        """From a pyarrow (large_)string Array or ChunkedArray (zero copy for one chunk)."""
        if hasattr(arr, "chunks"):
            arr = arr.combine_chunks()
        n = len(arr)
        bufs = arr.buffers()
        if arr.null_count:
            raise ValueError("StringColumn.from_arrow: array has nulls")
        odt = np.int64 if str(arr.type) in ("large_string", "large_utf8") else np.int32
        offsets = np.frombuffer(bufs[1], dtype=odt, count=n + 1, offset=arr.offset * np.dtype(odt).itemsize) \
            if n else np.zeros(1, dtype=odt)
        data = np.frombuffer(bufs[2], dtype=np.uint8) if n and bufs[2] is not None else np.zeros(0, np.uint8)
        return cls(offsets, data)

    @classmethod
    def from_strings(cls, values: Any) -> "StringColumn":
        """From Python strings (any sequence or object array)."""
        enc = [str(v).encode() for v in values]
        lens = np.fromiter(map(len, enc), dtype=np.int64, count=len(enc))
        return cls(np.concatenate([[0], np.cumsum(lens)]), np.frombuffer(b"".join(enc), dtype=np.uint8))

    @classmethod
    def concat(cls, cols: "Sequence[StringColumn]") -> "StringColumn":
        offs, datas, base = [np.zeros(1, dtype=np.int64)], [], 0
        for c in cols:
            o = c.offsets
            offs.append(o[1:] - o[0] + base)
            datas.append(c.data[o[0]:o[-1]])
            base += int(o[-1] - o[0])
        return cls(np.concatenate(offs), np.concatenate(datas) if datas else np.zeros(0, np.uint8))

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def lengths(self) -> np.ndarray:
        """Byte lengths (M,)."""
        return np.diff(self.offsets)

    def char_lengths(self) -> np.ndarray:
        """Lengths in characters (M,): bytes that are not UTF-8 continuation bytes."""
        d = self.data[self.offsets[0]:self.offsets[-1]]
        if not np.any(d >= 0x80):  # ASCII
            return self.lengths()
        cont = np.concatenate([[0], np.cumsum((self.data & 0xC0) == 0x80, dtype=np.int64)])
        return self.lengths() - (cont[self.offsets[1:]] - cont[self.offsets[:-1]])

    def strings(self, rows: np.ndarray) -> list[str]:
        """The strings at ``rows`` as Python ``str``."""
        blob = self.data.tobytes()
        o = self.offsets
        return [blob[o[r]:o[r + 1]].decode() for r in np.asarray(rows, dtype=np.int64).tolist()]

    def _word_view(self) -> np.ndarray:
        # 8-byte little-endian words starting at every byte (unaligned view over a zero-padded copy)
        if self._words is None:
            buf = np.zeros(self.data.size + 8, dtype=np.uint8)
            buf[:self.data.size] = self.data
            self._words = np.ndarray((buf.size - 7,), dtype="<u8", buffer=buf, strides=(1,))
        return self._words

    def hashes(self) -> np.ndarray:
        """64-bit hashes (M,) of the byte strings (length and every byte mixed in, 8 bytes per step)."""
        L = self.lengths()
        start = self.offsets[:-1]
        words = self._word_view()
        h = L.astype(np.uint64) * _H1
        act = np.flatnonzero(L > 0)
        k = 0
        while act.size:
            rem = L[act] - 8 * k
            w = words[start[act] + 8 * k] & _BYTE_MASKS[np.minimum(rem, 8)]
            x = (h[act] ^ w) * _H2
            h[act] = x ^ (x >> np.uint64(31))
            act = act[rem > 8]
            k += 1
        h ^= h >> np.uint64(30)
        h *= _H3
        return h ^ (h >> np.uint64(27))

    def equal_at(self, rows: np.ndarray, other: "StringColumn", other_rows: np.ndarray) -> np.ndarray:
        """Exact byte equality (k,) of ``self[rows[i]]`` and ``other[other_rows[i]]``."""
        rows = np.asarray(rows, dtype=np.int64)
        other_rows = np.asarray(other_rows, dtype=np.int64)
        La = self.lengths()[rows]
        eq = La == other.lengths()[other_rows]
        wa, wb = self._word_view(), other._word_view()
        sa, sb = self.offsets[rows], other.offsets[other_rows]
        act = np.flatnonzero(eq & (La > 0))
        k = 0
        while act.size:
            rem = La[act] - 8 * k
            m = _BYTE_MASKS[np.minimum(rem, 8)]
            bad = (wa[sa[act] + 8 * k] & m) != (wb[sb[act] + 8 * k] & m)
            eq[act[bad]] = False
            act = act[~bad & (rem > 8)]
            k += 1
        return eq

    def equals(self, other: "StringColumn") -> bool:
        """Same strings in the same order."""
        if len(self) != len(other) or not np.array_equal(self.lengths(), other.lengths()):
            return False
        return bool(np.array_equal(self.data[self.offsets[0]:self.offsets[-1]],
                                   other.data[other.offsets[0]:other.offsets[-1]]))


@dataclass(frozen=True)
class BimColumns:
    """The ``.bim`` columns PLINK's ``--clump`` needs, without pandas.

    ``chrom_code`` int64 (M,) indexes ``chrom_names`` (normalised as :func:`norm_chrom`, distinct, in order of
    first appearance); ``ids`` a :class:`StringColumn` (M,); ``pos`` int64 (M,).
    """

    chrom_names: list[str]
    chrom_code: np.ndarray
    ids: StringColumn
    pos: np.ndarray

    def __len__(self) -> int:
        return int(self.pos.shape[0])


def read_bim_columns(prefix: str | os.PathLike[str]) -> BimColumns:
    """Chromosome, id and position of every ``.bim`` row (file order), parsed by pyarrow's C++ reader.

    Falls back to :func:`read_bim` (pandas, any whitespace) for files that are not uniformly single-tab or
    single-space delimited; errors are :func:`read_bim`'s.
    """
    path = _prefix_path(prefix, ".bim")
    if not path.is_file():
        raise PanelError.at("PLINK .bim file not found", file=path)
    tb = _read_bim_arrow(path, ["chrom", "id", "pos"])
    if tb is None:
        df = _read_bim_pandas(path)
        chrom = StringColumn.from_strings(df["chrom"].to_numpy(dtype=object))
        ids = StringColumn.from_strings(df["id"].to_numpy(dtype=object))
        pos = df["pos"].to_numpy(dtype=np.int64)
    else:
        chrom = StringColumn.from_arrow(tb.column("chrom"))
        ids = StringColumn.from_arrow(tb.column("id"))
        pos = arrow_to_numpy(tb.column("pos")).astype(np.int64, copy=False)
    code, names = _chrom_runs(chrom)
    return BimColumns(chrom_names=names, chrom_code=code, ids=ids, pos=pos)


def _chrom_runs(chrom: StringColumn) -> tuple[np.ndarray, list[str]]:
    """Codes (M,) and normalised names of a chromosome column: runs of equal neighbours are found on the raw
    bytes (vectorised), then only the run heads are turned into Python strings."""
    M = len(chrom)
    if M == 0:
        return np.zeros(0, dtype=np.int64), []
    L = chrom.lengths()
    if L.max() <= 8:  # the usual case: the string's bytes and its length are an exact key
        key = chrom._word_view()[chrom.offsets[:-1]] & _BYTE_MASKS[L]
        change = (key[1:] != key[:-1]) | (L[1:] != L[:-1])
    else:
        change = ~chrom.equal_at(np.arange(1, M), chrom, np.arange(M - 1))
    heads = np.concatenate([[0], np.flatnonzero(change) + 1])
    run_len = np.diff(np.concatenate([heads, [M]]))
    raw = [_norm_one(c) for c in chrom.strings(heads)]
    # "chr1" and "1" normalise to the same name: one code per normalised name
    names = list(dict.fromkeys(raw))
    code_of = {c: i for i, c in enumerate(names)}
    return np.repeat(np.array([code_of[c] for c in raw], dtype=np.int64), run_len), names


def read_fam(prefix: str | os.PathLike[str]) -> "pd.DataFrame":
    """Read a ``.fam`` file: columns ``fid, iid, father, mother, sex, pheno`` (all str), file order."""
    import pandas as pd

    rows = read_fam_rows(prefix)
    return pd.DataFrame(rows, columns=FAM_COLUMNS, dtype=object) if rows else pd.DataFrame(
        {c: pd.Series(dtype=object) for c in FAM_COLUMNS})


def read_fam_rows(prefix: str | os.PathLike[str]) -> list[list[str]]:
    """The ``.fam`` as lists of its six whitespace-separated fields (blank lines skipped), file order.

    Raises :class:`PanelError` naming the file and the 1-based row for a row with more or fewer fields.
    """
    path = _prefix_path(prefix, ".fam")
    if not path.is_file():
        raise PanelError.at("PLINK .fam file not found", file=path)
    rows = []
    with open(path) as fh:
        for line in fh:
            tok = line.split()
            if not tok:
                continue
            if len(tok) > 6:
                raise PanelError.at("cannot parse .fam", file=path, row=len(rows) + 1,
                                    found=f"{len(tok)} fields", expected="6 whitespace-separated columns")
            if len(tok) < 6:
                raise PanelError.at("missing field in .fam", file=path, row=len(rows) + 1,
                                    found=f"{len(tok)} fields", expected="6 columns")
            rows.append(tok)
    return rows


def founder_mask(fam: "pd.DataFrame | list[list[str]]") -> np.ndarray:
    """People with both parents unknown (``0``) in the ``.fam``: PLINK's founders. Shape (N,) bool.

    ``fam`` is :func:`read_fam`'s DataFrame or :func:`read_fam_rows`' lists.
    """
    if isinstance(fam, list):
        return np.array([r[2] == "0" and r[3] == "0" for r in fam], dtype=bool)
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
