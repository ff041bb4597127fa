"""One function per workflow rule. The rule scripts in ``scripts/`` and the ``twasflow`` CLI both call these,
so a stage runs the same way inside and outside Snakemake. Each function takes plain paths and parameters,
logs its progress, and writes its outputs atomically.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import pandas as pd

from .errors import ConfigError, InputError
from . import tables_schema
from .chunks import chunk_loci, run_loci, summarize
from .io.tables import write_tsv
from .logs import setup_logging

log = logging.getLogger("twasflow")


# ---------------------------------------------------------------------------------------------- plumbing
def snakemake_main(smk: Any, fn: Callable[..., Any], **kwargs: Any) -> None:
    """Run ``fn(**kwargs)`` for a rule script: log to the rule's log file; bad input → message, exit 1."""
    from threadpoolctl import threadpool_limits

    setup_logging(smk.log[0] if len(smk.log) else None)
    t0 = time.perf_counter()
    try:
        # BLAS may use only the rule's threads: oversubscribed OpenBLAS is many times slower on busy nodes
        with threadpool_limits(limits=max(1, int(smk.threads))):
            fn(**kwargs)
    except InputError as exc:
        log.error("%s", exc)
        sys.exit(1)
    log.info("done in %.1f s", time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------- stages
def simulate_example(out_dir: str | Path, seed: int) -> dict[str, Path]:
    """Rule ``simulate_example``: write the bundled example with twasflow's own simulator."""
    from .simulate.example import make_example

    log.info("simulating the example into %s (seed %d)", out_dir, seed)
    return make_example(out_dir, seed=seed)


def panel(out_dir: str | Path, *, maf_min: float, bfile: str | None = None, vcf: str | None = None,
          keep: str | None = None, pgen: str | None = None, variants: str | None = None,
          ld: str | None = None) -> dict[str, Any]:
    """Rule ``panel``: PLINK bed, PLINK 2 pgen or VCF → per-chromosome genotype store in ``out_dir``; or, with
    ``variants``, a variant table without genotypes (:func:`twasflow.io.panel.build_variant_store`); or, with
    ``ld``, the variants of precomputed LD windows (:func:`twasflow.io.panel.build_ld_store`)."""
    from .io.panel import build_ld_store, build_panel_store, build_variant_store

    if ld:
        log.info("no genotypes: precomputed LD %s", ld)
        return build_ld_store(out_dir, ld)
    if variants:
        log.info("no genotypes: variant table %s (S-PrediXcan only)", variants)
        return build_variant_store(out_dir, variants)

    log.info("building the genotype store from %s", bfile or pgen or vcf)
    return build_panel_store(out_dir, bfile=bfile, vcf=vcf, keep=keep, maf_min=maf_min, pgen=pgen)


def _panel_variants(panel_dir: str | Path) -> pd.DataFrame:
    from .io.panel import read_panel_variants

    return read_panel_variants(panel_dir)


def harmonize_gwas(row: Mapping[str, Any], panel_dir: str | Path, out: str | Path, qc: str | Path,
                   harmonize: Mapping[str, Any], build: str) -> dict[str, Any]:
    """Rule ``harmonize_gwas``: one GWAS sheet row → harmonized Parquet + QC JSON."""
    from .config import gwas_colmap
    from .harmonize import harmonize_gwas as _run

    log.info("harmonizing GWAS %s (%s, %s)", row["trait"], row["path"], row["format"])
    res = _run(row["path"], fmt=row["format"], panel_variants=_panel_variants(panel_dir), out=out, qc_out=qc,
               trait=row["trait"], n=row.get("n"), colmap=gwas_colmap(row) if row["format"] == "table" else None,
               declared_build=row.get("build"), panel_build=build, rsid_map=row.get("rsid_map"),
               liftover=row.get("liftover"), **harmonize)
    _log_qc(res)
    return res


def harmonize_xqtl(row: Mapping[str, Any], panel_dir: str | Path, out_dir: str | Path, qc: str | Path,
                   harmonize: Mapping[str, Any], build: str) -> dict[str, Any]:
    """Rule ``harmonize_xqtl``: one xQTL sheet row → per-chromosome harmonized Parquet + QC JSON.

    Prediction models (``format`` ``predictdb`` | ``weights-long``) go to :func:`twasflow.models.harmonize_models`
    instead: ``models.parquet``, ``models_report.tsv`` (and ``covariance.npz``) in ``out_dir``.
    """
    from .harmonize import harmonize_xqtl as _run
    from .models import harmonize_models, is_model_format

    if is_model_format(row["format"]):
        log.info("harmonizing prediction models %s (%s, %s)", row["dataset"], row["path"], row["format"])
        res = harmonize_models(row["path"], fmt=row["format"], panel_variants=_panel_variants(panel_dir),
                               out_dir=out_dir, qc_out=qc, dataset=row["dataset"], tissue=row["tissue"],
                               qtl_type=row["qtl_type"], covariance=row.get("covariance"),
                               gene_map=row.get("gene_map"), declared_build=row.get("build"), panel_build=build,
                               fusion_model=row.get("fusion_model"), credible_sets=row.get("credible_sets"),
                               n=row.get("n"), **harmonize)
        _log_qc(res)
        return res
    log.info("harmonizing xQTL %s (%s, %s)", row["dataset"], row["path"], row["format"])
    res = _run(row["path"], fmt=row["format"], panel_variants=_panel_variants(panel_dir), out_dir=out_dir,
               qc_out=qc, dataset=row["dataset"], tissue=row["tissue"], qtl_type=row["qtl_type"], n=row.get("n"),
               gene_map=row.get("gene_map"), declared_build=row.get("build"), panel_build=build, **harmonize)
    _log_qc(res)
    return res


def _log_qc(qc: Mapping[str, Any]) -> None:
    log.info("kept %s of %s rows; dropped %s", qc.get("n_kept"), qc.get("n_input"), qc.get("dropped"))
    for w in qc.get("warnings", []):
        log.warning("%s", w)


def clump(gwas: str | Path, panel_dir: str | Path, out: str | Path, *, p1: float, p2: float, r2: float,
          kb: float, r2_method: str) -> Path:
    """Rule ``clump``: C+T on a harmonized GWAS (PLINK 1.9 semantics) → ``.clumped``."""
    from .clump import clump_panel, format_clumped, plink_maxsnp
    from .io.panel import Panel
    from .io.tables import write_text

    log.info("clumping %s (p1 %g, p2 %g, r2 %g, kb %g, %s r2)", gwas, p1, p2, r2, kb, r2_method)
    table = pd.read_parquet(gwas, columns=["variant_id", "p"])
    pnl = Panel(panel_dir)
    if pnl.meta.get("ld"):  # precomputed LD, no genotypes: PLINK's greedy rules with the matrix's Pearson r2
        from .clump import clump_ld

        log.info("r2 from the precomputed LD %s (Pearson; clump.r2_method %s does not apply)", pnl.meta["ld"]["path"],
                 r2_method)
        records, universe = clump_ld(table, pnl.variants, pnl.ld_function, p1=p1, p2=p2, r2=r2, kb=kb)
    else:
        records, universe = clump_panel(table, pnl, p1=p1, p2=p2, r2=r2, kb=kb, r2_method=r2_method)
    from .harmonize.gwas import harmonized_rsids

    rsids = harmonized_rsids(gwas, [r.snp for r in records])  # a last RSID column, for lookups (issue 18)
    write_text(format_clumped(records, plink_maxsnp(universe), rsids=rsids.to_dict()), out)
    log.info("%d clumps from %d variants at p <= %g", len(records), int((table["p"] <= p1).sum()), p1)
    return Path(out)


def ld_blocks(panel_dir: str | Path, out_bed: str | Path, *, target_kb: float) -> pd.DataFrame:
    """Rule ``ld_blocks``: approximately independent LD blocks built from the panel → BED."""
    from .io.panel import Panel
    from .ldblocks import build_ld_blocks, write_blocks_bed

    blocks = build_ld_blocks(Panel(panel_dir), target_kb=target_kb)
    write_blocks_bed(blocks, out_bed)
    log.info("%d LD blocks written to %s", len(blocks), out_bed)
    return blocks


def loci(trait: str, clumped: str | Path, out_tsv: str | Path, *, loci_cfg: Mapping[str, Any],
         mhc: tuple[str, int, int], chunking: Mapping[str, Any], blocks: str | Path | None = None) -> pd.DataFrame:
    """Checkpoint ``loci``: windows around index variants → loci table with chunk ids."""
    from .loci import assign_chunks, define_loci, read_blocks_bed, read_clumped

    index = read_clumped(clumped)
    bl = read_blocks_bed(blocks) if blocks else None
    table, counts = define_loci(index, trait, radius_kb=loci_cfg["radius_kb"], mhc=mhc,
                                exclude_mhc=loci_cfg["exclude_mhc"], blocks=bl)
    table = assign_chunks(table, chunking["loci_per_chunk"], chunking["max_chunks"])
    if "rsid" in index.columns:  # the lead variant's rsID, beside its id (issue 18)
        table["lead_rsid"] = table["lead_variant"].map(dict(zip(index["variant_id"], index["rsid"])))
    write_tsv(table, out_tsv)
    log.info("%s: %d index variants (%d in the MHC dropped) → %d loci in %d chunks", trait,
             counts["index_variants"], counts["dropped_mhc"], len(table), table["chunk"].nunique())
    if table.empty:
        log.warning("%s: no locus (no variant at p <= %s after clumping)", trait, "clump.p1")
    return table


def locus_inputs(trait: str, loci_tsv: str | Path, chunk: str | None, gwas: str | Path,
                 xqtl_dirs: Mapping[str, str | Path], panel_dir: str | Path, out_dir: str | Path,
                 manifest: str | Path, log_dir: str | Path, locus_variants: Mapping[str, Any],
                 locus: str | None = None) -> dict[str, Any]:
    """Rule ``locus_inputs``: build the bundles of every locus in ``chunk`` (or the one ``locus``)."""
    from .io.panel import Panel
    from .io.tables import write_json
    from .locus import bundle_locus
    from .loci import read_loci, select_loci

    table = select_loci(read_loci(loci_tsv), loci_tsv, chunk=chunk, locus=locus)
    pnl = Panel(panel_dir)
    log.info("%s: building %d locus bundles into %s", trait, len(table), out_dir)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    records = run_loci(table.to_dict("records"), log_dir, lambda rec: bundle_locus(
        rec, out_dir, gwas_path=gwas, xqtl_dirs=xqtl_dirs, panel=pnl, ld=pnl.ld_function, **locus_variants))
    summary = summarize([{"M": 0, "P": 0, **r} for r in records])  # a failed locus has no M, P
    write_json(summary, manifest)
    return summary


# ---------------------------------------------------------------------------------------------- weights
def xqtl_weights(trait: str, bundles_manifest: str | Path, out_dir: str | Path, manifest: str | Path,
                 log_dir: str | Path, weights: Mapping[str, Any], locus: str | None = None,
                 stage1_cache: str | Path | None = None) -> dict[str, Any]:
    """Rule ``xqtl_weights``: TGVIS stage 1 for every locus bundle of a chunk (or the one ``locus``).

    Writes ``{locus_id}.weights.npz`` per locus (``B`` (M×P), ``pair_ids``, ``kept`` (M×P), ``pair_status``,
    ``pip`` (M×P) and the kept pairs' included SuSiE effects ``effect_pair, effect_l, alpha, mu, mu2, V``)
    and ``manifest`` last: ``{"loci": [{locus_id, status, reason, M, P, n_pairs_kept, pairs_dropped, log}]}``.
    With ``stage1_cache`` (a directory shared by the run's traits) a locus whose stage-1 inputs another trait
    already fitted reuses that fit (:mod:`twasflow.stage1_cache`; same files as without it).
    Columns follow the bundle's pairs table: stage-1 weights of the summary-statistic pairs, then the model
    pairs' fixed weights (``model_W``; status ``ok``, or ``no_weight_in_locus`` without a variant in the
    locus; ``pip`` 0 and no SuSiE effects for them).
    """
    import numpy as np

    from .io.tables import write_json
    from .locus import read_bundle
    from .locus_weights import LocusWeights, weights_path
    from .stage1_cache import stage1_cached

    bdir, out_dir = Path(bundles_manifest).parent, Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    recs = chunk_loci(bundles_manifest, locus)
    log.info("%s: stage-1 weights for %d loci into %s (%s)", trait, len(recs), out_dir, dict(weights))

    def one(rec: dict[str, Any]) -> dict[str, Any]:
        lid = rec["locus_id"]
        if rec["status"] == "failed":
            return {"status": "failed", "reason": f"locus_inputs failed: {rec['reason']}", "M": 0, "P": 0,
                    "n_pairs_kept": 0, "pairs_dropped": {}}
        b = read_bundle(bdir, lid)
        M, P, Ps = b.M, b.P, b.P_sumstats
        pair_ids = b.pairs["pair_id"].to_numpy(str)
        mkept = b.model_W != 0
        mstatus = np.where(mkept.any(axis=0), "ok", "no_weight_in_locus")
        if M == 0 or P == 0:
            LocusWeights.empty(M, pair_ids, np.concatenate([np.full(P - b.Q, "no_tested_variant"),
                                                            np.full(b.Q, "no_weight_in_locus")])
                               ).write(weights_path(out_dir, lid))
            return {"status": "empty", "reason": b.reason or "no variants or no pairs", "M": M, "P": P,
                    "n_pairs_kept": 0, "pairs_dropped": {}}
        if Ps:
            # the config's weights block (defaults filled in by the config schema)
            kw = {"L": int(weights["L"]), "coverage": float(weights["coverage"]),
                  "cs_pip_min": float(weights["cs_pip_min"]), "pip_min": float(weights["pip_min"])}
            if weights["mode"] == "shared":  # issue 22: borrow across a gene's pairs (docs/stage1_shared.md)
                from .weights_shared import stage1_shared
                sp = b.pairs.iloc[:Ps]
                Bs, fits = stage1_shared(b.xqtl_z, b.R, b.xqtl_n, (sp["gene_id"].astype(str) + "|"
                                                                   + sp["qtl_type"].astype(str)).tolist(), **kw)
                eff, skept, sstatus, spip = fits.effects(), fits.kept, fits.status.astype(str), fits.pip
                n_nc = int(np.sum([m.startswith("IBSS") for m in fits.message]))
            else:  # per-pair stage 1, reused across traits where the inputs are equal (issue 17 item 6)
                s1 = stage1_cached(b.xqtl_z, b.R, b.xqtl_n, cache_dir=stage1_cache, **kw)
                Bs, eff, skept, sstatus, spip, n_nc = s1.B, s1.effects, s1.kept, s1.status, s1.pip, s1.n_nonconverged
                if s1.reused:
                    log.info("  %s: stage-1 fits reused (same inputs fitted before)", lid)
        else:
            Bs, skept, spip, n_nc = np.zeros((M, 0)), np.zeros((M, 0), bool), np.zeros((M, 0)), 0
            sstatus = np.zeros(0, str)
            eff = LocusWeights.no_effects(M)
        status = np.concatenate([sstatus, mstatus]).astype(str)
        # effect_pair indexes pair_ids; summary-statistic pairs come first, so stage 1's indices stay valid
        LocusWeights(B=np.hstack([Bs, b.model_W]), pair_ids=pair_ids, kept=np.hstack([skept, mkept]),
                     pair_status=status, pip=np.hstack([spip, np.zeros((M, b.Q))]), **eff
                     ).write(weights_path(out_dir, lid))
        st = pd.Series(status).value_counts()
        dropped = {str(k): int(v) for k, v in st.items() if k != "ok"}
        if n_nc:
            log.warning("  %s: %d pairs did not converge", lid, n_nc)
        kept_pairs = int(st.get("ok", 0))
        return {"status": "ok" if kept_pairs else "empty", "reason": "" if kept_pairs else "no pair kept a variant",
                "M": M, "P": P, "n_pairs_kept": kept_pairs, "n_model_pairs": int(b.Q), "pairs_dropped": dropped,
                "n_not_converged": n_nc}

    records = run_loci(recs, log_dir, one)
    summary = summarize(records)
    write_json(summary, manifest)
    return summary


def prescreen(trait: str, bundles_manifest: str | Path, weights_manifest: str | Path, out: str | Path,
              log_dir: str | Path, *, p_max: float, covariance: str, statistic: str, gene_test_column: str,
              locus: str | None = None, model_dirs: Mapping[str, str | Path] | None = None,
              gene_tests: str | Path | None = None, phi_h2: float | None = None,
              phi_dirs: Mapping[str, str | Path] | None = None) -> pd.DataFrame:
    """Rule ``prescreen``: S-PrediXcan z of every pair from its weights, drop pairs with p > p_max.

    Writes ``out`` (Parquet, :data:`twasflow.twas.PRESCREEN_COLUMNS`, docs/outputs.md "Prescreen"; one row per pair of every locus with
    weights, ``reason`` says why a pair was dropped: its weights status or ``p_above_max``).
    ``n_weights_model`` is the number of variants in the model for prediction-model pairs (so a pair using
    few of them shows it) and the number of selected variants for stage-1 pairs.

    ``covariance="model"``: prediction-model pairs whose dataset has a covariance file (``covariance.npz`` in
    the harmonized directories ``model_dirs``) use S-PrediXcan with that covariance (``Σ w σ z / √(wᵀΓw)``
    over the model variants in the locus); all other pairs use the panel LD.

    ``statistic="gene_test"``: pairs are kept per gene, by the chunk's gene-test table ``gene_tests``
    (``{trait}/{chunk}.genes.parquet``; column ``gene_test_column`` at most ``p_max``;
    :func:`twasflow.genetests.select.select_by_gene_test`).
    ``phi_h2`` (the GWAS's SNP heritability): model pairs with a PredictDB phi (``models.parquet`` of
    ``phi_dirs``) get S-PrediXcan's calibration z / √(1 + φ N h²), N the median GWAS n of the locus.
    """
    import numpy as np

    from .io.tables import write_parquet
    from .locus import read_bundle
    from .locus_weights import read_locus_weights, weights_path
    from .models import read_model_covariance
    from .twas import empty_prescreen_table, model_covariance_z, prescreen_table

    if covariance not in ("panel", "model"):
        raise InputError.at("unknown prescreen covariance", column="prescreen.covariance", found=repr(covariance),
                            expected="panel or model")
    bdir, wdir = Path(bundles_manifest).parent, Path(weights_manifest).parent
    recs = chunk_loci(weights_manifest, locus)
    model_cov: dict[str, tuple[Any, Any]] = {}
    if covariance == "model":
        for d in sorted(model_dirs or {}):
            f = Path(model_dirs[d]) / "covariance.npz"
            if f.is_file():
                model_cov.update(read_model_covariance(f))
        log.info("%s: model covariance for %d model pairs", trait, len(model_cov))
    phi = _model_phi(phi_dirs) if phi_h2 is not None else {}
    if phi_h2 is not None:
        log.info("%s: phi calibration (h2 %g) for the %d model pairs with phi", trait, phi_h2, len(phi))
    tables: list[pd.DataFrame] = []
    n_model_cov = 0
    gsel = _gene_test_selection(statistic, gene_tests)
    n_untested = 0

    def one(rec: dict[str, Any]) -> dict[str, Any]:
        nonlocal n_model_cov, n_untested
        lid = rec["locus_id"]
        if rec["status"] == "failed" or not weights_path(wdir, lid).exists():
            return {"status": "failed" if rec["status"] == "failed" else "empty", "reason": rec.get("reason", "")}
        b = read_bundle(bdir, lid)
        w = read_locus_weights(wdir, lid)
        B, ids, status = w.B, w.pair_ids, w.pair_status
        if list(ids) != b.pairs["pair_id"].tolist():
            raise InputError.at("weights and bundle list different pairs", file=weights_path(wdir, lid),
                                column="pair_ids", expected=f"the pairs of {bdir / lid}.pairs.parquet")
        if b.P == 0:
            return {"status": "empty", "reason": "no pairs"}
        reason = np.where(status == "ok", "", status).astype(object)
        is_model = (b.pairs["source"] == "model").to_numpy()
        nmodel = np.where(is_model, b.pairs["n_model"].to_numpy(np.int64), np.count_nonzero(B, axis=0))
        z_given = None
        if model_cov:
            z_given, n = model_covariance_z(b.variant_ids, b.z, b.freq, B, ids, is_model, model_cov)
            n_model_cov += n
        scale = None
        if phi:
            from .twas import phi_scale

            ph = b.pairs["pair_id"].map(phi).to_numpy(np.float64)
            scale = phi_scale(ph, float(np.median(b.n)), phi_h2)
        t = prescreen_table(lid, b.pairs, b.z, b.R, B, p_max=p_max, n_weights_model=nmodel, drop_reason=reason,
                            z_given=z_given, z_scale=scale)
        if gsel is not None:  # prescreen.statistic: gene_test
            from .genetests.select import select_by_gene_test

            t, n = select_by_gene_test(t, b.pairs["gene_id"].tolist(), gsel[gsel["locus_id"] == lid], p_max=p_max,
                                       column=gene_test_column)
            n_untested += n
        tables.append(t)
        return {"status": "ok", "reason": "", "n_kept": int(t["kept"].sum()), "n_pairs": len(t)}

    res = run_loci(recs, log_dir, one)
    table = pd.concat(tables, ignore_index=True) if tables else empty_prescreen_table()
    write_parquet(table, out)
    n_failed = sum(r["status"] == "failed" for r in res)
    log.info("%s: %d pairs, %d kept at p <= %g; %d loci failed", trait, len(table), int(table["kept"].sum()),
             p_max, n_failed)
    if covariance == "model":
        log.info("%s: %d model pairs tested with their model covariance", trait, n_model_cov)
    if gsel is not None:
        log.info("%s: pairs kept by the gene tests' %s <= %g; %d pairs with weights whose gene has no gene test "
                 "kept the S-PrediXcan decision", trait, gene_test_column, p_max, n_untested)
    return table


def _gene_test_selection(statistic: str, gene_tests: str | Path | None) -> pd.DataFrame | None:
    """The gene-test gene table the prescreen selects by (``statistic="gene_test"``), else None."""
    if statistic == "spredixcan":
        return None
    if statistic != "gene_test":
        raise InputError.at("unknown prescreen statistic", column="prescreen.statistic", found=repr(statistic),
                            expected="spredixcan or gene_test")
    if not gene_tests:
        raise InputError.at("prescreen by gene tests needs the gene-test table", column="prescreen.statistic",
                            found="gene_test", expected="gene tests enabled with gene TSS positions "
                            "(gene_tests.annotations.tss or enrichment.gene_annotation)")
    return pd.read_parquet(gene_tests)


def _model_phi(phi_dirs: Mapping[str, str | Path] | None) -> dict[str, float]:
    """pair id → PredictDB phi over the harmonized model datasets that carry it."""
    out: dict[str, float] = {}
    for d in sorted(phi_dirs or {}):
        f = Path(phi_dirs[d]) / "models.parquet"
        if f.is_file():
            import pyarrow.parquet as pq

            if "phi" in pq.read_schema(f).names:
                t = pd.read_parquet(f, columns=["pair_id", "phi"]).dropna().drop_duplicates("pair_id")
                out.update(zip(t["pair_id"], t["phi"].astype(float)))
    return out


#: the stages a run without genotypes (``panel.variants``) cannot do: they need LD among all GWAS variants
NEED_GENOTYPES = ("clump", "loci", "locus_inputs", "xqtl_weights", "prescreen", "finemap (tgvis, ctwas, tgfm)",
                  "coloc", "gene_tests", "summarize", "across_traits")


def spredixcan(trait: str, gwas: str | Path, model_dirs: Mapping[str, str | Path], out: str | Path,
               summary: str | Path, genotypes: bool = True, phi_h2: float | None = None) -> pd.DataFrame:
    """Rule ``spredixcan``: S-PrediXcan of every prediction-model dataset with a covariance file, LD among a
    model's variants from that file (:func:`twasflow.twas.spredixcan_dataset`) → ``out`` (TSV,
    :data:`~twasflow.twas.SPREDIXCAN_COLUMNS`) and ``summary`` (JSON: counts, and with ``genotypes=False`` the
    stages skipped for lack of LD). ``phi_h2``: adds ``twas_z_phi``/``spredixcan_z_phi``, the z calibrated for
    polygenicity where the model carries phi (:func:`twasflow.twas.calibrate_phi`; N the trait's median n)."""
    import numpy as np

    from .io.tables import write_json
    from .models import read_model_covariance
    from .twas import SPREDIXCAN_COLUMNS, spredixcan_dataset

    parts = []
    for ds, d in sorted(model_dirs.items()):
        models = pd.read_parquet(Path(d) / "models.parquet")
        z = pd.read_parquet(gwas, columns=["variant_id", "z"], filters=[("variant_id", "in", sorted(set(
            models["variant_id"])))]).drop_duplicates("variant_id").set_index("variant_id")["z"]
        parts.append(spredixcan_dataset(z, models, read_model_covariance(Path(d) / "covariance.npz"), ds))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=SPREDIXCAN_COLUMNS)
    if phi_h2 is not None and len(table):
        from .twas import calibrate_phi

        phi = _model_phi(model_dirs)
        n = float(pd.read_parquet(gwas, columns=["n"])["n"].median())
        ph = table["pair_id"].map(phi).to_numpy(np.float64)
        for c in ("twas_z", "spredixcan_z"):
            table[f"{c}_phi"] = calibrate_phi(table[c].to_numpy(np.float64), ph, n, phi_h2)
    write_tsv(table, out)
    info = {"trait": trait, "datasets": sorted(model_dirs), "n_pairs": int(len(table)),
            "n_with_z": int(table["twas_z"].notna().sum()) if len(table) else 0,
            "no_z": {str(k): int(v) for k, v in table.loc[table["reason"] != "", "reason"].value_counts().items()}
            if len(table) else {},
            "ld": "model covariance files", "genotypes": bool(genotypes),
            "skipped": [] if genotypes else list(NEED_GENOTYPES),
            "note": "" if genotypes else ("no genotype panel (panel.variants): a classic S-PrediXcan-only run; the "
                                          "skipped stages need LD among all GWAS variants (a genotype panel)")}
    write_json(info, summary)
    log.info("%s: S-PrediXcan z for %d of %d model pairs (%s)", trait, info["n_with_z"], info["n_pairs"],
             ", ".join(model_dirs) or "no model dataset with a covariance file")
    if not genotypes:
        log.warning("%s: no genotypes: skipped %s", trait, ", ".join(NEED_GENOTYPES))
    return table


