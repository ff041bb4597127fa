"""One page per locus (``results/summary/{trait}/loci/{locus_id}__{genes}.html``): a regional association plot
(every GWAS variant in the locus window, coloured by LD r² with the lead variant from the panel, LocusZoom's
bins), the gene track, each method's PIPs with credible sets marked, the gene-level rows of the locus, the
pairs grouped by gene (tissue, QTL type, each method's PIP and set, S-PrediXcan, coloc), the variants in
credible sets and each method's fit status (with any LD-mismatch columns the loci table carries).

:func:`lead_r2` and :func:`pair_positions` are pure (tested); :func:`write_locus_pages` does the I/O.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..io.annotation import genes_in_window
from ..io.tables import write_text
from .genes import gene_key
from .html import embed_image, page, table_html

log = logging.getLogger("twasflow")

#: Loci-table columns not shown on a locus page (bookkeeping, not results).
_HIDDEN_FIT_COLUMNS = {"trait", "locus_id", "seconds", "log"}


def lead_r2(panel: Any, lead: str, variant_ids: Sequence[str], *, block: int = 2000) -> np.ndarray:
    """r² of every variant with ``lead`` from the LD panel (:func:`twasflow.ld.ld_matrix` on the dosages of
    [lead, block of variants], so the value is exactly what ``twasflow ld`` reports); NaN for variants not in the
    panel (or monomorphic), all NaN when the lead is not in it.

    ``panel``: a :class:`twasflow.io.panel.Panel`. Returns float64 (len(variant_ids),).
    """
    from ..ld import ld_matrix

    ids = [str(v) for v in variant_ids]
    out = np.full(len(ids), np.nan)
    index = pd.Index(panel.variants["variant_id"].astype(str))
    loc = index.get_indexer(ids)
    if str(lead) not in index:
        return out
    chrom, lead_row = panel.index_of([str(lead)])
    same = np.flatnonzero((loc >= 0) & (panel.variants["chrom"].to_numpy()[np.maximum(loc, 0)] == chrom))
    if getattr(panel, "meta", {}).get("ld"):  # precomputed LD (no genotypes): the lead's row from its window
        if len(same):
            out[same] = panel.ld([str(lead)] + [ids[i] for i in same])[0, 1:] ** 2
        return out
    rows = panel.variants["row"].to_numpy()[loc[same]].astype(np.int64)
    for k in range(0, len(same), block):
        r = rows[k:k + block]
        R = ld_matrix(panel.dosages(chrom, np.concatenate([lead_row, r])))
        out[same[k:k + block]] = R[0, 1:] ** 2
    return out


def pair_positions(pairs: pd.DataFrame, annotation: pd.DataFrame | None, window: tuple[float, float]) -> dict[str, float]:
    """x position (bp) of each pair: its gene's centre from the annotation (by Ensembl id, else symbol); pairs of
    one gene are spread by 0.4 % of the window so their tissues stay apart; a gene not in the annotation puts
    its pairs evenly along the window.

    ``pairs``: ``variable_id, gene_id, gene_name`` (one row per pair).
    """
    lo, hi = window
    centre: dict[str, float] = {}
    if annotation is not None and len(annotation):
        mid = 0.5 * (annotation["start"] + annotation["end"]).to_numpy(np.float64)
        for gid, name, m in zip(annotation["gene_id"], annotation["gene_name"], mid):
            if gid:
                centre.setdefault(str(gid), m)
            if name:
                centre.setdefault(gene_key(name), m)
    p = pairs.drop_duplicates("variable_id").reset_index(drop=True)
    x = np.array([centre.get(gene_key(g) if isinstance(g, str) and g else "", centre.get(
        gene_key(n) if isinstance(n, str) and n else "", np.nan)) for g, n in zip(p["gene_id"], p["gene_name"])])
    miss = np.isnan(x)
    if miss.any():
        x[miss] = np.linspace(lo, hi, int(miss.sum()) + 2)[1:-1]
    key = pd.Series(x).round(0)
    rank = key.groupby(key).cumcount().to_numpy()
    x = x + (rank - 0.5 * (key.map(key.value_counts()).to_numpy() - 1)) * 0.004 * (hi - lo)
    return dict(zip(p["variable_id"].astype(str), x))


def ld_flagged_variants(fit_loci: pd.DataFrame) -> frozenset[str]:
    """Variants the LD-mismatch gate flagged at a locus: the union of the ``ld_flagged`` cells (``;``-separated
    ids) of its loci-table rows (one per method; the gate runs once per locus, so they agree)."""
    if "ld_flagged" not in fit_loci.columns:
        return frozenset()
    return frozenset(v for cell in fit_loci["ld_flagged"] if isinstance(cell, str) for v in cell.split(";") if v)


def page_name(locus_id: str, genes: Sequence[str]) -> str:
    """File name of a locus page: ``{locus_id}__{up to 3 genes}.html`` (the report lists it by locus and gene)."""
    g = "-".join(list(dict.fromkeys(str(x) for x in genes if x))[:3]) or "no-gene"
    return f"{locus_id}__{re.sub(r'[^A-Za-z0-9._-]+', '_', g)}.html"


def _pairs_by_gene(v: pd.DataFrame, methods: Sequence[str], pre: pd.DataFrame | None, co: pd.DataFrame | None,
                   symbols: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Every pair fitted at the locus: gene, tissue, QTL type, each method's PIP and credible set,
    S-PrediXcan z/p, largest coloc PP.H4; sorted by gene then decreasing best PIP."""
    p = v[v["type"] == "pair"]
    if not len(p):
        return pd.DataFrame()
    base = p.drop_duplicates("variable_id")[["variable_id", "gene_name", "gene_id", "tissue", "qtl_type"]].copy()
    sym = symbols or {}
    base["gene"] = [n if isinstance(n, str) and n else sym.get(gene_key(str(g)), g)
                    for n, g in zip(base["gene_name"], base["gene_id"])]
    out = base[["gene", "gene_id", "tissue", "qtl_type", "variable_id"]].rename(columns={"variable_id": "pair_id"})
    for m in methods:
        pm = p[p["method"] == m].set_index("variable_id")
        out[f"{m}_pip"] = out["pair_id"].map(pm["pip"]).astype(np.float64)
        cs = pd.to_numeric(out["pair_id"].map(pm["cs"]), errors="coerce")
        out[f"{m}_cs"] = ["" if pd.isna(c) else f"CS{int(c)}" for c in cs]
    if pre is not None and len(pre):
        q = pre.drop_duplicates("pair_id").set_index("pair_id")
        out["twas_z"] = out["pair_id"].map(q["twas_z"]).astype(np.float64)
        out["twas_p"] = out["pair_id"].map(q["twas_p"]).astype(np.float64)
    if co is not None and len(co):
        out["coloc_pp_h4"] = out["pair_id"].map(co.groupby("pair_id")["PP.H4"].max()).astype(np.float64)
    out["_best"] = out[[f"{m}_pip" for m in methods]].max(axis=1)
    out = out.sort_values(["gene", "_best"], ascending=[True, False], kind="mergesort")
    # genes ordered by their best pair
    order = out.groupby("gene")["_best"].max().sort_values(ascending=False, kind="mergesort").index
    out["gene"] = pd.Categorical(out["gene"], categories=list(order), ordered=True)
    out = out.sort_values(["gene", "_best"], ascending=[True, False], kind="mergesort").drop(columns="_best")
    out["gene"] = out["gene"].astype(str)
    return out.reset_index(drop=True)


