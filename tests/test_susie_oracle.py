"""twasflow.susie against susieR 0.12.35 reference outputs (shared/oracle/expected, see
README-susie-coloc.md). One test per case, so a failure names the case.

Tolerances (from the task brief): PIP and alpha 1e-5 absolute; credible sets identical as sets of
variables, in susieR's order; coverage and purity 1e-6 absolute; V and sigma2 1e-4 relative; ELBO trace
1e-6 relative per iteration with the same length; niter and converged exact. Measured errors are far
smaller (see docs/susie.md).
"""

from __future__ import annotations

import json
import warnings
from functools import lru_cache

import numpy as np
import pytest

from conftest import ORACLE, read_json, read_tsv_matrix
from twasflow.susie import estimate_s_rss, kriging_rss, susie, susie_rss, susie_suff_stat

EXP = ORACLE / "expected"
CASES = [
    "susie_01_default", "susie_02_fixed_resid", "susie_03_nostd_noint", "susie_04_maxiter3", "susie_05_suff_stat",
    "rss_01_z_default", "rss_02_bhat_shat_vary", "rss_03_prior_EM", "rss_04_fixed_prior", "rss_05_L1",
    "rss_06_L20", "rss_07_cov90_minabs02", "rss_08_maxiter3", "rss_09_est_resid", "rss_10_null_pheno",
    "rss_11_null_iid", "rss_12_nonpsd_default", "rss_13_nonpsd_lambda", "rss_14_nonpsd_Rreg",
]



def _load(path) -> np.ndarray:
    return read_tsv_matrix(path)


@lru_cache(maxsize=None)
def _inp(name: str) -> np.ndarray:
    return _load(EXP / "_inputs" / f"{name}.tsv.gz")


def _run(case: str):
    """Replay call.json with twasflow.susie (argument names as in susieR)."""
    call = json.loads((EXP / case / "call.json").read_text())
    args = dict(call["args"])
    ss = _inp("N3w_y1_sumstats")
    bhat, shat, z = ss[:, 0], ss[:, 1], ss[:, 2]
    if case.startswith("susie_05"):
        XtX = _load(EXP / case / "XtX.tsv.gz")
        Xty = _load(EXP / case / "Xty.tsv.gz")[:, 0]
        return susie_suff_stat(XtX=XtX, Xty=Xty, **args)
    if case.startswith("susie"):
        return susie(_inp("N3w_X"), _inp("N3w_y1")[:, 0], **args)
    R = _inp("N3w_R")
    Rbad = _inp("N3w_R_nonpsd")
    if case in ("rss_10_null_pheno", "rss_11_null_iid"):
        return susie_rss(z=_load(EXP / case / "z.tsv.gz")[:, 0], R=R, **args)
    if case == "rss_02_bhat_shat_vary":
        return susie_rss(bhat=bhat, shat=shat, R=R, **args)
    if case == "rss_12_nonpsd_default":
        return susie_rss(z=z, R=Rbad, **args)
    if case == "rss_13_nonpsd_lambda":
        # susie_rss_lambda(z, R, L=10, lambda=1e-3, check_R=FALSE): our lambda_ > 0 path zeroes negative
        # eigenvalues (check_R=FALSE semantics) and takes no n
        assert args.pop("check_R") is False
        lam = args.pop("lambda")
        return susie_rss(z=z, R=Rbad, lambda_=lam, **args)
    if case == "rss_14_nonpsd_Rreg":
        return susie_rss(z=z, R=(1 - 1e-3) * Rbad + 1e-3 * np.eye(Rbad.shape[0]), **args)
    return susie_rss(z=z, R=R, **args)


