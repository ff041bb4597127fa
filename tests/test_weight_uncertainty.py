"""Stage-1 weight uncertainty in the joint system (``twasflow.methods._weight_uncertainty``, issue 22).

Independent computations:

* ``t_j = tr(R Sigma_j)`` against the dense posterior covariance built effect by effect (paper and shared
  stage 1) and against Monte Carlo draws of the weight vector from the SuSiE posterior (mean B, mean w'Rw);
* the joint system with ``weight_var`` against the dense standardized expected Gram
  ``[[G, A'R], [RA, R]]``, ``G = corr(B'RB + diag(t))``, ``A = B / sqrt(d + t)`` (entries and products);
* zero variances give the fixed-weights fit (to rounding, 1e-10); the workflow's LocusWeights give the same t.
"""

from __future__ import annotations

import numpy as np
import pytest

from twasflow.errors import ConfigError, InputError
from twasflow.locus_weights import LocusWeights
from twasflow.methods import ctwas, tgvis
from twasflow.methods._weight_uncertainty import fits_weight_variance, pair_weight_variance, weight_var_for
from twasflow.methods.joint import JointSystem
from twasflow.simulate.paper import tgvis_paper
from twasflow.weights import stage1
from twasflow.weights_shared import stage1_shared


@pytest.fixture(scope="module")
def locus():
    rep = tgvis_paper("none", 200, seed=3, M=120, n_genes=4, n_ref=500, n_gwas_ld=500)
    B, fits = stage1(rep.xqtl_z, rep.R, rep.xqtl_n)
    return rep, B, fits


def _dense_t(fits, R: np.ndarray) -> np.ndarray:
    """tr(R_SS Sigma_SS) with Sigma_j = sum_l diag(alpha mu2) - (alpha mu)(alpha mu)' built densely."""
    eff, csd = fits.effects(), np.asarray(fits.csd)
    P = fits.kept.shape[1]
    Sig = np.zeros((P, R.shape[0], R.shape[0]))
    for k, j in enumerate(eff["effect_pair"]):
        a = eff["alpha"][k] * eff["mu"][k] / csd
        Sig[j] += np.diag(eff["alpha"][k] * eff["mu2"][k] / csd**2) - np.outer(a, a)
    out = np.zeros(P)
    for j in range(P):
        S = np.flatnonzero(fits.kept[:, j])
        out[j] = np.trace(R[np.ix_(S, S)] @ Sig[j][np.ix_(S, S)])
    return out


def test_variance_equals_dense_covariance(locus) -> None:
    rep, B, fits = locus
    t = fits_weight_variance(fits, rep.R)
    np.testing.assert_allclose(t, np.maximum(_dense_t(fits, rep.R), 0.0), rtol=1e-10, atol=1e-15)
    assert np.all(t >= 0) and np.any(t > 0)


def test_shared_stage1_variance_equals_dense_covariance(locus) -> None:
    rep, _, _ = locus
    B, fits = stage1_shared(rep.xqtl_z, rep.R, rep.xqtl_n, [p.split("_")[0] for p in rep.pair_names])
    np.testing.assert_allclose(fits_weight_variance(fits, rep.R), np.maximum(_dense_t(fits, rep.R), 0.0),
                               rtol=1e-10, atol=1e-15)


def test_expected_gram_by_monte_carlo(locus) -> None:
    """Draw each kept weight vector from the SuSiE posterior (effect l: variant m w.p. alpha_lm, size
    N(mu, mu2 - mu^2)); the draws' mean is B and their mean w'Rw is B'RB + t (within 5 Monte Carlo SE)."""
    rep, B, fits = locus
    R = rep.R
    t = fits_weight_variance(fits, R)
    eff = fits.effects()
    rng = np.random.default_rng(11)
    n_draw = 20_000
    for j in np.argsort(-t)[:4]:  # the most uncertain pairs
        S = fits.kept[:, j]
        W = np.zeros((n_draw, R.shape[0]))
        for k in np.flatnonzero(eff["effect_pair"] == j):
            al, mu, mu2 = eff["alpha"][k], eff["mu"][k], eff["mu2"][k]
            pick = rng.choice(al.size + 1, size=n_draw, p=np.append(al, max(1.0 - al.sum(), 0.0)) / max(al.sum(), 1.0))
            on = pick < al.size
            m = pick[on]
            W[np.flatnonzero(on), m] += mu[m] + np.sqrt(np.maximum(mu2[m] - mu[m] ** 2, 0.0)) * rng.standard_normal(m.size)
        W[:, ~S] = 0.0
        q = np.einsum("dm,dm->d", W, W @ R)
        se_mean = W.std(axis=0) / np.sqrt(n_draw)
        assert np.all(np.abs(W.mean(axis=0) - B[:, j]) <= 5 * se_mean + 1e-12)
        assert abs(q.mean() - (B[:, j] @ R @ B[:, j] + t[j])) <= 5 * q.std() / np.sqrt(n_draw)


