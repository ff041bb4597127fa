"""The single-annotation test forms of GAMBIT (Quick et al.; Table 1) on one variant set.

* L-type: ``T_L = wᵀz / √(wᵀ R w)`` ~ N(0, 1) (burden, TWAS/PrediXcan);
* Q-type: ``T_Q = zᵀ diag(w) z`` ~ ``Σ_k λ_k χ²_1`` with λ the eigenvalues of ``diag(w)^½ R diag(w)^½``
  (SKAT/SOCS), p-value by Liu, Tang & Zhang's (2009) four-cumulant approximation
  (:func:`twasflow.methods._inf.liu_sf`);
* single-variant p-values ``p_j = P(χ²_1 > z_j²)`` for the p-value combinations.

LD-mismatch safeguard (GAMBIT's ``LD_MISMATCH`` flag): a Q-type p-value computed with the LD that is
below 1e-3 and below the p-value without LD (R = I) is suspicious: positive LD spreads the eigenvalues
and makes the LD-adjusted tail heavier, so the adjusted p-value is normally the larger one. The no-LD p
is reported instead and the row flagged. For L-type tests the flag is raised when ``wᵀRw < wᵀw`` and
``T_L² > 8``; the no-LD variance ``wᵀw`` is then used. (Both rules are GAMBIT v0.2's; config
``gene_tests.ld_safeguard: gambit``.) Under a reference LD that fits, the L-type rule only shrinks large null
statistics (every one with ``wᵀRw < wᵀw``): the test becomes conservative (benchmarks/RESULTS.md).

The default safeguard (``ld_safeguard: lambda``) instead models the mismatch, as susieR does: the z-scores'
null covariance is ``(1 − s) R + s I`` with ``s`` (λ) estimated per locus under the null
(:func:`twasflow.susie.estimate_s_rss`, the LD-mismatch gate's estimate), and every test uses that covariance
(:func:`mismatch_ld`): ``s ≈ 0`` when the panel fits (the tests stay exact), ``s → 1`` moves them continuously
to GAMBIT's no-LD fallback. Both of GAMBIT's endpoints are special cases.

Numerical module: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import warnings

import numpy as np
from scipy import integrate, stats

from ..methods._inf import liu_sf
from ..twas import z_to_p

OK = "OK"
LD_MISMATCH = "LD_MISMATCH"
Q_MISMATCH_P = 1e-3  # GAMBIT: flag only LD-adjusted Q p-values below this
L_MISMATCH_CHI2 = 8.0  # GAMBIT: flag only L-type statistics with T^2 above this


#: ``gene_tests.ld_safeguard`` values: susieR's mismatch model (default), GAMBIT's rule, none
SAFEGUARDS = ("lambda", "gambit", "none")


def mismatch_ld(R: Any, s: float) -> np.ndarray:
    """``(1 − s) R + s I``: the null covariance of z under LD mismatch ``s`` ∈ [0, 1] (susieR's model)."""
    RR = np.asarray(R, dtype=np.float64)
    out = (1.0 - float(s)) * RR
    out[np.diag_indices_from(out)] += float(s)
    return out


@dataclass(frozen=True)
class TestResult:
    """One test: statistic, p-value, number of variants, flag (``OK`` or ``LD_MISMATCH``)."""

    stat: float
    p: float
    n_variants: int
    flag: str = OK


def single_p(z: Any) -> np.ndarray:
    """Two-sided single-variant p-values ``P(χ²_1 > z²)`` (NaN stays NaN)."""
    return z_to_p(z)


def liu_quadform_p(q: float, lam: Any) -> float:
    """``P(Σ λ_k χ²_1 > q)`` by Liu–Tang–Zhang from the eigenvalues ``lam`` (negative rounding noise → 0)."""
    ll = np.clip(np.asarray(lam, dtype=np.float64), 0.0, None)
    ll = ll[ll > 0]
    if ll.size == 0:
        return 1.0
    if ll.size == 1:
        return float(stats.chi2.sf(q / ll[0], 1))
    c = [float(np.sum(ll**k)) for k in range(1, 5)]
    return float(liu_sf(q, *c))


def imhof_quadform_p(q: float, lam: Any) -> float:
    """Exact ``P(Σ λ_k χ²_1 > q)`` by Imhof's (1961) inversion of the characteristic function.

    ``1/2 + (1/π) ∫_0^∞ sin θ(u) / (u ρ(u)) du`` with ``θ = ½ Σ arctan(λ u) − ½ q u`` and
    ``ρ = Π (1 + λ² u²)^{1/4}``, integrated one oscillation period (4π/q) at a time over 40 periods, then to ∞ as Fourier integrals.
    Slower than Liu (~60 ms) and accurate to ~1e-11 absolute (vs χ² with equal λ: 5e-7 relative at p = 4e-5, 0.5%
    at 2e-9; below ~1e-10 the cancellation in ½ + integral dominates); the tests check it against Monte Carlo.
    """
    ll = np.clip(np.asarray(lam, dtype=np.float64), 0.0, None)
    ll = ll[ll > 0]
    if ll.size == 0 or not q > 0:
        return 1.0 if ll.size == 0 or q <= 0 else float("nan")
    if ll.size == 1:
        return float(stats.chi2.sf(q / ll[0], 1))

    def amp(u: float) -> float:  # 1 / (u rho(u))
        return float(1.0 / (u * np.prod((1.0 + (ll * u) ** 2) ** 0.25)))

    def f(u: float) -> float:
        return float(np.sin(0.5 * np.sum(np.arctan(ll * u)) - 0.5 * q * u)) * amp(u)

    per = 4.0 * np.pi / q
    edges = np.arange(0.0, 41.0) * per
    tot = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        for a, b in zip(edges[:-1], edges[1:]):
            tot += integrate.quad(f, a, b, epsabs=1e-15, epsrel=1e-12)[0]
        # the tail as Fourier integrals (QAWF): sin(A - q u / 2) = sin A cos(q u / 2) - cos A sin(q u / 2),
        # A(u) = ½ Σ arctan(λ u) varies slowly
        u0 = float(edges[-1])
        tot += integrate.quad(lambda u: np.sin(0.5 * np.sum(np.arctan(ll * u))) * amp(u), u0, np.inf,
                              weight="cos", wvar=0.5 * q, limlst=200)[0]
        tot -= integrate.quad(lambda u: np.cos(0.5 * np.sum(np.arctan(ll * u))) * amp(u), u0, np.inf,
                              weight="sin", wvar=0.5 * q, limlst=200)[0]
    return float(min(1.0, max(0.0, 0.5 + tot / np.pi)))


Q_PVALUE = {"liu": liu_quadform_p, "imhof": imhof_quadform_p}


def q_test(z: Any, R: Any, w: Any = None, *, safeguard: bool = True, pvalue: str = "liu") -> TestResult:
    """Q-type test ``zᵀ diag(w) z`` of one variant set.

    Parameters
    ----------
    z : (m,) GWAS z-scores.
    R : (m, m) LD correlation of the same variants (the z-scores' null correlation).
    w : (m,) non-negative weights (default 1).
    safeguard : apply the LD-mismatch rule (module docstring).
    pvalue : ``liu`` (GAMBIT's and SKAT's approximation; anti-conservative below ~1e-4) or ``imhof`` (exact).

    Returns
    -------
    :class:`TestResult` with ``stat = T_Q``. One variant: ``p = P(χ²_1 > w z² / (w R_11))`` exactly.
    """
    zz = np.asarray(z, dtype=np.float64)
    m = zz.size
    if m == 0:
        return TestResult(float("nan"), float("nan"), 0)
    ww = np.ones(m) if w is None else np.asarray(w, dtype=np.float64)
    if np.any(ww < 0):
        raise ValueError("q_test: weights must be non-negative")
    q = float(np.sum(ww * zz * zz))
    sw = np.sqrt(ww)
    K = np.asarray(R, dtype=np.float64) * np.outer(sw, sw)
    lam = np.linalg.eigvalsh(K)
    sf = Q_PVALUE[pvalue]
    p = sf(q, lam) if m > 1 else liu_quadform_p(q, lam)
    if not safeguard or m == 1:
        return TestResult(q, p, m)
    p0 = sf(q, ww)
    if p0 > p and p < Q_MISMATCH_P:
        return TestResult(q, p0, m, LD_MISMATCH)
    return TestResult(q, p, m)


def l_test(z: Any, R: Any, w: Any, *, safeguard: bool = True) -> TestResult:
    """L-type test ``wᵀz / √(wᵀ R w)`` (``stat`` is the signed z).

    A single variant gives ``sign(w) z``. Zero variance (all-zero weights) gives NaN.
    """
    zz = np.asarray(z, dtype=np.float64)
    ww = np.asarray(w, dtype=np.float64)
    m = int(np.count_nonzero(ww))
    if m == 0:
        return TestResult(float("nan"), float("nan"), 0)
    num = float(ww @ zz)
    var = float(ww @ np.asarray(R, dtype=np.float64) @ ww)
    var0 = float(ww @ ww)
    flag = OK
    if not var > 0:
        return TestResult(float("nan"), float("nan"), m)
    if safeguard and var < var0 and num * num / var > L_MISMATCH_CHI2:
        var, flag = var0, LD_MISMATCH
    t = num / np.sqrt(var)
    return TestResult(t, float(z_to_p(t)), m, flag)
