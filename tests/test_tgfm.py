"""TGFM (twasflow.methods.tgfm) against independent computations: dense joint systems fitted with
``susie_rss`` directly, the moments of the stage-1 posterior, and the ELBO rule of the variant-only start."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from twasflow.errors import ConfigError, InputError
from twasflow.locus_weights import LocusWeights
from twasflow.methods import tgfm
from twasflow.methods._tgfm_draws import draw_effects, effect_keys, posterior_from
from twasflow.methods.result import LOCI_COLUMNS, SET_COLUMNS, VARIABLE_COLUMNS
from twasflow.susie import susie_rss

from tests.synth import ar1_ld, gwas_z, local_effects, point_mass_effects, sparse_weights

N_GWAS = 50_000.0


def _dense_joint(z: np.ndarray, R: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[W'z; z] and [[W'RW, W'R], [RW, R]] with W = B standardized to w'Rw = 1 (dense, from scratch)."""
    d = np.sqrt(np.einsum("mp,mk,kp->p", B, R, B))
    W = B / d
    WRW = W.T @ R @ W
    J = np.block([[WRW, W.T @ R], [R @ W, R]])
    J = 0.5 * (J + J.T)
    np.fill_diagonal(J, 1.0)
    return np.concatenate([W.T @ z, z]), J, d


@pytest.fixture(scope="module")
def locus():
    rng = np.random.default_rng(5)
    M, P = 40, 8
    R = ar1_ld(rng, M)
    B = sparse_weights(rng, M, P, kmax=2, values=lambda r, k: r.choice([-1, 1], k) * r.uniform(0.2, 0.5, k))
    z = gwas_z(rng, R, 0.1 * B[:, 0] + np.eye(M)[25] * 0.03, N_GWAS)
    return R, B, z


# ------------------------------------------------------------------------------------------------
# point-mass posterior = one SuSiE fit on the joint system


def test_point_mass_equals_single_susie_fit(locus):
    R, B, z = locus
    M, P = B.shape
    res = tgfm.fit(z, R, N_GWAS, point_mass_effects(B), n_draws=7, seed=1, pip_init_threshold=1.0)
    zj, J, d = _dense_joint(z, R, B)
    f = susie_rss(z=zj, R=J, n=N_GWAS, L=10, prior_weights=np.full(P + M, 1.0 / (P + M)),
                  estimate_prior_method="EM")
    v = res.variables
    # every draw is the same vector, so the draws agree with each other exactly up to summation order
    assert np.ptp(res.draw_pip, axis=0).max() < 1e-12
    tol = 1e-8  # sparse vs dense products: rounding differences only
    np.testing.assert_allclose(v["pip"].to_numpy(), f.pip, atol=tol, rtol=0)
    unit = np.concatenate([1.0 / d, np.ones(M)])  # pairs per unit of B's column
    np.testing.assert_allclose(v["posterior_mean"].to_numpy(), f.posterior_mean() * unit, atol=tol, rtol=1e-7)
    np.testing.assert_allclose(v["posterior_sd"].to_numpy(), f.posterior_sd() * unit, atol=tol, rtol=1e-7)
    assert v["pip"].iloc[0] > 0.9  # the planted pair
    # credible sets of the reference fit are the fit's own sets
    assert [sorted(s.variables.tolist()) for s in res.ref_fit.sets] == [sorted(s.variables.tolist()) for s in f.sets]
    in_cs = v["cs"].notna().to_numpy()
    members = np.zeros(P + M, dtype=bool)
    for s in f.sets:
        members[s.variables] = True
    assert (in_cs == members).all()
    np.testing.assert_allclose(v["estimate"].to_numpy(), np.where(members, f.posterior_mean() * unit, 0.0),
                               atol=tol, rtol=1e-7)
    # default causal rule: PIP > 0.5
    assert (v["causal"].to_numpy() == (f.pip > 0.5)).all()
    assert res.locus["variant_init_run"] is False and not res.variant_init.any()


