"""Issue 19 item 4B: eQTL Catalogue Parquet vs TSV ingest, and eqtlcat-susie reading (posterior-mean weights +
credible-set lbf) at a realistic size. Writes its inputs into ``--dir`` once (``make``), then times one step per
process so farm-bench can measure CPU and peak memory from outside:

    python benchmarks/bench_finemapped.py make --dir /tmp/fm/bench
    farm-bench -n 3 --vs 'python benchmarks/bench_finemapped.py ingest --dir /tmp/fm/bench --fmt tsv' -- \
        python benchmarks/bench_finemapped.py ingest --dir /tmp/fm/bench --fmt parquet
    farm-bench -n 3 -- python benchmarks/bench_finemapped.py susie --dir /tmp/fm/bench

``make``: a 2-chromosome panel table of 20,000 SNVs; nominal statistics of 400 traits x 2,500 variants
(1,000,000 rows) as TSV.gz and Parquet; SuSiE files of 1,000 traits x 5,000 region variants (5,000,000 lbf rows,
10 lbf columns, 2 effects with lbf signal, 8 null) with 1-5 credible-set variants per effect.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def make(d: Path, seed: int = 19) -> None:
    from twasflow.io.tables import write_tsv

    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    M = 20_000
    pos = 1_000_000 + 50 * np.arange(M)
    alle = np.array([("A", "C"), ("A", "G"), ("C", "T"), ("G", "T")])[rng.integers(0, 4, M)]
    panel = pd.DataFrame({"chrom": "1", "pos": pos, "other_allele": alle[:, 0], "counted_allele": alle[:, 1],
                          "counted_freq": np.round(rng.uniform(0.05, 0.5, M), 4), "rsid": [f"rs{j}" for j in range(M)]})
    write_tsv(panel, d / "panel.tsv")
    rows = []
    for t in range(400):
        j = np.sort(rng.choice(M, 2500, replace=False))
        z = rng.standard_normal(j.size)
        rows.append(pd.DataFrame({
            "molecular_trait_id": f"ENSG{t:011d}", "chromosome": "1", "position": pos[j].astype(np.int32),
            "ref": alle[j, 0], "alt": alle[j, 1], "variant": [f"chr1_{p}_{a}_{b}" for p, (a, b) in zip(pos[j], alle[j])],
            "ma_samples": np.int32(50), "maf": 0.2, "pvalue": 0.5, "beta": z * 0.05, "se": 0.05, "type": "SNP",
            "ac": np.int32(200), "an": np.int32(1000), "r2": None, "molecular_trait_object_id": f"ENSG{t:011d}",
            "gene_id": f"ENSG{t:011d}", "median_tpm": 1.0, "rsid": [f"rs{x}" for x in j]}))
    ss = pd.concat(rows, ignore_index=True)
    write_tsv(ss, d / "all.tsv.gz")
    pq.write_table(pa.Table.from_pandas(ss, preserve_index=False), d / "all.parquet", row_group_size=131_072)
    lbf_rows, cs_rows = [], []
    for t in range(1000):
        s = int(rng.integers(0, M - 5000))
        var = [f"chr1_{pos[k]}_{alle[k, 0]}_{alle[k, 1]}" for k in range(s, s + 5000)]
        L = np.zeros((10, 5000))
        L[:2] = 0.5 * rng.standard_normal((2, 5000)) ** 2 - 1.5
        lead = rng.choice(5000, 2, replace=False)
        L[0, lead[0]], L[1, lead[1]] = 25.0, 18.0
        lb = pd.DataFrame({"molecular_trait_id": f"ENSG{t:011d}", "region": "r", "variant": var, "chromosome": "1",
                           "position": pos[s:s + 5000]})
        for k in range(10):
            lb[f"lbf_variable{k + 1}"] = L[k]
        lbf_rows.append(lb)
        for k in range(2):
            cs_rows.append(pd.DataFrame({"molecular_trait_id": f"ENSG{t:011d}", "variant": [var[lead[k]]],
                                         "cs_id": f"ENSG{t:011d}_L{k + 1}", "z": [6.0], "rsid": ["NA"]}))
    pq.write_table(pa.Table.from_pandas(pd.concat(lbf_rows, ignore_index=True), preserve_index=False),
                   d / "lbf_variable.parquet")
    write_tsv(pd.concat(cs_rows, ignore_index=True), d / "credible_sets.tsv.gz")


def _panel(d: Path) -> pd.DataFrame:
    p = pd.read_csv(d / "panel.tsv", sep="\t", dtype={"chrom": str})
    p["variant_id"] = p.chrom + ":" + p.pos.astype(str) + ":" + p.other_allele + ":" + p.counted_allele
    p["n_called"] = 500
    p["row"] = np.arange(len(p))
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["make", "ingest", "susie"])
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--fmt", choices=["tsv", "parquet"], default="parquet")
    a = ap.parse_args()
    t0 = time.process_time()
    if a.what == "make":
        make(a.dir)
    elif a.what == "ingest":
        from twasflow.harmonize import harmonize_xqtl

        src = a.dir / ("all.tsv.gz" if a.fmt == "tsv" else "all.parquet")
        out = a.dir / f"out_{a.fmt}"
        qc = harmonize_xqtl(src, fmt="eqtl-catalogue", panel_variants=_panel(a.dir), out_dir=out / "x",
                            qc_out=out / "qc.json", dataset="d", tissue="T", qtl_type="eQTL")
        print(f"{a.fmt}: {qc['n_input']} rows in, {qc['n_kept']} kept")
    else:
        from twasflow.finemapped_xqtl import SusieSource

        s = SusieSource(a.dir / "lbf_variable.parquet", a.dir / "credible_sets.tsv.gz", n=500)
        print(f"susie: {len(s.long)} weights, {len(s.lbf)} lbf rows, {len(s.report)} traits")
    print(f"CPU {time.process_time() - t0:.2f} s")


if __name__ == "__main__":
    main()
