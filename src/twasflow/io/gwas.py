"""Readers of GWAS summary statistics: GWAS-SSF, GWAS-VCF and any delimited table with a column map.

Every reader yields :class:`RawBatch` objects: the columns a harmonizer needs, under fixed role names,
as Arrow string arrays (chromosome, alleles, rsid) and float64 numpy arrays (NaN where missing), plus a
mask of values that were present but not numeric and the 1-based data-row number of each row. Readers
do no allele logic; they raise :class:`~twasflow.errors.HarmonizeError` only for file-level problems
(unreadable, empty, missing columns…). Row-level problems are left to the harmonizer to drop and count.

Text is parsed by pyarrow's multithreaded CSV reader over a (gzip) stream, in blocks, reading only the
columns that are mapped to a role.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import HarmonizeError
from .liftover import Chain

try:  # Intel ISA-L inflate, 2-3x faster than zlib; optional (zlib through pyarrow otherwise)
    from isal import igzip as _igzip
    from isal.isal_zlib import error as _IsalError
except ImportError:  # pragma: no cover - exercised by monkeypatching _igzip in the tests
    _igzip = None

    class _IsalError(Exception):  # type: ignore[no-redef]
        pass

#: Exceptions a truncated or corrupt gzip stream raises (zlib, ISA-L).
_DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, _IsalError)

#: Roles a reader can fill. String roles stay Arrow arrays; numeric roles become float64 numpy arrays.
STRING_ROLES = ("chrom", "ea", "oa", "rsid")
NUMERIC_ROLES = ("pos", "beta", "or", "se", "z", "p", "lp", "n", "eaf", "ac", "an", "tss")

#: Keys accepted in a ``table`` column map (``or`` = odds ratio, ``lp`` = -log10 p are extensions).
COLMAP_KEYS = ("chrom", "pos", "ea", "oa", "beta", "se", "z", "p", "n", "eaf", "rsid", "or", "lp")

#: Tokens read as missing in every column.
NULL_TOKENS = ["", "NA", "na", "N/A", "n/a", "NaN", "nan", "NAN", "#NA", "NULL", "null", "None", "none", "."]

#: GWAS-SSF column names → roles (first present wins for a role).
SSF_COLUMNS: dict[str, str] = {
    "chromosome": "chrom",
    "base_pair_location": "pos",
    "effect_allele": "ea",
    "other_allele": "oa",
    "beta": "beta",
    "odds_ratio": "or",
    "hazard_ratio": "or",
    "standard_error": "se",
    "z": "z",
    "zscore": "z",
    "p_value": "p",
    "neg_log_10_p_value": "lp",
    "n": "n",
    "effect_allele_frequency": "eaf",
    "rsid": "rsid",
}

DEFAULT_BLOCK_SIZE = 16 << 20  # bytes of decompressed text per parsed block; 16 MiB measured fastest


@dataclass
class RawBatch:
    """One block of input rows under role names.

    Attributes
    ----------
    strings : dict role -> pyarrow.Array of str (length R), nulls where missing.
    numbers : dict role -> float64 ndarray (R,), NaN where missing or not numeric.
    bad : dict role -> bool ndarray (R,), True where a value was present but not a number.
    row : int64 ndarray (R,), 1-based data-row numbers (header excluded).
    extra : dict name -> pyarrow.Array, format-specific columns (xQTL phenotype ids, …).
    flags : dict reason name -> bool ndarray (R,), rows a reader already knows are bad (e.g. a malformed
        GTEx variant id).
    """

    strings: dict[str, pa.Array]
    numbers: dict[str, np.ndarray]
    bad: dict[str, np.ndarray]
    row: np.ndarray
    extra: dict[str, pa.Array] = field(default_factory=dict)
    flags: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.row)

    def slice(self, start: int) -> "RawBatch":
        """Rows ``start:`` of this batch."""
        return RawBatch(
            strings={k: v.slice(start) for k, v in self.strings.items()},
            numbers={k: v[start:] for k, v in self.numbers.items()},
            bad={k: v[start:] for k, v in self.bad.items()},
            row=self.row[start:],
            extra={k: v.slice(start) for k, v in self.extra.items()},
            flags={k: v[start:] for k, v in self.flags.items()},
        )


@dataclass
class TextSource:
    """A sniffed delimited text file: where the header is, how it is delimited, which columns it has."""

    path: Path
    gzipped: bool
    delimiter: str | None  # None = runs of whitespace
    skip_rows: int  # '##' meta lines before the header
    columns: list[str]
    malformed: list[int] = field(default_factory=list)  # data rows with the wrong number of fields


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _head_text(path: Path, gzipped: bool, nbytes: int = 1 << 20) -> tuple[str, bool]:
    """The first ``nbytes`` of decompressed text and whether that is the whole file."""
    try:
        if gzipped:
            with gzip.open(path, "rb") as fh:
                raw = fh.read(nbytes + 1)
        else:
            with open(path, "rb") as fh:
                raw = fh.read(nbytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise HarmonizeError.at(
            "cannot decompress the file (truncated or corrupt gzip)", file=path, found=str(exc),
            expected="a complete gzip stream") from None
    complete = len(raw) <= nbytes
    text = raw[:nbytes].decode("utf-8", errors="replace")
    return text, complete


def sniff_text(path: str | Path, *, expect_delimiter: str | None = None) -> TextSource:
    """Check that ``path`` is a readable delimited table with a header and at least one data row.

    The delimiter is sniffed from the header line: tab, then comma, then whitespace. Raises
    :class:`HarmonizeError` for a missing, empty, header-only or single-column file and for duplicated
    column names.
    """
    path = Path(path)
    if not path.is_file():
        raise HarmonizeError.at("file does not exist", file=path, expected="a readable summary-statistics file")
    gzipped = _is_gzip(path)
    text, complete = _head_text(path, gzipped)
    lines = text.split("\n")
    if not complete:
        lines = lines[:-1]  # the last line of the head may be cut
    skip = 0
    while skip < len(lines) and (lines[skip].startswith("##") or not lines[skip].strip()):
        skip += 1
    if skip >= len(lines):
        raise HarmonizeError.at("empty file", file=path, found="no header line", expected="a header and data rows")
    header = lines[skip].rstrip("\r")
    data_lines = [ln for ln in lines[skip + 1:] if ln.strip()]
    if not data_lines and complete:
        raise HarmonizeError.at("header only, no data rows", file=path, found=f"header {header[:200]!r}",
                                expected="at least one data row")
    if header.startswith("#"):
        header = header.lstrip("#")
    if "\t" in header:
        delim: str | None = "\t"
    elif "," in header:
        delim = ","
    elif len(header.split()) > 1:
        delim = " " if re.fullmatch(r"\S+( \S+)+", header) else None
    else:
        raise HarmonizeError.at(
            "the header has a single column: delimiter not recognised", file=path,
            found=f"header {header[:200]!r}", expected="tab-, comma- or whitespace-delimited columns")
    columns = header.split() if delim is None else [c.strip().strip('"') for c in header.split(delim)]
    if expect_delimiter is not None and delim != expect_delimiter:
        raise HarmonizeError.at(
            "wrong delimiter", file=path, found=f"{_delim_name(delim)}-delimited header",
            expected=f"{_delim_name(expect_delimiter)}-delimited columns")
    dups = sorted({c for c in columns if columns.count(c) > 1})
    if dups:
        raise HarmonizeError.at("duplicated column names", file=path, column=dups[0],
                                found=f"columns {columns}", expected="unique column names")
    if data_lines:
        first = data_lines[0].rstrip("\r")
        nf = len(first.split()) if delim is None else len(first.split(delim))
        if nf != len(columns):
            raise HarmonizeError.at(
                "the first data row does not have as many fields as the header (wrong delimiter?)", file=path,
                row=1, found=f"{nf} fields in {first[:200]!r}",
                expected=f"{len(columns)} {_delim_name(delim)}-delimited fields")
    if delim == " ":
        # single spaces in the header do not guarantee single spaces in the data
        if any(re.search(r"  |^ | $", ln.rstrip("\r")) for ln in data_lines[:1000]):
            delim = None
    return TextSource(path=path, gzipped=gzipped, delimiter=delim, skip_rows=skip, columns=columns)


def _delim_name(d: str | None) -> str:
    return {"\t": "tab", ",": "comma", " ": "space", None: "whitespace"}[d]


def require_columns(src: TextSource, wanted: Mapping[str, str], what: str) -> None:
    """Raise naming the first absent column of ``wanted`` (role -> column) and listing what was found."""
    for role, col in wanted.items():
        if col not in src.columns:
            raise HarmonizeError.at(
                f"{what}: column for {role!r} is absent", file=src.path, column=col,
                found=f"columns {src.columns}", expected=f"a column named {col!r}")


def _numeric_from_strings(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Parse a string array as float64: (values with NaN where missing/bad, mask of bad values)."""
    s = pd.Series(arr.to_numpy(zero_copy_only=False), dtype=object)
    vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    present = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return vals, present & np.isnan(vals)


