"""The factored joint system (twasflow.methods.joint) against the dense (P + M)^2 matrix built directly.

Tolerances: products and blocks agree to rounding (1e-12 relative); SuSiE fits on the operator and on the
dense matrix follow the same IBSS and agree to 1e-8 (the issue's bound; measured ~1e-13).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from twasflow.methods import ctwas, joint, tgfm, tgvis
from twasflow.methods._ctwas_susie import susie_rss_fixed_v
from twasflow.methods._tgfm_draws import JointBuilder, draw_effects, posterior_from
from twasflow.susie import susie_rss

from tests.synth import diffuse_effects, sparse_weights


def _ld(rng, M, n=400):
    # AR(1)-like haplotype blocks: realistic, full-rank LD
    G = np.cumsum(rng.standard_normal((n, M)) * 0.6, axis=1) + rng.standard_normal((n, M))
    G -= G.mean(axis=0)
    R = np.corrcoef(G, rowvar=False)
    return 0.5 * (R + R.T)


def _dense(z, R, B):
    """The joint z and matrix straight from the definition (eq. 7-8), pairs with B'RB > 0 only."""
    d = np.array([B[:, j] @ R @ B[:, j] for j in range(B.shape[1])])
    act = d > 1e-12 * d.max()
    W = B[:, act] / np.sqrt(d[act])
    Pa = W.shape[1]
    J = np.block([[W.T @ R @ W, W.T @ R], [R @ W, R]])
    J[np.arange(Pa), np.arange(Pa)] = 1.0
    return np.concatenate([W.T @ z, z]), 0.5 * (J + J.T), act


@pytest.fixture(scope="module")
def locus():
    rng = np.random.default_rng(5)
    M, P = 60, 25
    R = _ld(rng, M)
    B = sparse_weights(rng, M, P, kmax=3, sd=0.4)
    B[:, 7] = 0.0  # predicts nothing
    beta = 0.03 * B[:, 0] + 0.02 * B[:, 3]
    beta[40] += 0.02
    z = np.sqrt(20_000) * R @ beta + np.linalg.cholesky(R + 1e-9 * np.eye(M)) @ rng.standard_normal(M)
    return z, R, B


