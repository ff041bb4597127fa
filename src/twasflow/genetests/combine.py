"""Combining dependent p-values: the harmonic mean p-value (HMP) with its Landau null, and ACAT.

HMP (Wilson 2019, PNAS 116:1195). With weights ``w`` (normalized to sum 1) the HMP of ``L`` p-values is
``H = 1 / Σ w_i / p_i``. For p_i uniform, ``1/p_i`` has tail ``P(1/p > x) = 1/x`` (Pareto), so by the
generalized central limit theorem ``1/H`` is asymptotically stable with index 1, skewness 1, scale π/2 and
location ``log L + 1 + ψ(1) + log(π/2)`` in the S0 parameterization (``ψ(1) = −γ``). In the standard Landau
form (density ``(1/π) ∫_0^∞ exp(−t log t − v t) sin(π t) dt``, the form of CERNLIB/ROOT) this is

    1/H − log L − (1 − γ)  ~  Landau(0, 1),

(derivation: ``L log φ_{1/p}(t/L) → −(π/2) t − i t log t + i t (1 − γ) + i t log L`` for t > 0, and the
standard Landau's characteristic function is ``exp(−(π/2) t − i t log t)``). The HMP p-value is then
``landau_sf(1/H − log L − 1 + γ)``. GAMBIT (v0.2) maps the same S0 law to ROOT's Landau with a location
shifted by ``log(π/2) − (π/4) γ ≈ −0.00175`` (its ``x0 = ψ(1)/2``); the difference is below 0.2% of the
p-value at p ≈ 0.5 and vanishes in the tail (docs/genetests.md).

A single p-value is returned unchanged by both combinations (HMP of one p is p, and p is exactly uniform).

Numerical module: no I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.polynomial.legendre import leggauss

from ..twas import acat

EULER_GAMMA = 0.5772156649015329
# the HMP's Landau location offset 1 - gamma (1 + digamma(1)); the scale pi/2 is absorbed by the standard form
_HMP_SHIFT = 1.0 - EULER_GAMMA

# Quadrature rules for the standard Landau survival function (built once; see landau_sf). Both integrals are
# taken in s = sqrt(t) (resp. sqrt(u)): the integrands' t log t term is then smooth enough for Gauss-Legendre.
_S_MID, _W_MID = leggauss(400)
_S_MID_MAX = np.sqrt(60.0)  # exp(-t log t + 3 t) < 1e-40 beyond t = 60 for v >= -3
_S_MID = 0.5 * _S_MID_MAX * (_S_MID + 1.0)
_W_MID = 0.5 * _S_MID_MAX * _W_MID
_T_MID = _S_MID * _S_MID
_S_TAIL, _W_TAIL = leggauss(200)
_S_TAIL = 3.5 * (_S_TAIL + 1.0)  # u = s^2 in [0, 49]: exp(-49) is below double precision relative to 1
_W_TAIL = 3.5 * _W_TAIL * 2.0 * _S_TAIL * np.exp(-_S_TAIL * _S_TAIL)
_V_TAIL = 5.0  # u = v t substitution from here on
_V_LEFT = -3.0  # below: the left-tail asymptotic of the distribution function
# Kolbig & Schorr (1984) left-tail series of the Landau CDF in u = exp(v + 1)
_LEFT_SERIES = (1.0, -0.4583333333, 0.6675347222, -1.641741416)


def _g(t: np.ndarray) -> np.ndarray:
    """``exp(−t log t) sin(π t) / t`` with its limit π at t = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.exp(-t * np.log(t)) * np.sin(np.pi * t) / t
    return np.where(t > 0, out, np.pi)


