"""Rule ``gene_tests`` (one chunk of a trait's loci) and ``gene_tests_trait`` (the trait's tables): orchestration.

Genes tested: those whose TSS lies inside a locus window of the chunk. Per locus the harmonized GWAS is read
once over the window ± ``tss_window``; one panel LD matrix covers every annotation-class and element variant set
of the locus; the cross-tissue tests use the locus bundle's LD and the stage-1 weights of the gene's pairs.

Outputs (Parquet): ``{chunk}.tests.parquet`` (:data:`TESTS_COLUMNS`, one row per test) and
``{chunk}.genes.parquet`` (:data:`GENES_COLUMNS`, one row per gene); the trait rule concatenates the chunks
into ``results/gene_tests/{trait}.tests.parquet`` and ``{trait}.genes.parquet``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..chunks import run_loci, summarize
from ..errors import InputError
from ..locus_weights import read_locus_weights, weights_path
from ..tables_schema import table
from .forms import mismatch_ld, q_test
from .gene import GeneInputs, GeneTestOptions, run_gene
from .inputs import ELEMENT_COLUMNS, CONSEQUENCE_COLUMNS, read_consequences, read_elements, read_tss

log = logging.getLogger(__name__)

TESTS_COLUMNS = table("gene_tests").names  # defined in twasflow.tables_schema
GENES_COLUMNS = table("gene_tests_genes").names
_DTYPES = {**table("gene_tests").pandas_dtypes(), **table("gene_tests_genes").pandas_dtypes()}


def _typed(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=list(columns))
    return df.astype({c: _DTYPES[c] for c in columns})


def options_from_config(cfg: Mapping[str, Any]) -> GeneTestOptions:
    """:class:`GeneTestOptions` from the config block ``gene_tests`` (defaults filled by the schema)."""
    return GeneTestOptions(combine=str(cfg["combine"]), ct_twas=str(cfg["ct_twas"]),
                           tss_alphas=tuple(float(a) for a in cfg["tss_alphas"]),
                           tss_window=int(round(float(cfg["tss_window_kb"]) * 1000)),
                           ld_safeguard=str(cfg["ld_safeguard"]),
                           smultixcan_condition_number=float(cfg["smultixcan_condition_number"]),
                           q_pvalue=str(cfg["q_pvalue"]))


def _gene_keys(genes: pd.DataFrame) -> dict[str, int]:
    """Gene id and name -> row of ``genes`` (annotation files name genes either way)."""
    keys: dict[str, int] = {}
    for i, (gid, name) in enumerate(zip(genes["gene_id"], genes["gene_name"])):
        for k in (gid, name):
            if k and k not in keys:
                keys[str(k)] = i
    return keys


def _allele_ok(df: pd.DataFrame) -> np.ndarray:
    """Rows (consequence joined to GWAS by position) whose consequence alleles, when given, are the GWAS
    variant's two alleles in either order."""
    a, b = df["ref"].to_numpy(str), df["alt"].to_numpy(str)
    o, c = df["other_allele"].to_numpy(str), df["counted_allele"].to_numpy(str)
    given = (a != "") & (b != "")
    return ~given | ((a == o) & (b == c)) | ((a == c) & (b == o))


class _Locus:
    """The variant sets of one locus and one LD matrix over all of them."""

    def __init__(self, gw: pd.DataFrame, panel: Any, sets: Mapping[Any, np.ndarray]) -> None:
        self.gw = gw
        union = np.unique(np.concatenate([v for v in sets.values()] or [np.zeros(0, np.int64)]))
        self.union = union
        if union.size:
            from ..ld import panel_ld
            ld = getattr(panel, "ld_function", panel_ld)  # a store's own LD: genotypes or precomputed (panel.ld)
            R = ld(panel, gw["variant_id"].to_numpy(str)[union].tolist())
            bad = np.isnan(np.diag(R))  # monomorphic in the panel: no LD, left out of the sets
            self.R = np.nan_to_num(R)
            self.good = ~bad
        else:
            self.R, self.good = np.zeros((0, 0)), np.zeros(0, bool)

    def test(self, rows: np.ndarray, opts: GeneTestOptions) -> Any:
        k = np.searchsorted(self.union, rows)
        k = k[self.good[k]]
        z = self.gw["z"].to_numpy(np.float64)[self.union[k]]
        return q_test(z, self.R[np.ix_(k, k)], safeguard=opts.ld_safeguard == "gambit", pvalue=opts.q_pvalue)


