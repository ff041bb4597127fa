"""``twasflow clump``: PLINK 1.9 ``--clump`` on a PLINK fileset (reads .bim/.fam/.bed and association files,
writes ``.clumped`` and ``.log``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from twasflow.errors import ClumpError
from twasflow.io.tables import write_text

from .core import bp_radius, build_entries, clump_plink
from .em import R2Method
from .plink_text import format_clumped, plink_maxsnp


def read_assoc(
    path: str | os.PathLike[str],
    snp_field: str | Sequence[str] = "SNP",
    field: str | Sequence[str] = "P",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read the id and p columns of a whitespace-delimited association file (gzip allowed).

    ``snp_field``/``field`` may list several names in order of preference (as PLINK). Returns
    ``(ids, p, line)``: ids as a numpy object array; p is NaN where not numeric (``NA``); ``line`` is the
    1-based data row. Rows with too few fields are skipped, as PLINK does.
    """
    ids, p, line = _read_assoc_any(path, snp_field, field)
    if not isinstance(ids, np.ndarray):
        ids = np.array(ids.strings(np.arange(len(ids))), dtype=object)
    return ids, p, line


_NA_P = ["NA", "nan", "NaN", "-nan", "."]


def _read_assoc_any(
    path: str | os.PathLike[str],
    snp_field: str | Sequence[str] = "SNP",
    field: str | Sequence[str] = "P",
) -> tuple[Any, np.ndarray, np.ndarray]:
    """:func:`read_assoc`, with the ids as a ``StringColumn`` when the fast reader applies.

    Fast path: a file whose fields are separated by exactly one space or one tab (what most tools write)
    is parsed by pyarrow's multithreaded C++ reader (correctly rounded doubles, as strtod). Anything else
    (aligned columns, ragged rows, unusual p text) goes through the pandas/Python reader, same results.
    """
    path = Path(path)
    if not path.is_file():
        raise ClumpError.at("association file not found", file=path)
    snp_names = [snp_field] if isinstance(snp_field, str) else list(snp_field)
    p_names = [field] if isinstance(field, str) else list(field)
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    if gz:
        import gzip

        with gzip.open(path, "rb") as fh:
            data = fh.read()
    else:
        data = path.read_bytes()
    nl = data.find(b"\n")
    header_b = data if nl < 0 else data[:nl]
    cols = header_b.decode(errors="replace").split()
    if not cols:  # blank first line: the slow reader finds the header
        return _read_assoc_slow(path, snp_names, p_names)
    icol = _pick_column(cols, snp_names, path, "variant id")
    pcol = _pick_column(cols, p_names, path, "p-value")
    delim = b"\t" if b"\t" in header_b else b" "
    if nl >= 0 and icol != pcol and _splits_like_whitespace(data, delim):
        import pyarrow as pa

        from twasflow.io.plink import StringColumn, _arrow_csv, arrow_to_numpy

        names = [f"f{i}" for i in range(len(cols))]
        tb = _arrow_csv(data, delim.decode(), names, {names[icol]: pa.string(), names[pcol]: pa.float64()},
                        skip_rows=1, include=[names[icol], names[pcol]], null_values=_NA_P)
        if tb is not None:
            ids = StringColumn.from_arrow(tb.column(names[icol]))
            p = np.asarray(arrow_to_numpy(tb.column(names[pcol]), fill=np.nan), dtype=np.float64)
            return ids, p, np.arange(1, len(ids) + 1, dtype=np.int64)
    return _read_assoc_slow(path, snp_names, p_names)


def _splits_like_whitespace(data: bytes, delim: bytes) -> bool:
    from twasflow.io.plink import splits_like_whitespace

    return splits_like_whitespace(data, delim)