def _column_to_float(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_floating(arr.type):
        arr = arr.cast(pa.float64())
    return arr.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _as_string(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _open_stream(src: TextSource) -> pa.NativeFile:
    """The decompressed text of ``src``: ISA-L inflate when ``isal`` is installed, else pyarrow's zlib.

    The ISA-L path wraps a Python file object; the CSV reader pulls large blocks from it, and ISA-L
    releases the GIL while it inflates, so parsing and matching still overlap with decompression.
    """
    if src.gzipped and _igzip is not None:
        return pa.PythonFile(_igzip.open(src.path, "rb"), mode="r")
    return pa.input_stream(str(src.path), compression="gzip" if src.gzipped else None)


def _decompress_error(src: TextSource, exc: Exception) -> HarmonizeError:
    return HarmonizeError.at(
        "cannot read the file: truncated or corrupt compressed stream", file=src.path, found=str(exc),
        expected="a complete gzip stream")


def read_text_batches(
    src: TextSource,
    roles: Mapping[str, str],
    *,
    extra: Sequence[str] = (),
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> Iterator[RawBatch]:
    """Stream ``src`` in blocks, returning the columns mapped to ``roles`` (role -> column name).

    Numeric roles are parsed as float64 by pyarrow. If a block holds a value that is not a number, the
    file is re-read with those columns as text and every value is parsed on its own, so the harmonizer
    can drop and count such rows; a numeric column with no number at all is an error.
    """
    str_cols = {col for role, col in roles.items() if role in STRING_ROLES} | set(extra)
    num_cols = {col for role, col in roles.items() if role in NUMERIC_ROLES}
    yielded = 0
    try:
        for b in _read_text(src, roles, extra, str_cols, num_cols, slow=False, block_size=block_size):
            yielded += len(b)
            yield b
    except _SlowPath:
        # rows already handed out were parsed correctly; re-read the rest with per-value parsing
        for b in _read_text(src, roles, extra, str_cols, num_cols, slow=True, block_size=block_size):
            if b.row[-1] <= yielded:
                continue
            if b.row[0] <= yielded:
                b = b.slice(yielded - int(b.row[0]) + 1)
            yield b


class _SlowPath(Exception):
    pass


def _read_text(src, roles, extra, str_cols, num_cols, *, slow, block_size):  # noqa: ANN001, ANN202
    malformed: list[int] = []
    src.malformed = malformed

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(-1 if row.number is None else int(row.number))
        return "skip"

    usecols = sorted(str_cols | num_cols, key=src.columns.index)
    if src.delimiter is None:
        yield from _read_whitespace(src, roles, extra, usecols, str_cols, num_cols)
        return
    types = {c: pa.string() for c in str_cols}
    types.update({c: (pa.string() if slow else pa.float64()) for c in num_cols if c not in str_cols})
    # names come from the sniffed header (a leading '#' stripped), so the header line itself is skipped
    read_opts = pacsv.ReadOptions(block_size=block_size, skip_rows=src.skip_rows + 1, column_names=src.columns,
                                  use_threads=True)
    parse_opts = pacsv.ParseOptions(delimiter=src.delimiter, quote_char='"', invalid_row_handler=on_invalid)
    conv_opts = pacsv.ConvertOptions(column_types=types, include_columns=usecols, null_values=NULL_TOKENS,
                                     strings_can_be_null=True, quoted_strings_can_be_null=True)
    done = 0
    stream = None
    try:
        stream = _open_stream(src)
        reader = pacsv.open_csv(stream, read_options=read_opts, parse_options=parse_opts,
                                convert_options=conv_opts)
        while True:
            try:
                rb = reader.read_next_batch()
            except StopIteration:
                break
            if rb.num_rows == 0:
                continue
            batch = _to_raw(src, rb, roles, extra, num_cols, slow, done)
            done += rb.num_rows
            yield batch
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        if "conversion error" in msg and not slow:
            raise _SlowPath() from None
        if "empty" in msg.lower():
            raise HarmonizeError.at("empty file", file=src.path, found=msg, expected="a header and data rows") from None
        raise HarmonizeError.at("cannot parse the file", file=src.path, found=msg,
                                expected=f"{_delim_name(src.delimiter)}-delimited text") from None
    except _DECOMPRESS_ERRORS as exc:
        raise _decompress_error(src, exc) from None
    finally:
        if stream is not None:
            stream.close()


def _to_raw(src: TextSource, rb: pa.RecordBatch, roles, extra, num_cols, slow: bool, offset: int) -> RawBatch:  # noqa: ANN001
    n = rb.num_rows
    strings: dict[str, pa.Array] = {}
    numbers: dict[str, np.ndarray] = {}
    bad: dict[str, np.ndarray] = {}
    for role, col in roles.items():
        arr = rb.column(col)
        if role in STRING_ROLES:
            strings[role] = _as_string(arr)
        elif slow and pa.types.is_string(arr.type):
            vals, b = _numeric_from_strings(arr)
            present = int(n - arr.null_count)
            if present and int(b.sum()) == present:
                i = int(np.flatnonzero(b)[0])
                raise HarmonizeError.at(
                    "column is not numeric", file=src.path, column=col, row=offset + i + 1,
                    found=repr(arr[i].as_py()), expected="numbers")
            numbers[role], bad[role] = vals, b
        else:
            numbers[role] = _column_to_float(arr)
    row = np.arange(offset + 1, offset + n + 1, dtype=np.int64)
    ex = {c: _as_string(rb.column(c)) for c in extra}
    return RawBatch(strings=strings, numbers=numbers, bad=bad, row=row, extra=ex)


def _read_whitespace(src: TextSource, roles, extra, usecols, str_cols, num_cols):  # noqa: ANN001, ANN202
    """Whitespace-delimited text with runs of spaces: pandas' C parser in chunks (slower path)."""
    dtypes = {c: str for c in usecols}
    done = 0
    try:
        it = pd.read_csv(src.path, sep=r"\s+", skiprows=src.skip_rows + 1, header=None, names=src.columns,
                         usecols=usecols, dtype=dtypes,
                         na_values=NULL_TOKENS, keep_default_na=False, chunksize=1_000_000,
                         compression="gzip" if src.gzipped else None, engine="c")
        for chunk in it:
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            rb = table.combine_chunks().to_batches()[0] if table.num_rows else None
            if rb is None:
                continue
            batch = _to_raw(src, rb, roles, extra, num_cols, True, done)
            done += rb.num_rows
            yield batch
    except (OSError, EOFError, zlib.error) as exc:
        raise _decompress_error(src, exc) from None
    except (pd.errors.ParserError, ValueError) as exc:
        if isinstance(exc, HarmonizeError):
            raise
        raise HarmonizeError.at("cannot parse the file", file=src.path, found=str(exc),
                                expected="whitespace-delimited text") from None


# --------------------------------------------------------------------------------------------------
# Format front ends


def ssf_roles(src: TextSource) -> dict[str, str]:
    """Map the GWAS-SSF columns present in ``src`` to roles; raise if a required one is missing."""
    roles: dict[str, str] = {}
    lower = {c.lower(): c for c in src.columns}
    for name, role in SSF_COLUMNS.items():
        if name in lower and role not in roles:
            roles[role] = lower[name]
    rsid_only = "rsid" in roles and not ({"chrom", "pos"} & roles.keys())
    for role, name in (("chrom", "chromosome"), ("pos", "base_pair_location"), ("ea", "effect_allele"),
                       ("oa", "other_allele")):
        if role not in roles and not (rsid_only and role in ("chrom", "pos")):
            raise HarmonizeError.at("GWAS-SSF required column is missing", file=src.path, column=name,
                                    found=f"columns {src.columns}", expected=f"a column {name!r}")
    if not ({"beta", "or", "z"} & roles.keys()):
        raise HarmonizeError.at("GWAS-SSF effect column is missing", file=src.path, column="beta",
                                found=f"columns {src.columns}", expected="one of beta, odds_ratio, hazard_ratio, z")
    if not ({"se", "p", "lp", "z"} & roles.keys()):
        raise HarmonizeError.at("GWAS-SSF standard error / p-value column is missing", file=src.path,
                                column="standard_error", found=f"columns {src.columns}",
                                expected="standard_error or p_value or neg_log_10_p_value")
    return roles


def table_roles(src: TextSource, colmap: Mapping[str, str | None] | None) -> dict[str, str]:
    """Validate a ``table`` column map against the header of ``src``; return role -> column."""
    if not colmap:
        raise HarmonizeError.at("format 'table' needs a column map", file=src.path, column="colmap",
                                found="no column map", expected=f"a mapping with keys {list(COLMAP_KEYS)}")
    unknown = [k for k in colmap if k not in COLMAP_KEYS]
    if unknown:
        raise HarmonizeError.at("unknown column-map key", file=src.path, column=unknown[0],
                                found=f"keys {sorted(colmap)}", expected=f"keys among {list(COLMAP_KEYS)}")
    roles = {k: str(v) for k, v in colmap.items() if v is not None and not (isinstance(v, float) and np.isnan(v))
             and str(v).strip() != ""}
    required = ("ea", "oa") if "rsid" in roles and not ({"chrom", "pos"} & roles.keys()) else ("chrom", "pos", "ea", "oa")
    for k in required:
        if k not in roles:
            raise HarmonizeError.at("column map lacks a required key", file=src.path, column=k,
                                    found=f"keys {sorted(roles)}",
                                    expected="chrom, pos (or rsid alone), ea, oa and z or beta+se/p")
    if "z" not in roles and not ({"beta", "or"} & roles.keys() and {"se", "p", "lp"} & roles.keys()):
        raise HarmonizeError.at("column map gives no effect", file=src.path, column="z",
                                found=f"keys {sorted(roles)}", expected="z, or beta/or with se or p")
    used: dict[str, str] = {}
    for role, col in roles.items():
        if col in used:
            raise HarmonizeError.at("column map names one column for two keys", file=src.path, column=col,
                                    found=f"keys {used[col]!r} and {role!r}", expected="one key per column")
        used[col] = role
    require_columns(src, roles, "column map")
    return roles


def read_vcf_batches(path: str | Path, *, batch_rows: int = 500_000) -> Iterator[RawBatch]:
    """Stream a GWAS-VCF (IEU OpenGWAS): ALT = effect allele, FORMAT ES, SE, LP (-log10 p), AF, SS, ID.

    Only the first sample column is read. A multi-allelic record gives one row whose ``ea`` holds the
    comma-joined ALT alleles (dropped as ``multiallelic`` downstream). The file must be bgzipped and
    tabix- or csi-indexed.
    """
    import pysam

    path = Path(path)
    if not path.is_file():
        raise HarmonizeError.at("file does not exist", file=path, expected="a GWAS-VCF file")
    if not (Path(str(path) + ".tbi").is_file() or Path(str(path) + ".csi").is_file()):
        raise HarmonizeError.at("GWAS-VCF has no index", file=path, found=f"no {path.name}.tbi or .csi",
                                expected="a bgzipped VCF indexed with 'tabix -p vcf'")
    try:
        vf = pysam.VariantFile(str(path))
    except (OSError, ValueError) as exc:
        raise HarmonizeError.at("cannot open GWAS-VCF", file=path, found=str(exc), expected="a valid VCF") from None
    with vf:
        samples = list(vf.header.samples)
        if not samples:
            raise HarmonizeError.at("GWAS-VCF has no sample column", file=path, column="FORMAT",
                                    found="0 samples", expected="one sample column holding ES, SE, LP")
        fmt_keys = set(vf.header.formats.keys())
        for k in ("ES",):
            if k not in fmt_keys:
                raise HarmonizeError.at("GWAS-VCF FORMAT field missing", file=path, column=k,
                                        found=f"FORMAT fields {sorted(fmt_keys)}", expected="ES, SE, LP")
        if not ({"SE", "LP"} & fmt_keys):
            raise HarmonizeError.at("GWAS-VCF FORMAT field missing", file=path, column="SE",
                                    found=f"FORMAT fields {sorted(fmt_keys)}", expected="SE or LP")
        s0 = samples[0]
        cols: dict[str, list] = {k: [] for k in ("chrom", "ea", "oa", "rsid", "pos", "beta", "se", "lp", "eaf", "n")}
        done = 0

        def flush() -> RawBatch:
            nonlocal done
            m = len(cols["pos"])
            strings = {k: pa.array(cols[k], type=pa.string()) for k in ("chrom", "ea", "oa", "rsid")}
            numbers = {k: np.array(cols[k], dtype=np.float64) for k in ("pos", "beta", "se", "lp", "eaf", "n")}
            b = RawBatch(strings=strings, numbers=numbers, bad={}, row=np.arange(done + 1, done + m + 1, dtype=np.int64))
            done += m
            for v in cols.values():
                v.clear()
            return b

        def first(x):  # noqa: ANN001, ANN202
            if x is None:
                return np.nan
            if isinstance(x, tuple):
                x = x[0] if x else None
            return np.nan if x is None else float(x)

        try:
            for rec in vf.fetch():
                smp = rec.samples[s0]
                alts = rec.alts or ()
                cols["chrom"].append(rec.chrom)
                cols["pos"].append(rec.pos)
                cols["oa"].append(rec.ref)
                cols["ea"].append(",".join(alts) if alts else None)
                rid = smp.get("ID") if "ID" in fmt_keys else None
                if isinstance(rid, tuple):
                    rid = rid[0] if rid else None
                cols["rsid"].append(rid if rid is not None else rec.id)
                cols["beta"].append(first(smp.get("ES")))
                cols["se"].append(first(smp.get("SE")) if "SE" in fmt_keys else np.nan)
                cols["lp"].append(first(smp.get("LP")) if "LP" in fmt_keys else np.nan)
                cols["eaf"].append(first(smp.get("AF")) if "AF" in fmt_keys else np.nan)
                cols["n"].append(first(smp.get("SS")) if "SS" in fmt_keys else np.nan)
                if len(cols["pos"]) >= batch_rows:
                    yield flush()
        except (OSError, ValueError) as exc:
            raise HarmonizeError.at("cannot read GWAS-VCF record", file=path, row=done + len(cols["pos"]) + 1,
                                    found=str(exc), expected="valid VCF records") from None
        if cols["pos"] or done == 0:
            yield flush()


def read_gwas_batches(
    path: str | Path, *, fmt: str, colmap: Mapping[str, str | None] | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[Iterator[RawBatch], dict[str, str], TextSource | None]:
    """Open a GWAS file of format ``fmt``; return (batches, role -> column, text source or None for VCF)."""
    if fmt == "gwas-vcf":
        roles = {k: k for k in ("chrom", "pos", "ea", "oa", "rsid", "beta", "se", "lp", "eaf", "n")}
        return read_vcf_batches(path), roles, None
    if fmt == "gwas-ssf":
        src = sniff_text(path)
        roles = ssf_roles(src)
    elif fmt == "table":
        src = sniff_text(path)
        roles = table_roles(src, colmap)
    elif fmt == "cojo":
        src = sniff_text(path)
        roles = cojo_roles(src)
    else:
        raise HarmonizeError.at("unknown GWAS format", file=path, column="format", found=repr(fmt),
                                expected="gwas-ssf, gwas-vcf, cojo or table")
    # rsids are not parsed in the main pass (only the build check's diagnosis reads them, read_rsid_head),
    # unless they are the file's only variant key
    main = {k: v for k, v in roles.items() if k != "rsid" or rsid_only(roles)}
    return read_text_batches(src, main, block_size=block_size), roles, src


#: COJO ``.ma`` columns (GCTA): SNP A1 A2 freq b se p N, A1 = effect allele, ``freq`` its frequency.
COJO_COLUMNS = {"snp": "rsid", "a1": "ea", "a2": "oa", "freq": "eaf", "b": "beta", "se": "se", "p": "p", "n": "n"}


def cojo_roles(src: TextSource) -> dict[str, str]:
    """Map the columns of a GCTA-COJO ``.ma`` file (``SNP A1 A2 freq b se p N``; any case) to roles."""
    lower = {c.lower(): c for c in src.columns}
    missing = [c for c in COJO_COLUMNS if c not in lower]
    if missing:
        raise HarmonizeError.at("COJO .ma column is missing", file=src.path, column=missing[0],
                                found=f"columns {src.columns}", expected="SNP A1 A2 freq b se p N")
    return {role: lower[c] for c, role in COJO_COLUMNS.items()}


def rsid_only(roles: Mapping[str, str]) -> bool:
    """True when a file's variants are keyed by rsID alone (no chromosome/position columns)."""
    return "rsid" in roles and "pos" not in roles and "chrom" not in roles


class RsidPositions:
    """rsID → (chromosome, position) for rsID-only GWAS files: from the panel or from a user's table.

    ``source`` says which, for the QC. The first row of a repeated rsID wins (a multi-allelic panel site
    lists one rsID per allele pair at one position; matching then goes by alleles).
    """

    def __init__(self, rsid: np.ndarray | pa.Array, chrom: np.ndarray, pos: np.ndarray, source: str) -> None:
        from .plink import StringColumn

        ids = rsid if isinstance(rsid, pa.Array) else pa.array(np.asarray(rsid, dtype=object), type=pa.string(),
                                                                 from_pandas=True)
        ok = np.asarray(pc.fill_null(pc.not_equal(ids, "."), False).to_numpy(zero_copy_only=False), dtype=bool)
        self.ids = StringColumn.from_arrow(pc.fill_null(ids, ""))
        # rsIDs hashed once (vectorised, no Python strings); lookups binary-search the sorted hashes and then
        # compare the bytes, so a hash collision can never give a wrong position
        h = self.ids.hashes()
        order = np.flatnonzero(ok)[np.argsort(h[ok], kind="stable")]
        hs = h[order]
        first = np.ones(len(hs), dtype=bool)
        first[1:] = hs[1:] != hs[:-1]  # repeated rsID: the first row (in panel order) wins
        self._rows, self._h = order[first], hs[first]
        self.chrom = pa.array(np.asarray(chrom, dtype=object), type=pa.string(), from_pandas=True)
        self.pos = np.asarray(pos, dtype=np.float64)
        self.source = source

    @classmethod
    def from_panel(cls, panel_variants: pd.DataFrame | pa.Table) -> "RsidPositions":
        t = panel_variants if isinstance(panel_variants, pd.DataFrame) else panel_variants.to_pandas()
        return cls(t["rsid"].to_numpy(object), t["chrom"].astype(str).to_numpy(object), t["pos"].to_numpy(),
                   "panel")

    @classmethod
    def from_table(cls, path: str | Path) -> "RsidPositions":
        """Read a delimited rsID map with a header: rsid (or snp, id), chrom (chr, chromosome), pos (bp, position)."""
        src = sniff_text(path)
        lower = {c.lower(): c for c in src.columns}
        cols = {}
        for role, names in (("rsid", ("rsid", "snp", "id", "rs")), ("chrom", ("chrom", "chr", "chromosome", "#chrom")),
                            ("pos", ("pos", "bp", "position", "base_pair_location"))):
            hit = next((lower[n] for n in names if n in lower), None)
            if hit is None:
                raise HarmonizeError.at("rsID map: column missing", file=path, column=role,
                                        found=f"columns {src.columns}", expected="rsid, chrom, pos")
            cols[role] = hit
        parts = list(read_text_batches(src, cols))
        rs = pa.concat_arrays([b.strings["rsid"] for b in parts])
        ch = np.concatenate([b.strings["chrom"].to_numpy(zero_copy_only=False) for b in parts])
        pos = np.concatenate([b.numbers["pos"] for b in parts])
        return cls(rs, ch, pos, str(path))

    def lookup(self, rsid: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        """(chromosome strings (R,), positions float64 (R,), found (R,)) of ``rsid`` (R,); null/NaN where absent."""
        from .plink import StringColumn

        q = StringColumn.from_arrow(pc.fill_null(rsid, ""))
        h = q.hashes()
        i = np.minimum(np.searchsorted(self._h, h), max(len(self._h) - 1, 0))
        found = np.zeros(len(h), dtype=bool)
        if len(self._h):
            cand = np.flatnonzero(self._h[i] == h)
            found[cand] = q.equal_at(cand, self.ids, self._rows[i[cand]])
        found &= ~np.asarray(rsid.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if not found.any():
            return pa.nulls(len(h), pa.string()), np.full(len(h), np.nan), found
        r = np.where(found, self._rows[i], 0)
        chrom = pc.if_else(pa.array(found), self.chrom.take(pa.array(r)), pa.scalar(None, pa.string()))
        return chrom, np.where(found, self.pos[r], np.nan), found


_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "a": "t", "c": "g", "g": "c", "t": "a"}


def _complement(arr: pa.Array, rows: np.ndarray) -> pa.Array:
    """``arr`` with the alleles at ``rows`` complemented (non-bases unchanged)."""
    if not len(rows):
        return arr
    mask = np.zeros(len(arr), dtype=bool)
    mask[rows] = True
    vals = arr.take(pa.array(rows)).to_pylist()
    new = [None if v is None else "".join(_COMPLEMENT.get(ch, ch) for ch in v) for v in vals]
    return pc.replace_with_mask(arr, pa.array(mask), pa.array(new, type=pa.string()))


def adapt_batches(batches: Iterator[RawBatch], roles: Mapping[str, str], *, positions: "RsidPositions | None" = None,
                  chain: "Chain | None" = None, info: dict | None = None) -> Iterator[RawBatch]:
    """Fill in or lift the positions of a GWAS stream before row QC; count what happened in ``info``.

    ``positions``: rows are keyed by rsID only: chromosome and position come from this map (an rsID not in
    it is flagged ``rsid_not_found``). ``chain``: positions are lifted with this chain (flags
    ``liftover_unmapped`` / ``liftover_ambiguous``; alleles on a reverse-strand block are complemented).
    ``info`` gets ``rsid_positions`` and/or ``liftover`` counters (for the QC JSON).
    """
    info = {} if info is None else info
    n_rows = 0
    if positions is not None:
        rinfo = info.setdefault("rsid_positions", {"source": positions.source, "n_resolved": 0, "n_not_found": 0})
    if chain is not None:
        linfo = info.setdefault("liftover", {"chain": str(chain.path), "n_lifted": 0, "reverse_strand": 0,
                                             "other_chromosome": 0, "liftover_unmapped": 0, "liftover_ambiguous": 0})
    for b in batches:
        if positions is not None:
            rs = b.strings["rsid"]
            chrom, pos, found = positions.lookup(rs)
            present = ~np.asarray(rs.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            b.strings["chrom"] = chrom
            b.numbers["pos"] = pos
            b.flags["rsid_not_found"] = present & ~found
            rinfo["n_resolved"] += int(found.sum())
            rinfo["n_not_found"] += int((present & ~found).sum())
        if chain is not None:
            posf = b.numbers["pos"]
            chrom = b.strings["chrom"].to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                ok = np.isfinite(posf) & (posf >= 1) & pd.notna(chrom)
            rows = np.flatnonzero(ok)
            res = chain.lift(chrom[rows], posf[rows].astype(np.int64))
            newpos = posf.copy()
            lifted = res.reason == ""
            newpos[rows[lifted]] = res.pos[lifted]
            newchrom = chrom.astype(object).copy()
            newchrom[rows[lifted]] = res.chrom[lifted]
            before = pd.Series(chrom[rows], dtype=object).astype(str).str.replace(r"^chr", "", regex=True).str.upper()
            moved = lifted & (before.to_numpy(object) != res.chrom.astype(str))
            b.numbers["pos"] = newpos
            b.strings["chrom"] = pa.array(newchrom, type=pa.string())
            rev = rows[lifted & res.reverse]
            for role in ("ea", "oa"):
                if role in b.strings:
                    b.strings[role] = _complement(b.strings[role], rev)
            for reason in ("liftover_unmapped", "liftover_ambiguous"):
                m = np.zeros(len(b), dtype=bool)
                m[rows[res.reason == reason]] = True
                b.flags[reason] = m
                linfo[reason] += int(m.sum())
            linfo["n_lifted"] += int(lifted.sum())
            linfo["reverse_strand"] += int(len(rev))
            linfo["other_chromosome"] += int(moved.sum())
        n_rows += len(b)
        yield b
    # a wrong map or chain drops every row: say so instead of a run that keeps nothing
    if positions is not None and n_rows and rinfo["n_resolved"] == 0:
        raise HarmonizeError.at("no rsID of the file is known", column="rsid", found=f"0 of {n_rows} rsIDs in the "
                                f"{'panel' if positions.source == 'panel' else 'rsID map ' + positions.source}",
                                expected="rsIDs (rs...) matching the panel's or the rsid_map's")
    if chain is not None and n_rows and linfo["n_lifted"] == 0:
        raise HarmonizeError.at("no variant lifts over with the chain file", file=chain.path,
                                found=f"0 of {n_rows} rows lifted ({linfo['liftover_unmapped']} unmapped)",
                                expected="a chain from the file's build and chromosome names to the panel's")


def read_rsid_head(src: TextSource, roles: Mapping[str, str], max_rows: int = 200_000) -> list[RawBatch]:
    """The chromosome, position and rsid of the first ``max_rows`` rows (for the build-check diagnosis)."""
    if "rsid" not in roles or rsid_only(roles):
        return []
    sub = {k: roles[k] for k in ("chrom", "pos", "rsid")}
    out: list[RawBatch] = []
    n = 0
    for b in read_text_batches(src, sub, block_size=4 << 20):
        out.append(b)
        n += len(b)
        if n >= max_rows:
            break
    return out


__all__ = [
    "RawBatch", "TextSource", "sniff_text", "read_text_batches", "read_gwas_batches", "read_vcf_batches",
    "ssf_roles", "table_roles", "cojo_roles", "require_columns", "read_rsid_head", "COLMAP_KEYS", "NULL_TOKENS",
    "RsidPositions", "adapt_batches", "rsid_only",
]