def test_auto_prior_and_cs_rule(locus):
    R, B, z = locus
    M, P = B.shape
    res = tgfm.fit(z, R, N_GWAS, point_mass_effects(B), n_draws=2, seed=0, pip_init_threshold=1.0,
                   pair_prior_share="auto", causal_rule="cs")
    zj, J, _ = _dense_joint(z, R, B)
    pw = np.concatenate([np.full(P, 0.5 / P), np.full(M, 0.5 / M)])
    f = susie_rss(z=zj, R=J, n=N_GWAS, L=10, prior_weights=pw, estimate_prior_method="EM")
    v = res.variables
    np.testing.assert_allclose(v["pip"].to_numpy(), f.pip, atol=1e-8, rtol=0)
    assert (v["causal"].to_numpy() == v["cs"].notna().to_numpy()).all()
    assert res.sets["causal"].all() and len(res.sets) >= 2
    cut = float(np.sort(res.sets["cs_pip"].to_numpy())[-2])  # the largest set stays causal, the others not
    strict = tgfm.fit(z, R, N_GWAS, point_mass_effects(B), n_draws=2, seed=0, pip_init_threshold=1.0,
                      pair_prior_share="auto", causal_rule="cs", cs_pip_min=cut)
    assert (strict.sets["causal"].to_numpy() == (strict.sets["cs_pip"].to_numpy() > cut)).all()
    sv = strict.variables
    assert (sv["causal"].to_numpy() == (sv["cs_pip"].to_numpy() > cut)).all()  # NaN outside sets -> False


def test_prediction_model_pair_uses_fixed_weights(locus):
    """A pair without a posterior (a prediction model) enters every draw with its fixed weights."""
    R, B, z = locus
    M, P = B.shape
    pm = point_mass_effects(B[:, 1:])
    eff = {"effect_pair": pm["effect_pair"] + 1, "alpha": pm["alpha"], "mu": pm["mu"], "mu2": pm["mu2"],
           "B": np.hstack([B[:, :1], np.zeros((M, P - 1))])}
    a = tgfm.fit(z, R, N_GWAS, eff, n_draws=3, seed=0, pip_init_threshold=1.0)
    b = tgfm.fit(z, R, N_GWAS, point_mass_effects(B), n_draws=3, seed=0, pip_init_threshold=1.0)
    np.testing.assert_allclose(a.variables["pip"].to_numpy(), b.variables["pip"].to_numpy(), atol=1e-10)


# ------------------------------------------------------------------------------------------------
# the draws follow the stage-1 posterior


@pytest.mark.parametrize("keyed", [False, True])
def test_draws_match_posterior_moments(keyed):
    M = 6
    alpha = np.array([[0.1, 0.6, 0.3, 0, 0, 0], [0, 0, 0.25, 0.25, 0.5, 0], [0, 0, 0, 0, 0, 1.0]])
    mu = np.array([[0.3, -0.2, 0.5, 0, 0, 0], [0, 0, 0.4, 0.1, -0.3, 0], [0, 0, 0, 0, 0, 0.7]])
    sd = np.array([[0.05, 0.1, 0.2, 0, 0, 0], [0, 0, 0.1, 0.3, 0.05, 0], [0, 0, 0, 0, 0, 0.0]])
    post = posterior_from({"effect_pair": [0, 0, 1], "alpha": alpha, "mu": mu, "mu2": mu**2 + sd**2, "P": 2}, M)
    N = 200_000
    dr = draw_effects(post, 3, N, keys=effect_keys(post, ["a", "b"]) if keyed else None)
    # variable choice: frequencies within 5 binomial SEs of alpha; zero-alpha variables never drawn
    for k in range(3):
        freq = np.bincount(dr.idx[:, k], minlength=M) / N
        se = np.sqrt(alpha[k] * (1 - alpha[k]) / N)
        assert np.all(np.abs(freq - alpha[k]) <= 5 * se + 1e-12)
        assert np.all(freq[alpha[k] == 0] == 0)
    # the summed effect vector of pair 0: mean sum_k alpha mu, variance sum_k (alpha mu2 - (alpha mu)^2)
    b = np.zeros((N, M))
    np.add.at(b, (np.repeat(np.arange(N), 2), dr.idx[:, :2].ravel()), dr.size[:, :2].ravel())
    m_true = (alpha[:2] * mu[:2]).sum(0)
    v_true = (alpha[:2] * (mu[:2] ** 2 + sd[:2] ** 2) - (alpha[:2] * mu[:2]) ** 2).sum(0)
    m4 = ((b - m_true) ** 4).mean(0)
    assert np.all(np.abs(b.mean(0) - m_true) <= 5 * np.sqrt(v_true / N) + 1e-12)
    assert np.all(np.abs(b.var(0) - v_true) <= 5 * np.sqrt(np.maximum(m4 - v_true**2, 0) / N) + 1e-12)
    # a point mass is drawn exactly
    assert np.all(dr.idx[:, 2] == 5) and np.all(dr.size[:, 2] == 0.7)


