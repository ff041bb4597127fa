"""cTWAS (twasflow.methods.ctwas): the EM against cTWAS's own numbers on LDL chr16, the SER / SuSiE fits
against dense and independent computations, invariances, the docs/outputs.md tables and bad input."""

from __future__ import annotations

import json
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import DATA
from twasflow.errors import ConfigError, InputError
from twasflow.methods import ctwas
from twasflow.methods._ctwas_em import fit_em, ser_all_regions
from twasflow.methods._ctwas_susie import susie_rss_fixed_v
from twasflow.methods.result import LOCI_COLUMNS, SET_COLUMNS, VARIABLE_COLUMNS

from tests.synth import ar1_ld, gwas_z
from twasflow.susie import susie_rss

LDL = DATA / "ctwas_LDL_chr16" / "derived"
HERE = Path(__file__).resolve().parent


# ------------------------------------------------------------------------------------------------
# LDL chr16: cTWAS's own est_param / finemap_regions_noLD output (shared data)


@pytest.fixture(scope="module")
def ldl():
    snp = pd.read_csv(LDL / "LDL_chr16.noLD.region_z_snp.tsv.gz", sep="\t")
    genes = pd.read_csv(LDL / "LDL_chr16.noLD.region_genes.tsv", sep="\t")
    ref = json.loads((LDL / "LDL_chr16.ctwas_parameters.json").read_text())
    full = pd.read_csv(LDL / "LDL_chr16.noLD.screened_regions_z_snp.tsv.gz", sep="\t")
    res = ctwas.run_nold(snp, genes, snp_z_full=full, thin=0.1, group_prior_var_structure="shared_all",
                         niter_prefit=3, niter=50, min_var=2, min_gene=1, min_group_size=100,
                         min_p_single_effect=0.8, null_method="ctwas", EM_tol=1e-4)
    return res, ref


def test_ldl_em_reproduces_ctwas_parameters(ldl):
    res, ref = ldl
    # same algorithm, same inputs: agreement to floating-point rounding (the acceptance bound is 2%)
    for key in ("group_prior", "group_prior_var"):
        assert set(getattr(res, key)) == set(ref[key])
        for g, want in ref[key].items():
            assert getattr(res, key)[g] == pytest.approx(want, rel=1e-10), (key, g)
    assert res.group_size == ref["group_size"]
    assert res.n_iter == len(ref["loglik_iters"]) == 8 and res.converged
    np.testing.assert_allclose(res.loglik_iters, ref["loglik_iters"], rtol=0, atol=1e-8)
    for g in ref["group_prior_iters"]:
        np.testing.assert_allclose(res.params.group_prior_iters[g], ref["group_prior_iters"][g], rtol=1e-10)
        np.testing.assert_allclose(res.params.group_prior_var_iters[g], ref["group_prior_var_iters"][g], rtol=1e-10)
    # the SNP prior is reported per SNP of the full set (x thin), the SNP group size per full set (/ thin)
    assert res.params.thin == 0.1 and res.group_size["SNP"] == 22545 / 0.1
    pse = res.params.p_single_effect
    assert len(pse) == 54 and pse["skipped"].sum() == 10  # the 10 regions without genes
    assert pse.loc[pse["selected"], "p_single_effect"].gt(0.8).all()