def coloc(trait: str, bundles_manifest: str | Path, pairs_tables: Mapping[str, str | Path], out: str | Path,
          log_dir: str | Path, coloc_cfg: Mapping[str, Any], locus: str | None = None,
          lbf_files: Sequence[str | Path] = ()) -> pd.DataFrame:
    """Rule ``coloc``: coloc-SuSiE and coloc-ABF between the GWAS and each selected pair's xQTL, per locus.

    ``pairs_tables`` maps a method name to the table of pairs to test (:func:`twasflow.coloc.select_pairs`: a
    fine-mapping ``variables`` table, or under the name ``prescreen`` the prescreen table). Each pair is tested
    once per locus; rows repeat per method. Writes ``out`` (Parquet, :data:`twasflow.coloc.COLOC_COLUMNS`).
    ``lbf_files``: the ``lbf.parquet`` of the ``eqtlcat-susie`` datasets; with ``coloc.from_lbf`` their pairs
    get coloc.bf_bf from the published lbf (:func:`twasflow.coloc.lbf.coloc_lbf_locus`).
    """
    from .coloc import COLOC_COLUMNS, coloc_locus, select_pairs
    from .coloc.lbf import coloc_lbf_locus, pair_lbf_from_long
    from .io.tables import write_parquet
    from .locus import read_bundle

    bdir = Path(bundles_manifest).parent
    cfg = dict(coloc_cfg)
    from_lbf = bool(cfg.pop("from_lbf", True))
    sel = select_pairs({m: pd.read_parquet(path) for m, path in pairs_tables.items()})
    want_pairs = sorted(set(sel["pair_id"].astype(str)))
    lbf_table = (pd.concat([pd.read_parquet(f, filters=[("pair_id", "in", want_pairs)]) for f in lbf_files],
                           ignore_index=True) if from_lbf and lbf_files and want_pairs else None)
    recs = chunk_loci(bundles_manifest, locus)
    tables: list[pd.DataFrame] = []

    def one(rec: dict[str, Any]) -> dict[str, Any]:
        lid = rec["locus_id"]
        want = sel[sel["locus_id"] == lid]
        if rec["status"] != "ok" or want.empty:
            return {"status": "empty", "reason": rec.get("reason") or "no pair to test"}
        b = read_bundle(bdir, lid)
        pairs = want["pair_id"].drop_duplicates()
        col = pd.Index(b.pairs["pair_id"]).get_indexer(pairs)
        # prediction-model pairs come after the xQTL columns and have no summary statistics to colocalize
        stats = col < b.xqtl_z.shape[1]
        res = pd.DataFrame({"pair_id": pd.Series(dtype=object)})
        if stats.any():
            res = coloc_locus(b.z, b.n, b.R, b.xqtl_z[:, col[stats]], b.xqtl_n[col[stats]],
                              b.pairs["pair_id"].to_numpy()[col[stats]], b.variant_ids, cfg)
        if not stats.all():
            rest = pairs[~stats]
            if lbf_table is not None:  # published SuSiE lbf: coloc.bf_bf against the GWAS fit, no xQTL LD
                lbf_pairs = pair_lbf_from_long(lbf_table[lbf_table["pair_id"].isin(set(rest))])
                if lbf_pairs:
                    res = pd.concat([res, coloc_lbf_locus(
                        b.z, b.n, b.R, b.variant_ids, lbf_pairs, p1=cfg["p1"], p2=cfg["p2"],
                        p12=cfg["p12"] if cfg.get("p12") is not None else 5e-6, h4_min=cfg["h4_min"])],
                        ignore_index=True)
                    rest = rest[~rest.isin(set(lbf_pairs))]
            model = pd.DataFrame({"pair_id": rest.to_numpy(), "colocalized": False,
                                  "reason": "prediction model: no xQTL summary statistics to colocalize"})
            res = pd.concat([res, model], ignore_index=True)
        res = want[["method", "pair_id", "cs"]].merge(res, on="pair_id", how="left")
        res.insert(0, "locus_id", lid)
        res.insert(0, "trait", trait)
        tables.append(res[COLOC_COLUMNS])
        return {"status": "ok", "reason": "", "n_pairs": len(pairs), "n_colocalized": int(res["colocalized"].sum())}

    records = run_loci(recs, log_dir, one)
    table = pd.concat(tables, ignore_index=True) if tables else tables_schema.table("coloc").empty()
    for col in ("cs", "nsnps"):  # nullable integers (docs/outputs.md): null for pairs coloc could not test
        table[col] = table[col].astype("Int64")
    write_parquet(table, out)
    log.info("%s: %d pair tests, %d colocalized; %d loci failed", trait, len(table),
             int(table["colocalized"].fillna(False).astype(bool).sum()),
             sum(r["status"] == "failed" for r in records))
    return table


