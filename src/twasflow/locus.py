"""Per-locus inputs: the locus variant set, its LD, GWAS z and n, and xQTL z for every pair in the window.

The variant set follows the TGVIS paper's preprocessing (Methods, "Clumping and thresholding"): variants whose
minimum xQTL p over the locus's pairs is below ``xqtl_p``, pruned at ``xqtl_r2``, united with GWAS variants at
p < ``gwas_p`` pruned at ``gwas_r2``; candidates are the variants present in the GWAS, in at least one xQTL
dataset and in the panel. Pruning is greedy in ascending p (ties by position) with the panel's Pearson r² of
counted-allele dosages, the same r used as R downstream. A pair belongs to a locus when its TSS
(``pos - tss_distance``) lies in the window; when the TSS is unknown, when its smallest-p variant does.

Prediction models (xQTL datasets harmonized to ``models.parquet``, see :mod:`twasflow.models`) enter as fixed
weights: a model pair belongs to a locus when the median position of its used weight variants lies in the
window, and its weight variants present in the GWAS and the panel are added to the variant set (also those
outside the window: S-PrediXcan needs the whole model). The pairs table lists the P summary-statistic pairs
first (columns of ``xqtl_z``), then the Q model pairs (columns of ``model_W``), with ``source`` telling which.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
import zipfile
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.parquet as pq
from scipy.special import ndtr

from .errors import InputError
from .io.tables import write_npz, write_parquet
from .ld import PanelLDRows, greedy_clump, panel_ld
from .io import xqtl_store as xstore
from .tables_schema import table

log = logging.getLogger(__name__)

PAIR_COLUMNS = table("bundle_pairs").names  # defined in twasflow.tables_schema
MODEL_ROW_COLUMNS = ["pair_id", "gene_id", "tissue", "qtl_type", "variant_id", "pos", "weight", "n_model"]


@dataclass
class LocusBundle:
    """Everything a fine-mapping method needs at one locus (shapes: M variants, P pairs)."""

    locus_id: str
    variant_ids: np.ndarray  # (M,) str
    pos: np.ndarray  # (M,) int64
    z: np.ndarray  # (M,) GWAS z of the counted allele
    n: np.ndarray  # () or (M,) GWAS sample size
    R: np.ndarray  # (M, M) panel correlation of counted-allele dosages
    freq: np.ndarray  # (M,) panel counted-allele frequency
    xqtl_z: np.ndarray  # (M, P) NaN where untested
    xqtl_n: np.ndarray  # (P,)
    pairs: pd.DataFrame  # P summary-statistic pairs then Q model pairs, PAIR_COLUMNS
    reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    model_W: np.ndarray | None = None  # (M, Q) standardized model weights, 0 off-model; None → (M, 0)

    def __post_init__(self) -> None:
        if self.model_W is None:
            self.model_W = np.zeros((len(self.variant_ids), 0))
        if "source" not in self.pairs.columns:  # bundles written before prediction models existed
            self.pairs = self.pairs.assign(source="sumstats", n_model=self.pairs["n_tested"])

    @property
    def M(self) -> int:
        return len(self.variant_ids)

    @property
    def P(self) -> int:
        """All pairs: summary-statistic pairs (columns of ``xqtl_z``) + model pairs (columns of ``model_W``)."""
        return len(self.pairs)

    @property
    def P_sumstats(self) -> int:
        """Summary-statistic pairs: the first ``P_sumstats`` rows of ``pairs`` and the columns of ``xqtl_z``."""
        return int(self.xqtl_z.shape[1]) if self.xqtl_z.ndim == 2 else 0

    @property
    def Q(self) -> int:
        """Model pairs: the last ``Q`` rows of ``pairs`` and the columns of ``model_W``."""
        return int(self.model_W.shape[1])


def p_from_z(z: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value of z (accurate in the far tail)."""
    return 2.0 * ndtr(-np.abs(z))


