"""TGVIS (twasflow.methods.tgvis): each update equation against a dense computation, BIC, the score test's
size and power, collinearity, options and the docs/outputs.md tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.linalg as sla
from scipy import optimize, stats

from twasflow.errors import ConfigError, InputError
from twasflow.methods import _inf, tgvis
from twasflow.methods.result import LOCI_COLUMNS, SET_COLUMNS, VARIABLE_COLUMNS
from twasflow.susie import susie_rss

from tests.synth import ar1_genotypes, gwas_z, ld_of, sparse_weights


def _ld(rng: np.random.Generator, M: int, n: int = 2000, rho: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """Sample LD of an AR(1) genotype-like matrix; returns (R, standardized X)."""
    X = ar1_genotypes(rng, M, n, rho)
    return ld_of(X), X


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(11)
    M, P = 30, 6
    R, _ = _ld(rng, M)
    B = sparse_weights(rng, M, P)
    z = gwas_z(rng, R, 0.02 * B[:, 0], 50_000)
    return rng, R, B, z


# ------------------------------------------------------------------------------------------------
# equations against dense computations


def test_joint_z_and_matrix_eq7_eq8(small):
    _, R, B, z = small
    S = tgvis.JointSystem(z, R, B)
    ups = np.linspace(-0.1, 0.1, R.shape[0])
    r = z - R @ ups
    zj = S.joint_z(r)
    P = B.shape[1]
    for j in range(P):
        b = B[:, j]
        assert zj[j] == pytest.approx(b @ r / np.sqrt(b @ R @ b), rel=1e-12)
        for k in range(P):
            bk = B[:, k]
            want = b @ R @ bk / np.sqrt(b @ R @ b) / np.sqrt(bk @ R @ bk)
            assert S.joint.R[j, k] == pytest.approx(want, rel=1e-10, abs=1e-13)
        np.testing.assert_allclose(S.joint.R[P:, j], R @ b / np.sqrt(b @ R @ b), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(zj[P:], r)
    np.testing.assert_array_equal(S.joint.R[P:, P:], R)
    assert np.array_equal(S.joint.R, S.joint.R.T)


def test_pql_upsilon_eq11(small):
    _, R, _, z = small
    E = _inf.LDEigen.of(R)
    eta = 0.3 * R[:, 3]
    for tau2 in (1e-3, 0.2, 5.0):
        ups, Rups = _inf.pql_upsilon(E, z - eta, tau2)
        want = np.linalg.solve(R + np.eye(R.shape[0]) / tau2, z - eta)
        np.testing.assert_allclose(ups, want, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(Rups, R @ want, rtol=1e-9, atol=1e-12)
        # eq. 10: the minimiser of the penalized quasi-likelihood
        Ri = np.linalg.inv(R)

        def pql(u: np.ndarray) -> float:
            d = z - eta - R @ u
            return float(d @ Ri @ d + u @ u / tau2)

        grad = optimize.approx_fprime(ups, pql, 1e-7)
        assert np.max(np.abs(grad)) < 1e-4 * max(1.0, np.max(np.abs(ups)) / tau2)


def test_reml_step_eq13_and_fixed_point(small):
    rng, R, _, _ = small
    M = R.shape[0]
    E = _inf.LDEigen.of(R)
    true_ups = rng.normal(0, np.sqrt(0.5), M)
    resid = R @ true_ups + np.linalg.cholesky(R) @ rng.standard_normal(M)
    tau2 = 0.3
    ups, _ = _inf.pql_upsilon(E, resid, tau2)
    want = (ups @ ups + np.trace(np.linalg.inv(R + np.eye(M) / tau2))) / M
    assert _inf.reml_tau2_step(E, ups, tau2) == pytest.approx(want, rel=1e-10)
    # reml_fit returns the fixed point of eq. 11 + eq. 13 ...
    t = _inf.reml_fit(E, resid, tau2_max=1e3)
    assert t > 0
    u, _ = _inf.pql_upsilon(E, resid, t)
    assert _inf.reml_tau2_step(E, u, t) == pytest.approx(t, rel=1e-8)
    # ... which maximises the marginal likelihood of resid ~ N(0, R + tau2 R^2) (dense)

    def nll(lt: float) -> float:
        C = R + np.exp(lt) * R @ R
        sign, logdet = np.linalg.slogdet(C)
        return 0.5 * (logdet + resid @ np.linalg.solve(C, resid))

    best = optimize.minimize_scalar(nll, bounds=(-12, 6), method="bounded", options={"xatol": 1e-10})
    assert np.log(t) == pytest.approx(best.x, abs=1e-4)
    # iterating eq. 11 + 13 from a start reaches the same value (slowly)
    tt = 1.0
    for _ in range(3000):
        uu, _ = _inf.pql_upsilon(E, resid, tt)
        tt = _inf.reml_tau2_step(E, uu, tt)
    assert tt == pytest.approx(t, rel=1e-3)


def test_reml_zero_when_no_excess_variance(small):
    rng, R, _, _ = small
    E = _inf.LDEigen.of(R)
    resid = 0.2 * np.linalg.cholesky(R) @ rng.standard_normal(R.shape[0])  # far below the null variance
    assert _inf.reml_fit(E, resid, tau2_max=10.0) == 0.0


def test_sigma2_alpha_eq14(small):
    _, R, _, z = small
    E = _inf.LDEigen.of(R)
    r = z - 0.5 * R[:, 2]
    assert _inf.sigma2_alpha(E, r) == pytest.approx(r @ np.linalg.solve(R, r) / R.shape[0], rel=1e-9)


def test_sigma2_alpha_singular_R_uses_column_space():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((15, 25))
    X = (X - X.mean(0)) / X.std(0)
    R = X.T @ X / 15
    E = _inf.LDEigen.of(R)
    assert E.rank == 14
    r = R @ rng.standard_normal(25)
    assert _inf.sigma2_alpha(E, r) == pytest.approx(r @ np.linalg.pinv(R, rcond=1e-10) @ r / 14, rel=1e-7)


@pytest.mark.parametrize("k_pairs,k_vars", [(0, 0), (1, 0), (0, 2), (2, 1)])
def test_score_test_eq23_25_dense(small, k_pairs, k_vars):
    _, R, B, z = small
    M = R.shape[0]
    E = _inf.LDEigen.of(R)
    free = np.flatnonzero(~np.any(B[:, :2] != 0, axis=1))[[0, 5]]  # variants outside the pairs' weights
    C = np.hstack([B[:, :k_pairs], np.eye(M)[:, free[:k_vars]]])
    st = _inf.score_test(E, z, E.U.T @ C)
    Ri = np.linalg.inv(R)
    A = R @ C
    if C.shape[1]:
        Pm = Ri - Ri @ A @ np.linalg.inv(A.T @ Ri @ A) @ A.T @ Ri
    else:
        Pm = Ri
    K = R @ R
    u = 0.5 * z @ Pm @ K @ Pm @ z
    e = 0.5 * np.trace(Pm @ K)
    h = 0.5 * np.trace(Pm @ K @ Pm @ K)
    assert st.u == pytest.approx(u, rel=1e-8)
    assert st.e == pytest.approx(e, rel=1e-8)
    assert st.h == pytest.approx(h, rel=1e-8)
    kappa, v = h / (2 * e), 2 * e * e / h
    assert st.p_satterthwaite == pytest.approx(stats.chi2.sf(u / kappa, v), rel=1e-6)
    # the exact null: 2u = sum mu_i chi2_1, mu = eigenvalues of cov(z - A theta_GLS) = R - A (A'R^-1 A)^-1 A'
    S = R - A @ np.linalg.inv(A.T @ Ri @ A) @ A.T if C.shape[1] else R
    mu = np.linalg.eigvalsh(S)
    assert np.sum(mu) == pytest.approx(2 * e, rel=1e-8) and np.sum(mu**2) == pytest.approx(2 * h, rel=1e-8)
    want = _inf.liu_sf(2 * u, *[float(np.sum(mu**k)) for k in range(1, 5)])
    assert st.p_liu == pytest.approx(want, rel=1e-6) and st.p == st.p_liu


def test_liu_sf_exact_for_equal_weights():
    for k, q in [(1, 3.84), (5, 11.07), (40, 30.0)]:
        assert _inf.liu_sf(q, k, k, k, k) == pytest.approx(stats.chi2.sf(q, k), rel=1e-10)
    # unequal weights: close to a Monte Carlo tail
    rng = np.random.default_rng(0)
    mu = np.array([3.0, 1.0, 0.5, 0.5, 0.2])
    draws = (rng.standard_normal((200_000, mu.size)) ** 2) @ mu
    q = np.quantile(draws, 0.95)
    assert _inf.liu_sf(q, *[float(np.sum(mu**k)) for k in range(1, 5)]) == pytest.approx(0.05, abs=0.004)


def test_score_test_duplicate_columns_use_pseudo_inverse(small):
    _, R, B, z = small
    E = _inf.LDEigen.of(R)
    C1 = np.hstack([B[:, :1], np.eye(R.shape[0])[:, [5]]])
    C2 = np.hstack([C1, B[:, :1], np.eye(R.shape[0])[:, [5]]])  # exact duplicates
    a, b = _inf.score_test(E, z, E.U.T @ C1), _inf.score_test(E, z, E.U.T @ C2)
    assert b.u == pytest.approx(a.u, rel=1e-8) and b.p == pytest.approx(a.p, rel=1e-7)


def test_pratt_eq16_21_dense():
    rng = np.random.default_rng(5)
    M, P, n = 40, 8, 100_000
    R, _ = _ld(rng, M)
    B = sparse_weights(rng, M, P)
    beta = 0.04 * B[:, 1] + 0.01 * np.eye(M)[20] + rng.normal(0, 0.002, M)
    z = gwas_z(rng, R, beta, n)
    res = tgvis.fit(z, R, n, B, L_grid=[3], inf_mode="reml")
    v = res.variables
    a = z / np.sqrt(n - 1)
    Ri = np.linalg.inv(R)
    aRa = a @ Ri @ a
    est = v["estimate"].to_numpy()
    for j in range(P):
        b = B[:, j]
        delta = b @ a / np.sqrt(b @ R @ b) / np.sqrt(aRa)  # eq. 16
        tt = est[j] * np.sqrt(b @ R @ b) / np.sqrt(aRa)  # eq. 17
        assert v["pratt"].iloc[j] == pytest.approx(tt * delta, rel=1e-6, abs=1e-12)  # eq. 18
        assert v["pratt"].iloc[j] == pytest.approx(est[j] * b @ a / aRa, rel=1e-6, abs=1e-12)
    for m in range(M):
        assert v["pratt"].iloc[P + m] == pytest.approx(est[P + m] * a[m] / aRa, rel=1e-6, abs=1e-12)
    # eq. 19: CS-Pratt is the sum over members
    for _, s in res.sets.iterrows():
        members = v["cs"] == s["cs"]
        assert s["cs_pratt"] == pytest.approx(v.loc[members, "pratt"].sum(), rel=1e-12)
    # eq. 20-21 with R^{1/2}, R^{-1/2}
    Rh = np.real(sla.sqrtm(R))
    at = np.linalg.solve(Rh, a)
    ups_hat = res.upsilon
    split = res.pratt_split
    assert split["pairs"] == pytest.approx((Rh @ B @ est[:P]) @ at / (at @ at), rel=1e-6, abs=1e-12)
    assert split["variants"] == pytest.approx((Rh @ est[P:]) @ at / (at @ at), rel=1e-6, abs=1e-12)
    assert split["inf"] == pytest.approx((Rh @ ups_hat) @ at / (at @ at), rel=1e-6, abs=1e-12)


# ------------------------------------------------------------------------------------------------
# model selection, score test size and power


def _clean_locus(seed: int, n_effects: int, M: int = 80, P: int = 12, n: float = 200_000):
    """In-sample LD, no infinitesimal effects, n_effects well-separated strong signals (pairs + variants)."""
    rng = np.random.default_rng(seed)
    R, _ = _ld(rng, M, rho=0.6)
    B = np.zeros((M, P))
    for j in range(P):
        B[(7 * j + 3) % M, j] = rng.normal(0, 0.3)
        B[(7 * j + 40) % M, j] = rng.normal(0, 0.3)
    beta = np.zeros(M)
    pair_sig = min(n_effects, 2)
    for j in range(pair_sig):
        beta += 0.03 / np.sqrt(B[:, j] @ R @ B[:, j]) * B[:, j] * (1 if j == 0 else -1)
    for k in range(n_effects - pair_sig):
        beta[20 + 25 * k] += 0.03 * (-1) ** k
    return gwas_z(rng, R, beta, n), R, n, B


@pytest.mark.parametrize("n_effects", [3, 4])
def test_bic_picks_planted_number_of_effects(n_effects):
    hits = 0
    for seed in range(5):
        z, R, n, B = _clean_locus(100 + seed, n_effects)
        res = tgvis.fit(z, R, n, B, inf_mode="none")
        hits += res.L == n_effects
        # the chosen L is the smallest within SuSiE's precision (2 tol / M) of the minimum BIC
        assert res.bic <= min(res.bic_grid.values()) + 2e-3 / R.shape[0]
        assert all(res.bic_grid[L] > res.bic + 2e-3 / R.shape[0] for L in res.bic_grid if L < res.L)
    assert hits >= 4  # BIC picks the planted L in at least 4 of 5 clean loci


def test_score_test_size_under_null():
    """Rejection rate <= 0.05 over 400 null loci (sparse effects, no infinitesimal effects, in-sample LD)."""
    rng = np.random.default_rng(2024)
    M = 60
    R, _ = _ld(rng, M, rho=0.5)
    E = _inf.LDEigen.of(R)
    Lc = np.linalg.cholesky(R)
    C = np.eye(M)[:, [10, 35]]
    UtC = E.U.T @ C
    rej = 0
    n_loci = 400
    for _ in range(n_loci):
        z = R @ (C @ np.array([6.0, -5.0])) + Lc @ rng.standard_normal(M)
        rej += _inf.score_test(E, z, UtC).p < 0.05
    assert rej / n_loci <= 0.05


def test_score_test_size_full_fit():
    """Through the whole fit (A = the credible-set members SuSiE selected): size <= 0.05 over 200 null loci."""
    rng = np.random.default_rng(7)
    M, P, n = 40, 5, 100_000
    R, _ = _ld(rng, M, rho=0.5)
    B = sparse_weights(rng, M, P, kmax=2)
    Lc = np.linalg.cholesky(R)
    rej = 0
    n_loci = 200
    for _ in range(n_loci):
        beta = 0.025 / np.sqrt(B[:, 0] @ R @ B[:, 0]) * B[:, 0]
        z = np.sqrt(n) * R @ beta + Lc @ rng.standard_normal(M)
        res = tgvis.fit(z, R, n, B, L_grid=[2], inf_mode="reml", max_iter=2)
        rej += res.inf_test_p < 0.05
    assert rej / n_loci <= 0.05


def test_score_test_power_with_infinitesimal_effects():
    rng = np.random.default_rng(99)
    M = 100
    R, _ = _ld(rng, M, rho=0.5)
    E = _inf.LDEigen.of(R)
    Lc = np.linalg.cholesky(R)
    UtC = E.U.T @ np.eye(M)[:, [10]]
    rej = 0
    for _ in range(100):
        # z-scale per-variant variance 1 (e.g. n = 500,000 and 2e-6 of the trait per variant)
        ups = rng.normal(0, 1.0, M)
        z = R @ (6.0 * np.eye(M)[10] + ups) + Lc @ rng.standard_normal(M)
        rej += _inf.score_test(E, z, UtC).p < 0.05
    assert rej / 100 >= 0.8


def test_reml_mode_recovers_infinitesimal_variance():
    rng = np.random.default_rng(4)
    M, P, n = 150, 10, 200_000
    R, _ = _ld(rng, M, rho=0.5)
    B = sparse_weights(rng, M, P)
    sig2 = 2e-6  # per-variant variance, standardized scale
    est = []
    for _ in range(6):
        beta = 0.03 / np.sqrt(B[:, 0] @ R @ B[:, 0]) * B[:, 0] + rng.normal(0, np.sqrt(sig2), M)
        z = gwas_z(rng, R, beta, n)
        res = tgvis.fit(z, R, n, B, L_grid=[2, 3], inf_mode="reml")
        assert res.inf_test_p < 0.05
        est.append(res.sigma2_inf)
    assert np.median(est) == pytest.approx(sig2, rel=0.5)


# ------------------------------------------------------------------------------------------------
# collinearity, modes, options, tables


def test_exact_collinearity_shares_a_credible_set():
    rng = np.random.default_rng(8)
    M, n = 50, 100_000
    R, _ = _ld(rng, M, rho=0.5)
    B = sparse_weights(rng, M, 6)
    B[:, 0] = 0.0
    B[12, 0] = 0.4  # pair 1's only xQTL is variant 13: the same column as the variant
    B[:, 2] = B[:, 1] * 1.7  # pair 3 = pair 2 in another tissue (same weights up to scale)
    beta = np.zeros(M)
    beta[12] = 0.03
    beta += 0.03 * B[:, 1] / np.sqrt(B[:, 1] @ R @ B[:, 1])
    z = gwas_z(rng, R, beta, n)
    res = tgvis.fit(z, R, n, B, L_grid=[2, 3], inf_mode="reml")
    v = res.variables.set_index("name")
    assert v.loc["pair1", "cs"] == v.loc["variant13", "cs"] and pd.notna(v.loc["pair1", "cs"])
    # identical columns: the data cannot tell them apart, so their PIPs keep the prior ratio (1/P : 1/M)
    assert v.loc["pair1", "pip"] / v.loc["variant13", "pip"] == pytest.approx(M / 6, rel=1e-6)
    assert v.loc["pair2", "cs"] == v.loc["pair3", "cs"] and pd.notna(v.loc["pair2", "cs"])
    assert v.loc["pair2", "pip"] == pytest.approx(v.loc["pair3", "pip"], rel=1e-6)
    assert v.loc["pair2", "causal"] and v.loc["pair3", "causal"]
    assert len(res.sets) == 2
    # ... and are reported as one collinear group per set (labelled by the group's highest-PIP member)
    assert v.loc["pair1", "collinear_group"] == v.loc["variant13", "collinear_group"] == "pair1"
    assert v.loc["pair2", "collinear_group"] == v.loc["pair3", "collinear_group"] in ("pair2", "pair3")
    assert list(res.sets["n_groups"]) == [1, 1]
    assert v.loc[v["cs"].isna(), "collinear_group"].isna().all()


def test_collinear_groups_single_linkage_and_threshold():
    from twasflow.methods.result import collinear_groups

    c = np.eye(5)
    c[0, 2] = c[2, 0] = 0.995  # 0 ~ 2
    c[2, 4] = c[4, 2] = -0.999  # 2 ~ 4 (sign does not matter: callers pass |r|)
    c[1, 3] = c[3, 1] = 0.98  # below 0.99: distinguishable
    labels = collinear_groups(np.abs(c))
    assert list(labels) == [0, 1, 0, 2, 0]
    assert list(collinear_groups(np.abs(c), r_min=0.97)) == [0, 1, 0, 1, 0]
    assert list(collinear_groups(np.ones((1, 1)))) == [0]


def test_pairs_without_weights_are_reported_not_modelled(small):
    _, R, B, z = small
    B2 = B.copy()
    B2[:, 3] = 0.0
    res = tgvis.fit(z, R, 50_000, B2, L_grid=[2])
    row = res.variables.iloc[3]
    assert np.isnan(row["pip"]) and not row["causal"] and np.isnan(res.theta[3])


def test_mode_none_is_joint_susie(small):
    _, R, B, z = small
    n = 50_000
    res = tgvis.fit(z, R, n, B, L_grid=[3], inf_mode="none")
    S = tgvis.JointSystem(z, R, B)
    P, M = B.shape[1], R.shape[0]
    pw = np.concatenate([np.full(P, 0.5 / P), np.full(M, 0.5 / M)])
    direct = susie_rss(z=S.joint_z(z), R=S.joint.R, n=n, L=3, prior_weights=pw, estimate_prior_method="EM")
    np.testing.assert_allclose(res.variables["pip"].to_numpy(), direct.pip, atol=1e-10)
    assert res.sigma2_inf == 0.0 and np.isnan(res.inf_test_p) and res.locus["niter"] == 1


def test_fixed_mode_uses_the_given_variance(small):
    _, R, B, z = small
    n = 50_000
    res = tgvis.fit(z, R, n, B, L_grid=[2], inf_mode="fixed", inf_variance=1e-5)
    assert res.sigma2_inf == pytest.approx(1e-5)
    assert np.any(res.upsilon != 0)


def test_prior_share_parameter(small):
    _, R, B, z = small
    a = tgvis.fit(z, R, 50_000, B, L_grid=[2], inf_mode="none", pair_prior_share="auto")
    b = tgvis.fit(z, R, 50_000, B, L_grid=[2], inf_mode="none", pair_prior_share=0.5)
    c = tgvis.fit(z, R, 50_000, B, L_grid=[2], inf_mode="none", pair_prior_share=0.9)
    np.testing.assert_allclose(a.variables["pip"], b.variables["pip"], atol=1e-12)
    P = B.shape[1]
    assert c.variables["pip"].iloc[:P].sum() > a.variables["pip"].iloc[:P].sum()


@pytest.mark.parametrize("opts", [{"bogus": 1}, {"inf_mode": "fast"}, {"inf_mode": "fixed"}, {"score_null": "x"},
                                  {"pair_prior_share": 1.5}, {"pair_prior_share": "half"}, {"L_grid": []},
                                  {"cs_pratt_min": 2}])
def test_bad_options_raise_config_error(small, opts):
    _, R, B, z = small
    with pytest.raises(ConfigError):
        tgvis.fit(z, R, 50_000, B, **opts)


def test_bad_inputs_raise_input_error(small):
    _, R, B, z = small
    with pytest.raises(InputError, match="z"):
        tgvis.fit(np.r_[z[:-1], np.nan], R, 50_000, B)
    with pytest.raises(InputError, match="R"):
        tgvis.fit(z, R[:-1, :-1], 50_000, B)
    with pytest.raises(InputError, match="B"):
        tgvis.fit(z, R, 50_000, B[:-1])
    with pytest.raises(InputError, match="pair_names"):
        tgvis.fit(z, R, 50_000, B, pair_names=["a"])


def test_permuting_variants_and_pairs_permutes_outputs(small):
    _, R, B, z = small
    n = 50_000
    res = tgvis.fit(z, R, n, B, L_grid=[2, 3])
    rng = np.random.default_rng(1)
    pv = rng.permutation(R.shape[0])
    pp = rng.permutation(B.shape[1])
    res2 = tgvis.fit(z[pv], R[np.ix_(pv, pv)], n, B[np.ix_(pv, pp)],
                     pair_names=[f"pair{j + 1}" for j in pp], variant_names=[f"variant{m + 1}" for m in pv])
    a = res.variables.set_index("name").sort_index()
    b = res2.variables.set_index("name").sort_index()
    for col in ["pip", "estimate", "pratt", "cs_pratt"]:
        np.testing.assert_allclose(a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float), rtol=1e-5,
                                   atol=1e-7)
    assert res.L == res2.L


def test_tables_follow_spec(small):
    _, R, B, z = small
    res = tgvis.fit(z, R, 50_000, B, L_grid=[2])
    v, s, loc = res.tables("T", "T.1_1_2")
    assert list(v.columns[: len(VARIABLE_COLUMNS)]) == VARIABLE_COLUMNS
    assert list(s.columns[: len(SET_COLUMNS)]) == SET_COLUMNS
    assert list(loc.columns) == LOCI_COLUMNS
    assert str(v["cs"].dtype) == "Int64" and v["causal"].dtype == bool
    P = B.shape[1]
    assert (v["type"].iloc[:P] == "pair").all() and v["variant_id"].iloc[:P].isna().all()
    assert v["pair_id"].iloc[P:].isna().all() and (v["variant_id"].iloc[P:] == v["variable_id"].iloc[P:]).all()
    assert loc["status"].iloc[0] == "ok" and loc["L"].iloc[0] == 2
    assert len(s) == int(v["cs"].nunique())
    # extras after the docs/outputs.md columns: each set's number of distinguishable member groups, each member's group
    assert str(s["n_groups"].dtype) == "Int64" and (s["n_groups"] >= 1).all() and (s["n_groups"] <= s["size"]).all()
    assert "collinear_group" in v.columns[len(VARIABLE_COLUMNS):]


def test_fit_bundle_carries_pair_metadata(small):
    from twasflow.locus import LocusBundle

    _, R, B, z = small
    M, P = R.shape[0], B.shape[1]
    pairs = pd.DataFrame({"pair_id": [f"g{j}|Liver|eQTL" for j in range(P)], "gene_id": [f"ENSG{j}" for j in range(P)],
                          "gene_name": [f"G{j}" for j in range(P)], "tissue": "Liver", "qtl_type": "eQTL",
                          "n_tested": M})
    bundle = LocusBundle("T.1_1_2", np.array([f"1:{i}:A:G" for i in range(M)]), np.arange(M), z,
                         np.array(50_000.0), R, np.full(M, 0.3), np.zeros((M, P)), np.full(P, 300.0), pairs)
    kept = [1, 4]
    res = tgvis.fit_bundle(bundle, B[:, kept], list(pairs["pair_id"].iloc[kept]), trait="T",
                           options={"L_grid": [2], "inf_mode": "reml", "cs_pratt_min": 0.15,
                                    "pair_prior_share": "auto", "inf_variance": None})
    v, _, loc = res.tables("T", bundle.locus_id)
    assert list(v["gene_id"].iloc[:2]) == ["ENSG1", "ENSG4"] and v["gene_id"].iloc[2:].isna().all()
    assert list(v["tissue"].iloc[:2]) == ["Liver", "Liver"]
    assert loc["P"].iloc[0] == 2 and loc["M"].iloc[0] == M
    with pytest.raises(InputError, match="pair"):
        tgvis.fit_bundle(bundle, B[:, :1], ["nope"], trait="T")


def test_compare_to_truth():
    from twasflow.methods.result import compare_to_truth

    v = pd.DataFrame({
        "trait": "T", "locus_id": "L1", "method": "tgvis",
        "variable_id": ["g1|Liver|eQTL", "g1|Blood|eQTL", "g2|Liver|eQTL", "1:5:A:G", "1:9:C:T"],
        "type": ["pair", "pair", "pair", "variant", "variant"],
        "causal": [True, True, False, False, True], "pip": [0.5, 0.5, 0.01, 0.02, 0.9],
        "cs": pd.array([1, 1, None, None, 2], dtype="Int64"), "cs_pratt": [0.4, 0.4, np.nan, np.nan, 0.2]})
    truth = pd.DataFrame({"trait": "T", "kind": ["pair", "pair", "variant", "infinitesimal"],
                          "pair_id": ["g1|Liver|eQTL", "g9|Liver|eQTL", None, None],
                          "variant_id": [None, None, "1:9:C:T", None]})
    out = compare_to_truth(v, truth)
    got = dict(zip(out["variable_id"], out["outcome"]))
    assert got == {"g1|Liver|eQTL": "TP", "g9|Liver|eQTL": "FN", "1:9:C:T": "TP", "g1|Blood|eQTL": "FP"}
    assert out.loc[out["variable_id"] == "g9|Liver|eQTL", "locus_id"].isna().all()
    assert not out["collinear_with_planted"].any()  # no collinear_group column: nothing flagged
    # the false Blood pair has the planted Liver pair's weights (one collinear group): flagged, still an FP
    v["collinear_group"] = ["g1|Liver|eQTL", "g1|Liver|eQTL", None, None, None]
    out = compare_to_truth(v, truth).set_index("variable_id")
    assert out.loc["g1|Blood|eQTL", "outcome"] == "FP" and out.loc["g1|Blood|eQTL", "collinear_with_planted"]
    assert not out.drop(index="g1|Blood|eQTL")["collinear_with_planted"].any()
    # a group label shared with a planted variable at another locus does not count
    v["locus_id"] = ["L1", "L2", "L1", "L1", "L1"]
    assert not compare_to_truth(v, truth)["collinear_with_planted"].any()
