"""TGFM's per-draw SuSiE-RSS fits, all draws of a locus at once.

Every draw fits ``susie_rss(z_d, J_d, n, L, prior_weights=pw_d, model_init=init)`` on its own joint system
``J_d = A_d' R A_d`` (``twasflow.methods.joint``), and the draws share R. Run one at a time, each product
``J_d x`` is a memory-bound matrix-vector product with R; run in lockstep, the products of all unfinished
draws with R are one matrix-matrix product ``Y R`` (BLAS-3), and the W parts are one sparse product with
the block-diagonal matrix of every draw's weights. Each draw follows exactly the IBSS of
:func:`twasflow.susie.susie_rss` (same initialization, single-effect regressions, prior-variance update,
``check_prior``, ELBO and stopping rule): the fits agree with one-at-a-time fits to rounding (the tests
check 1e-8). Draws leave the batch when they converge; the state of the running draws is kept compacted, and
with one precision for every variable the EM single-effect regression uses its closed forms
(:func:`_ser_em_unit`).

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
_NULL_MARGIN = 1e-6  # the EM null check is taken from its largest term only when that clears it by this much


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
    """``J_d x_d`` for the rows x_d of a (k, p) array, one row per draw of a subset ``draws`` (see the module
    docstring). The W parts are sparse block-diagonal products over the subset's draws only: the blocks are
    re-cut (O(nnz)) whenever the subset changes, i.e. when draws converge."""

    def __init__(self, systems: Sequence[JointOperator]) -> None:
        J0 = systems[0]
        self.D, self.Pm, self.M = len(systems), J0.Pa, J0.M
        self.R = J0.ld.R
        Wall = sp.vstack([sp.csr_matrix(J.Ws) for J in systems], format="coo")
        d = Wall.row // max(self.Pm, 1)
        # block-diagonal (D M, D Pm): entry (d M + m, d Pm + j) = w_d[j, m]; and its transpose
        self._fwd = sp.csr_matrix((Wall.data, (d * self.M + Wall.col, Wall.row)),
                                  shape=(self.D * self.M, self.D * self.Pm))
        self._bwd = sp.csr_matrix(self._fwd.T)
        self.fix = np.stack([J._fix for J in systems]) if self.Pm else np.zeros((self.D, 0))
        self._sub: tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix] | None = None

    def _blocks(self, draws: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """The forward and backward block-diagonal matrices of the draws ``draws`` (cached per subset)."""
        if self._sub is not None and np.array_equal(self._sub[0], draws):
            return self._sub[1], self._sub[2]
        if draws.size == self.D:
            out = (self._fwd, self._bwd)
        else:
            out = (_diag_blocks(self._fwd, draws, self.M, self.Pm), _diag_blocks(self._bwd, draws, self.Pm, self.M))
        self._sub = (draws.copy(), *out)
        return out

    def __call__(self, x: np.ndarray, draws: np.ndarray) -> np.ndarray:
        Pm, M = self.Pm, self.M
        k = draws.size
        out = np.empty((k, Pm + M))
        xp = x[:, :Pm]
        Y = x[:, Pm:].copy()
        pairs_zero = not (Pm and np.any(xp))
        if not pairs_zero:
            fwd, bwd = self._blocks(draws)
            Y += (fwd @ np.ascontiguousarray(xp).ravel()).reshape(k, M)
        U = out[:, Pm:]
        U[...] = 0.0
        ay = np.abs(Y)
        mx = ay.max(axis=1, initial=0.0)
        live = np.flatnonzero(mx > 0)
        if pairs_zero and live.size > 1 and np.all(Y[live] == Y[live[0]]):
            # the same vector in every draw (the variant-only start: pairs at 0): one product
            U[live] = _rows_times_r(Y[live[:1]], ay[live[:1]], mx[live[:1]], self.R)
        elif live.size == k:
            U[...] = _rows_times_r(Y, ay, mx, self.R)
        elif live.size:
            U[live] = _rows_times_r(Y[live], ay[live], mx[live], self.R)
        if Pm:
            fwd, bwd = self._blocks(draws)
            out[:, :Pm] = (bwd @ np.ascontiguousarray(U).ravel()).reshape(k, Pm)
            out[:, :Pm] += self.fix[draws] * xp
        return out


def _rows_times_r(Y: np.ndarray, ay: np.ndarray, mx: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``Y @ R`` (k, M). As :class:`twasflow.susie.operator.SymMatvec`: when the rows of Y are concentrated,
    only R's rows where some row keeps an entry above ``SPARSE_REL_TOL`` of its largest are read (the
    smaller entries are left out)."""
    big = ay > SPARSE_REL_TOL * mx[:, None]
    keep = np.flatnonzero(big.any(axis=0))
    if keep.size <= 0.5 * R.shape[0]:
        return np.where(big[:, keep], Y[:, keep], 0.0) @ R[keep]
    return Y @ R