def read_range(path: str | Path, chrom: str | None, start: int, end: int, columns: list[str] | None = None
               ) -> pd.DataFrame:
    """Rows of a position-sorted Parquet file within [start, end] (and ``chrom`` if given), reading only the
    row groups whose statistics overlap the range."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=columns or [])
    dataset = pds.dataset(str(path), format="parquet")
    flt = (pds.field("pos") >= start) & (pds.field("pos") <= end)
    if chrom is not None:
        flt = flt & (pds.field("chrom") == chrom)
    df = dataset.to_table(columns=columns, filter=flt).to_pandas()
    # numpy object strings: pandas' Arrow-backed strings are slow to iterate and hash element by element
    for c in df.columns:
        if df[c].dtype == "str" or df[c].dtype == "string":
            df[c] = df[c].astype(object)
    return df


_WINDOW_COLUMNS = ["pair_id", "gene_id", "tissue", "qtl_type", "variant_id", "pos", "z", "n", "tss_distance"]
_CODED = ["pair_id", "gene_id", "tissue", "qtl_type", "variant_id"]


@dataclass
class _Window:
    """The xQTL rows of a locus window over every dataset, integer-coded (R rows, P0 pairs, U panel variants).

    Only rows of pairs of the locus (TSS in the window) on the requested variants are kept; ``maxabs`` and
    ``n_rows`` cover every row read.
    """

    maxabs: np.ndarray  # float64 (U + 1,): largest |z| of each window variant over the locus's pairs (-1: none)
    n_rows: int  # rows in the window over all datasets
    vcode: np.ndarray  # int32 (R,): index into the window's panel variants
    pcode: np.ndarray  # int32 (R,): index into ``pair_ids``
    z: np.ndarray  # float64 (R,)
    n: np.ndarray  # float64 (R,)
    pair_ids: list[str]  # (P0,)
    pair_meta: list[tuple[str, str, str]]  # (P0,) gene_id, tissue, qtl_type of the pair
    #: per dataset with a variant-major store (track with ``row``, rows file, pairs table): the window variants'
    #: universe codes and row ranges in the rows file (int64 (V,) each, row0 ascending), from the first pass
    ranges: dict[str, tuple[Any, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)


def _row_groups(pf: pq.ParquetFile, start: int, end: int) -> list[int]:
    """Row groups of a position-sorted Parquet whose ``pos`` statistics overlap [start, end]."""
    md = pf.metadata
    ipos = pf.schema_arrow.get_field_index("pos")
    rgs = []
    for g in range(md.num_row_groups):
        st = md.row_group(g).column(ipos).statistics
        if st is None or not st.has_min_max or (st.min <= end and st.max >= start):
            rgs.append(g)
    return rgs


def _track_file(data_file: Path, data_rows: int) -> pq.ParquetFile | None:
    """The valid xQTL track of ``data_file`` (written with it, footer ``rows`` equal to its row count), else None."""
    return xstore.track_file(data_file, data_rows)


class _VariantMap:
    """Codes in the window's panel variants (``universe``) of the variant-id dictionaries of the row groups read.

    Datasets of one study test the same variants, so their row groups for a bin carry equal dictionaries: the
    string lookup is done once per distinct dictionary (keyed by a hash of its buffers), not per dataset."""

    def __init__(self, universe: pd.Index) -> None:
        self.universe = universe
        self._seen: dict[bytes, np.ndarray] = {}

    def __call__(self, dic: pa.Array) -> np.ndarray:
        """int32 (len(dic) + 1,): universe index of each entry, -1 when absent; the extra last slot is -1."""
        import hashlib

        h = hashlib.blake2b(digest_size=20)
        h.update(len(dic).to_bytes(8, "little"))
        for b in dic.buffers()[1:]:
            if b is not None:
                h.update(memoryview(b))
        key = h.digest()
        got = self._seen.get(key)
        if got is None:
            got = self._seen[key] = np.r_[self.universe.get_indexer(dic.to_numpy(zero_copy_only=False)), -1
                                          ].astype(np.int32)
        return got


def _one(col: Any) -> Any:
    """The single Arrow array of a (chunked) column."""
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _regular_rows(t: pa.Table, start: int, end: int, vmaps: _VariantMap, want: np.ndarray,
                  pair_code: dict[str, int], meta: list[tuple[str, str, str]]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(vcode, pair code, z, n) of the rows of one row group ``t`` in [start, end] on the wanted variants
    (``want`` bool (U + 1,)) whose pair's TSS lies in the window or is unknown; registers new pairs in
    ``pair_code``/``meta``. Only for files whose pairs each have one TSS (a valid track), so a row's own
    ``pos - tss_distance`` decides its pair's membership."""
    pos = t.column("pos").to_numpy()
    if not np.all(pos[1:] >= pos[:-1]):  # written by position; anything else is a foreign file
        raise InputError.at("harmonized xQTL rows are not sorted by position", column="pos",
                            expected="a file written by harmonize_xqtl")
    lo, hi = int(np.searchsorted(pos, start, "left")), int(np.searchsorted(pos, end, "right"))
    if hi <= lo:
        return None
    var = _one(t.column("variant_id"))
    vmap = vmaps(var.dictionary)
    vind = var.indices.to_numpy(zero_copy_only=False)
    r = lo + np.flatnonzero(want[vmap][vind[lo:hi]])  # rows lo:hi are the window's (positions sorted)
    if not len(r):
        return None
    ra = pa.array(r)
    td = _one(t.column("tss_distance")).take(ra)
    tss = pos[r] - td.fill_null(0).to_numpy(zero_copy_only=False)
    member = ~td.is_valid().to_numpy(zero_copy_only=False) | ((tss >= start) & (tss <= end))
    r = r[member]
    if not len(r):
        return None
    pair = _one(t.column("pair_id"))
    local = pair.indices.to_numpy(zero_copy_only=False)[r]
    used = np.flatnonzero(np.bincount(local, minlength=len(pair.dictionary)))
    codes = np.full(len(pair.dictionary), -1, dtype=np.int32)
    fresh = []
    for j, name in zip(used.tolist(), pair.dictionary.take(pa.array(used)).to_pylist()):
        c = pair_code.setdefault(name, len(pair_code))
        codes[j] = c
        if c == len(meta) + len(fresh):
            fresh.append(j)
    if fresh:  # metadata of the new pairs from one of their rows
        some = np.zeros(len(pair.dictionary), dtype=np.int64)
        some[local] = r
        at = pa.array(some[fresh])
        vals = [_one(t.column(c)).take(at).to_pylist() for c in ("gene_id", "tissue", "qtl_type")]
        meta.extend(tuple(str(v[i]) for v in vals) for i in range(len(fresh)))
    return (vmap[vind[r]], codes[local], t.column("z").to_numpy()[r],
            t.column("n").to_numpy()[r])


