"""``harmonize_xqtl``: an xQTL file (GTEx parquet by chromosome, eQTL Catalogue TSV) to the panel."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import HarmonizeError
from ..io.tables import ParquetStream, write_json, write_parquet
from ..io.xqtl import GtexBlock
from ..io import xqtl_store as store
from ..io.xqtl_store import TRACK_SUFFIX

from .codes import (_BUILD_MIN_ROWS, _N_CODES, _R, CODE_CHROM, REASONS, STRAND_CONSENSUS_MAX_FLIP, Settings, _blank,
                    _sheet_n, normalize_build, normalize_chrom)
from .match import PanelIndex, match_to_panel
from .rows import effect_qc, variant_qc
from .accumulate import (_Acc, _build_check, _consume, _no_overlap_error, _nofreq_warning, _prefetch, _resolve_rows,
                         _settings, _strand_consensus)


# --------------------------------------------------------------------------------------------------
# xQTL


_ENSG = re.compile(r"(ENSG\d+)(?:\.\d+)?")


def gene_id_of(phenotype_id: str) -> str | None:
    """Ensembl gene id (version stripped) of a phenotype id; for sQTL clusters the trailing ENSG."""
    hits = _ENSG.findall(phenotype_id or "")
    return hits[-1] if hits else None


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


_XQTL_SCHEMA = pa.schema([(f.name, pa.dictionary(pa.int32(), pa.string()) if f.type == pa.string() else f.type)
                          for f in _empty_xqtl().schema])
#: Dictionary pages only where values repeat, statistics only on the columns readers filter on, sorted positions
#: delta-encoded, effects byte-stream-split (as for the GWAS): 0.6 instead of 1.1 CPU-s to encode 2e6 rows, 10%
#: smaller, and a locus reads pos/z 2.5x faster.
_XQTL_PARQUET = dict(use_dictionary=[c.name for c in _XQTL_SCHEMA if pa.types.is_dictionary(c.type)] + ["n"],
                     write_statistics=["pos", "tss_distance"],
                     column_encoding={"pos": "DELTA_BINARY_PACKED"} | {c: "BYTE_STREAM_SPLIT" for c in ("z", "beta", "se")})
#: Rows per output row group: a locus reads the row groups its window overlaps (by their ``pos`` statistics), so
#: groups of ~130 kb (sQTL at GTEx density) instead of whole 1 Mb bins spare most rows outside a 2 Mb window.
_ROW_GROUP = 1 << 17
_TRACK_ROW_GROUP = 1 << 14
#: Spilled rows are grouped by (chromosome code, position >> _BIN_SHIFT): 1 Mb bins, one output row group each.
_BIN_SHIFT = 20
#: Matched-row columns a stream spills (all fixed-width: 54 bytes per row, 34 for GTEx). Rows keep their file
#: order within a bin, which is all the duplicate rule (first row wins) needs.
_SPILL = {"pidx": pa.int64(), "fidx": pa.int32(), "gidx": pa.int32(), "sign": pa.int8(),
          "flipped": pa.bool_(), "palin": pa.bool_(), "z": pa.float64(), "beta": pa.float64(),
          "se": pa.float64(), "n": pa.float64(), "eaf": pa.float64(), "tss": pa.float64()}


class _Strings:
    """A growing dictionary of strings (phenotype or gene ids of one stream) → int32 codes."""

    def __init__(self) -> None:
        self.code: dict[str, int] = {}

    def codes_of(self, dic: pa.Array) -> np.ndarray:
        """Codes (int32) of the entries of a small dictionary array (nulls → -1)."""
        get = self.code.setdefault
        return np.array([-1 if x is None else get(x, len(self.code)) for x in dic.to_pylist()] + [-1],
                        dtype=np.int32)

    def array(self) -> pa.Array:
        return pa.array(list(self.code), pa.string())


class _Stream:
    """The matched rows of one input stream (a GTEx chromosome file, or a whole eQTL Catalogue file), spilled
    to disk in position bins, then resolved (strand consensus, palindromes, duplicates), ordered and written bin
    by bin: memory stays bounded by the rows of one bin, whatever the file size."""

    def __init__(self, tmp: Path, label: str, const: Mapping[str, Any] | None = None) -> None:
        """``const``: columns with one value on every row (GTEx: no gene_id column, no frequency, the sheet's n),
        not spilled."""
        self.const = dict(const or {})
        self.spill = {k: t for k, t in _SPILL.items() if k not in self.const}
        self.dir = tmp / label
        self.dir.mkdir()
        self.writers: dict[int, Any] = {}
        self.pheno = _Strings()
        self.gene = _Strings()  # the file's own gene_id column (eQTL Catalogue)
        self.first_gene: dict[int, int] = {}
        self.n_flip = 0
        self.n_direct = 0

    def note_genes(self, fidx: np.ndarray, gidx: np.ndarray) -> None:
        """Remember each phenotype's gene: the file's gene_id of its first matched row that has one."""
        has = gidx >= 0
        f, first = np.unique(fidx[has], return_index=True)
        for fi, gi in zip(f.tolist(), gidx[has][first].tolist()):
            self.first_gene.setdefault(fi, gi)

    def add(self, index: PanelIndex, block: Mapping[str, np.ndarray]) -> None:
        pidx = block["pidx"]
        if not len(pidx):
            return
        npal = ~block["palin"]
        fl = block["flipped"]
        self.n_flip += int((fl & npal).sum())
        self.n_direct += int((~fl & npal).sum())
        key = index.keys[pidx]
        bins = ((key >> 32) << 12 | ((key & 0xFFFFFFFF) >> _BIN_SHIFT)).astype(np.int32)
        if np.all(bins == bins[0]):
            order, cuts, ubins = None, [0, len(bins)], [int(bins[0])]
        else:
            order = np.argsort(bins, kind="stable")
            sb = bins[order]
            cuts = np.r_[0, np.flatnonzero(sb[1:] != sb[:-1]) + 1, len(sb)]
            ubins = sb[cuts[:-1]].tolist()
        cols = {name: block[name] for name in self.spill}
        if order is not None:
            cols = {name: v[order] for name, v in cols.items()}
        for b, lo, hi in zip(ubins, cuts[:-1], cuts[1:]):
            w = self.writers.get(b)
            if w is None:
                sink = pa.OSFile(str(self.dir / f"{b}.arrow"), "wb")
                w = self.writers[b] = (sink, pa.ipc.new_stream(sink, pa.schema(self.spill.items())))
            w[1].write_batch(pa.record_batch([pa.array(cols[name][lo:hi], type=t) for name, t in self.spill.items()],
                                             names=list(self.spill)))

    def bins(self) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """(bin key, columns) of every bin in position order."""
        for sink, w in self.writers.values():
            w.close()
            sink.close()
        for b in sorted(self.writers):
            f = self.dir / f"{b}.arrow"
            with pa.memory_map(str(f)) as src:
                t = pa.ipc.open_stream(src).read_all()
            cols = {name: t.column(name).to_numpy() for name in self.spill}
            for name, v in self.const.items():
                cols[name] = np.full(t.num_rows, v, dtype=_SPILL[name].to_pandas_dtype())
            del t
            f.unlink()
            yield b, cols


def _bin_table(index: PanelIndex, cols: Mapping[str, np.ndarray], keep: np.ndarray, sign: np.ndarray,
               pheno: pa.Array, pair: pa.Array, gene_of: np.ndarray, genes: pa.Array, tissue: str,
               qtl_type: str) -> pa.Table:
    """The output rows ``keep`` (in output order) of one bin, string columns dictionary-coded."""
    m = len(keep)
    pidx = cols["pidx"][keep]
    f = cols["fidx"][keep]

    def dict_col(codes: np.ndarray, values: pa.Array) -> pa.Array:
        used = np.flatnonzero(np.bincount(codes, minlength=len(values)))
        remap = np.zeros(len(values), dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return pa.DictionaryArray.from_arrays(pa.array(remap[codes]), values.take(pa.array(used)))

    starts = np.r_[True, pidx[1:] != pidx[:-1]]
    vcode = (np.cumsum(starts) - 1).astype(np.int32)
    vids = index.table.column("variant_id").chunk(0).take(pa.array(pidx[starts])).cast(pa.string())
    tss = cols["tss"][keep]
    bad = ~np.isfinite(tss)
    const = pa.array(np.zeros(m, dtype=np.int32))
    s = sign.astype(np.float64)
    return pa.Table.from_arrays([
        dict_col(f, pair), dict_col(f, pheno), dict_col(gene_of[f], genes),
        pa.DictionaryArray.from_arrays(const, pa.array([tissue], pa.string())),
        pa.DictionaryArray.from_arrays(const, pa.array([qtl_type], pa.string())),
        pa.DictionaryArray.from_arrays(pa.array(vcode), vids),
        pa.array(index.keys[pidx] & 0xFFFFFFFF),
        pa.array(cols["z"][keep] * s),
        pa.array(cols["n"][keep]),
        pa.array(cols["beta"][keep] * s, from_pandas=True),
        pa.array(cols["se"][keep], from_pandas=True),
        pa.array(np.where(bad, 0, tss).astype(np.int64), type=pa.int64(), mask=bad),
    ], schema=_XQTL_SCHEMA)


#: The per-variant track beside each ``{chrom}.parquet``: for every (variant, TSS) the largest |z| over the pairs
#: with that TSS and the number of rows. A locus selects its variants from it (the xQTL min-p over the pairs whose
#: TSS lies in its window) without reading every pair's rows: sQTL intron clusters of a gene share its TSS, so the
#: track has about one row per variant and gene. Written only when every pair's TSS is one value (or unknown on
#: every row), which makes it exact; the footer key ``rows`` ties it to its data file.
# TRACK_SUFFIX and the track/rows/pairs layout: twasflow.io.xqtl_store (defined in twasflow.tables_schema).


def _bin_track(tab: pa.Table, f: np.ndarray, ptss: np.ndarray, base: int) -> pa.Table:
    """The track rows of one output bin ``tab`` (rows by position): ``f`` (R,) the rows' phenotype codes,
    ``ptss`` the phenotypes' TSS (NaN: unknown), ``base`` the data file's rows before this bin. Rows ordered by
    position, then TSS (unknown last); ``row`` is the variant's first row in the data file."""
    var = tab.column("variant_id").chunk(0) if isinstance(tab.column("variant_id"), pa.ChunkedArray) \
        else tab.column("variant_id")
    vcode = var.indices.to_numpy(zero_copy_only=False)
    used = np.flatnonzero(np.bincount(f, minlength=len(ptss)))
    t_used = ptss[used]
    groups, ginv = np.unique(np.where(np.isnan(t_used), np.inf, t_used), return_inverse=True)
    gof = np.zeros(len(ptss), dtype=np.int64)
    gof[used] = ginv.ravel()
    G = len(groups)
    key = vcode.astype(np.int64) * G + gof[f]
    size = len(var.dictionary) * G
    mx = np.full(size, -1.0)
    np.maximum.at(mx, key, np.abs(tab.column("z").to_numpy()))
    cnt = np.bincount(key, minlength=size)
    cell = np.flatnonzero(cnt)
    v, g = cell // G, cell % G
    pos_of_v = np.zeros(len(var.dictionary), dtype=np.int64)
    pos_of_v[vcode] = tab.column("pos").to_numpy()
    tss = groups[g]
    unknown = ~np.isfinite(tss)
    first = np.searchsorted(vcode, v, "left")  # the bin's rows are by variant (vcode nondecreasing)
    return pa.Table.from_arrays([
        pa.DictionaryArray.from_arrays(pa.array(v.astype(np.int32)), var.dictionary),
        pa.array(pos_of_v[v]), pa.array(np.where(unknown, 0, tss).astype(np.int64), mask=unknown),
        pa.array(mx[cell]), pa.array(cnt[cell].astype(np.int64)), pa.array(base + first.astype(np.int64))],
        schema=store.TRACK_SCHEMA)


def _pheno_rank(pheno: pa.Array) -> np.ndarray:
    """Rank (int64) of each string of ``pheno`` (distinct values) in sorted order."""
    o = pc.sort_indices(pheno).to_numpy()
    rank = np.empty(len(o), dtype=np.int64)
    rank[o] = np.arange(len(o))
    return rank


def _gtex_consume(blocks: Iterator[GtexBlock], index: PanelIndex, acc: _Acc, panel_hit: np.ndarray, stream: _Stream,
                  *, sheet_n: float) -> None:
    """Row QC and matching of GTEx blocks, once per distinct variant; matched rows go to ``stream``.

    Reasons, counters and build-check bookkeeping come out as :func:`accumulate._consume` gives them row by row.
    """
    missing, bad_id = _R["missing_value"], _R["invalid_variant_id"]
    nreason = len(REASONS) + 1
    for blk in _prefetch(blocks):
        r = len(blk)
        acc.n_input += r
        vb = blk.variant_batch()
        vreason, vcc, vpos, vea, voa = variant_qc(vb)
        # a row without a phenotype id counts as missing_value (after a malformed variant id)
        no_ph = blk.fidx < 0
        reason = vreason[blk.vidx]
        if no_ph.any():
            reason[no_ph & (reason != bad_id)] = missing
        rows = effect_qc(blk.numbers, reason, sheet_n=sheet_n)
        acc.p_zero_kept += rows.p_zero_kept
        ok = reason == 0
        # matching: once per distinct variant that some row still needs
        vcnt = np.bincount(blk.vidx[ok], minlength=len(vreason))
        vsel = np.flatnonzero(vcnt)
        m = match_to_panel(index, vcc[vsel].astype(np.int64), vpos[vsel], vea[vsel], voa[vsel])
        vstatus = np.zeros(len(vreason), dtype=np.int8)
        vstatus[vsel] = m.status
        reason[ok] = vstatus[blk.vidx[ok]]
        acc.counts += np.bincount(reason, minlength=nreason)
        if len(acc.chroms_seen) < 100:
            used = np.flatnonzero(np.bincount(blk.vidx, minlength=len(vreason)))
            acc.chroms_seen.update(str(x) for x in pc.unique(vb.strings["chrom"].take(pa.array(used))).to_pylist())
            if no_ph.any():
                acc.chroms_seen.add("None")
        # build check bookkeeping, per variant weighted by its rows
        cc = vcc[vsel].astype(np.int64)
        ps = vpos[vsel]
        onp = m.status != _R["chrom_not_in_panel"]
        if onp.any():
            cco, pso = cc[onp], ps[onp]
            for c in np.flatnonzero(np.bincount(cco, minlength=_N_CODES)):
                pc_ = pso[cco == c]
                acc.fmin[c] = min(acc.fmin[c], int(pc_.min()))
                acc.fmax[c] = max(acc.fmax[c], int(pc_.max()))
            key = (cc << 32) | ps
            dom = onp & (key >= index.chrom_lo_key[cc]) & (key <= index.chrom_hi_key[cc])
            w = vcnt[vsel]
            acc.dom_rows += int(w[dom].sum())
            acc.dom_match += int(w[dom & (m.status == 0)].sum())
        good = m.status == 0
        panel_hit[m.pidx[good]] = True
        keep = np.flatnonzero(reason == 0)
        if not len(keep):
            continue
        vpidx = np.full(len(vreason), -1, dtype=np.int64)
        vpidx[vsel] = m.pidx
        vsign = np.zeros(len(vreason), dtype=np.int8)
        vsign[vsel] = m.sign
        vflip = np.zeros(len(vreason), dtype=bool)
        vflip[vsel] = m.flipped
        vpal = np.zeros(len(vreason), dtype=bool)
        vpal[vsel] = m.palin
        kv = blk.vidx[keep]
        fcode = stream.pheno.codes_of(blk.phenotypes)
        tss = blk.numbers.get("tss")
        stream.add(index, {
            "pidx": vpidx[kv], "fidx": fcode[blk.fidx[keep]], "gidx": np.full(len(keep), -1, np.int32),
            "sign": vsign[kv], "flipped": vflip[kv], "palin": vpal[kv],
            "z": rows.z[keep], "beta": rows.beta[keep], "se": rows.se[keep], "n": rows.n[keep],
            "eaf": rows.eaf[keep], "tss": np.full(len(keep), np.nan) if tss is None else tss[keep]})


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
    groups of at most 131,072 rows (and a track, see ``TRACK_SUFFIX``); z, beta refer to the panel's counted allele.
    """
    from ..io import xqtl as xio

    settings = _settings(palindromic, maf_palindromic_max, build_check_min_match, strand_consensus_max_flip)
    sheet_n = _sheet_n(n, path)
    declared = normalize_build(declared_build)
    pbuild = normalize_build(panel_build)
    gmap = read_gene_map(gene_map)
    index = PanelIndex.build(panel_variants)
    out_dir = Path(out_dir)
    want = [CODE_CHROM[normalize_chrom(c)] if normalize_chrom(c) > 0 else str(c) for c in chroms] \
        if chroms is not None else index.chrom_labels
    if fmt == "gtex-parquet":
        xio.check_gtex_pattern(path)
        if sheet_n is None:
            raise HarmonizeError.at("sample size missing everywhere", file=path, column="n",
                                    found="no n in the sheet", expected="the xQTL sheet's n (GTEx files carry none)")
        missing = [c for c in want if not xio.gtex_file(path, c).is_file()]
        streams = [c for c in want if c not in missing]
    elif fmt == "eqtl-catalogue":
        missing, streams = [], [None]
    else:
        raise HarmonizeError.at("unknown xQTL format", file=path, column="format", found=repr(fmt),
                                expected="gtex-parquet or eqtl-catalogue")
    out = _Output(out_dir, want, tissue=tissue, qtl_type=qtl_type, gene_map=gmap)
    if missing:
        out.warnings.append(f"no file for chromosome(s) {', '.join(missing)}: written empty")
    acc_all = _Acc()
    panel_hit = np.zeros(len(index), dtype=bool)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".spill-*"):  # left by a killed run (one job writes a dataset's directory)
        shutil.rmtree(stale, ignore_errors=True)
    for c in want:  # a track of an earlier run must not describe this run's data
        _unlink_sidecars(out_dir, c)
    tmp = Path(tempfile.mkdtemp(prefix=".spill-", dir=out_dir))
    try:
        for i, chrom in enumerate(streams):
            acc = _Acc()
            stream = _Stream(tmp, str(i), {"gidx": -1, "eaf": np.nan, "n": sheet_n} if chrom is not None else None)
            if chrom is not None:
                _gtex_consume(xio.read_gtex_blocks(path, chrom), index, acc, panel_hit, stream, sheet_n=sheet_n)
            else:
                def sink(_offset: int, block: dict[str, Any], stream: _Stream = stream) -> None:
                    ph = pc.dictionary_encode(block.pop("phenotype_id"))
                    block["fidx"] = stream.pheno.codes_of(ph.dictionary)[ph.indices.fill_null(-1).to_numpy(
                        zero_copy_only=False)]
                    g = pc.dictionary_encode(block.pop("gene_id"))
                    block["gidx"] = stream.gene.codes_of(g.dictionary)[g.indices.fill_null(-1).to_numpy(
                        zero_copy_only=False)]
                    stream.note_genes(block["fidx"], block["gidx"])
                    stream.add(index, block)

                _consume(xio.read_eqtl_catalogue_batches(path, sheet_n=sheet_n), index, acc, panel_hit,
                         sheet_n=sheet_n, extra=["phenotype_id", "gene_id"], extra_num=["tss"], on_block=sink,
                         store=False)
            _merge_acc(acc_all, acc)
            if chrom is not None and acc_all.dom_rows >= 10 * _BUILD_MIN_ROWS:
                # fail on a wrong build after the first chromosome rather than after all of them
                _build_check(acc_all, index, panel_hit, path=path, declared=declared, panel=pbuild,
                             min_match=settings.build_check_min_match, warnings=[])
            out.write_stream(stream, acc, index, settings, chrom)
        if acc_all.n_input == 0:
            raise HarmonizeError.at("no data rows", file=path, expected="at least one xQTL association")
        if acc_all.fmax.max() < 0 and acc_all.counts[_R["chrom_not_in_panel"]] == acc_all.n_input:
            raise _no_overlap_error(path, acc_all, index)
        warnings: list[str] = []
        build = _build_check(acc_all, index, panel_hit, path=path, declared=declared, panel=pbuild,
                             min_match=settings.build_check_min_match, warnings=warnings)
        n_kept = out.finish()
    except BaseException:
        out.abort()
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    qc = {
        "input": str(path),
        "n_input": int(acc_all.n_input),
        "n_kept": int(n_kept),
        "dropped": dict(sorted((k, v) for k, v in out.dropped.items() if v)),
        "flipped_strand": int(out.flipped),
        "swapped_alleles": int(out.swapped),
        "palindromic_aligned": int(out.pal),
        "palindromic_kept_by_strand_consensus": int(out.pal_strand),
        "build": build,
        "warnings": out.warnings + warnings,
        "format": fmt,
        "dataset": dataset,
        "tissue": tissue,
        "qtl_type": qtl_type,
        "n_pairs": len(out.pairs),
    }
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values()), qc
    write_json(qc, qc_out)
    return qc


class _Output:
    """The per-chromosome output files of one dataset, written bin by bin as each stream finishes, and the QC
    totals. Rows of a stream that fall on another stream's chromosome (a GTEx file holding a foreign
    chromosome) are kept aside and merged into that chromosome's file at :meth:`finish`."""

    def __init__(self, out_dir: Path, want: Sequence[str], *, tissue: str, qtl_type: str,
                 gene_map: Mapping[str, str] | None) -> None:
        self.dir, self.want = out_dir, list(want)
        self.tissue, self.qtl_type, self.gene_map = tissue, qtl_type, gene_map
        self.files: dict[str, ParquetStream] = {}
        self.tracks: dict[str, ParquetStream] = {}
        self.rows: dict[str, store.ArrowStream] = {}
        self.pairs_of: dict[str, pa.Table] = {}  # chromosome → its stream's pairs table (written with the track)
        self.no_track: set[str] = set()  # chromosomes whose track would not be exact (or complete)
        self.done: dict[str, int] = {}  # chromosome → rows written
        self.strays: dict[str, list[pa.Table]] = {}
        self.dropped: dict[str, int] = {}
        self.flipped = self.swapped = self.pal = self.pal_strand = 0
        self.warnings: list[str] = []
        self.pairs: set[str] = set()

    def _genes(self, stream: _Stream) -> tuple[np.ndarray, pa.Array]:
        """(gene code of every phenotype of the stream, the gene strings): the file's gene_id (first row with
        one), else the ENSG of the phenotype id; a gene map overrides both."""
        phen = list(stream.pheno.code)
        given = list(stream.gene.code)
        genes = [gene_id_of(p) for p in phen]
        for f, g in stream.first_gene.items():
            genes[f] = gene_id_of(given[g]) or given[g]
        if self.gene_map:
            genes = [self.gene_map.get(p, g) for p, g in zip(phen, genes)]
        enc = pc.dictionary_encode(pa.array(genes, pa.string()))
        return enc.indices.to_numpy(zero_copy_only=False).astype(np.int32), enc.dictionary

    def write_stream(self, stream: _Stream, acc: _Acc, index: PanelIndex, settings: Settings,
                     chrom: str | None) -> None:
        npal_warn = 0
        strand = _strand_consensus(stream.n_flip, stream.n_direct, settings)
        counts = acc.counts.copy()
        pheno = stream.pheno.array()
        prank = _pheno_rank(pheno) if len(pheno) else np.zeros(0, np.int64)
        pair = pc.binary_join_element_wise(pheno, pa.scalar(f"|{self.tissue}|{self.qtl_type}"), "")
        gene_of = genes = None
        kept_ph = np.zeros(len(pheno), dtype=bool)
        # each phenotype's TSS (NaN unknown, inf not seen yet): the track needs one per phenotype
        ptss = np.full(len(pheno), np.inf)
        regular = True
        touched: set[str] = set()
        for b, cols in stream.bins():
            pidx, sign = cols["pidx"], cols["sign"]
            reason, sign, flipped, by_strand, nofreq = _resolve_rows(
                sign, cols["flipped"], cols["palin"], cols["eaf"], pidx, index, settings, strand)
            npal_warn += int(nofreq.sum())
            # duplicates (same variant and phenotype): the first row of the file wins
            f = cols["fidx"]
            cand = np.flatnonzero(reason == 0)
            # output order, position (panel order) then phenotype id, as one int64 key; a bin's rows are in file
            # order, so a stable sort puts the first row of a duplicated (variant, phenotype) first
            base = int(pidx.min()) if len(pidx) else 0
            key = (pidx[cand] - base) * max(len(prank), 1) + prank[f[cand]]
            o = np.argsort(key, kind="stable")
            ks = key[o]
            dup = np.zeros(len(o), dtype=bool)
            dup[1:] = ks[1:] == ks[:-1]
            reason[cand[o[dup]]] = _R["duplicate"]
            counts += np.bincount(reason, minlength=len(counts))
            keep = cand[o[~dup]]
            if not len(keep):
                continue
            if gene_of is None:
                gene_of, genes = self._genes(stream)
            kept_ph[f[keep]] = True
            nb = int(by_strand[keep].sum())
            self.flipped += int(flipped[keep].sum())
            self.swapped += int((sign[keep] < 0).sum())
            self.pal += int(cols["palin"][keep].sum()) - nb
            self.pal_strand += nb
            tab = _bin_table(index, cols, keep, sign[keep], pheno, pair, gene_of, genes, self.tissue, self.qtl_type)
            c = CODE_CHROM.get(b >> 12, str(b >> 12))
            if c not in self.want:
                self.dropped["chrom_not_requested"] = self.dropped.get("chrom_not_requested", 0) + tab.num_rows
            elif chrom is not None and c != chrom:
                self.strays.setdefault(c, []).append(tab)
                self.no_track.add(c)
            else:
                self._file(c).write(tab)
                touched.add(c)
                if regular and c not in self.no_track:
                    # the pair's TSS = pos - tss_distance, as a locus computes it from the written rows
                    fk = f[keep]
                    tk = (index.keys[cols["pidx"][keep]] & 0xFFFFFFFF).astype(np.float64) - cols["tss"][keep]
                    new_ph = np.isinf(ptss[fk])
                    ptss[fk[new_ph]] = tk[new_ph]
                    same = (ptss[fk] == tk) | (np.isnan(ptss[fk]) & np.isnan(tk))
                    regular = bool(same.all())
                    if regular:
                        base = self._file(c).rows - tab.num_rows
                        self._track(c).write(_bin_track(tab, fk, ptss, base))
                        cols_ = [fk.astype(np.int32), tab.column("z").to_numpy()]
                        if "n" not in stream.const:  # the sample size may vary within a pair (an / 2)
                            cols_.append(tab.column("n").to_numpy())
                        self._rows(c, "n" not in stream.const).write(cols_)
        counts[0] = 0
        for i in np.flatnonzero(counts):
            self.dropped[REASONS[i - 1]] = self.dropped.get(REASONS[i - 1], 0) + int(counts[i])
        warns = strand.warnings + _nofreq_warning(npal_warn, strand, settings)
        if acc.p_zero_kept:
            warns.append(f"{acc.p_zero_kept} rows with p = 0 kept; their p is recomputed from beta/se")
        self.warnings += [w if chrom is None else f"chr{chrom}: {w}" for w in warns]
        self.pairs.update(pair.filter(pa.array(kept_ph)).to_pylist())
        if not regular:  # a pair with several TSS values: loci scan these chromosomes' rows instead
            self.no_track |= touched
        elif gene_of is not None:
            pn = np.full(len(pheno), float(stream.const["n"]) if "n" in stream.const else np.nan)
            pt = store.pairs_table(pair, pheno, gene_of, genes, self.tissue, self.qtl_type, ptss, pn)
            for c in touched:
                self.pairs_of[c] = pt
        if chrom is not None:
            self._close(chrom)
        else:
            for c in list(self.files):
                self._close(c)

    def _file(self, chrom: str) -> ParquetStream:
        f = self.files.get(chrom)
        if f is None:
            if chrom in self.done:  # a second stream writing this chromosome: merged at finish
                raise AssertionError(f"chromosome {chrom} written twice")
            f = self.files[chrom] = ParquetStream(self.dir / f"{chrom}.parquet", _XQTL_SCHEMA,
                                                  row_group_size=_ROW_GROUP, **_XQTL_PARQUET)
        return f

    def _track(self, chrom: str) -> ParquetStream:
        t = self.tracks.get(chrom)
        if t is None:
            t = self.tracks[chrom] = ParquetStream(self.dir / f"{chrom}{TRACK_SUFFIX}", store.TRACK_SCHEMA,
                                                   row_group_size=_TRACK_ROW_GROUP, **store.TRACK_PARQUET)
        return t

    def _rows(self, chrom: str, with_n: bool) -> store.ArrowStream:
        r = self.rows.get(chrom)
        if r is None:
            r = self.rows[chrom] = store.ArrowStream(self.dir / f"{chrom}{store.ROWS_SUFFIX}",
                                                     store.rows_schema(with_n))
        return r

    def _close(self, chrom: str) -> None:
        f = self.files.pop(chrom, None)
        if f is not None:
            f.close()
            self.done[chrom] = f.rows
        t = self.tracks.pop(chrom, None)
        r = self.rows.pop(chrom, None)
        pt = self.pairs_of.pop(chrom, None)
        if t is not None:
            if chrom in self.no_track or f is None or r is None or pt is None:
                t.abort()
                if r is not None:
                    r.abort()
            else:
                r.close()
                store.write_pairs(pt, self.dir / f"{chrom}{store.PAIRS_SUFFIX}", f.rows, r.batch_rows)
                t.close({"rows": str(f.rows)})

    def finish(self) -> int:
        """Write empty files and merge the kept-aside rows; returns the number of rows kept."""
        for c in list(self.files):
            self._close(c)
        for c in self.want:
            strays = self.strays.pop(c, [])
            if strays:  # the data file is rewritten with them: its track no longer covers it
                _unlink_sidecars(self.dir, c)
            if not strays:
                if c not in self.done:
                    write_parquet(_empty_xqtl(), self.dir / f"{c}.parquet")
                    self.done[c] = 0
                continue
            parts = ([pq.read_table(self.dir / f"{c}.parquet")] if self.done.get(c) else []) + \
                [t.cast(_empty_xqtl().schema) for t in strays]
            t = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
            if len(parts) > 1:
                t = t.take(pc.sort_indices(t, [("pos", "ascending"), ("phenotype_id", "ascending"),
                                               ("variant_id", "ascending")]))
            write_parquet(t, self.dir / f"{c}.parquet", row_group_size=_ROW_GROUP)
            self.done[c] = t.num_rows
        return sum(self.done.values())

    def abort(self) -> None:
        for f in [*self.files.values(), *self.tracks.values(), *self.rows.values()]:
            f.abort()
        self.files.clear()
        self.tracks.clear()
        self.rows.clear()


def _unlink_sidecars(out_dir: Path, chrom: str) -> None:
    """Remove a chromosome's track, rows file and pairs table (the variant-major side of the store)."""
    for suffix in (store.TRACK_SUFFIX, store.ROWS_SUFFIX, store.PAIRS_SUFFIX):
        (out_dir / f"{chrom}{suffix}").unlink(missing_ok=True)


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
