"""Stage-1 fits reused across traits (issue 17 item 6): the same files with and without reuse, and a reuse only
where the inputs are equal."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from twasflow import stages
from twasflow.locus import LocusBundle, PAIR_COLUMNS, write_bundle
from twasflow.stage1_cache import stage1_cached, stage1_key

OPTS = dict(L=3, coverage=0.95, cs_pip_min=0.25, pip_min=0.5)


def _inputs(seed: int = 3, M: int = 40, P: int = 6):
    """A small locus: R from simulated genotypes with LD, xQTL z with one causal variant per pair, some untested."""
    rng = np.random.default_rng(seed)
    N = 400
    G = np.cumsum(rng.normal(size=(N, M)), axis=1) + rng.normal(scale=2.0, size=(N, M))
    X = (G - G.mean(0)) / G.std(0)
    R = X.T @ X / N
    n = np.full(P, 300.0)
    Z = np.empty((M, P))
    for j in range(P):
        c = rng.integers(M)
        Z[:, j] = np.sqrt(n[j]) * 0.3 * R[:, c] + rng.normal(size=M)
    Z[rng.random((M, P)) < 0.1] = np.nan
    return Z, R, n


def test_reuse_returns_the_fitted_arrays(tmp_path):
    Z, R, n = _inputs()
    fresh = stage1_cached(Z, R, n, cache_dir=None, **OPTS)
    first = stage1_cached(Z, R, n, cache_dir=tmp_path, **OPTS)
    again = stage1_cached(Z, R, n, cache_dir=tmp_path, **OPTS)
    assert not fresh.reused and not first.reused and again.reused
    for res in (first, again):
        for name in ("B", "kept", "status", "pip"):
            a, b = getattr(fresh, name), getattr(res, name)
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), name
        for k, v in fresh.effects.items():
            assert v.dtype == res.effects[k].dtype and np.array_equal(v, res.effects[k]), k
        assert res.n_nonconverged == fresh.n_nonconverged
    assert fresh.kept.any()


def test_key_changes_with_any_input():
    Z, R, n = _inputs()
    k = stage1_key(Z, R, n, OPTS)
    Z2 = Z.copy()
    Z2[0, 0] = np.nextafter(Z2[0, 0], np.inf)
    R2 = R.copy()
    R2[1, 2] = R2[2, 1] = R2[1, 2] + 1e-15
    others = [stage1_key(Z2, R, n, OPTS), stage1_key(Z, R2, n, OPTS), stage1_key(Z, R, n * 2, OPTS),
              stage1_key(Z, R, n, OPTS | {"L": 4}), stage1_key(Z[:, :-1], R, n[:-1], OPTS)]
    assert len({k, *others}) == 6
    assert stage1_key(Z.copy(), R.copy(), n.copy(), dict(reversed(list(OPTS.items())))) == k


def _bundle_dir(root, trait, Z, R, n):
    M, P = Z.shape
    pairs = pd.DataFrame({"pair_id": [f"p{j}" for j in range(P)], "gene_id": [f"g{j}" for j in range(P)],
                          "gene_name": "", "tissue": "T", "qtl_type": "eQTL",
                          "n_tested": np.isfinite(Z).sum(0).astype(np.int64), "source": "sumstats",
                          "n_model": np.isfinite(Z).sum(0).astype(np.int64)})[PAIR_COLUMNS]
    b = LocusBundle(locus_id=f"{trait}.L1", variant_ids=np.array([f"v{i}" for i in range(M)]),
                    pos=np.arange(M, dtype=np.int64) * 100 + 1, z=np.zeros(M), n=np.array(1e5), R=R,
                    freq=np.full(M, 0.3), xqtl_z=Z, xqtl_n=n, pairs=pairs)
    d = root / trait / "bundles"
    write_bundle(b, d)
    (d / "manifest.json").write_text(json.dumps({"loci": [{"locus_id": b.locus_id, "status": "ok"}]}))
    return d / "manifest.json"


def test_traits_share_stage1_files_identical_with_and_without_reuse(tmp_path):
    """Two traits with the same locus inputs: the second reuses the first's fit; every weights file equals the
    one written without the cache, byte for byte."""
    Z, R, n = _inputs(seed=11)
    weights = {"L": 3, "coverage": 0.95, "cs_pip_min": 0.25, "pip_min": 0.5, "mode": "paper"}
    out = {}
    for mode, cache in (("plain", None), ("cached", tmp_path / "cache")):
        for trait in ("A", "B"):
            man = _bundle_dir(tmp_path / mode, trait, Z, R, n)
            od = tmp_path / mode / trait / "weights"
            stages.xqtl_weights(trait, man, od, od / "manifest.json", tmp_path / mode / "logs", weights,
                                stage1_cache=cache)
            out[mode, trait] = od
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == 1  # one fit stored, reused by trait B
    for trait in ("A", "B"):
        for f in sorted(out["plain", trait].iterdir()):
            assert f.read_bytes() == (out["cached", trait] / f.name).read_bytes(), f.name