def test_ldl_nold_finemap_matches_ctwas(ldl):
    res, _ = ldl
    want = pd.read_csv(LDL / "LDL_chr16.noLD.finemap_res.tsv.gz", sep="\t")
    got = res.finemap
    assert len(got) == len(want) == 36464
    m = want.merge(got, on=["region_id", "id"], suffixes=("_ref", ""), validate="one_to_one")
    assert len(m) == len(want)
    # PIP = 1 - (1 - alpha) as SuSiE computes it: 9,145 PIPs below the float spacing are exactly 0 in both;
    # the others agree to 1e-9 relative (the reference file holds 15 significant digits)
    np.testing.assert_array_equal(m["susie_pip"] == 0, m["susie_pip_ref"] == 0)
    np.testing.assert_allclose(m["susie_pip"], m["susie_pip_ref"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(m["mu"], m["mu_ref"], rtol=1e-12)
    assert (m["cs"].fillna("") == m["cs_ref"].fillna("")).all() and (m["cs"] == "L1").sum() == 86
    for col in ("molecular_id", "type", "context", "group"):
        assert (m[col] == m[f"{col}_ref"]).all(), col
    # screening: 6 regions kept for p < 5e-8, 2 for their non-SNP PIP (cTWAS's screen_summary)
    ss = pd.read_csv(LDL / "LDL_chr16.noLD.screen_summary.tsv", sep="\t")
    s = res.screen.merge(ss, on="region_id", suffixes=("", "_ref"))
    assert len(s) == 8 and s["selected"].all()
    for col in ("n_gids", "n_sids"):
        assert (s[col] == s[f"{col}_ref"]).all()
    for col in ("max_gene_absZ", "max_snp_absZ", "min_gene_p", "min_snp_p", "nonSNP_PIP"):
        np.testing.assert_allclose(s[col], s[f"{col}_ref"], rtol=1e-9, equal_nan=True)
    assert s["nonSNP_PIP"].notna().sum() == 2


def test_ldl_boundary_genes_assigned_like_ctwas():
    w = pd.read_csv(LDL / "LDL_chr16.weights.long.tsv.gz", sep="\t").dropna(subset=["pos"])
    regions = pd.read_csv(LDL / "LDL_chr16.regions.tsv", sep="\t").sort_values("start")
    genes = pd.read_csv(LDL / "LDL_chr16.noLD.region_genes.tsv", sep="\t")
    # a variant belongs to the region with start <= pos < stop
    k = np.searchsorted(regions["start"].to_numpy(), w["pos"].to_numpy(), side="right") - 1
    vreg = regions["region_id"].to_numpy()[k]
    got = ctwas.assign_genes_to_regions(w["id"], vreg, w["weight"], region_order=regions["region_id"])
    want = dict(zip(genes["id"], genes["region_id"]))
    boundary = pd.read_csv(LDL / "LDL_chr16.boundary_genes.tsv", sep="\t")["id"]
    assert len(boundary) == 5
    for g in boundary:
        assert got[g] == want[g], g
    agree = np.mean([got[g] == want[g] for g in got if g in want])
    assert agree > 0.99  # genes without positions for some variants excepted


# ------------------------------------------------------------------------------------------------
# the SER and the EM against independent computations


def _enumerate_ser(z: np.ndarray, pi: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, float]:
    """Posterior of 'no effect' or 'only j causal' by direct normal densities (no LD)."""
    null = np.prod(1 - pi)
    base = stats.norm.logpdf(z).sum()
    like = np.array([base - stats.norm.logpdf(z[j]) + stats.norm.logpdf(z[j], scale=np.sqrt(1 + V[j]))
                     for j in range(z.size)])
    prior = null * pi / (1 - pi)  # P(only j) = pi_j prod_{k != j} (1 - pi_k)
    joint = np.concatenate([[np.log(null) + base], np.log(prior) + like])
    mx = joint.max()
    post = np.exp(joint - mx) / np.exp(joint - mx).sum()
    loglik = mx + np.log(np.exp(joint - mx).sum()) - base  # minus the all-null constant, as cTWAS reports
    return post[1:], loglik


def test_ser_equals_enumeration():
    rng = np.random.default_rng(1)
    z = np.concatenate([rng.normal(0, 1, 7), [4.0], rng.normal(0, 1, 5), [-2.5, 0.3]])
    region = ["r1"] * 8 + ["r2"] * 7
    group = ["a|e"] * 3 + ["SNP"] * 5 + ["b|e"] * 2 + ["SNP"] * 5
    data = ctwas.RegionData.from_arrays(z, group, region)
    pi = rng.uniform(0.001, 0.2, z.size)[np.argsort(np.argsort(data.ids))]
    V = rng.uniform(1, 60, z.size)
    f = ser_all_regions(data, pi, V, "ctwas")
    for r in range(2):
        m = data.region == r
        a, ll = _enumerate_ser(data.z[m], pi[m], V[m])
        np.testing.assert_allclose(f.alpha[m], a, rtol=1e-10)
        assert f.loglik[r] == pytest.approx(ll, rel=1e-12)
        assert f.null_prob[r] == pytest.approx(1 - a.sum(), rel=1e-10)
    s2 = V / (V + 1)
    np.testing.assert_allclose(f.mu, s2 * data.z, rtol=1e-14)
    np.testing.assert_allclose(f.mu2, s2 + (s2 * data.z) ** 2, rtol=1e-14)


def test_ser_null_methods_susie_and_none():
    z = np.array([3.0, -1.0, 0.5, 2.0])
    data = ctwas.RegionData.from_arrays(z, ["g|t", "SNP", "SNP", "SNP"], ["r"] * 4)
    pi = np.array([0.1, 0.05, 0.05, 0.2])
    V = np.full(4, 10.0)
    bf = np.exp(0.5 * np.log(1 / 11) + 0.5 * data.z**2 * 10 / 11)
    nw = 1 - pi.sum()
    f = ser_all_regions(data, pi, V, "susie")
    np.testing.assert_allclose(f.alpha, pi * bf / (nw + (pi * bf).sum()), rtol=1e-12)
    assert f.loglik[0] == pytest.approx(np.log(nw + (pi * bf).sum()), rel=1e-12)
    f = ser_all_regions(data, pi, V, "none")
    np.testing.assert_allclose(f.alpha, pi * bf / (pi * bf).sum(), rtol=1e-12)


def _simulate_regions(rng, n_regions, genes_per=(("liver|eQTL", 4), ("adipose|eQTL", 4)), n_snp=40,
                      pi=(0.02, 0.01, 5e-4), V=(30.0, 30.0, 30.0)):
    """No-LD regions with known truth: each variable of group g is causal with probability pi_g
    (independently), with effect N(0, V_g); z = effect + N(0, 1). Returns the cTWAS tables."""
    names = [g for g, _ in genes_per] + ["SNP"]
    sizes = [k for _, k in genes_per] + [n_snp]
    g_of = np.repeat(np.arange(len(names)), sizes)  # group of each variable of a region
    k = g_of.size
    causal = rng.random((n_regions, k)) < np.asarray(pi)[g_of]
    z = rng.standard_normal((n_regions, k)) + causal * rng.standard_normal((n_regions, k)) * np.sqrt(np.asarray(V)[g_of])
    region = np.repeat(np.char.add("r", np.arange(n_regions).astype(str)), k).astype(object)
    group = np.tile(np.asarray(names, dtype=object)[g_of], n_regions)
    ids = np.char.add(np.char.add(region.astype(str), "."), np.tile(np.arange(k).astype(str), n_regions))
    df = pd.DataFrame({"id": ids.astype(object), "z": z.ravel(), "group": group, "region_id": region})
    snp = df[df["group"] == "SNP"][["id", "z", "region_id"]].reset_index(drop=True)
    genes = df[df["group"] != "SNP"].reset_index(drop=True)
    return snp, genes


def _ctwas_objective(z, group, region, pi_g, V_g):
    """cTWAS's EM objective, written out: sum over regions of log[prod_j (1 - pi_j) (1 + sum_j odds_j BF_j)],
    BF_j = N(z_j; 0, 1 + V_j) / N(z_j; 0, 1)."""
    pi, V = pi_g[group], V_g[group]
    bf = stats.norm.pdf(z, scale=np.sqrt(1.0 + V)) / stats.norm.pdf(z)
    df = pd.DataFrame({"r": region, "l": np.log1p(-pi), "x": pi / (1 - pi) * bf})
    s = df.groupby("r")[["l", "x"]].sum()
    return float((s["l"] + np.log1p(s["x"])).sum())


@pytest.mark.parametrize("structure", ["shared_all", "independent"])
def test_em_converges_to_the_maximum_of_ctwas_objective(structure):
    rng = np.random.default_rng(5)
    snp, genes = _simulate_regions(rng, 1500, pi=(0.03, 0.01, 5e-4), V=(60.0, 10.0, 20.0))
    data = ctwas.RegionData.from_tables(snp, genes)
    em = fit_em(data, niter=1000, group_prior_var_structure=structure, EM_tol=1e-10)
    assert em.converged and np.all(np.diff(em.loglik_iters) > -1e-9)  # EM never decreases the objective
    names = data.groups
    nV = 1 if structure == "shared_all" else 3
    x_hat = np.concatenate([[np.log(em.group_prior[g] / (1 - em.group_prior[g])) for g in names],
                            np.log([em.group_prior_var[g] for g in names][:nV])])

    def f(theta):
        V = np.exp(theta[3:]) if nV == 3 else np.full(3, np.exp(theta[3]))
        return _ctwas_objective(data.z, data.group, data.region, 1 / (1 + np.exp(-theta[:3])), V)

    def grad(x, h=1e-4):
        return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)])

    f_hat = f(x_hat)
    assert f_hat == pytest.approx(em.loglik_iters[-1], abs=1e-8)  # the EM's log-likelihood is this objective
    # a stationary point (gradient ~ 0 in logit pi / log V) and a local maximum of the objective ...
    assert np.max(np.abs(grad(x_hat))) < 1e-3
    for e in np.eye(x_hat.size):
        assert f(x_hat + 0.02 * e) < f_hat and f(x_hat - 0.02 * e) < f_hat
    # ... where 0.05 away the gradient is clearly non-zero (the check has power)
    assert np.max(np.abs(grad(x_hat + 0.05))) > 1.0