def _track_window(pt: pq.ParquetFile, start: int, end: int, vmaps: _VariantMap, maxabs: np.ndarray,
                  ranges: list[np.ndarray] | None = None) -> int:
    """Fold the xQTL track of ``data_file`` (see :data:`twasflow.harmonize.xqtl.TRACK_SUFFIX`) over the window
    into ``maxabs`` (U + 1,): the largest |z| of each window variant over the pairs whose TSS lies in the window
    or is unknown. ``pt``: a valid track (:func:`_track_file`). Returns the data rows in the window. With
    ``ranges`` (a list), appends per track row in the window (universe code, first data row, rows)."""
    n_rows = 0
    for g in _row_groups(pt, start, end):  # one row group per 1 Mb bin, rows by position
        t = pt.read_row_group(g, use_threads=False)
        pos = t.column("pos").to_numpy()
        lo, hi = int(np.searchsorted(pos, start, "left")), int(np.searchsorted(pos, end, "right"))
        if hi <= lo:
            continue
        rows_ = t.column("rows").to_numpy()[lo:hi]
        n_rows += int(rows_.sum())
        var = _one(t.column("variant_id"))
        vmap = vmaps(var.dictionary)
        if ranges is not None:
            ranges.append(np.stack([vmap[var.indices.to_numpy(zero_copy_only=False)[lo:hi]].astype(np.int64),
                                    t.column("row").to_numpy()[lo:hi], rows_]))
        tc = _one(t.column("tss")).slice(lo, hi - lo)
        tss = tc.fill_null(0).to_numpy(zero_copy_only=False)
        member = (tss >= start) & (tss <= end)
        if tc.null_count:
            member |= tc.is_null().to_numpy(zero_copy_only=False)
        rows = lo + np.flatnonzero(member)
        np.maximum.at(maxabs, vmap[var.indices.to_numpy(zero_copy_only=False)[rows]],
                      t.column("maxabs").to_numpy()[rows])
    return n_rows