def _with_rsids(v: pd.DataFrame, gwas: str | Path) -> pd.DataFrame:
    """``variables`` with a last column ``rsid``: the variant's rsID for variant rows (None for pairs/unknown)."""
    from .harmonize.gwas import harmonized_rsids

    vid = v["variant_id"].where(v["type"] == "variant")
    rs = harmonized_rsids(gwas, vid.dropna().astype(str).tolist())
    return v.assign(rsid=vid.map(rs.to_dict()).astype(object).where(vid.notna(), None))


def _kept_pairs(prescreen: pd.DataFrame, lid: str, weights: Any) -> list[str]:
    """The pairs fine-mapped at a locus — those its prescreen kept — in the weights file's order. Every method
    and the TGFM prior see the same pairs."""
    keep = set(prescreen.loc[(prescreen["locus_id"] == lid) & prescreen["kept"], "pair_id"])
    return [str(p) for p in weights.pair_ids if str(p) in keep]


def _trait_loci(chunks: list[Mapping[str, str | Path]], left_out: dict[str, str]) -> Iterator[tuple[Any, ...]]:
    """``(chunk, locus_id, bundle, weights)`` of every locus with usable stage-1 weights and variants, over the
    chunks of a trait (gather rules). The weights manifest says which loci have them: a failed or empty locus
    is recorded in ``left_out`` (its finemap row reports the failure)."""
    from .locus import read_bundle
    from .locus_weights import read_locus_weights

    t0, n, last = time.perf_counter(), 0, time.perf_counter()
    for k, ch in enumerate(chunks, start=1):
        bdir, wdir = Path(ch["bundles"]).parent, Path(ch["weights"]).parent
        for rec in chunk_loci(ch["weights"], None):
            lid = rec["locus_id"]
            if rec["status"] != "ok":
                left_out[lid] = f"{rec['status']}: {rec.get('reason', '')}"
                continue
            b = read_bundle(bdir, lid)
            if b.M:
                yield ch, lid, b, read_locus_weights(wdir, lid)
                n += 1
        if time.perf_counter() - last > 30:  # progress on long gathers (genome-wide: thousands of loci)
            last = time.perf_counter()
            log.info("  %d of %d chunks, %d loci, %.0f s", k, len(chunks), n, last - t0)


