"""Published SuSiE fine-mapping of xQTL as stage-1 weights and for coloc from lbf (twasflow.finemapped_xqtl,
twasflow.io.susie_xqtl, twasflow.coloc.lbf).

Our own susie_rss fits of a simulated locus (tests/eqtlcat_fixture.py) are written in the eQTL Catalogue
layout (lbf_variable + credible_sets), read back, and their posterior means recovered:
* α = softmax(lbf) exactly (1e-12);
* with the fit's prior variances and the residual-z signs, Σ α μ equals susieR's posterior mean to 1e-12
  (the lbf → |μ| inversion is exact up to rounding);
* from the files alone (r̂ from the smallest lbf, signs from the credible-set z) on the credible-set variants
  within 5e-5 of the largest weight: the signs agree exactly there (4e-16), r̂ misses log(1 + r) by
  z²_min r/(1 + r) (checked as an identity), ~1e-4 with this 120-variant region (measured 2.1e-5 and 1.8e-5);
  an eQTL Catalogue region has thousands of variants, z²_min ~ 1e-7.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twasflow.coloc import coloc_bf_bf
from twasflow.coloc.lbf import coloc_lbf_locus, pair_lbf_from_long
from twasflow.errors import InputError
from twasflow.finemapped_xqtl import (LBF_FILE, SUSIE_REPORT_FILE, alpha_from_lbf, posterior_mean, ratio_from_lbf,
                                      susie_weights_long)
from twasflow.io.headers import check_xqtl_header
from twasflow.io.susie_xqtl import read_credible_sets, read_lbf_variable
from twasflow.models import harmonize_models

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eqtlcat_fixture import N_EQTL, OUT as FIX, simulate  # noqa: E402
from test_eqtlcatalogue import fixture_panel  # noqa: E402

LBF = FIX / "QTD_test.lbf_variable.txt.gz"
CS = FIX / "QTD_test.credible_sets.tsv.gz"


@pytest.fixture(scope="module")
def sim():
    return simulate()


def test_fixture_files_are_the_fits(sim):
    """The committed files are the fits written by tests/eqtlcat_fixture.py (same lbf to the digit)."""
    lbf = read_lbf_variable(LBF)
    for t, fit in sim.fits.items():
        g = lbf[lbf.molecular_trait_id == t]
        if not fit.sets:
            assert g.empty
            continue
        np.testing.assert_array_equal(g[[f"lbf_variable{k}" for k in range(1, 11)]].to_numpy().T, fit.lbf_variable)
    cs = read_credible_sets(CS)
    assert sorted(set(cs.cs_id)) == ["ENSG00000000101_L1", "ENSG00000000101_L2", "ENSG00000000102_L1"]
    assert lbf.equals(read_lbf_variable(FIX / "QTD_test.lbf_variable.parquet").astype(lbf.dtypes.to_dict()))


def test_posterior_mean_recovered_from_lbf(sim):
    s = 1.0 / np.sqrt(N_EQTL - 1)
    for t, fit in sim.fits.items():
        if not fit.sets:
            continue
        assert fit.sigma2 == 1.0  # susie_rss: sigma2 fixed at 1, so s = 1/sqrt(n - 1) exactly
        pm = fit.posterior_mean()
        np.testing.assert_allclose(alpha_from_lbf(fit.lbf_variable), fit.alpha, rtol=0, atol=1e-12)
        r = fit.V * (N_EQTL - 1) / fit.sigma2
        exact = posterior_mean(fit.lbf_variable, np.sign(fit.mu), s, ratio=r)
        np.testing.assert_allclose(exact, pm, rtol=0, atol=1e-12 * np.abs(pm).max())
        # r from the lbf alone: exp(-2 min lbf) - 1 misses log(1 + r) by z_min^2 r/(1 + r)
        # (exact identity; z_min^2 ~ (pi/2)/p^2 is ~1e-4 here with p = 120, ~1e-7 with an eQTL Catalogue region)
        rhat = ratio_from_lbf(fit.lbf_variable)
        on = fit.V > 0
        zmin2 = ((2 * fit.lbf_variable[on] + np.log1p(r[on, None])) * (1 + r[on, None]) / r[on, None]).min(axis=1)
        np.testing.assert_allclose(np.log1p(r[on]) - np.log1p(rhat[on]), zmin2 * r[on] / (1 + r[on]), rtol=1e-6)
        assert zmin2.max() < 1e-3
        # the weights move by O(z_min^2): measured 2.1e-5 and 1.8e-5 of the largest weight for the two traits
        approx = posterior_mean(fit.lbf_variable, np.sign(fit.mu), s)
        assert np.abs(approx - pm).max() <= 5e-5 * np.abs(pm).max()


def test_weights_from_files_equal_the_fit_on_credible_set_variants(sim):
    lbf, cs = read_lbf_variable(LBF), read_credible_sets(CS)
    long, report = susie_weights_long(lbf, cs, n=N_EQTL)
    assert set(long.weight_scale) == {"sd"}
    var = np.array([f"chr1_{p}_{r}_{a}" for p, r, a in zip(sim.panel.pos, sim.ref, sim.alt)])
    for t, fit in sim.fits.items():
        rep = report.set_index("phenotype_id").loc[t] if t in set(report.phenotype_id) else None
        if not fit.sets:
            assert rep is None and not (long.model == t).any()
            continue
        S = np.unique(np.concatenate([c.variables for c in fit.sets]))
        got = long[long.model == t].set_index("model_variant").weight.reindex(var[S]).to_numpy()
        pm = fit.posterior_mean()
        assert np.abs(got - pm[S]).max() <= 5e-5 * np.abs(pm).max()  # r̂ (see above); signs exact on S
        assert rep["n_weights"] == S.size and rep["reason"] == ""
        assert rep["alpha_outside"] <= 0.05 + 1e-12  # a credible set holds >= 95 % of its effect's mass
        assert list(long[long.model == t].effect_allele) == list(sim.alt[S])


def test_harmonize_models_eqtlcat_susie(tmp_path, sim):
    out = tmp_path / "d"
    qc = harmonize_models(LBF, fmt="eqtlcat-susie", panel_variants=fixture_panel(), out_dir=out,
                          qc_out=tmp_path / "d.qc.json", dataset="d", tissue="Blood_susie", qtl_type="eQTL",
                          credible_sets=CS, n=N_EQTL, declared_build="GRCh38", panel_build="GRCh38")
    m = pd.read_parquet(out / "models.parquet")
    assert qc["n_input"] == qc["n_kept"] == len(m) == 4 and qc["dropped"] == {}  # the 3 + 1 credible-set variants
    assert qc["susie"]["n_traits_weighted"] == 2 and qc["susie"]["lbf_variants"]["n_kept"] == 120
    pos_idx = {p: j for j, p in enumerate(sim.panel.pos)}
    for t, fit in sim.fits.items():
        g = m[m.phenotype_id == t]
        if not fit.sets:
            assert g.empty
            continue
        j = g.pos.map(pos_idx).to_numpy()
        sign = np.where(sim.same[j], 1.0, -1.0)  # per SD of the panel's counted allele
        pm = fit.posterior_mean()
        assert np.abs(g.weight.to_numpy() - sign * pm[j]).max() <= 5e-5 * np.abs(pm).max()
        assert (g.pair_id == f"{t}|Blood_susie|eQTL").all()
    lbf = pd.read_parquet(out / LBF_FILE)
    assert len(lbf) == 3 * 120 and sorted(set(lbf.effect)) == [0, 1]
    assert (out / SUSIE_REPORT_FILE).exists()
    with pytest.raises(InputError, match="credible sets"):
        harmonize_models(LBF, fmt="eqtlcat-susie", panel_variants=fixture_panel(), out_dir=out,
                         qc_out=tmp_path / "e.qc.json", dataset="d", tissue="B", qtl_type="eQTL", n=N_EQTL)
    with pytest.raises(InputError, match="sample size"):
        harmonize_models(LBF, fmt="eqtlcat-susie", panel_variants=fixture_panel(), out_dir=out,
                         qc_out=tmp_path / "e.qc.json", dataset="d", tissue="B", qtl_type="eQTL", credible_sets=CS)


def _corrupt(src: Path, row: int, column: str, value: str, dst: Path) -> Path:
    df = pd.read_csv(src, sep="\t", dtype=str)
    df.loc[row, column] = value
    df.to_csv(dst, sep="\t", index=False)
    return dst


def test_bad_files_name_file_column_row(tmp_path):
    with pytest.raises(InputError) as e:
        read_credible_sets(_corrupt(CS, 1, "cs_id", "ENSG00000000101-first", tmp_path / "cs.tsv"))
    assert e.value.column == "cs_id" and e.value.row == 2
    with pytest.raises(InputError) as e:
        read_lbf_variable(_corrupt(LBF, 4, "lbf_variable2", "x", tmp_path / "lbf.tsv"))
    assert e.value.column == "lbf_variable2" and e.value.row == 5
    assert check_xqtl_header(LBF, "eqtlcat-susie", credible_sets=CS).startswith("lbf_variable with 10 effects")
    with pytest.raises(InputError) as e:
        check_xqtl_header(LBF, "eqtlcat-susie")
    assert e.value.column == "credible_sets"
    with pytest.raises(InputError) as e:
        check_xqtl_header(CS, "eqtlcat-susie", credible_sets=CS)
    assert e.value.column == "lbf_variable1"


def _pp_direct(l1: np.ndarray, l2: np.ndarray, p1: float, p2: float, p12: float) -> np.ndarray:
    """PP.H0..H4 of two single-effect lbf rows over the same variants, written out from coloc's definition
    (Giambartolomei 2014; coloc.bf_bf): H1 = p1 Σ e^l1, H2 = p2 Σ e^l2, H3 = p1 p2 Σ_{i≠j} e^l1i e^l2j,
    H4 = p12 Σ e^(l1i + l2i), H0 = 1 (plain sums: the lbf here are small enough for float64)."""
    e1, e2 = np.exp(l1), np.exp(l2)
    h = np.array([1.0, p1 * e1.sum(), p2 * e2.sum(), p1 * p2 * (e1.sum() * e2.sum() - (e1 * e2).sum()),
                  p12 * (e1 * e2).sum()])
    return h / h.sum()


def test_coloc_lbf_locus_against_bf_bf_and_the_formula(sim):
    """GWAS with a causal variant at the first eQTL's lead: coloc from the published lbf finds it (PP.H4 > 0.5),
    equal to coloc_bf_bf on the same rows and to the written-out formula."""
    from twasflow.coloc import run_susie

    rng = np.random.default_rng(5)
    M = sim.R.shape[0]
    b = np.zeros(M)
    b[20] = 0.06
    C = np.linalg.cholesky(sim.R + 1e-10 * np.eye(M))
    n = 20_000
    z = np.sqrt(n) * sim.R @ b + C @ rng.standard_normal(M)
    # panel variant ids, as harmonize_models writes them into lbf.parquet
    vid = (sim.panel.chrom + ":" + sim.panel.pos.astype(str) + ":" + sim.panel.other_allele + ":"
           + sim.panel.counted_allele).to_numpy()
    lbf = read_lbf_variable(LBF)
    cs = read_credible_sets(CS)
    rows = []
    for t, g in lbf.groupby("molecular_trait_id"):
        for k in sorted(set(cs[cs.molecular_trait_id == t].effect)):
            rows.append(pd.DataFrame({"pair_id": f"{t}|B|eQTL", "phenotype_id": t, "effect": k, "variant_id": vid,
                                      "lbf": g[f"lbf_variable{k + 1}"].to_numpy()}))
    pairs = pair_lbf_from_long(pd.concat(rows, ignore_index=True))
    fit = run_susie(z, sim.R, n)
    assert fit.sets
    res = coloc_lbf_locus(z, n, sim.R, vid, pairs, gwas_fit=fit).set_index("pair_id")
    a = res.loc["ENSG00000000101|B|eQTL"]
    assert a["colocalized"] and a["PP.H4"] > 0.5 and a["nsnps"] == M and a["reason"] == ""
    gl = fit.lbf_variable[[s.effect for s in fit.sets]]
    for pid, (xv, _e, xl) in pairs.items():
        ref = coloc_bf_bf(gl, xl, vid, xv).best()
        np.testing.assert_allclose(res.loc[pid, ["PP.H0", "PP.H1", "PP.H2", "PP.H3", "PP.H4"]].to_numpy(float),
                                   ref[["PP.H0", "PP.H1", "PP.H2", "PP.H3", "PP.H4"]].to_numpy(float), atol=1e-14)
        i, j = int(ref["idx1"]), int(ref["idx2"])
        direct = _pp_direct(gl[i], xl[j], 1e-4, 1e-4, 5e-6)
        np.testing.assert_allclose(ref[["PP.H0", "PP.H1", "PP.H2", "PP.H3", "PP.H4"]].to_numpy(float), direct,
                                   rtol=1e-10, atol=1e-14)
    assert not res.loc["ENSG00000000102|B|eQTL", "colocalized"]
    # a GWAS without a credible set: a reason, never NaN pretending to be a result
    none = coloc_lbf_locus(rng.standard_normal(M), n, sim.R, vid, pairs)
    assert (~none.colocalized).all() and none.reason.str.startswith("lbf: ").all()