def test_stage1_fits_input_equals_its_effects():
    from twasflow.weights import stage1

    rng = np.random.default_rng(8)
    M, P = 30, 5
    R = ar1_ld(rng, M)
    Bt = np.zeros((M, P))
    for j in range(P):
        Bt[rng.choice(M, 2, replace=False), j] = 0.4
    C = np.linalg.cholesky(R + 1e-10 * np.eye(M))
    xz = np.sqrt(300) * R @ Bt + C @ rng.standard_normal((M, P))
    _, fits = stage1(xz, R, 300.0)
    z = gwas_z(rng, R, 0.03 * Bt[:, 0], N_GWAS)
    a = tgfm.fit(z, R, N_GWAS, fits, n_draws=4, seed=2)
    b = tgfm.fit(z, R, N_GWAS, {**fits.effects(), "P": P}, n_draws=4, seed=2)
    pd.testing.assert_frame_equal(a.variables, b.variables, check_exact=True)


# ------------------------------------------------------------------------------------------------
# the variant-only start


def _spurious_pair_locus():
    """Two direct variants (5 strong, 15 weaker) and a pair whose weights sit on 5, 15 and 25: the pair's
    z beats either variant's, so the null start takes the pair first (TGFM's motivating false positive)."""
    rng = np.random.default_rng(2)
    M, P = 40, 4
    R = ar1_ld(rng, M, rho=0.5)
    alpha, mu, sd = np.zeros((6, M)), np.zeros((6, M)), np.zeros((6, M))
    for k, c in enumerate([5, 15, 25]):
        alpha[k, c - 1:c + 2] = [0.1, 0.8, 0.1]
        mu[k, c - 1:c + 2] = 0.4
        sd[k, c - 1:c + 2] = 0.05
    for k in range(3, 6):
        c = int(rng.integers(30, 38))
        alpha[k, c], mu[k, c] = 1.0, 0.3
    post = {"effect_pair": np.array([0, 0, 0, 1, 2, 3]), "alpha": alpha, "mu": mu, "mu2": mu**2 + sd**2, "P": P}
    beta = np.zeros(M)
    beta[5], beta[15] = 0.04, 0.02
    return R, gwas_z(rng, R, beta, N_GWAS), post


def test_variant_init_keeps_higher_elbo_per_draw():
    R, z, post_map = _spurious_pair_locus()
    M, P = z.size, post_map["P"]
    D, seed = 10, 2
    null_only = tgfm.fit(z, R, N_GWAS, post_map, n_draws=D, seed=seed, pip_init_threshold=1.0)
    assert null_only.variables["pip"].iloc[0] > 0.2
    res = tgfm.fit(z, R, N_GWAS, post_map, n_draws=D, seed=seed)
    assert res.locus["variant_init_run"] is True
    # the same draws, then everything from scratch with dense matrices
    post = posterior_from(post_map, M)
    dr = draw_effects(post, seed, D, keys=effect_keys(post, [f"pair{j + 1}" for j in range(P)]))
    pw = np.full(P + M, 1.0 / (P + M))
    fv = susie_rss(z=z, R=R, n=N_GWAS, L=10, prior_weights=pw[P:], estimate_prior_method="EM")
    pad = np.zeros((fv.alpha.shape[0], P))
    init = {"alpha": np.hstack([pad, fv.alpha]), "mu": np.hstack([pad, fv.mu]), "mu2": np.hstack([pad, fv.mu2])}
    chose_variant = []
    for d in range(D):
        Bd = np.zeros((M, P))
        np.add.at(Bd, (dr.idx[d], post_map["effect_pair"]), dr.size[d])
        zj, J, _ = _dense_joint(z, R, Bd)
        f0 = susie_rss(z=zj, R=J, n=N_GWAS, L=10, prior_weights=pw, estimate_prior_method="EM")
        f1 = susie_rss(z=zj, R=J, n=N_GWAS, L=10, prior_weights=pw, estimate_prior_method="EM", model_init=init)
        best = f1 if f1.elbo[-1] > f0.elbo[-1] else f0
        chose_variant.append(bool(f1.elbo[-1] > f0.elbo[-1]))
        np.testing.assert_allclose(res.draw_pip[d], best.pip, atol=1e-8, rtol=0)
    assert res.variant_init.tolist() == chose_variant
    assert 0 < sum(chose_variant) < D  # both starts win somewhere: the rule is exercised both ways
    np.testing.assert_allclose(res.variables["pip"].to_numpy(), res.draw_pip.mean(axis=0), atol=1e-15)
    assert res.variables["pip"].iloc[0] < null_only.variables["pip"].iloc[0]