def test_joint_system_is_the_dense_expected_gram(locus) -> None:
    rep, B, fits = locus
    R = rep.R
    t = fits_weight_variance(fits, R)
    S = JointSystem(rep.z, R, B, weight_var=t)
    act = S.active
    d = np.einsum("mp,mp->p", B, R @ B)
    G = B[:, act].T @ R @ B[:, act] + np.diag(t[act])
    g = np.sqrt(np.diag(G))
    A = B[:, act] / g
    J = np.block([[G / np.outer(g, g), A.T @ R], [R @ A, R]])
    np.testing.assert_allclose(S.joint.dense(), J, rtol=0, atol=1e-13)
    x = np.random.default_rng(2).standard_normal(J.shape[0])
    np.testing.assert_allclose(S.joint.matvec(x), J @ x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(S.sd, np.sqrt(d[act] + t[act]), rtol=1e-14)
    np.testing.assert_allclose(S.joint_z(rep.z)[: act.sum()], A.T @ rep.z, rtol=1e-12)


def test_zero_variance_is_the_fixed_fit(locus) -> None:
    rep, B, _ = locus
    zero = np.zeros(B.shape[1])
    a = tgvis.fit(rep.z, rep.R, rep.n_gwas, B, L_grid=(2, 3))
    b = tgvis.fit(rep.z, rep.R, rep.n_gwas, B, L_grid=(2, 3), weight_var=zero)
    cols = ["pip", "estimate", "posterior_mean", "posterior_sd"]
    # equal up to rounding (the rows are rescaled by exactly 1.0 through a sparse product)
    np.testing.assert_allclose(b.variables[cols].to_numpy(float), a.variables[cols].to_numpy(float), rtol=1e-10,
                               atol=1e-14)
    groups = ["T1|eQTL"] * B.shape[1]
    pri = {"group_prior": {"T1|eQTL": 0.05, "SNP": 0.01}, "group_prior_var": {"T1|eQTL": 50.0, "SNP": 50.0}}
    c = ctwas.fit(rep.z, rep.R, rep.n_gwas, B, groups, pri)
    e = ctwas.fit(rep.z, rep.R, rep.n_gwas, B, groups, pri, weight_var=zero)
    np.testing.assert_allclose(e.variables["pip"].to_numpy(float), c.variables["pip"].to_numpy(float), rtol=1e-10,
                               atol=1e-14)


def test_locus_weights_give_the_same_variance(locus) -> None:
    rep, B, fits = locus
    lw = LocusWeights(B=B, pair_ids=np.asarray(rep.pair_names), kept=fits.kept, pair_status=fits.status.astype(str),
                      pip=fits.pip, **{k: v for k, v in fits.effects().items()})
    np.testing.assert_allclose(weight_var_for("expected_gram", lw, rep.R), fits_weight_variance(fits, rep.R),
                               rtol=1e-14)
    assert weight_var_for("none", lw, rep.R) is None
    with pytest.raises(ConfigError):
        weight_var_for("sampled", lw, rep.R)


def test_bad_inputs(locus) -> None:
    rep, B, fits = locus
    with pytest.raises(InputError):
        JointSystem(rep.z, rep.R, B, weight_var=-np.ones(B.shape[1]))
    with pytest.raises(InputError):
        JointSystem(rep.z, rep.R, B, weight_var=np.ones(B.shape[1] + 1))
    eff = fits.effects()
    with pytest.raises(InputError):
        pair_weight_variance({**eff, "alpha": eff["alpha"][:, :-1]}, fits.kept, rep.R)


def test_registry_method_reads_the_config_option(locus) -> None:
    """The workflow's path: TGVIS from the registry with ``weight_uncertainty: expected_gram`` on a bundle and its
    weights file equals ``fit`` with the weights' variances; ``none`` equals the fixed fit."""
    import pandas as pd

    from twasflow.locus import LocusBundle
    from twasflow.methods.registry import get_method

    rep, B, fits = locus
    M, P = B.shape
    ids = np.asarray([f"{p}|eQTL" for p in rep.pair_names])
    pairs = pd.DataFrame({"pair_id": ids, "gene_id": [p.split("_")[0] for p in rep.pair_names],
                          "gene_name": [p.split("_")[0] for p in rep.pair_names],
                          "tissue": [p.split("_")[1] for p in rep.pair_names], "qtl_type": "eQTL", "n_tested": M,
                          "source": "sumstats", "n_model": M})
    bundle = LocusBundle("T.1_1_2", np.array([f"1:{i + 1}:A:G" for i in range(M)]), np.arange(1, M + 1), rep.z,
                         np.array(rep.n_gwas), rep.R, np.full(M, 0.3), rep.xqtl_z, rep.xqtl_n, pairs)
    lw = LocusWeights(B=B, pair_ids=ids, kept=fits.kept, pair_status=fits.status.astype(str), pip=fits.pip,
                      **fits.effects())
    for mode, wv in (("expected_gram", fits_weight_variance(fits, rep.R)), ("none", None)):
        got = get_method("tgvis").prepare("T", {"L_grid": [2], "weight_uncertainty": mode}, {}, seed=1
                                          ).fit_locus(bundle, lw)
        want = tgvis.fit(rep.z, rep.R, rep.n_gwas, B, pair_names=list(ids), L_grid=[2], weight_var=wv)
        np.testing.assert_allclose(got.variables["pip"].to_numpy(float), want.variables["pip"].to_numpy(float),
                                   rtol=1e-12, atol=1e-14)
