"""Stage 1 (twasflow.weights): the batched per-pair SuSiE-RSS against the single-fit engine and the susieR
oracle, the selection rule, recovery of planted xQTLs, and input errors.

Tolerances: the batched engine maximises the prior variance V by Newton (Brent only where susieR's
optimiser could pick another local optimum), so V agrees with susieR/susie_rss to the optimiser tolerance,
not bit for bit: alpha / pip / mu atol 1e-6, weights (posterior means) atol 1e-7; selections, credible sets
and iteration counts exactly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from conftest import DATA, ORACLE, read_json, read_tsv_matrix
from twasflow.errors import InputError
from twasflow.susie import susie_rss
from twasflow.weights import STATUS_NO_KEPT, STATUS_NO_TESTED, STATUS_OK, fit_pairs, select_rule, stage1

EXP = ORACLE / "expected"
BED = DATA / "genotypes" / "1000G.EUR.hg19.chr12_20-21Mb"


def _tsv(path) -> np.ndarray:
    return read_tsv_matrix(path)


@pytest.fixture(scope="module")
def oracle():
    R = _tsv(EXP / "_inputs" / "N3w_R.tsv.gz")
    z1 = _tsv(EXP / "_inputs" / "N3w_y1_sumstats.tsv.gz")[:, 2]
    z0 = _tsv(EXP / "rss_10_null_pheno" / "z.tsv.gz").ravel()
    return R, z1, z0


def _by_hand(z, R, n, L=3, cs_pip_min=0.25, pip_min=0.5):
    """susie_rss on the pair's tested variants + the TGVIS rule applied by hand. Returns (kept, w, fit, idx)."""
    m = ~np.isnan(z)
    idx = np.flatnonzero(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = susie_rss(z=z[m], R=R[np.ix_(m, m)], n=n, L=L)
    in_cs = np.zeros(idx.size, dtype=bool)
    for s in f.sets:
        in_cs[s.variables] = True
    kept = select_rule(f.pip, in_cs, cs_pip_min=cs_pip_min, pip_min=pip_min)
    return kept, np.where(kept, f.posterior_mean(), 0.0), f, idx


def test_engine_matches_susier_oracle_L10(oracle):
    """rss_01_z_default: susie_rss(z, R, n = 574, L = 10) in susieR 0.12.35."""
    R, z1, _ = oracle
    exp = read_json(EXP / "rss_01_z_default" / "expected.json")
    fits = fit_pairs(z1[:, None], R, 574, L=10)
    f = fits[0]
    np.testing.assert_allclose(f.alpha, np.array(exp["alpha"]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(f.pip, np.array(exp["pip"]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(f.V, np.array(exp["V"]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(f.elbo, np.array(exp["elbo"]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(f.posterior_mean(), np.array(exp["posterior_mean"]), rtol=1e-4, atol=1e-6)
    assert f.niter == exp["niter"] and f.converged == exp["converged"]
    assert sorted(map(sorted, (s.variables.tolist() for s in f.sets))) == sorted(map(sorted, exp["sets"]["cs_0based"]))
    # the stage-1 rule on susieR's own PIPs / sets equals stage1's selection with L = 10
    in_cs = np.zeros(z1.size, dtype=bool)
    for s in exp["sets"]["cs_0based"]:
        in_cs[s] = True
    want = select_rule(np.array(exp["pip"]), in_cs)
    B, fits10 = stage1(z1[:, None], R, 574, L=10)
    assert want.any()
    np.testing.assert_array_equal(fits10.kept[:, 0], want)
    np.testing.assert_allclose(B[want, 0], np.array(exp["posterior_mean"])[want], rtol=1e-4, atol=1e-6)
    assert np.all(B[~want, 0] == 0.0)


@pytest.mark.parametrize("case", ["rss_10_null_pheno", "rss_11_null_iid"])
def test_engine_matches_susier_oracle_null(oracle, case):
    R, _, _ = oracle
    z = _tsv(EXP / case / "z.tsv.gz").ravel()
    exp = read_json(EXP / case / "expected.json")
    fits = fit_pairs(z[:, None], R, 574, L=10)
    f = fits[0]
    np.testing.assert_allclose(f.pip, np.array(exp["pip"]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(f.V, np.array(exp["V"]), rtol=1e-4, atol=1e-6)
    assert f.niter == exp["niter"]
    assert len(f.sets) == exp["sets"]["n_cs"]


def test_stage1_equals_susie_rss_plus_rule_by_hand(oracle):
    """Dense check, L = 3: every pair of a batch equals susie_rss on its own tested variants + the rule."""
    R, z1, z0 = oracle
    M = z1.size
    rng = np.random.default_rng(11)
    cols = [z1, z0, -z1]
    zmiss = z1.copy()
    zmiss[rng.random(M) < 0.15] = np.nan  # untested variants: fitted on its own subset
    cols.append(zmiss)
    zshift = np.roll(z1, 57)  # an inconsistent-with-R but finite column
    cols.append(zshift)
    two = np.full(M, np.nan)
    two[[262, 263]] = z1[[262, 263]]  # p = 2 < L: susie fits min(L, p) effects
    cols.append(two)
    cols.append(np.full(M, np.nan))  # never tested
    Z = np.column_stack(cols)
    n = np.array([574.0, 574.0, 574.0, 400.0, 300.0, 574.0, 500.0])
    B, fits = stage1(Z, R, n, L=3)
    assert fits.status[-1] == STATUS_NO_TESTED and fits[Z.shape[1] - 1] is None
    for j in range(Z.shape[1] - 1):
        kept, w, f, idx = _by_hand(Z[:, j], R, n[j])
        g = fits[j]
        np.testing.assert_array_equal(fits.kept[idx, j], kept, err_msg=f"pair {j}")
        np.testing.assert_allclose(B[idx, j], w, rtol=0, atol=1e-7, err_msg=f"pair {j}")
        assert not B[np.setdiff1d(np.arange(M), idx), j].any()
        np.testing.assert_allclose(g.alpha, f.alpha, rtol=0, atol=1e-6)
        np.testing.assert_allclose(g.pip, f.pip, rtol=0, atol=1e-6)
        np.testing.assert_allclose(g.mu, f.mu, rtol=1e-5, atol=1e-6)
        # mu2 and lbf_variable are recomputed from the stored zeta (Stage1Fits.moments / lbf_rows)
        np.testing.assert_allclose(g.mu2, f.mu2, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g.lbf_variable, f.lbf_variable, rtol=1e-5, atol=1e-6)
        assert g.niter == f.niter and g.converged == f.converged
        assert [s.variables.tolist() for s in g.sets] == [s.variables.tolist() for s in f.sets]
        assert fits.status[j] == (STATUS_OK if kept.any() else STATUS_NO_KEPT)
    # the two sign-flipped copies: weights flip, selection does not
    np.testing.assert_array_equal(fits.kept[:, 0], fits.kept[:, 2])
    np.testing.assert_allclose(B[:, 2], -B[:, 0], atol=1e-12)


def _panel_R(M: int, r2_max: float = 0.5):
    """Standardized genotypes and LD of M common variants of the real 1000G EUR window, greedily pruned to
    r² < r2_max as the locus variant sets are (locus_variants.xqtl_r2 / gwas_r2)."""
    from twasflow.io.plink import read_bed

    G = read_bed(BED).astype(np.float64)
    G[G < 0] = np.nan
    G = np.where(np.isnan(G), np.nanmean(G, axis=0), G)
    G = G[:, G.std(axis=0) > 0.3]  # common variants
    Xs = (G - G.mean(axis=0)) / G.std(axis=0, ddof=1)
    keep: list[int] = []
    for j in range(Xs.shape[1]):
        if not keep or np.max((Xs[:, keep].T @ Xs[:, j] / (Xs.shape[0] - 1)) ** 2) < r2_max:
            keep.append(j)
        if len(keep) == M:
            break
    Xs = Xs[:, keep]
    return Xs, np.corrcoef(Xs, rowvar=False)


def test_recovery_of_planted_eqtls_and_dense_check_on_real_ld():
    """40 pairs with 1-2 planted eQTLs (h2 = 0.25, n = 500) on real 1000G EUR LD pruned to r² < 0.5
    (M = 200): stage1 selects the strongest planted eQTL of nearly every pair with signal, almost nothing
    for null pairs, and agrees with susie_rss + the rule by hand."""
    Xs, R = _panel_R(200)
    M, N = R.shape[0], Xs.shape[0]
    rng = np.random.default_rng(5)
    P = 40
    Bt = np.zeros((M, P))
    for j in range(30):  # 30 pairs with signal, 10 null
        idx = rng.choice(M, size=rng.integers(1, 3), replace=False)
        b = rng.choice([-1.0, 1.0], size=idx.size) * rng.uniform(0.6, 1.0, size=idx.size)
        b *= np.sqrt(0.25 / (b @ R[np.ix_(idx, idx)] @ b))  # h2 = 0.25
        Bt[idx, j] = b
    n = np.full(P, 500.0)
    Z = np.sqrt(n) * (R @ Bt) + Xs.T @ rng.standard_normal((N, P)) / np.sqrt(N - 1)
    Z[rng.random((M, P)) < 0.05] = np.nan
    B, fits = stage1(Z, R, n)
    hit = 0
    for j in range(30):
        lead = np.flatnonzero(Bt[:, j])[np.argmax(np.abs(Bt[:, j][Bt[:, j] != 0]))]
        hit += bool(fits.kept[lead, j])
    assert hit >= 27, hit
    assert fits.kept[:, 30:].sum() <= 2
    for j in range(0, P, 3):
        kept, w, f, idx = _by_hand(Z[:, j], R, n[j])
        np.testing.assert_array_equal(fits.kept[idx, j], kept)
        np.testing.assert_allclose(B[idx, j], w, rtol=0, atol=1e-7)


def test_pair_permutation_permutes_outputs():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 30))
    X[:, 1] = X[:, 0] + 0.3 * rng.standard_normal(400)
    R = np.corrcoef(X, rowvar=False)
    Z = rng.standard_normal((30, 6))
    Z[4, :3] += 8.0
    perm = np.array([5, 2, 0, 4, 1, 3])
    B1, f1 = stage1(Z, R, 300)
    B2, f2 = stage1(Z[:, perm], R, 300)
    np.testing.assert_array_equal(f2.kept, f1.kept[:, perm])
    np.testing.assert_allclose(B2, B1[:, perm], atol=1e-12)
    assert f1.kept[4, :3].all()


def test_effects_for_tgfm_are_the_included_effects_of_kept_pairs():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((500, 20))
    R = np.corrcoef(X, rowvar=False)
    Z = rng.standard_normal((20, 3))
    Z[3, 0] += 9.0
    Z[11, 1] -= 7.0
    B, fits = stage1(Z, R, [400, 400, 400])
    eff = fits.effects()
    kept_pairs = np.flatnonzero(fits.kept.any(axis=0))
    assert set(eff["effect_pair"].tolist()) == set(kept_pairs.tolist())
    assert np.all(eff["V"] > 1e-9)
    for k, (j, l) in enumerate(zip(eff["effect_pair"], eff["effect_l"])):
        np.testing.assert_array_equal(eff["alpha"][k], fits.alpha[l, j])
    # B is the posterior mean Σ_l alpha mu over the included effects, at the kept variants
    for j in kept_pairs:
        sel = eff["effect_pair"] == j
        pm = (eff["alpha"][sel] * eff["mu"][sel]).sum(axis=0)
        np.testing.assert_allclose(B[fits.kept[:, j], j], pm[fits.kept[:, j]], atol=1e-14)


def test_thresholds_are_honoured():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((500, 15))
    X[:, 6] = X[:, 5] + 0.15 * rng.standard_normal(500)  # two near-copies share the PIP
    R = np.corrcoef(X, rowvar=False)
    z = 0.5 * rng.standard_normal(15)
    z[5] = z[6] = 8.0
    _, f = stage1(z[:, None], R, 500)
    _, strict = stage1(z[:, None], R, 500, cs_pip_min=0.99, pip_min=0.99)
    assert f.kept[[5, 6], 0].all()  # in a CS with PIP ~0.5 each
    assert not strict.kept.any() and strict.status[0] == STATUS_NO_KEPT


@pytest.mark.parametrize("bad, msg", [
    (dict(n=1.0), "must be > 1"),
    (dict(n=[300.0, 300.0, 300.0]), "one sample size per pair"),
    (dict(R=np.eye(4)), "R does not match"),
    (dict(z=np.array([[np.inf, 1.0], [0.0, 0.0], [1.0, 2.0]])), "infinite"),
])
def test_bad_input_raises_input_error(bad, msg):
    z = bad.get("z", np.zeros((3, 2)))
    R = bad.get("R", np.eye(3))
    n = bad.get("n", 300.0)
    with pytest.raises(InputError, match=msg):
        stage1(z, R, n)


def test_bundled_example_through_prescreen(example_run):
    """The bundled example (snakemake, default config) runs through xqtl_weights and prescreen; every planted
    causal pair has weights and survives the prescreen (p <= 0.05); most planted eQTLs of those pairs that
    are in the locus variant set are selected."""
    import glob

    tmp_path = example_run
    import pandas as pd

    tx = pd.read_csv(tmp_path / "resources" / "example" / "truth_xqtl.tsv", sep="\t")
    in_set = selected = 0
    for trait in ("LDL_sim", "BMI_sim"):
        truth = pd.read_csv(tmp_path / "resources" / "example" / "gwas" / f"{trait}.truth.tsv", sep="\t")
        causal = truth.loc[truth["kind"] == "pair", "pair_id"].tolist()
        tab = pd.concat([pd.read_parquet(f) for f in glob.glob(str(tmp_path / "results" / "prescreen" / trait /
                                                                    "*.parquet"))])
        assert tab["reason"].isin(["", "p_above_max", "no_kept_variant", "no_tested_variant",
                                   "susie_failed"]).all()
        got = tab.set_index("pair_id").loc[causal]
        assert got["kept"].all(), got
        for pid in causal:
            planted = set(tx.loc[tx["pair_id"] == pid, "variant_id"])
            for w in glob.glob(str(tmp_path / "results" / "weights" / trait / "*" / "*.weights.npz")):
                d = np.load(w)
                ids = list(d["pair_ids"])
                if pid in ids:
                    b = np.load(w.replace("/weights/", "/locus_inputs/").replace(".weights.npz", ".npz"))
                    vids = b["variant_ids"]
                    kept = set(vids[d["kept"][:, ids.index(pid)]])
                    in_set += len(planted & set(vids))
                    selected += len(planted & kept)
    assert in_set >= 4 and selected >= in_set - 1, (selected, in_set)


def test_null_stop_certificate_holds_on_random_curves() -> None:
    """weights._below_null: wherever it stops a search at u0, the SER log-likelihood is negative at every
    u <= u0 (checked on a grid down to the search's bound), so the null check gives V = 0 as the full walk
    would."""
    from twasflow.weights import _LOGV_LO, _below_null, _SERCurve

    rng = np.random.default_rng(3)
    k, M = 400, 60
    prec = rng.uniform(69.0, 705.0, k)
    T2 = rng.chisquare(1, (k, M)) * rng.uniform(0.2, 1.2, (k, 1))  # null-ish rows, some with mean T2 < 1
    T2[:40, 0] += rng.uniform(0, 12, 40)  # and some rows with a signal
    T2max = T2.max(axis=1)
    curve = _SERCurve(prec, T2max, T2 - T2max[:, None], np.full(k, np.log(M)))
    idx = np.arange(k)
    grid = np.linspace(_LOGV_LO, 5.0, 300)
    stopped = 0
    for u0 in grid[::15]:
        f, g, _ = curve(np.full(k, u0), idx, derivs=True)
        hit = np.flatnonzero(_below_null(curve, idx, np.full(k, u0), f, g))
        stopped += hit.size
        for u in grid[grid <= u0]:
            assert np.all(curve(np.full(hit.size, u), hit) < 0.0)
    assert stopped > 100  # the check exercised the stop


@pytest.mark.parametrize("n_purity", [100, 3])
def test_batched_selection_equals_get_cs_per_pair(n_purity) -> None:
    """weights.select's batched credible sets and purities (``_cs_membership``) equal the stage-1 rule
    applied with ``susie.sets.get_cs`` pair by pair (``Stage1Fits.sets``): same sets, ties at the coverage
    threshold (duplicated variants), duplicate sets, impure sets, and with a small ``n_purity`` the
    seeded purity draws of larger sets. Exact equality of the (M, P) selection."""
    from twasflow.weights import select

    rng = np.random.default_rng(11)
    N, M, P = 400, 40, 120
    X = rng.standard_normal((N, M))
    for b0 in range(0, M, 8):  # LD blocks of 8 of decreasing tightness
        X[:, b0:b0 + 8] = X[:, [b0]] + (0.2 + b0 / 40) * X[:, b0:b0 + 8]
    X[:, 5] = X[:, 4]  # a duplicated variant: tied alphas
    R = np.corrcoef(X, rowvar=False)
    Bt = np.zeros((M, P))
    for j in range(P):
        idx = rng.choice(M, size=rng.integers(1, 4), replace=False)
        Bt[idx, j] = rng.uniform(0.05, 0.35, idx.size) * rng.choice([-1, 1], idx.size)
    n = rng.integers(70, 700, P).astype(float)
    Z = np.sqrt(n) * (R @ Bt) + np.linalg.cholesky(R + 1e-9 * np.eye(M)) @ rng.standard_normal((M, P))
    Z[rng.random((M, P)) < 0.03] = np.nan
    fits = fit_pairs(Z, R, n, n_purity=n_purity)
    got = select(fits)
    want = np.zeros((M, P), dtype=bool)
    n_mid = 0
    for j in range(P):
        in_set = np.zeros(M, dtype=bool)
        for s in fits.sets(j):
            in_set[s.variables] = True
        want[:, j] = select_rule(fits.pip[:, j], in_set) & fits.tested[:, j]
        n_mid += int(np.sum((fits.pip[:, j] > 0.25) & (fits.pip[:, j] <= 0.5)))
    assert n_mid > 20  # the credible-set branch of the rule was exercised
    np.testing.assert_array_equal(got, want)
