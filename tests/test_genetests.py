"""Gene-based tests (twasflow.genetests): each test form against an independent computation.

Independent references: adaptive quadrature (scipy.integrate.quad) and SciPy's own Landau (Boost) for the
Landau survival function; Monte Carlo of the definitions for HMP, Q-type, CT-M and S-MultiXcan nulls; Imhof's
numerical inversion of the characteristic function for weighted chi-square sums (the exact distribution
that Liu's approximation approximates); closed forms for ACAT and the L-type test; dense direct computations
for S-MultiXcan and CT-Q.
"""

from __future__ import annotations

from pathlib import Path
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from twasflow.errors import InputError
from twasflow.genetests import (GeneInputs, GeneTestOptions, combine, ct_max, ct_pcomb, ct_q, dtss_test, hmp,
                                l_test, landau_sf, liu_quadform_p, q_test, run_gene, smultixcan,
                                tissue_correlation)
from twasflow.genetests.combine import EULER_GAMMA
from twasflow.genetests.crosstissue import prune_correlated
from twasflow.genetests.inputs import class_map, read_consequences, read_elements, read_tss

HIERARCHY = [
    {"class": "Coding", "subclass": "Protein_Altering", "terms": ["missense_variant", "stop_gained",
                                                                 "nonsynonymous_SNV"]},
    {"class": "Coding", "subclass": "Exon_Other", "terms": ["synonymous_variant", "synonymous_SNV"]},
    {"class": "UTR", "subclass": "UTR3", "terms": ["3_prime_UTR_variant", "UTR3"]},
]


def _ld(M: int, rho: float, seed: int = 0) -> np.ndarray:
    """An AR(1)-like LD matrix estimated from 2000 draws (realistic, positive definite)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2000, M))
    for j in range(1, M):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * X[:, j]
    return np.corrcoef(X.T)


def _imhof_sf(q: float, lam: np.ndarray) -> float:
    """Exact P(Σ λ_k χ²_1 > q) by Imhof's (1961) inversion formula, integrated period by period of the
    oscillation (agrees with 10^7-draw Monte Carlo to its error, e.g. 1.116e-5 vs 1.13e-5)."""

    def f(u: float) -> float:
        theta = 0.5 * np.sum(np.arctan(lam * u)) - 0.5 * q * u
        rho = np.prod((1.0 + (lam * u) ** 2) ** 0.25)
        return np.sin(theta) / (u * rho)

    per = 4 * np.pi / q
    edges = np.arange(0, 200 * per, per)
    tot = sum(integrate.quad(f, a, b, epsabs=1e-15, epsrel=1e-12)[0] for a, b in zip(edges[:-1], edges[1:]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        tot += integrate.quad(f, edges[-1], np.inf, limit=500, epsabs=1e-15)[0]
    return 0.5 + tot / np.pi


# ------------------------------------------------------------------------------------------ Landau / HMP
def _quad_landau_sf(v: float) -> float:
    def f(t: float) -> float:
        return np.exp(-t * np.log(t) - v * t) * np.sin(np.pi * t) / t if t > 0 else np.pi

    return integrate.quad(f, 0, np.inf, limit=500, epsabs=0, epsrel=1e-12)[0] / np.pi


@pytest.mark.parametrize("v", [-3.0, -2.0, -1.0, 0.0, 1.0, 2.5, 4.99, 5.0, 8.0, 12.0, 30.0])
def test_landau_sf_matches_adaptive_quadrature(v: float) -> None:
    assert landau_sf(v) == pytest.approx(_quad_landau_sf(v), abs=1e-11, rel=1e-10)


def test_landau_sf_matches_scipy_boost_landau() -> None:
    """SciPy's Landau (Boost; scale 1 in the stable S1 form) is ours up to V = (π/2) X + log(π/2)."""
    if not hasattr(stats, "landau"):
        pytest.skip("scipy.stats.landau needs SciPy >= 1.15")
    v = np.array([-2.5, -1.0, 0.0, 1.0, 3.0, 5.0, 7.0, 20.0, 1e3, 1e8, 1e200])
    ref = stats.landau.sf((v - np.log(np.pi / 2)) * 2 / np.pi)
    np.testing.assert_allclose(landau_sf(v), ref, rtol=1e-9, atol=1e-12)