def test_variant_init_not_run_below_threshold(locus):
    R, B, z = locus
    res = tgfm.fit(z, R, N_GWAS, point_mass_effects(B), n_draws=2, seed=0)
    assert res.variables["pip"].iloc[0] > 0.2  # the planted pair triggers the rule at the default 0.2 ...
    assert res.locus["variant_init_run"] is True
    top = float(res.variables["pip"].iloc[: B.shape[1]].max())
    res = tgfm.fit(z, R, N_GWAS, point_mass_effects(B), n_draws=2, seed=0, pip_init_threshold=top)
    assert res.locus["variant_init_run"] is False  # ... and not at the top pair's PIP (the rule is PIP > cut)


# ------------------------------------------------------------------------------------------------
# reproducibility, schema, bad input


def test_same_seed_bit_identical_other_seed_differs(locus):
    R, B, z = locus
    M, P = B.shape
    post = local_effects(np.random.default_rng(2), M, P)
    a = tgfm.fit(z, R, N_GWAS, post, n_draws=5, seed=9)
    b = tgfm.fit(z, R, N_GWAS, post, n_draws=5, seed=9)
    c = tgfm.fit(z, R, N_GWAS, post, n_draws=5, seed=10)
    pd.testing.assert_frame_equal(a.variables, b.variables, check_exact=True)
    pd.testing.assert_frame_equal(a.sets, b.sets, check_exact=True)
    assert not np.array_equal(a.variables["pip"].to_numpy(), c.variables["pip"].to_numpy())


def test_permuting_pairs_permutes_results(locus):
    """Draws are keyed by pair name, so a reordered locus gives the same per-pair results."""
    R, B, z = locus
    M, P = B.shape
    post = local_effects(np.random.default_rng(2), M, P)
    names = [f"p{j}" for j in range(P)]
    perm = np.random.default_rng(0).permutation(P)
    inv = np.argsort(perm)
    post_p = {**post, "effect_pair": inv[post["effect_pair"]]}  # pair j moves to position inv[j]
    a = tgfm.fit(z, R, N_GWAS, post, pair_names=names, n_draws=5, seed=3)
    b = tgfm.fit(z, R, N_GWAS, post_p, pair_names=[names[j] for j in perm], n_draws=5, seed=3)
    va, vb = a.variables.set_index("name"), b.variables.set_index("name")
    for col in ("pip", "posterior_mean", "posterior_sd"):
        np.testing.assert_allclose(vb.loc[va.index, col].to_numpy(), va[col].to_numpy(), atol=1e-8, rtol=1e-6)


