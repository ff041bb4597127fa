"""Make the PLINK 2 and precomputed-LD fixtures of tests/data/inputs from chr22_20.0-20.1Mb.bed (README here).

    .venv/bin/python tests/data/inputs/make_panels.py

* ``chr22_20.0-20.1Mb.{pgen,pvar,psam}``: the bed's genotypes written with pgenlib's PgenWriter (plink2 is not
  installed here), ALT = bim A1, REF = bim A2 (what ``plink2 --bfile ... --make-pgen`` writes), IID only.
* ``ld/chr22_20000001_20050001.{npz,gz}``, ``ld/chr22_20030001_20080001.{npz,gz}`` (PolyFun / UK Biobank layout,
  two overlapping windows) and ``ld_chr22.bcor`` (LDstore 1.1, 4-byte values, the first 160 variants):
  written by :mod:`twasflow.io.ldmatrix`'s writers from the Pearson correlation of the bed's dosages (A1
  counted), so the readers are checked against an independent numpy computation in the tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from twasflow.io.plink import read_bed, read_bim, read_fam
from twasflow.io.pgen import write_pgen

here = Path(__file__).resolve().parent
prefix = here / "chr22_20.0-20.1Mb"
bim, fam = read_bim(prefix), read_fam(prefix)
counts = read_bed(prefix, np.arange(len(bim)), np.arange(len(fam))).T  # A1 counts (M, N), -1 missing
counts = np.asarray(counts, dtype=np.int8)
write_pgen(prefix, pd.DataFrame({"chrom": bim["chrom"], "pos": bim["pos"], "id": bim["id"], "ref": bim["a2"],
                                 "alt": bim["a1"]}),
           pd.DataFrame({"fid": fam["iid"], "iid": fam["iid"]}), counts)
print("pgen:", counts.shape)

# ---- precomputed LD: Pearson r of the A1 dosages of the polymorphic variants, written as PolyFun/UKB .npz + .gz
# windows and an LDstore .bcor; every 4th variant is stored with its alleles swapped and its correlations
# negated, as another reference would (the readers must orient them back)
from twasflow.io.ldmatrix import write_bcor, write_polyfun_npz  # noqa: E402

G = counts.astype(np.float64)
poly = G.std(axis=1) > 0
R = np.corrcoef(G[poly])
v = bim.loc[poly].reset_index(drop=True)
sw = np.zeros(len(v), dtype=bool)
sw[::4] = True
s = np.where(sw, -1.0, 1.0)
Rs = R * np.outer(s, s)
np.fill_diagonal(Rs, 1.0)
ld_vars = pd.DataFrame({"rsid": v["id"], "chrom": v["chrom"], "pos": v["pos"],
                        "allele1": np.where(sw, v["a1"], v["a2"]), "allele2": np.where(sw, v["a2"], v["a1"])})
(here / "ld").mkdir(exist_ok=True)
win1 = (ld_vars["pos"] < 20050001).to_numpy()
win2 = ((ld_vars["pos"] >= 20030001) & (ld_vars["pos"] < 20080001)).to_numpy()
for (a, b), w in (((20000001, 20050001), win1), ((20030001, 20080001), win2)):
    write_polyfun_npz(here / "ld" / f"chr22_{a}_{b}", ld_vars[w], Rs[np.ix_(w, w)])
first = np.arange(len(ld_vars)) < 160
write_bcor(here / "ld_chr22.bcor", ld_vars[first], Rs[np.ix_(first, first)], n_samples=counts.shape[1], compression=1)
print("LD:", Rs.shape, "npz windows", int(win1.sum()), int(win2.sum()), "bcor", int(first.sum()))
