"""Issue 19 acceptance, driven through the stage-level functions: the real UK Biobank LDL chr16 z-scores
(cTWAS's ``id, A1, A2, z, n``: rsID-only, GRCh38) with the GTEx v8 PredictDB Liver model (.db + covariance) and
the Adipose weights (cTWAS-preprocessed, per standardized genotype, with the Adipose PredictDB covariance),
**without a genotype panel**: positions come from an rsID → position table of the model variants (the Liver
varIDs; cTWAS's inferred positions for Adipose), LD among a gene's variants from the model covariance.

What runs is a classic S-PrediXcan-only analysis. Skipped for lack of LD among all GWAS variants (they need a
panel or precomputed LD): clumping, loci, per-locus bundles, fine-mapping (TGVIS, cTWAS, TGFM), coloc and the
summaries built on them.

Result (cTWAS's convention: weights x UKB reference SD, model correlation; ``derived/LDL_chr16.z_gene.tsv``):
871 of the 894 genes within 1e-8. The other 23 genes have a weight variant twasflow cannot use: an indel (18
variants; harmonization keeps SNVs only) or one of 2 variants without a known position; they are counted in the
models report (``not_in_panel``) and their z differs.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import DATA, needs_shared
from twasflow.harmonize import harmonize_gwas, read_harmonized_gwas
from twasflow.models import harmonize_models, read_model_covariance
from twasflow.twas import spredixcan_z, twas_z

D = DATA / "ctwas_LDL_chr16"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("acceptance")
    info = pd.read_csv(D / "raw" / "LDL_chr16.weight_variants_info.tsv.gz", sep="\t")
    snv = info["pos"].notna() & (info["A1"].str.len() == 1) & (info["A2"].str.len() == 1)
    v = info[snv]
    var = v["implied_ref_variance"].to_numpy()  # NaN for Adipose-only variants (their weights are per SD)
    # the panel-free variant table: positions from the models, counted = A1, cTWAS's UKB reference SD (some
    # variances exceed 0.5, the Hardy-Weinberg maximum, so no frequency could give them)
    panel = pd.DataFrame({"chrom": v["chrom"].astype(str).to_numpy(), "pos": v["pos"].astype(np.int64).to_numpy(),
                          "other_allele": v["A2"].to_numpy(), "counted_allele": v["A1"].to_numpy(),
                          "rsid": v["variant_id"].to_numpy(), "counted_freq": np.nan, "sd": np.sqrt(var)})
    panel = panel.sort_values("pos", kind="stable").reset_index(drop=True)
    panel["variant_id"] = (panel["chrom"] + ":" + panel["pos"].astype(str) + ":" + panel["other_allele"] + ":"
                           + panel["counted_allele"])
    rsid_map = tmp / "rsid_map.tsv"
    info[["variant_id", "chrom", "pos"]].dropna().rename(columns={"variant_id": "rsid"}).astype(
        {"pos": np.int64}).to_csv(rsid_map, sep="\t", index=False)
    gqc = harmonize_gwas(D / "raw" / "LDL_chr16.z_snp.tsv.gz", fmt="table", panel_variants=panel,
                         out=tmp / "gwas.parquet", qc_out=tmp / "gwas.qc.json", rsid_map=rsid_map,
                         colmap=dict(rsid="id", ea="A1", oa="A2", z="z", n="n"), declared_build="GRCh38",
                         panel_build="GRCh38")
    z = read_harmonized_gwas(tmp / "gwas.parquet").set_index("variant_id")["z"]
    # Liver: the PredictDB database and covariance as shipped
    lqc = harmonize_models(D / "raw" / "expression_Liver.db", fmt="predictdb", panel_variants=panel,
                           out_dir=tmp / "liver", qc_out=tmp / "liver.qc.json", dataset="liver",
                           tissue="Liver_model", qtl_type="eQTL", covariance=D / "raw" / "expression_Liver.txt.gz",
                           declared_build="GRCh38", panel_build="GRCh38")
    # Adipose (no .db available): cTWAS's per-SD weights as a long table + the PredictDB covariance keyed by rsid
    wl = pd.read_csv(D / "derived" / "LDL_chr16.weights.long.tsv.gz", sep="\t")
    ad = wl[wl["group"] == "adipose|expression"]
    ad_tsv = tmp / "adipose.tsv"
    pd.DataFrame({"model": ad["molecular_id"], "rsid": ad["variant_id"], "effect_allele": ad["A1"],
                  "other_allele": ad["A2"], "weight": ad["weight"], "weight_scale": "sd"}).to_csv(
        ad_tsv, sep="\t", index=False)
    rs_of = dict(zip(info["varID_predictdb"], info["variant_id"]))
    cov = pd.read_csv(D / "raw" / "expression_Adipose_Subcutaneous.txt.gz", sep=" ", dtype=str)
    cov = cov.assign(RSID1=cov["RSID1"].map(rs_of), RSID2=cov["RSID2"].map(rs_of)).dropna()
    ad_cov = tmp / "adipose_cov.txt.gz"
    with gzip.open(ad_cov, "wt") as fh:
        fh.write(cov.to_csv(sep=" ", index=False))
    aqc = harmonize_models(ad_tsv, fmt="weights-long", panel_variants=panel, out_dir=tmp / "adipose",
                           qc_out=tmp / "adipose.qc.json", dataset="adipose", tissue="Adipose_model",
                           qtl_type="eQTL", covariance=ad_cov, declared_build="GRCh38", panel_build="GRCh38")
    out = {}
    for key, d, group in (("liver", tmp / "liver", "liver|expression"), ("adipose", tmp / "adipose",
                                                                          "adipose|expression")):
        t = pd.read_parquet(d / "models.parquet")
        covs = read_model_covariance(d / "covariance.npz")
        for pair, rows in t.groupby("pair_id", sort=True):
            vids, C = covs[pair]
            assert list(vids) == list(rows["variant_id"])
            s = np.sqrt(np.diag(C))
            zz = z.reindex(rows["variant_id"]).to_numpy()
            out[(rows["phenotype_id"].iloc[0], group)] = (
                float(twas_z(zz, C / np.outer(s, s), rows["weight"].to_numpy())),  # cTWAS's convention
                spredixcan_z(zz, rows["weight_allele"].to_numpy(), C) if key == "liver" else np.nan,  # MetaXcan
                len(rows))
    res = pd.DataFrame([(g, grp, a, b, k) for (g, grp), (a, b, k) in out.items()],
                       columns=["molecular_id", "group", "z_ours", "z_spredixcan", "n_used"])
    zg = pd.read_csv(D / "derived" / "LDL_chr16.z_gene.tsv", sep="\t")
    bad = set(info.loc[~snv, "variant_id"])
    hard = set(wl.loc[wl["variant_id"].isin(bad), "id"])
    return dict(gwas_qc=gqc, liver_qc=lqc, adipose_qc=aqc, res=zg.merge(res, on=["molecular_id", "group"], how="left"),
                hard=hard)


@needs_shared
def test_qc_accounts_for_every_row(run):
    g = run["gwas_qc"]
    assert g["n_input"] == 226_208 == g["n_kept"] + sum(g["dropped"].values())
    assert g["rsid_positions"]["source"].endswith("rsid_map.tsv")
    # every z_snp row is kept or counted: most are not model variants (no position in the table)
    assert g["dropped"]["rsid_not_found"] == g["rsid_positions"]["n_not_found"] > 225_000
    # the model SNVs with a position: 1055 variants, 2 without a position, 17 (other) indels
    assert g["rsid_positions"]["n_resolved"] == 1053 and g["dropped"]["indel"] == 17 and g["n_kept"] == 1036
    for q in (run["liver_qc"], run["adipose_qc"]):
        assert q["n_input"] == q["n_kept"] + sum(q["dropped"].values())
    assert run["liver_qc"]["n_input"] == 918 and run["adipose_qc"]["n_input"] == 737


@needs_shared
def test_gene_z_equal_ctwas_for_every_gene_without_an_indel(run):
    res, hard = run["res"], run["hard"]
    assert len(res) == 894 and len(hard) == 23
    easy = res[~res["id"].isin(hard)]
    assert len(easy) == 871 and easy["z_ours"].notna().all()
    assert (easy["n_used"] == easy["n_wgt"]).all()
    np.testing.assert_allclose(easy["z_ours"], easy["z"], rtol=0, atol=1e-8)
    # the 23 others: fewer variants usable (an indel or an unpositioned variant)
    h = res[res["id"].isin(hard)]
    assert (h["n_used"].fillna(0) < h["n_wgt"]).all()


@needs_shared
def test_proper_spredixcan_uses_gtex_sds(run):
    """MetaXcan's S-PrediXcan (σ from the model covariance) equals cTWAS for one-variant genes only."""
    liv = run["res"][(run["res"]["group"] == "liver|expression") & ~run["res"]["id"].isin(run["hard"])]
    one = liv["n_wgt"] == 1
    np.testing.assert_allclose(liv.loc[one, "z_spredixcan"], liv.loc[one, "z"], rtol=0, atol=1e-10)
    assert np.corrcoef(liv["z_spredixcan"], liv["z"])[0, 1] > 0.999
