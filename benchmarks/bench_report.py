"""Benchmark: load time of a trait page in headless Chromium (issue #20: "opens in < 2 s", first screen holds the
gene-level answer).

Two modes:

* ``--summary RUN/results/summary/TRAIT`` alone: the page exactly as the run's ``summarize`` wrote it (e.g. the
  genome-wide scale run of ``benchmarks/bench_scale.py``);
* with ``--genes N``: the trait page rebuilt by :func:`twasflow.summary.trait_page.trait_page` from the run's
  tables with the gene table replicated to N rows (distinct locus ids) and ``--loci`` loci rows (a synthetic
  stress case).

The page's own load time is ``performance.getEntriesByType("navigation")[0].loadEventStart`` (ms from navigation
start to the load event: parsing, layout, the inline script, the embedded images), over ``--repeat`` Chromium
runs, each with a fresh ``--user-data-dir`` and the flags below (no network, no first-run work). Also printed:
the CPU seconds of the Chromium process tree for the page minus those for a blank page with the same flags
(the page's own cost, robust to the machine's load), the page size, the gene-table rows, where the gene table starts (px from the top: < 900 = on the first screen of
a 1400 x 900 window) and whether it fits the window's width.

Usage::

    python benchmarks/bench_report.py --summary RUN/results/summary/LDL_gw [--repeat 5]
    python benchmarks/bench_report.py --summary RUN/results/summary/LDL_sim --genes 2000 --loci 320
"""

from __future__ import annotations

import argparse
import html
import json
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--window-size=1400,900"]
PROBE = ('<script>window.addEventListener("load",function(){var n=performance.getEntriesByType("navigation")[0];'
         'var t=document.getElementById("gene-table"),w=t?t.parentNode:null;'
         'var p=document.createElement("pre");p.id="t";p.textContent=JSON.stringify({ms:n.loadEventStart,'
         'dcl:n.domContentLoadedEventEnd,rows:t?t.tBodies[0].rows.length:0,'
         'shown:t?Array.prototype.filter.call(t.tBodies[0].rows,function(r){return r.style.display!=="none";}).length:0,'
         'table_top:t?Math.round(t.getBoundingClientRect().top):null,fits:w?w.scrollWidth<=w.clientWidth:null});'
         'document.body.appendChild(p);});</script>')


def _synthetic(src: Path, out: Path, n_genes: int, n_loci: int) -> Path:
    from twasflow.summary.pipeline import TRAIT_TABLES
    from twasflow.summary.trait_page import trait_page

    trait = src.name
    genes = pd.read_csv(src / "genes.tsv", sep="\t")
    k = int(np.ceil(n_genes / len(genes)))
    big = pd.concat([genes.assign(locus_id=genes["locus_id"] + f"_{i}") for i in range(k)], ignore_index=True)
    big = big.head(n_genes).assign(page="")
    tables = {t: pd.read_csv(src / f"{t}.tsv", sep="\t") for t in TRAIT_TABLES if (src / f"{t}.tsv").is_file()}
    loci = pd.DataFrame({"locus_id": [f"{trait}.1_{i}" for i in range(n_loci)], "chrom": "1", "start": 0, "end": 1,
                         "lead_variant": "1:1:A:G", "lead_p": 1e-9})
    methods = sorted(set(tables["overview"]["method"]))
    for f in ("tissues.png", "pratt.png", "agreement.png"):
        shutil.copy(src / f, out / f)
    page = trait_page(trait, methods, big, tables, pd.DataFrame(), None, {}, loci, out,
                      notes={"silver": "", "drug": "", "truth": "x"}, twas_p_max=2.5e-6, nearby_kb=1000)
    (out / "summary.html").write_text(page)
    return out / "summary.html"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--summary", required=True, type=Path)
    ap.add_argument("--genes", type=int, default=None)
    ap.add_argument("--loci", type=int, default=320)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--chromium", default=None)
    a = ap.parse_args()
    chromium = a.chromium or next(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                                  if shutil.which(b))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = _synthetic(a.summary, tmp, a.genes, a.loci) if a.genes else a.summary / "summary.html"
        text = src.read_text()
        i = text.rindex("</body>")
        page = src.parent / ".bench_report_probe.html"  # beside the page: its relative links resolve as they do
        page.write_text(text[:i] + PROBE + text[i:])
        blank = tmp / "blank.html"
        blank.write_text('<!doctype html><html><body><pre id="t">{}</pre></body></html>')
        runs, wall, cpu, cpu0 = [], [], [], []
        try:
            for k in range(a.repeat):
                # CPU seconds of the whole Chromium process tree (children's rusage), for the page and for a blank
                # page with the same flags: their difference is the page's own cost, whatever the machine's load
                for target, acc in ((blank, cpu0), (page, cpu)):
                    prof = tmp / f"profile{k}{target.stem}"
                    u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    t0 = time.perf_counter()
                    r = subprocess.run([chromium, *FLAGS, f"--user-data-dir={prof}", "--dump-dom", target.as_uri()],
                                       capture_output=True, text=True, timeout=300)
                    u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    acc.append(u1.ru_utime - u0.ru_utime + u1.ru_stime - u0.ru_stime)
                wall.append(time.perf_counter() - t0)
                m = re.search(r'<pre id="t">(.*?)</pre>', r.stdout)
                if not m:
                    raise SystemExit(f"no probe output; chromium stderr: {r.stderr[-2000:]}")
                runs.append(json.loads(html.unescape(m.group(1))))
        finally:
            page.unlink()
    ms = [x["ms"] for x in runs]
    print(json.dumps({"page": str(src if not a.genes else f"synthetic from {a.summary}"),
                      "page_bytes": len(text.encode()), "gene_rows": runs[-1]["rows"],
                      "gene_rows_shown": runs[-1]["shown"], "gene_table_top_px": runs[-1]["table_top"],
                      "gene_table_fits_1400": runs[-1]["fits"], "load_ms": ms, "median_load_ms": float(np.median(ms)),
                      "dom_content_loaded_ms": [x["dcl"] for x in runs],
                      "chromium_cpu_s": [round(x, 2) for x in cpu], "blank_page_cpu_s": [round(x, 2) for x in cpu0],
                      "median_page_cpu_s_over_blank": round(float(np.median(np.array(cpu) - np.array(cpu0))), 3),
                      "chromium_wall_s": [round(w, 2) for w in wall]}))


if __name__ == "__main__":
    main()