def _read_assoc_slow(path: Path, snp_names: list[str], p_names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Any whitespace layout (pandas C tokenizer, then a line-by-line Python reader for ragged rows)."""
    import pandas as pd

    opener = _open_text(path)
    with opener as fh:
        header = ""
        for header in fh:
            if header.strip():
                break
        else:
            raise ClumpError.at("empty association file", file=path)
    cols = header.split()
    icol = _pick_column(cols, snp_names, path, "variant id")
    pcol = _pick_column(cols, p_names, path, "p-value")
    # pandas < 3 needs round_trip for correctly rounded doubles (as strtod); pandas 3 parses that way already
    precise = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    try:
        try:
            # numeric p column (NA and other standard missing markers become NaN)
            df = pd.read_csv(path, sep=r"\s+", usecols=[icol, pcol], dtype={cols[icol]: object, cols[pcol]: np.float64},
                             na_values={cols[icol]: [], cols[pcol]: _NA_P},
                             keep_default_na=False, engine="c", header=0, **precise)
            ptxt = None
        except ValueError:
            df = pd.read_csv(path, sep=r"\s+", usecols=[icol, pcol], dtype=object, keep_default_na=False,
                             engine="c", header=0)
            ptxt = df[cols[pcol]]
        ids = df[cols[icol]].to_numpy(dtype=object)
        pnum = df[cols[pcol]].to_numpy(dtype=np.float64) if ptxt is None else None
        line = np.arange(1, len(df) + 1)
    except (pd.errors.ParserError, ValueError):
        pnum = None
        ids_l, p_l, line_l = [], [], []
        with _open_text(path) as fh:
            seen_header = False
            n = 0
            for raw in fh:
                tok = raw.split()
                if not tok:
                    continue
                if not seen_header:
                    seen_header = True
                    continue
                n += 1
                if len(tok) <= max(icol, pcol):
                    continue
                ids_l.append(tok[icol])
                p_l.append(tok[pcol])
                line_l.append(n)
        ids = np.array(ids_l, dtype=object)
        ptxt = pd.Series(p_l, dtype=object)
        line = np.array(line_l, dtype=np.int64)
    if pnum is not None:
        p = np.array(pnum, dtype=np.float64)
    else:
        p = np.array(pd.to_numeric(ptxt.where(ptxt != ""), errors="coerce"), dtype=np.float64)
    return ids, p, line


def _open_text(path: Path):
    import gzip

    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path)


def _pick_column(cols: list[str], names: list[str], path: Path, what: str) -> int:
    for name in names:
        hits = [i for i, c in enumerate(cols) if c == name]
        if len(hits) > 1:
            raise ClumpError.at(f"duplicate {what} column", file=path, column=name, found=f"{len(hits)} columns")
        if hits:
            return hits[0]
    raise ClumpError.at(f"no {what} column", file=path, column=" or ".join(names), found=" ".join(cols[:20]))


def _match_ids(universe: Any, queries: Any, bim_path: str) -> np.ndarray:
    """Row of each query id in the universe (-1 if absent); a duplicate universe id is a ClumpError.

    Both are ``StringColumn``s. Hash join: the universe's 64-bit string hashes are sorted once (a radix
    sort), queries are looked up by binary search and every hit is confirmed byte for byte. Equal hashes in
    the universe are compared exactly: equal strings are the duplicate error, distinct strings (a hash
    collision, ~1e-8 for a million ids) send the join to an exact pyarrow hash table. When the association
    file lists exactly the universe's ids in order (a test run on the same fileset) only the duplicate check
    runs.
    """
    M = len(universe)
    hu = universe.hashes()
    if np.any(np.diff(np.sort(hu)) == 0):  # a radix sort: ~10x cheaper than a stable argsort
        order = np.argsort(hu, kind="stable")
        hs = hu[order]
        tie = np.flatnonzero(hs[1:] == hs[:-1])
        a, b = order[tie], order[tie + 1]
        same = universe.equal_at(a, universe, b)
        if same.any():  # duplicates: report the first row (file order) repeating an earlier one
            i = int(np.max(np.stack([a[same], b[same]]), axis=0).min())
            raise ClumpError.at("duplicate variant id in .bim", file=bim_path, found=universe.strings([i])[0],
                                expected="unique ids (PLINK --clump matches rows by id)")
        return _match_ids_exact(universe, queries, bim_path)
    if len(queries) == M and queries.equals(universe):
        return np.arange(M, dtype=np.int64)
    if M == 0:
        return np.full(len(queries), -1, dtype=np.int64)
    order = np.argsort(hu)  # hashes are distinct here: no need for a stable sort
    hs = hu[order]
    hq = queries.hashes()
    # binary search with sorted queries (random queries into 1M sorted keys are ~10x slower: cache misses)
    qorder = np.argsort(hq)
    hqs = hq[qorder]
    at = np.minimum(np.searchsorted(hs, hqs), M - 1)
    hit = np.flatnonzero(hs[at] == hqs)
    out = np.full(len(queries), -1, dtype=np.int64)
    out[qorder[hit]] = order[at[hit]]
    # confirm byte for byte, in query order (one side read sequentially)
    cand = np.flatnonzero(out >= 0)
    bad = cand[~universe.equal_at(out[cand], queries, cand)]
    out[bad] = -1
    return out


def _match_ids_exact(universe: Any, queries: Any, bim_path: str) -> np.ndarray:
    """Exact hash-table join through pyarrow (only after a 64-bit hash collision among universe ids)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from twasflow.io.plink import arrow_to_numpy

    def arrow(c: Any) -> Any:
        return pa.LargeStringArray.from_buffers(len(c), pa.py_buffer(np.ascontiguousarray(c.offsets)),
                                                pa.py_buffer(np.ascontiguousarray(c.data)))

    M = len(universe)
    enc = pc.dictionary_encode(pa.chunked_array([arrow(universe), arrow(queries)]))
    codes = np.concatenate([arrow_to_numpy(c.indices) for c in enc.chunks]).astype(np.int64)
    # each distinct id is coded by its first occurrence: the universe is unique iff its codes are 0..M-1
    dup = np.flatnonzero(codes[:M] != np.arange(M))
    if dup.size:
        raise ClumpError.at("duplicate variant id in .bim", file=bim_path, found=universe.strings(dup[:1])[0],
                            expected="unique ids (PLINK --clump matches rows by id)")
    q = codes[M:]
    return np.where(q < M, q, -1)