def test_landau_sf_far_tail_and_edges() -> None:
    # P(V > v) ~ 1/v: the single-p limit (Pareto tail of 1/p)
    assert landau_sf(1e300) == pytest.approx(1e-300, rel=1e-12)
    assert landau_sf(np.inf) == 0.0
    assert np.isnan(landau_sf(np.nan))
    assert landau_sf(-10.0) == 1.0


def test_hmp_is_its_definition() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(12)
    w = rng.random(12)
    inv_h = np.sum(w / p) / np.sum(w)
    expect = _quad_landau_sf(inv_h - np.log(12) - (1 - EULER_GAMMA))
    assert hmp(p, w) == pytest.approx(expect, rel=1e-9)
    assert hmp([0.03]) == 0.03  # one p-value: unchanged
    assert hmp([0.2, np.nan]) == 0.2
    assert np.isnan(hmp([np.nan]))
    assert hmp([0.0, 0.5]) == 0.0


def test_hmp_null_calibration_monte_carlo() -> None:
    """Independent uniform p-values: P(HMP p ≤ α) ≈ α (Wilson's asymptotics; L = 50)."""
    rng = np.random.default_rng(7)
    B, L = 10_000, 50
    pv = np.array([hmp(r) for r in rng.random((B, L))])
    for a in (0.05, 0.01):
        se = np.sqrt(a * (1 - a) / B)
        assert abs(np.mean(pv <= a) - a) < 4 * se, (a, np.mean(pv <= a))


def test_acat_combine_is_closed_form() -> None:
    p = np.array([0.02, 0.3, 0.7, 1e-6])
    w = np.array([1.0, 2.0, 0.5, 1.5])
    T = np.sum(w * np.tan((0.5 - p) * np.pi)) / np.sum(w)
    assert combine(p, w, "acat") == pytest.approx(0.5 - np.arctan(T) / np.pi, rel=1e-12)
    assert combine([0.4], None, "acat") == pytest.approx(0.4, rel=1e-12)
    with pytest.raises(ValueError):
        combine(p, None, "fisher")


# ------------------------------------------------------------------------------------------ Q-type / Liu
@pytest.mark.parametrize("lam", [np.array([3.0, 1.0, 0.5, 0.2, 0.1]), np.linalg.eigvalsh(_ld(12, 0.7))])
def test_liu_against_imhof_exact(lam: np.ndarray) -> None:
    """Liu's four-cumulant approximation against the exact distribution (Imhof inversion).

    What this pins down is the approximation's own, measured error (GAMBIT and SKAT's "liu" use the same
    formula): within 20% of the exact p down to 1e-3; further out Liu is anti-conservative and the gap grows
    (skewed spectrum (3, 1, .5, .2, .1): −22% at 1.4e-4, −34% at 1.3e-5; the LD spectrum of 12 variants at
    AR ρ = 0.7: −18% at 8.8e-4, −43% at 5.2e-5, −63% at 3.2e-6).
    """
    mean, sd = float(np.sum(lam)), float(np.sqrt(2 * np.sum(lam**2)))
    for k in (3.0, 6.0, 9.0, 12.0):
        q = mean + k * sd
        exact = _imhof_sf(q, lam)
        liu = liu_quadform_p(q, lam)
        if exact >= 1e-3:
            assert liu == pytest.approx(exact, rel=0.2), (k, q, exact)
        else:  # the far tail: Liu is too small, by less than a factor 3 down to 3e-6
            assert exact / 3 < liu < exact, (k, q, exact, liu)


def test_liu_against_simulation_and_chi2() -> None:
    lam = np.linalg.eigvalsh(_ld(10, 0.6, seed=3))
    rng = np.random.default_rng(11)
    Q = (rng.standard_normal((400_000, lam.size)) ** 2) @ lam
    for q in np.quantile(Q, [0.9, 0.99]):  # further out: test_liu_against_imhof_exact
        mc = np.mean(Q > q)
        assert liu_quadform_p(q, lam) == pytest.approx(mc, rel=0.1)
    # equal eigenvalues: Liu is exact (a chi-square)
    assert liu_quadform_p(18.0, np.ones(6)) == pytest.approx(stats.chi2.sf(18.0, 6), rel=1e-10)


