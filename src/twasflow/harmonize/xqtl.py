"""``harmonize_xqtl``: an xQTL file (GTEx parquet by chromosome, eQTL Catalogue TSV) to the panel."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import HarmonizeError
from ..io.tables import write_json, write_parquet

from .codes import (_BUILD_MIN_ROWS, _N_CODES, _R, CODE_CHROM, STRAND_CONSENSUS_MAX_FLIP, _blank, _sheet_n,
                    normalize_build, normalize_chrom)
from .match import PanelIndex
from .accumulate import _Acc, _Final, _build_check, _consume, _finalize, _no_overlap_error, _settings


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