def _cs_variants(v: pd.DataFrame, methods: Sequence[str], gw: pd.DataFrame) -> pd.DataFrame:
    """Variants in a credible set of any method: id, rsID, position, GWAS p, r² with the lead, each method's
    PIP and set."""
    var = v[(v["type"] == "variant")]
    ids = sorted(set(var.loc[pd.to_numeric(var["cs"], errors="coerce").notna(), "variable_id"].astype(str)))
    if not ids:
        return pd.DataFrame()
    g = gw.set_index("variant_id")
    out = pd.DataFrame({"variant_id": ids})
    if "rsid" in g.columns:
        out["rsid"] = out["variant_id"].map(g["rsid"])
    out["pos"] = out["variant_id"].map(g["pos"])
    out["gwas_p"] = out["variant_id"].map(g["p"]).astype(np.float64)
    out["r2_lead"] = out["variant_id"].map(g["r2"]).astype(np.float64)
    for m in methods:
        vm = var[var["method"] == m].set_index("variable_id")
        out[f"{m}_pip"] = out["variant_id"].map(vm["pip"]).astype(np.float64)
        cs = pd.to_numeric(out["variant_id"].map(vm["cs"]), errors="coerce")
        out[f"{m}_cs"] = ["" if pd.isna(c) else f"CS{int(c)}" for c in cs]
    return out.sort_values("pos", kind="mergesort").reset_index(drop=True)


