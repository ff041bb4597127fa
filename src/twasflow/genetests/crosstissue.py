"""Cross-tissue TWAS (GAMBIT's CT-TWAS) and S-MultiXcan, from the per-tissue TWAS z of one gene.

Each "tissue" is one prediction (a gene × tissue × QTL-type pair, e.g. one eQTL or one sQTL intron) with
standardized weights ``w_t`` on the locus variants. Its TWAS z is ``S_t = w_tᵀz / √(w_tᵀ R w_t)``, and under
the null the S_t are jointly normal with correlation

    ρ_st = w_sᵀ R w_t / √(w_sᵀ R w_s · w_tᵀ R w_t)   (:func:`tissue_correlation`).

* CT-A / CT-H: ACAT or HMP of the tissue p-values ``2Φ(−|S_t|)`` (GAMBIT's default, ``PCOMB``);
* CT-M: ``P(max_t |S_t| ≥ max_t |s_t|)`` from the multivariate normal with correlation ρ;
* CT-Q: ``Σ S_t²`` ~ ``Σ λ_k χ²_1`` with λ the eigenvalues of ρ (Liu's approximation).

For CT-M and CT-Q, GAMBIT first drops tissues whose prediction correlates at |ρ| ≥ 0.95 with an earlier
one (the same prediction twice makes ρ singular); so do we. CT-M's p-value is capped by its Bonferroni
bound (as GAMBIT does).

S-MultiXcan (Barbeira et al. 2019, PLoS Genet; hakyimlab/MetaXcan): ``T = sᵀ ρ⁺ s`` with ρ⁺ the
pseudo-inverse of ρ keeping singular values ≥ ``σ_max / condition_number`` (MetaXcan's
``--cutoff_condition_number``, 30 in its documentation; the largest is always kept), ``T ~ χ²`` with as many
degrees of freedom as kept components.

Numerical module: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from .combine import combine
from .forms import TestResult, liu_quadform_p
from ..twas import z_to_p

PRUNE_R = 0.95
SMULTIXCAN_CONDITION_NUMBER = 30.0
_MVN_SEED = 20190828


def tissue_correlation(W: Any, R: Any) -> np.ndarray:
    """(T, T) null correlation of the TWAS z of the columns of ``W`` (M, T) given the LD ``R`` (M, M)."""
    Wm = np.asarray(W, dtype=np.float64)
    C = Wm.T @ np.asarray(R, dtype=np.float64) @ Wm
    d = np.sqrt(np.clip(np.diag(C), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = C / np.outer(d, d)
    rho = np.clip(rho, -1.0, 1.0)
    np.fill_diagonal(rho, 1.0)
    return rho


def prune_correlated(rho: Any, threshold: float = PRUNE_R) -> np.ndarray:
    """Indices kept after dropping, in order, every tissue with |ρ| ≥ threshold to an earlier kept one."""
    r = np.abs(np.asarray(rho, dtype=np.float64))
    keep: list[int] = []
    for t in range(r.shape[0]):
        if all(r[t, k] < threshold for k in keep):
            keep.append(t)
    return np.asarray(keep, dtype=np.int64)


def ct_pcomb(s: Any, method: str = "hmp") -> TestResult:
    """CT-A / CT-H: p-value combination of the tissue p-values (``stat`` = max |S_t|)."""
    ss = np.asarray(s, dtype=np.float64)
    ss = ss[np.isfinite(ss)]
    if ss.size == 0:
        return TestResult(float("nan"), float("nan"), 0)
    return TestResult(float(np.max(np.abs(ss))), combine(z_to_p(ss), None, method), int(ss.size))


def mvn_max_abs_p(zmax: float, rho: Any) -> float:
    """``P(max_t |S_t| ≥ zmax)`` for S ~ N(0, ρ) (Genz's algorithm via SciPy; one tissue: exact)."""
    r = np.asarray(rho, dtype=np.float64)
    T = r.shape[0]
    a = abs(float(zmax))
    if T == 1:
        return float(z_to_p(a))
    def outside(maxpts: int) -> float:
        kw = dict(mean=np.zeros(T), cov=r, allow_singular=True, maxpts=maxpts, abseps=1e-9, releps=0.0,
                  lower_limit=np.full(T, -a))
        try:  # SciPy >= 1.15 takes a generator for its randomized quasi-Monte Carlo: fixed, so reruns agree
            inside = stats.multivariate_normal.cdf(np.full(T, a), rng=np.random.default_rng(_MVN_SEED), **kw)
        except TypeError:
            inside = stats.multivariate_normal.cdf(np.full(T, a), **kw)
        return float(1.0 - inside)

    # GAMBIT's budget (50,000 points, absolute error 1e-9) only where it matters: small p-values
    p = outside(5_000)
    return outside(50_000) if p < 1e-3 else p


def _pruned(s: Any, rho: Any) -> tuple[np.ndarray, np.ndarray]:
    """The tissue z and correlation after :func:`prune_correlated` (CT-M and CT-Q test these)."""
    keep = prune_correlated(rho)
    return np.asarray(s, dtype=np.float64)[keep], np.asarray(rho, dtype=np.float64)[np.ix_(keep, keep)]


def ct_max(s: Any, rho: Any) -> TestResult:
    """CT-M: max |S_t| over the pruned tissues, MVN p-value capped by Bonferroni (``stat`` = max |S_t|)."""
    if np.size(s) == 0:
        return TestResult(float("nan"), float("nan"), 0)
    ss, r = _pruned(s, rho)
    zmax = float(np.max(np.abs(ss)))
    bonf = min(1.0, ss.size * float(z_to_p(zmax)))
    p = mvn_max_abs_p(zmax, r)
    if not (p > 0) or p > bonf:
        p = bonf
    return TestResult(zmax, p, int(ss.size))


def ct_q(s: Any, rho: Any) -> TestResult:
    """CT-Q: ``Σ S_t²`` over the pruned tissues against ``Σ λ χ²_1``, λ = eig(ρ) (``stat`` = Σ S_t²)."""
    if np.size(s) == 0:
        return TestResult(float("nan"), float("nan"), 0)
    ss, r = _pruned(s, rho)
    q = float(ss @ ss)
    return TestResult(q, liu_quadform_p(q, np.linalg.eigvalsh(r)), int(ss.size))


@dataclass(frozen=True)
class SMultiXcan:
    """S-MultiXcan of one gene: ``chi2 = sᵀ ρ⁺ s`` on ``n_indep`` df, p-value, and the |z| with that
    p-value (``z = Φ⁻¹(1 − p/2)``, for tables that rank genes by z); ``n`` tissues; eigenvalues of ρ."""

    chi2: float
    p: float
    z: float
    n: int
    n_indep: int
    eigen_max: float
    eigen_min: float


def smultixcan(s: Any, rho: Any, condition_number: float = SMULTIXCAN_CONDITION_NUMBER) -> SMultiXcan:
    """S-MultiXcan joint test from the tissue z ``s`` (T,) and their correlation ``rho`` (T, T).

    Follows MetaXcan's ``capinv``: SVD of ρ, singular values ≥ ``σ_max / condition_number`` are inverted
    (the first always), the others set to 0; ``n_indep`` = number inverted.
    """
    ss = np.asarray(s, dtype=np.float64)
    T = ss.size
    if T == 0:
        return SMultiXcan(float("nan"), float("nan"), float("nan"), 0, 0, float("nan"), float("nan"))
    r = np.asarray(rho, dtype=np.float64)
    U, sv, Vt = np.linalg.svd(r)
    keep = sv >= sv[0] / float(condition_number)
    keep[0] = True
    inv_s = np.where(keep, 1.0 / np.where(keep, sv, 1.0), 0.0)
    rinv = (Vt.T * inv_s) @ U.T
    chi2 = float(ss @ rinv @ ss)
    k = int(keep.sum())
    p = float(stats.chi2.sf(chi2, k))
    z = float(stats.norm.isf(p / 2.0)) if p > 0 else float("inf")
    return SMultiXcan(chi2, p, z, T, k, float(sv[0]), float(sv[-1]))
