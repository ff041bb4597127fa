"""Prediction models users hold (issue 19): PredictDB keyed by rsid without varID (GTEx v6p/v7 layout).

Fixtures (tests/data/inputs, README there): 24 real GTEx v8 Liver genes of the cTWAS LDL chr16 set, once as
shipped (varID) and once with varID dropped and the covariance keyed by rsid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twasflow.harmonize import harmonize_gwas, read_harmonized_gwas
from twasflow.io.predictdb import read_predictdb
from twasflow.models import harmonize_models, read_model_covariance
from twasflow.twas import spredixcan_z

FIX = Path(__file__).parent / "data" / "inputs"


def panel_variants() -> pd.DataFrame:
    p = pd.read_csv(FIX / "predictdb_panel.tsv", sep="\t", dtype={"chrom": str})
    p["variant_id"] = p["chrom"] + ":" + p["pos"].astype(str) + ":" + p["other_allele"] + ":" + p["counted_allele"]
    p["n_called"] = 1000
    p["row"] = np.arange(len(p))
    return p[["variant_id", "chrom", "pos", "other_allele", "counted_allele", "rsid", "counted_freq", "n_called", "row"]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    panel = panel_variants()
    out = {}
    for key in ("varid", "rsid"):
        d = tmp_path_factory.mktemp(key)
        qc = harmonize_models(FIX / f"predictdb_liver_{key}.db", fmt="predictdb", panel_variants=panel, out_dir=d,
                              qc_out=d / "qc.json", dataset="liver", tissue="Liver", qtl_type="eQTL",
                              covariance=FIX / f"predictdb_liver_{key}.txt.gz", declared_build="GRCh38",
                              panel_build="GRCh38")
        out[key] = dict(qc=qc, table=pd.read_parquet(d / "models.parquet"),
                        report=pd.read_csv(d / "models_report.tsv", sep="\t"),
                        cov=read_model_covariance(d / "covariance.npz"))
    d = tmp_path_factory.mktemp("gwas")
    # the GWAS is rsID-only too (cTWAS's id, A1, A2, z, n): positions from the panel
    harmonize_gwas(FIX / "predictdb_gwas_z.tsv", fmt="table", panel_variants=panel, out=d / "g.parquet",
                   qc_out=d / "g.json", colmap=dict(rsid="id", ea="A1", oa="A2", z="z", n="n"),
                   declared_build="GRCh38", panel_build="GRCh38")
    out["z"] = read_harmonized_gwas(d / "g.parquet").set_index("variant_id")["z"]
    return out


def test_read_predictdb_without_varid():
    w, extra = read_predictdb(FIX / "predictdb_liver_rsid.db")
    assert len(w) == 53 and w["varID"].isna().all() and w["rsid"].notna().all()
    wv, _ = read_predictdb(FIX / "predictdb_liver_varid.db")
    pd.testing.assert_frame_equal(w.drop(columns="varID"), wv.drop(columns="varID"))
    assert len(extra) == 24


def test_rsid_models_harmonize_like_varid_models(runs):
    a, b = runs["varid"], runs["rsid"]
    assert a["qc"]["matched_on"] == "position" and b["qc"]["matched_on"] == "rsid"
    for k in ("n_input", "n_kept", "dropped", "swapped_alleles", "n_pairs", "n_pairs_covariance"):
        assert a["qc"][k] == b["qc"][k], k
    assert a["qc"]["n_input"] == 53 and a["qc"]["dropped"] == {"not_in_panel": 3, "indel": 4}  # 3 absent, 4 indels (the panel holds SNVs)
    assert a["qc"]["swapped_alleles"] > 0
    pd.testing.assert_frame_equal(a["table"].drop(columns="model_variant"), b["table"].drop(columns="model_variant"))
    pd.testing.assert_frame_equal(a["report"], b["report"])
    assert a["cov"].keys() == b["cov"].keys() and len(a["cov"]) == a["qc"]["n_pairs"]
    for p in a["cov"]:
        np.testing.assert_array_equal(a["cov"][p][0], b["cov"][p][0])
        np.testing.assert_array_equal(a["cov"][p][1], b["cov"][p][1])


def test_rsid_models_give_identical_spredixcan_z(runs):
    """S-PrediXcan z (model covariance) of every gene: the rsid-keyed database equals the varID path exactly."""
    z = runs["z"]
    res = {}
    for key in ("varid", "rsid"):
        t, cov = runs[key]["table"], runs[key]["cov"]
        zz = {}
        for pair, rows in t.groupby("pair_id", sort=True):
            vids, C = cov[pair]
            assert list(vids) == list(rows["variant_id"])
            zz[pair] = spredixcan_z(z.reindex(rows["variant_id"]).to_numpy(), rows["weight_allele"].to_numpy(), C)
        res[key] = pd.Series(zz)
    assert len(res["varid"]) == runs["varid"]["qc"]["n_pairs"] >= 20 and np.isfinite(res["varid"]).all()
    pd.testing.assert_series_equal(res["varid"], res["rsid"], check_exact=True)


# ---------------------------------------------------------------------------------------------- FUSION
from twasflow.errors import InputError  # noqa: E402
from twasflow.io.fusion import read_fusion, read_fusion_wgt  # noqa: E402
from twasflow.io.panel import Panel, build_panel_store  # noqa: E402
from twasflow.io.plink import read_bed, read_bim  # noqa: E402
from twasflow.ld import panel_ld  # noqa: E402
from twasflow.twas import twas_z  # noqa: E402

pytest.importorskip("rdata")
PREFIX = FIX / "chr22_20.0-20.1Mb"


def test_fusion_model_choice_as_fusion():
    """Best CV r² (rsq row); top1 best -> the best other model (FUSION.assoc_test.R); a named model on request."""
    _, info = read_fusion(FIX / "fusion_weights.pos")
    assert info.set_index("model")["fusion_model"].to_dict() == {"g1": "enet", "g2": "lasso", "g3": "blup"}
    rows, i1 = read_fusion_wgt(FIX / "fusion_g1.wgt.RDat", model="top1")
    assert i1["fusion_model"] == "top1" and (rows["weight"] != 0).all()
    rows, _ = read_fusion_wgt(FIX / "fusion_g3.wgt.RDat")
    assert rows["weight"].iloc[0] == 0.0  # NA weight -> 0, as FUSION does
    with pytest.raises(InputError, match=r"FUSION model not in the weight file.*bslmm"):
        read_fusion_wgt(FIX / "fusion_g1.wgt.RDat", model="bslmm")


def test_fusion_twas_z_equals_fusion_formula(tmp_path):
    """FUSION weights harmonized to a bed panel: TWAS z with the panel LD equals FUSION's own computation
    (allele.qc flips, scale(genotypes), LD = G'G/(n-1), z = w'Z / sqrt(w' LD w)) done here in numpy."""
    store = tmp_path / "panel"
    build_panel_store(store, bfile=PREFIX, maf_min=0.01)
    panel = pd.read_parquet(store / "variants.parquet")
    qc = harmonize_models(FIX / "fusion_weights.pos", fmt="fusion", panel_variants=panel, out_dir=tmp_path / "m",
                          qc_out=tmp_path / "m.json", dataset="fus", tissue="T", qtl_type="eQTL",
                          declared_build="GRCh37", panel_build="GRCh37")
    assert qc["dropped"].get("not_in_panel", 0) >= 1 and qc["swapped_alleles"] > 0
    table = pd.read_parquet(tmp_path / "m" / "models.parquet")
    gw = tmp_path / "g.parquet"
    harmonize_gwas(FIX / "bolt_chr22_20.0-20.1Mb.tsv.gz", fmt="table", panel_variants=panel, out=gw,
                   qc_out=tmp_path / "g.json", n=337000.0, declared_build="GRCh37", panel_build="GRCh37",
                   colmap=dict(chrom="CHR", pos="BP", ea="ALLELE1", oa="ALLELE0", beta="BETA", se="SE"))
    z = read_harmonized_gwas(gw).set_index("variant_id")["z"]
    bolt = pd.read_csv(FIX / "bolt_chr22_20.0-20.1Mb.tsv.gz", sep="\t").set_index("SNP")
    bim = read_bim(PREFIX).reset_index(drop=True)
    keep_ids = set(panel["rsid"])
    n = 0
    for gene in ("g1", "g2", "g3"):
        rows = table[table["phenotype_id"] == gene]
        R = panel_ld(Panel(store), rows["variant_id"].tolist())
        ours = float(twas_z(z.reindex(rows["variant_id"]).to_numpy(), R, rows["weight"].to_numpy()))
        # FUSION, independently: its SNPs in the LD reference, weights flipped where A1/A2 are swapped
        f, _ = read_fusion_wgt(FIX / f"fusion_{gene}.wgt.RDat")
        f = f[f["rsid"].isin(keep_ids) & (f["weight"] != 0)]
        b = bim.set_index("id").loc[f["rsid"]]
        flip = (f["effect_allele"].to_numpy() == b["a2"].to_numpy())
        w = np.where(flip, -1.0, 1.0) * f["weight"].to_numpy()
        G = read_bed(PREFIX, np.flatnonzero(bim["id"].isin(set(f["rsid"])).to_numpy()), None).astype(float)
        order = [list(bim["id"][bim["id"].isin(set(f["rsid"]))]).index(r) for r in f["rsid"]]
        G = G[:, order]
        Gs = (G - G.mean(0)) / G.std(0, ddof=1)
        LD = Gs.T @ Gs / (len(Gs) - 1)
        zb = (bolt.loc[f["rsid"], "BETA"] / bolt.loc[f["rsid"], "SE"]).to_numpy()
        zb = np.where(bolt.loc[f["rsid"], "ALLELE1"].to_numpy() == b["a1"].to_numpy(), zb, -zb)  # to bim A1
        fusion = float(w @ zb / np.sqrt(w @ LD @ w))
        assert ours == pytest.approx(fusion, abs=1e-10), gene
        n += 1
    assert n == 3


def test_polygenicity_calibration_as_metaxcan(tmp_path):
    """z / sqrt(1 + φ N h²), negative φ as 0 (MetaXcan correct_inf_phi); φ read from extra.phi."""
    import shutil
    import sqlite3

    from twasflow.io.predictdb import read_predictdb_phi
    from twasflow.twas import calibrate_phi

    with pytest.raises(InputError, match="no phi column"):
        read_predictdb_phi(FIX / "predictdb_liver_varid.db")
    db = tmp_path / "m.db"
    shutil.copy(FIX / "predictdb_liver_varid.db", db)
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE extra ADD COLUMN phi REAL")
    genes = [r[0] for r in con.execute("SELECT gene FROM extra ORDER BY gene")]
    for i, g in enumerate(genes[:-1]):
        con.execute("UPDATE extra SET phi = ? WHERE gene = ?", (1e-6 * (i - 3), g))
    con.commit()
    con.close()
    phi = read_predictdb_phi(db)
    assert len(phi) == len(genes) - 1 and phi.min() < 0
    z = np.linspace(-5, 5, len(phi))
    got = calibrate_phi(z, phi.to_numpy(), 300_000, 0.2)
    exp = np.array([zz / np.sqrt(1 + max(p, 0.0) * 300_000 * 0.2) for zz, p in zip(z, phi)])
    np.testing.assert_allclose(got, exp, rtol=1e-15, atol=0)
    assert np.all(got[phi.to_numpy() <= 0] == z[phi.to_numpy() <= 0])
    with pytest.raises(ValueError, match="h2"):
        calibrate_phi(z, phi, 1000, 2.0)


def test_phi_carried_by_harmonization_and_applied_in_the_prescreen(tmp_path):
    """A PredictDB with extra.phi: models.parquet carries phi per pair; the prescreen table divides each model
    pair's z by sqrt(1 + max(phi, 0) N h2) before its p and threshold (the same numbers calibrate_phi gives)."""
    import shutil
    import sqlite3

    from twasflow.stages import _model_phi
    from twasflow.twas import calibrate_phi, phi_scale, prescreen_table

    db = tmp_path / "m.db"
    shutil.copy(FIX / "predictdb_liver_varid.db", db)
    con = sqlite3.connect(db)
    genes = [r[0] for r in con.execute("SELECT DISTINCT gene FROM weights ORDER BY gene")]
    con.execute("ALTER TABLE extra ADD COLUMN phi REAL")
    for i, g in enumerate(genes):
        con.execute("UPDATE extra SET phi = ? WHERE gene = ?", (1e-6 * (i - 3), g))
    con.commit()
    con.close()
    harmonize_models(db, fmt="predictdb", panel_variants=panel_variants(), out_dir=tmp_path / "h",
                     qc_out=tmp_path / "h.json", dataset="d", tissue="Liver_model", qtl_type="eQTL",
                     declared_build="GRCh38", panel_build="GRCh38")
    t = pd.read_parquet(tmp_path / "h" / "models.parquet")
    assert "phi" in t.columns and t["phi"].notna().all()
    phi = _model_phi({"d": tmp_path / "h"})
    assert phi[t["pair_id"].iloc[0]] == t["phi"].iloc[0]
    # the prescreen's division
    P = 3
    pairs = pd.DataFrame({"pair_id": [f"p{i}" for i in range(P)], "gene_id": [f"g{i}" for i in range(P)]})
    B = np.eye(P) * 0.5
    z = np.array([4.0, -3.0, 2.5])
    ph = np.array([2e-5, np.nan, -1e-6])
    sc = phi_scale(ph, 300_000, 0.2)
    a = prescreen_table("L", pairs, z, np.eye(P), B, p_max=1e-3)
    b = prescreen_table("L", pairs, z, np.eye(P), B, p_max=1e-3, z_scale=sc)
    np.testing.assert_allclose(b["twas_z"], np.where(np.isnan(ph), a["twas_z"], calibrate_phi(a["twas_z"], ph, 300_000, 0.2)),
                               rtol=1e-15)
    assert a["kept"].iloc[0] and not b["kept"].iloc[0]  # 4 / sqrt(2.2) = 2.7: no longer below 1e-3
    assert b["twas_z"].iloc[2] == a["twas_z"].iloc[2]  # negative phi counts as 0
