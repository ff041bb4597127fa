"""PredictDB / long weight tables (twasflow.io.predictdb) and S-PrediXcan on the real cTWAS LDL chr16 set.

What must match cTWAS exactly and what cannot (see docs/weights.md):
* cTWAS weight = ± PredictDB weight × SD of the UKB reference genotype (``implied_ref_sd``), signed to A1;
  our harmonization gives the same signs, and weight × implied_ref_sd equals cTWAS's weight.
* cTWAS's R_wgt is the PredictDB covariance converted to a correlation **without** sign flips. With every
  variant of a gene flipped (or none) that equals the correctly oriented correlation, so with the same SDs
  our TWAS z equals cTWAS's for every such gene.
* Proper S-PrediXcan uses the SDs of the model covariance (GTEx), not UKB's: identical to cTWAS for
  one-variant genes only; for the others the numbers differ slightly (checked by correlation).
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from conftest import DATA
from twasflow.errors import InputError
from twasflow.harmonize.models import REASONS, harmonize_model_weights, oriented_covariance
from twasflow.io.predictdb import predictdb_to_long, read_predictdb, read_predictdb_covariance, read_weights_long
from twasflow.twas import spredixcan_models, twas_z

D = DATA / "ctwas_LDL_chr16"


@pytest.fixture(scope="module")
def liver():
    w, extra = read_predictdb(D / "raw" / "expression_Liver.db")
    cov = read_predictdb_covariance(D / "raw" / "expression_Liver.txt.gz")
    zs = pd.read_csv(D / "raw" / "LDL_chr16.z_snp.tsv.gz", sep="\t")
    target = pd.DataFrame({"variant_id": zs["id"], "rsid": zs["id"], "counted_allele": zs["A1"],
                           "other_allele": zs["A2"]})
    used, report = harmonize_model_weights(predictdb_to_long(w), target, match_on="rsid")
    wl = pd.read_csv(D / "derived" / "LDL_chr16.weights.long.tsv.gz", sep="\t")
    zg = pd.read_csv(D / "derived" / "LDL_chr16.z_gene.tsv", sep="\t")
    return dict(w=w, extra=extra, cov=cov, z=zs.set_index("id")["z"], used=used, report=report,
                wl=wl[wl["group"] == "liver|expression"], zg=zg[zg["group"] == "liver|expression"])


def test_read_predictdb_tables(liver):
    w, extra = liver["w"], liver["extra"]
    assert len(w) == 918 and w["gene"].nunique() == 610 and len(extra) == 610
    assert list(w.columns) == ["gene", "rsid", "varID", "ref_allele", "eff_allele", "weight"]
    assert extra.set_index("gene")["n.snps.in.model"].sum() == 918
    sub, ex = read_predictdb(D / "raw" / "expression_Liver.db", genes=["ENSG00000003249.13"])
    assert len(sub) == 2 and ex["genename"].tolist() == ["DBNDD1"]


def test_covariance_reader_matches_ctwas_R_wgt(liver):
    """cov2cor of the covariance file (varID keys) == cTWAS's R_wgt (rsID order) for every liver gene."""
    cov, w = liver["cov"], liver["w"]
    assert len(cov) == 610
    rs2var = dict(zip(w["rsid"], w["varID"]))
    Rw = np.load(D / "derived" / "LDL_chr16.R_wgt.npz")
    n = 0
    for gid in liver["wl"]["id"].unique():
        gene = gid.split("|")[0]
        ids, C = cov[gene]
        assert np.array_equal(C, C.T)
        pos = {v: i for i, v in enumerate(ids)}
        k = [pos[rs2var[r]] for r in Rw[gid + "__variants"]]
        sub = C[np.ix_(k, k)]
        sd = np.sqrt(np.diag(sub))
        np.testing.assert_allclose(sub / np.outer(sd, sd), Rw[gid], rtol=0, atol=1e-12)
        n += 1
    assert n == 410


