"""TWAS z, ACAT and the prescreen table (twasflow.twas)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import DATA
from twasflow.twas import PRESCREEN_COLUMNS, acat, acat_by_group, prescreen_table, spredixcan_z, twas_z, z_to_p

CTWAS = DATA / "ctwas_LDL_chr16"


def test_ctwas_gene_z_all_894_genes():
    """cTWAS compute_gene_z(): every gene of derived/LDL_chr16.z_gene.tsv within 1e-8."""
    wl = pd.read_csv(CTWAS / "derived" / "LDL_chr16.weights.long.tsv.gz", sep="\t")
    zs = pd.read_csv(CTWAS / "raw" / "LDL_chr16.z_snp.tsv.gz", sep="\t").set_index("id")["z"]
    zg = pd.read_csv(CTWAS / "derived" / "LDL_chr16.z_gene.tsv", sep="\t").set_index("id")["z"]
    Rw = np.load(CTWAS / "derived" / "LDL_chr16.R_wgt.npz")
    got = {}
    for gid, sub in wl.groupby("id", sort=False):
        v = Rw[gid + "__variants"]
        assert list(v) == list(sub.variant_id)
        got[gid] = float(twas_z(zs.loc[v].to_numpy(), Rw[gid], sub.weight.to_numpy()))
    assert len(got) == 894 == len(zg)
    diff = np.abs(pd.Series(got).reindex(zg.index).to_numpy() - zg.to_numpy())
    assert diff.max() < 1e-8


def test_twas_z_matrix_columns_match_single_columns():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 6))
    R = np.corrcoef(X, rowvar=False)
    z = rng.standard_normal(6)
    W = rng.standard_normal((6, 4))
    W[:, 3] = 0.0
    out = twas_z(z, R, W)
    for j in range(3):
        w = W[:, j]
        assert out[j] == pytest.approx(w @ z / np.sqrt(w @ R @ w), rel=1e-12)
    assert np.isnan(out[3])  # no weights → NaN, not 0/0 noise


def test_twas_z_ignores_nan_z_where_no_weight():
    R = np.eye(3)
    z = np.array([1.0, np.nan, 2.0])
    W = np.array([[1.0], [0.0], [1.0]])
    assert twas_z(z, R, W)[0] == pytest.approx(3.0 / np.sqrt(2.0), rel=1e-14)


def test_spredixcan_equals_standardized_twas():
    """Σ w σ z / sqrt(wᵀΓw) == twas_z with W = w σ and R = cov2cor(Γ)."""
    rng = np.random.default_rng(2)
    G = rng.binomial(2, 0.3, size=(500, 5)).astype(float)
    cov = np.cov(G, rowvar=False)
    sd = np.sqrt(np.diag(cov))
    w = rng.standard_normal(5)
    z = rng.standard_normal(5)
    R = cov / np.outer(sd, sd)
    assert spredixcan_z(z, w, cov) == pytest.approx(float(twas_z(z, R, w * sd)), rel=1e-12)


def test_acat_known_values():
    # a single p-value is returned unchanged; identical p-values combine to themselves
    assert acat([0.03]) == pytest.approx(0.03, rel=1e-12)
    assert acat([0.2, 0.2, 0.2]) == pytest.approx(0.2, rel=1e-12)
    # the Cauchy combination of (p, 1 - p) is 0.5 (tan is odd around 0.5)
    assert acat([0.1, 0.9]) == pytest.approx(0.5, abs=1e-12)
    # tiny p-values: dominated by the smallest, ≈ p_min / k for k equal-weight tests
    assert acat([1e-20, 0.5]) == pytest.approx(2e-20, rel=1e-6)
    assert acat([0.0, 0.3]) == 0.0
    assert np.isnan(acat([np.nan, np.nan]))
    assert acat([np.nan, 0.04]) == pytest.approx(0.04, rel=1e-12)


def test_acat_by_group():
    out = acat_by_group([0.01, 0.01, 0.5, np.nan], ["a", "a", "b", "b"])
    assert out[0] == out[1] == pytest.approx(0.01, rel=1e-12)
    assert out[2] == out[3] == pytest.approx(0.5, rel=1e-12)


def test_prescreen_table_reasons_and_columns():
    R = np.eye(3)
    z = np.array([4.0, 0.1, -3.0])
    B = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    pairs = pd.DataFrame({"pair_id": ["g1|A|eQTL", "g1|B|eQTL", "g2|A|eQTL"], "gene_id": ["g1", "g1", "g2"]})
    t = prescreen_table("L1", pairs, z, R, B, p_max=0.05, drop_reason=["", "", "no_kept_variant"])
    assert list(t.columns) == PRESCREEN_COLUMNS
    assert t.kept.tolist() == [True, False, False]
    assert t.reason.tolist() == ["", "p_above_max", "no_kept_variant"]
    assert t.twas_z[0] == pytest.approx(4.0) and np.isnan(t.twas_z[2])
    assert t.n_weights_used.tolist() == [1, 1, 0]
    assert t.twas_p[0] == pytest.approx(float(z_to_p(4.0)))
    assert t.acat_p[0] == t.acat_p[1] == pytest.approx(acat([z_to_p(4.0), z_to_p(0.1)]))
    assert np.isnan(t.acat_p[2])
