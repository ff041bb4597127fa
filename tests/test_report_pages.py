"""The report pages: the gene-level table, LocusZoom's LD colouring, the gene track's labels, the per-locus
regional plots (every GWAS variant in the window, LD with the lead from the panel = `twasflow ld`), and the trait
and locus pages in headless Chromium (images rendered, no horizontal overflow at 1400 px, sortable gene table,
load time)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twasflow.io.annotation import genes_in_window, read_gene_annotation
from twasflow.plots import LD_BINS, ld_bin, ld_colours, regional_figure
from twasflow.summary.gene_table import gene_table, pratt_methods
from twasflow.summary.html import NA, table_html

DATA = Path(__file__).parent / "data" / "gene_annotation"
CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
TRAITS = ("LDL_sim", "BMI_sim")


def _var(method, lid, vid, typ, pip, cs=None, causal=False, cs_pratt=np.nan, gene=None, name="", tissue=None,
         qtl="eQTL", group=None):
    return {"trait": "T", "method": method, "locus_id": lid, "variable_id": vid, "type": typ, "pair_id": vid if typ == "pair" else None,
            "gene_id": gene, "gene_name": name, "tissue": tissue, "qtl_type": qtl if typ == "pair" else None,
            "variant_id": vid if typ == "variant" else None, "pip": pip, "cs": cs, "cs_pratt": cs_pratt,
            "causal": causal, "collinear_group": group or vid}


def test_gene_table_answers_per_gene_and_leaves_out_what_does_not_apply():
    rows = [
        # TGVIS: gene A causal in two tissues (collinear with each other), CS-Pratt 0.4
        _var("tgvis", "L1", "ENSGA.1|Liver|eQTL", "pair", 0.7, 1, True, 0.4, "ENSGA", "GA", "Liver", group="g1"),
        _var("tgvis", "L1", "ENSGA.1|Blood|eQTL", "pair", 0.3, 1, True, 0.4, "ENSGA", "GA", "Blood", group="g1"),
        _var("tgvis", "L1", "ENSGB.1|Liver|sQTL", "pair", 0.01, None, False, np.nan, "ENSGB", "", "Liver", "sQTL"),
        _var("tgvis", "L1", "1:10:A:G", "variant", 0.9, 2, True, 0.2),
        # cTWAS: no CS-Pratt; gene A in a set, not causal
        _var("ctwas", "L1", "ENSGA.1|Liver|eQTL", "pair", 0.5, 1, False, np.nan, "ENSGA", "GA", "Liver"),
        _var("ctwas", "L1", "ENSGA.1|Blood|eQTL", "pair", 0.2, 1, False, np.nan, "ENSGA", "GA", "Blood"),
        _var("ctwas", "L1", "ENSGB.1|Liver|sQTL", "pair", 0.05, None, False, np.nan, "ENSGB", "", "Liver", "sQTL"),
    ]
    v = pd.DataFrame(rows)
    pre = pd.DataFrame({"locus_id": ["L1", "L1", "L1"], "pair_id": ["ENSGA.1|Liver|eQTL", "ENSGA.1|Blood|eQTL",
                                                                      "ENSGB.1|Liver|sQTL"],
                        "twas_z": [3.0, -6.0, 5.5], "twas_p": [2.7e-3, 2e-9, 3.8e-8]})
    co = pd.DataFrame({"method": ["tgvis", "ctwas"], "locus_id": ["L1", "L1"], "pair_id": ["ENSGA.1|Liver|eQTL"] * 2,
                       "PP.H4": [0.91, 0.85]})
    g = gene_table(v, ["tgvis", "ctwas", "tgfm"], pre, co, twas_p_max=2.5e-6, gene_names={"ENSGB": "GB"},
                   silver=frozenset({"GA"}), drugs=None)
    assert pratt_methods(v) == ["tgvis"]
    assert "tgvis_cs_pratt" in g.columns and "ctwas_cs_pratt" not in g.columns  # not applicable: no column, no 0
    assert g["gene"].tolist() == ["GA", "GB"]  # by best PIP; GB only because S-PrediXcan is significant
    a, b = g.iloc[0], g.iloc[1]
    assert a["pairs"] == "Blood (eQTL); Liver (eQTL)" and a["gene_id"] == "ENSGA"
    assert (a["tgvis_call"], a["tgvis_pip"], a["tgvis_cs"], a["tgvis_cs_pratt"]) == ("causal", 0.7, "CS1", 0.4)
    assert (a["ctwas_call"], a["ctwas_pip"]) == ("credible set", 0.5)
    assert a["tgfm_call"] == "not fitted" and np.isnan(a["tgfm_pip"])
    assert (a["twas_z"], a["twas_p"], a["twas_tissue"]) == (-6.0, 2e-9, "Blood (eQTL)")
    assert a["coloc_pp_h4"] == 0.91 and bool(a["silver"]) and a["drug_target"] is None
    assert not b["silver"] and b["gene"] == "GB" and b["tgvis_call"] == "—" and np.isnan(b["coloc_pp_h4"])
    # shown as n/a, never as 0
    cells = table_html(g, ["tgfm_pip", "drug_target", "coloc_pp_h4"])
    assert cells.count(f'<td class="na">{NA}</td>') == 5 and "<td>0</td>" not in cells
    # the gene tests join in by gene id when that table exists
    gt = pd.DataFrame({"_key": ["ENSGA"], "omnibus_p": [1e-12], "smultixcan_z": [7.1], "smultixcan_p": [1.2e-12]})
    g2 = gene_table(v, ["tgvis"], pre, co, twas_p_max=2.5e-6, gene_tests=gt)
    assert g2.set_index("gene").loc["GA", "omnibus_p"] == 1e-12 and np.isnan(g2.set_index("gene_id").loc["ENSGB", "omnibus_p"])


def test_locuszoom_ld_bins():
    r2 = np.array([1.0, 0.8, 0.7999, 0.6, 0.4, 0.39, 0.2, 0.1999, 0.0, np.nan])
    assert ld_bin(r2).tolist() == [0, 0, 1, 1, 2, 3, 3, 4, 4, -1]
    assert ld_colours([0.95, np.nan]) == [LD_BINS[0][1], "#b8b8b8"]
    assert [b[1] for b in LD_BINS] == ["#d43f3a", "#eea236", "#5cb85c", "#46b8da", "#357ebd"]  # LocusZoom.js


def _overlaps(texts, fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(r) for t in texts]
    return [(texts[i].get_text(), texts[j].get_text()) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
            if boxes[i].overlaps(boxes[j])]


def _toy_variants(lo, hi, n=300, seed=0):
    rng = np.random.default_rng(seed)
    pos = np.sort(rng.integers(lo, hi, n))
    return pd.DataFrame({"variant_id": [f"1:{p}:A:G" for p in pos], "pos": pos, "p": 10 ** -rng.uniform(0, 9, n),
                         "r2": rng.uniform(0, 1, n), "rsid": [f"rs{p}" for p in pos]})


def test_gene_labels_do_not_overlap_even_when_crowded():
    import matplotlib.pyplot as plt

    lo, hi = 1_000_000, 3_000_000
    rng = np.random.default_rng(1)
    s = np.sort(rng.integers(lo, hi, 60))
    genes = pd.DataFrame({"gene_id": [f"ENSG{i}" for i in range(60)], "gene_name": [f"LONGGENENAME{i}" for i in range(60)],
                          "chrom": "1", "start": s, "end": s + rng.integers(1_000, 80_000, 60),
                          "strand": rng.choice(["+", "-"], 60)})
    v = _toy_variants(lo, hi)
    fig, texts = regional_figure(v, v["variant_id"].iloc[5], (lo, hi), genes, {}, {})
    assert len(texts) == 60 and _overlaps(texts, fig) == []
    assert fig.axes[-1].get_xlim() == (lo / 1e6, hi / 1e6)  # the axis spans the window
    plt.close(fig)


def test_example_annotation_gene_labels_do_not_overlap():
    import matplotlib.pyplot as plt

    ann = read_gene_annotation(DATA / "example_genes_hg38.tsv", "GRCh38")
    # the example's loci (results/loci/*.tsv of the default config)
    for chrom, lo, hi in (("1", 107_324_681, 109_324_681), ("1", 109_637_413, 111_637_413), ("2", 20_857_608, 24_006_939),
                          ("1", 108_618_628, 111_497_483), ("2", 19_775_324, 21_775_324), ("2", 22_059_162, 24_059_162)):
        g = genes_in_window(ann, chrom, lo, hi)
        v = _toy_variants(lo, hi)
        fig, texts = regional_figure(v, v["variant_id"].iloc[0], (lo, hi), g, {}, {})
        assert len(texts) == len(g) > 0 and _overlaps(texts, fig) == [], (chrom, lo)
        plt.close(fig)
