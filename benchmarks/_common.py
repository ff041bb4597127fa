"""Helpers the fine-mapping benchmarks share (imported as ``_common`` by scripts run from this directory).

``speed_ld``: the speed locus's panel (the paper simulator's genotypes: 2,500 people, M variants over 1.5 Mb;
LD from the first 500 people, standardized genotypes of the other 2,000 for the GWAS z); ``sparse_weights``:
1-3 causal variants per pair; ``xqtl_z``: xQTL z ~ N(sqrt(n) R b, R) through a factor of R. Each consumes its
generator in the order the benchmarks used before they shared it, so their loci are unchanged.
``example_bundles``: the non-empty locus bundles of a finished example run, read once.
"""

from __future__ import annotations

import numpy as np


def speed_ld(seed: int, M: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(R (M, M) from 500 people, standardized genotypes (2000, M) of the others) of the speed locus."""
    from twasflow.simulate.paper import _genotypes, _ld
    from twasflow.simulate.stats import standardize_columns

    G = _genotypes(seed, 2500, M, 0.02, 1_500_000)
    gs, _, _ = standardize_columns(G[500:])
    return _ld(G[:500]), gs


def sparse_weights(rng: np.random.Generator, M: int, P: int, *, signed_uniform: bool = False) -> np.ndarray:
    """(M, P): per pair 1-3 random variants with N(0, 0.3) weights, or (``signed_uniform``) |effect| 0.25-0.5 SD
    with a random sign (every pair then keeps a stage-1 variant)."""
    B = np.zeros((M, P))
    for j in range(P):
        idx = rng.choice(M, int(rng.integers(1, 4)), replace=False)
        B[idx, j] = (rng.choice([-1.0, 1.0], idx.size) * rng.uniform(0.25, 0.5, idx.size) if signed_uniform
                     else rng.normal(0, 0.3, idx.size))
    return B


def xqtl_z(rng: np.random.Generator, R: np.ndarray, B: np.ndarray, n: float | np.ndarray) -> np.ndarray:
    """(M, P) xQTL z ~ N(sqrt(n) R b, R) per column of B (``n`` a scalar or one sample size per pair)."""
    lam, U = np.linalg.eigh(R)
    F = U * np.sqrt(np.clip(lam, 0, None))
    return np.sqrt(n) * (R @ B) + F @ rng.standard_normal(B.shape)


def speed_pairs(seed: int, M: int = 1000, P: int = 500) -> tuple[np.random.Generator, np.ndarray, np.ndarray,
                                                                    np.ndarray]:
    """The TGVIS speed locus's (rng, R, standardized genotypes, weights B (M, P)); the generator goes on to draw
    the GWAS effects."""
    rng = np.random.default_rng(seed)
    R, gs = speed_ld(seed, M)
    return rng, R, gs, sparse_weights(rng, M, P)


def example_bundles(run_dir) -> list:
    """``(trait, locus_id, bundle)`` of every locus bundle with variants and pairs under ``run_dir/results``."""
    from pathlib import Path

    from twasflow.locus import read_bundle

    out = []
    for npz in sorted(Path(run_dir).glob("results/locus_inputs/*/*/*.npz")):
        trait, locus_id = npz.parent.parent.name, npz.name[:-4]
        b = read_bundle(npz.parent, locus_id)
        if b.M > 0 and b.P > 0:
            out.append((trait, locus_id, b))
    return out