def ctwas_params(trait: str, chunks: list[Mapping[str, str | Path]], out: str | Path,
                 options: Mapping[str, Any], gwas: str | Path | None = None,
                 loci_tsv: str | Path | None = None) -> dict[str, Any]:
    """Rule ``ctwas_params``: cTWAS's EM of group priors and prior variances for one trait.

    ``chunks``: per chunk ``{"bundles": manifest, "weights": manifest}``. Every locus is one cTWAS region
    (loci snap to LD blocks with ``loci.ld_blocks``) and every pair with stage-1 weights is a gene of its
    ``tissue|qtl_type`` group in its locus's region, with z = w'z / sqrt(w'Rw) from the bundle's LD
    (``twasflow.methods.ctwas.region_tables``). SNPs: with ``gwas`` and ``loci_tsv``, a random ``thin``
    fraction (config ``ctwas.thin``, cTWAS's 0.1) of all harmonized GWAS variants genome-wide, in their
    locus's region or in ``region_kb`` background windows (:func:`twasflow.methods.ctwas.genome_snp_regions`);
    without them, the bundles' variants only (priors biased upwards).
    Writes ``params.json`` (``CtwasParams.to_dict()`` plus the counts of regions, SNPs and genes used).
    """
    import numpy as np

    from .io.tables import write_json
    from .methods import ctwas

    em_keys = ("group_prior_var_structure", "min_group_size", "niter", "niter_prefit", "min_p_single_effect",
               "EM_tol", "null_method")
    em_opts = {k: options[k] for k in em_keys if options.get(k) is not None}
    genome_wide = gwas is not None and loci_tsv is not None
    thin = float(options["thin"]) if genome_wide else 1.0
    snps, genes = [], []
    left_out: dict[str, str] = {}
    for _, lid, b, w in _trait_loci(chunks, left_out):
        cols = np.flatnonzero(np.any(w.B != 0, axis=0))
        snp_z, gene_z = ctwas.region_tables(b, w.B[:, cols], [str(w.pair_ids[j]) for j in cols], lid, trait=trait)
        if not genome_wide:  # the genome-wide SNP table below replaces the bundles' variants
            snps.append(snp_z)
        genes.append(gene_z)
    failed = {k: v for k, v in left_out.items() if v.startswith("failed")}
    if failed:
        log.warning("%s: %d loci without stage-1 weights (failed upstream) left out of the cTWAS EM: %s", trait,
                    len(failed), ", ".join(sorted(failed)))
    if genome_wide:
        g = pd.read_parquet(gwas, columns=["variant_id", "chrom", "pos", "z"])
        loci = pd.read_csv(loci_tsv, sep="\t", dtype={"chrom": str})
        snps = [ctwas.genome_snp_regions(g, loci, thin, float(options["region_kb"]))]
    if not snps or not sum(len(t) for t in snps):
        raise InputError.at(f"no variants for trait {trait}: nothing to estimate cTWAS parameters from",
                            column="variant_id", found=0, expected=">= 1 variant")
    snp_z = pd.concat(snps, ignore_index=True).drop_duplicates("id", keep="first")
    gene_z = (pd.concat(genes, ignore_index=True) if genes else
              pd.DataFrame({"id": [], "z": [], "group": [], "region_id": [], "molecular_id": []}))
    # a pair in two overlapping loci is one gene of the first region (cTWAS regions are disjoint)
    gene_z = gene_z.drop_duplicates("id", keep="first")
    # cTWAS removes groups too small for reliable parameters; their pairs are not fine-mapped by cTWAS
    min_size = int(options["min_group_size"])
    size = gene_z["group"].value_counts()
    dropped = {str(g): int(k) for g, k in size.items() if k < min_size}
    if dropped:
        log.warning("%s: cTWAS groups with fewer than %d pairs are left out (min_group_size): %s", trait, min_size,
                    dropped)
        gene_z = gene_z[~gene_z["group"].isin(list(dropped))]
    n_regions = int(snp_z["region_id"].nunique())
    log.info("%s: cTWAS EM over %d regions, %d SNPs (thin %g), %d genes in %d groups (%s)", trait, n_regions,
             len(snp_z), thin, len(gene_z), gene_z["group"].nunique(), em_opts)
    if n_regions < 50:
        log.warning("%s: cTWAS estimates its priors from %d regions only; cTWAS is designed for genome-wide "
                    "region sets (hundreds to thousands of LD blocks), so treat these parameters with care",
                    trait, n_regions)
    params = ctwas.estimate_params(snp_z, gene_z, thin=thin, **em_opts)
    d = params.to_dict()
    d.update(trait=trait, n_regions=n_regions, n_snps=int(len(snp_z)), n_genes=int(len(gene_z)), thin=thin,
             genome_wide=genome_wide, dropped_groups=dropped, loci_left_out=dict(sorted(left_out.items())))
    write_json(d, out)
    log.info("%s: group_prior %s; group_prior_var %s", trait, d["group_prior"], d["group_prior_var"])
    return d