def test_harmonization_report_and_ctwas_weights(liver):
    used, rep = liver["used"], liver["report"]
    # every model variant is accounted for, per gene
    assert (rep["n_model"] == rep["n_used"] + rep[REASONS].sum(axis=1)).all()
    assert rep["n_model"].sum() == 918 and len(rep) == 610
    assert rep["n_used"].sum() == len(used) == 595
    # 323 not in the GWAS target: 274 SNVs and 49 indels (counted as indels); nothing mismatched
    assert rep["not_in_panel"].sum() == 274 and rep["indel"].sum() == 49 and rep["allele_mismatch"].sum() == 0
    # cTWAS's preprocessed liver weights: same variants, same signs, weight x UKB sd
    m = liver["wl"].merge(used, left_on=["molecular_id", "variant_id"], right_on=["model", "variant_id"],
                          how="left", suffixes=("_ctwas", ""))
    assert len(m) == 546 and m["weight"].notna().all()
    assert (m["flipped"] == m["allele_flipped_vs_predictdb"]).all()
    np.testing.assert_allclose(m["weight"] * m["implied_ref_sd"], m["weight_ctwas"], rtol=1e-12, atol=0)


def test_position_matching_agrees_with_rsid_matching(liver):
    info = pd.read_csv(D / "raw" / "LDL_chr16.weight_variants_info.tsv.gz", sep="\t").dropna(subset=["pos"])
    target = pd.DataFrame({"variant_id": info["variant_id"], "chrom": info["chrom"].astype(str),
                           "pos": info["pos"].astype(np.int64), "counted_allele": info["A1"],
                           "other_allele": info["A2"]})
    used_pos, rep = harmonize_model_weights(predictdb_to_long(liver["w"]), target, match_on="position")
    assert rep["n_model"].sum() == 918
    a = liver["used"][liver["used"]["variant_id"].isin(set(target["variant_id"]))]
    a = a[["model", "variant_id", "weight"]].sort_values(["model", "variant_id"]).reset_index(drop=True)
    b = used_pos[["model", "variant_id", "weight"]].sort_values(["model", "variant_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_spredixcan_with_model_covariance_vs_ctwas(liver):
    used, z, cov, zg = liver["used"], liver["z"], liver["cov"], liver["zg"].set_index("molecular_id")
    genes = set(zg.index)
    u = used[used["model"].isin(genes)]
    # proper S-PrediXcan: SDs from the model covariance
    res = spredixcan_models(u, z, lambda g, rows: oriented_covariance(cov[g], rows)).set_index("model")
    assert len(res) == 410
    j = res.join(zg[["z", "n_wgt"]])
    assert (j["n_weights_used"] == j["n_wgt"]).all()
    one = j["n_wgt"] == 1
    assert one.sum() == 289
    np.testing.assert_allclose(j.loc[one, "twas_z"], j.loc[one, "z"], rtol=0, atol=1e-10)
    assert np.corrcoef(j["twas_z"], j["z"])[0, 1] > 0.999
    # cTWAS's scaling (UKB SDs) + oriented model correlation: identical for genes whose variants are all
    # flipped or none (here every liver variant is flipped, so all 410)
    sd = liver["wl"].drop_duplicates("variant_id").set_index("variant_id")["implied_ref_sd"]
    n = 0
    for g, rows in u.groupby("model", sort=False):
        if rows["flipped"].nunique() != 1:
            continue
        C = oriented_covariance(cov[g], rows)
        s = np.sqrt(np.diag(C))
        W = rows["weight"].to_numpy() * sd.reindex(rows["variant_id"]).to_numpy()
        zt = float(twas_z(z.reindex(rows["variant_id"]).to_numpy(), C / np.outer(s, s), W))
        assert zt == pytest.approx(zg.loc[g, "z"], abs=1e-8)
        n += 1
    assert n == 410


def test_read_weights_long_ctwas_table_reproduces_gene_z():
    """The long-table reader on cTWAS's (already standardized) weights + R_wgt gives cTWAS's gene z."""
    lt = read_weights_long(D / "derived" / "LDL_chr16.weights.long.tsv.gz",
                           columns={"model": "id", "rsid": "variant_id", "effect_allele": "A1",
                                    "other_allele": "A2"})
    assert len(lt) == 1283 and lt["model"].nunique() == 894
    zs = pd.read_csv(D / "raw" / "LDL_chr16.z_snp.tsv.gz", sep="\t")
    target = pd.DataFrame({"variant_id": zs["id"], "rsid": zs["id"], "counted_allele": zs["A1"],
                           "other_allele": zs["A2"]})
    used, rep = harmonize_model_weights(lt, target, match_on="rsid")
    assert rep["n_used"].sum() == 1283 and used["flipped"].sum() == 0
    Rw = np.load(D / "derived" / "LDL_chr16.R_wgt.npz")
    zg = pd.read_csv(D / "derived" / "LDL_chr16.z_gene.tsv", sep="\t").set_index("id")["z"]
    z = zs.set_index("id")["z"]
    for gid in ["ENSG00000103152.11|liver_expression", zg.index[500]]:
        rows = used[used["model"] == gid].set_index("variant_id").loc[list(Rw[gid + "__variants"])]
        assert float(twas_z(z.loc[rows.index].to_numpy(), Rw[gid], rows["weight"].to_numpy())) == \
            pytest.approx(zg[gid], abs=1e-12)


def test_harmonization_rules_on_synthetic_models():
    target = pd.DataFrame({
        "variant_id": ["1:100:A:G", "1:200:C:T", "1:300:A:T", "1:400:G:C", "1:500:A:C"],
        "chrom": ["1"] * 5, "pos": [100, 200, 300, 400, 500],
        "other_allele": ["A", "C", "A", "G", "A"], "counted_allele": ["G", "T", "T", "C", "C"],
        "counted_freq": [0.5, 0.2, 0.3, 0.1, 0.4], "rsid": ["rs1", "rs2", "rs3", "rs4", "rs5"]})
    models = pd.DataFrame({
        "model": ["g1"] * 8 + ["g2"],
        "rsid": [np.nan] * 9,
        "chrom": ["1"] * 9,
        "pos": [100, 200, 300, 400, 500, 600, 100, 200, 200],
        "effect_allele": ["G", "C", "T", "G", "T", "A", "G", "T", "A"],
        "other_allele": ["A", "T", "A", "C", "C", "C", "A", "C", "G"],
        "weight": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, np.nan, 9.0],
        "model_variant": [f"v{i}" for i in range(9)],
    })
    used, rep = harmonize_model_weights(models, target)
    u = used.set_index("model_variant")
    assert u.loc["v0", "weight"] == 1.0 and not u.loc["v0", "flipped"]  # same orientation
    assert u.loc["v1", "weight"] == -2.0 and u.loc["v1", "flipped"]  # swapped alleles
    # palindromic v2 (A/T), v3 (G/C): models carry no frequency, and 3 non-palindromic matches (one needing a
    # strand flip) do not establish the file's strand, so they are dropped as a GWAS without frequencies would be
    assert "v2" not in u.index and "v3" not in u.index
    assert u.loc["v8", "weight"] == 9.0 and u.loc["v8", "strand_flipped"]  # A/G = complement of T/C
    assert "weight_std" not in u.columns  # standardization is twasflow.models' job (panel SD)
    r = rep.set_index("model")
    assert r.loc["g1", "n_model"] == 8 and r.loc["g1", "n_used"] == 2
    assert r.loc["g1", "palindromic_ambiguous"] == 2
    assert r.loc["g1", "allele_mismatch"] == 1  # v4: T/C at an A/C site
    assert r.loc["g1", "not_in_panel"] == 1  # v5: position 600
    assert r.loc["g1", "duplicate"] == 1  # v6: 1:100 again
    assert r.loc["g1", "bad_weight"] == 1  # v7: NaN
    assert r.loc["g2", "n_used"] == 1


def test_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_predictdb(tmp_path / "nope.db")
    junk = tmp_path / "junk.db"
    junk.write_text("this is not sqlite")
    with pytest.raises(InputError, match="junk.db"):
        read_predictdb(junk)
    empty = tmp_path / "empty.db"
    con = sqlite3.connect(empty)
    con.execute("CREATE TABLE extra (gene TEXT)")
    con.commit()
    con.close()
    with pytest.raises(InputError, match="no 'weights' table"):
        read_predictdb(empty)
    cov = tmp_path / "cov.txt"
    cov.write_text("GENE A B C\n")
    with pytest.raises(InputError, match="GENE RSID1 RSID2 VALUE"):
        read_predictdb_covariance(cov)
    cov.write_text("GENE RSID1 RSID2 VALUE\ng v1 v1 1.0\ng v1 v2 x\n")
    with pytest.raises(InputError, match="row 2"):
        read_predictdb_covariance(cov)
    lt = tmp_path / "w.tsv"
    lt.write_text("model\tweight\neffect\n")
    with pytest.raises(InputError, match="effect_allele"):
        read_weights_long(lt)