def run_clump(
    bfile: str | os.PathLike[str],
    assoc_paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    p1: float = 1e-4,
    p2: float = 0.01,
    r2: float = 0.5,
    kb: float = 250,
    snp_field: str | Sequence[str] = "SNP",
    field: str | Sequence[str] = "P",
    allow_overlap: bool = False,
    r2_method: R2Method = "haplotype",
) -> Path:
    """PLINK 1.9 ``--clump`` on a PLINK fileset: writes ``{out}.clumped`` (PLINK's layout) and ``{out}.log``.

    With no index variant PLINK writes no ``.clumped``; here a header-only file is written (so pipeline
    rules always have their output) and the log says so.
    """
    import time

    from twasflow.io.plink import (StringColumn, decode_codes, founder_mask, open_bed, pack_codes, read_bim_columns,
                                   read_fam_rows)

    t0 = time.perf_counter()
    _keep_freed_memory()
    _check_thresholds(p1, p2, r2)
    paths = [assoc_paths] if isinstance(assoc_paths, (str, os.PathLike)) else list(assoc_paths)
    bim = read_bim_columns(bfile)
    fam = read_fam_rows(bfile)
    M = len(bim)
    founders = np.flatnonzero(founder_mask(fam))
    if founders.size == 0:
        raise ClumpError.at("no founders in .fam (PLINK --clump uses founders only)", file=str(bfile) + ".fam")
    n = len(fam)
    bed = open_bed(bfile, M, n)

    all_founders = founders.size == n

    def genotypes(rows: np.ndarray) -> np.ndarray:
        if all_founders:
            return np.asarray(bed[rows])
        return pack_codes(decode_codes(bed[rows], n, founders))

    all_p, all_f, all_l, all_id = [], [], [], []
    for k, path in enumerate(paths, start=1):
        aid, ap, al = _read_assoc_any(path, snp_field, field)
        if isinstance(aid, np.ndarray):
            aid = StringColumn.from_strings(aid)
        all_p.append(ap)
        all_f.append(np.full(ap.size, k))
        all_l.append(al)
        all_id.append(aid)
    aid_all = all_id[0] if len(all_id) == 1 else StringColumn.concat(all_id)
    marker = _match_ids(bim.ids, aid_all, str(bfile) + ".bim")
    entries = build_entries(marker, np.concatenate(all_p), np.concatenate(all_f),
                            np.concatenate(all_l), M, p1, p2, ids=aid_all, source=[str(p) for p in paths])
    records = clump_plink((bim.chrom_code, bim.chrom_names), bim.pos, bim.ids, entries, genotypes, int(founders.size), p1=p1, p2=p2, r2=r2,
                          kb=kb, allow_overlap=allow_overlap, r2_method=r2_method)
    out_path = Path(str(out) + ".clumped")
    write_text(format_clumped(records, plink_maxsnp(bim.ids)), out_path)
    log = [
        "twasflow clump (PLINK 1.9 --clump emulation)",
        f"bfile: {bfile} ({M} variants, {n} people, {founders.size} founders)",
        "clump files: " + " ".join(str(p) for p in paths),
        f"p1 {p1!r} p2 {p2!r} r2 {r2!r} kb {kb!r} (max distance {bp_radius(kb)} bp) "
        f"allow_overlap {allow_overlap} r2_method {r2_method} snp_field {snp_field} field {field}",
        f"association rows: {sum(a.size for a in all_p)}; loaded entries: {entries.p.size}",
    ]
    for vid, pv in entries.missing:
        log.append(f"Warning: '{vid}' is missing from the main dataset, and is a top variant.")
    if not records:
        log.append("Warning: No significant --clump results (header-only .clumped written).")
    top = np.zeros(M, dtype=bool)
    top[entries.marker[entries.p <= p1]] = True  # (np.unique would import numpy.ma: ~20 ms)
    log.append(f"{len(records)} clumps formed from {int(np.count_nonzero(top))} top variants.")
    log.append(f"Results written to {out_path}; {time.perf_counter() - t0:.2f} s")
    write_text("\n".join(log) + "\n", Path(str(out) + ".log"))
    return out_path