def landau_sf(v: Any) -> np.ndarray:
    """Survival function ``P(V > v)`` of the standard Landau distribution (vectorized).

    ``P(V > v) = (1/π) ∫_0^∞ exp(−t log t − v t) sin(π t) / t dt`` (the density's integral from v to ∞).

    * ``v ≥ 5``: ``(1/(π v)) ∫_0^∞ e^{−u} g(u / v) du`` (``u = v t``), 200-point Gauss–Legendre in
      ``s = √u`` on [0, 7]; relative accuracy ~1e-14 (vs adaptive quadrature), exact ``1/v`` far tail.
    * ``−3 ≤ v < 5``: 400-point Gauss–Legendre in ``s = √t`` on t ∈ [0, 60]; absolute accuracy ~1e-13.
    * ``v < −3``: ``1 − F(v)`` with Kolbig & Schorr's asymptotic series of the CDF ``F`` (F(−3) ≈ 2e-4;
      only p-values near 1 live there).

    The tests check this against adaptive quadrature, a Monte Carlo of the HMP's null, and
    ``scipy.stats.landau`` where available (SciPy ≥ 1.15).
    """
    vv = np.asarray(v, dtype=np.float64)
    out = np.empty_like(vv)
    flat, res = vv.ravel(), out.ravel()
    tail = flat >= _V_TAIL
    left = flat < _V_LEFT
    mid = ~tail & ~left & np.isfinite(flat)
    if tail.any():
        x = flat[tail]
        res[tail] = (_g(_S_TAIL[None, :] ** 2 / x[:, None]) @ _W_TAIL) / (np.pi * x)
    if mid.any():
        x = flat[mid]
        # dt = 2 s ds: the integrand sin(pi t) / t * 2 s = 2 sin(pi s^2) / s
        base = np.exp(-_T_MID * np.log(_T_MID)) * 2.0 * np.sin(np.pi * _T_MID) / _S_MID * _W_MID
        res[mid] = np.clip(np.exp(-np.outer(x, _T_MID)) @ base / np.pi, 0.0, 1.0)
    if left.any():
        u = np.exp(flat[left] + 1.0)
        series = _LEFT_SERIES[0] + u * (_LEFT_SERIES[1] + u * (_LEFT_SERIES[2] + u * _LEFT_SERIES[3]))
        res[left] = 1.0 - np.exp(-1.0 / u) * np.sqrt(u) * series / np.sqrt(2.0 * np.pi)
    res[np.isposinf(flat)] = 0.0
    res[np.isnan(flat)] = np.nan
    return out


def hmp(p: Any, weights: Any = None) -> float:
    """Asymptotically exact harmonic mean p-value (Wilson 2019) of ``p`` with optional weights.

    ``H = Σ w / Σ (w / p)`` over the non-NaN p-values (L of them), p-value
    ``P(Landau > 1/H − log L − 1 + γ)``. One p-value is returned as is; none gives NaN; a zero p gives 0.
    Weights must be non-negative; they need not sum to 1.
    """
    pp = np.asarray(p, dtype=np.float64).ravel()
    ww = np.ones_like(pp) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if ww.shape != pp.shape:
        raise ValueError(f"hmp: {pp.size} p-values but {ww.size} weights")
    ok = ~np.isnan(pp)
    pp, ww = pp[ok], ww[ok]
    if pp.size == 0:
        return float("nan")
    if np.any(ww < 0):
        raise ValueError("hmp: weights must be non-negative")
    if np.any(pp == 0):
        return 0.0
    if pp.size == 1:
        return float(pp[0])
    if not np.sum(ww) > 0:
        return float("nan")
    inv_h = float(np.sum(ww / pp) / np.sum(ww))
    return float(landau_sf(inv_h - np.log(pp.size) - _HMP_SHIFT))


COMBINERS = ("hmp", "acat")


def combine(p: Any, weights: Any = None, method: str = "hmp") -> float:
    """Combine p-values by ``method``: ``hmp`` (:func:`hmp`) or ``acat`` (:func:`twasflow.twas.acat`).

    Both return a single p-value unchanged (ACAT of one p is p: ``tan`` and ``arctan`` invert each other).
    """
    if method == "hmp":
        return hmp(p, weights)
    if method == "acat":
        return acat(p, weights)
    raise ValueError(f"unknown p-value combination {method!r}; expected one of {COMBINERS}")
