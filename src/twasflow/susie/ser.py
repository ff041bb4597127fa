"""Single-effect regression (SER) and prior-variance estimation.

Every SuSiE flavour (individual data, sufficient statistics, RSS, RSS with the lambda model) reduces the
SER for one effect to two p-vectors computed from the residual of the other effects:

* ``zeta = X'r / sigma2`` (for the lambda model ``(Sigma^-1 R) r``), and
* ``prec = d / sigma2`` (for the lambda model ``diag(R Sigma^-1 R)``),

so that the marginal estimate is ``betahat = zeta / prec`` with variance ``shat2 = 1 / prec``. The log Bayes
factor, posterior moments and the SER's KL term are the same closed forms in all flavours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._brent import R_OPTIM_RELTOL, brent_min

PRIOR_METHODS = ("optim", "EM", "simple", "none")


@dataclass
class SERResult:
    """Output of one single-effect regression (arrays have length p)."""

    alpha: np.ndarray
    mu: np.ndarray
    mu2: np.ndarray
    lbf: np.ndarray
    lbf_model: float
    V: float
    KL: float


def log_bf(V: float, betahat: np.ndarray, shat2: np.ndarray) -> np.ndarray:
    """Per-variable log Bayes factor of ``b_j ~ N(0, V)`` vs ``b_j = 0`` given ``betahat_j ~ N(b_j, shat2_j)``:
    0.5 log(shat2 / (V + shat2)) + 0.5 (betahat^2 / shat2) V / (V + shat2).

    Variables with infinite ``shat2`` (no information, e.g. a constant column or the null column) get 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = 1.0 / shat2
        return _lbf_prec(V, prec, np.where(prec > 0, betahat * betahat * prec, 0.0))


def _lbf_prec(V: float, prec: np.ndarray, T2: np.ndarray) -> np.ndarray:
    """log BF from prec = 1 / shat2 and T2 = betahat^2 / shat2 (T2 = 0 where prec = 0)."""
    if V == 0.0:
        return np.zeros_like(prec)
    a = V * prec
    out = T2 * a
    out /= 1.0 + a
    out -= np.log1p(a)
    out *= 0.5
    return out


def _log_weighted_sum(lbf: np.ndarray, prior_weights: np.ndarray) -> tuple[float, np.ndarray, float]:
    m = float(lbf.max())
    w = np.exp(lbf - m) * prior_weights
    s = float(w.sum())
    return m + math.log(s), w, s


def _loglik_prec(V: float, prec: np.ndarray, T2: np.ndarray, prior_weights: np.ndarray) -> float:
    if V == 0.0:
        return math.log(float(prior_weights.sum()))
    return _log_weighted_sum(_lbf_prec(V, prec, T2), prior_weights)[0]


def optimize_prior_variance(
    method: str,
    prec: np.ndarray,
    T2: np.ndarray,
    prior_weights: np.ndarray,
    V_init: float,
    check_null_threshold: float,
    alpha: np.ndarray | None = None,
    post_mean2: np.ndarray | None = None,
) -> float:
    """Prior-variance update for one effect (susieR ``optimize_prior_variance`` semantics).

    ``prec`` = 1 / shat2 and ``T2`` = betahat^2 / shat2 per variable.
    ``optim``: maximise the SER log-likelihood over log V in [-30, 15] with Brent's method (optim's
    tolerance), keeping ``V_init`` if the optimum is not better. ``EM``: ``sum(alpha * post_mean2)``.
    ``simple``: keep ``V_init``. All methods then set V = 0 unless it beats V = 0 by more than
    ``check_null_threshold`` on the log-likelihood scale.
    """
    V = V_init
    if method == "optim":
        def negll(lv: float) -> float:
            return -_loglik_prec(math.exp(lv), prec, T2, prior_weights)

        lv = brent_min(negll, -30.0, 15.0, R_OPTIM_RELTOL)
        if negll(lv) > -_loglik_prec(V_init, prec, T2, prior_weights):
            V = V_init
        else:
            V = math.exp(lv)
    elif method == "EM":
        assert alpha is not None and post_mean2 is not None
        V = float(np.dot(alpha, post_mean2))
    elif method != "simple":
        raise ValueError(f"unknown prior-variance method {method!r}")
    if _loglik_prec(0.0, prec, T2, prior_weights) + check_null_threshold >= _loglik_prec(V, prec, T2, prior_weights):
        V = 0.0
    return V


def single_effect_regression(
    zeta: np.ndarray,
    prec: np.ndarray,
    V: float,
    prior_weights: np.ndarray,
    method: str = "none",
    check_null_threshold: float = 0.0,
) -> SERResult:
    """Fit one single effect.

    Parameters
    ----------
    zeta : (p,) X'r / sigma2 for the residual r of the other effects.
    prec : (p,) d / sigma2, the precision of the marginal estimate (0 = no information).
    V : prior variance of the effect (used as the start / fixed value).
    prior_weights : (p,) prior inclusion probabilities, summing to 1.
    method : "optim", "EM", "simple" or "none" (V fixed).
    """
    # betahat^2 / shat2 = zeta^2 / prec; 0 where there is no information (prec = 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        T2 = np.where(prec > 0, zeta * zeta / prec, 0.0)
    if method in ("optim", "simple"):
        V = optimize_prior_variance(method, prec, T2, prior_weights, V, check_null_threshold)
    lbf = _lbf_prec(V, prec, T2)
    lbf_model, w, s = _log_weighted_sum(lbf, prior_weights)
    alpha = w / s
    with np.errstate(divide="ignore"):
        post_var = 1.0 / (prec + (1.0 / V if V > 0 else np.inf))
    mu = post_var * zeta
    mu2 = post_var + mu * mu
    if method == "EM":
        V = optimize_prior_variance("EM", prec, T2, prior_weights, V, check_null_threshold,
                                    alpha=alpha, post_mean2=mu2)
    # KL(q || prior) = -log marginal lik + E_q[log lik]; the y'y and log(2 pi sigma2) terms cancel.
    Eb = alpha * mu
    KL = -lbf_model + float(np.dot(Eb, zeta)) - 0.5 * float(np.dot(prec, alpha * mu2))
    return SERResult(alpha=alpha, mu=mu, mu2=mu2, lbf=lbf, lbf_model=lbf_model, V=V, KL=KL)
