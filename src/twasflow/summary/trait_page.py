"""The per-trait page (``results/summary/{trait}/summary.html``), answer first: the gene-level table (sortable,
filterable, each gene linking to its locus page), the loci, the figures embedded, then the supporting tables.
Self-comparisons (a method against itself) and quantities that do not apply to a method are left out or
shown as ``n/a``, never as 0.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .html import embed_image, page, table_html


def gene_columns(genes: pd.DataFrame, methods: Sequence[str]) -> dict[str, str]:
    """Column -> heading of the gene table as shown (only the columns ``genes`` has, in reading order)."""
    cols: dict[str, str] = {"gene": "gene", "gene_id": "Ensembl id", "locus": "locus",
                            "pairs": "tissues (QTL type) of its pairs"}
    for m in methods:
        cols[m] = f"{m}: call, PIP, set"
        cols[f"{m}_cs_pratt"] = f"{m} CS-Pratt"
    cols.update({"twas_z": "S-PrediXcan z", "twas_p": "S-PrediXcan p", "twas_tissue": "S-PrediXcan best pair",
                 "coloc_pp_h4": "coloc PP.H4 (max)", "silver": "silver standard", "drug_target": "drug target",
                 "collinear_with": "collinear with (cannot be told apart)", "omnibus_p": "gene test omnibus p",
                 "locus_rank": "gene test rank at locus",
                 "smultixcan_z": "S-MultiXcan z", "smultixcan_p": "S-MultiXcan p", "top_class": "gene test top class"})
    return {c: h for c, h in cols.items() if c in genes.columns}


def locus_label(locus_id: str) -> str:
    """``{trait}.{chrom}_{start}_{end}`` -> ``chrom:start–end Mb`` (2 decimals); other ids unchanged."""
    parts = str(locus_id).rsplit(".", 1)[-1].split("_")
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return f"{parts[0]}:{int(parts[1]) / 1e6:.2f}–{int(parts[2]) / 1e6:.2f} Mb"
    return str(locus_id)


def method_cells(genes: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Add one display column per method, ``{call} · {PIP} · {set}`` (sorted by ``{m}_pip``), so the gene table
    fits a screen; the numbers are the table's own cells."""

    g = genes.copy()
    g["locus"] = [locus_label(x) for x in g["locus_id"]]
    for m in methods:
        if f"{m}_call" not in g.columns:
            continue
        g[m] = [c if c == "not fitted" else " · ".join(x for x in (c if c != "—" else "", fmt_pip(p),
                                                                    s if isinstance(s, str) else "") if x)
                for c, p, s in zip(g[f"{m}_call"], g[f"{m}_pip"], g[f"{m}_cs"])]
    return g


def fmt_pip(p: object) -> str:
    """A PIP as a reader compares them: 3 decimals, ``<0.001`` below (not ``9.22e-12``), n/a when missing."""
    from .html import fmt

    try:
        v = float(p)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return fmt(p)
    if not np.isfinite(v):
        return fmt(p)
    return "<0.001" if 0 < v < 1e-3 else f"{v:.3g}" if v < 1 else "1"


def gene_table_html(genes: pd.DataFrame, methods: Sequence[str], *, table_id: str, link: bool = True) -> str:
    """The gene table as shown on the trait and locus pages (sortable, filterable; genes link to locus pages)."""
    g = method_cells(genes, methods) if len(genes) else genes
    cols = gene_columns(g, methods)
    return table_html(g, list(cols), headings=cols, sortable=True, table_id=table_id, max_rows=20_000,
                      links={"gene": "page"} if link else None, sort_keys={m: f"{m}_pip" for m in methods},
                      optional=optional_gene_columns(g, methods), sticky=True, wrap=list(methods))


#: Gene-table columns shown at first (the answer: which gene, where, which tissues, each method's call, the
#: univariable and colocalization evidence, the gene-test omnibus); the rest open with a check box.
_FIRST_VIEW = ("gene", "locus", "pairs", "twas_p", "coloc_pp_h4", "omnibus_p", "locus_rank")
#: Flags shown at first only when some gene carries them (a column of "no" says nothing at first sight).
_FLAGS = ("silver", "drug_target")


def optional_gene_columns(genes: pd.DataFrame, methods: Sequence[str]) -> list[str]:
    """Columns of the gene table hidden until asked for, so the first view fits a 1,400 px screen with three
    methods: ids, CS-Pratt, S-PrediXcan z and best pair, S-MultiXcan, collinear members, gene-test class, and
    the silver / drug-target flags when no gene has them."""
    first = set(_FIRST_VIEW) | set(methods)
    first |= {f for f in _FLAGS if f in genes.columns and bool((genes[f] == True).any())}  # noqa: E712 (None cells)
    return [c for c in gene_columns(genes, methods) if c not in first]


def _figure(out: Path, name: str, alt: str) -> str:
    p = out / f"{name}.png"
    return embed_image(p, alt=alt, link=f"{name}.svg") if p.is_file() else '<p class="note">(not drawn)</p>'


