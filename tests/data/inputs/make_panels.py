"""Make the PLINK 2 and precomputed-LD fixtures of tests/data/inputs from chr22_20.0-20.1Mb.bed (README here).

    .venv/bin/python tests/data/inputs/make_panels.py

* ``chr22_20.0-20.1Mb.{pgen,pvar,psam}``: the bed's genotypes written with pgenlib's PgenWriter (plink2 is not
  installed here), ALT = bim A1, REF = bim A2 (what ``plink2 --bfile ... --make-pgen`` writes), IID only.
* ``ld_chr22_20000001_20100001.{npz,gz}`` (PolyFun / UK Biobank layout) and ``ld_chr22.bcor`` (LDstore 1.1):
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
