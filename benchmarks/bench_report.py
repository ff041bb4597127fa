"""Benchmark: load time of a trait page in headless Chromium at genome-wide scale (issue #20: "< 2 s").

Takes a finished run's trait summary (default: the example's ``results/summary/LDL_sim``), replicates its gene
table to ``--genes`` rows (distinct locus ids; the genome-wide benchmark of docs/scale.md has 314 loci and
~1,600 genes with a causal pair) and its loci table to ``--loci`` rows, writes the trait page with
:func:`twasflow.summary.trait_page.trait_page` and measures the page's own load time
(``performance.getEntriesByType("navigation")[0].loadEventStart``, ms) over ``--repeat`` Chromium runs.

Usage::

    python benchmarks/bench_report.py --summary RUN/results/summary/LDL_sim [--genes 2000] [--loci 320] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import html
from pathlib import Path

import numpy as np
import pandas as pd

from twasflow.summary.pipeline import TRAIT_TABLES
from twasflow.summary.trait_page import trait_page

PROBE = ('<script>window.addEventListener("load",function(){var n=performance.getEntriesByType("navigation")[0];'
         'var p=document.createElement("pre");p.id="t";p.textContent=JSON.stringify({ms:n.loadEventStart,'
         'rows:document.querySelectorAll("#gene-table tbody tr").length});document.body.appendChild(p);});</script>')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--summary", required=True, type=Path)
    ap.add_argument("--genes", type=int, default=2000)
    ap.add_argument("--loci", type=int, default=320)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    src = a.summary
    trait = src.name
    genes = pd.read_csv(src / "genes.tsv", sep="\t")
    k = int(np.ceil(a.genes / len(genes)))
    big = pd.concat([genes.assign(locus_id=genes["locus_id"] + f"_{i}") for i in range(k)], ignore_index=True)
    big = big.head(a.genes).assign(page="")
    tables = {t: pd.read_csv(src / f"{t}.tsv", sep="\t") for t in TRAIT_TABLES if (src / f"{t}.tsv").is_file()}
    loci = pd.DataFrame({"locus_id": [f"{trait}.1_{i}" for i in range(a.loci)], "chrom": "1", "start": 0, "end": 1,
                         "lead_variant": "1:1:A:G", "lead_p": 1e-9})
    methods = sorted(set(tables["overview"]["method"]))
    chromium = next(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b))
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        for f in ("tissues.png", "pratt.png", "agreement.png"):
            shutil.copy(src / f, out / f)
        page = trait_page(trait, methods, big, tables, pd.DataFrame(), None, {}, loci, out,
                          notes={"silver": "", "drug": "", "truth": "x"}, twas_p_max=2.5e-6, nearby_kb=1000)
        i = page.rindex("</body>")
        (out / "summary.html").write_text(page[:i] + PROBE + page[i:])
        size = (out / "summary.html").stat().st_size
        ms = []
        for _ in range(a.repeat):
            r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
                                "--dump-dom", (out / "summary.html").as_uri()], capture_output=True, text=True, timeout=300)
            m = json.loads(html.unescape(re.search(r'<pre id="t">(.*?)</pre>', r.stdout).group(1)))
            ms.append(m["ms"])
    print(json.dumps({"gene_rows": int(len(big)), "rendered_rows": m["rows"], "loci_rows": a.loci,
                      "page_bytes": size, "load_ms": ms, "median_ms": float(np.median(ms))}))


if __name__ == "__main__":
    main()