def test_q_test_null_type_one_error() -> None:
    R = _ld(15, 0.8, seed=5)
    Lc = np.linalg.cholesky(R)
    rng = np.random.default_rng(2)
    Z = rng.standard_normal((5_000, 15)) @ Lc.T
    p = np.array([q_test(z, R).p for z in Z])
    for a in (0.05, 0.01):
        se = np.sqrt(a * (1 - a) / len(p))
        assert abs(np.mean(p <= a) - a) < 4 * se + 0.1 * a, (a, np.mean(p <= a))


def test_q_test_direct_and_ld_mismatch_flag() -> None:
    R = _ld(6, 0.5, seed=8)
    z = np.array([1.0, -2.0, 0.5, 3.0, 0.2, -1.0])
    r = q_test(z, R)
    lam = np.linalg.eigvalsh(R)
    assert r.stat == pytest.approx(np.sum(z * z))
    assert r.p == pytest.approx(liu_quadform_p(np.sum(z * z), lam))
    assert r.flag == "OK"
    one = q_test(np.array([2.5]), np.eye(1))
    assert one.p == pytest.approx(stats.chi2.sf(6.25, 1), rel=1e-12)
    # an "LD" whose spectrum is everywhere below 1 (impossible for a correlation matrix, e.g. a reference
    # with the wrong scale) makes the LD-adjusted p smaller than the no-LD one: GAMBIT's rule flags it
    Rm = 0.5 * np.eye(2)
    bad = q_test(np.array([4.0, -4.0]), Rm)
    assert bad.flag == "LD_MISMATCH"
    assert bad.p == pytest.approx(stats.chi2.sf(32.0, 2), rel=1e-10)
    assert q_test(np.array([4.0, -4.0]), Rm, safeguard=False).p < bad.p
    # positive LD never triggers it (the LD-adjusted tail is the heavier one)
    assert q_test(np.array([4.0, -4.0]), np.array([[1.0, 0.999], [0.999, 1.0]])).flag == "OK"


def test_l_test_closed_form_and_mismatch() -> None:
    R = _ld(5, 0.6, seed=4)
    w = np.array([0.5, -1.0, 0.0, 2.0, 0.3])
    z = np.array([1.0, -1.5, 0.3, 2.2, 0.1]) * 0.5
    t = l_test(z, R, w)
    assert t.flag == "OK"
    assert t.stat == pytest.approx((w @ z) / np.sqrt(w @ R @ w), rel=1e-12)
    assert t.p == pytest.approx(2 * stats.norm.sf(abs(t.stat)), rel=1e-12)
    assert t.n_variants == 4
    Rn = np.array([[1.0, -0.9], [-0.9, 1.0]])  # w'Rw < w'w with a big statistic: GAMBIT's flag
    f = l_test(np.array([5.0, 5.0]), Rn, np.array([1.0, 1.0]))
    assert f.flag == "LD_MISMATCH" and f.stat == pytest.approx(10 / np.sqrt(2))


# ------------------------------------------------------------------------------------------ dTSS
def test_dtss_is_hmp_over_alphas_of_weighted_hmp() -> None:
    rng = np.random.default_rng(3)
    z = rng.standard_normal(40) * 1.5
    d = rng.integers(-500_000, 500_001, 40)
    alphas = (1e-4, 5e-5, 1e-5, 5e-6)
    r, per = dtss_test(z, d, alphas=alphas)
    p = 2 * stats.norm.sf(np.abs(z))
    exp_per = [hmp(p, np.exp(-a * np.abs(d))) for a in alphas]
    np.testing.assert_allclose(per, exp_per, rtol=1e-12)
    assert r.p == pytest.approx(hmp(np.array(exp_per)), rel=1e-12)
    ra, _ = dtss_test(z, d, alphas=alphas, method="acat")
    assert ra.p == pytest.approx(combine([combine(p, np.exp(-a * np.abs(d)), "acat") for a in alphas], None,
                                         "acat"), rel=1e-12)


