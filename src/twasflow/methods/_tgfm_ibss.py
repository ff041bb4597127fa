"""TGFM's per-draw SuSiE-RSS fits, all draws of a locus at once.

Every draw fits ``susie_rss(z_d, J_d, n, L, prior_weights=pw_d, model_init=init)`` on its own joint system
``J_d = A_d' R A_d`` (``twasflow.methods.joint``), and the draws share R. Run one at a time, each product
``J_d x`` is a memory-bound matrix-vector product with R; run in lockstep, the products of all unfinished
draws with R are one matrix-matrix product ``Y R`` (BLAS-3), and the W parts are one sparse product with
the block-diagonal matrix of every draw's weights. Each draw follows exactly the IBSS of
:func:`twasflow.susie.susie_rss` (same initialization, single-effect regressions, prior-variance update,
``check_prior``, ELBO and stopping rule): the fits agree with one-at-a-time fits to rounding (the tests
check 1e-8). Draws leave the batch when they converge.

Supported: the ``EM`` and ``simple`` prior-variance updates with a fixed residual variance (susie_rss's
defaults, TGFM's choice); other settings use :func:`twasflow.susie.susie_rss` per draw.

Numerical module: no I/O.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from twasflow.errors import SusieError
from twasflow.susie._validate import prior_weights_with_null
from twasflow.susie.ibss import init_state
from twasflow.susie.operator import SPARSE_REL_TOL
from twasflow.susie.rss import _RSS_NOT_CONVERGED, _psd_warning

from .joint import JointOperator

BATCH_METHODS = ("EM", "simple")
_LOG_2PI = math.log(2.0 * math.pi)
_SCALED_PRIOR_VARIANCE = 0.2  # susie_rss's default
_PRIOR_TOL = 1e-9  # susie's default prior_tol (PIPs and posterior summaries)


@dataclass
class DrawFits:
    """Per-draw summaries (D draws, p = Pm + M joint variables, standardized scale).

    pip, mean, sd : (D, p) PIP, posterior mean and SD; elbo : (D,) final ELBO; niter : (D,); converged : (D,).
    """

    pip: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    elbo: np.ndarray
    niter: np.ndarray
    converged: np.ndarray


class _BatchProduct:
    """``J_d x_d`` for rows x_d of an (k, p) array, for any subset of the draws (see the module docstring)."""

    def __init__(self, systems: Sequence[JointOperator]) -> None:
        J0 = systems[0]
        self.D, self.Pm, self.M = len(systems), J0.Pa, J0.M
        self.R = J0.ld.R
        Wall = sp.vstack([sp.csr_matrix(J.Ws) for J in systems], format="coo")
        d = Wall.row // max(self.Pm, 1)
        # block-diagonal (D M, D Pm): entry (d M + m, d Pm + j) = w_d[j, m]; and its transpose
        self.Wbd = sp.csr_matrix((Wall.data, (d * self.M + Wall.col, Wall.row)),
                                 shape=(self.D * self.M, self.D * self.Pm))
        self.WbdT = sp.csr_matrix(self.Wbd.T)
        self.fix = np.stack([J._fix for J in systems]) if self.Pm else np.zeros((self.D, 0))

    def __call__(self, x: np.ndarray, draws: np.ndarray) -> np.ndarray:
        Pm, M = self.Pm, self.M
        k = draws.size
        out = np.zeros((k, Pm + M))
        xp = x[:, :Pm]
        Y = x[:, Pm:].copy()
        if Pm and np.any(xp):
            full = np.zeros((self.D, Pm))
            full[draws] = xp
            Y += (self.Wbd @ full.ravel()).reshape(self.D, M)[draws]
        ay = np.abs(Y)
        mx = ay.max(axis=1, initial=0.0)
        live = mx > 0
        if not live.any():
            out[:, :Pm] = self.fix[draws] * xp
            return out
        # as SymMatvec: entries below 1e-14 of a row's largest are left out; rows of R only where needed
        keep = np.flatnonzero((ay > SPARSE_REL_TOL * mx[:, None]).any(axis=0))
        U = np.zeros((k, M))
        if keep.size <= 0.5 * M:
            U[live] = np.where(ay[live][:, keep] > SPARSE_REL_TOL * mx[live, None], Y[live][:, keep], 0.0) \
                @ self.R[keep]
        else:
            U[live] = Y[live] @ self.R
        out[:, Pm:] = U
        if Pm:
            full = np.zeros((self.D, M))
            full[draws] = U
            out[:, :Pm] = (self.WbdT @ full.ravel()).reshape(self.D, Pm)[draws] + self.fix[draws] * xp
        return out


def fit_draws(zs: np.ndarray, systems: Sequence[JointOperator], n: float, L: int, pw: np.ndarray, *,
              method: str, max_iter: int, tol: float, init: Any = None, check_R: bool = False) -> DrawFits:
    """SuSiE-RSS on every draw's joint system, in lockstep.

    Parameters
    ----------
    zs : (D, p) joint z of each draw. systems : D :class:`JointOperator` sharing one LocusLD.
    n : GWAS sample size. L : effects. pw : (D, p) prior weights (normalized per draw; zeros allowed).
    method : ``EM`` or ``simple``. max_iter, tol : IBSS limits. init : model_init for every draw (dict of
    alpha, mu, mu2) or None. check_R : warn, as susie_rss, when R is not PSD.
    """
    if method not in BATCH_METHODS:
        raise ValueError(f"batched IBSS supports {BATCH_METHODS}, not {method!r}")
    D, p = zs.shape
    J0 = systems[0]
    msgs: list[str] = []
    if check_R:
        _psd_warning(J0, msgs)
    nm1 = n - 1.0
    adj = nm1 / (zs * zs + n - 2.0)
    za = np.sqrt(adj) * zs
    dM = J0.diag()  # pair diagonal 1, variants diag(R): the same in every draw
    dXtX = nm1 * dM
    csd = np.sqrt(dXtX / nm1)
    csd[csd == 0] = 1.0
    d = ((1.0 / csd) * dXtX) / csd
    Xty = (math.sqrt(nm1) * za) / csd
    s_eff = None if np.all(1.0 / csd == 1.0) else 1.0 / csd
    with np.errstate(divide="ignore", invalid="ignore"):
        zz = (Xty / d) / np.sqrt(1.0 / d)
    max_V = 100.0 * np.nanmax(np.abs(zz), axis=1) ** 2
    pi = np.stack([prior_weights_with_null(pw[k], 0.0, p)[0] for k in range(D)])
    V0 = _SCALED_PRIOR_VARIANCE * 1.0  # var(y) = y'y / (n - 1) = 1
    states = [init_state(p, L, V0, 1.0, pi[k], init)[0] for k in range(D)]
    Lf = states[0].alpha.shape[0]
    alpha = np.stack([s.alpha for s in states])  # (D, L, p)
    mu = np.stack([s.mu for s in states])
    mu2 = np.stack([s.mu2 for s in states])
    V = np.stack([s.V for s in states])  # (D, L)
    del states
    prod = _BatchProduct(systems)

    def matvec(x: np.ndarray, draws: np.ndarray) -> np.ndarray:
        xs = x if s_eff is None else x * s_eff
        y = prod(xs, draws)
        if s_eff is not None:
            y *= s_eff
        return y * nm1

    XtXb = np.zeros((D, Lf, p))
    allD = np.arange(D)
    for l in range(Lf):
        b = alpha[:, l] * mu[:, l]
        nz = np.flatnonzero(np.any(b != 0, axis=1))
        if nz.size:
            XtXb[nz, l] = matvec(b[nz], nz)
    XtXr = XtXb.sum(axis=1)
    KL = np.full((D, Lf), np.nan)
    elbo_last = np.full(D, -np.inf)
    prev = np.full(D, -np.inf)
    niter = np.zeros(D, dtype=np.int64)
    converged = np.zeros(D, dtype=bool)
    log_sum_pi = np.log(pi.sum(axis=1))
    act = allD
    for it in range(1, max_iter + 1):
        if act.size == 0:
            break
        niter[act] = it
        for l in range(Lf):
            XtXr[act] -= XtXb[act, l]
            zeta = Xty[act] - XtXr[act]  # sigma2 = 1
            a_, m_, m2_, V_, kl_ = _ser(zeta, d, V[act, l], pi[act], log_sum_pi[act], method)
            alpha[act, l], mu[act, l], mu2[act, l], V[act, l], KL[act, l] = a_, m_, m2_, V_, kl_
            b = a_ * m_
            nz = np.any(b != 0, axis=1)
            new = np.zeros((act.size, p))
            if nz.any():
                new[nz] = matvec(b[nz], act[nz])
            XtXb[act, l] = new
            XtXr[act] += new
        if np.any(V[act] > max_V[act, None]):
            raise SusieError(
                "The estimated prior variance is unreasonably large. This is usually caused by mismatch "
                "between the summary statistics and the LD matrix. Please check the input.")
        A, Mu, A2 = alpha[act], mu[act], mu2[act]
        Bm = A * Mu
        bbar = Bm.sum(axis=1)
        er2 = (nm1 - 2.0 * np.einsum("kp,kp->k", bbar, Xty[act]) + np.einsum("kp,kp->k", bbar, XtXr[act])
               - np.einsum("klp,klp->k", Bm, XtXb[act]) + np.einsum("p,kp->k", d, (A * A2).sum(axis=1)))
        e = -0.5 * n * _LOG_2PI - er2 / 2.0 - KL[act].sum(axis=1)
        if not np.all(np.isfinite(e)):
            raise SusieError("The SuSiE objective became infinite. Please check the input.")
        elbo_last[act] = e
        conv = e - prev[act] < tol
        converged[act[conv]] = True
        prev[act] = e
        act = act[~conv]
    if act.size:
        msgs.extend([_RSS_NOT_CONVERGED.format(n=max_iter)] * act.size)
    for m in dict.fromkeys(msgs):
        warnings.warn(m, stacklevel=2)
    inc = (V > _PRIOR_TOL)[:, :, None]
    pip = 1.0 - np.prod(np.where(inc, 1.0 - alpha, 1.0), axis=1)
    am = np.where(inc, alpha * mu, 0.0)
    mean = am.sum(axis=1) / csd
    var = np.where(inc, alpha * mu2 - (alpha * mu) ** 2, 0.0).sum(axis=1)
    sd = np.sqrt(var) / csd
    return DrawFits(pip=pip, mean=mean, sd=sd, elbo=elbo_last, niter=niter, converged=converged)


def _ser(zeta: np.ndarray, prec: np.ndarray, V: np.ndarray, pi: np.ndarray, log_sum_pi: np.ndarray, method: str
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``twasflow.susie.ser.single_effect_regression`` for k rows at once (prec shared, > 0 where used)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        T2 = np.where(prec > 0, zeta * zeta / prec, 0.0)
    if method == "simple":
        V = np.where(log_sum_pi >= _loglik(V, prec, T2, pi), 0.0, V)
    lbf = _lbf(V, prec, T2)
    m = lbf.max(axis=1)
    w = np.exp(lbf - m[:, None]) * pi
    s = w.sum(axis=1)
    lbf_model = m + np.log(s)
    alpha = w / s[:, None]
    with np.errstate(divide="ignore"):
        inv_v = np.where(V > 0, 1.0 / np.where(V > 0, V, 1.0), np.inf)
        post_var = 1.0 / (prec[None, :] + inv_v[:, None])
    mu = post_var * zeta
    mu2 = post_var + mu * mu
    if method == "EM":
        V = np.einsum("kp,kp->k", alpha, mu2)
        V = np.where(log_sum_pi >= _loglik(V, prec, T2, pi), 0.0, V)
    KL = -lbf_model + np.einsum("kp,kp->k", alpha * mu, zeta) - 0.5 * np.einsum("p,kp->k", prec, alpha * mu2)
    return alpha, mu, mu2, V, KL


def _lbf(V: np.ndarray, prec: np.ndarray, T2: np.ndarray) -> np.ndarray:
    """(k, p) log Bayes factors ``0.5 (T2 a / (1 + a) - log1p(a))``, ``a = V prec``. With one precision for
    every variable (unit diagonal: the usual case) the factors of a are computed once per row."""
    if prec.size and np.all(prec == prec[0]):
        a = V * prec[0]
        return 0.5 * (T2 * (a / (1.0 + a))[:, None] - np.log1p(a)[:, None])
    a = V[:, None] * prec[None, :]
    out = T2 * a
    out /= 1.0 + a
    out -= np.log1p(a)
    out *= 0.5
    return out


def _loglik(V: np.ndarray, prec: np.ndarray, T2: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """log sum_j pi_j BF_j(V) per row (log sum pi where V = 0)."""
    lbf = _lbf(V, prec, T2)
    m = lbf.max(axis=1)
    return np.where(V == 0.0, np.log(pi.sum(axis=1)), m + np.log((np.exp(lbf - m[:, None]) * pi).sum(axis=1)))