def _diag_blocks(A: sp.csr_matrix, blocks: np.ndarray, nr: int, nc: int) -> sp.csr_matrix:
    """The block-diagonal CSR matrix of the diagonal blocks ``blocks`` (sorted) of ``A`` (blocks of nr rows
    and nc columns)."""
    k = blocks.size
    lo, hi = A.indptr[blocks * nr], A.indptr[(blocks + 1) * nr]
    cnt = hi - lo
    take = np.repeat(lo - np.concatenate(([0], np.cumsum(cnt)[:-1])), cnt) + np.arange(int(cnt.sum()))
    shift = np.repeat((np.arange(k) - blocks) * nc, cnt)
    rows = (blocks[:, None] * nr + np.arange(nr)[None, :]).ravel()
    row_nnz = np.diff(A.indptr)[rows]
    indptr = np.concatenate(([0], np.cumsum(row_nnz)))
    return sp.csr_matrix((A.data[take], A.indices[take] + shift, indptr), shape=(k * nr, k * nc))


def fit_draws(zs: np.ndarray, systems: Sequence[JointOperator], n: float, L: int, pw: np.ndarray, *,
              method: str, max_iter: int, tol: float, init: Any = None, check_R: bool = False,
              prod: "_BatchProduct | None" = None) -> DrawFits:
    """SuSiE-RSS on every draw's joint system, in lockstep.

    Parameters
    ----------
    zs : (D, p) joint z of each draw. systems : D :class:`JointOperator` sharing one LocusLD.
    n : GWAS sample size. L : effects. pw : (D, p) prior weights (normalized per draw; zeros allowed).
    method : ``EM`` or ``simple``. max_iter, tol : IBSS limits. init : model_init for every draw (dict of
    alpha, mu, mu2) or None. check_R : warn, as susie_rss, when R is not PSD. prod : the draws'
    :class:`_BatchProduct` (built from ``systems`` when None; pass it to share it between calls).

    The state of the unfinished draws is held compacted (effect-major arrays (L, k, p) over the k draws still
    running), so every per-effect step works on contiguous rows; a draw's summaries are stored when it leaves.
    The ELBO uses per-effect scalars kept at each update (``b_l' J b_l`` and ``sum_j d_j alpha_lj mu2_lj``), so
    a sweep's ELBO costs two dot products per draw.
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
    st0 = init_state(p, L, V0, 1.0, pi[0], init)[0]  # the same start for every draw (pi is not used by it)
    Lf = st0.alpha.shape[0]
    # one precision for every variable (unit diagonal, the usual case): the SER's closed forms below
    c = float(d[0]) if p and method == "EM" and np.all(d == d[0]) and d[0] > 0 else None
    prod = prod if prod is not None else _BatchProduct(systems)

    def matvec(x: np.ndarray, draws: np.ndarray) -> np.ndarray:
        xs = x if s_eff is None else x * s_eff
        y = prod(xs, draws)
        if s_eff is not None:
            y *= s_eff
        return y * nm1

    # state of the running draws, effect-major: alpha, mu, b = alpha mu, XtXb = J b (L, k, p)
    act = np.arange(D)
    alpha = np.repeat(st0.alpha[:, None, :], D, axis=1)
    mu = np.repeat(st0.mu[:, None, :], D, axis=1)
    b = alpha * mu
    V = np.repeat(st0.V[:, None], D, axis=1)  # (L, k)
    Vser = V.copy()  # prior variance each effect's last SER used (its posterior variances)
    KL = np.full((Lf, D), np.nan)
    bJb = np.zeros((Lf, D))  # b_l' J b_l (n - 1 scale)
    dam2 = np.zeros((Lf, D))  # sum_j d_j alpha_lj mu2_lj
    XtXb = np.zeros((Lf, D, p))
    for l in range(Lf):
        if np.any(b[l]):
            XtXb[l] = matvec(b[l], act)
    XtXr = XtXb.sum(axis=0)
    Xty_a, pi_a = Xty, pi
    log_pi = np.log(pi)  # -inf where a prior weight is 0
    log_sum_pi = np.log(pi.sum(axis=1))
    max_V_a, log_pi_a, lsp_a = max_V, log_pi, log_sum_pi
    prev = np.full(D, -np.inf)
    out = _Finished(D, Lf, p)
    for it in range(1, max_iter + 1):
        if act.size == 0:
            break
        for l in range(Lf):
            XtXr -= XtXb[l]
            zeta = Xty_a - XtXr  # sigma2 = 1
            if c is not None:
                a_, m_, b_, Vn, kl_, s2 = _ser_em_unit(zeta, c, V[l], pi_a, log_pi_a, lsp_a)
            else:
                a_, m_, m2_, Vn, kl_ = _ser(zeta, d, V[l], pi_a, lsp_a, method)
                b_ = a_ * m_
                s2 = np.einsum("p,kp->k", d, a_ * m2_)
            Vser[l] = V[l]
            alpha[l], mu[l], b[l], V[l], KL[l], dam2[l] = a_, m_, b_, Vn, kl_, s2
            new = XtXb[l]
            if np.any(b_):
                new[...] = matvec(b_, act)  # rows with b = 0 give 0 and cost no product with R
            else:
                new[...] = 0.0
            bJb[l] = np.einsum("kp,kp->k", b_, new)
            XtXr += new
        if np.any(V > max_V_a[None, :]):
            raise SusieError(
                "The estimated prior variance is unreasonably large. This is usually caused by mismatch "
                "between the summary statistics and the LD matrix. Please check the input.")
        bbar = b.sum(axis=0)
        er2 = (nm1 - 2.0 * np.einsum("kp,kp->k", bbar, Xty_a) + np.einsum("kp,kp->k", bbar, XtXr)
               - bJb.sum(axis=0) + dam2.sum(axis=0))
        e = -0.5 * n * _LOG_2PI - er2 / 2.0 - KL.sum(axis=0)
        if not np.all(np.isfinite(e)):
            raise SusieError("The SuSiE objective became infinite. Please check the input.")
        conv = e - prev[act] < tol
        prev[act] = e
        done = conv | (it == max_iter)
        if done.any():
            out.store(act[done], it, e[done], conv[done], alpha[:, done], mu[:, done], b[:, done], V[:, done],
                      Vser[:, done], d)
            keep = ~done
            act = act[keep]
            alpha, mu, b, XtXb = alpha[:, keep], mu[:, keep], b[:, keep], XtXb[:, keep]
            V, Vser, KL, bJb, dam2 = V[:, keep], Vser[:, keep], KL[:, keep], bJb[:, keep], dam2[:, keep]
            XtXr = XtXr[keep]
            Xty_a, pi_a, log_pi_a, lsp_a, max_V_a = Xty[act], pi[act], log_pi[act], log_sum_pi[act], max_V[act]
    n_nc = int(np.sum(~out.converged))
    if n_nc:
        msgs.extend([_RSS_NOT_CONVERGED.format(n=max_iter)] * n_nc)
    for m in dict.fromkeys(msgs):
        warnings.warn(m, stacklevel=2)
    return DrawFits(pip=out.pip, mean=out.mean / csd, sd=np.sqrt(out.var) / csd, elbo=out.elbo, niter=out.niter,
                    converged=out.converged)


class _Finished:
    """Summaries of the draws that left the lockstep loop (PIP, posterior mean and variance, ELBO)."""

    def __init__(self, D: int, L: int, p: int) -> None:
        self.pip = np.zeros((D, p))
        self.mean = np.zeros((D, p))
        self.var = np.zeros((D, p))
        self.elbo = np.full(D, -np.inf)
        self.niter = np.zeros(D, dtype=np.int64)
        self.converged = np.zeros(D, dtype=bool)

    def store(self, ids: np.ndarray, it: int, elbo: np.ndarray, conv: np.ndarray, alpha: np.ndarray,
              mu: np.ndarray, b: np.ndarray, V: np.ndarray, Vser: np.ndarray, d: np.ndarray) -> None:
        """Draws ``ids`` with their (L, k, p) alpha, mu, b = alpha mu and (L, k) prior variances (final V and
        the V of the last SER, which set the posterior variances 1 / (d + 1 / V))."""
        inc = (V > _PRIOR_TOL)[:, :, None]
        self.pip[ids] = 1.0 - np.prod(np.where(inc, 1.0 - alpha, 1.0), axis=0)
        self.mean[ids] = np.where(inc, b, 0.0).sum(axis=0)
        with np.errstate(divide="ignore"):
            inv_v = np.where(Vser > 0, 1.0 / np.where(Vser > 0, Vser, 1.0), np.inf)
        post_var = 1.0 / (d[None, None, :] + inv_v[:, :, None])
        mu2 = post_var + mu * mu
        self.var[ids] = np.where(inc, alpha * mu2 - b * b, 0.0).sum(axis=0)
        self.elbo[ids] = elbo
        self.niter[ids] = it
        self.converged[ids] = conv


def _ser_em_unit(zeta: np.ndarray, c: float, V: np.ndarray, pi: np.ndarray, log_pi: np.ndarray,
                 log_sum_pi: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`_ser` with the EM prior-variance update when every variable has the precision ``c``.

    With one precision the posterior variance ``v = 1 / (c + 1 / V)`` is one number per row, so
    ``mu = v zeta``, ``sum_j alpha_j mu2_j = v + v^2 S`` and ``sum_j alpha_j mu_j zeta_j = v S`` with
    ``S = sum_j alpha_j zeta_j^2``: one exponential and one weighted sum per variable. The EM update's null
    check (is ``log sum_j pi_j BF_j(V_new)`` above ``log sum_j pi_j``?) is decided from the largest term when
    that term alone clears it (``log pi_j + lbf_j <= log sum pi BF``); otherwise in full.

    Returns alpha, mu, b = alpha mu (k, p), the new V, KL (k,) and ``sum_j c alpha_j mu2_j`` (k,).
    """
    k = zeta.shape[0]
    rows = np.arange(k)
    g = zeta * zeta  # c T2
    a = V * c
    coef = 0.5 * (a / (1.0 + a)) / c  # lbf_j = coef g_j - log1p(a) / 2
    jmax = np.argmax(g, axis=1)
    gmax = g[rows, jmax]
    w = g - gmax[:, None]
    w *= coef[:, None]
    np.exp(w, out=w)
    w *= pi
    s = w.sum(axis=1)
    lbf_model = (coef * gmax - 0.5 * np.log1p(a)) + np.log(s)
    alpha = w
    alpha *= (1.0 / s)[:, None]
    with np.errstate(divide="ignore"):
        v = np.where(V > 0, 1.0 / (c + 1.0 / np.where(V > 0, V, 1.0)), 0.0)
    mu = v[:, None] * zeta
    b = alpha * mu
    S = np.einsum("kp,kp->k", alpha, g)
    am2 = v + v * v * S  # sum_j alpha_j mu2_j
    KL = -lbf_model + v * S - 0.5 * c * am2
    Vn = am2.copy()
    # null check of the new V: sure when the largest term alone clears log sum pi
    a2 = Vn * c
    lower = (0.5 * (a2 / (1.0 + a2)) / c) * gmax - 0.5 * np.log1p(a2) + log_pi[rows, jmax]
    unsure = np.flatnonzero(~(lower > log_sum_pi + _NULL_MARGIN) & (Vn > 0))
    if unsure.size:  # log sum_j pi_j BF_j(V_new) in full, from its largest term as above
        cu = (0.5 * (a2[unsure] / (1.0 + a2[unsure])) / c)[:, None]
        t = g[unsure] - gmax[unsure, None]
        t *= cu
        np.exp(t, out=t)
        t *= pi[unsure]
        ll = cu[:, 0] * gmax[unsure] - 0.5 * np.log1p(a2[unsure]) + np.log(t.sum(axis=1))
        Vn[unsure] = np.where(log_sum_pi[unsure] >= ll, 0.0, Vn[unsure])
    return alpha, mu, b, Vn, KL, c * am2


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