@pytest.mark.parametrize("case", CASES)
def test_oracle_case(case: str) -> None:
    ex = read_json(EXP / case / "expected.json")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit = _run(case)
    msgs = [str(w.message) for w in rec]

    assert fit.niter == ex["niter"]
    assert fit.converged == ex["converged"]
    np.testing.assert_allclose(fit.elbo, ex["elbo"], rtol=1e-6, atol=0)
    np.testing.assert_allclose(fit.pip, ex["pip"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(fit.alpha, np.array(ex["alpha"]), rtol=0, atol=1e-5)
    V_ex = np.array(ex["V"], dtype=float)
    np.testing.assert_allclose(fit.V, V_ex, rtol=1e-4, atol=0)
    np.testing.assert_allclose(fit.sigma2, ex["sigma2"], rtol=1e-4, atol=0)
    # further fitted quantities (not in the brief's list; same-algorithm replays agree to ~1e-8)
    np.testing.assert_allclose(fit.lbf, ex["lbf"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fit.KL, ex["KL"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fit.posterior_mean(), ex["posterior_mean"], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(fit.posterior_sd(), ex["posterior_sd"], rtol=1e-5, atol=1e-8)

    sets = ex["sets"]
    assert [s.variables.tolist() for s in fit.sets] == [sorted(v) for v in sets["cs_0based"]]
    assert [s.effect for s in fit.sets] == [i - 1 for i in sets["cs_index"]]
    assert [s.name for s in fit.sets] == list(sets["cs_names"])
    if fit.sets:
        np.testing.assert_allclose([s.coverage for s in fit.sets], sets["coverage"], rtol=0, atol=1e-6)
        pur = sets["purity"]
        np.testing.assert_allclose([s.purity_min for s in fit.sets], pur["min_abs_corr"], rtol=0, atol=1e-6)
        np.testing.assert_allclose([s.purity_mean for s in fit.sets], pur["mean_abs_corr"], rtol=0, atol=1e-6)
        np.testing.assert_allclose([s.purity_median for s in fit.sets], pur["median_abs_corr"], rtol=0, atol=1e-6)

    if "intercept" in ex and ex["intercept"] is not None:
        np.testing.assert_allclose(fit.intercept, ex["intercept"], rtol=1e-6, atol=1e-8)
    if case.startswith("susie_0") and case != "susie_05_suff_stat":
        np.testing.assert_allclose(fit.fitted, ex["fitted"], rtol=1e-6, atol=1e-8)
    if "Rz" in ex:
        np.testing.assert_allclose(fit.fitted, ex["Rz"], rtol=1e-6, atol=1e-8)
    if "X_column_scale_factors" in ex:
        np.testing.assert_allclose(fit.X_column_scale_factors, ex["X_column_scale_factors"], rtol=1e-12)

    # the R warnings have Python counterparts (recorded on the fit as well)
    if not ex["converged"]:
        assert any("did not converge" in m for m in msgs) and any("did not converge" in m for m in fit.warnings)
    if any("negative eigenvalues" in m for m in ex["r_messages"]):
        assert any("negative eigenvalues" in m for m in fit.warnings)
    if any("in-sample" in m for m in ex["r_messages"]):
        assert any("in-sample" in m for m in fit.warnings)
    if case == "rss_12_nonpsd_default":  # susieR 0.12.35 is silent here; we warn but fit the same model
        assert any("not positive semidefinite" in m for m in fit.warnings)


@pytest.mark.parametrize("case,Rname", [("rss_01_z_default", "N3w_R"), ("rss_12_nonpsd_default", "N3w_R_nonpsd")])
def test_kriging_oracle(case: str, Rname: str) -> None:
    k = read_json(EXP / case / "kriging.json")
    z = _inp("N3w_y1_sumstats")[:, 2]
    R = _inp(Rname)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method, val in k["estimate_s_rss"].items():
            # s near 0 (rss_01: ~6e-9 and ~5e-26) is compared with atol 1e-8 as well
            np.testing.assert_allclose(estimate_s_rss(z, R, 574, method=method), val, rtol=1e-6, atol=1e-8)
        df = kriging_rss(z, R, 574)
    cd = k["conditional_dist"]
    for col in ("z", "condmean", "condvar", "logLR"):
        np.testing.assert_allclose(df[col].to_numpy(), cd[col], rtol=1e-6, atol=0, err_msg=col)
    # z_std_diff_j = (Prec z)_j / sqrt(Prec_jj), Prec = V diag(1 / ((1 - s) lam + s)) V'. With s ~ 6e-9 (rss_01) the
    # matrix (1 - s) R + s I has condition number ~ 6e9 and z_std_diff is not determined to rtol 1e-6 by float64:
    # LAPACK's eigenvectors are exact for R + E, |E| ~ eps |R|, which rotates directions k, l by ~ eps lam_max /
    # |lam_k - lam_l| and changes Prec by that angle x |dinv_k - dinv_l| = (1 - s) dinv_k dinv_l |lam_k - lam_l|.
    # The tolerance is rtol 1e-6 plus 3x the first-order spread of those rounding errors (root sum of squares over
    # k, l), computed per entry (`_kriging_rounding`): measured, our values with 1 and 2 BLAS threads differ by up
    # to 3.8e-8 from each other and sit at <= 0.12 of that spread from susieR's (the old fixed atol 2.7e-8 failed
    # with one thread at 4.2e-8, entries of size 1.2e-5).
    zs = np.asarray(cd["z_std_diff"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # R's negative eigenvalues (rss_12), warned about above
        tol = 1e-6 * np.abs(zs) + 3.0 * _kriging_rounding(z, R, 574)
    assert np.all(np.abs(df["z_std_diff"].to_numpy() - zs) <= tol), np.max(np.abs(df["z_std_diff"].to_numpy() - zs) / tol)


def _kriging_rounding(z: np.ndarray, R: np.ndarray, n: float) -> np.ndarray:
    """First-order spread (p,) of kriging_rss's z_std_diff under the eigendecomposition's rounding (backward error
    eps * lam_max): root sum of squares over direction pairs k, l of angle x change in Prec, divided by
    sqrt(Prec_jj)."""
    from twasflow.susie.diagnostics import _eig_setup, _estimate_s

    zz, lam, V = _eig_setup(z, R, n, 1e-8, "kriging_rss")
    s = _estimate_s(zz, lam, V, "null-mle")
    dinv = 1.0 / ((1.0 - s) * lam + s)
    uz = V.T @ zz
    pdiag = (V * V) @ dinv
    c = np.finfo(float).eps * lam.max() * (1.0 - s)
    return c * np.sqrt(((V * V) @ dinv**2) * np.sum(dinv**2 * uz**2)
                       + ((V * V) @ (dinv**2 * uz**2)) * np.sum(dinv**2)) / np.sqrt(pdiag)
