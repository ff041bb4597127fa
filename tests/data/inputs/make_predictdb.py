"""Make the PredictDB fixtures of tests/data/inputs from the real cTWAS LDL chr16 set (see README.md here).

    python3 tests/data/inputs/make_predictdb.py /work/shared/data/ctwas_LDL_chr16

Writes, for 24 Liver genes of ``raw/expression_Liver.db`` (GTEx v8 mashr, GRCh38; the 12 with the most model
variants and 12 one-variant genes):
  predictdb_liver_varid.db / .txt.gz   the database rows and covariance rows of those genes, as shipped (varID keys);
  predictdb_liver_rsid.db / .txt.gz    the same with the varID column dropped and the covariance keyed by rsid
                                       (the layout of GTEx v6p/v7 elastic-net models);
  predictdb_panel.tsv                  the model SNVs but 3 (4 indels dropped, as a panel store does): rsid, chrom, pos (from the varID), alleles (cTWAS's
                                       A1 counted where its reference has the variant, else the varID's alt) and a
                                       frequency from cTWAS's UKB reference variance (2f(1-f) = variance; else 0.3);
  predictdb_gwas_z.tsv                 their LDL z-scores (z_snp, A1 = effect allele); the 18 panel variants absent
                                       from z_snp get a seeded N(0, 1) z (numpy default_rng(19), A1 = counted).
"""

from __future__ import annotations

import gzip
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pandas as pd

src = Path(sys.argv[1])
out = Path(__file__).resolve().parent
con = sqlite3.connect(src / "raw" / "expression_Liver.db")
w = pd.read_sql_query("SELECT * FROM weights", con)
extra = pd.read_sql_query("SELECT * FROM extra", con)
con.close()
info = pd.read_csv(src / "raw" / "LDL_chr16.weight_variants_info.tsv.gz", sep="\t")
zs = pd.read_csv(src / "raw" / "LDL_chr16.z_snp.tsv.gz", sep="\t")
n = w.groupby("gene").size().sort_values(kind="stable")
genes = sorted(list(n.index[-12:]) + list(n[n == 1].index[:12]))
ws = w[w["gene"].isin(genes)]
ex = extra[extra["gene"].isin(genes)]

for name, wt in (("varid", ws), ("rsid", ws.drop(columns=["varID"]))):
    db = out / f"predictdb_liver_{name}.db"
    db.unlink(missing_ok=True)
    c = sqlite3.connect(db)
    wt.to_sql("weights", c, index=False)
    ex.to_sql("extra", c, index=False)
    c.execute("CREATE INDEX weights_gene ON weights (gene)")
    c.commit()
    c.close()

cov = pd.read_csv(src / "raw" / "expression_Liver.txt.gz", sep=" ", dtype=str)
cov = cov[cov["GENE"].isin(genes)]
rs_of = dict(zip(w["varID"], w["rsid"]))
for name, c in (("varid", cov), ("rsid", cov.assign(RSID1=cov["RSID1"].map(rs_of), RSID2=cov["RSID2"].map(rs_of)))):
    assert c.notna().all().all()
    with gzip.GzipFile(out / f"predictdb_liver_{name}.txt.gz", "wb", mtime=0) as fh:
        fh.write(c.to_csv(sep=" ", index=False).encode())

# every model variant at its varID position (ref = other, alt = counted), except the last 3 (not in the panel);
# the variants of cTWAS's LD reference keep its orientation (A1 counted: the swapped ones test the sign flips)
var = ws.drop_duplicates("rsid").sort_values("varID").iloc[:-3]
parts = var["varID"].str.split("_", expand=True)
panel = pd.DataFrame({"rsid": var["rsid"].to_numpy(), "chrom": parts[0].str.removeprefix("chr").to_numpy(),
                      "pos": parts[1].astype(np.int64).to_numpy(), "other_allele": parts[2].to_numpy(),
                      "counted_allele": parts[3].to_numpy(), "counted_freq": 0.3})
ref = info.set_index("variant_id")
has = panel["rsid"].isin(ref.index).to_numpy()
panel.loc[has, "other_allele"] = ref.loc[panel.loc[has, "rsid"], "A2"].to_numpy()
panel.loc[has, "counted_allele"] = ref.loc[panel.loc[has, "rsid"], "A1"].to_numpy()
v = ref.loc[panel.loc[has, "rsid"], "implied_ref_variance"].to_numpy()
panel.loc[has, "counted_freq"] = np.round(np.where(np.isnan(v), 0.3, 0.5 - 0.5 * np.sqrt(np.clip(1 - 2 * np.nan_to_num(v), 0, 1))), 6)
panel = panel[(panel["other_allele"].str.len() == 1) & (panel["counted_allele"].str.len() == 1)]  # SNVs, as a panel store
panel = panel.sort_values("pos", kind="stable")
panel.to_csv(out / "predictdb_panel.tsv", sep="\t", index=False)
# LDL z of the panel variants (A1 effect); variants not in z_snp get a seeded N(0, 1) z with A1 = counted
z = panel[["rsid"]].merge(zs.rename(columns={"id": "rsid"}), on="rsid", how="left")
miss = z["A1"].isna().to_numpy()
z.loc[miss, "A1"] = panel["counted_allele"].to_numpy()[miss]
z.loc[miss, "A2"] = panel["other_allele"].to_numpy()[miss]
z.loc[miss, "z"] = np.round(np.random.default_rng(19).normal(size=int(miss.sum())), 6)
z.loc[miss, "n"] = 343621
z["n"] = z["n"].astype(np.int64)
z.rename(columns={"rsid": "id"}).to_csv(out / "predictdb_gwas_z.tsv", sep="\t", index=False)
print(len(genes), "genes,", len(ws), "weights,", len(panel), "panel variants")