def _variant_ranges(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(universe code, first row, rows) per variant from track rows (one per variant and TSS, by position; a
    variant's rows may straddle two track row groups): summed per first row, variants outside the panel dropped."""
    a = np.concatenate(parts, axis=1) if parts else np.zeros((3, 0), np.int64)
    uc, row0, cnt = a
    new = np.r_[True, row0[1:] != row0[:-1]] if len(row0) else np.zeros(0, bool)
    at = np.flatnonzero(new)
    tot = np.add.reduceat(cnt, at) if len(at) else cnt[:0]
    uc, row0 = uc[at], row0[at]
    ok = uc >= 0
    return uc[ok], row0[ok], tot[ok]


def _store_rows(rs: "xstore.RowsStore", rng: tuple[np.ndarray, np.ndarray, np.ndarray], want: np.ndarray,
                start: int, end: int, pair_code: dict[str, int], meta: list[tuple[str, str, str]]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(vcode, pair code, z, n) of the wanted variants' rows (``want`` bool (U + 1,)) from a variant-major store,
    only pairs whose TSS lies in the window or is unknown; registers new pairs in ``pair_code``/``meta``. Reads
    the selected variants' rows only (ranges from the track) and the pairs table's TSS and n."""
    uc, row0, cnt = rng
    sel = np.flatnonzero(want[uc])
    if not len(sel):
        return None
    got = rs.gather(row0[sel], cnt[sel])
    vcode = np.repeat(uc[sel], cnt[sel]).astype(np.int32)
    pt = rs.pairs(["pair_id", "gene_id", "tissue", "qtl_type", "tss", "n"])
    tc = _one(pt.column("tss"))
    tss = tc.fill_null(0).to_numpy(zero_copy_only=False)
    inside = (tss >= start) & (tss <= end)
    if tc.null_count:
        inside |= tc.is_null().to_numpy(zero_copy_only=False)
    local = got["pair"]
    m = inside[local]
    if not m.all():
        local, vcode = local[m], vcode[m]
        got = {k: v[m] for k, v in got.items()}
    if not len(local):
        return None
    n = got["n"] if "n" in got else pt.column("n").to_numpy()[local]
    used = np.flatnonzero(np.bincount(local, minlength=pt.num_rows))
    ids = pt.take(pa.array(used))
    codes = np.full(pt.num_rows, -1, dtype=np.int32)
    names = ids.column("pair_id").to_pylist()
    fresh = []
    for k, (j, name) in enumerate(zip(used.tolist(), names)):
        c = pair_code.setdefault(name, len(pair_code))
        codes[j] = c
        if c == len(meta) + len(fresh):
            fresh.append(k)
    if fresh:
        vals = [ids.column(c).take(pa.array(fresh)).to_pylist() for c in ("gene_id", "tissue", "qtl_type")]
        meta.extend(tuple(str(v[i]) for v in vals) for i in range(len(fresh)))
    return vcode, codes[local], got["z"], n


def _xqtl_window(xqtl_dirs: Mapping[str, str | Path], chrom: str, start: int, end: int, universe: pd.Index,
                 keep_variants: np.ndarray | None = None, first: _Window | None = None) -> _Window:
    """Read the rows with ``start <= pos <= end`` of every dataset's ``{chrom}.parquet`` (only the row groups
    whose statistics overlap), with the id columns dictionary-coded: no string per row is built.

    A pair belongs to the locus when its TSS (``pos - tss_distance``) lies in the window, or is unknown, on every
    one of its rows in the window. ``universe`` holds the window's panel variant ids (harmonized rows are panel
    variants). Rows are kept only for the variants ``keep_variants`` (bool (U,)), none when it is None: the
    first pass finds every variant's largest |z| (its xQTL min-p), the second, after the selection, keeps the
    locus variants' rows. Memory is one dataset's window at a time. ``first`` (second pass): the first pass's
    window, whose ``ranges`` let datasets with a variant-major store read only the locus variants' rows.
    """
    maxabs = np.full(len(universe) + 1, -1.0)  # slot -1: rows of variants outside the panel window
    vmaps = _VariantMap(universe)
    want = None if keep_variants is None else np.r_[keep_variants, False]
    vparts, pparts, zparts, nparts = [], [], [], []
    pair_code: dict[str, int] = {}
    meta: list[tuple[str, str, str]] = []
    n_rows = 0
    cols = [c for c in _WINDOW_COLUMNS if want is not None or c not in ("gene_id", "tissue", "qtl_type", "n")]
    ranges: dict[str, tuple[Any, np.ndarray, np.ndarray, np.ndarray]] = {}
    for d in sorted(xqtl_dirs):
        f = Path(xqtl_dirs[d]) / f"{chrom}.parquet"
        if not f.exists():
            continue
        pf = pq.ParquetFile(f, read_dictionary=_CODED)
        md = pf.metadata
        if not md.num_rows:
            continue
        if want is None:
            pt = _track_file(f, md.num_rows)
            if pt is not None:  # the variants' min-p from the track: no pair's rows read
                rs = xstore.RowsStore.open(f, md.num_rows) if "row" in pt.schema_arrow.names else None
                parts: list[np.ndarray] | None = [] if rs is not None else None
                n_rows += _track_window(pt, start, end, vmaps, maxabs, parts)
                if rs is not None:  # and where the window variants' rows are, for the second pass
                    ranges[d] = (rs, *_variant_ranges(parts))
                continue
        elif first is not None and d in first.ranges:
            rs, *rng = first.ranges.pop(d)  # dropped after use: the rows file is unmapped dataset by dataset
            got = _store_rows(rs, tuple(rng), want, start, end, pair_code, meta)
            del rs
            if got is not None:
                for part, x in zip((vparts, pparts, zparts, nparts), got):
                    part.append(x)
            continue
        rgs = _row_groups(pf, start, end)
        if not rgs:
            continue
        if want is not None and _track_file(f, md.num_rows) is not None:
            # every pair has one TSS (what the track certifies): each row decides its pair's membership, so the
            # wanted variants' rows are picked first, row group by row group, with no pass over the window
            for g in rgs:
                got = _regular_rows(pf.read_row_group(g, columns=cols, use_threads=False), start, end, vmaps,
                                    want, pair_code, meta)
                if got is not None:
                    for part, x in zip((vparts, pparts, zparts, nparts), got):
                        part.append(x)
            continue
        t = pf.read_row_groups(rgs, columns=cols, use_threads=False).combine_chunks()  # one dictionary per column
        pos = t.column("pos").to_numpy()
        inside = np.flatnonzero((pos >= start) & (pos <= end))
        if not len(inside):
            continue
        n_rows += len(inside)
        pair = t.column("pair_id").chunk(0)
        pdic = pair.dictionary.to_pylist()
        local = pair.indices.to_numpy(zero_copy_only=False)[inside]
        # pairs of the locus: TSS in the window on every row where it is known
        td = t.column("tss_distance").chunk(0)
        known = ~td.is_null().to_numpy(zero_copy_only=False)[inside]
        tss = pos[inside] - td.fill_null(0).to_numpy(zero_copy_only=False)[inside]
        bad = np.bincount(local[known & ~((tss >= start) & (tss <= end))], minlength=len(pdic)) > 0
        keep = inside[~bad[local]]
        if not len(keep):
            continue
        var = t.column("variant_id").chunk(0)
        vcode = vmaps(var.dictionary)[var.indices.to_numpy(zero_copy_only=False)[keep]]
        z = t.column("z").to_numpy()[keep]
        if want is None:
            np.maximum.at(maxabs, vcode, np.abs(z))
            continue
        sel = want[vcode]
        keep, vcode, z = keep[sel], vcode[sel], z[sel]
        local = pair.indices.to_numpy(zero_copy_only=False)[keep]
        # the pairs' codes over all datasets, and their metadata from one of their rows (one value per pair)
        used = np.flatnonzero(np.bincount(local, minlength=len(pdic)))
        some = np.zeros(len(pdic), dtype=np.int64)
        some[local] = keep
        idcols = {c: t.column(c).chunk(0) for c in ("gene_id", "tissue", "qtl_type")}
        codes = np.full(len(pdic), -1, dtype=np.int32)
        for j in used.tolist():
            codes[j] = pair_code.setdefault(pdic[j], len(pair_code))
            if codes[j] == len(meta):
                meta.append(tuple(str(idcols[c][int(some[j])].as_py()) for c in ("gene_id", "tissue", "qtl_type")))
        vparts.append(vcode)
        pparts.append(codes[local])
        zparts.append(z)
        nparts.append(t.column("n").to_numpy()[keep])
    def cat(xs: list[np.ndarray], dt: Any) -> np.ndarray:
        return np.concatenate(xs) if xs else np.zeros(0, dt)

    return _Window(maxabs, n_rows, cat(vparts, np.int32), cat(pparts, np.int32), cat(zparts, np.float64),
                   cat(nparts, np.float64), list(pair_code), meta, ranges)


def _model_rows(xqtl_dirs: Mapping[str, str | Path], chrom: str, start: int, end: int) -> pd.DataFrame:
    """Rows of the prediction-model pairs whose median weight-variant position (on ``chrom``) is in the window."""
    frames = []
    for d in sorted(xqtl_dirs):
        f = Path(xqtl_dirs[d]) / "models.parquet"
        if f.is_file() and pq.ParquetFile(f).metadata.num_rows:
            t = pds.dataset(str(f), format="parquet").to_table(
                columns=MODEL_ROW_COLUMNS, filter=pds.field("chrom") == chrom).to_pandas()
            frames.append(t.astype({c: object for c in ("pair_id", "gene_id", "tissue", "qtl_type", "variant_id")}))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in MODEL_ROW_COLUMNS})
    mod = pd.concat(frames, ignore_index=True)
    med = mod.groupby("pair_id")["pos"].median()
    inside = set(med.index[(med >= start) & (med <= end)])
    return mod[mod["pair_id"].isin(inside)].reset_index(drop=True)


def _panel_range(panel: Any, chrom: str, start: int, end: int) -> pd.DataFrame:
    """Panel variants on ``chrom`` with ``start <= pos <= end`` (a :class:`~twasflow.io.panel.Panel` answers by
    binary search; any object with a ``variants`` frame is filtered)."""
    if hasattr(panel, "variants_in_range"):
        return panel.variants_in_range(chrom, start, end)
    pv = panel.variants
    return pv[(pv["chrom"].astype(str) == chrom) & pv["pos"].between(start, end)]


def _pair_matrix(xw: _Window, universe: pd.Index, vids: np.ndarray) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """xQTL z (M, P) of the pairs tested on at least one of the locus variants ``vids`` (M,), pairs sorted by id,
    and their metadata (gene_id, tissue, qtl_type, n = median over those rows, n_tested)."""
    vrow = np.full(len(universe) + 1, -1, dtype=np.int64)  # slot -1: variants outside the panel window
    ui = universe.get_indexer(vids)
    vrow[ui[ui >= 0]] = np.flatnonzero(ui >= 0)
    r = vrow[xw.vcode]
    sel = np.flatnonzero(r >= 0)
    used = np.flatnonzero(np.bincount(xw.pcode[sel], minlength=len(xw.pair_ids)))
    names = np.array([xw.pair_ids[j] for j in used], dtype=str)
    pair_ids, inv = np.unique(names, return_inverse=True)  # the pairs' order: sorted ids
    col = np.full(len(xw.pair_ids), -1, dtype=np.int64)
    col[used] = inv.ravel()
    pc_ = col[xw.pcode[sel]]
    xz = np.full((len(vids), len(pair_ids)), np.nan)
    xz[r[sel], pc_] = xw.z[sel]
    n_tested = np.bincount(pc_, minlength=len(pair_ids)).astype(np.int64)
    order = used[np.argsort(inv.ravel())]  # window pair code of each output pair
    # n: the median over the pair's rows (one value per pair in practice: then no sort)
    ns = xw.n[sel]
    lo = np.full(len(pair_ids), np.inf)
    hi = np.full(len(pair_ids), -np.inf)
    np.minimum.at(lo, pc_, ns)
    np.maximum.at(hi, pc_, ns)
    n = lo.copy()
    for k in np.flatnonzero(lo != hi):
        n[k] = float(np.median(ns[pc_ == k]))
    meta = pd.DataFrame([xw.pair_meta[j] for j in order], columns=["gene_id", "tissue", "qtl_type"],
                        dtype=object).assign(n=n, n_tested=n_tested)
    return pair_ids, xz, meta


def _empty_bundle(locus_id: str, reason: str, stats_: dict[str, Any]) -> LocusBundle:
    return LocusBundle(
        locus_id=locus_id, variant_ids=np.array([], dtype=str), pos=np.array([], dtype=np.int64),
        z=np.array([]), n=np.array(np.nan), R=np.zeros((0, 0)), freq=np.array([]), xqtl_z=np.zeros((0, 0)),
        xqtl_n=np.array([]), pairs=pd.DataFrame({c: pd.Series(dtype=object) for c in PAIR_COLUMNS}),
        reason=reason, stats=stats_, model_W=np.zeros((0, 0)),
    )


def build_locus(
    locus: Mapping[str, Any],
    *,
    gwas_path: str | Path,
    xqtl_dirs: Mapping[str, str | Path],
    panel: Any,
    ld: Any,
    xqtl_p: float = 1e-5,
    xqtl_r2: float = 0.5,
    gwas_p: float = 5e-8,
    gwas_r2: float = 0.5,
    max_variants: int = 3000,
    gene_names: Mapping[str, str] | None = None,
) -> LocusBundle:
    """Assemble one locus bundle.

    ``panel`` is a :class:`twasflow.io.panel.Panel`; ``ld`` a callable ``(panel, variant_ids) -> R``.
    ``xqtl_dirs`` maps datasets to harmonized directories: per-chromosome summary statistics, or a
    ``models.parquet`` (prediction models, added as fixed weights ``model_W``; see the module docstring).
    With more than ``max_variants`` variants, model weight variants are kept first (by GWAS p when they alone
    exceed it), then the selected variants with the smallest min(GWAS p, xQTL min-p).
    """
    from .errors import LocusError

    locus_id, chrom = str(locus["locus_id"]), str(locus["chrom"])
    start, end = int(locus["start"]), int(locus["end"])
    st: dict[str, Any] = {}
    gwas_cols = ["variant_id", "pos", "z", "n", "p"]
    gw = read_range(gwas_path, chrom, start, end, gwas_cols)
    st["gwas_in_window"] = len(gw)
    # the window's panel variants: a binary search in the panel, never a pass over all of it
    pwin = _panel_range(panel, chrom, start, end)
    universe = pd.Index(pwin["variant_id"].to_numpy())
    xw = _xqtl_window(xqtl_dirs, chrom, start, end, universe)
    st["xqtl_rows_in_window"] = xw.n_rows
    mod = _model_rows(xqtl_dirs, chrom, start, end)
    if len(mod):
        st["model_pairs"] = int(mod["pair_id"].nunique())
    if xw.n_rows == 0 and mod.empty:
        return _empty_bundle(locus_id, "no xQTL rows in the locus window", st)
    chosen = gw.iloc[:0].assign(xqtl_minp=pd.Series(dtype=float))
    if xw.n_rows:
        # candidates: GWAS variants in the panel tested by a pair of the locus (TSS in the window)
        gu = universe.get_indexer(gw["variant_id"].to_numpy())
        maxabs = xw.maxabs
        tested = maxabs[gu] >= 0
        cand = gw[(gu >= 0) & tested]
        cand = cand.drop_duplicates("variant_id").sort_values("pos", kind="stable").reset_index(drop=True)
        st["candidates"] = len(cand)
        # min over the pairs' p of a variant = p of its largest |z| (p_from_z decreases in |z|)
        cand["xqtl_minp"] = p_from_z(maxabs[universe.get_indexer(cand["variant_id"].to_numpy())])
        sel = set()
        subs = [(cand[cand[col] < thr], col, thr, r2) for col, thr, r2 in (("xqtl_minp", xqtl_p, xqtl_r2),
                                                                          ("p", gwas_p, gwas_r2))]
        lazy = None
        if ld is panel_ld:  # the panel's LD: only the index variants' rows of R, from one read of the dosages
            union = pd.Index(pd.unique(np.concatenate([s_["variant_id"].to_numpy() for s_, *_ in subs])))
            lazy = PanelLDRows(panel, union.tolist()) if len(union) else None
        for sub, col, thr, r2 in subs:
            if len(sub):
                if lazy is not None:
                    at = union.get_indexer(sub["variant_id"].to_numpy())
                    kept, _ = greedy_clump(sub[col].to_numpy(float), rows=lambda i, at=at: lazy.rows(at[i], at),
                                           r2=r2, p_max=thr)
                else:
                    R = ld(panel, sub["variant_id"].tolist())
                    kept, _ = greedy_clump(sub[col].to_numpy(float), R=R, r2=r2, p_max=thr)
                sel |= set(sub["variant_id"].iloc[kept])
            st[f"selected_{'xqtl' if col == 'xqtl_minp' else 'gwas'}"] = int(len(sub))
        del lazy
        chosen = cand[cand["variant_id"].isin(sel)]
        if mod.empty and cand.empty:
            return _empty_bundle(locus_id, "no variant present in GWAS, xQTL and panel", st)
    # prediction-model weight variants present in the GWAS and the panel (some may lie outside the window)
    mvar = gw.iloc[:0]
    if len(mod):
        lo, hi = int(mod["pos"].min()), int(mod["pos"].max())
        gw_m = gw if (lo >= start and hi <= end) else read_range(gwas_path, chrom, min(lo, start), max(hi, end),
                                                                 gwas_cols)
        mset = set(mod["variant_id"])
        in_pan = set(_panel_range(panel, chrom, min(lo, start), max(hi, end))["variant_id"])
        mvar = gw_m[gw_m["variant_id"].isin(mset) & gw_m["variant_id"].isin(in_pan)]
        mvar = mvar.drop_duplicates("variant_id")
        st["model_variants_not_in_gwas"] = len(mset) - len(mvar)
        st["model_variants_outside_window"] = int((~mvar["pos"].between(start, end)).sum())
    selected = set(chosen["variant_id"])
    n_union = len(selected | set(mvar["variant_id"]))
    if n_union > max_variants:
        # model variants first: the models' predictions need them; then the best of the C+T selection
        if len(mvar) > max_variants:
            mvar = mvar.iloc[np.sort(np.lexsort((mvar["pos"].to_numpy(), mvar["p"].to_numpy(float)))[:max_variants])]
        rest = chosen[~chosen["variant_id"].isin(set(mvar["variant_id"]))]
        best = np.minimum(rest["p"].to_numpy(float), rest["xqtl_minp"].to_numpy(float))
        keep = np.sort(np.lexsort((rest["pos"].to_numpy(), best))[:max_variants - len(mvar)])
        chosen = rest.iloc[keep]
        st["dropped_max_variants"] = n_union - len(chosen) - len(mvar)
    added = mvar[~mvar["variant_id"].isin(set(chosen["variant_id"]))]
    if len(mod):  # model variants the C+T selection did not have
        st["model_variants_added"] = int((~mvar["variant_id"].isin(selected)).sum())
    chosen = pd.concat([chosen[gwas_cols], added[gwas_cols]], ignore_index=True)
    chosen = chosen.sort_values("pos", kind="stable").reset_index(drop=True)
    if chosen.empty:
        return _empty_bundle(locus_id, "no variant passes the xQTL or GWAS thresholds" if mod.empty
                             else "no variant passes the xQTL or GWAS thresholds and no model variant is in the GWAS",
                             st)
    vids = chosen["variant_id"].to_numpy(str)
    R = ld(panel, vids.tolist())
    vpos = pd.Series(np.arange(len(vids)), index=vids)
    names = gene_names or {}
    # summary-statistic pairs: xQTL z of every locus variant they were tested on
    # second pass over the window: the rows of the locus variants only
    wanted = np.zeros(len(universe), dtype=bool)
    ui = universe.get_indexer(vids)
    wanted[ui[ui >= 0]] = True
    xw = _xqtl_window(xqtl_dirs, chrom, start, end, universe, wanted, xw) if xw.n_rows else xw
    pair_ids, xz, meta = _pair_matrix(xw, universe, vids)
    pairs = pd.DataFrame({
        "pair_id": pair_ids, "gene_id": meta["gene_id"].to_numpy(str),
        "gene_name": [names.get(g, "") for g in meta["gene_id"]], "tissue": meta["tissue"].to_numpy(str),
        "qtl_type": meta["qtl_type"].to_numpy(str), "n_tested": meta["n_tested"].to_numpy(np.int64),
        "source": "sumstats", "n_model": meta["n_tested"].to_numpy(np.int64),
    })
    # model pairs: their weights on the locus variants (0 elsewhere), every model pair of the window kept
    model_ids = np.unique(mod["pair_id"].to_numpy(str))
    clash = np.intersect1d(model_ids, pair_ids)
    if clash.size:
        raise LocusError.at("a prediction-model pair has the same id as a summary-statistic pair",
                            column="tissue", found=clash[0],
                            expected="a tissue name of its own for the model dataset (e.g. Liver_model)")
    W = np.zeros((len(vids), len(model_ids)))
    if len(mod):
        on = mod[mod["variant_id"].isin(set(vids))]
        qcode = np.searchsorted(model_ids, on["pair_id"].to_numpy(str))
        W[vpos[on["variant_id"]].to_numpy(), qcode] = on["weight"].to_numpy(float)
        mmeta = mod.groupby("pair_id", sort=True).agg(gene_id=("gene_id", "first"), tissue=("tissue", "first"),
                                                      qtl_type=("qtl_type", "first"), n_model=("n_model", "first"))
        pairs = pd.concat([pairs, pd.DataFrame({
            "pair_id": model_ids, "gene_id": mmeta["gene_id"].to_numpy(str),
            "gene_name": [names.get(g, "") for g in mmeta["gene_id"]], "tissue": mmeta["tissue"].to_numpy(str),
            "qtl_type": mmeta["qtl_type"].to_numpy(str), "n_tested": np.count_nonzero(W, axis=0).astype(np.int64),
            "source": "model", "n_model": mmeta["n_model"].to_numpy(np.int64),
        })], ignore_index=True)
    n = chosen["n"].to_numpy(float)
    n_out = np.array(n[0]) if np.all(n == n[0]) else n
    # locus variants (model variants too, which may lie outside the window): a binary search, not the panel
    lo_v, hi_v = int(chosen["pos"].min()), int(chosen["pos"].max())
    pr = _panel_range(panel, chrom, min(lo_v, start), max(hi_v, end))
    freq = pr["counted_freq"].to_numpy(float)[pd.Index(pr["variant_id"].to_numpy()).get_indexer(vids)]
    st.update(M=len(vids), P=len(pair_ids))
    if len(mod):
        st["Q"] = len(model_ids)
    return LocusBundle(locus_id, vids, chosen["pos"].to_numpy(np.int64), chosen["z"].to_numpy(float), n_out, R,
                       freq, xz, meta["n"].to_numpy(float), pairs, reason="", stats=st, model_W=W)


def write_bundle(b: LocusBundle, out_dir: str | Path) -> None:
    """Write ``{locus_id}.npz`` and ``{locus_id}.pairs.parquet`` (docs/outputs.md "Locus bundle")."""
    out_dir = Path(out_dir)
    write_npz(out_dir / f"{b.locus_id}.npz", variant_ids=b.variant_ids.astype(str), pos=b.pos, z=b.z, n=b.n,
              R=b.R, freq=b.freq, xqtl_z=b.xqtl_z, xqtl_n=b.xqtl_n, model_W=b.model_W, reason=np.array(b.reason))
    write_parquet(b.pairs, out_dir / f"{b.locus_id}.pairs.parquet")


def read_bundle(out_dir: str | Path, locus_id: str) -> LocusBundle:
    """Read a bundle written by :func:`write_bundle` (also one written before ``model_W`` existed)."""
    out_dir = Path(out_dir)
    try:
        with np.load(out_dir / f"{locus_id}.npz", allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        pairs = pd.read_parquet(out_dir / f"{locus_id}.pairs.parquet")
    except (OSError, ValueError, zipfile.BadZipFile) as exc:  # a corrupt file: a per-locus data problem
        raise InputError.at("unreadable locus bundle", file=out_dir / f"{locus_id}.npz", found=str(exc),
                            expected="the .npz + .pairs.parquet written by locus_inputs (rerun that chunk)") from exc
    return LocusBundle(locus_id, arrays["variant_ids"], arrays["pos"], arrays["z"], arrays["n"], arrays["R"],
                       arrays["freq"], arrays["xqtl_z"], arrays["xqtl_n"], pairs, reason=str(arrays["reason"]),
                       model_W=arrays.get("model_W"))


def bundle_locus(locus: Mapping[str, Any], out_dir: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Build and write one locus bundle; returns its manifest record (status, reason, M, P, stats).

    ``kwargs`` go to :func:`build_locus`. The chunk loop (failure isolation, the manifest) is the caller's:
    :func:`twasflow.stages.locus_inputs` runs this per locus through :func:`twasflow.chunks.run_loci`.
    """
    b = build_locus(locus, **kwargs)
    write_bundle(b, out_dir)
    if b.reason:
        log.info("  %s: %s", locus["locus_id"], b.reason)
    return {"status": "ok" if b.M and b.P else "empty", "reason": b.reason, "M": b.M, "P": b.P, "stats": b.stats}
