"""Cost of the new GWAS input paths (issue 19) against the positional path on the same rows.

Synthetic, seeded: a panel of M SNVs with rsIDs on chromosome 1; a GWAS table of all of them (beta, se),
written once with positions and once rsID-only; a chain file of C chains of gapped blocks over the panel's
range. Times ``harmonize_gwas`` (CPU and wall, median of --runs) for: positional; rsID-only (positions from the
panel's rsIDs); positional + liftover; positional with a fraction ``--indel-frac`` of the rows indels (the same
rows, the panel and file alleles of those rows lengthened to ``X``/``XA``: matched by allele strings).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_inputs.py --m 2000000 --runs 3
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from twasflow.harmonize import harmonize_gwas


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--m", type=int, default=2_000_000)
    ap.add_argument("--chains", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--indel-frac", type=float, default=0.1)
    a = ap.parse_args()
    rng = np.random.default_rng(19)
    d = Path(tempfile.mkdtemp(prefix="bench_inputs_"))
    pos = np.sort(rng.choice(np.arange(1, 240_000_000), a.m, replace=False)).astype(np.int64)
    al = np.array(list("ACGT"))
    i = rng.integers(0, 4, a.m)
    j = (i + rng.integers(1, 4, a.m)) % 4  # a different base
    panel = pd.DataFrame({"chrom": "1", "pos": pos, "other_allele": al[i], "counted_allele": al[j],
                          "rsid": [f"rs{k}" for k in range(1, a.m + 1)], "counted_freq": rng.uniform(0.05, 0.95, a.m)})
    panel["variant_id"] = "1:" + panel["pos"].astype(str) + ":" + panel["other_allele"] + ":" + panel["counted_allele"]
    g = pd.DataFrame({"SNP": panel["rsid"], "CHR": "1", "BP": pos, "A1": panel["counted_allele"],
                      "A2": panel["other_allele"], "BETA": np.round(rng.normal(0, 0.02, a.m), 6),
                      "SE": np.round(rng.uniform(0.01, 0.03, a.m), 6)})
    g.to_csv(d / "pos.tsv.gz", sep="\t", index=False)
    g.drop(columns=["CHR", "BP"]).to_csv(d / "rsid.tsv.gz", sep="\t", index=False)
    # identity-like chain: blocks of ~10 kb with 1 bp gaps in the target, C chains over the range
    with open(d / "bench.chain", "w") as fh:
        step = 240_000_000 // a.chains
        for c in range(a.chains):
            t0 = c * step
            sizes = [9_999] * (step // 10_000)
            fh.write(f"chain 1 chr1 250000000 + {t0} {t0 + 10_000 * len(sizes) - 1} chr1 250000000 + {t0} "
                     f"{t0 + 10_000 * len(sizes) - 1} {c + 1}\n")
            fh.write("".join(f"{s} 1 1\n" for s in sizes[:-1]) + f"{sizes[-1]}\n\n")
    ind = rng.random(a.m) < a.indel_frac
    panel_ind = panel.copy()
    panel_ind.loc[ind, "counted_allele"] = panel_ind.loc[ind, "other_allele"] + "A"
    panel_ind["variant_id"] = ("1:" + panel_ind["pos"].astype(str) + ":" + panel_ind["other_allele"] + ":"
                               + panel_ind["counted_allele"])
    g.assign(A1=panel_ind["counted_allele"]).to_csv(d / "indel.tsv.gz", sep="\t", index=False)
    base = dict(CHR="chrom", BP="pos")
    cm_pos = dict(chrom="CHR", pos="BP", ea="A1", oa="A2", beta="BETA", se="SE", rsid="SNP")
    cm_rs = dict(ea="A1", oa="A2", beta="BETA", se="SE", rsid="SNP")
    cases = {"positional": (d / "pos.tsv.gz", cm_pos, {}),
             "rsid-only (panel rsIDs)": (d / "rsid.tsv.gz", cm_rs, {}),
             "positional + liftover": (d / "pos.tsv.gz", cm_pos, {"liftover": d / "bench.chain"}),
             f"positional, {a.indel_frac:.0%} indels": (d / "indel.tsv.gz", cm_pos, {"panel": panel_ind})}
    del base
    print(f"M = {a.m:,} rows, {a.chains:,} chains; runs = {a.runs}")
    print("| path | wall median (s) | CPU median (s) | kept | runs (wall) |")
    print("|---|---|---|---|---|")
    for name, (f, cm, kw) in cases.items():
        walls, cpus = [], []
        for r in range(a.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            kw_ = dict(kw)
            pv = kw_.pop("panel", panel)
            qc = harmonize_gwas(f, fmt="table", panel_variants=pv, out=d / "o.parquet", qc_out=d / "o.json",
                                colmap=cm, n=1e5, declared_build="GRCh38", panel_build="GRCh38", **kw_)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        print(f"| {name} | {np.median(walls):.2f} | {np.median(cpus):.2f} | {qc['n_kept']:,} | "
              f"{', '.join(f'{w:.2f}' for w in walls)} |")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
