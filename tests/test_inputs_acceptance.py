"""Issue 19 acceptance, driven through the stage-level functions: the real UK Biobank LDL chr16 z-scores
(cTWAS's ``id, A1, A2, z, n``: rsID-only, GRCh38) with the GTEx v8 PredictDB Liver model (.db + covariance) and
the Adipose weights (cTWAS-preprocessed, per standardized genotype, with the Adipose PredictDB covariance),
**without a genotype panel**: positions come from an rsID → position table of the model variants (the Liver
varIDs; cTWAS's inferred positions for Adipose), LD among a gene's variants from the model covariance.

What runs is a classic S-PrediXcan-only analysis. Skipped for lack of LD among all GWAS variants (they need a
panel or precomputed LD): clumping, loci, per-locus bundles, fine-mapping (TGVIS, cTWAS, TGFM), coloc and the
summaries built on them.

Result (cTWAS's convention: weights x UKB reference SD, model correlation; ``derived/LDL_chr16.z_gene.tsv``):
all 894 genes within 1e-8. 23 of them carry a weight on an indel (matched by allele strings on the GWAS side as on
the model side) or on one of the 2 Adipose variants the reference set leaves without a position; those two are
placed here from the Adipose PredictDB covariance varIDs of their gene (the only varID with each one's alleles), and
the rsID → position table carries them.
"""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from tests.conftest import FULL_SHARED, needs_shared
from twasflow.harmonize import harmonize_gwas, read_harmonized_gwas
from twasflow.models import harmonize_models, read_model_covariance
from twasflow.twas import spredixcan_z, twas_z

D = FULL_SHARED / "data" / "ctwas_LDL_chr16"  # the whole chr16 z file (tests/data carries a subset)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("acceptance")
    info = pd.read_csv(D / "raw" / "LDL_chr16.weight_variants_info.tsv.gz", sep="\t")
    cov = pd.read_csv(D / "raw" / "expression_Adipose_Subcutaneous.txt.gz", sep=" ", dtype=str)
    info = _place_unpositioned(info, cov, pd.read_csv(D / "derived" / "LDL_chr16.weights.long.tsv.gz", sep="\t"))
    snv = (info["A1"].str.len() == 1) & (info["A2"].str.len() == 1)
    v = info
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
    placed = info["pos_source"].isna() & info["varID_predictdb"].notna()
    bad = set(info.loc[~snv | placed, "variant_id"])
    hard = set(wl.loc[wl["variant_id"].isin(bad), "id"])
    return dict(gwas_qc=gqc, liver_qc=lqc, adipose_qc=aqc, res=zg.merge(res, on=["molecular_id", "group"], how="left"),
                hard=hard, placed={r: int(p) for r, p in zip(info.loc[placed, "variant_id"], info.loc[placed, "pos"])})


def _place_unpositioned(info: pd.DataFrame, cov: pd.DataFrame, wl: pd.DataFrame) -> pd.DataFrame:
    """Positions (and varIDs) of weight variants without one, from the PredictDB covariance varIDs of their gene
    that no other variant claims: the one varID whose (ref, alt) is the variant's allele pair in either order."""
    info = info.copy()
    claimed = set(info["varID_predictdb"].dropna())
    for i in np.flatnonzero(info["pos"].isna().to_numpy()):
        rs, a1, a2 = info.loc[i, ["variant_id", "A1", "A2"]]
        genes = set(wl.loc[wl["variant_id"] == rs, "molecular_id"])
        ids = set(cov.loc[cov["GENE"].isin(genes), "RSID1"]) | set(cov.loc[cov["GENE"].isin(genes), "RSID2"])
        fit = [v for v in ids - claimed if {v.split("_")[2], v.split("_")[3]} == {a1, a2}]
        assert len(fit) == 1, (rs, fit)
        info.loc[i, ["pos", "varID_predictdb"]] = [float(fit[0].split("_")[1]), fit[0]]
    return info


@needs_shared
def test_unpositioned_variants_placed_as_the_workflow_fixture_places_them(run):
    from tests.test_inputs_spredixcan_workflow import UNPOSITIONED

    assert run["placed"] == UNPOSITIONED


@needs_shared
def test_qc_accounts_for_every_row(run):
    g = run["gwas_qc"]
    assert g["n_input"] == 226_208 == g["n_kept"] + sum(g["dropped"].values())
    assert g["rsid_positions"]["source"].endswith("rsid_map.tsv")
    # every z_snp row is kept or counted: most are not model variants (no position in the table)
    assert g["dropped"]["rsid_not_found"] == g["rsid_positions"]["n_not_found"] > 225_000
    # every model variant (1,055, indels and the 2 placed ones included) is found and kept
    assert g["rsid_positions"]["n_resolved"] == 1055 and "indel" not in g["dropped"] and g["n_kept"] == 1055
    for q in (run["liver_qc"], run["adipose_qc"]):
        assert q["n_input"] == q["n_kept"] + sum(q["dropped"].values())
    assert run["liver_qc"]["n_input"] == 918 and run["adipose_qc"]["n_input"] == 737


@needs_shared
def test_gene_z_equal_ctwas_for_every_gene(run):
    res, hard = run["res"], run["hard"]
    assert len(res) == 894 and len(hard) == 23  # 23 genes with a weight on an indel or a placed variant
    assert res["z_ours"].notna().all() and (res["n_used"] == res["n_wgt"]).all()
    np.testing.assert_allclose(res["z_ours"], res["z"], rtol=0, atol=1e-8)
    print("max |z - cTWAS| over 894 genes:", float((res["z_ours"] - res["z"]).abs().max()))


@needs_shared
def test_proper_spredixcan_uses_gtex_sds(run):
    """MetaXcan's S-PrediXcan (σ from the model covariance) equals cTWAS for one-variant genes only."""
    liv = run["res"][run["res"]["group"] == "liver|expression"]
    one = liv["n_wgt"] == 1
    np.testing.assert_allclose(liv.loc[one, "z_spredixcan"], liv.loc[one, "z"], rtol=0, atol=1e-10)
    assert np.corrcoef(liv["z_spredixcan"], liv["z"])[0, 1] > 0.999