def write_locus_pages(trait: str, methods: Sequence[str], loci_table: pd.DataFrame, variables: pd.DataFrame,
                      fit_loci: pd.DataFrame, gwas_path: str | Path, panel_dir: str | Path | None,
                      annotation: pd.DataFrame | None, genes: pd.DataFrame, sets: pd.DataFrame,
                      prescreen: pd.DataFrame | None, coloc: pd.DataFrame | None, out_dir: str | Path,
                      *, trait_page: str = "../summary.html") -> dict[str, str]:
    """Write one page (+ its PNG and SVG) per locus of ``loci_table`` into ``out_dir``.

    ``genes``: the trait's gene table (:func:`twasflow.summary.gene_table.gene_table`).
    Returns locus_id -> page file name.
    """
    from ..io.panel import Panel
    from ..locus import read_range
    from ..plots import regional_plot
    from .trait_page import gene_table_html

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    panel = Panel(panel_dir) if panel_dir else None
    import pyarrow.parquet as pq

    have = set(pq.read_schema(gwas_path).names)
    cols = ["variant_id", "pos", "p", "z"] + (["rsid"] if "rsid" in have else [])
    names: dict[str, str] = {}
    for _, loc in loci_table.iterrows():
        lid, chrom = str(loc["locus_id"]), str(loc["chrom"])
        lo, hi = int(loc["start"]), int(loc["end"])
        lead = str(loc["lead_variant"])
        gw = read_range(gwas_path, chrom, lo, hi, cols).sort_values("pos", kind="mergesort").reset_index(drop=True)
        gw["r2"] = lead_r2(panel, lead, gw["variant_id"].tolist()) if panel is not None and len(gw) else np.nan
        v = variables[variables["locus_id"] == lid] if len(variables) else variables
        fits = {m: v[v["method"] == m] for m in methods}
        ann = genes_in_window(annotation, chrom, lo, hi)
        p = v[v["type"] == "pair"] if len(v) else v
        px = pair_positions(p, ann, (lo, hi)) if len(p) else {}
        sym = dict(zip(ann["gene_id"], ann["gene_name"])) if len(ann) else {}
        labels = {str(r["variable_id"]): f"{r['gene_name'] or sym.get(gene_key(str(r['gene_id'])), r['gene_id'])} · "
                  f"{r['tissue']} · {r['qtl_type']}" for _, r in p.drop_duplicates("variable_id").iterrows()} if len(p) else {}
        gl = genes[genes["locus_id"] == lid] if len(genes) else genes
        causal_genes = frozenset(str(x) for x in gl["gene"]) | frozenset(str(x) for x in gl["gene_id"]) if len(gl) else frozenset()
        name = page_name(lid, gl["gene"].tolist() if len(gl) else [])
        names[lid] = name
        stem = out / name.removesuffix(".html")
        lead_rs = gw.loc[gw["variant_id"] == lead, "rsid"].iloc[0] if "rsid" in gw and (gw["variant_id"] == lead).any() else ""
        title = f"{trait} · {lid} · lead {lead}" + (f" ({lead_rs})" if isinstance(lead_rs, str) and lead_rs else "")
        fl = fit_loci[fit_loci["locus_id"] == lid] if len(fit_loci) else fit_loci
        flagged = ld_flagged_variants(fl)
        regional_plot(stem, gw, lead, (lo, hi), ann, fits, px, title=title, pair_labels=labels,
                      highlight=causal_genes, ld_flagged=flagged)
        pre = prescreen[prescreen["locus_id"] == lid] if prescreen is not None and len(prescreen) else None
        co = coloc[coloc["locus_id"] == lid] if coloc is not None and len(coloc) else None
        fl = fl[[c for c in fl.columns if c not in _HIDDEN_FIT_COLUMNS]].dropna(axis=1, how="all")
        st = sets[sets["locus_id"] == lid] if len(sets) else sets
        n_lead = int(np.isfinite(gw["r2"].to_numpy(np.float64)).sum()) if len(gw) else 0
        intro = (f'<p><a href="{trait_page}">← {trait}</a> · chromosome {chrom}:{lo:,}–{hi:,} · '
                 f"{len(gw):,} GWAS variants in the window ({n_lead:,} in the LD panel) · lead p = "
                 f"{_fmt_p(loc.get('lead_p'))}</p>")
        sections = [
            ("Genes at this locus", "One row per gene with a pair in a credible set or called causal by a method, "
             "or significant in S-PrediXcan (same columns as the trait page).",
             gene_table_html(gl, methods, table_id="gene-table", link=False)),
            ("Regional plot", "Every GWAS variant in the window (−log10 p), coloured by r² with the lead variant in "
             "the LD panel (LocusZoom's bins; grey: not in the panel); black rings: variants in a credible set of "
             "any method" + (f"; black crosses: the {len(flagged)} variant(s) whose z disagrees with the panel LD "
                             "(LD-mismatch gate, ld_check)" if flagged else "") + ". Below: genes (bold: genes in the table above) and each method's PIPs (◆ pairs at their "
             "gene, ● variants; colour = credible set; black edge = causal call).",
             embed_image(stem.parent / f"{stem.name}.png", alt=f"regional plot of {lid}")
             + f'<p class="note"><a href="{stem.name}.svg">SVG</a></p>'),
            ("Gene–tissue pairs by gene", "Every pair fitted at the locus; PIP and credible set per method "
             "(empty: not in a set; n/a: not fitted by that method), S-PrediXcan z and p, largest coloc PP.H4.",
             table_html(_pairs_by_gene(v, methods, pre, co, sym), sortable=True, table_id="pairs-table",
                        headings=_headings(methods), sticky=True)),
            ("Variants in credible sets", "", table_html(_cs_variants(v, methods, gw), sortable=True,
                                                         table_id="vars-table", headings=_headings(methods),
                                                         sticky=True)),
            ("Causal credible sets", "", table_html(st.drop(columns=[c for c in ("trait", "locus_id") if c in st]),
                                                     sortable=True, table_id="sets-table")),
            ("Fit per method", "Each method's loci-table row (status, size, Pratt split, LD-mismatch columns when "
             "the run records them).", table_html(fl)),
        ]
        write_text(page(f"{trait}: locus {lid}", sections, intro=intro), out / name)
    log.info("%s: %d locus pages", trait, len(names))
    return names


def _headings(methods: Sequence[str]) -> dict[str, str]:
    """Readable headers of the locus tables' columns."""
    h = {"gene_id": "Ensembl id", "qtl_type": "QTL type", "pair_id": "pair", "twas_z": "S-PrediXcan z",
         "twas_p": "S-PrediXcan p", "coloc_pp_h4": "coloc PP.H4 (max)", "variant_id": "variant", "rsid": "rsID",
         "pos": "position", "gwas_p": "GWAS p", "r2_lead": "r² with lead"}
    for m in methods:
        h[f"{m}_pip"], h[f"{m}_cs"] = f"{m} PIP", f"{m} set"
    return h


def _fmt_p(p: object) -> str:
    try:
        return f"{float(p):.3g}"
    except (TypeError, ValueError):
        return "n/a"