def locus_mismatch(bundle: Any, gw: pd.DataFrame, L: _Locus) -> float:
    """The locus's LD-mismatch ``s`` (λ; :func:`twasflow.susie.estimate_s_rss`, null MLE, as the LD gate
    estimates it): from the fine-mapping bundle's z and LD when there is one, else from the annotation variant
    sets' z and panel LD; 0 with fewer than two variants."""
    import warnings

    from ..susie import estimate_s_rss

    if bundle is not None and bundle.M >= 2:
        z, R = np.asarray(bundle.z, np.float64), np.asarray(bundle.R, np.float64)
        n = np.asarray(bundle.n, dtype=np.float64)
        n_gwas = float(np.nanmedian(n)) if n.size and np.isfinite(n).any() else None
    else:
        k = np.flatnonzero(L.good)
        z, R, n_gwas = gw["z"].to_numpy(np.float64)[L.union[k]], L.R[np.ix_(k, k)], None
    if z.size < 2:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # susieR's "provide n" advice: without n the test is the same null model
        return float(estimate_s_rss(z, R, n_gwas))


def run_locus(locus: Mapping[str, Any], genes: pd.DataFrame, gw: pd.DataFrame, cons: pd.DataFrame,
              elems: pd.DataFrame, panel: Any, opts: GeneTestOptions, bundle: Any = None,
              weights: Mapping[str, np.ndarray] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """All gene tests of one locus.

    Parameters
    ----------
    locus : ``locus_id, chrom, start, end``.
    genes : the TSS rows (gene_id, gene_name, chrom, tss) of the genes to test (TSS inside the window).
    gw : harmonized GWAS rows (variant_id, pos, z, other_allele, counted_allele) over the window ± TSS window,
        sorted by position, finite z only.
    cons, elems : consequence and element rows of the locus's chromosome (any genes).
    panel : :class:`twasflow.io.panel.Panel` (LD of the class and element variant sets).
    bundle, weights : the locus bundle and its stage-1 weights (``B``, ``pair_ids``, ``pair_status``), or None.
    """
    lid = str(locus["locus_id"])
    keys = _gene_keys(genes)
    pos = gw["pos"].to_numpy(np.int64)
    # annotation-class sets: (gene row, class, subclass) -> GWAS rows
    sets: dict[tuple[Any, ...], np.ndarray] = {}
    if len(cons):
        c = cons[cons["gene"].isin(keys)]
        if len(c):
            # by position, then alleles (a multi-allelic position has several GWAS rows)
            gpos = pd.DataFrame({"pos": pos, "row": np.arange(len(gw)),
                                 "other_allele": gw["other_allele"].to_numpy(str),
                                 "counted_allele": gw["counted_allele"].to_numpy(str)})
            c = c.merge(gpos, on="pos", how="inner")
            c = c[_allele_ok(c)]
            c = c.assign(g=[keys[x] for x in c["gene"]])
            for (g, cls, sub), grp in c.groupby(["g", "class", "subclass"], sort=True):
                sets[("class", g, cls, sub)] = np.unique(grp["row"].to_numpy(np.int64))
    elem_targets: dict[str, list[tuple[int, float]]] = {}
    if len(elems):
        e = elems[elems["gene"].isin(keys)]
        for eid, grp in e.groupby("element_id", sort=True):
            s, t = int(grp["start"].iloc[0]), int(grp["end"].iloc[0])
            rows = np.flatnonzero((pos > s) & (pos <= t))
            if rows.size:
                sets[("element", eid)] = rows
                elem_targets[str(eid)] = [(keys[gn], float(sc)) for gn, sc in zip(grp["gene"], grp["score"])]
    L = _Locus(gw, panel, sets)
    ld_s = np.nan
    if opts.ld_safeguard == "lambda":  # susieR's mismatch model: every test at the locus uses (1 - s) R + s I
        ld_s = locus_mismatch(bundle, gw, L)
        L.R = mismatch_ld(L.R, ld_s)
        if bundle is not None and bundle.M:
            import dataclasses

            bundle = dataclasses.replace(bundle, R=mismatch_ld(bundle.R, ld_s))
    per_gene: dict[int, GeneInputs] = {}
    for i, (gid, name, tss) in enumerate(zip(genes["gene_id"], genes["gene_name"], genes["tss"])):
        near = np.flatnonzero(np.abs(pos - int(tss)) <= opts.tss_window)
        per_gene[i] = GeneInputs(str(gid), str(name), dtss_z=gw["z"].to_numpy(np.float64)[near],
                                 dtss_d=(pos[near] - int(tss)).astype(np.float64))
    for key, rows in sets.items():
        if key[0] == "class":
            per_gene[key[1]].classes.append((key[2], key[3], L.test(rows, opts)))
        else:
            res = L.test(rows, opts)
            for g, score in elem_targets[key[1]]:
                per_gene[g].elements.append((key[1], score, res))
    if bundle is not None and weights is not None and bundle.M and bundle.P:
        B, status = weights["B"], weights["pair_status"].astype(str)
        pairs = bundle.pairs
        pg = pairs["gene_id"].astype(str).str.replace(r"\.\d+$", "", regex=True).to_numpy(str)
        labels = (pairs["tissue"].astype(str) + "|" + pairs["qtl_type"].astype(str)).to_numpy(str)
        for i, gi in per_gene.items():
            cols = np.flatnonzero((pg == gi.gene_id) & (status == "ok") & np.any(B != 0, axis=0))
            if cols.size:
                lab = labels[cols]
                if len(set(lab)) < lab.size:  # several phenotypes per tissue (sQTL introns): the pair ids
                    lab = pairs["pair_id"].to_numpy(str)[cols]
                gi.tissue_labels, gi.tissue_W = lab.tolist(), B[:, cols]
                gi.tissue_z, gi.tissue_R = bundle.z, bundle.R
    tests: list[dict[str, Any]] = []
    summ: list[dict[str, Any]] = []
    for i in sorted(per_gene):
        rows, s = run_gene(per_gene[i], opts)
        tests += [{"locus_id": lid} | r for r in rows]
        summ.append(s | {"chrom": str(locus["chrom"]), "tss": int(genes["tss"].iloc[i]), "locus_id": lid,
                         "ld_s": ld_s})
    return tests, summ


def gene_tests(trait: str, loci_tsv: str | Path, chunk: str | None, gwas: str | Path, panel_dir: str | Path,
               bundles_manifest: str | Path | None, weights_manifest: str | Path | None, out_tests: str | Path,
               out_genes: str | Path, log_dir: str | Path, options: Mapping[str, Any],
               annotations: Mapping[str, Any], locus: str | None = None) -> dict[str, Any]:
    """Rule ``gene_tests``: every gene test of one chunk of loci (or the one ``locus``).

    ``options`` is the config block ``gene_tests``; ``annotations`` maps ``tss`` (required: the gene
    annotation), ``consequences`` + ``consequences_format``, ``elements`` (optional paths) — resolved by the
    workflow (the example's files when it is simulated). Returns the chunk manifest (per-locus status).
    """
    from ..chunks import chunk_loci
    from ..io.panel import Panel
    from ..io.tables import write_parquet
    from ..locus import read_bundle, read_range
    from ..loci import read_loci, select_loci

    opts = options_from_config(options)
    table = select_loci(read_loci(loci_tsv), loci_tsv, chunk=chunk, locus=locus)
    if not annotations.get("tss"):
        raise InputError.at("gene tests need gene TSS positions", column="gene_tests.annotations.tss",
                            expected="a gene annotation table (or enrichment.gene_annotation)")
    tss = read_tss(annotations["tss"])
    cons = pd.DataFrame(columns=CONSEQUENCE_COLUMNS)
    if annotations.get("consequences"):
        cons, counts = read_consequences(annotations["consequences"], options["classes"],
                                         annotations.get("consequences_format") or "table")
        log.info("%s: consequences %s", trait, counts)
    elems = read_elements(annotations["elements"]) if annotations.get("elements") else \
        pd.DataFrame(columns=ELEMENT_COLUMNS)
    panel = Panel(panel_dir)
    status = {}
    if bundles_manifest is not None and Path(bundles_manifest).is_file():
        status = {r["locus_id"]: r["status"] for r in chunk_loci(bundles_manifest)}
    bdir = Path(bundles_manifest).parent if bundles_manifest else None
    wdir = Path(weights_manifest).parent if weights_manifest else None
    all_tests: list[dict[str, Any]] = []
    all_genes: list[dict[str, Any]] = []
    recs = table.to_dict("records")
    log.info("%s: gene tests at %d loci (%s)", trait, len(recs), opts)

    def one(rec: dict[str, Any]) -> dict[str, Any]:
        chrom, start, end = str(rec["chrom"]), int(rec["start"]), int(rec["end"])
        genes = tss[(tss["chrom"] == chrom) & (tss["tss"] >= start) & (tss["tss"] <= end)].reset_index(drop=True)
        if genes.empty:
            return {"status": "empty", "reason": "no gene TSS in the window", "n_genes": 0}
        gw = read_range(gwas, chrom, start - opts.tss_window, end + opts.tss_window,
                        ["variant_id", "pos", "z", "other_allele", "counted_allele"])
        gw = gw[np.isfinite(gw["z"].to_numpy(np.float64))].sort_values("pos", kind="stable").reset_index(drop=True)
        bundle = weights = None
        lid = rec["locus_id"]
        if bdir is not None and status.get(lid) == "ok" and wdir is not None and weights_path(wdir, lid).is_file():
            bundle = read_bundle(bdir, lid)
            w = read_locus_weights(wdir, lid)
            weights = {"B": w.B, "pair_ids": w.pair_ids, "pair_status": w.pair_status}
        tests, summ = run_locus(rec, genes, gw, cons[cons["chrom"] == chrom], elems[elems["chrom"] == chrom],
                                panel, opts, bundle, weights)
        all_tests.extend(tests)
        all_genes.extend(summ)
        return {"status": "ok", "reason": "", "n_genes": len(summ), "n_tests": len(tests)}

    res = run_loci(recs, log_dir, one)
    tests_df = _typed(all_tests, TESTS_COLUMNS)
    genes_df = pd.DataFrame(all_genes)
    if len(genes_df):
        genes_df["significant"] = genes_df["omnibus_p"] <= float(options["significance"])
        # which gene at the locus (the GAMBIT paper ranks genes within a locus): dTSS pools every variant within
        # 500 kb, so near a strong GWAS signal most genes are significant; the rank still singles one out
        genes_df["locus_rank"] = genes_df.groupby("locus_id", sort=False)["omnibus_p"].rank(method="min")
    genes_df = _typed(genes_df.to_dict("records"), GENES_COLUMNS)
    write_parquet(tests_df, out_tests)
    write_parquet(genes_df, out_genes)
    manifest = summarize(res)
    log.info("%s: %d genes, %d tests, %d significant by the omnibus (p <= %g); %d loci failed", trait,
             len(genes_df), len(tests_df), int(genes_df["significant"].sum()), float(options["significance"]),
             manifest["n_failed"])
    return manifest


def gene_tests_trait(chunk_tests: Sequence[str | Path], chunk_genes: Sequence[str | Path], out_tests: str | Path,
                     out_genes: str | Path) -> pd.DataFrame:
    """Rule ``gene_tests_trait``: the chunks' tables concatenated in chunk order (the trait's contract files)."""
    from ..io.tables import write_parquet

    def cat(paths: Sequence[str | Path], cols: Sequence[str]) -> pd.DataFrame:
        frames = [pd.read_parquet(p) for p in paths]
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True)[list(cols)] if frames else _typed([], cols)

    tests = cat(sorted(map(str, chunk_tests)), TESTS_COLUMNS)
    genes = cat(sorted(map(str, chunk_genes)), GENES_COLUMNS)
    write_parquet(tests, out_tests)
    write_parquet(genes, out_genes)
    return genes


def annotation_paths(config: Mapping[str, Any]) -> dict[str, Any]:
    """The annotation inputs of a configured run: ``gene_tests.annotations``, with the gene TSS falling back to
    ``enrichment.gene_annotation`` (or the example's ``genes.tsv``) and, when the example is simulated, the
    example's consequences and element BED for the ones left null."""
    from ..workflow_helpers import gene_annotation_path

    a = dict(config["gene_tests"]["annotations"])
    a["tss"] = a.get("tss") or gene_annotation_path(config)
    if config["simulate"]["enabled"]:
        ex = Path(config["simulate"]["out_dir"]) / "annotations"
        a["consequences"] = a.get("consequences") or str(ex / "consequences.tsv")
        a["elements"] = a.get("elements") or str(ex / "elements.bed")
    return a


def gene_tests_enabled(config: Mapping[str, Any]) -> bool:
    """Whether a configured run does the gene tests: ``gene_tests.enabled`` and gene TSS positions known
    (a real-data config without a gene annotation skips them instead of failing)."""
    return bool(config["gene_tests"]["enabled"] and annotation_paths(config).get("tss"))
