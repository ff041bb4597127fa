"""The example run's summaries and `snakemake --report`: files, numbers traced back to the result tables, and the
HTML report opened in headless Chromium (every section listed, every image rendered and not blank)."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_snakemake

TRAITS = ("LDL_sim", "BMI_sim")
ACROSS = "across traits"
SUBCATEGORIES = {"1 summary", "2 figures", "3 loci", "4 tables"}
CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)

# Drives the report app (snakemake's React page) the way a user's clicks do: each category, each of its
# subcategories (through the category menu), then each image result shown in the content pane; records what is
# listed and the pixel statistics of every displayed image, into <pre id="twasflow-check">.
PROBE = r"""
(function () {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  async function check() {
    const out = { categories: {}, images: {}, errors: [] };
    try {
      for (const cat of Object.keys(categories)) {
        app.showCategory(cat);
        await sleep(30);
        const entry = { shown: document.querySelector("#app").innerText.includes(cat), subcategories: {} };
        for (const sub of Object.keys(categories[cat])) {
          app.showCategory(cat);
          await sleep(30);
          app.setView({ navbarMode: "subcategory", category: cat, subcategory: sub });
          await sleep(30);
          const text = document.querySelector("#app").innerText;
          entry.subcategories[sub] = categories[cat][sub].map((p) => {
            const r = results[p];
            const labels = r.labels ? Object.values(r.labels).map(String) : [r.name];
            return { path: p, listed: labels.every((l) => text.includes(l)) };
          });
        }
        out.categories[cat] = entry;
      }
      for (const [path, r] of Object.entries(results)) {
        if (!r.mime_type.startsWith("image/")) continue;
        app.setView({ content: "img", contentPath: r.data_uri, resultPath: path });
        await sleep(30);
        const img = Array.from(document.querySelectorAll("#app img")).find((i) => i.getAttribute("src") === r.data_uri);
        if (!img) { out.images[path] = { found: false }; continue; }
        for (let k = 0; k < 5000 && !(img.complete && img.naturalWidth > 0); k++) await sleep(20);
        const c = document.createElement("canvas");
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const ctx = c.getContext("2d");
        ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let s = 0, s2 = 0, n = 0;
        for (let i = 0; i < d.length; i += 4) { const g = (d[i] + d[i + 1] + d[i + 2]) / 3; s += g; s2 += g * g; n++; }
        const rect = img.getBoundingClientRect();
        out.images[path] = { found: true, width: img.naturalWidth, height: img.naturalHeight, shown_w: rect.width,
                             shown_h: rect.height, var: s2 / n - (s / n) * (s / n) };
      }
    } catch (e) { out.errors.push(String((e && e.stack) || e)); }
    const show = window.__twasflow_show;
    if (show && results[show]) app.setView({ content: "img", contentPath: results[show].data_uri, resultPath: show });
    const pre = document.createElement("pre");
    pre.id = "twasflow-check";
    pre.style.display = "none";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  window.addEventListener("load", () => setTimeout(check, 200));
})();
"""


def test_truth_comparison_is_written_per_method(example_run: Path) -> None:
    """The gwas sheet's truth column: every planted pair/variant once per method (TP iff called causal), every
    causal call that was not planted as FP, recounted here from the fine-mapping tables."""
    res = example_run / "results"
    for trait in TRAITS:
        s = json.loads((res / "summary" / trait / "summary.json").read_text())
        tab = pd.read_csv(res / "summary" / trait / "truth.tsv", sep="\t")
        truth = pd.read_csv(example_run / "resources" / "example" / "gwas" / f"{trait}.truth.tsv", sep="\t")
        truth = truth[truth["kind"].isin(["pair", "variant"])]
        planted = set(np.where(truth["kind"] == "pair", truth["pair_id"], truth["variant_id"]))
        for method in s["methods"]:
            var = pd.concat([pd.read_parquet(p) for p in sorted((res / "finemap" / method / trait).glob("*.variables.parquet"))])
            called = set(var.loc[var["causal"].astype(bool), "variable_id"])
            t = tab[tab["method"] == method]
            assert set(t.loc[t["planted"], "variable_id"]) == planted and t["planted"].sum() == len(planted)
            assert set(t.loc[t["outcome"] == "TP", "variable_id"]) == planted & called
            assert set(t.loc[t["outcome"] == "FP", "variable_id"]) == called - planted
            for c in s["truth_counts"]:
                if c["method"] == method:
                    assert c["TP"] + c["FN"] == int((truth["kind"] == c["type"]).sum())
                    assert c["FP"] == int(((t["outcome"] == "FP") & (t["type"] == c["type"])).sum())
                    fp_c = (t["outcome"] == "FP") & (t["type"] == c["type"]) & t["collinear_with_planted"]
                    assert c["FP_collinear"] == int(fp_c.sum()) <= c["FP"]
            # a flagged false call shares its collinear group with a planted variable of the same locus
            for _, r in t[t["collinear_with_planted"]].iterrows():
                g = var.loc[(var["locus_id"] == r["locus_id"]) & (var["variable_id"] == r["variable_id"]), "collinear_group"]
                mates = var.loc[(var["locus_id"] == r["locus_id"]) & (var["collinear_group"] == g.iloc[0]), "variable_id"]
                assert set(mates) & planted
        assert ">Planted truth</h2>" in (res / "summary" / trait / "summary.html").read_text()


@pytest.fixture(scope="module")
def report_html(example_run: Path) -> Path:
    """`snakemake --report report.html` after the example run (Snakemake 9 writes one self-contained HTML file)."""
    r = run_snakemake("--report", "report.html", cwd=example_run)
    assert r.returncode == 0, r.stderr[-3000:]
    return example_run / "report.html"


def _js_var(text: str, name: str) -> dict:
    m = re.search(rf'<script id="{name}">\s*var {name} = (.*?);\s*</script>', text, re.S)
    assert m, f"report has no {name} block"
    return json.loads(m.group(1))


def _decode(uri: str) -> bytes:
    head, data = uri.split(",", 1)
    assert head.endswith(";base64"), head[:60]
    return base64.b64decode(data)


def _png_pixels(data: bytes) -> np.ndarray:
    from matplotlib import image

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return image.imread(io.BytesIO(data), format="png")


# ------------------------------------------------------------------------------------------------ files and numbers
def test_summary_numbers_come_from_the_result_tables(example_run: Path) -> None:
    res = example_run / "results"
    for trait in TRAITS:
        s = json.loads((res / "summary" / trait / "summary.json").read_text())
        co_all = pd.concat([pd.read_parquet(p) for p in sorted((res / "coloc" / trait).glob("*.parquet"))])
        assert sorted(o["method"] for o in s["overview"]) == sorted(s["methods"])
        for method in s["methods"]:
            fm = res / "finemap" / method / trait
            var = pd.concat([pd.read_parquet(p) for p in sorted(fm.glob("*.variables.parquet"))])
            loci = pd.concat([pd.read_parquet(p) for p in sorted(fm.glob("*.loci.parquet"))])
            causal = var[var["causal"]]
            ov = next(o for o in s["overview"] if o["method"] == method)
            # recounted here directly from the fine-mapping tables
            assert ov["n_causal_pairs"] == int((causal["type"] == "pair").sum())
            assert ov["n_direct_variants"] == int((causal["type"] == "variant").sum())
            assert ov["n_loci_ok"] == int((loci["status"] == "ok").sum())
            # a causal variable outside every credible set (TGFM/cTWAS PIP rules) is a set of its own
            key = [f"{lid}:cs{int(cs)}" if pd.notna(cs) else f"{lid}:{vid}"
                   for lid, cs, vid in zip(causal["locus_id"], causal["cs"], causal["variable_id"])]
            n_sets = len(set(key))
            assert ov["n_causal_sets"] == n_sets
            # tissue shares of one method sum to one (when it called pairs); coloc counts from the coloc tables
            shares = [t["share"] for t in s["tissues"] if t["method"] == method]
            if ov["n_causal_pairs"]:
                assert sum(shares) == pytest.approx(1.0, abs=1e-12)
            else:
                assert shares == []
            co = co_all[co_all["method"] == method]
            per_set = co.groupby(["locus_id", "cs"])["colocalized"].agg(lambda x: bool(x.fillna(False).any()))
            assert next(c for c in s["coloc"] if c["method"] == method)["n_coloc_any"] == int(per_set.sum())
        # the example's own gene lists exercise the enrichment sections
        assert s["silver_standard"] is not None and s["drug_targets"] is not None
        page = (res / "summary" / trait / "summary.html").read_text()
        for heading in ("Overview", "Tissues of causal pairs", "Colocalized credible sets", "Missed by univariable TWAS",
                        "Pratt contribution split", "Method agreement", "Silver-standard precision", "Drug targets"):
            assert f">{heading}</h2>" in page
        assert f"<td data-v=\"{float(ov['n_causal_pairs'])!r}\">{ov['n_causal_pairs']}</td>" in page
    ldl = pd.read_csv(res / "summary" / "LDL_sim" / "silver.tsv", sep="\t")
    assert ldl["n_silver"].iloc[0] + ldl["n_nearby"].iloc[0] >= 1 and 0 <= ldl["precision"].iloc[0] <= 1
    across = res / "summary" / "across_traits"
    ov = pd.read_csv(across / "overview.tsv", sep="\t")
    # one row per trait and method
    assert sorted(zip(ov["trait"], ov["method"])) == sorted((t, m) for t in TRAITS for m in ("tgvis", "ctwas", "tgfm"))
    for f in ("overview.svg", "heatmap.tgvis.svg", *(f"../{t}/{n}.svg" for t in TRAITS for n in ("tissues", "pratt", "agreement"))):
        assert ET.parse(across / f).getroot().tag.endswith("svg"), f
    for t in TRAITS:
        tops = sorted((res / "summary" / t / "top_loci").glob("*.png"))
        assert tops and all((p.with_suffix(".svg")).is_file() for p in tops)


def test_report_has_a_section_per_trait_and_valid_images(report_html: Path) -> None:
    text = report_html.read_text()
    results = _js_var(text, "results")
    cats = _js_var(text, "categories")
    assert set(cats) == {*TRAITS, ACROSS}
    for t in TRAITS:
        assert set(cats[t]) == SUBCATEGORIES
        # one entry per locus page, labelled by locus and genes
        assert len(cats[t]["3 loci"]) == len(pd.read_csv(report_html.parent / "results" / "loci" / f"{t}.tsv", sep="\t"))
    assert {"1 summary", "2 figures"} <= set(cats[ACROSS])
    assert any("heatmap.tgvis.png" in p for p in cats[ACROSS]["2 figures"])
    n_img = 0
    for path, r in results.items():
        data = _decode(r["data_uri"])
        if r["mime_type"] == "image/png":
            px = _png_pixels(data)
            assert px.shape[0] > 100 and px.shape[1] > 100 and float(px[..., :3].std()) > 0.02, path
            n_img += 1
        elif r["mime_type"] == "text/html":
            assert b"<h2>" in data and b"<script src" not in data  # self-contained pages
        assert r["caption"], f"{path} has no caption"
    assert n_img >= 2 * 3 + 1 + 3  # per trait 3 figures; across traits the overview and a heatmap per method


# ------------------------------------------------------------------------------------------------ Chromium
def _with_probe(report: Path, dest: Path, show: str | None = None) -> Path:
    text = report.read_text()
    i = text.rindex("</body>")  # the last one: library sources inside the page contain the string too
    pre = f"<script>window.__twasflow_show = {json.dumps(show)};</script>" if show else ""
    dest.write_text(text[:i] + pre + "<script>" + PROBE + "</script>" + text[i:])
    return dest


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    # virtual time lets the page's timers run to completion quickly and deterministically
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--virtual-time-budget=1000000", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package `chromium`)")
def test_report_renders_in_headless_chromium(report_html: Path, tmp_path: Path) -> None:
    page = _with_probe(report_html, tmp_path / "probe.html")
    r = _chromium("--dump-dom", page.as_uri())
    m = re.search(r'<pre id="twasflow-check"[^>]*>(.*?)</pre>', r.stdout, re.S)
    assert m, f"the report did not render (chromium rc {r.returncode}): {r.stderr[-2000:]}"
    out = json.loads(html.unescape(m.group(1)))
    assert out["errors"] == []
    cats = json.loads(re.search(r'var categories = (.*?);\s*</script>', report_html.read_text(), re.S).group(1))
    assert set(out["categories"]) == set(cats) == {*TRAITS, ACROSS}
    for cat, entry in out["categories"].items():
        assert entry["shown"], cat
        for sub, items in entry["subcategories"].items():
            assert items and all(i["listed"] for i in items), (cat, sub, items)
    n_png = sum(1 for c in cats.values() for items in c.values() for p in items if p.endswith(".png"))
    assert len(out["images"]) == n_png >= 10
    for path, im in out["images"].items():
        assert im["found"] and im["width"] > 100 and im["height"] > 100, path
        assert im["shown_w"] > 50 and im["shown_h"] > 20, path   # laid out on the page, not collapsed
        assert im["var"] > 100.0, path                           # grey-level variance: not a blank image

    # a screenshot of the app showing the across-trait heatmap is not blank either
    heat = next(p for p in cats[ACROSS]["2 figures"] if "heatmap" in p)
    page = _with_probe(report_html, tmp_path / "shot.html", show=heat)
    shot = tmp_path / "shot.png"
    r = _chromium(f"--screenshot={shot}", "--window-size=1400,900", page.as_uri())
    assert shot.is_file(), r.stderr[-2000:]
    px = _png_pixels(shot.read_bytes())[..., :3]
    assert px.shape[:2] == (900, 1400)
    assert float(px.std()) > 0.05
    # the heatmap's colours (viridis) are on screen, not just the page frame
    green_yellow = (px[..., 1] > 0.5) & (px[..., 2] < 0.45) & (px[..., 0] > 0.05)
    assert green_yellow.sum() > 200
