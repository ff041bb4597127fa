"""The two pipeline stages: :func:`summarize` (rule ``summarize``, one trait, every method) and
:func:`enrichment` (rule ``enrichment``, across traits). They read the result tables, call the tested
table functions of this package, and write tables (TSV), figures (PNG + SVG), ``summary.json`` and an HTML
page for the report. Output names are fixed (see :data:`TRAIT_FILES`, :data:`ACROSS_FILES`).
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.tables import atomic_path, write_json, write_text, write_tsv
from ..tables_schema import table
from . import evidence, figures
from .enrich import (DRUG_COLUMNS, SILVER_COLUMNS, SILVER_SETS_COLUMNS, compare_methods, drug_targets,
                     gene_level_precision, silver_classes, silver_precision, ward_order)
from .genes import annotate, nearby_genes, read_gene_annotation, read_gene_list
from .gene_table import gene_table, read_gene_tests
from .html import embed_image, page, table_html
from .locus_pages import write_locus_pages
from .trait_page import trait_page
from .tables import TWAS_P_MAX, causal_sets, causal_variables

log = logging.getLogger("twasflow")

TRAIT_TABLES = ("truth", "causal_variables", "causal_sets", "genes", "overview", "tissues", "coloc", "missed_by_twas",
                "pratt_loci", "pratt", "agreement", "silver", "silver_sets", "drug_targets")
TRAIT_FIGURES = ("tissues", "pratt", "agreement")
TRAIT_FILES = ([f"{t}.tsv" for t in TRAIT_TABLES] + [f"{f}.{e}" for f in TRAIT_FIGURES for e in ("png", "svg")]
               + ["summary.json", "summary.html", "causal_variables.html", "causal_sets.html"])
ACROSS_TABLES = ("overview", "tissue_matrix", "drug_targets", "drug_ttest", "silver", "coloc", "missed_by_twas",
                 "pratt", "medians")
ACROSS_FILES = ([f"{t}.tsv" for t in ACROSS_TABLES] + ["overview.png", "overview.svg", "summary.json",
                                                       "summary.html"])
_ENSG = re.compile(r"ENSG\d+")


def _truth(trait: str, methods: Sequence[str], v: pd.DataFrame, path: str | Path | None
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-variable TP/FN/FP rows of every method, counts per method and type) against a planted truth."""
    from ..methods.result import TRUTH_COLUMNS, compare_to_truth

    counts_cols = ["method", "type", "TP", "FN", "FP", "FP_collinear"]
    if not path:
        return pd.DataFrame(columns=TRUTH_COLUMNS), pd.DataFrame(columns=counts_cols)
    t = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    need = ["trait", "kind", "pair_id", "variant_id"]
    missing = [c for c in need if c not in t.columns]
    if missing:
        raise InputError.at("planted-truth table lacks a column", file=path, column=missing[0],
                            found=" ".join(t.columns[:12]), expected=" ".join(need))
    t = t[t["trait"] == trait]
    parts, counts = [], []
    cols = ["trait", "locus_id", "method", "variable_id", "type", "causal", "pip", "cs", "cs_pratt"]
    for m in methods:
        vm = v[v["method"] == m] if len(v) else pd.DataFrame(columns=cols)
        c = compare_to_truth(vm, t).assign(method=m)
        parts.append(c)
        for typ in ("pair", "variant"):
            ct = c[c["type"] == typ]
            o = ct["outcome"]
            counts.append({"method": m, "type": typ, **{k: int((o == k).sum()) for k in ("TP", "FN", "FP")},
                           "FP_collinear": int(((o == "FP") & ct["collinear_with_planted"]).sum())})
    tab = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TRUTH_COLUMNS)
    return tab, pd.DataFrame(counts, columns=counts_cols)