def tgfm_prior(trait: str, chunks: list[Mapping[str, str | Path]], out: str | Path, options: Mapping[str, Any],
               seed: int) -> dict[str, Any]:
    """Rule ``tgfm_prior``: TGFM's tissue-specific prior learned over every locus of one trait.

    ``chunks``: per chunk ``{"bundles", "weights", "prescreen"}``. At each locus with usable weights, TGFM's fit
    without sampling on the prescreened pairs (:func:`twasflow.methods.tgfm.reference_lbf`) gives per-effect
    log Bayes factors; loci without a credible set are not used (as TGFM). The prior is learned with
    ``n_bootstraps`` = the config's ``n_draws`` (draw b of every locus then uses bootstrap b's prior) and seeded
    by the config seed and the trait. Writes ``tissue_prior.json``: classes (``variant`` then the tissues),
    per-bootstrap probabilities, their means, and the loci counted.
    """
    import zlib

    from .io.tables import write_json
    from .methods import tgfm

    fit_opts = {k: v for k, v in options.items() if k != "tissue_prior"}
    inputs, used, no_cs, left_out = [], [], [], {}
    pre: dict[str, pd.DataFrame] = {}
    for ch, lid, b, w in _trait_loci(chunks, left_out):
        if str(ch["prescreen"]) not in pre:
            pre[str(ch["prescreen"])] = pd.read_parquet(ch["prescreen"])
        ids = _kept_pairs(pre[str(ch["prescreen"])], lid, w)
        meta = b.pairs.set_index("pair_id")
        one = tgfm.reference_lbf(b.z, b.R, b.n, w.select(ids).effects(), [str(meta.at[p, "tissue"]) for p in ids],
                                 **fit_opts)
        if one is None:
            no_cs.append(lid)
            continue
        inputs.append(one)
        used.append(lid)
    if not inputs:
        raise InputError.at(f"no locus of trait {trait} has a TGFM credible set: nothing to learn the tissue prior "
                            "from (set tgfm.tissue_prior: false)", column="tgfm.tissue_prior", found=0,
                            expected=">= 1 locus with a credible set")
    n_boot = int(options["n_draws"])
    prior = tgfm.learn_tissue_prior(inputs, n_bootstraps=n_boot, seed=[int(seed), zlib.crc32(trait.encode())])
    d = {"trait": trait, "classes": list(prior.classes), "probs": prior.probs.tolist(), "mean": prior.mean,
         "n_iter": prior.n_iter, "n_bootstraps": n_boot, "loci_used": used, "loci_without_credible_set": no_cs,
         "loci_left_out": dict(sorted(left_out.items()))}
    write_json(d, out)
    log.info("%s: TGFM tissue prior from %d loci (%d without a credible set, %d left out): %s", trait, len(used),
             len(no_cs), len(left_out), {k: round(v, 4) for k, v in prior.mean.items()})
    return d