@pytest.mark.parametrize("fmt", ["dense", "sparse"])
def test_operator_is_the_dense_matrix(locus, fmt, monkeypatch):
    z, R, B = locus
    zj, J, act = _dense(z, R, B)
    if fmt == "dense":  # weights held as a dense array whatever their density
        monkeypatch.setattr(joint, "SPARSE_DENSITY", -1.0)
    S = joint.JointSystem(z, R, sp.csc_matrix(B) if fmt == "sparse" else B)
    np.testing.assert_array_equal(S.active, act)
    assert S.joint.sparse == (fmt == "sparse")
    np.testing.assert_allclose(S.joint_z(z), zj, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(S.joint.dense(), J, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(S.joint.diag(), np.diag(J))
    rng = np.random.default_rng(1)
    for x in (rng.standard_normal(J.shape[0]), np.where(rng.random(J.shape[0]) < 0.05, 1.0, 0.0)):
        np.testing.assert_allclose(S.joint.matvec(x), J @ x, rtol=1e-11, atol=1e-11)
    idx = np.array([0, 3, 5, S.Pa + 2, S.Pa + 40])
    sub = J[np.ix_(idx, idx)]
    s = 1.0 / np.sqrt(np.diag(sub))
    np.testing.assert_allclose(S.joint.corr(idx), sub * s[:, None] * s[None, :], atol=1e-12)
    np.testing.assert_allclose(S.eta(np.arange(J.shape[0], dtype=float), 2.0),
                               2.0 * np.hstack([J[S.Pa:, :S.Pa], R]) @ np.arange(J.shape[0]), rtol=1e-11)


def test_susie_on_operator_equals_dense(locus):
    z, R, B = locus
    zj, J, _ = _dense(z, R, B)
    S = joint.JointSystem(z, R, B)
    p = J.shape[0]
    pw = np.concatenate([np.full(S.Pa, 0.5 / S.Pa), np.full(R.shape[0], 0.5 / R.shape[0])])
    for method in ("EM", "optim"):
        a = susie_rss(z=zj, R=J, n=20_000, L=5, prior_weights=pw, estimate_prior_method=method)
        b = susie_rss(z=S.joint_z(z), R=S.joint, n=20_000, L=5, prior_weights=pw, estimate_prior_method=method)
        assert a.niter == b.niter
        for name in ("alpha", "mu", "mu2", "V", "pip", "elbo"):
            np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-8, atol=1e-8, err_msg=name)
        assert [tuple(s.variables) for s in a.sets] == [tuple(s.variables) for s in b.sets]
        for sa, sb in zip(a.sets, b.sets):
            assert sb.purity_min == pytest.approx(sa.purity_min, abs=1e-10)
    # cTWAS's fixed-variance SuSiE
    V = np.full(p, 30.0)
    pwc = np.full(p, 0.01)
    a = susie_rss_fixed_v(zj, J, V, pwc, null_weight=0.5, L=5)
    b = susie_rss_fixed_v(S.joint_z(z), S.joint, V, pwc, null_weight=0.5, L=5)
    for name in ("alpha", "mu", "pip", "elbo"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-8, atol=1e-8, err_msg=name)


def test_methods_match_fits_on_the_dense_matrix(locus):
    z, R, B = locus
    n = 20_000
    zj, J, act = _dense(z, R, B)
    Pa, M = int(act.sum()), R.shape[0]
    # TGVIS without infinitesimal effects is one joint SuSiE fit
    res = tgvis.fit(z, R, n, B, L_grid=[3], inf_mode="none")
    pw = np.concatenate([np.full(Pa, 0.5 / Pa), np.full(M, 0.5 / M)])
    direct = susie_rss(z=zj, R=J, n=n, L=3, prior_weights=pw, estimate_prior_method="EM")
    pip = res.variables["pip"].to_numpy()
    np.testing.assert_allclose(pip[np.r_[np.flatnonzero(act), B.shape[1] + np.arange(M)]], direct.pip, atol=1e-8)
    # cTWAS without parameters: prior 1/p, variance 50, cTWAS null weight
    c = ctwas.fit(z, R, n, B, ["t|eqtl"] * B.shape[1], None)
    p = Pa + M
    pi = np.full(p, 1.0 / p)
    f = susie_rss_fixed_v(zj, J, np.full(p, 50.0), pi / (1 - pi), null_weight=0.5, L=5, min_abs_corr=0.1)
    got = c.variables["pip"].to_numpy()[np.r_[np.flatnonzero(act), B.shape[1] + np.arange(M)]]
    np.testing.assert_allclose(got, f.pip, atol=1e-8)


def test_tgfm_draw_system_equals_dense(locus):
    z, R, B = locus
    M, P = R.shape[0], B.shape[1]
    eff = diffuse_effects(3, M, P, 0.3)
    post = posterior_from(eff, M, P)
    pairs = np.arange(P)
    jb = JointBuilder(z, R, post, pairs)
    draws = draw_effects(post, [1], 3)
    for d in range(3):
        zj, J, active, s = jb.draw_system(draws, d)
        Wt = jb.weights_t(draws.idx[d], draws.size[d]).toarray()
        dd = np.einsum("pm,pm->p", Wt, Wt @ R)
        np.testing.assert_allclose(s[active], np.sqrt(dd[active]), rtol=1e-12)
        W = (Wt[active] / s[active, None]).T
        Jd = np.eye(P + M)
        a = np.flatnonzero(active)
        Jd[np.ix_(a, a)] = W.T @ R @ W
        Jd[np.ix_(P + np.arange(M), a)] = R @ W
        Jd[np.ix_(a, P + np.arange(M))] = (R @ W).T
        Jd[P:, P:] = R
        Jd[a, a] = 1.0
        np.testing.assert_allclose(J.dense(), Jd, rtol=1e-12, atol=1e-13)
        pw = np.where(np.r_[active, np.ones(M, bool)], 1.0, 0.0)
        fa = susie_rss(z=zj, R=Jd, n=20_000, L=4, prior_weights=pw, estimate_prior_method="EM")
        fb = susie_rss(z=zj, R=J, n=20_000, L=4, prior_weights=pw, estimate_prior_method="EM")
        np.testing.assert_allclose(fb.pip, fa.pip, atol=1e-8)
        np.testing.assert_allclose(fb.alpha, fa.alpha, atol=1e-8)
    # the whole TGFM fit is unchanged by the weights' row order (draws are keyed by pair name)
    r1 = tgfm.fit(z, R, 20_000, eff, n_draws=5, L=4)
    assert np.all(np.isfinite(r1.variables["pip"].to_numpy()[:P][post.modelled]))


@pytest.mark.parametrize("method", ["EM", "simple"])
def test_tgfm_batched_draws_equal_one_at_a_time(locus, method, monkeypatch):
    """All draws in lockstep (twasflow.methods._tgfm_ibss) against susie_rss draw by draw, with the
    variant-only initialization forced (pip_init_threshold 0)."""
    z, R, B = locus
    eff = diffuse_effects(8, R.shape[0], B.shape[1], 0.5)
    kw = dict(n_draws=12, L=5, estimate_prior_method=method, pip_init_threshold=0.0)
    a = tgfm.fit(z, R, 20_000, eff, **kw)
    monkeypatch.setattr(tgfm, "BATCH_METHODS", ())
    b = tgfm.fit(z, R, 20_000, eff, **kw)
    np.testing.assert_allclose(a.draw_pip, b.draw_pip, atol=1e-8)
    np.testing.assert_array_equal(a.variant_init, b.variant_init)
    for col in ("pip", "posterior_mean", "posterior_sd", "pip_draw_sd"):
        np.testing.assert_allclose(a.variables[col].to_numpy(float), b.variables[col].to_numpy(float),
                                   atol=1e-8, err_msg=col)
    assert a.locus["niter"] == b.locus["niter"] and a.warnings == b.warnings
