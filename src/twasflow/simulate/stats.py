"""Summary statistics from simulated individual-level data: marginal OLS for xQTLs, LD-aware GWAS z-scores.

Pure numpy/scipy; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from twasflow.pvalues import p_from_z


def standardize_columns(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Center and scale columns to mean 0, SD 1 (population SD, ddof 0).

    Parameters
    ----------
    x : ndarray, shape (n, M)

    Returns
    -------
    xs : ndarray, shape (n, M)
        Standardized columns; constant columns are all zero.
    mean, sd : ndarray, shape (M,)
    """
    mean = x.mean(axis=0)
    sd = x.std(axis=0)
    safe = np.where(sd > 0, sd, 1.0)
    xs = (x - mean) / safe
    xs[:, sd == 0] = 0.0
    return xs, mean, sd


@dataclass(frozen=True)
class MarginalOLS:
    """Marginal regressions of every phenotype on every variant, each of shape (M, P).

    ``slope`` is per ALT allele on the standardized-phenotype scale; ``r`` the sample correlation.
    """

    r: np.ndarray
    slope: np.ndarray
    slope_se: np.ndarray
    t: np.ndarray
    pval: np.ndarray


def marginal_ols(dosage: np.ndarray, y: np.ndarray) -> MarginalOLS:
    """All marginal simple regressions ``y_p ~ 1 + x_m`` at once (one GEMM).

    Parameters
    ----------
    dosage : ndarray, shape (n, M)
        ALT dosages of the cohort.
    y : ndarray, shape (n, P)
        Phenotypes (standardized inside).

    Notes
    -----
    With standardized ``x`` and ``y`` the OLS slope equals the correlation ``r``; on the per-allele scale it
    is ``r / sd(x)``, its standard error ``sqrt((1 - r^2) / (n - 2)) / sd(x)`` and ``t = r sqrt((n - 2) /
    (1 - r^2))`` with ``n - 2`` degrees of freedom (no covariates). Monomorphic variants get NaN.
    """
    n = dosage.shape[0]
    xs, _, sd_x = standardize_columns(dosage)
    ys, _, _ = standardize_columns(y)
    r = xs.T @ ys / n
    r = np.clip(r, -1.0 + 1e-15, 1.0 - 1e-15)
    poly = (sd_x > 0)[:, None]
    df = n - 2
    t = r * np.sqrt(df / (1.0 - r**2))
    inv_sd = np.where(sd_x > 0, 1.0 / np.where(sd_x > 0, sd_x, 1.0), np.nan)[:, None]
    slope = r * inv_sd
    slope_se = np.sqrt((1.0 - r**2) / df) * inv_sd
    pval = 2.0 * stats.t.sf(np.abs(t), df)
    nan = np.where(poly, 1.0, np.nan)
    return MarginalOLS(r=r * nan, slope=slope, slope_se=slope_se, t=t * nan, pval=pval * nan)


def ld_times(g_std: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Sample LD times a vector or matrix, ``R v`` with ``R = G'G / n``, without forming ``R``.

    Parameters
    ----------
    g_std : ndarray, shape (n, M)
        Standardized genotypes.
    v : ndarray, shape (M,) or (M, K)
    """
    return g_std.T @ (g_std @ v) / g_std.shape[0]


def gwas_z(g_std: np.ndarray, beta: np.ndarray, n_gwas: float, rng: np.random.Generator) -> np.ndarray:
    """Marginal GWAS z-scores with the cohort's LD: ``z = sqrt(N) R beta + e``, ``e ~ N(0, R)``.

    Parameters
    ----------
    g_std : ndarray, shape (n_g, M)
        Standardized genotypes of the GWAS-LD cohort; ``R = G'G / n_g``.
    beta : ndarray, shape (M,)
        Joint per-SD effects of the variants on the (standardized) trait.
    n_gwas : float
        GWAS sample size N.
    rng : numpy Generator

    Notes
    -----
    ``G' e / sqrt(n_g)`` with ``e ~ N(0, I)`` has covariance exactly ``R``, so no eigendecomposition of the
    M x M LD matrix is needed.
    """
    n_g = g_std.shape[0]
    e = rng.standard_normal(n_g)
    return np.sqrt(n_gwas) * ld_times(g_std, beta) + g_std.T @ e / np.sqrt(n_g)


def z_to_beta_se(z: np.ndarray, freq: np.ndarray, n: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-allele ``beta``, ``se`` (standardized trait) and two-sided ``p`` from z and allele frequency.

    ``se = 1 / sqrt(2 f (1 - f) N)``, ``beta = z se``.
    """
    se = 1.0 / np.sqrt(2.0 * freq * (1.0 - freq) * n)
    p = p_from_z(z)
    return z * se, se, p
