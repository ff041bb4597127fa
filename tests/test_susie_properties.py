"""Invariants of the SuSiE engine on small simulated inputs (no reference data needed)."""

from __future__ import annotations


import numpy as np
import pytest
from scipy.stats import multivariate_normal

from twasflow.susie import prepare_R, single_effect_regression, susie, susie_rss, susie_suff_stat


def _sim(seed: int, n: int = 300, p: int = 60, causal=(5, 30), beta=0.35):
    rng = np.random.default_rng(seed)
    # AR(1)-like LD blocks
    Z = rng.standard_normal((n, p))
    X = np.empty_like(Z)
    X[:, 0] = Z[:, 0]
    for j in range(1, p):
        X[:, j] = 0.8 * X[:, j - 1] + 0.6 * Z[:, j]
    X -= X.mean(axis=0)
    b = np.zeros(p)
    b[list(causal)] = beta
    y = X @ b + rng.standard_normal(n)
    y -= y.mean()
    R = np.corrcoef(X, rowvar=False)
    xs = X / X.std(axis=0, ddof=1)
    bhat = xs.T @ y / (n - 1)
    resid_var = np.array([np.var(y - xs[:, j] * bhat[j], ddof=2) for j in range(p)])
    shat = np.sqrt(resid_var / (n - 1))
    return X, y, R, bhat / shat, n