# ------------------------------------------------------------------------------------------ CT-TWAS, S-MultiXcan
def _tissues(T: int = 4, M: int = 25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    R = _ld(M, 0.7, seed=seed)
    W = np.zeros((M, T))
    shared = rng.standard_normal(M) * (rng.random(M) < 0.2)
    for t in range(T):
        W[:, t] = shared + 0.5 * rng.standard_normal(M) * (rng.random(M) < 0.15)
    return W, R


def test_tissue_correlation_direct() -> None:
    W, R = _tissues()
    rho = tissue_correlation(W, R)
    C = W.T @ R @ W
    np.testing.assert_allclose(rho, C / np.sqrt(np.outer(np.diag(C), np.diag(C))), atol=1e-12)


def test_ct_max_and_ct_q_against_simulation() -> None:
    W, R = _tissues(seed=2)
    rho = tissue_correlation(W, R)
    s_obs = np.array([2.4, 2.1, 1.0, -0.5])
    keep = prune_correlated(rho)  # GAMBIT drops predictions at |rho| >= 0.95 to an earlier one first
    r = rho[np.ix_(keep, keep)]
    Lc = np.linalg.cholesky(r)
    rng = np.random.default_rng(5)
    S = rng.standard_normal((400_000, len(keep))) @ Lc.T
    smax, ssq = np.max(np.abs(S), axis=1), np.sum(S * S, axis=1)
    zmax = np.max(np.abs(s_obs[keep]))
    mc = np.mean(smax >= zmax)
    assert ct_max(s_obs, rho).p == pytest.approx(mc, abs=4 * np.sqrt(mc / 400_000))
    q = float(s_obs[keep] @ s_obs[keep])
    assert ct_q(s_obs, rho).p == pytest.approx(np.mean(ssq >= q), rel=0.1)
    assert ct_q(s_obs, rho).p == pytest.approx(_imhof_sf(q, np.linalg.eigvalsh(r)), rel=0.1)
    assert ct_pcomb(s_obs).p == pytest.approx(hmp(2 * stats.norm.sf(np.abs(s_obs))), rel=1e-12)


def test_ct_pruning_drops_duplicate_predictions() -> None:
    rng = np.random.default_rng(3)
    R = _ld(25, 0.3, seed=3)
    W = rng.standard_normal((25, 4)) * (rng.random((25, 4)) < 0.3)
    W2 = np.hstack([W, W[:, :1]])  # the first tissue's prediction twice
    rho = tissue_correlation(W2, R)
    assert np.all(np.abs(rho[:4, :4][np.triu_indices(4, 1)]) < 0.95)
    s = np.array([3.0, 1.0, 0.5, 0.2, 3.0])
    assert list(prune_correlated(rho)) == [0, 1, 2, 3]
    assert ct_q(s, rho).n_variants == 4
    assert ct_max(s, rho).p == pytest.approx(ct_max(s[:4], rho[:4, :4]).p, rel=1e-6)


def test_smultixcan_direct_computation() -> None:
    W, R = _tissues(T=5, seed=4)
    W[:, 4] = W[:, 3] + 1e-3 * W[:, 0]  # nearly collinear pair: the SVD cutoff must drop a component
    rho = tissue_correlation(W, R)
    s = np.array([2.0, -1.0, 0.5, 3.0, 3.1])
    mx = smultixcan(s, rho, 30.0)
    sv = np.linalg.svd(rho, compute_uv=False)
    keep = sv >= sv[0] / 30.0
    assert mx.n_indep == int(keep.sum()) < 5
    pinv = np.linalg.pinv(rho, rcond=1.0 / 30.0)  # numpy: singular values < rcond * largest are zeroed
    assert mx.chi2 == pytest.approx(float(s @ pinv @ s), rel=1e-9)
    assert mx.p == pytest.approx(stats.chi2.sf(mx.chi2, mx.n_indep), rel=1e-12)
    assert mx.z == pytest.approx(stats.norm.isf(mx.p / 2), rel=1e-12)


def test_smultixcan_null_calibration() -> None:
    W, R = _tissues(T=6, seed=6)
    rho = tissue_correlation(W, R)
    Lc = np.linalg.cholesky(rho + 1e-10 * np.eye(6))
    rng = np.random.default_rng(9)
    p = np.array([smultixcan(s, rho).p for s in rng.standard_normal((5_000, 6)) @ Lc.T])
    # with every component kept the test is exact; a truncated SVD makes it conservative
    for a in (0.05, 0.01):
        assert np.mean(p <= a) < a + 4 * np.sqrt(a / len(p))


# ------------------------------------------------------------------------------------------ one gene
def test_run_gene_omnibus_is_hmp_of_its_tests() -> None:
    W, R = _tissues(T=3, M=20, seed=1)
    rng = np.random.default_rng(0)
    z = np.linalg.cholesky(R) @ rng.standard_normal(20)
    g = GeneInputs("ENSG1", "G1", dtss_z=z, dtss_d=np.arange(20) * 1000.0,
                   classes=[("Coding", "Protein_Altering", q_test(z[:3], R[:3, :3]))],
                   elements=[("e1", 2.0, q_test(z[4:8], R[4:8, 4:8]))], tissue_labels=["A", "B", "C"],
                   tissue_W=W, tissue_z=z, tissue_R=R)
    rows, s = run_gene(g, GeneTestOptions())
    df = pd.DataFrame(rows)
    omni = df[df["omnibus"]]
    assert list(omni["class"]) == ["dTSS", "Coding", "Enhancer", "CT-TWAS"]
    assert s["omnibus_p"] == pytest.approx(hmp(omni["p"].to_numpy()), rel=1e-12)
    single = df[~df["class"].isin(["CT-TWAS", "S-MultiXcan"])]
    assert s["min_p"] == single["p"].min()
    assert s["bonferroni_p"] == pytest.approx(min(1.0, len(single) * single["p"].min()))
    assert s["n_tests"] == 4 and s["n_tissues"] == 3
    rows_a, s_a = run_gene(g, GeneTestOptions(combine="acat", ct_twas="max"))
    omni_a = pd.DataFrame(rows_a).query("omnibus")
    assert "CT-M" in omni_a["subclass"].tolist()
    assert s_a["omnibus_p"] == pytest.approx(combine(omni_a["p"].to_numpy(), None, "acat"), rel=1e-12)


# ------------------------------------------------------------------------------------------ readers
def test_read_consequences_formats(tmp_path) -> None:
    t = tmp_path / "c.tsv"
    t.write_text("chrom\tpos\tref\talt\tgene\tconsequence\nchr1\t100\tA\tG\tENSG1.4\tmissense_variant,intron_variant\n"
                 "1\t200\tC\tT\tENSG1\tsynonymous_variant\n1\t300\tC\tT\tENSG2\tintron_variant\n")
    df, counts = read_consequences(t, HIERARCHY, "table")
    assert df[["chrom", "pos", "gene", "class", "subclass"]].values.tolist() == [
        ["1", 100, "ENSG1", "Coding", "Protein_Altering"], ["1", 200, "ENSG1", "Coding", "Exon_Other"]]
    assert counts["unmapped_terms"] == 2
    v = tmp_path / "v.txt"
    v.write_text("## VEP\n#Uploaded_variation\tLocation\tAllele\tGene\tFeature\tConsequence\n"
                 "rs1\t2:500\tT\tENSG3\tENST1\t3_prime_UTR_variant\nrs2\t2:600-600\tA\tENSG3\tENST1\tstop_gained\n")
    dv, _ = read_consequences(v, HIERARCHY, "vep")
    assert dv[["pos", "subclass"]].values.tolist() == [[500, "UTR3"], [600, "Protein_Altering"]]
    a = tmp_path / "a.txt"
    a.write_text("Chr\tStart\tEnd\tRef\tAlt\tFunc.refGene\tGene.refGene\tExonicFunc.refGene\n"
                 "3\t10\t10\tA\tG\texonic\tGENEA\tnonsynonymous SNV\n3\t20\t20\tA\tG\tUTR3\tGENEA;GENEB\t.\n")
    da, _ = read_consequences(a, HIERARCHY, "annovar")
    assert da[["pos", "gene", "subclass"]].values.tolist() == [[10, "GENEA", "Protein_Altering"],
                                                               [20, "GENEA", "UTR3"], [20, "GENEB", "UTR3"]]
    bad = tmp_path / "bad.tsv"
    bad.write_text("chrom\tpos\tgene\tconsequence\n1\tx\tG\tmissense_variant\n")
    with pytest.raises(InputError, match="pos"):
        read_consequences(bad, HIERARCHY)
    assert class_map(HIERARCHY)["missense_variant"] == [("Coding", "Protein_Altering")]


def test_read_tss_and_elements(tmp_path) -> None:
    g = tmp_path / "g.tsv"
    g.write_text("gene_id\tgene_name\tchrom\tstart\tend\tstrand\nENSG1.2\tA\tchr1\t100\t500\t+\nENSG2\tB\t1\t900\t1500\t-\n")
    t = read_tss(g)
    assert t.values.tolist() == [["ENSG1", "A", "1", 100], ["ENSG2", "B", "1", 1500]]
    g.write_text("gene_id\tchrom\tstart\tend\tstrand\nENSG1\t1\t100\t500\t?\n")
    with pytest.raises(InputError, match="strand"):
        read_tss(g)
    b = tmp_path / "e.bed"
    b.write_text("#chrom\tstart\tend\tclass\telement_id\ttargets\nchr1\t10\t20\tEnhancer\te1\tA:2.5|B:1\n")
    e = read_elements(b)
    assert e[["chrom", "start", "end", "element_id", "gene", "score"]].values.tolist() == [
        ["1", 10, 20, "e1", "A", 2.5], ["1", 10, 20, "e1", "B", 1.0]]
    b.write_text("1\t10\t20\tEnhancer\te1\tA-2.5\n")
    with pytest.raises(InputError, match="GENE:score"):
        read_elements(b)


# ------------------------------------------------------------------------------------------ one locus (stage)
class _FakePanel:
    """The two methods panel_ld uses, over a fixed dosage matrix (N, M) indexed by variant id."""

    def __init__(self, ids: list[str], X: np.ndarray) -> None:
        self.ids, self.X = ids, X

    def index_of(self, variant_ids):
        return "1", np.array([self.ids.index(v) for v in variant_ids])

    def dosages(self, chrom, rows):
        return self.X[:, rows]


def test_run_locus_sets_and_attribution() -> None:
    from twasflow.genetests.stage import run_locus

    rng = np.random.default_rng(4)
    M = 12
    pos = np.array([100, 200, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 600_000])
    ids = [f"1:{p}:A:{b}" for p, b in zip(pos, "CCGTTTTTTTTT")]
    X = rng.binomial(2, 0.3, (300, M)).astype(float)
    gw = pd.DataFrame({"variant_id": ids, "pos": pos, "z": rng.standard_normal(M),
                       "other_allele": "A", "counted_allele": list("CCGTTTTTTTTT")})
    genes = pd.DataFrame({"gene_id": ["ENSG1", "ENSG2"], "gene_name": ["A1", "B2"], "chrom": "1",
                          "tss": [150, 950]})
    cons = pd.DataFrame({"chrom": "1", "pos": [200, 200, 300, 900], "ref": ["A", "", "", ""],
                         "alt": ["G", "", "", ""], "gene": ["ENSG1", "A1", "ENSG1", "B2"],
                         "class": ["Coding", "UTR", "Coding", "Coding"],
                         "subclass": ["Protein_Altering", "UTR3", "Protein_Altering", "Exon_Other"],
                         "term": "x"})
    elems = pd.DataFrame({"chrom": "1", "start": [450, 450], "end": [700, 700], "element_class": "Enhancer",
                          "element_id": ["e1", "e1"], "gene": ["A1", "ENSG2"], "score": [2.0, 1.0]})
    opts = GeneTestOptions(tss_window=1000, ld_safeguard="gambit")  # q_test's default rule
    tests, summ = run_locus({"locus_id": "L1", "chrom": "1"}, genes, gw, cons, elems, _FakePanel(ids, X), opts)
    t = pd.DataFrame(tests)
    a1 = t[t["gene_id"] == "ENSG1"].set_index("subclass")
    # the allele-specific row takes the G allele only; the allele-free UTR row both alleles at 200
    assert a1.loc["Protein_Altering", "n_variants"] == 2 and a1.loc["UTR3", "n_variants"] == 2
    assert a1.loc["dTSS", "n_variants"] == 11  # all but the variant 600 kb away
    R = np.corrcoef(X[:, [2, 3]].T)
    assert a1.loc["Protein_Altering", "p"] == pytest.approx(q_test(gw["z"].to_numpy()[[2, 3]], R).p, rel=1e-12)
    # the element (450, 700] holds 500, 600, 700 and counts for both targets, named by symbol or id
    e = t[t["class"] == "Enhancer"]
    assert sorted(e["gene_id"]) == ["ENSG1", "ENSG2"] and set(e["n_variants"]) == {3}
    assert e["p"].nunique() == 1
    assert [s["gene_id"] for s in summ] == ["ENSG1", "ENSG2"] and all(s["locus_id"] == "L1" for s in summ)
    assert all(np.isnan(s["ld_s"]) for s in summ)  # no mismatch model under GAMBIT's rule


def test_run_locus_lambda_safeguard_uses_the_mismatch_model() -> None:
    """ld_safeguard: lambda (default): s = estimate_s_rss over the locus's variant sets (no bundle), and every
    LD-based test on (1 - s) R + s I (a principal block of it)."""
    from twasflow.genetests.forms import mismatch_ld
    from twasflow.genetests.stage import run_locus
    from twasflow.susie import estimate_s_rss

    rng = np.random.default_rng(11)
    M = 30
    pos = 1000 + 100 * np.arange(M)
    ids = [f"1:{p}:A:C" for p in pos]
    X = rng.binomial(2, 0.3, (300, M)).astype(float)
    X[:, 1::2] = np.clip(X[:, 0::2] + rng.binomial(1, 0.2, (300, M // 2)), 0, 2)  # LD between neighbours
    R = np.corrcoef(X.T)
    z = np.linalg.cholesky(0.5 * R + 0.5 * np.eye(M)) @ rng.standard_normal(M) * 1.5  # panel does not fit
    gw = pd.DataFrame({"variant_id": ids, "pos": pos, "z": z, "other_allele": "A", "counted_allele": "C"})
    genes = pd.DataFrame({"gene_id": ["ENSG1"], "gene_name": ["A1"], "chrom": "1", "tss": [1500]})
    cons = pd.DataFrame({"chrom": "1", "pos": pos, "ref": "", "alt": "", "gene": "ENSG1", "class": "Coding",
                         "subclass": "Protein_Altering", "term": "x"})
    elems = pd.DataFrame(columns=["chrom", "start", "end", "element_class", "element_id", "gene", "score"])
    tests, summ = run_locus({"locus_id": "L1", "chrom": "1"}, genes, gw, cons, elems, _FakePanel(ids, X),
                            GeneTestOptions(tss_window=100_000))
    s = estimate_s_rss(z, R)
    assert summ[0]["ld_s"] == pytest.approx(s, rel=1e-10) and s > 0.05
    row = pd.DataFrame(tests).set_index("subclass").loc["Protein_Altering"]
    assert row["p"] == pytest.approx(q_test(z, mismatch_ld(R, s), safeguard=False).p, rel=1e-10)
    assert row["flag"] == "OK"


def test_imhof_option_is_exact_against_monte_carlo() -> None:
    from twasflow.genetests import imhof_quadform_p

    lam = np.linalg.eigvalsh(_ld(12, 0.7))
    rng = np.random.default_rng(1)
    Q = np.concatenate([(rng.standard_normal((1_000_000, 12)) ** 2) @ lam for _ in range(4)])
    for q in (20.0, 40.0, 59.45284773366251):
        mc = np.mean(Q > q)
        se = np.sqrt(mc * (1 - mc) / Q.size)
        assert abs(imhof_quadform_p(q, lam) - mc) < 4 * se + 1e-12, (q, mc)
    R = _ld(6, 0.5, seed=8)
    z = np.array([1.0, -2.0, 0.5, 3.0, 0.2, -1.0]) * 2
    r = q_test(z, R, pvalue="imhof")
    assert r.p == pytest.approx(imhof_quadform_p(float(z @ z), np.linalg.eigvalsh(R)), rel=1e-12)
    assert r.p > q_test(z, R).p  # Liu is the smaller, anti-conservative one out here
    assert imhof_quadform_p(6.0, np.ones(3)) == pytest.approx(stats.chi2.sf(6.0, 3), rel=1e-8)


def test_smultixcan_matches_metaxcan_own_numbers() -> None:
    """25 genes run through MetaXcan's own S-MultiXcan code (tests/data/metaxcan_smultixcan/README.md):
    same number of independent components and the same p-value (rel 1e-12)."""
    import json

    from twasflow.genetests import smultixcan

    d = json.loads((Path(__file__).parent / "data" / "metaxcan_smultixcan" / "cases.json").read_text())
    assert len(d["cases"]) == 25
    for c in d["cases"]:
        r = smultixcan(np.array(c["z"]), np.array(c["rho"]), d["condition_number"])
        assert r.n_indep == c["metaxcan_n_indep"], c["gene"]
        assert r.p == pytest.approx(c["metaxcan_pvalue"], rel=1e-12, abs=1e-300), c["gene"]
        assert r.eigen_max == pytest.approx(c["metaxcan_eigen_max"], rel=1e-12)
        assert r.eigen_min == pytest.approx(c["metaxcan_eigen_min"], rel=1e-9, abs=1e-12)