def test_fit_bundle_tables_and_restriction(locus):
    R, B, z = locus
    M, P = B.shape
    ids = [f"G{j}|T|eQTL" for j in range(P)]
    pairs = pd.DataFrame({"pair_id": ids, "gene_id": [f"G{j}" for j in range(P)], "gene_name": [f"g{j}" for j in range(P)],
                          "tissue": "T", "qtl_type": "eQTL"})
    bundle = SimpleNamespace(locus_id="tr.1_1_100", z=z, n=np.array(N_GWAS), R=R,
                             variant_ids=np.array([f"1:{i}:A:G" for i in range(M)]), pairs=pairs, reason="")
    pm = point_mass_effects(B)
    K = pm["effect_pair"].size
    weights = LocusWeights(B=B, pair_ids=np.array(ids), kept=B != 0, pair_status=np.full(P, "ok"), pip=np.zeros((M, P)),
                           effect_pair=pm["effect_pair"], effect_l=np.zeros(K, np.int64), alpha=pm["alpha"],
                           mu=pm["mu"], mu2=pm["mu2"], V=np.ones(K))
    keep = [ids[3], ids[0], ids[5]]
    eff = weights.select(keep).effects()
    res = tgfm.fit_bundle(bundle, eff, keep, trait="tr", options={"n_draws": 3, "pip_init_threshold": 1.0}, seed=1)
    v, s, lo = res.tables("tr", bundle.locus_id)
    assert list(v.columns[: len(VARIABLE_COLUMNS)]) == VARIABLE_COLUMNS
    assert list(s.columns[: len(SET_COLUMNS)]) == SET_COLUMNS and list(lo.columns) == LOCI_COLUMNS
    assert v["variable_id"].iloc[:3].tolist() == keep and v["gene_id"].iloc[:3].tolist() == ["G3", "G0", "G5"]
    assert lo["method"].iloc[0] == "tgfm" and lo["status"].iloc[0] == "ok"
    # the same as fitting the three columns directly (seeded from trait and locus)
    direct = tgfm.fit(z, R, N_GWAS, point_mass_effects(B[:, [3, 0, 5]]), n_draws=3, pip_init_threshold=1.0,
                      seed=tgfm.locus_seed(1, "tr", bundle.locus_id))
    np.testing.assert_allclose(res.variables["pip"].to_numpy(), direct.variables["pip"].to_numpy(), atol=1e-12)
    with pytest.raises(InputError, match="not in the weights"):
        weights.select(["nope"])
    empty = SimpleNamespace(locus_id="x", z=np.zeros(0), n=np.array(N_GWAS), R=np.zeros((0, 0)),
                            variant_ids=np.array([]), pairs=pairs.iloc[:0], reason="no variants")
    assert tgfm.fit_bundle(empty, eff, [], trait="tr").locus["status"] == "empty"


def test_no_pairs_is_a_variant_only_fit(locus):
    R, B, z = locus
    M = z.size
    res = tgfm.fit(z, R, N_GWAS, {"effect_pair": np.zeros(0, int), "alpha": np.zeros((0, M)),
                                  "mu": np.zeros((0, M)), "mu2": np.zeros((0, M)), "P": 2}, n_draws=2)
    f = susie_rss(z=z, R=R, n=N_GWAS, L=10, estimate_prior_method="EM")
    v = res.variables
    assert v["pip"].iloc[:2].isna().all()
    np.testing.assert_allclose(v["pip"].iloc[2:].to_numpy(), f.pip, atol=1e-10)


@pytest.mark.parametrize("change, match", [
    (lambda e: e.update(alpha=e["alpha"] * 0.5), "sum to 1"),
    (lambda e: e.update(mu2=e["mu2"] * 0 - 1), "negative posterior variance"),
    (lambda e: e.update(effect_pair=e["effect_pair"] + 100), "does not exist"),
    (lambda e: e.update(alpha=e["alpha"][:, :-1]), "wrong shape"),
    (lambda e: e.update(mu=np.where(e["alpha"] > 0, np.nan, 0.0)), "finite"),
    (lambda e: e.pop("mu2"), "missing"),
])
def test_bad_stage1_inputs(locus, change, match):
    R, B, z = locus
    e = point_mass_effects(B)
    change(e)
    with pytest.raises(InputError, match=match):
        tgfm.fit(z, R, N_GWAS, e, n_draws=1)


def test_bad_locus_inputs_and_options(locus):
    R, B, z = locus
    e = point_mass_effects(B)
    zz = z.copy()
    zz[3] = np.nan
    with pytest.raises(InputError, match="row 4"):
        tgfm.fit(zz, R, N_GWAS, e)
    with pytest.raises(InputError, match="wrong shape"):
        tgfm.fit(z, R[:-1, :-1], N_GWAS, e)
    with pytest.raises(InputError, match="exceed 2"):
        tgfm.fit(z, R, 1.0, e)
    with pytest.raises(InputError, match="stage1_fits"):
        tgfm.fit(z, R, N_GWAS, [1, 2, 3])
    with pytest.raises(InputError, match="pair_prior"):
        tgfm.fit(z, R, N_GWAS, e, pair_prior=np.ones(3))
    with pytest.raises(ConfigError, match="unknown TGFM option"):
        tgfm.fit(z, R, N_GWAS, e, n_draw=5)
    with pytest.raises(ConfigError, match="n_draws"):
        tgfm.fit(z, R, N_GWAS, e, n_draws=0)
    with pytest.raises(ConfigError, match="causal_rule"):
        tgfm.fit(z, R, N_GWAS, e, causal_rule="pratt")
    assert tgfm.fit(np.zeros(0), np.zeros((0, 0)), N_GWAS, {"effect_pair": [], "alpha": np.zeros((0, 0)),
                    "mu": np.zeros((0, 0)), "mu2": np.zeros((0, 0))}).locus["status"] == "empty"