def test_em_estimates_near_truth_in_sparse_regions():
    """Sparse regions (P(2+ causal) ~ 0.3%): the estimates land near the truth. cTWAS's objective keeps only
    the <= 1-effect configurations; on these data its maximum sits ~10-25% below the true priors (and V
    ~15% above), while the full independent-Bernoulli likelihood recovers them (checked when this test was
    written), so the bounds below allow for that bias of the method, not of the implementation."""
    rng = np.random.default_rng(0)
    snp, genes = _simulate_regions(rng, 6000)
    data = ctwas.RegionData.from_tables(snp, genes)
    em = fit_em(data, niter=300, EM_tol=1e-8, group_prior_var_structure="shared_all")
    assert em.group_prior["liver|eQTL"] == pytest.approx(0.02, rel=0.3)
    assert em.group_prior["adipose|eQTL"] == pytest.approx(0.01, rel=0.3)
    assert em.group_prior["SNP"] == pytest.approx(5e-4, rel=0.35)
    assert em.group_prior_var["SNP"] == pytest.approx(30.0, rel=0.3)  # pooled over ~780 causal variables
    # both gene groups are eQTL: one shared gene variance (shared_type), a separate SNP variance
    typ = fit_em(data, niter=300, EM_tol=1e-8, group_prior_var_structure="shared_type")
    assert typ.group_prior_var["liver|eQTL"] == typ.group_prior_var["adipose|eQTL"]
    assert typ.group_prior_var["SNP"] != typ.group_prior_var["liver|eQTL"]