@pytest.mark.parametrize("seed", [1, 2])
def test_pip_in_unit_interval_and_alpha_rows_sum_to_one(seed: int) -> None:
    X, y, R, z, n = _sim(seed)
    for fit in (susie_rss(z=z, R=R, n=n, L=5), susie(X, y, L=5), susie_rss(z=z, R=R, L=5, lambda_=1e-3)):
        assert np.all((fit.pip >= 0) & (fit.pip <= 1))
        np.testing.assert_allclose(fit.alpha.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        assert np.all(np.diff(fit.elbo) > -1e-6)  # IBSS never decreases the ELBO


def test_simulated_signals_are_found() -> None:
    X, y, R, z, n = _sim(3, causal=(5, 40), beta=0.5)
    fit = susie_rss(z=z, R=R, n=n, L=5)
    hit = {int(j) for s in fit.sets for j in s.variables}
    assert {5, 40} <= hit
    assert all(s.purity_min >= 0.5 for s in fit.sets)


def test_zero_z_gives_no_credible_set() -> None:
    _, _, R, z, n = _sim(4)
    fit = susie_rss(z=np.zeros_like(z), R=R, n=n, L=5)
    assert fit.sets == []
    assert np.all(fit.V == 0)
    np.testing.assert_allclose(fit.pip, 0.0, atol=1e-12)


def test_permuting_variables_permutes_the_fit() -> None:
    X, y, R, z, n = _sim(5)
    perm = np.random.default_rng(0).permutation(z.size)
    f0 = susie_rss(z=z, R=R, n=n, L=5)
    f1 = susie_rss(z=z[perm], R=R[np.ix_(perm, perm)], n=n, L=5)
    # not bit-identical: the permuted R @ v sums in another order, and Brent's optimum of log V moves
    # within its tolerance (sqrt(eps) ~ 1.5e-8); alpha moves ~1e-9
    np.testing.assert_allclose(f1.alpha, f0.alpha[:, perm], rtol=0, atol=1e-7)
    np.testing.assert_allclose(f1.pip, f0.pip[perm], rtol=0, atol=1e-7)
    np.testing.assert_allclose(f1.elbo, f0.elbo, rtol=1e-9)
    sets0 = {frozenset(int(j) for j in s.variables) for s in f0.sets}
    sets1 = {frozenset(int(perm[j]) for j in s.variables) for s in f1.sets}
    assert sets0 == sets1 and len(sets0) > 0


def test_ser_bayes_factor_matches_dense_gaussian_computation() -> None:
    """log BF_j = log N(y; 0, s2 I + V x_j x_j') - log N(y; 0, s2 I), alpha ~ pi_j BF_j, and the posterior
    mean / second moment of the effect, computed densely on a tiny problem."""
    rng = np.random.default_rng(11)
    n, p, V, s2 = 12, 4, 0.7, 1.3
    X = rng.standard_normal((n, p))
    y = X[:, 2] * 0.9 + rng.standard_normal(n)
    pi = np.array([0.1, 0.2, 0.3, 0.4])
    d = (X * X).sum(axis=0)
    res = single_effect_regression(X.T @ y / s2, d / s2, V, pi, "none")
    null = multivariate_normal(np.zeros(n), s2 * np.eye(n)).logpdf(y)
    lbf = np.array([multivariate_normal(np.zeros(n), s2 * np.eye(n) + V * np.outer(X[:, j], X[:, j])).logpdf(y) - null
                    for j in range(p)])
    np.testing.assert_allclose(res.lbf, lbf, rtol=1e-10, atol=1e-12)
    w = pi * np.exp(lbf)
    np.testing.assert_allclose(res.alpha, w / w.sum(), rtol=1e-10)
    np.testing.assert_allclose(res.lbf_model, np.log(w.sum()), rtol=1e-10)
    post_var = 1.0 / (1.0 / V + d / s2)
    post_mean = post_var * (X.T @ y) / s2
    np.testing.assert_allclose(res.mu, post_mean, rtol=1e-12)
    np.testing.assert_allclose(res.mu2, post_var + post_mean**2, rtol=1e-12)


def test_individual_and_suff_stat_entries_agree() -> None:
    X, y, R, z, n = _sim(6)
    f_ind = susie(X, y, L=5)
    f_ss = susie_suff_stat(XtX=X.T @ X, Xty=X.T @ y, yty=float(y @ y), n=n, L=5)
    np.testing.assert_allclose(f_ss.pip, f_ind.pip, atol=1e-7)
    np.testing.assert_allclose(f_ss.elbo, f_ind.elbo, rtol=1e-8)
    np.testing.assert_allclose(f_ss.sigma2, f_ind.sigma2, rtol=1e-8)


def test_prepared_R_and_eigendecomposition_are_reused_exactly() -> None:
    _, _, R, z, n = _sim(7)
    P = prepare_R(R, R_eig=np.linalg.eigh(R))
    a = susie_rss(z=z, R=R, n=n, L=5)
    b = susie_rss(z=z, R=P, n=n, L=5)
    np.testing.assert_array_equal(a.alpha, b.alpha)
    la = susie_rss(z=z, R=R, L=5, lambda_=1e-3)
    lb = susie_rss(z=z, R=P, L=5, lambda_=1e-3)
    np.testing.assert_allclose(lb.alpha, la.alpha, atol=1e-10)


def test_warm_start_from_converged_fit_stops_at_once() -> None:
    _, _, R, z, n = _sim(8)
    f0 = susie_rss(z=z, R=R, n=n, L=5)
    f1 = susie_rss(z=z, R=R, n=n, L=5, model_init=f0)
    assert f1.converged and f1.niter <= 2
    np.testing.assert_allclose(f1.pip, f0.pip, atol=1e-3)
    f2 = susie_rss(z=z, R=R, n=n, L=8, model_init=f0)  # padded with fresh effects
    assert f2.alpha.shape[0] == 8
    np.testing.assert_allclose(f2.pip, f0.pip, atol=1e-2)


def test_null_weight_adds_a_null_column() -> None:
    _, _, R, z, n = _sim(9)
    fit = susie_rss(z=z, R=R, n=n, L=3, null_weight=0.5)
    p = z.size
    assert fit.alpha.shape == (3, p + 1) and fit.null_index == p and fit.pip.shape == (p,)
    assert all(fit.null_index not in s.variables for s in fit.sets)


def test_get_cs_and_get_pip_accessors() -> None:
    _, _, R, z, n = _sim(10)
    fit = susie_rss(z=z, R=R, n=n, L=5)
    again = fit.get_cs(coverage=0.95, min_abs_corr=0.5, R=R)
    assert [s.variables.tolist() for s in again] == [s.variables.tolist() for s in fit.sets]
    np.testing.assert_allclose(fit.get_pip(), fit.pip)
    pruned = fit.get_pip(prune_by_cs=True)
    assert np.all(pruned <= fit.pip + 1e-15)


def test_no_n_behaviour_warns_and_fits() -> None:
    _, _, R, z, _ = _sim(12)
    with pytest.warns(UserWarning, match="sample size"):
        fit = susie_rss(z=z, R=R, L=3)
    assert fit.sigma2 == 1.0 and fit.pip.shape == z.shape
