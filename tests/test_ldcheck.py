"""LD-mismatch gate (twasflow.ldcheck) on simulated loci with known truth: planted allele flips are flagged,
a locus whose z follow the panel LD is left alone, and action 'drop' removes the flagged variants consistently
from the bundle and the stage-1 weights. Detection / false-flag rates over many loci: benchmarks/bench_ldcheck.py."""

from __future__ import annotations

from functools import lru_cache

import msprime
import numpy as np
import pandas as pd

from twasflow.ld import ld_matrix
from twasflow.ldcheck import check_bundle, ld_mismatch
from twasflow.locus_weights import LocusWeights
from twasflow.locus import LocusBundle
from twasflow.simulate.stats import gwas_z, standardize_columns


@lru_cache(maxsize=None)
def _locus(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GWAS-cohort and panel dosages (same population, different people) of one 120 kb msprime segment."""
    ts = msprime.sim_ancestry(samples=1200, ploidy=2, sequence_length=120_000, recombination_rate=1e-8,
                              population_size=10_000, random_seed=seed)
    mts = msprime.sim_mutations(ts, rate=2e-8, model=msprime.BinaryMutationModel(), random_seed=seed)
    h = mts.genotype_matrix().astype(np.float64)
    d = (h[:, 0::2] + h[:, 1::2]).T
    f = d.mean(axis=0) / 2
    d = d[:, (f > 0.05) & (f < 0.95)]
    gw, pa = d[:800], d[800:]
    ok = pa.std(axis=0) > 0
    gw, pa = gw[:, ok], pa[:, ok]
    rng = np.random.default_rng(seed)
    gs, _, _ = standardize_columns(gw)
    beta = np.zeros(gw.shape[1])
    beta[rng.choice(gw.shape[1], 2, replace=False)] = [0.05, -0.04]
    z = gwas_z(gs, beta, 50_000, rng)
    return z, ld_matrix(pa), rng.permutation(np.flatnonzero(np.abs(z) > 3))[:2]


def test_planted_flips_flagged_clean_locus_left_alone() -> None:
    z, R, flip = _locus()
    clean = ld_mismatch(z, R, 50_000)
    assert clean.n_flagged == 0 and clean.s < 0.05
    zf = z.copy()
    zf[flip] *= -1
    bad = ld_mismatch(zf, R, 50_000)
    assert bad.flagged[flip].all()
    assert bad.n_flagged <= len(flip) + 2  # at most a couple of strongly tagged neighbours besides the flips
    assert bad.s > clean.s
    assert bad.locus_fields()["ld_n_flagged"] == bad.n_flagged


def test_drop_removes_flagged_variants_from_bundle_and_weights() -> None:
    z, R, flip = _locus()
    z = z.copy()
    z[flip] *= -1
    M, P = len(z), 3
    b = LocusBundle("L", np.array([f"v{i}" for i in range(M)]), np.arange(M) * 100, z, np.array(50_000.0), R,
                    np.full(M, 0.3), np.zeros((M, P)), np.full(P, 500.0),
                    pd.DataFrame({"pair_id": ["a", "b", "c"], "n_tested": [M] * P}))
    w = LocusWeights(B=np.ones((M, P)), pair_ids=np.array(["a", "b", "c"]), kept=np.ones((M, P), bool),
                     pair_status=np.full(P, "ok"), pip=np.zeros((M, P)), effect_pair=np.zeros(2, np.int64),
                     effect_l=np.arange(2), alpha=np.ones((2, M)), mu=np.ones((2, M)), mu2=np.ones((2, M)),
                     V=np.ones(2))
    same_b, same_w, chk = check_bundle(b, w, {"action": "warn"})
    assert same_b is b and chk.n_flagged >= 2 and same_w.B.shape == (M, P)
    sub, w2, chk = check_bundle(b, w, {"action": "drop"})
    keep = ~chk.flagged
    assert sub.M == M - chk.n_flagged and not set(sub.variant_ids) & {f"v{i}" for i in flip}
    assert sub.R.shape == (sub.M, sub.M) and np.array_equal(sub.R, R[np.ix_(keep, keep)])
    assert w2.B.shape == (sub.M, P) and w2.alpha.shape == (2, sub.M) and w2.V.shape == (2,)
    assert check_bundle(b, w, {"enabled": False})[2] is None