def test_estimate_params_roundtrip_and_thin():
    rng = np.random.default_rng(2)
    snp, genes = _simulate_regions(rng, 400, genes_per=(("liver|eQTL", 30),), n_snp=60, pi=(0.01, 1e-3))
    p = ctwas.estimate_params(snp, genes, thin=0.5)
    assert p.group_size["SNP"] == 400 * 60 / 0.5 and p.group_size["liver|eQTL"] == 400 * 30
    assert p.group_prior["SNP"] == pytest.approx(p.group_prior_iters["SNP"][-1], rel=1e-15)
    back = ctwas.CtwasParams.from_dict(json.loads(json.dumps(p.to_dict())))
    assert back.group_prior == p.group_prior and back.group_prior_var == p.group_prior_var
    assert back.loglik_iters == p.loglik_iters and back.n_iter == p.n_iter
    pd.testing.assert_frame_equal(back.p_single_effect, p.p_single_effect, check_dtype=False)
    # RegionData as input gives the same numbers
    q = ctwas.estimate_params(ctwas.RegionData.from_tables(snp, genes), thin=0.5)
    assert q.group_prior == p.group_prior


def test_thin_snps_and_combine_gene_pips():
    snp = pd.DataFrame({"id": [f"s{i}" for i in range(1001)], "z": 0.0, "region_id": "r"})
    t = ctwas.thin_snps(snp, 0.1, seed=3)
    assert len(t) == 100 and t["id"].is_unique and t.equals(ctwas.thin_snps(snp, 0.1, seed=3))
    assert ctwas.thin_snps(snp, 1.0) is snp
    # gene A: effects 1 and 2, two tissues; 1 - (1 - (0.3 + 0.2)) (1 - 0.1)
    got = ctwas.combine_gene_pips(["A", "A", "A", "B"], ["L1", "L1", "L2", "L1"], [0.3, 0.2, 0.1, 0.4])
    assert got["A"] == pytest.approx(1 - 0.5 * 0.9, rel=1e-14) and got["B"] == pytest.approx(0.4)