# ------------------------------------------------------------------------------------------------
# tissue-specific prior


def test_per_draw_prior_columns(locus):
    """Draw d is fitted with column d of a per-draw prior (TGFM's bootstrapped tissue prior)."""
    R, B, z = locus
    M, P = B.shape
    pp = np.stack([np.full(P, 1e-3), np.full(P, 1e-1)], axis=1)
    vp = np.stack([np.full(M, 1e-2), np.full(M, 1e-2)], axis=1)
    res = tgfm.fit(z, R, N_GWAS, point_mass_effects(B), n_draws=2, pip_init_threshold=1.0, pair_prior=pp, variant_prior=vp)
    zj, J, _ = _dense_joint(z, R, B)
    for d in range(2):
        f = susie_rss(z=zj, R=J, n=N_GWAS, L=10, prior_weights=np.concatenate([pp[:, d], vp[:, d]]),
                      estimate_prior_method="EM")
        np.testing.assert_allclose(res.draw_pip[d], f.pip, atol=1e-8, rtol=0)
    assert not np.allclose(res.draw_pip[0], res.draw_pip[1])


def _dense_prior_iterations(loci, classes, counts, n_iter, init=0.1):
    """TGFM's update written out with full alpha matrices (no first-order shortcut)."""
    where = {c: i for i, c in enumerate(classes)}
    C, B = len(classes), counts.shape[1]
    probs = np.full((C, B), init)
    n_el = np.zeros((C, B))
    for i, (_, cls) in enumerate(loci):
        ci = np.array([where[c] for c in cls])
        n_el += counts[i][None, :] * np.bincount(ci, minlength=C)[:, None]
    for _ in range(n_iter):
        post = np.zeros((C, B))
        for i, (lbf, cls) in enumerate(loci):
            ci = np.array([where[c] for c in cls])
            prior = probs[ci] / probs[ci].sum(axis=0)  # (p, B)
            with np.errstate(divide="ignore"):  # a class absent from a resample has probability 0
                logw = lbf[:, :, None] + np.log(prior)[None]
            logw -= logw.max(axis=1, keepdims=True)
            alpha = np.exp(logw)
            alpha /= alpha.sum(axis=1, keepdims=True)
            pip = 1.0 - np.prod(1.0 - alpha, axis=0)
            for c in range(C):
                post[c] += counts[i] * pip[ci == c].sum(axis=0)
        probs = post / np.where(n_el == 0, 0.1, n_el)
    return probs


def test_tissue_prior_matches_dense_iterations():
    rng = np.random.default_rng(12)
    loci = []
    for _ in range(12):
        p_var, p_pair = int(rng.integers(20, 40)), int(rng.integers(3, 9))
        cls = ["variant"] * p_var + list(rng.choice(["Liver", "Adipose", "Blood"], p_pair))
        L = int(rng.integers(1, 4))
        lbf = rng.normal(-30.0, 2.0, (L, p_var + p_pair))  # mostly uninformative (first-order path)
        hot = rng.choice(p_var + p_pair, (L, 3))
        for l in range(L):
            lbf[l, hot[l]] = rng.uniform(0.0, 8.0, 3)  # a few informative elements (exact path)
        loci.append((lbf, cls))
    tp = tgfm.learn_tissue_prior(loci, n_bootstraps=4, max_iter=25, seed=1)
    assert tp.classes == ("variant", "Adipose", "Blood", "Liver")
    ref = _dense_prior_iterations(loci, list(tp.classes), tp.counts, 25)
    # the shortcut is exact up to the first-order PIP of elements with BF < 1e-8 x the effect's largest
    np.testing.assert_allclose(tp.probs, ref, rtol=1e-6, atol=1e-12)


