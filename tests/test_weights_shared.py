"""Stage 1 ``mode: shared`` (twasflow.weights_shared) against independent computations.

* groups of one pair: the model is susie_rss with EM prior updates — compared effect by effect;
* the shared single effect's Bayes factors and posterior means: against a dense enumeration of the 2^T
  activity patterns with multivariate normal densities (scipy), and the equal-effect component against
  N(bhat; 0, V 11' + S) directly;
* simulation with known truth (individual-level genotypes, n = 200): a weak eQTL shared by a gene's five
  tissues is kept by the shared mode far more often than by per-pair fits, and with nothing shared the
  shared mode gives the per-pair weights.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from twasflow.errors import InputError
from twasflow.susie import susie_rss
from twasflow.weights import stage1
from twasflow.weights_shared import _ser, stage1_shared


def _genotypes(rng: np.random.Generator, n: int, M: int, rho: float = 0.6) -> np.ndarray:
    """(n, M) standardized genotypes with AR(1)-like LD (haplotype blocks from a latent Gaussian)."""
    L = rng.standard_normal((n, M))
    for m in range(1, M):
        L[:, m] = rho * L[:, m - 1] + np.sqrt(1 - rho**2) * L[:, m]
    G = (L > 0.3).astype(float) + (rng.standard_normal((n, M)) + 0.5 * L > 0.8)
    G = G[:, G.std(axis=0) > 0]
    return (G - G.mean(0)) / G.std(0)


def _z(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """(M, T) marginal t statistics of every column of Y on every column of X (both standardized)."""
    n = X.shape[0]
    Ys = (Y - Y.mean(0)) / Y.std(0)
    b = X.T @ Ys / n
    se = np.sqrt(np.maximum(1 - b * b, 1e-12) / (n - 2))
    return b / se


def _locus(seed: int, T: int, shared_weak: bool, n: int = 200, M: int = 60, ld: float = 0.6):
    rng = np.random.default_rng(seed)
    X = _genotypes(rng, n, M, ld)
    M = X.shape[1]
    B = np.zeros((M, T))
    strong = rng.choice(M, size=T, replace=False)
    B[strong, np.arange(T)] = 0.5  # one strong tissue-specific eQTL per tissue
    weak = int(np.setdiff1d(np.arange(M), strong)[rng.integers(M - T)])
    if shared_weak:
        B[weak, :] = 0.2 * rng.choice([-1.0, 1.0])  # expected |z| ~ 0.2 sqrt(200) ~ 2.8 in every tissue
    Y = X @ B + rng.standard_normal((n, T)) * np.sqrt(1 - (B**2).sum(0))
    R = X.T @ X / n
    return _z(X, Y), R, B, weak


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_groups_of_one_pair_equal_susie_rss_with_em(seed):
    Z, R, _, _ = _locus(seed, 4, shared_weak=True)
    B, fits = stage1_shared(Z, R, 200.0, groups=["a", "b", "c", "d"], L=3)
    for j in range(4):
        ref = susie_rss(Z[:, j], R, n=200, L=3, estimate_prior_method="EM")
        # same model, same update order and stopping rule: agreement to rounding (tolerance 1e-9)
        np.testing.assert_allclose(fits.alpha[:3, j], ref.alpha, atol=1e-9)
        np.testing.assert_allclose(fits.V[:3, j], ref.V, atol=1e-9)
        np.testing.assert_allclose(fits.pip[:, j], ref.pip, atol=1e-9)
        assert fits.niter[j] == ref.niter
        assert fits.n_shared[j] == 0


def _dense_ser(zeta: np.ndarray, nm1: np.ndarray, V: float, rho: float, pi_eq: float):
    """Per variant: log BF of the shared single effect and E[b_t | j], by enumerating activity patterns.

    zeta (M, T) = X'r per pair; bhat_t = zeta_t / (n_t - 1) with variance s_t^2 = 1 / (n_t - 1)."""
    M, T = zeta.shape
    bhat = zeta / nm1
    S = np.diag(1.0 / nm1)
    lbf = np.empty(M)
    mean = np.zeros((M, T))
    for j in range(M):
        null = multivariate_normal(np.zeros(T), S).logpdf(bhat[j])
        terms, means = [], []
        for pat in itertools.product([0, 1], repeat=T):
            on = np.array(pat, dtype=bool)
            U = np.diag(on * V)
            w = np.log(rho) * on.sum() + np.log1p(-rho) * (T - on.sum()) + np.log1p(-pi_eq)
            terms.append(w + multivariate_normal(np.zeros(T), U + S).logpdf(bhat[j]) - null)
            # posterior mean given the pattern: U (U + S)^-1 bhat
            means.append(U @ np.linalg.solve(U + S, bhat[j]))
        Ueq = V * np.ones((T, T))
        terms.append(np.log(pi_eq) + multivariate_normal(np.zeros(T), Ueq + S).logpdf(bhat[j]) - null)
        means.append(Ueq @ np.linalg.solve(Ueq + S, bhat[j]))
        terms = np.array(terms)
        lbf[j] = np.logaddexp.reduce(terms)
        w = np.exp(terms - lbf[j])
        mean[j] = w @ np.array(means)
    return lbf, mean


