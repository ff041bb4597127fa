"""Small synthetic loci shared by the fine-mapping tests (test_tgvis, test_tgfm, test_ctwas, test_joint): LD of
AR(1) genotypes, sparse stage-1 weights, GWAS z from a true effect, and stage-1 SuSiE effects (the
``{"effect_pair", "alpha", "mu", "mu2"}`` mapping the methods take). Each function consumes its generator in a
fixed order, so a test that seeds it gets the same locus as before the helpers were shared."""

from __future__ import annotations

from typing import Callable

import numpy as np

Rng = np.random.Generator


def ar1_genotypes(rng: Rng, M: int, n: int = 2000, rho: float = 0.7) -> np.ndarray:
    """(n, M) standardized genotype-like matrix whose neighbouring columns correlate by ``rho`` (AR(1))."""
    X = rng.standard_normal((n, M))
    for j in range(1, M):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * X[:, j]
    return (X - X.mean(0)) / X.std(0)


def ld_of(X: np.ndarray) -> np.ndarray:
    """(M, M) sample correlation of standardized columns, unit diagonal."""
    R = X.T @ X / X.shape[0]
    np.fill_diagonal(R, 1.0)
    return R


def ar1_ld(rng: Rng, M: int, n: int = 2000, rho: float = 0.7) -> np.ndarray:
    """(M, M) in-sample LD of :func:`ar1_genotypes`."""
    return ld_of(ar1_genotypes(rng, M, n, rho))


def gwas_z(rng: Rng, R: np.ndarray, beta: np.ndarray, n: float) -> np.ndarray:
    """(M,) GWAS z = sqrt(n) R beta + N(0, R) noise (per-SD effects ``beta``)."""
    C = np.linalg.cholesky(R + 1e-10 * np.eye(R.shape[0]))
    return np.sqrt(n) * R @ beta + C @ rng.standard_normal(R.shape[0])


def sparse_weights(rng: Rng, M: int, P: int, kmax: int = 3, sd: float = 0.3,
                   values: Callable[[Rng, int], np.ndarray] | None = None) -> np.ndarray:
    """(M, P) stage-1 weights: per pair 1..``kmax`` random variants with N(0, sd) weights (or ``values(rng, k)``)."""
    B = np.zeros((M, P))
    for j in range(P):
        idx = rng.choice(M, int(rng.integers(1, kmax + 1)), replace=False)
        B[idx, j] = values(rng, idx.size) if values is not None else rng.normal(0, sd, idx.size)
    return B


def point_mass_effects(B: np.ndarray) -> dict[str, np.ndarray]:
    """A stage-1 posterior that is certain: one single effect per non-zero weight, one-hot alpha, mu2 = mu^2."""
    M, P = B.shape
    jj, mm = np.nonzero(B.T)
    K = jj.size
    alpha = np.zeros((K, M))
    alpha[np.arange(K), mm] = 1.0
    mu = alpha * B[mm, jj][:, None]
    return {"effect_pair": jj, "alpha": alpha, "mu": mu, "mu2": mu**2, "P": P}


def local_effects(rng: Rng, M: int, P: int, L: int = 2, spread: int = 3) -> dict[str, np.ndarray]:
    """A random stage-1 posterior: ``L`` effects per pair, alpha over ``spread`` neighbouring variables."""
    K = P * L
    alpha = np.zeros((K, M))
    mu = np.zeros((K, M))
    sd = np.zeros((K, M))
    for k in range(K):
        c = int(rng.integers(0, M - spread))
        alpha[k, c:c + spread] = rng.dirichlet(np.ones(spread))
        mu[k, c:c + spread] = rng.choice([-1, 1]) * rng.uniform(0.2, 0.5)
        sd[k, c:c + spread] = rng.uniform(0.02, 0.1, spread)
    return {"effect_pair": np.repeat(np.arange(P), L), "alpha": alpha, "mu": mu, "mu2": mu**2 + sd**2, "P": P}


def diffuse_effects(seed: int, M: int, P: int, sd: float) -> dict[str, np.ndarray]:
    """Two stage-1 single effects per pair: sparse-ish alpha over all M, N(0, sd) means, posterior variance 0.01."""
    rng = np.random.default_rng(seed)
    alpha = rng.dirichlet(np.full(M, 0.05), size=2 * P)
    mu = rng.normal(0, sd, (2 * P, M))
    return {"effect_pair": np.repeat(np.arange(P), 2), "alpha": alpha, "mu": mu, "mu2": mu * mu + 0.01}