def test_tissue_prior_recovers_planted_rates():
    """Perfectly identified causal elements: the prior converges to each class's causal fraction."""
    rng = np.random.default_rng(4)
    truth = {"variant": 0.002, "Liver": 0.08, "Adipose": 0.02, "Blood": 0.0}
    loci, n_causal, n_el = [], dict.fromkeys(truth, 0), dict.fromkeys(truth, 0)
    for _ in range(400):
        cls = ["variant"] * 150 + ["Liver"] * 5 + ["Adipose"] * 5 + ["Blood"] * 5
        causal = [j for j, c in enumerate(cls) if rng.random() < truth[c]]
        for j, c in enumerate(cls):
            n_el[c] += 1
            n_causal[c] += j in causal
        if not causal:
            continue  # TGFM learns from loci with a credible set only
        lbf = np.zeros((len(causal), len(cls)))
        lbf[np.arange(len(causal)), causal] = 60.0
        loci.append((lbf, cls))
    tp = tgfm.learn_tissue_prior(loci, n_bootstraps=20, max_iter=200, tol=1e-12, seed=0)
    mean = tp.mean
    # loci without a causal element are left out (as TGFM does), so the target is the rate among the kept loci
    kept_el = {c: sum(np.sum(np.asarray(cl) == c) for _, cl in loci) for c in truth}
    for c in truth:
        rate = n_causal[c] / kept_el[c]
        se = np.sqrt(max(rate, 1e-3) * (1 - rate) / kept_el[c])
        assert abs(mean[c] - rate) < 4 * se, (c, mean[c], rate)
    assert mean["Liver"] > mean["Adipose"] > mean["variant"] and mean["Blood"] < 1e-6
    pair, var = tp.weights(["Liver", "Blood", "Kidney"], M=3)
    assert pair.shape == (3, 20) and var.shape == (3, 20)
    np.testing.assert_array_equal(pair[0], tp.probs[tp.classes.index("Liver")])
    assert np.all(pair[1] >= 1e-100)  # zeros floored as TGFM
    np.testing.assert_allclose(pair[2], np.maximum(tp.probs[1:], 1e-100).mean(axis=0))  # unseen tissue


def test_tissue_prior_inputs_from_a_fit(locus):
    R, B, z = locus
    M, P = B.shape
    res = tgfm.fit(z, R, N_GWAS, point_mass_effects(B), n_draws=2, pip_init_threshold=1.0)
    tissues = ["Liver", "Blood"] * (P // 2)
    lbf, cls = tgfm.tissue_prior_inputs(res, tissues)
    assert lbf.shape == (int(np.sum(res.ref_fit.V > 1e-9)), P + M) and list(cls[:P]) == tissues
    assert set(cls[P:]) == {"variant"}
    with pytest.raises(InputError, match="no loci"):
        tgfm.learn_tissue_prior([])


def test_reference_lbf_is_the_fit_on_posterior_mean_weights(locus):
    """TGFM's fit without sampling: SuSiE on [W'z; z] with W = the stage-1 posterior means (dense, from scratch)."""
    R, B, z = locus
    M, P = B.shape
    rng = np.random.default_rng(11)
    post = local_effects(rng, M, P)
    W = np.zeros((M, P))
    for k, j in enumerate(post["effect_pair"]):
        W[:, j] += post["alpha"][k] * post["mu"][k]
    zj, J, _ = _dense_joint(z, R, W)
    f = susie_rss(z=zj, R=J, n=N_GWAS, L=10, prior_weights=np.full(P + M, 1.0 / (P + M)), estimate_prior_method="EM")
    tissues = ["Liver", "Blood"] * (P // 2)
    got = tgfm.reference_lbf(z, R, N_GWAS, post, tissues)
    assert got is not None and f.sets
    lbf, cls = got
    inc = f.V > 1e-9
    np.testing.assert_allclose(lbf, f.lbf_variable[inc], rtol=1e-6, atol=1e-8)
    assert list(cls[:P]) == tissues and set(cls[P:]) == {"variant"}
    with pytest.raises(InputError, match="pair_tissues"):
        tgfm.reference_lbf(z, R, N_GWAS, post, tissues[:-1])
    # no signal, no credible set: the locus does not inform the prior
    assert tgfm.reference_lbf(np.zeros(M), R, N_GWAS, post, tissues) is None