def test_shared_single_effect_matches_dense_enumeration():
    rng = np.random.default_rng(7)
    M, T = 12, 4
    nm1 = np.array([199.0, 149.0, 299.0, 99.0])
    zeta = rng.standard_normal((M, T)) * np.sqrt(nm1)
    zeta[3] += np.array([3.0, 2.5, 0.0, 2.0]) * np.sqrt(nm1)  # a variant shared by three pairs
    V, rho, pi_eq = 0.04, 0.6, 0.3
    lbf, mean = _dense_ser(zeta, nm1, V, rho, pi_eq)
    alpha_ref = np.exp(lbf - np.logaddexp.reduce(lbf))
    out = _ser(zeta[None], np.ones((1, M, T), dtype=bool), nm1[None], np.array([V]), np.array([np.log(M)]),
               (pi_eq, rho))
    alpha, mu = out[0][0], out[1][0]
    np.testing.assert_allclose(alpha, alpha_ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(mu, mean, rtol=1e-9, atol=1e-13)
    # lbf_model = log mean_j BF_j, so the KL identity uses it: check through the null check (V kept)
    assert out[-1][0] > 0


def test_untested_pairs_drop_out_of_the_shared_effect():
    rng = np.random.default_rng(8)
    M, T = 10, 3
    nm1 = np.full(T, 199.0)
    zeta = rng.standard_normal((M, T)) * np.sqrt(nm1)
    tested = np.ones((1, M, T), dtype=bool)
    tested[0, :, 2] = False  # pair 3 tested nothing: the shared effect is the two-pair one
    a = _ser(zeta[None], tested, nm1[None], np.array([0.05]), np.array([np.log(M)]), (0.2, 0.5))
    b = _ser(zeta[None, :, :2], tested[:, :, :2], nm1[None, :2], np.array([0.05]), np.array([np.log(M)]),
             (0.2, 0.5))
    np.testing.assert_allclose(a[0], b[0], atol=1e-13)
    np.testing.assert_allclose(a[1][..., :2], b[1], atol=1e-13)
    assert np.all(a[1][..., 2] == 0)


@pytest.mark.slow
def test_weak_shared_eqtl_found_across_tissues_and_no_change_without_sharing():
    """Known truth: five tissues, a strong tissue-specific eQTL each, plus (a) one weak eQTL shared by all
    five (expected |z| ~ 2.8 per tissue; variants without LD so that localisation is not what limits) or
    (b) nothing shared (LD as the other tests). Over 10 replicates, (a): the shared mode keeps the weak eQTL,
    with the right sign, in at least half of the 50 pair-replicates and in at least 10 more than the per-pair
    fits (measured while writing this test on seeds 100-107: 27 vs 12 of 40); (b): it keeps exactly the
    per-pair fits' variants in at least 9 of 10 replicates (measured 8 of 8)."""
    found_paper = found_shared = 0
    same = 0
    for seed in range(10):
        Z, R, B_true, weak = _locus(100 + seed, 5, shared_weak=True, ld=0.0)
        B0, _ = stage1(Z, R, 200.0)
        B1, _ = stage1_shared(Z, R, 200.0, groups=["g"] * 5)
        found_paper += int((B0[weak] != 0).sum())
        found_shared += int((B1[weak] != 0).sum())
        assert np.all(np.sign(B1[weak][B1[weak] != 0]) == np.sign(B_true[weak, 0]))
        Zn, Rn, _, _ = _locus(200 + seed, 5, shared_weak=False)
        B0n, _ = stage1(Zn, Rn, 200.0)
        B1n, _ = stage1_shared(Zn, Rn, 200.0, groups=["g"] * 5)
        same += int(np.array_equal(B0n != 0, B1n != 0))
    assert found_shared >= 25, (found_paper, found_shared)
    assert found_shared >= found_paper + 10, (found_paper, found_shared)
    assert same >= 9, same


def test_effects_feed_tgfm_and_bad_groups_raise():
    from twasflow.methods._tgfm_draws import posterior_from

    Z, R, _, _ = _locus(5, 3, shared_weak=True)
    B, fits = stage1_shared(Z, R, 200.0, groups=["g", "g", "h"])
    post = posterior_from(fits, Z.shape[0])
    assert post is not None
    eff = fits.effects()
    assert set(np.unique(eff["effect_pair"])) <= set(np.flatnonzero(fits.kept.any(axis=0)))
    np.testing.assert_allclose(eff["alpha"].sum(axis=1), 1.0, atol=1e-12)
    with pytest.raises(InputError, match="one group per pair"):
        stage1_shared(Z, R, 200.0, groups=["g", "g"])
    with pytest.raises(InputError, match="sample size"):
        stage1_shared(Z, R, [200.0, 1.0, 200.0], groups=["g", "g", "h"])


def test_config_mode_routes_xqtl_weights(tmp_path, monkeypatch):
    """``weights.mode`` (config schema, default ``paper``) picks the stage 1 in rule xqtl_weights; ``shared``
    groups the pairs by gene + QTL type from the bundle's pairs table. A fake bundle stands in for
    locus_inputs' output."""
    import json
    from types import SimpleNamespace

    import pandas as pd

    from twasflow import locus, stages
    from twasflow.config import validate
    from twasflow.locus_weights import read_locus_weights
    from twasflow.schema import load_schema
    from twasflow.weights_shared import stage1_shared as direct

    base = {"genome_build": "GRCh38", "panel": {"bfile": "p"}, "outdir": "out"}
    assert validate(dict(base), load_schema("config"), "config")["weights"]["mode"] == "paper"
    with pytest.raises(Exception, match="mode"):
        validate({**base, "weights": {"mode": "joint"}}, load_schema("config"), "config")
    cfg = validate({**base, "weights": {"mode": "shared"}}, load_schema("config"), "config")["weights"]

    Z, R, _, _ = _locus(9, 4, shared_weak=True)
    M = Z.shape[0]
    pairs = pd.DataFrame({"pair_id": [f"G{g}|T{t}" for g in (1, 2) for t in (1, 2)],
                          "gene_id": ["G1", "G1", "G2", "G2"], "qtl_type": "eQTL"})
    bundle = SimpleNamespace(M=M, P=4, P_sumstats=4, Q=0, pairs=pairs, model_W=np.zeros((M, 0)), xqtl_z=Z, R=R,
                             xqtl_n=np.full(4, 200.0), reason="")
    monkeypatch.setattr(locus, "read_bundle", lambda d, lid: bundle)
    manifest = tmp_path / "bundles.json"
    manifest.write_text(json.dumps({"loci": [{"locus_id": "L1", "status": "ok", "reason": ""}]}))
    stages.xqtl_weights("T", manifest, tmp_path / "w", tmp_path / "w.json", tmp_path / "logs", cfg)
    B, _ = direct(Z, R, np.full(4, 200.0), ["G1|eQTL", "G1|eQTL", "G2|eQTL", "G2|eQTL"], L=3)
    np.testing.assert_array_equal(read_locus_weights(tmp_path / "w", "L1").B, B)
