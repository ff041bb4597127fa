"""LD-mismatch diagnostics for SuSiE-RSS (susieR 0.12.35 ``estimate_s_rss`` and ``kriging_rss``).

``estimate_s_rss`` estimates s in z ~ N(0, (1 - s) R + s I) under the null; ``kriging_rss`` compares each
z_j with its conditional distribution given the other z's and reports a likelihood ratio for an allele
flip (z_j -> -z_j) under a scale mixture of normals fitted by maximum likelihood (susieR uses mixsqp;
here the same convex problem is solved by an active-set Newton method to a tighter tolerance).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from twasflow.errors import SusieError

from ._brent import R_OPTIM_RELTOL, brent_min
from ._validate import as_vector
from .rss import PreparedR

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _eig_setup(z: Any, R: Any, n: float | None, r_tol: float, who: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    P = R if isinstance(R, PreparedR) else PreparedR(R)
    zz = as_vector(z, "z", P.p)
    vals, vecs = P.eig
    lam = vals.copy()
    if np.any(lam < -r_tol):
        warnings.warn(f"{who}: the matrix R is not positive semidefinite. Negative eigenvalues are set to zero",
                      stacklevel=3)
    lam[lam < r_tol] = 0.0
    if n is None:
        warnings.warn(f"{who}: providing the sample size (n), or even a rough estimate of n, is highly "
                      "recommended. Without n, the implicit assumption is n is large (Inf) and the effect sizes "
                      "are small (close to zero).", stacklevel=3)
    else:
        if not n > 1:
            raise SusieError.at("n must be greater than 1", column="n", found=n)
        zz = np.sqrt((n - 1.0) / (zz * zz + n - 2.0)) * zz
    return zz, lam, vecs


def _estimate_s(zz: np.ndarray, lam: np.ndarray, vecs: np.ndarray, method: str) -> float:
    uz = vecs.T @ zz
    if method == "null-mle":
        def nll(s: float) -> float:
            d = (1.0 - s) * lam + s
            return 0.5 * float(np.sum(np.log(d))) + 0.5 * float(np.sum(uz * uz / d))

        return brent_min(nll, 0.0, 1.0, R_OPTIM_RELTOL)
    if method == "null-partialmle":
        null = ~(lam > 0)
        return 0.0 if not null.any() else float(np.sum(uz[null] ** 2) / np.count_nonzero(null))
    if method == "null-pseudomle":
        U2 = vecs * vecs

        def npl(s: float) -> float:
            dinv = 1.0 / ((1.0 - s) * lam + s)
            pdiag = U2 @ dinv
            pz = vecs @ (dinv * uz)
            mean = zz - pz / pdiag
            var = 1.0 / pdiag
            return -float(np.sum(-_LOG_SQRT_2PI - 0.5 * np.log(var) - 0.5 * (zz - mean) ** 2 / var))

        return brent_min(npl, 0.0, 1.0, R_OPTIM_RELTOL)
    raise SusieError.at("unknown method", column="method", found=method,
                        expected="'null-mle', 'null-partialmle' or 'null-pseudomle'")


def estimate_s_rss(z: Any, R: Any, n: float | None = None, r_tol: float = 1e-8, method: str = "null-mle") -> float:
    """Estimate s in z ~ N(0, (1 - s) R + s I) (0 = R consistent with z; near 1 = strong mismatch).

    Parameters
    ----------
    z : (p,) z-scores (NaN is an error).
    R : (p, p) correlation matrix or PreparedR (its eigendecomposition is computed once and cached).
    n : sample size; when given z is PVE-adjusted as in susie_rss.
    method : "null-mle" (Brent on [0, 1]), "null-partialmle", "null-pseudomle".
    """
    zz, lam, vecs = _eig_setup(z, R, n, r_tol, "estimate_s_rss")
    return _estimate_s(zz, lam, vecs, method)


def mixture_weights(Lmat: np.ndarray, tol: float = 1e-12, max_iter: int = 200) -> np.ndarray:
    """Maximum-likelihood mixture proportions: argmax_w sum_i log (Lmat w)_i over the simplex.

    Solved as min -mean_i log(Lmat x)_i + sum(x), x >= 0 (its minimiser lies on the simplex), by Newton
    steps whose non-negativity-constrained quadratic subproblems are solved exactly by an active-set
    method, with a backtracking line search. Converges to the KKT tolerance ``tol``.
    """
    n, m = Lmat.shape
    x = np.full(m, 1.0 / m)
    # a few EM steps give a good starting point and a sparse-ish support
    for _ in range(10):
        x = x * (Lmat.T @ (1.0 / (Lmat @ x))) / n

    def obj(v: np.ndarray) -> float:
        return -float(np.mean(np.log(Lmat @ v))) + float(v.sum())

    f = obj(x)
    for _ in range(max_iter):
        u = Lmat @ x
        g = -(Lmat.T @ (1.0 / u)) / n + 1.0
        if np.all(g >= -tol) and np.all(np.abs(g[x > 0]) <= tol):
            break
        A = Lmat / u[:, None]
        H = (A.T @ A) / n
        y = _nnqp(H, g - H @ x, x)
        dx = y - x
        t, slope = 1.0, float(g @ dx)
        while t > 1e-12:
            xn = x + t * dx
            fn = obj(xn)
            if fn <= f + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            break
        x, f = xn, fn
    x[x < 0] = 0.0
    return x / x.sum()


def _nnqp(H: np.ndarray, b: np.ndarray, x0: np.ndarray, tol: float = 1e-14) -> np.ndarray:
    """argmin_y 0.5 y'Hy + b'y subject to y >= 0 (H symmetric PSD, small), primal active set."""
    m = b.size
    ridge = 1e-14 * max(float(np.trace(H)) / m, 1e-300)
    free = x0 > 0
    y = np.where(free, x0, 0.0)
    for _ in range(10 * m + 50):
        # minimise over the free variables with the others at 0
        idx = np.flatnonzero(free)
        ys = np.zeros(m)
        if idx.size:
            Hf = H[np.ix_(idx, idx)] + ridge * np.eye(idx.size)
            try:
                ys[idx] = np.linalg.solve(Hf, -b[idx])
            except np.linalg.LinAlgError:  # exactly collinear grid columns (e.g. underflowed to 0): min-norm
                ys[idx] = np.linalg.lstsq(Hf, -b[idx], rcond=None)[0]
        if idx.size and np.any(ys[idx] < 0):
            neg = idx[ys[idx] < 0]
            steps = y[neg] / (y[neg] - ys[neg])
            k = int(np.argmin(steps))
            t = float(steps[k])
            y = y + t * (ys - y)
            y[neg[k]] = 0.0
            free[neg[k]] = False
            free &= y > 0
            continue
        y = ys
        grad = H @ y + b
        cand = np.flatnonzero(~free & (grad < -tol * max(1.0, float(np.abs(grad).max()))))
        if cand.size == 0:
            return y
        free[cand[np.argmin(grad[cand])]] = True
    return y


def _dnorm_log(x: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return -(_LOG_SQRT_2PI + 0.5 * (x / sd) ** 2 + np.log(sd))


def kriging_rss(z: Any, R: Any, n: float | None = None, r_tol: float = 1e-8, s: float | None = None) -> pd.DataFrame:
    """Conditional distribution of each z_j given the others under z ~ N(0, (1 - s) R + s I).

    Parameters
    ----------
    z : (p,) z-scores; R : (p, p) correlation matrix or PreparedR; n : sample size (PVE-adjusts z).
    s : mismatch parameter; default ``estimate_s_rss(z, R, n, r_tol, "null-mle")``; s > 1 is replaced by
        0.8 (with a warning), s < 0 is an error.

    Returns
    -------
    DataFrame with one row per variant: ``z`` (adjusted when n is given), ``condmean``, ``condvar``,
    ``z_std_diff`` = (z - condmean) / sqrt(condvar) and ``logLR`` (log likelihood ratio of a flipped
    allele vs no flip; large logLR with |z| > 2 flags a likely allele / LD mismatch).
    """
    zz, lam, vecs = _eig_setup(z, R, n, r_tol, "kriging_rss")
    if s is None:
        s = _estimate_s(zz, lam, vecs, "null-mle")
    if s > 1:
        warnings.warn("kriging_rss: the given s is greater than 1; it is replaced by 0.8", stacklevel=2)
        s = 0.8
    elif s < 0:
        raise SusieError.at("s must be non-negative", column="s", found=s)
    with np.errstate(divide="ignore"):
        dinv = 1.0 / ((1.0 - s) * lam + s)
    dinv[np.isinf(dinv)] = 0.0
    prec = (vecs * dinv) @ vecs.T
    pdiag = np.diag(prec).copy()
    np.fill_diagonal(prec, 0.0)
    condmean = -(prec @ zz) / pdiag
    del prec
    condvar = 1.0 / pdiag
    zsd = (zz - condmean) / np.sqrt(condvar)
    a_min = 0.8
    mx = float(np.max(zsd**2))
    a_max = 2.0 if mx < 1 else 2.0 * math.sqrt(mx)
    npoint = math.ceil(math.log2(a_max / a_min) / math.log2(1.05))
    grid = 1.05 ** np.arange(-npoint, 1, dtype=np.float64) * a_max
    sd = np.sqrt(condvar)[:, None] * grid[None, :]
    ll0 = _dnorm_log((zz - condmean)[:, None], sd)
    f0 = ll0.max(axis=1)
    ll0 -= f0[:, None]
    w = mixture_weights(np.exp(ll0))
    logl0 = np.log(np.exp(ll0) @ (w + 1e-15)) + f0
    ll1 = _dnorm_log((zz + condmean)[:, None], sd)
    f1 = ll1.max(axis=1)
    ll1 -= f1[:, None]
    logl1 = np.log(np.exp(ll1) @ (w + 1e-15)) + f1
    return pd.DataFrame({"z": zz, "condmean": condmean, "condvar": condvar, "z_std_diff": zsd,
                         "logLR": logl1 - logl0})