# ------------------------------------------------------------------------------------------------
# SuSiE with per-variable prior variance


def test_susie_fixed_v_matches_ctwas_r_code():
    """Expected values from cTWAS's own ctwas_susie_rss (R, commit 1bf0a98) on a 6-pair, 24-variant case
    with three prior variances (tests/data/ctwas_susie_rss_case.npz)."""
    c = np.load(HERE / "data" / "ctwas_susie_rss_case.npz")
    pi = c["pi"]
    f = susie_rss_fixed_v(c["z"], c["R"], c["V"], pi / (1 - pi), null_weight=0.5, L=5, min_abs_corr=0.1)
    np.testing.assert_allclose(f.alpha, c["alpha"], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(f.pip, c["pip"], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(f.mu[:, :-1].sum(axis=0), c["mu_colsum"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(f.elbo, c["elbo"], rtol=1e-12)
    assert [",".join(map(str, s.variables)) for s in f.sets] == [s for s in c["cs"].tolist() if s]


_ld = partial(ar1_ld, n=1000, rho=0.8)


def test_susie_fixed_v_equal_variances_equals_engine():
    rng = np.random.default_rng(3)
    p = 40
    R = _ld(rng, p)
    b = np.zeros(p)
    b[[5, 25]] = [6.0, -5.0]
    z = R @ b + np.linalg.cholesky(R + 1e-9 * np.eye(p)) @ rng.standard_normal(p)
    pw = rng.uniform(0.001, 0.05, p)
    for nw in (None, 0.5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = susie_rss(z, R, L=5, prior_variance=30.0, estimate_prior_variance=False, prior_weights=pw,
                            null_weight=nw or 0.0, min_abs_corr=0.1)
        f = susie_rss_fixed_v(z, R, np.full(p, 30.0), pw, null_weight=nw, L=5, min_abs_corr=0.1)
        np.testing.assert_allclose(f.alpha, ref.alpha, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(f.mu, ref.mu, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(f.pip, ref.pip, rtol=1e-10, atol=1e-14)
        # the ELBOs differ by susie_rss's constant only (n and y'y conventions)
        np.testing.assert_allclose(np.diff(f.elbo), np.diff(ref.elbo), atol=1e-9)
        assert f.niter == ref.niter
        assert [s.variables.tolist() for s in f.sets] == [s.variables.tolist() for s in ref.sets]


def test_fit_L1_is_the_ser_closed_form_with_ld():
    rng = np.random.default_rng(4)
    M, P = 25, 4
    R = _ld(rng, M)
    B = np.zeros((M, P))
    for j in range(P):
        B[rng.choice(M, 3, replace=False), j] = rng.normal(0, 0.3, 3)
    z = rng.normal(0, 1.5, M)
    groups = ["t1|eQTL", "t1|eQTL", "t2|sQTL", "t2|sQTL"]
    pri = {"group_prior": {"t1|eQTL": 0.05, "t2|sQTL": 0.1, "SNP": 0.01},
           "group_prior_var": {"t1|eQTL": 40.0, "t2|sQTL": 5.0, "SNP": 12.0}}
    res = ctwas.fit(z, R, 10_000, B, groups, pri, L=1)
    # one effect from mu = 0: alpha_j ∝ odds_j BF_j(joint z_j), null ∝ 1 (enumeration, any LD)
    zj = np.concatenate([B.T @ z / np.sqrt(np.einsum("mp,mn,np->p", B, R, B)), z])
    pi = np.array([0.05, 0.05, 0.1, 0.1] + [0.01] * M)
    V = np.array([40.0, 40.0, 5.0, 5.0] + [12.0] * M)
    a, _ = _enumerate_ser(zj, pi, V)
    np.testing.assert_allclose(res.variables["pip"].to_numpy(), a, rtol=1e-9)
    np.testing.assert_allclose(res.variables["gene_pip"].to_numpy()[:P], a[:P], rtol=1e-9)


def test_fit_L1_null_methods_susie_and_none():
    rng = np.random.default_rng(6)
    M = 12
    R = _ld(rng, M)
    z = rng.normal(0, 2, M)
    pri = {"group_prior": {"SNP": 0.03}, "group_prior_var": {"SNP": 20.0}}
    bf = np.exp(-0.5 * np.log1p(20.0) + 0.5 * z**2 * 20.0 / 21.0)
    pi = np.full(M, 0.03)
    got = ctwas.fit(z, R, 1e4, np.zeros((M, 0)), [], pri, L=1, null_method="susie").variables["pip"]
    nw = 1 - pi.sum()  # susie: prior weights pi and a null weight 1 - sum(pi)
    # PIP = 1 - (1 - alpha): absolute precision ~1e-16 for small alphas
    np.testing.assert_allclose(got, pi * bf / (nw + (pi * bf).sum()), rtol=1e-10, atol=1e-15)
    got = ctwas.fit(z, R, 1e4, np.zeros((M, 0)), [], pri, L=1, null_method="none").variables["pip"]
    np.testing.assert_allclose(got, bf / bf.sum(), rtol=1e-10, atol=1e-15)


# ------------------------------------------------------------------------------------------------
# per-locus fit: schema, invariances, empty and bad input


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(11)
    M, P = 40, 8
    R = _ld(rng, M, rho=0.7)
    B = np.zeros((M, P))
    for j in range(P):
        B[rng.choice(M, 3, replace=False), j] = rng.normal(0, 0.3, 3)
    w0 = B[:, 2] / np.sqrt(B[:, 2] @ R @ B[:, 2])
    z = gwas_z(rng, R, 8.0 * w0, 1.0)
    groups = ["liver|eQTL"] * 4 + ["adipose|eQTL"] * 4
    pri = {"group_prior": {"liver|eQTL": 0.02, "adipose|eQTL": 0.01, "SNP": 1e-3},
           "group_prior_var": {"liver|eQTL": 40.0, "adipose|eQTL": 40.0, "SNP": 40.0}}
    return R, B, z, groups, pri


def test_fit_tables_and_causal_rules(small):
    R, B, z, groups, pri = small
    res = ctwas.fit(z, R, 50_000, B, groups, pri, gene_ids=["G0", "G1", "G2", "G3", "G0", "G1", "G2", "G3"])
    v, s, loc = res.tables("T", "T.1_1_2")
    assert list(v.columns[: len(VARIABLE_COLUMNS)]) == VARIABLE_COLUMNS
    assert list(s.columns[: len(SET_COLUMNS)]) == SET_COLUMNS and list(loc.columns) == LOCI_COLUMNS
    assert v["method"].eq("ctwas").all() and v["cs_pratt"].isna().all() and v["pratt"].isna().all()
    assert loc["L"].iloc[0] == 5 and loc["status"].iloc[0] == "ok" and bool(loc["converged"].iloc[0])
    top = int(np.argmax(v["pip"].to_numpy()))
    assert top == 2 and v["pip"].iloc[2] > 0.8 and v["causal"].iloc[2]
    causal = v["causal"].to_numpy()
    assert np.all(v["pip"].to_numpy()[causal] > 0.8) and np.all(v["cs"].notna().to_numpy()[causal])
    cs_rule = ctwas.fit(z, R, 50_000, B, groups, pri, causal_rule="cs").variables
    np.testing.assert_array_equal(cs_rule["causal"].to_numpy(), cs_rule["cs"].notna().to_numpy())
    # gene PIP of G2 (pairs 2 and 6): 1 - prod_l (1 - alpha_l2 - alpha_l6)
    a = res.fit.alpha
    want = 1 - np.prod(1 - a[:, 2] - a[:, 6])
    assert v["gene_pip"].iloc[2] == pytest.approx(want, rel=1e-12) and v["gene_pip"].iloc[6] == v["gene_pip"].iloc[2]
    assert res.gene_pips["G2"] == pytest.approx(want, rel=1e-12)
    # estimates: credible-set members only, per SD of trait; pairs per unit of B's column
    sd = np.sqrt(B[:, 2] @ R @ B[:, 2])
    pm = (a[:, 2] * res.fit.mu[:, 2]).sum() / sd / np.sqrt(50_000 - 1)
    assert v["estimate"].iloc[2] == pytest.approx(pm, rel=1e-12)
    assert (v["estimate"][v["cs"].isna()] == 0).all()


def test_fit_permutation_invariance(small):
    R, B, z, groups, pri = small
    M, P = B.shape
    base = ctwas.fit(z, R, 50_000, B, groups, pri).variables
    rng = np.random.default_rng(0)
    pm, pp = rng.permutation(M), rng.permutation(P)
    res = ctwas.fit(z[pm], R[np.ix_(pm, pm)], 50_000, B[np.ix_(pm, pp)], [groups[j] for j in pp], pri,
                    pair_names=[f"pair{j + 1}" for j in pp], variant_names=[f"variant{m + 1}" for m in pm]).variables
    got = res.set_index("name").loc[base["name"]]
    for col in ("pip", "posterior_mean", "posterior_sd", "gene_pip", "estimate"):
        np.testing.assert_allclose(got[col].to_numpy(), base[col].to_numpy(), rtol=1e-7, atol=1e-10, err_msg=col)
    np.testing.assert_array_equal(got["causal"].to_numpy(), base["causal"].to_numpy())
    np.testing.assert_array_equal(got["cs"].notna().to_numpy(), base["cs"].notna().to_numpy())


def test_fit_empty_and_degenerate(small):
    R, B, z, groups, pri = small
    M = z.size
    e = ctwas.fit(np.zeros(0), np.zeros((0, 0)), 1000, np.zeros((0, 2)), ["a|b", "a|b"], pri)
    assert e.locus["status"] == "empty" and len(e.variables) == 0
    # no pairs: a variant-only fit
    r = ctwas.fit(z, R, 50_000, np.zeros((M, 0)), [], pri)
    assert len(r.variables) == M and (r.variables["type"] == "variant").all()
    # a pair with all-zero weights is reported with NaN and not modelled
    B2 = B.copy()
    B2[:, 0] = 0.0
    r = ctwas.fit(z, R, 50_000, B2, groups, pri)
    assert np.isnan(r.variables["pip"].iloc[0]) and r.fit.pip.size == M + B.shape[1] - 1
    # no priors: cTWAS's uniform 1/p and V = 50
    r = ctwas.fit(z, R, 50_000, B, groups, None)
    assert np.allclose(r.prior, 1 / (M + B.shape[1])) and np.all(r.prior_var == 50.0)


def test_fit_bad_input(small):
    R, B, z, groups, pri = small
    zz = z.copy()
    zz[3] = np.nan
    with pytest.raises(InputError, match="row 4"):
        ctwas.fit(zz, R, 1000, B, groups, pri)
    with pytest.raises(InputError, match="shape"):
        ctwas.fit(z, R[:-1, :-1], 1000, B, groups, pri)
    with pytest.raises(InputError, match="one group per pair"):
        ctwas.fit(z, R, 1000, B, groups[:-1], pri)
    with pytest.raises(InputError, match="adipose"):
        ctwas.fit(z, R, 1000, B, groups, {"group_prior": {"liver|eQTL": 0.1, "SNP": 0.1},
                                          "group_prior_var": {"liver|eQTL": 1.0, "SNP": 1.0}})
    with pytest.raises(InputError, match="group_prior"):
        ctwas.fit(z, R, 1000, B, groups, {"group_prior_var": {}})
    with pytest.raises(ConfigError, match="ctwas.Lx"):
        ctwas.fit(z, R, 1000, B, groups, pri, Lx=3)
    with pytest.raises(ConfigError, match="ctwas.causal_rule"):
        ctwas.fit(z, R, 1000, B, groups, pri, causal_rule="pratt")
    with pytest.raises(InputError, match="n"):
        ctwas.fit(z, R, 1, B, groups, pri)


def test_tables_bad_input():
    snp = pd.DataFrame({"id": ["a", "b"], "z": [1.0, 2.0], "region_id": ["r", "r"]})
    genes = pd.DataFrame({"id": ["g"], "z": [1.0], "group": ["t|e"], "region_id": ["r"]})
    with pytest.raises(InputError, match="region_id"):
        ctwas.estimate_params(snp.drop(columns="region_id"), genes)
    with pytest.raises(InputError, match="row 2"):
        ctwas.estimate_params(snp.assign(z=[1.0, np.inf]), genes)
    with pytest.raises(InputError, match="duplicated"):
        ctwas.estimate_params(snp.assign(id=["a", "a"]), genes)
    with pytest.raises(InputError, match="min_group_size"):
        ctwas.estimate_params(snp, genes, min_group_size=100)
    with pytest.raises(ConfigError, match="ctwas.niters"):
        ctwas.estimate_params(snp, genes, niters=3)
    with pytest.raises(InputError, match="group_prior_var_structure"):
        ctwas.estimate_params(snp, genes, min_group_size=1, group_prior_var_structure="shared")


def test_run_nold_drops_small_groups_and_finemaps_all_without_screening():
    rng = np.random.default_rng(9)
    snp, genes = _simulate_regions(rng, 300, genes_per=(("liver|eQTL", 5),), n_snp=40, pi=(0.02, 1e-3))
    tiny = pd.DataFrame({"id": ["x1", "x2"], "z": [0.1, 0.2], "group": ["brain|eQTL"] * 2,
                         "region_id": ["r0", "r1"]})
    with pytest.warns(UserWarning, match="brain"):
        res = ctwas.run_nold(snp, pd.concat([genes, tiny], ignore_index=True), screen=False)
    assert res.dropped_groups == {"brain|eQTL": 2} and "brain|eQTL" not in res.group_prior
    assert set(res.finemap["region_id"]) == set(snp["region_id"])
    per = res.finemap.groupby("region_id")["susie_pip"].sum()
    assert (per <= 1 + 1e-12).all()


def test_region_tables_and_fit_bundle(small):
    from twasflow.locus import LocusBundle

    R, B, z, _, pri = small
    M, P = B.shape
    pairs = pd.DataFrame({"pair_id": [f"g{j}|{'liver' if j < 4 else 'adipose'}|eQTL" for j in range(P)],
                          "gene_id": [f"ENSG{j % 4}" for j in range(P)], "gene_name": [f"G{j % 4}" for j in range(P)],
                          "tissue": ["liver"] * 4 + ["adipose"] * 4, "qtl_type": "eQTL", "n_tested": M})
    bundle = LocusBundle("T.1_1_2", np.array([f"1:{i}:A:G" for i in range(M)]), np.arange(M), z,
                         np.array(50_000.0), R, np.full(M, 0.3), np.zeros((M, P)), np.full(P, 300.0), pairs)
    snp_z, gene_z = ctwas.region_tables(bundle, B, list(pairs["pair_id"]), "1_0_100")
    assert list(snp_z.columns) == ["id", "z", "region_id"] and len(snp_z) == M
    want = B.T @ z / np.sqrt(np.einsum("mp,mn,np->p", B, R, B))
    np.testing.assert_allclose(gene_z["z"].to_numpy(), want, rtol=1e-12)
    assert list(gene_z["group"]) == ["liver|eQTL"] * 4 + ["adipose|eQTL"] * 4
    assert list(gene_z["molecular_id"]) == list(pairs["gene_id"])
    kept = [1, 2, 6]
    res = ctwas.fit_bundle(bundle, B[:, kept], list(pairs["pair_id"].iloc[kept]), trait="T", priors=pri,
                           options={"L": 5, "min_abs_corr": 0.1, "group_prior_var_structure": "shared_all"})
    v, _, loc = res.tables("T", bundle.locus_id)
    assert list(v["gene_id"].iloc[:3]) == ["ENSG1", "ENSG2", "ENSG2"] and v["gene_id"].iloc[3:].isna().all()
    assert list(v["group"].iloc[:3]) == ["liver|eQTL", "liver|eQTL", "adipose|eQTL"]
    assert v["gene_pip"].iloc[1] == v["gene_pip"].iloc[2] and loc["P"].iloc[0] == 3 and loc["M"].iloc[0] == M
    with pytest.raises(InputError, match="pair"):
        ctwas.fit_bundle(bundle, B[:, :1], ["nope"], trait="T", priors=pri)