def trait_page(trait: str, methods: Sequence[str], genes: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
               truth_counts: pd.DataFrame, silver_genes: pd.DataFrame | None, pages: Mapping[str, str],
               loci: pd.DataFrame | None, out: Path, *, notes: Mapping[str, str], twas_p_max: float,
               nearby_kb: float) -> str:
    """HTML of the trait page. ``tables``: the summary tables by name (as written to TSV); ``pages``: locus id
    -> locus page file name (under ``loci/``); ``out``: the summary directory (figures are read from it)."""
    ov = tables["overview"]
    n_genes = int(genes[["locus_id", "gene"]].drop_duplicates().shape[0]) if len(genes) else 0
    calls = ", ".join(f"{html.escape(str(r['method']))}: {int(r['n_causal_genes'])} causal genes, "
                      f"{int(r['n_direct_variants'])} direct variants" for _, r in ov.iterrows())
    intro = (f"<p>{len(loci) if loci is not None else 0} GWAS loci; {n_genes} genes with a pair in a credible set, "
             f"called causal, or significant in S-PrediXcan (p &lt; {twas_p_max:.3g}). {calls}.</p>")
    gene_note = ("Sorted by the largest pair PIP over methods; click a header to sort, type to filter, click a gene "
                 "for its locus page. Per method: call (causal by the method's rule / in a credible set / —), the "
                 "largest PIP of the gene's pairs and their credible sets; CS-Pratt only for methods that report "
                 "it; n/a = does not apply or not available.")
    sections = [("Genes", gene_note, gene_table_html(genes, methods, table_id="gene-table"))]
    if loci is not None and len(loci):
        lt = loci[["locus_id", "chrom", "start", "end", "lead_variant", "lead_p"]].copy()
        lt["page"] = [f"loci/{pages[x]}" if x in pages else "" for x in lt["locus_id"]]
        if len(genes):
            top = genes.drop_duplicates("locus_id").set_index("locus_id")["gene"]
            lt["top gene"] = lt["locus_id"].map(top)
            lt["genes"] = lt["locus_id"].map(genes.groupby("locus_id")["gene"].agg(lambda s: "; ".join(s)))
        sections.append(("Loci", "Each locus page has the regional association plot (LD with the lead from the "
                         "panel), the pairs grouped by gene and each method's credible sets.",
                         table_html(lt, [c for c in lt.columns if c != "page"], sortable=True, table_id="loci-table",
                                    links={"locus_id": "page"})))
    sections.append(("Figures", "Tissues of causal pairs (a credible set with k causal pairs counts 1/k per pair), "
                     "Pratt split per locus, and causal pairs shared between methods (click for SVG).",
                     _figure(out, "tissues", "tissues of causal pairs") + _figure(out, "pratt", "Pratt split")
                     + _figure(out, "agreement", "method agreement")))
    agree = tables["agreement"]
    agree = agree[agree["method_a"] != agree["method_b"]] if len(agree) else agree
    pratt = tables["pratt"]
    pratt = pratt[pratt["n_loci"] > 0] if len(pratt) else pratt
    sections += [
        ("Overview", "Loci fitted and causal variables per method (causal = the method's own rule).",
         table_html(ov.drop(columns="trait"))),
        ("Tissues of causal pairs", "A credible set with k causal pairs counts 1/k for each pair's tissue.",
         table_html(tables["tissues"])),
        ("Colocalized credible sets", "Causal sets with pairs: at least one / more than half of the pairs "
         "colocalized (coloc-SuSiE PP.H4 above the coloc threshold); n/a: the method has no such set.",
         table_html(tables["coloc"])),
        ("Missed by univariable TWAS", f"Causal pairs with S-PrediXcan p >= {twas_p_max:.3g}.",
         table_html(tables["missed_by_twas"])),
        ("Pratt contribution split", "Per-locus Pratt index of pairs, direct variants and infinitesimal effects; "
         "components a method does not estimate are left out.", table_html(pratt)),
        ("Method agreement", "Causal pairs shared between two methods (each method against itself left out); "
         "S-PrediXcan = pairs significant in univariable TWAS.", table_html(agree)),
        ("Silver-standard precision", notes["silver"] or "Each causal set counted once: silver if it has a silver "
         f"gene, else nearby if it has a gene within {nearby_kb:g} kb of one; precision = silver / (silver + "
         "nearby).", table_html(tables["silver"]) + (table_html(silver_genes) if silver_genes is not None else "")),
        ("Drug targets", notes["drug"] or "Distinct causal genes on the drug-target list; ratio = drug-target genes "
         "/ causal genes.", table_html(tables["drug_targets"])),
        ("Planted truth", notes["truth"] or "Per method: planted pairs/variants called causal (TP) or not (FN), and "
         "causal calls that were not planted (FP), of which FP_collinear share a collinear group with a planted "
         "variable (fitted columns correlated |r| >= 0.99: the data cannot tell them from the truth); rows in "
         "truth.tsv.", table_html(truth_counts)),
        ("Causal credible sets", "All sets in causal_sets.html / .tsv.",
         table_html(tables["causal_sets"].drop(columns="trait"), sortable=True, table_id="sets-table", max_rows=100)),
        ("Causal variables", "All rows in causal_variables.html / .tsv.",
         table_html(tables["causal_variables"].drop(columns="trait"), sortable=True, table_id="vars-table", max_rows=100)),
    ]
    return page(f"twasflow summary: {trait}", sections, intro=intro, nav=True)