def _read(paths: Sequence[str | Path]) -> pd.DataFrame:
    ts = [pd.read_parquet(p) for p in paths]
    ts = [t for t in ts if len(t.columns)]
    return pd.concat(ts, ignore_index=True) if ts else pd.DataFrame()


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = df.astype(object).where(df.notna(), None).to_dict("records")
    return [{k: (float(v) if isinstance(v, np.floating) else int(v) if isinstance(v, np.integer) else
                 bool(v) if isinstance(v, np.bool_) else v) for k, v in r.items()} for r in out]


def _overview(trait: str, methods: Sequence[str], loci: pd.DataFrame, cv: pd.DataFrame,
              sets: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for m in methods:
        lm = loci.loc[loci["method"] == m] if len(loci) else loci
        v = cv.loc[cv["method"] == m]
        p = v.loc[v["type"] == "pair"]
        rows.append({"trait": trait, "method": m, "n_loci": int(len(lm)),
                     "n_loci_ok": int((lm["status"] == "ok").sum()) if len(lm) else 0,
                     "n_loci_failed": int((lm["status"] == "failed").sum()) if len(lm) else 0,
                     # LD-mismatch gate (twasflow.ldcheck): loci with variants whose z disagrees with the panel LD
                     "n_loci_ld_mismatch": int((lm["ld_n_flagged"] > 0).sum()) if "ld_n_flagged" in lm else 0,
                     "n_ld_flagged_variants": int(lm["ld_n_flagged"].sum()) if "ld_n_flagged" in lm else 0,
                     "n_causal_sets": int((sets["method"] == m).sum()),
                     "n_sets_with_pairs": int(((sets["method"] == m) & (sets["n_pairs"] > 0)).sum()),
                     "n_causal_pairs": int(len(p)),
                     "n_causal_genes": int(p["gene_id"].fillna(p["gene_name"]).nunique()),
                     "n_direct_variants": int((v["type"] == "variant").sum())})
    return pd.DataFrame(rows)


def _top_loci(cv: pd.DataFrame, loci_table: pd.DataFrame | None, k: int) -> dict[str, list[str]]:
    """Per method, up to ``k`` loci with a causal set, by decreasing largest causal CS-Pratt, then lead p."""
    out: dict[str, list[str]] = {}
    lead = (loci_table.set_index("locus_id")["lead_p"].astype(np.float64)
            if loci_table is not None and len(loci_table) else pd.Series(dtype=np.float64))
    for m, t in cv.groupby("method", sort=True):
        best = t.groupby("locus_id")["cs_pratt"].max().fillna(0.0).rename("pratt").to_frame()
        best["lead_p"] = lead.reindex(best.index).fillna(1.0).to_numpy()
        best = best.reset_index().sort_values(["pratt", "lead_p", "locus_id"], ascending=[False, True, True])
        out[str(m)] = best["locus_id"].head(k).astype(str).tolist()
    return out


def summarize(trait: str, methods: Sequence[str], variables: Sequence[str | Path], loci: Sequence[str | Path],
              coloc: Sequence[str | Path], prescreen: Sequence[str | Path], out_dir: str | Path, *,
              plot_dirs: Mapping[str, Sequence[str | Path]] | None = None, loci_tsv: str | Path | None = None,
              genes: str | Path | None = None, silver_standard: str | Path | None = None,
              drug_targets_list: str | Path | None = None, twas_p_max: float = TWAS_P_MAX, top_loci: int = 5,
              nearby_kb: float = 1000.0, truth: str | Path | None = None, gwas: str | Path | None = None,
              panel_dir: str | Path | None = None, genome_build: str | None = None,
              gene_tests: str | Path | None = None, locus_pages: str = "all",
              failed_loci_tolerated: bool = False) -> dict[str, Any]:
    """Rule ``summarize``: every summary of one trait, all methods (files :data:`TRAIT_FILES` and the
    directory ``top_loci/`` with copies of the top loci's locus plots, ``{method}.{rank}.{locus_id}.png/svg``).

    Parameters
    ----------
    variables, loci : per-chunk fine-mapping tables of every method of the trait (docs/outputs.md ``variables``, ``loci``).
    coloc, prescreen : per-chunk coloc and prescreen tables of the trait.
    plot_dirs : method -> the finemap rule's per-chunk plot directories (``{locus_id}.png``/``.svg``).
    loci_tsv : the trait's loci table (lead p ranks loci with equal CS-Pratt).
    genes : gene annotation (positions; ``enrichment.gene_annotation`` or the example's ``genes.tsv``).
    silver_standard, drug_targets_list : gene lists (:func:`twasflow.summary.genes.read_gene_list`) or None.
    twas_p_max : S-PrediXcan significance (default 0.05 / 20,000).
    nearby_kb : radius defining genes near a silver-standard gene.
    truth : planted-truth TSV of a simulated GWAS (``trait, kind, pair_id, variant_id``; gwas sheet column
        ``truth``) or None: ``truth.tsv`` then lists every planted pair/variant per method (TP/FN) and every
        causal call that was not planted (FP, flagged ``collinear_with_planted`` when it shares a collinear group
        with a planted variable), and ``truth_counts`` in summary.json counts them (``FP_collinear``).
    gwas, panel_dir : the trait's harmonized GWAS (Parquet) and the LD panel store: with both (and ``loci_tsv``)
        a page per locus is written to ``loci/`` (regional plot of every GWAS variant in the window, LD with the
        lead from the panel; :mod:`twasflow.summary.locus_pages`).
    genome_build : the run's build, checked against the gene annotation's.
    gene_tests : the gene-based test table (``results/gene_tests/{trait}.genes.parquet``), joined into the gene
        table when it exists.
    locus_pages : which loci get a page: ``all``, ``causal`` (a causal call by any method; genome-wide runs) or
        ``none`` (config ``locus_plots``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    methods = list(methods)
    v = _read(variables)
    lo = _read(loci)
    co = _read(coloc)
    pre = _read(prescreen)
    ann = read_gene_annotation(genes, genome_build) if genes else None
    names = None
    if ann is not None:
        a = ann[(ann["gene_id"] != "") & (ann["gene_name"] != "")].drop_duplicates("gene_id")
        names = dict(zip(a["gene_id"], a["gene_name"]))
    cv = causal_variables(v, co, pre, twas_p_max=twas_p_max, gene_names=names)
    cs = causal_sets(cv)
    cv_a = annotate(cv, ann) if len(cv) else cv.assign(keys=pd.Series(dtype=object))
    loci_tab = pd.read_csv(loci_tsv, sep="\t") if loci_tsv else None

    overview = _overview(trait, methods, lo, cv, cs)
    tissues = evidence.tissue_counts(cv)
    coloc_p = evidence.coloc_proportions(cs, methods)
    n_ok = {m: int(((lo["method"] == m) & (lo["status"] == "ok")).sum()) if len(lo) else 0 for m in methods}
    missed = evidence.missed_by_twas(cv, n_ok, twas_p_max=twas_p_max)
    pl = evidence.pratt_per_locus(lo, v) if len(lo) else pd.DataFrame(columns=evidence.PRATT_LOCI_COLUMNS)
    ps = evidence.pratt_split(pl)
    agree = evidence.method_agreement(cv, pre if len(pre) else None, twas_p_max=twas_p_max)

    silver_tab = pd.DataFrame(columns=SILVER_COLUMNS)
    silver_sets = pd.DataFrame(columns=SILVER_SETS_COLUMNS)
    silver_genes_tab = None
    silver_keys = drug_keys = None
    silver_note = "no silver-standard gene list for this trait (config enrichment.silver_standard)"
    if silver_standard:
        sl = read_gene_list(silver_standard, trait)
        silver_keys = sl or None
        if sl:
            if ann is None:
                raise InputError.at("silver-standard precision needs gene positions to find nearby genes",
                                    column="enrichment.gene_annotation", found="no gene annotation",
                                    expected="a gene annotation TSV (gene_id/symbol, chrom, start, end)")
            tested = frozenset(k for p_ in pre.get("pair_id", pd.Series(dtype=object)).astype(str)
                               for k in _ENSG.findall(p_)) or None
            near = nearby_genes(ann, sl, radius_bp=nearby_kb * 1000.0, tested=tested)
            silver_sets = silver_classes(cv_a, sl, near)
            silver_tab = silver_precision(silver_sets, methods)
            silver_genes_tab = gene_level_precision(cv_a, sl, near, methods)
            silver_note = ""
    drug_tab = pd.DataFrame(columns=DRUG_COLUMNS)
    drug_note = "no drug-target gene list (config enrichment.drug_targets)"
    if drug_targets_list:
        dl = read_gene_list(drug_targets_list, trait)
        drug_keys = dl or None
        if dl:
            drug_tab = drug_targets(cv_a, dl, methods)
            drug_note = ""

    truth_tab, truth_counts = _truth(trait, methods, v, truth)
    truth_note = "" if truth else "no planted truth for this trait (gwas sheet column truth; simulated data only)"
    tables = {"truth": truth_tab, "causal_variables": cv, "causal_sets": cs, "overview": overview, "tissues": tissues,
              "coloc": coloc_p,
              "missed_by_twas": missed, "pratt_loci": pl, "pratt": ps, "agreement": agree, "silver": silver_tab,
              "silver_sets": silver_sets, "drug_targets": drug_tab}
    for name, t in tables.items():
        t = t.copy()
        if "trait" not in t.columns:
            t.insert(0, "trait", trait)
        write_tsv(t, out / f"{name}.tsv")

    figures.tissue_bars(tissues, methods, out / "tissues", title=f"{trait}: tissues of causal gene-tissue pairs")
    figures.pratt_plot(pl, methods, out / "pratt", title=f"{trait}: Pratt contributions per locus")
    figures.agreement_plot(agree, out / "agreement", title=f"{trait}: shared causal gene-tissue pairs")
    _copy_top_loci(_top_loci(cv, loci_tab, top_loci), plot_dirs or {}, out / "top_loci")

    summary = {"trait": trait, "methods": methods, "twas_p_max": twas_p_max,
               "overview": _records(overview), "coloc": _records(coloc_p), "missed_by_twas": _records(missed),
               "pratt": _records(ps), "tissues": _records(tissues),
               "silver_standard": _records(silver_tab) if not silver_note else None,
               "silver_standard_genes": _records(silver_genes_tab) if silver_genes_tab is not None else None,
               "drug_targets": _records(drug_tab) if not drug_note else None,
               "truth_counts": _records(truth_counts) if truth else None,
               # failed loci (per method: overview n_loci_failed); "tolerated": the config accepts a run with
               # failed loci (failed_loci.tolerate), so the report must say prominently that results are missing
               "failed_loci": {"n_failed": int(overview["n_loci_failed"].sum()) if len(overview) else 0,
                               "tolerated": bool(failed_loci_tolerated)}}
    write_json(summary, out / "summary.json")
    genes_tab = gene_table(v, methods, pre if len(pre) else None, co if len(co) else None, twas_p_max=twas_p_max,
                           gene_names=names, silver=silver_keys, drugs=drug_keys,
                           gene_tests=read_gene_tests(gene_tests))
    pages: dict[str, str] = {}
    if (out / "loci").exists():
        shutil.rmtree(out / "loci")
    paged = loci_tab
    if loci_tab is not None and locus_pages == "causal":
        paged = loci_tab[loci_tab["locus_id"].isin(set(cv["locus_id"]))]
    if gwas and panel_dir and paged is not None and len(paged) and locus_pages != "none":
        pages = write_locus_pages(trait, methods, paged, v, lo, gwas, panel_dir, ann, genes_tab, cs,
                                  pre if len(pre) else None, co if len(co) else None, out / "loci")
    else:
        (out / "loci").mkdir()
    if len(genes_tab):
        genes_tab["page"] = [f"loci/{pages[x]}" if x in pages else "" for x in genes_tab["locus_id"]]
    gt = genes_tab.drop(columns=["page"], errors="ignore") if len(genes_tab) else pd.DataFrame(
        columns=table("summary_genes").names[1:])
    gt.insert(0, "trait", trait)
    write_tsv(gt, out / "genes.tsv")
    notes = {"silver": silver_note, "drug": drug_note, "truth": truth_note}
    write_text(trait_page(trait, methods, genes_tab, tables, truth_counts, silver_genes_tab, pages, loci_tab,
                          out, notes=notes, twas_p_max=twas_p_max, nearby_kb=nearby_kb), out / "summary.html")
    for name, t in (("causal_variables", cv), ("causal_sets", cs)):
        write_text(page(f"{trait}: {name.replace('_', ' ')}", [(name.replace("_", " "), "",
                        table_html(t.drop(columns="trait"), sortable=True, table_id=name, max_rows=5000))]),
                   out / f"{name}.html")
    log.info("%s: %d causal sets, %d causal pairs, %d direct variants over %d methods", trait, len(cs),
             int((cv["type"] == "pair").sum()), int((cv["type"] == "variant").sum()), len(methods))
    return summary


def _copy_top_loci(top: Mapping[str, list[str]], plot_dirs: Mapping[str, Sequence[str | Path]], dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for m, lids in top.items():
        for rank, lid in enumerate(lids, start=1):
            for d in plot_dirs.get(m, []):
                src = Path(d) / f"{lid}.png"
                if src.is_file():
                    for ext in ("png", "svg"):
                        s = Path(d) / f"{lid}.{ext}"
                        if s.is_file():
                            with atomic_path(dest / f"{m}.{rank}.{lid}.{ext}") as tmp:
                                shutil.copyfile(s, tmp)
                    break


def enrichment(traits: Sequence[str], methods: Sequence[str], summary_dirs: Mapping[str, str | Path],
               out_dir: str | Path) -> dict[str, Any]:
    """Rule ``enrichment``: across-trait tables and figures from each trait's summary directory.

    Writes :data:`ACROSS_FILES` and ``heatmap.{method}.png/svg`` per method (trait × tissue shares, both axes
    Ward-clustered).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    methods = list(methods)

    def gather(name: str) -> pd.DataFrame:
        ts = [pd.read_csv(Path(summary_dirs[t]) / f"{name}.tsv", sep="\t") for t in traits]
        ts = [t for t in ts if len(t)]
        return pd.concat(ts, ignore_index=True) if ts else pd.read_csv(Path(summary_dirs[traits[0]]) / f"{name}.tsv",
                                                                       sep="\t")

    tissues = gather("tissues")
    drug = gather("drug_targets")
    silver = gather("silver")
    coloc = gather("coloc")
    missed = gather("missed_by_twas")
    pratt = gather("pratt")
    overview = gather("overview")

    for c in ("ratio",):
        if c not in drug.columns:
            drug[c] = np.nan
    ov = overview[["trait", "method"]].copy()
    ov = ov.merge(drug[["trait", "method", "ratio"]], on=["trait", "method"], how="left") if len(drug) else ov.assign(ratio=np.nan)
    ov = ov.merge(coloc[["trait", "method", "prop_coloc_any", "prop_coloc_majority"]], on=["trait", "method"], how="left")
    ov = ov.merge(missed[["trait", "method", "prop_missed"]], on=["trait", "method"], how="left")
    ov = overview.merge(ov, on=["trait", "method"], how="left")
    med_cols = [c.removeprefix("median_") for c in table("summary_across_medians").names[1:]]
    medians = (ov.groupby("method")[med_cols].median().reindex(methods).reset_index()
               .rename(columns={c: f"median_{c}" for c in med_cols}))
    ttest = compare_methods(drug[["trait", "method", "ratio"]]) if len(drug) else compare_methods(
        pd.DataFrame(columns=["trait", "method", "ratio"]))

    mats = {}
    long = []
    for m in methods:
        t = tissues.loc[tissues["method"] == m] if len(tissues) else tissues
        mat = (t.pivot_table(index="trait", columns="tissue", values="share", aggfunc="sum", fill_value=0.0)
               if len(t) else pd.DataFrame(dtype=np.float64))
        mats[m] = mat
        if mat.size:
            ro, _ = ward_order(mat.to_numpy(np.float64))
            co, _ = ward_order(mat.to_numpy(np.float64).T)
            lm = mat.iloc[ro, co].reset_index().melt(id_vars="trait", var_name="tissue", value_name="share")
            lm.insert(0, "method", m)
            lm["trait_order"] = lm["trait"].map({mat.index[i]: k for k, i in enumerate(ro)})
            lm["tissue_order"] = lm["tissue"].map({mat.columns[j]: k for k, j in enumerate(co)})
            long.append(lm)
        figures.tissue_heatmap(mat, out / f"heatmap.{m}", title=f"{m}: share of causal pairs per tissue")
    tmat = (pd.concat(long, ignore_index=True) if long else
            pd.DataFrame(columns=table("summary_across_tissue_matrix").names))

    tables = {"overview": ov, "tissue_matrix": tmat, "drug_targets": drug, "drug_ttest": ttest, "silver": silver,
              "coloc": coloc, "missed_by_twas": missed, "pratt": pratt, "medians": medians}
    for name, t in tables.items():
        write_tsv(t, out / f"{name}.tsv")
    figures.overview_plot(ov, out / "overview", title="Enrichment and evidence per trait")
    summary = {"traits": list(traits), "methods": methods, "medians": _records(medians),
               "drug_ttest": _records(ttest), "silver_standard": _records(silver)}
    write_json(summary, out / "summary.json")
    link = {t: f"../{Path(summary_dirs[t]).name}/summary.html" for t in traits}
    tl = pd.DataFrame({"trait": list(traits), "page": [link[t] for t in traits]})
    if len(ov):
        tl = tl.merge(ov.pivot_table(index="trait", columns="method", values="n_causal_genes", aggfunc="first")
                      .reindex(columns=methods).add_prefix("causal genes: ").reset_index(), on="trait", how="left")
    ov_l = ov.assign(page=ov["trait"].map(link)) if len(ov) else ov
    figs = embed_image(out / "overview.png", alt="overview", link="overview.svg") + "".join(
        embed_image(out / f"heatmap.{m}.png", alt=f"heatmap {m}", link=f"heatmap.{m}.svg") for m in methods)
    sections = [
        ("Traits", "Each trait's page: genes first, then loci and figures.",
         table_html(tl, [c for c in tl.columns if c != "page"], links={"trait": "page"}, sortable=True,
                    table_id="trait-table")),
        ("Figures", "Enrichment and evidence per trait and method; trait × tissue shares per method (rows and "
         "columns in Ward order; click for SVG).", figs),
        ("Overview per trait", "", table_html(ov_l, [c for c in ov_l.columns if c != "page"], links={"trait": "page"},
                                              sortable=True, table_id="overview-table")),
        ("Medians across traits", "", table_html(medians)),
        ("Drug-target enrichment", "Ratio = causal genes on the drug-target list / causal genes.", table_html(drug)),
        ("Paired comparison of methods", "Paired t-test of the drug-target ratios across traits (traits where "
         "both ratios are defined).", table_html(ttest)),
        ("Silver-standard precision", "Each causal credible set counted once (silver, else nearby).",
         table_html(silver)),
        ("Colocalized credible sets", "", table_html(coloc)),
        ("Missed by univariable TWAS", "", table_html(missed)),
        ("Pratt contribution split", "", table_html(pratt)),
        ("Trait × tissue map", "Share of causal pairs per tissue; rows and columns in Ward (Euclidean) order.",
         table_html(tmat)),
    ]
    write_text(page("twasflow summary across traits", sections), out / "summary.html")
    log.info("across %d traits: %d methods", len(traits), len(methods))
    return summary
