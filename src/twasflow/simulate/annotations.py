"""Example variant annotations for the gene tests (docs/genetests.md), with planted coding and enhancer genes.

Written after the example's panel, genes and GWAS truth (it reads them back), so it never changes another
file of the example:

* ``annotations/consequences.tsv`` (``chrom, pos, ref, alt, gene, consequence``; VEP terms): for every gene,
  a seeded share of the panel variants in its body are ``missense_variant`` (3%), ``synonymous_variant`` (5%),
  ``splice_region_variant`` (1%), ``intron_variant`` (the rest, unmapped by the default hierarchy); variants
  within 2 kb of the gene's ends are UTR variants and 30% of those within 5 kb upstream of the TSS
  ``upstream_gene_variant``.
* ``annotations/elements.bed`` (GAMBIT's ``--anno-bed`` layout, targets by gene name): two enhancers per gene
  within 100 kb of its TSS, 1–3 kb wide, score U(1, 4), with a second target gene (the next TSS) 30% of the
  time.
* ``annotations/truth.tsv``: the planted genes. **Coding**: the direct-variant signal of ``LDL_sim`` on
  chromosome 2 becomes a ``missense_variant`` of the nearest gene (by TSS) that is not a planted pair gene.
  **Enhancer**: the direct-variant signal of ``BMI_sim`` on chromosome 1 is placed in an enhancer (± 600 bp)
  targeting the nearest such gene (score 4) and the next one (score 1). The GWAS is not changed: these planted
  "coding" and "enhancer" effects are the example's direct-variant signals, now annotated.

All draws come from the named stream ``annotations`` of the example's seed.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.tables import write_tsv

PLANTED = (("LDL_sim", "2", "Coding"), ("BMI_sim", "1", "Enhancer"))


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(b"annotations"),)))


def write_example_annotations(out: str | Path, seed: int) -> list[Path]:
    """Write the example's annotation files under ``out/annotations``; returns the paths written."""
    out = Path(out)
    rng = _rng(seed)
    genes = pd.read_csv(out / "genes.tsv", sep="\t", dtype={"chrom": str})
    bim = pd.read_csv(out / "panel" / "example.bim", sep="\t", header=None,
                      names=["chrom", "rsid", "cm", "pos", "alt", "ref"], dtype={"chrom": str})
    truth = pd.concat([pd.read_csv(out / "gwas" / f"{t}.truth.tsv", sep="\t", dtype=str)
                       for t in sorted({t for t, _, _ in PLANTED})], ignore_index=True)
    pair_genes = set(truth.loc[truth["kind"] == "pair", "gene_id"].dropna())
    cons_rows: list[tuple] = []
    elem_rows: list[tuple] = []
    genes = genes.sort_values(["chrom", "tss", "gene_id"]).reset_index(drop=True)
    for g in genes.itertuples(index=False):
        v = bim[bim["chrom"] == g.chrom]
        body = v[(v["pos"] >= g.start) & (v["pos"] <= g.end)]
        u = rng.random(len(body))
        term = np.where(u < 0.03, "missense_variant", np.where(u < 0.08, "synonymous_variant",
                        np.where(u < 0.09, "splice_region_variant", "intron_variant")))
        ends = (body["pos"] - g.start <= 2000) | (g.end - body["pos"] <= 2000)
        five = (body["pos"] - g.start <= 2000) if g.strand == "+" else (g.end - body["pos"] <= 2000)
        term = np.where(ends, np.where(five, "5_prime_UTR_variant", "3_prime_UTR_variant"), term)
        cons_rows += [(g.chrom, int(p), r, a, g.gene_id, t) for p, r, a, t in
                      zip(body["pos"], body["ref"], body["alt"], term)]
        up = v[(g.tss - v["pos"]) * (1 if g.strand == "+" else -1) > 0]
        up = up[(up["pos"] - g.tss).abs() <= 5000]
        sel = rng.random(len(up)) < 0.3
        cons_rows += [(g.chrom, int(p), r, a, g.gene_id, "upstream_gene_variant") for p, r, a in
                      zip(up["pos"][sel], up["ref"][sel], up["alt"][sel])]
        for k in range(2):
            centre = int(g.tss + rng.integers(-100_000, 100_001))
            width = int(rng.integers(1000, 3001))
            targets = f"{g.gene_name}:{rng.uniform(1, 4):.2f}"
            same = genes[(genes["chrom"] == g.chrom) & (genes["gene_id"] != g.gene_id)]
            if rng.random() < 0.3 and len(same):
                nxt = same.iloc[int(np.argmin(np.abs(same["tss"].to_numpy() - g.tss)))]
                targets += f"|{nxt.gene_name}:{rng.uniform(1, 4):.2f}"
            elem_rows.append((g.chrom, centre - width // 2, centre + width - width // 2, "Enhancer",
                              f"enh_{g.gene_name}_{k + 1}", targets))
    planted = []
    for trait, chrom, cls in PLANTED:
        t = truth[(truth["trait"] == trait) & (truth["kind"] == "variant")]
        t = t[t["variant_id"].str.split(":").str[0] == chrom]
        if t.empty:
            continue
        vid = t["variant_id"].iloc[0]
        c, pos, ref, alt = vid.split(":")
        pos = int(pos)
        cand = genes[(genes["chrom"] == c) & ~genes["gene_id"].isin(pair_genes)].copy()
        cand["d"] = (cand["tss"] - pos).abs()
        cand = cand.sort_values(["d", "gene_id"]).reset_index(drop=True)
        g = cand.iloc[0]
        if cls == "Coding":
            cons_rows = [r for r in cons_rows if not (r[0] == c and r[1] == pos)]
            cons_rows.append((c, pos, ref, alt, g.gene_id, "missense_variant"))
            eid = ""
        else:
            eid = f"enh_planted_{trait}"
            elem_rows.append((c, pos - 600, pos + 600, "Enhancer", eid,
                              f"{g.gene_name}:4.00|{cand.iloc[1].gene_name}:1.00"))
        planted.append({"trait": trait, "gene_id": g.gene_id, "gene_name": g.gene_name, "class": cls,
                        "variant_id": vid, "element_id": eid})
    cons = pd.DataFrame(cons_rows, columns=["chrom", "pos", "ref", "alt", "gene", "consequence"])
    cons = cons.drop_duplicates(["chrom", "pos", "gene"], keep="last").sort_values(["chrom", "pos", "gene"])
    elems = pd.DataFrame(elem_rows, columns=["#chrom", "start", "end", "class", "element_id", "targets"])
    elems = elems.sort_values(["#chrom", "start", "element_id"])
    paths = [out / "annotations" / "consequences.tsv", out / "annotations" / "elements.bed",
             out / "annotations" / "truth.tsv"]
    write_tsv(cons, paths[0])
    write_tsv(elems, paths[1])
    write_tsv(pd.DataFrame(planted, columns=["trait", "gene_id", "gene_name", "class", "variant_id", "element_id"]),
              paths[2])
    return paths