def _keep_freed_memory() -> None:
    """glibc only (a no-op elsewhere): serve arrays up to 32 MB from the heap and keep freed heap memory for
    reuse instead of returning it to the system.

    The command allocates and frees many multi-megabyte numpy temporaries; with glibc's defaults each one is
    a fresh mmap whose pages are faulted in and zeroed again (~0.15 s of system CPU per genome-wide run,
    measured). Process-wide, and meant for the ``twasflow clump`` command (the only caller of
    :func:`run_clump`); memory use is unchanged up to the peak.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # malloc.h
        libc.mallopt(m_mmap_threshold, 32 << 20)  # glibc's maximum on 64-bit
        libc.mallopt(m_trim_threshold, (1 << 31) - 1)
        libc.mallopt(m_top_pad, 64 << 20)
    except (OSError, AttributeError):
        pass


def _check_thresholds(p1: float, p2: float, r2: float) -> None:
    if not (0 < p1 <= 1):
        raise ClumpError.at("invalid p1", column="p1", found=p1, expected="0 < p1 <= 1")
    if not (0 < p2 <= 1):
        raise ClumpError.at("invalid p2", column="p2", found=p2, expected="0 < p2 <= 1")
    if p2 < p1:
        raise ClumpError.at("p2 smaller than p1", column="p2", found=p2, expected=f">= p1 = {p1}")
    if not (r2 < 1):
        raise ClumpError.at("invalid r2", column="r2", found=r2, expected="r2 < 1")


