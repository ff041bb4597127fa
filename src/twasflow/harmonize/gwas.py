"""``harmonize_gwas``: a GWAS file to the panel, streamed into row groups of the harmonized Parquet."""

from __future__ import annotations

import functools
import queue
import threading
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import HarmonizeError
from ..io.gwas import read_gwas_batches, read_rsid_head
from ..io.tables import atomic_path, write_json

from .codes import _R, STRAND_CONSENSUS_MAX_FLIP, Settings, _sheet_n, normalize_build
from .match import PanelIndex
from .accumulate import (_Acc, _Final, _Prefetch, _build_check, _consume, _finalize, _no_overlap_error, _qc_dict,
                         _resolve_palindromic, _settings)


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
    rsid_map: str | Path | None = None,
    liftover: str | Path | None = None,
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
    rsid_map : for a file keyed by rsID only (no chromosome/position columns; format ``cojo``, or a ``table``
        mapping ``rsid`` but not ``chrom``/``pos``): a table ``rsid, chrom, pos`` on the panel's build giving the
        positions; default the panel's own rsIDs. Rows whose rsID is not found are dropped as ``rsid_not_found``.
    liftover : a UCSC chain file from the file's build (``declared_build``) to the panel's; positions are lifted
        before matching (drops ``liftover_unmapped``, ``liftover_ambiguous``; counts in the QC's ``liftover``).
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
    batches, adapted = _adapt(batches, roles, path, panel_variants, rsid_map, liftover)
    if adapted is not None:  # positions come from the rsID map / panel or the chain: on the panel's build
        declared = pbuild
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
            _consume(batches, index, acc, panel_hit, sheet_n=sheet_n, on_block=stream.push, indels=True)
            if src is not None and src.malformed:
                acc.n_input += len(src.malformed)
                acc.counts[_R["malformed_row"]] += len(src.malformed)
            if acc.n_input == 0:
                raise HarmonizeError.at("no data rows", file=path, expected="at least one variant")
            if acc.fmax.max() < 0 and not any(acc.counts[_R[r]] for r in ("not_in_panel", "panel_maf_below_min", "allele_mismatch")):
                if acc.counts[_R["chrom_not_in_panel"]] == acc.n_input:
                    raise _no_overlap_error(path, acc, index)
            if "eaf" not in roles:
                warnings.append("no effect-allele frequency in the file: palindromic variants cannot be aligned "
                                "by frequency; they are kept only if the file is on the panel's strand")
            loader = (lambda: read_rsid_head(src, roles)) if src is not None else None
            build = _build_check(acc, index, panel_hit, path=path, declared=declared, panel=pbuild,
                                 min_match=settings.build_check_min_match, warnings=warnings, rsid_loader=loader)
            fin = _finalize(acc, index, settings)
            if len(fin.keep) == 0:  # never an empty success: say why every row went
                raise HarmonizeError.at(
                    "every row was dropped, nothing is left to analyse", file=path,
                    found=f"{acc.n_input} rows dropped: " + ", ".join(f"{k} {v}" for k, v in fin.dropped.items()),
                    expected="at least one row with a value and a panel match")
            streamed = stream.finish(fin)
        except BaseException:
            stream.abort()
            raise
        if not streamed:
            k = fin.keep
            table = _gwas_table(index, fin.pidx, fin.sign, {name: acc.cat(name, np.float64)[k]
                                                            for name in ("z", "n", "p", "beta", "se", "eaf")})
            _write_gwas_parquet(table, tmp)
        extra = {"format": fmt, **(adapted or {})}
        pcheck = _p_vs_beta_se(acc.cat("beta", np.float64), acc.cat("se", np.float64), acc.cat("p", np.float64))
        if pcheck is not None:
            extra["p_vs_beta_se"] = pcheck
            if pcheck["n_disagree"]:
                warnings.append(f"p and beta/se disagree by more than 100-fold in {pcheck['n_disagree']} of "
                                f"{pcheck['n_compared']} rows (p_vs_beta_se): check the columns map to the same test")
        if trait is not None:
            extra["trait"] = trait
        qc = _qc_dict(path, acc, fin, build, warnings, **extra)
    write_json(qc, qc_out)
    return qc


def _p_vs_beta_se(beta: np.ndarray, se: np.ndarray, p: np.ndarray) -> dict[str, Any] | None:
    """Rows with beta, se and p: how many p-values differ from the two-sided normal p of beta/se by more than
    100-fold where either is below 1e-3 (gross disagreement: columns of different tests, or a p mislabelled).
    None when the file lacks one of the three."""
    from scipy.special import log_ndtr

    if not (len(beta) and len(se) and len(p)) or not (len(beta) == len(se) == len(p)):
        return None
    ok = np.isfinite(beta) & np.isfinite(se) & (se > 0) & np.isfinite(p) & (p > 0)
    if not ok.any():
        return None
    log10_p_bs = (np.log(2.0) + log_ndtr(-np.abs(beta[ok] / se[ok]))) / np.log(10.0)
    log10_p = np.log10(p[ok])
    diff = np.abs(log10_p - log10_p_bs)
    bad = (diff > 2.0) & (np.minimum(log10_p, log10_p_bs) < -3.0)
    return {"n_compared": int(ok.sum()), "n_disagree": int(bad.sum()),
            "max_abs_log10_ratio": float(diff.max()), "rule": "|log10 p - log10 p(beta/se)| > 2 and min p < 1e-3"}


def _adapt(batches: Any, roles: Mapping[str, str], path: str | Path, panel_variants: Any,
           rsid_map: str | Path | None, liftover: str | Path | None) -> tuple[Any, dict[str, Any] | None]:
    """Wrap the reader with rsID → position resolution and/or liftover (:func:`twasflow.io.gwas.adapt_batches`).

    Returns (batches, info): ``info`` (None when neither applies) is filled with the counters while the batches
    are consumed."""
    from ..io.gwas import RsidPositions, adapt_batches, rsid_only
    from ..io.liftover import Chain

    by_rsid = rsid_only(roles)
    if not by_rsid and rsid_map is not None:
        raise HarmonizeError.at("an rsID map is given but the file has positions", file=path, column="rsid_map",
                                found=f"columns for {sorted(roles)}", expected="no rsid_map, or a file keyed by rsID only")
    if by_rsid and liftover is not None:
        raise HarmonizeError.at("liftover of an rsID-only file", file=path, column="liftover",
                                found="positions come from the panel or the rsID map",
                                expected="no chain file (give the rsID map on the panel's build)")
    if not by_rsid and liftover is None:
        return batches, None
    positions = None
    if by_rsid:
        positions = RsidPositions.from_table(rsid_map) if rsid_map is not None else RsidPositions.from_panel(panel_variants)
    chain = Chain.read(liftover) if liftover is not None else None
    info: dict[str, Any] = {}
    return adapt_batches(batches, roles, positions=positions, chain=chain, info=info), info


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


def harmonized_rsids(path: str | Path, variant_ids: Sequence[str]) -> pd.Series:
    """rsID (None where unknown) of each of ``variant_ids`` (``chrom:pos:other:counted``), from a harmonized GWAS
    Parquet's ``rsid`` column (the panel's rsID of the variant). Reads only the row groups of the ids' position
    range per chromosome (the file is sorted and keeps chrom/pos statistics). Indexed by the ids."""
    ids = pd.Index(pd.unique(pd.Series(list(variant_ids), dtype=object)))
    out = pd.Series(None, index=ids, dtype=object)
    if not len(ids):
        return out
    parts = ids.to_series().str.split(":", n=2, expand=True)
    pos = pd.to_numeric(parts[1], errors="coerce")
    found = []
    for chrom, grp in pos.groupby(parts[0].to_numpy()):
        if grp.isna().all():
            continue
        t = pq.read_table(path, columns=["variant_id", "rsid"],
                          filters=[("chrom", "=", str(chrom)), ("pos", ">=", int(grp.min())),
                                   ("pos", "<=", int(grp.max()))])
        found.append(t.to_pandas())
    if found:
        f = pd.concat(found, ignore_index=True).drop_duplicates("variant_id").set_index("variant_id")["rsid"]
        hit = f.reindex(ids)
        out = hit.astype(object).where(hit.notna(), None)
    return out


def read_harmonized_gwas(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a harmonized GWAS Parquet (convenience for tests and downstream stages)."""
    return pq.read_table(path, columns=list(columns) if columns else None).to_pandas()

