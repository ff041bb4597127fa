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
    assert a["qc"]["n_input"] == 53 and a["qc"]["dropped"] == {"not_in_panel": 7}  # 3 absent, 4 indels
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
