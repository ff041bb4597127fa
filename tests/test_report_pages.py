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
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from twasflow.io.annotation import genes_in_window, read_gene_annotation
from twasflow.plots import LD_BINS, ld_bin, ld_colours, regional_figure
from twasflow.summary.gene_table import gene_table, pratt_methods
from twasflow.summary.html import NA, table_html

DATA = Path(__file__).parent / "data" / "gene_annotation"
# no network, no first-run or background work: the page's own load is what is timed
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]
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


def test_ld_gate_flags_reach_the_regional_plot():
    """The LD-mismatch gate's flagged variants go into the loci table (``ld_flagged``) and come back out on the
    locus page's regional plot as crosses at exactly those variants."""
    import dataclasses

    import matplotlib.pyplot as plt

    from twasflow import ldcheck
    from twasflow.summary.locus_pages import ld_flagged_variants

    rng = np.random.default_rng(3)
    M = 40
    X = rng.standard_normal((500, M))
    X[:, 1:] += 0.8 * X[:, :-1]
    R = np.corrcoef(X.T)
    z = np.linalg.cholesky(R) @ rng.standard_normal(M)
    assert R[10, 11] > 0.4
    z[10], z[11] = 8.0, -8.0  # a strong variant whose neighbour in positive LD has the opposite sign: a flip
    ids = np.array([f"1:{1000 + 100 * i}:A:G" for i in range(M)])

    @dataclasses.dataclass
    class B:
        z: np.ndarray
        R: np.ndarray
        n: np.ndarray
        variant_ids: np.ndarray
        locus_id: str = "L1"

    chk = ldcheck.check_bundle(B(z, R, np.full(M, 1e5), ids), None, {"action": "warn"})[2]
    assert chk.n_flagged >= 1
    fields = chk.locus_fields()
    assert fields["ld_flagged"] == ";".join(ids[chk.flagged])
    loci = pd.DataFrame([{"method": m, **fields} for m in ("tgvis", "ctwas")])
    flagged = ld_flagged_variants(loci)
    assert flagged == frozenset(ids[chk.flagged])
    v = pd.DataFrame({"variant_id": ids, "pos": 1000 + 100 * np.arange(M), "p": 2 * stats.norm.sf(np.abs(z)),
                      "r2": 0.5})
    fig, _ = regional_figure(v, ids[10], (900, 5000), None, {}, {}, ld_flagged=flagged)
    crosses = [c for c in fig.axes[0].collections if str(c.get_label()).startswith("LD mismatch")]
    assert len(crosses) == 1 and crosses[0].get_label() == f"LD mismatch ({len(flagged)})"
    assert sorted(crosses[0].get_offsets()[:, 0] * 1e6) == pytest.approx(
        sorted(v.loc[v["variant_id"].isin(flagged), "pos"].astype(float)))
    plt.close(fig)
    assert ld_flagged_variants(pd.DataFrame({"ld_flagged": ["", None]})) == frozenset()


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


# ------------------------------------------------------------------------------------------ the example's pages
def _locus_rows(example_run: Path, trait: str) -> pd.DataFrame:
    return pd.read_csv(example_run / "results" / "loci" / f"{trait}.tsv", sep="\t", dtype={"chrom": str})


