"""SuSiE-RSS with a fixed prior variance per variable and cTWAS's null weight (``ctwas_susie_rss``).

cTWAS ships a modified susieR (``R/susie_*.R``) whose prior variance is an (L, p) matrix held fixed
(``estimate_prior_variance = FALSE``): each variable's prior variance is its group's. Our engine
(:mod:`twasflow.susie`) has one scalar V per effect, so this module runs the same IBSS on summary data
with a per-variable V:

* ``susie_rss(z, R)`` without n: X'X = R, X'y = z, residual variance 1, no standardisation, y'y = p - 1
  and n = p (with the null column appended, p counts it).
* Null weight ``w0``: a column with X'X = 0, z = 0 and V = 0 is appended (its Bayes factor is 1); prior
  weights become ``(pw (1 - w0), w0)`` normalised to sum 1. cTWAS calls it with ``pw = pi / (1 - pi)``
  and ``w0 = 0.5`` (``null_method="ctwas"``), so a single effect picks variable j with prior
  probability ``odds_j / (1 + sum odds)`` and "no effect" with ``1 / (1 + sum odds)``.
* IBSS from alpha = 1/p, mu = 0; stop when the ELBO gains less than ``tol`` (1e-3) or after ``max_iter``
  (100) sweeps.
* PIP = 1 - prod_l (1 - alpha_l) over all effects (cTWAS keeps effects with tiny V, unlike susieR);
  credible sets from every effect (no V filter), deduplicated, purity from R (min |r| >= ``min_abs_corr``;
  a set holding the null column is dropped), ordered by purity.

Numerical module: no I/O. One (p,) mat-vec with R per effect per sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from twasflow.susie.operator import SymOperator, as_operator
from twasflow.susie.sets import CredibleSet, get_cs


@dataclass
class VSusieFit:
    """Fit of :func:`susie_rss_fixed_v` (p real variables; the null column, if any, is at index p).

    alpha, mu, mu2, lbf_variable : (L, p + has_null); pip : (p,); lbf, KL : (L,); elbo : one value per sweep.
    """

    alpha: np.ndarray
    mu: np.ndarray
    mu2: np.ndarray
    lbf: np.ndarray
    lbf_variable: np.ndarray
    KL: np.ndarray
    elbo: np.ndarray
    niter: int
    converged: bool
    pip: np.ndarray
    sets: list[CredibleSet] = field(default_factory=list)
    null_index: int | None = None

    def posterior_mean(self) -> np.ndarray:
        """(p,) sum_l alpha_l mu_l (z scale)."""
        p = self.pip.size
        return (self.alpha[:, :p] * self.mu[:, :p]).sum(axis=0)

    def posterior_sd(self) -> np.ndarray:
        """(p,) posterior SD of b (z scale)."""
        p = self.pip.size
        a, m, m2 = self.alpha[:, :p], self.mu[:, :p], self.mu2[:, :p]
        return np.sqrt(np.maximum((a * m2 - (a * m) ** 2).sum(axis=0), 0.0))


def susie_rss_fixed_v(
    z: np.ndarray,
    R: np.ndarray | SymOperator,
    V: np.ndarray,
    prior_weights: np.ndarray,
    *,
    null_weight: float | None = None,
    L: int = 5,
    coverage: float = 0.95,
    min_abs_corr: float = 0.1,
    max_iter: int = 100,
    tol: float = 1e-3,
    n_purity: int = 100,
    seed: int = 0,
) -> VSusieFit:
    """Fit SuSiE-RSS with a fixed per-variable prior variance.

    Parameters
    ----------
    z : (p,) z-scores. R : (p, p) correlation matrix (symmetric), or a :class:`twasflow.susie.SymOperator`
        standing for it (e.g. the factored joint system of ``twasflow.methods.joint``).
    V : (p,) prior variances (z scale, >= 0).
    prior_weights : (p,) non-negative prior weights (normalised here). null_weight : in [0, 1) or None.
    L : number of single effects (capped at the number of columns). coverage, min_abs_corr : credible sets.
    max_iter, tol : IBSS limits. n_purity, seed : purity subsample of sets larger than n_purity.
    """
    p = z.size
    op = as_operator(R)
    d = np.asarray(op.diag(), dtype=np.float64).copy()
    pw = np.asarray(prior_weights, dtype=np.float64)
    has_null = null_weight is not None and null_weight > 0
    if has_null:
        pw = np.append(pw * (1.0 - null_weight), null_weight)
    q = p + 1 if has_null else p
    pw = pw / pw.sum()
    L = min(L, q)
    Vf = np.zeros(q)
    Vf[:p] = V
    df = np.zeros(q)
    df[:p] = d
    # per-variable constants of the SER: prior and data precision (residual variance 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        post_var = np.where(Vf > 0, 1.0 / (1.0 / Vf + df), 0.0)
        half_log = np.where((Vf > 0) & (df > 0), -0.5 * np.log1p(Vf * df), 0.0)
        shrink = np.where(df > 0, Vf / (1.0 + Vf * df), 0.0)  # lbf = half_log + 0.5 shrink (X'r)^2
    log_pw = np.log(pw, where=pw > 0, out=np.full(q, -np.inf))

    alpha = np.full((L, q), 1.0 / q)
    mu = np.zeros((L, q))
    mu2 = np.zeros((L, q))
    lbf_var = np.full((L, q), np.nan)
    lbf = np.full(L, np.nan)
    KL = np.full(L, np.nan)
    RB = np.zeros((L, p))  # R (alpha_l mu_l), kept per effect so each sweep needs one mat-vec per effect
    fit_sum = np.zeros(p)
    zq = np.zeros(q)
    zq[:p] = z
    n_eff, yty = float(q), float(q - 1)
    elbo: list[float] = []
    prev = -math.inf
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        for l in range(L):
            fit_sum -= RB[l]
            xr = zq.copy()
            xr[:p] -= fit_sum
            lb = half_log + 0.5 * shrink * xr * xr
            lw = lb + log_pw
            m = float(lw.max())
            w = np.exp(lw - m)
            s = float(w.sum())
            a = w / s
            mean = post_var * xr
            sec = post_var + mean * mean
            lbf_model = m + math.log(s)
            Eb = a * mean
            # KL = -log marginal + E_q[log lik] of this SER (susieR's SER_posterior_e_loglik_ss)
            KL[l] = -lbf_model - 0.5 * (-2.0 * float(Eb @ xr) + float(df @ (a * sec)))
            alpha[l], mu[l], mu2[l], lbf_var[l], lbf[l] = a, mean, sec, lb, lbf_model
            RB[l] = op.matvec(Eb[:p])
            fit_sum += RB[l]
        Bm = alpha[:, :p] * mu[:, :p]
        bbar = Bm.sum(axis=0)
        er2 = (yty - 2.0 * float(bbar @ z) + float(bbar @ fit_sum) - float(np.einsum("lp,lp->", Bm, RB))
               + float(df[:p] @ (alpha[:, :p] * mu2[:, :p]).sum(axis=0)))
        e = -0.5 * n_eff * math.log(2.0 * math.pi) - 0.5 * er2 - float(KL.sum())
        elbo.append(e)
        if e - prev < tol:
            converged = True
            break
        prev = e
    pip = 1.0 - np.prod(1.0 - alpha[:, :p], axis=0)
    null_index = p if has_null else None
    sets: list[CredibleSet] = []
    if coverage is not None:
        sets = get_cs(alpha, None, lbf, coverage=coverage, min_abs_corr=min_abs_corr,
                      corr=op.corr, null_index=null_index, n_purity=n_purity, seed=seed)
    return VSusieFit(alpha, mu, mu2, lbf, lbf_var, KL, np.asarray(elbo), it, converged, pip, sets, null_index)