def finemap(trait: str, method: str, bundles_manifest: str | Path, weights_manifest: str | Path,
            prescreen_table: str | Path, out_prefix: str | Path, log_dir: str | Path, options: Mapping[str, Any],
            seed: int, plot_mode: str, genes: str | Path | None = None, plot_dir: str | Path | None = None,
            locus: str | None = None, trait_inputs: Mapping[str, str | Path] | None = None,
            genome_build: str | None = None, ld_check: Mapping[str, Any] | None = None,
            gwas: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Rule ``finemap``: one fine-mapping method (:mod:`twasflow.methods.registry`) on every locus of a chunk,
    on the pairs that pass the prescreen.

    Writes ``{out_prefix}.variables.parquet``, ``.sets.parquet`` and ``.loci.parquet`` (docs/outputs.md
    "finemap"; a failing locus is a ``failed`` row in ``loci`` with its log path) and, with ``plot_dir``, locus
    plots: every locus (``plot_mode="all"``), only loci with a causal call (``"causal"``) or none (``"none"``;
    the directory is still made).
    ``trait_inputs``: the per-trait JSON files the method reads, by name (``ctwas_params``: the trait's
    ``ctwas_params`` output; ``tgfm_prior``: the trait's ``tgfm_prior`` output with ``tgfm.tissue_prior``).
    ``seed``: config seed (TGFM's draws, seeded per trait and locus). Locus plots are drawn after the tables
    are written: a plot failure never discards a fit (it fails the job once the tables exist). ``genome_build``:
    checked against the gene annotation's (:func:`twasflow.io.annotation.read_gene_annotation`). ``ld_check``:
    the config's ``ld_check`` block (:func:`twasflow.ldcheck.check_bundle`; None: no gate). ``gwas``: the trait's
    harmonized GWAS, whose rsIDs fill a last ``rsid`` column of ``variables`` for variant rows (issue 18).
    """
    from . import ldcheck
    from .io.tables import read_json, write_parquet
    from .locus import read_bundle
    from .locus_weights import read_locus_weights
    from .methods.registry import get_method
    from .methods.result import failed_result

    if plot_mode not in ("all", "causal", "none"):
        raise ConfigError(f"config key 'locus_plots': found {plot_mode!r}; expected all, causal or none")
    fitter = get_method(method).prepare(trait, options, {k: read_json(p) for k, p in (trait_inputs or {}).items()},
                                        seed)
    if plot_dir is not None:
        Path(plot_dir).mkdir(parents=True, exist_ok=True)
    bdir, wdir = Path(bundles_manifest).parent, Path(weights_manifest).parent
    pre = pd.read_parquet(prescreen_table)
    from .io.annotation import read_gene_annotation

    gene_table = read_gene_annotation(genes, genome_build) if genes else None
    plots: list[Any] = []
    recs = chunk_loci(bundles_manifest, locus)
    parts: dict[str, list[pd.DataFrame]] = {"variables": [], "sets": [], "loci": []}

    def add(res: Any, lid: str) -> None:
        for name, t in zip(("variables", "sets", "loci"), res.tables(trait, lid)):
            parts[name].append(t)

    def one(rec: dict[str, Any]) -> dict[str, Any]:
        lid = rec["locus_id"]
        if rec["status"] != "ok":
            add(failed_result(method, rec.get("reason") or rec["status"], status=rec["status"],
                              log=rec.get("log") or ""), lid)
            return {"status": rec["status"], "reason": rec.get("reason", "")}
        b = read_bundle(bdir, lid)
        w = read_locus_weights(wdir, lid)
        b, w, ldc = ldcheck.check_bundle(b, w, ld_check)  # LD-mismatch gate: warn, or drop flagged + fit the rest
        res = fitter.fit_locus(b, w.select(_kept_pairs(pre, lid, w)))
        res.locus.update(ldc.locus_fields() if ldc else {})
        add(res, lid)
        if plot_dir is not None and (plot_mode == "all" or (plot_mode == "causal" and res.variables["causal"].any())):
            plots.append((lid, parts["variables"][-1], b.pos, b.variant_ids, b.z))
        return {"status": "ok", "reason": "", "n_causal": int(res.variables["causal"].sum())}

    records = run_loci(recs, log_dir, one)
    for r in records:
        if r["status"] == "failed" and not any(t["locus_id"].iloc[0] == r["locus_id"] for t in parts["loci"]):
            add(failed_result(method, r["reason"], log=r["log"] or ""), r["locus_id"])
    out: dict[str, pd.DataFrame] = {}
    if gwas is not None and parts["variables"]:
        parts["variables"] = [_with_rsids(pd.concat(parts["variables"], ignore_index=True), gwas)]
    for name, ts in parts.items():
        t = pd.concat(ts, ignore_index=True) if ts else tables_schema.table(f"finemap_{name}").empty()
        write_parquet(t, f"{out_prefix}.{name}.parquet")
        out[name] = t
    if plots:
        from .plots import draw_locus_plots

        # the CS-Pratt threshold line only for a method whose causal rule uses it (tgvis's cs_pratt_min)
        draw_locus_plots(plots, gene_table, Path(plot_dir), title=f"{trait} {{locus_id}} ({method})",
                         cs_pratt_min=options["cs_pratt_min"] if "cs_pratt_min" in options else None)
    n_causal = int(out["variables"]["causal"].sum()) if len(out["variables"]) else 0
    log.info("%s %s: %d loci, %d causal variables", trait, method, len(records), n_causal)
    return out