def test_locus_pages_draw_every_gwas_variant_coloured_by_panel_ld(example_run: Path, tmp_path: Path) -> None:
    """Every locus has a page; its regional plot draws every GWAS variant of the window, and the r² with the lead
    equals `twasflow ld --r2` (twasflow.ld.run_ld, PLINK's --r2 square) on the example's panel to its printed digits."""
    import matplotlib.pyplot as plt

    from twasflow.io.panel import Panel
    from twasflow.ld import run_ld
    from twasflow.locus import read_range
    from twasflow.summary.locus_pages import lead_r2

    res = example_run / "results"
    panel = Panel(res / "panel")
    n_checked = 0
    for trait in TRAITS:
        for _, loc in _locus_rows(example_run, trait).iterrows():
            pages = list((res / "summary" / trait / "loci").glob(f"{loc['locus_id']}__*.html"))
            assert len(pages) == 1, loc["locus_id"]
            text = pages[0].read_text()
            gw = read_range(res / "harmonized" / "gwas" / f"{trait}.parquet", loc["chrom"], int(loc["start"]),
                            int(loc["end"]), ["variant_id", "pos", "p", "rsid"])
            assert f"{len(gw):,} GWAS variants in the window" in text
            assert re.search(r'<img class="fig" alt="regional plot[^"]*" src="data:image/png;base64,', text)
            if n_checked:
                continue
            # LD with the lead, against the PLINK-compatible `twasflow ld` on the panel's PLINK files
            r2 = lead_r2(panel, loc["lead_variant"], gw["variant_id"].tolist())
            pv = panel.variants.set_index("variant_id")
            in_panel = gw["variant_id"].isin(pv.index).to_numpy()
            rs = pv.loc[gw.loc[in_panel, "variant_id"], "rsid"].tolist()
            (tmp_path / "ids.txt").write_text("\n".join(rs) + "\n")
            out = run_ld(example_run / "resources" / "example" / "panel" / "example", tmp_path / "ld",
                         extract=tmp_path / "ids.txt", r2=True)
            R2 = np.loadtxt(out, ndmin=2)
            bim = pd.read_csv(example_run / "resources" / "example" / "panel" / "example.bim", sep=r"\s+", header=None)
            order = [x for x in bim[1] if x in set(rs)]
            lead_rs = pv.at[loc["lead_variant"], "rsid"]
            ref = dict(zip(order, R2[order.index(lead_rs)]))
            got = r2[in_panel]
            # `twasflow ld` prints 6 significant digits (PLINK's format): relative error <= 5e-6
            np.testing.assert_allclose(got, [ref[x] for x in rs], rtol=5e-6, atol=1e-12)
            assert np.isnan(r2[~in_panel]).all()
            # the figure draws all of them: one point per variant across the LD-bin layers and the lead
            fig, _ = regional_figure(gw.assign(r2=r2), loc["lead_variant"], (loc["start"], loc["end"]), None, {}, {})
            ax = fig.axes[0]
            n_pts = sum(len(c.get_offsets()) for c in ax.collections if c.get_label() != "in a credible set")
            assert n_pts == len(gw) > 500, (n_pts, len(gw))
            assert fig.axes[-1].get_xlim() == (loc["start"] / 1e6, loc["end"] / 1e6)
            plt.close(fig)
            n_checked += 1
    assert n_checked == 1


def test_trait_page_holds_the_answer_from_the_tables(example_run: Path) -> None:
    """The gene table on the page is genes.tsv (itself tested in test_gene_table_*), first on the page; every
    causal pair's gene of every method is in it; no self-comparison rows in the agreement section."""
    res = example_run / "results" / "summary"
    for trait in TRAITS:
        page = (res / trait / "summary.html").read_text()
        genes = pd.read_csv(res / trait / "genes.tsv", sep="\t")
        cv = pd.read_csv(res / trait / "causal_variables.tsv", sep="\t")
        first = page.index("<h2>")
        assert page[first:first + 20].startswith("<h2>Genes</h2>")
        assert set(cv.loc[cv["type"] == "pair", "gene_id"].str.split(".").str[0]) <= set(genes["gene_id"])
        for _, g in genes.iterrows():
            assert re.search(rf'<a href="loci/{re.escape(g["locus_id"])}__[^"]+\.html">{re.escape(g["gene"])}</a>', page)
        agree = page[page.index(">Method agreement</h2>"):page.index(">Silver-standard precision</h2>")]
        for m in ("tgvis", "ctwas", "tgfm"):
            assert not re.search(rf"<td class=\"s\">{m}</td><td class=\"s\">{m}</td>", agree)
        assert not re.search(r'(src|href)="(https?:)?//', page) and "<script src" not in page  # works offline


