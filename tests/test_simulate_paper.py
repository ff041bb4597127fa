"""The TGVIS paper's simulation design (twasflow.simulate.tgvis_paper)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twasflow.simulate import tgvis_paper
from twasflow.simulate.paper import score_replicate


@pytest.fixture(scope="module")
def reps():
    kw = dict(n_ref=300, n_gwas_ld=600, M=120, n_genes=8, n_tissues=3)
    return {sc: tgvis_paper(sc, 100, seed=5, **kw) for sc in ("none", "direct", "inf", "both")}


def test_shapes_and_truth(reps):
    r = reps["both"]
    M, P = 120, 24
    assert r.z.shape == (M,) and r.R.shape == (M, M) and r.xqtl_z.shape == (M, P) and r.b_true.shape == (M, P)
    assert list(r.causal_pairs) == [0, P - 1] and r.theta[0] == 1.0 and r.theta[-1] == -1.0
    assert np.count_nonzero(r.theta) == 2 and r.direct_variants.size == 2
    nq = np.count_nonzero(r.b_true, axis=0)
    assert nq.min() >= 1 and nq.max() <= 4  # 1-4 eQTLs per pair
    assert np.all(np.isfinite(r.z)) and np.allclose(np.diag(r.R), 1.0)
    assert r.pair_names[0] == "G1_T1" and r.pair_names[-1] == "G8_T3"


def test_components_by_scenario(reps):
    assert not np.any(reps["none"].gamma) and not np.any(reps["none"].upsilon)
    assert np.count_nonzero(reps["direct"].gamma) == 2 and not np.any(reps["direct"].upsilon)
    assert not np.any(reps["inf"].gamma) and np.count_nonzero(reps["inf"].upsilon) == 120
    # direct causal variants are not eQTLs
    r = reps["both"]
    assert not np.any(r.b_true[r.direct_variants] != 0)


def test_ld_given_to_the_method_is_a_different_sample(reps):
    r = reps["none"]
    assert not np.allclose(r.R, r.R_gwas)
    assert np.max(np.abs(r.R - r.R_gwas)) < 0.5  # same population


def test_deterministic_by_seed():
    kw = dict(n_ref=200, n_gwas_ld=300, M=60, n_genes=4, n_tissues=2)
    a = tgvis_paper("inf", 100, seed=9, **kw)
    b = tgvis_paper("inf", 100, seed=9, **kw)
    c = tgvis_paper("inf", 100, seed=10, **kw)
    assert np.array_equal(a.z, b.z) and np.array_equal(a.xqtl_z, b.xqtl_z) and np.array_equal(a.R, b.R)
    assert not np.array_equal(a.z, c.z)


def test_bad_scenario():
    with pytest.raises(ValueError, match="scenario"):
        tgvis_paper("all", 100, seed=1)


def test_score_replicate_perfect_and_empty(reps):
    r = reps["direct"]
    P, M = r.theta.size, r.z.size
    cs = np.full(P + M, np.nan)
    cs[r.causal_pairs] = [1, 2]
    cs[P + r.direct_variants] = [3, 4]
    est = np.concatenate([r.theta * r.theta_scale, r.gamma])
    v = pd.DataFrame({"cs": cs, "estimate": np.where(np.isnan(cs), 0.0, est), "causal": ~np.isnan(cs)})

    class Res:
        variables = v
        upsilon = np.zeros(M)

    m = score_replicate(r, Res())
    assert m["theta_mse"] == pytest.approx(0.0, abs=1e-20) and m["tnr"] == 1.0 and m["tpr"] == 1.0
    assert m["n_direct"] == 2 and m["gamma_cor"] == pytest.approx(1.0)
    Res.variables = v.assign(cs=np.nan, estimate=0.0, causal=False)
    m0 = score_replicate(r, Res())
    assert m0["tnr"] == 1.0 and m0["tpr"] == 0.0 and m0["theta_mse"] == pytest.approx(2.0 / P)
    # a non-causal pair in the first causal pair's set: a false pair; in its collinear group: not held against
    # tnr_group; a selected non-causal pair in no group with a causal pair is
    other = int(np.setdiff1d(np.arange(P), r.causal_pairs)[0])
    cs2 = cs.copy()
    cs2[other] = 1
    group = np.full(P + M, None, dtype=object)
    Res.variables = v.assign(cs=cs2)
    m1 = score_replicate(r, Res())
    assert m1["tnr"] == 0.0 and m1["tnr_group"] == 0.0
    group[[r.causal_pairs[0], other]] = "G"
    Res.variables = v.assign(cs=cs2, collinear_group=group)
    m2 = score_replicate(r, Res())
    assert m2["tnr"] == 0.0 and m2["tnr_group"] == 1.0 and m2["tpr"] == 1.0


def test_ld_shrinkage_and_pruning_follow_the_authors_script():
    """ld_shrink mixes genotypes with noise: population LD (1 - s) R + s I; ld_prune_r caps |r|."""
    kw = dict(n_ref=400, n_gwas_ld=400, M=100, n_genes=4, n_tissues=2, ld_prune_r=None)
    raw = tgvis_paper("none", 100, seed=3, ld_shrink=0.0, **kw)
    shr = tgvis_paper("none", 100, seed=3, ld_shrink=0.25, **kw)
    iu = np.triu_indices(100, 1)
    a, b = raw.R_gwas[iu], shr.R_gwas[iu]
    slope = float(a @ b / (a @ a))
    # same people and SNVs: off-diagonals shrink by 0.75, up to sampling noise (SD ~ 1/sqrt(400) = 0.05)
    assert 0.70 < slope < 0.80, slope
    assert np.mean(np.abs(b - 0.75 * a)) < 0.05
    pruned = tgvis_paper("none", 100, seed=3, n_ref=400, n_gwas_ld=400, M=100, n_genes=4, n_tissues=2,
                         ld_prune_r=0.9, ld_shrink=0.0)
    off = np.abs(pruned.R_gwas[iu])
    assert off.max() < 0.9 + 0.1  # pruned at haplotype |r| 0.9 in the whole sample; + sampling noise
    with pytest.raises(ValueError, match="ld_shrink"):
        tgvis_paper("none", 100, seed=1, ld_shrink=1.0)