PROBE = r"""
<script>
window.addEventListener("load", function () {
  var out = {errors: []};
  try {
    var nav = performance.getEntriesByType("navigation")[0];
    out.load_ms = nav ? nav.loadEventStart : null;
    var imgs = Array.prototype.slice.call(document.images);
    out.n_img = imgs.length;
    out.img_ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 50 && i.getBoundingClientRect().width > 50; }).length;
    out.scroll_w = document.documentElement.scrollWidth;
    out.client_w = document.documentElement.clientWidth;
    var t = document.getElementById("gene-table");
    if (t) {
      var wrap = t.parentNode;
      out.table_fits = wrap.scrollWidth <= wrap.clientWidth;
      out.sticky = getComputedStyle(t.tBodies[0].rows[0].cells[0]).position;
      var box = document.querySelector('div.cols[data-for="gene-table"] input');
      if (box) {
        var th = t.tHead.rows[0].querySelector('.o' + box.getAttribute('data-col'));
        out.opt_hidden = getComputedStyle(th).display;
        box.click();
        out.opt_shown = getComputedStyle(th).display;
        box.click();
      }
      var heads = Array.prototype.map.call(t.tHead.rows[0].cells, function (c) { return c.textContent.trim(); });
      var col = heads.findIndex(function (h) { return h.indexOf("S-PrediXcan p") === 0; });
      var read = function () { return Array.prototype.map.call(t.tBodies[0].rows, function (r) { return r.cells[col].getAttribute("data-v"); }); };
      out.before = read();
      t.tHead.rows[0].cells[col].click();
      out.asc = read();
      t.tHead.rows[0].cells[col].click();
      out.desc = read();
    }
  } catch (e) { out.errors.push(String(e)); }
  var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _probe(page: Path, dest: Path) -> dict:
    text = page.read_text()
    i = text.rindex("</body>")
    dest.write_text(text[:i] + PROBE + text[i:])
    with tempfile.TemporaryDirectory() as profile:  # a fresh profile, not inside the run's results
        r = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1400,900",
                            "--dump-dom", dest.as_uri()], capture_output=True, text=True, timeout=300)
    m = re.search(r'<pre id="probe">(.*?)</pre>', r.stdout, re.S)
    assert m, r.stderr[-2000:]
    return json.loads(html.unescape(m.group(1)))


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package `chromium`)")
def test_pages_in_headless_chromium(example_run: Path, tmp_path: Path) -> None:
    """Trait and locus pages at 1400 px: every image rendered, no horizontal overflow, the gene table sorts by a
    click on a header, the trait page loads in < 2 s; screenshots are not blank."""
    from matplotlib import image

    res = example_run / "results" / "summary"
    for trait in TRAITS:
        locus = sorted((res / trait / "loci").glob("*.html"))[0]
        for page, n_img in ((res / trait / "summary.html", 3), (locus, 1)):
            out = _probe(page, page.parent / f".probe.{page.name}")
            (page.parent / f".probe.{page.name}").unlink()
            assert out["errors"] == [], out
            assert out["n_img"] == out["img_ok"] == n_img, out
            assert out["scroll_w"] <= 1400 and out["scroll_w"] <= out["client_w"], out
            # the gene table's first view fits the screen (optional columns behind check boxes), gene column sticky
            assert out["table_fits"] and out["sticky"] == "sticky", out
            assert out.get("opt_hidden", "none") == "none" and out.get("opt_shown", "table-cell") == "table-cell", out
            if page.name == "summary.html":
                assert out["load_ms"] is not None and out["load_ms"] < 2000, out
            if len(out.get("before") or []) > 1:
                vals = [float(x) for x in out["asc"] if x is not None]
                assert vals == sorted(vals) and [float(x) for x in out["desc"] if x is not None] == sorted(vals)[::-1]
        for page in (res / trait / "summary.html", locus):
            shot = tmp_path / f"{page.stem}.png"
            subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}",
                            "--window-size=1400,900", f"--screenshot={shot}", page.as_uri()], capture_output=True,
                           timeout=300)
            px = image.imread(shot)[..., :3]
            assert px.shape[:2] == (900, 1400) and float(px.std()) > 0.05


def test_locus_tables_are_lookups_of_the_result_tables():
    """The locus page's pairs-by-gene and credible-set-variant tables: each method's PIP and set, S-PrediXcan and
    coloc of a pair are the cells of the variables / prescreen / coloc tables; pairs of a gene stay together."""
    from twasflow.summary.locus_pages import _cs_variants, _pairs_by_gene, page_name, pair_positions

    rows = [
        _var("tgvis", "L1", "ENSGA.1|Liver|eQTL", "pair", 0.7, 1, True, 0.4, "ENSGA", "", "Liver"),
        _var("tgvis", "L1", "ENSGB.1|Liver|eQTL", "pair", 0.2, None, False, np.nan, "ENSGB", "", "Liver"),
        _var("tgvis", "L1", "ENSGA.1|Blood|sQTL", "pair", 0.1, None, False, np.nan, "ENSGA", "", "Blood", "sQTL"),
        _var("tgvis", "L1", "1:10:A:G", "variant", 0.9, 2, True, 0.2),
        _var("ctwas", "L1", "ENSGA.1|Liver|eQTL", "pair", 0.5, 1, False, np.nan, "ENSGA", "", "Liver"),
        _var("ctwas", "L1", "1:10:A:G", "variant", 0.3, None, False),
    ]
    v = pd.DataFrame(rows)
    pre = pd.DataFrame({"locus_id": ["L1"] * 2, "pair_id": ["ENSGA.1|Liver|eQTL", "ENSGB.1|Liver|eQTL"],
                        "twas_z": [4.0, 1.0], "twas_p": [6.3e-5, 0.32]})
    co = pd.DataFrame({"method": ["tgvis"], "locus_id": ["L1"], "pair_id": ["ENSGA.1|Liver|eQTL"], "PP.H4": [0.88]})
    t = _pairs_by_gene(v, ["tgvis", "ctwas"], pre, co, {"ENSGA": "GA"})
    assert t["gene"].tolist() == ["GA", "GA", "ENSGB"]  # gene by best pair; symbol from the annotation
    a = t.set_index("pair_id")
    assert a.at["ENSGA.1|Liver|eQTL", "tgvis_pip"] == 0.7 and a.at["ENSGA.1|Liver|eQTL", "ctwas_cs"] == "CS1"
    assert np.isnan(a.at["ENSGA.1|Blood|sQTL", "ctwas_pip"])  # not fitted by cTWAS: n/a, not 0
    assert a.at["ENSGA.1|Liver|eQTL", "twas_p"] == 6.3e-5 and a.at["ENSGA.1|Liver|eQTL", "coloc_pp_h4"] == 0.88
    gw = pd.DataFrame({"variant_id": ["1:10:A:G", "1:20:C:T"], "pos": [10, 20], "p": [1e-9, 0.5], "r2": [1.0, 0.1],
                       "rsid": ["rs10", "rs20"]})
    cv = _cs_variants(v, ["tgvis", "ctwas"], gw)
    assert cv.to_dict("records") == [{"variant_id": "1:10:A:G", "rsid": "rs10", "pos": 10, "gwas_p": 1e-9,
                                      "r2_lead": 1.0, "tgvis_pip": 0.9, "tgvis_cs": "CS2", "ctwas_pip": 0.3,
                                      "ctwas_cs": ""}]
    ann = pd.DataFrame({"gene_id": ["ENSGA", ""], "gene_name": ["GA", "GB"], "chrom": "1", "start": [100, 500],
                        "end": [300, 700], "strand": "+"})
    p = v[v["type"] == "pair"]
    x = pair_positions(p.assign(gene_name=np.where(p["gene_id"] == "ENSGB", "GB", "")), ann, (0, 1000))
    assert x["ENSGB.1|Liver|eQTL"] == 600.0  # matched by symbol when the annotation has no id
    assert abs(x["ENSGA.1|Liver|eQTL"] - 200) == abs(x["ENSGA.1|Blood|sQTL"] - 200) == 2.0  # spread by 0.4 %
    assert page_name("T.1_1_2", ["GA", "GB/x", "GC", "GD"]) == "T.1_1_2__GA-GB_x-GC.html"


def test_gene_table_first_view_and_column_toggles():
    """The gene table opens with the answer columns; ids, CS-Pratt, S-PrediXcan z, S-MultiXcan ... sit behind
    check boxes (one per hidden column, hidden by a per-table CSS rule); flags are in the first view only when
    a gene has one; the gene column is sticky; headers align with their cells."""
    from twasflow.summary.trait_page import gene_table_html, optional_gene_columns

    g = pd.DataFrame({"gene": ["A", "B"], "gene_id": ["ENSG1", "ENSG2"], "locus_id": ["T.1_100_200"] * 2,
                      "pairs": ["Liver (eQTL)"] * 2, "tgvis_call": ["causal", "—"], "tgvis_pip": [0.9, 0.1],
                      "tgvis_cs": ["CS1", ""], "tgvis_cs_pratt": [0.3, np.nan], "twas_z": [5.0, 1.0],
                      "twas_p": [1e-7, 0.3], "silver": [True, False], "drug_target": [None, None],
                      "omnibus_p": [1e-9, 0.2], "locus_rank": [1.0, 2.0], "smultixcan_p": [1e-6, 0.5],
                      "page": ["loci/a.html", "loci/b.html"]})
    opt = optional_gene_columns(g, ["tgvis"])
    assert opt == ["gene_id", "tgvis_cs_pratt", "twas_z", "drug_target", "smultixcan_p"]
    out = gene_table_html(g, ["tgvis"], table_id="gene-table")
    assert out.count('type="checkbox"') == len(opt)
    cls = re.search(r'<table id="gene-table" class="([^"]+)"', out).group(1).split()
    assert cls[:2] == ["sortable", "sticky"] and len(cls[2:]) == len(opt)  # every optional column starts hidden
    for c in opt:
        assert f"> {html.escape({'gene_id': 'Ensembl id', 'tgvis_cs_pratt': 'tgvis CS-Pratt', 'twas_z': 'S-PrediXcan z', 'drug_target': 'drug target', 'smultixcan_p': 'S-MultiXcan p'}[c])}</label>" in out
    n_rules = len(re.findall(r"#gene-table\.h(\d+) \.o\1\{display:none\}", out))
    assert n_rules == len(opt)
    assert '<th class="s">gene</th>' in out and "<th>S-PrediXcan p</th>" in out
    g2 = g.assign(drug_target=[False, True])
    assert "drug_target" not in optional_gene_columns(g2, ["tgvis"])
