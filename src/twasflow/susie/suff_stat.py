"""SuSiE on sufficient statistics (X'X, X'y, y'y, n) and on individual-level data (X, y).

The sufficient-statistics backend never copies the p x p matrix: X'X is represented as
``c * diag(s) M diag(s)`` with M the caller's matrix (X'X itself, or R for susie_rss), so one
``M @ v`` (BLAS dgemv) per non-null effect per iteration is the whole per-iteration p^2 cost. Each
effect's X'X b_l is kept, which makes the ELBO O(L p) instead of susieR's extra (L x p)(p x p) product.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from twasflow.errors import SusieError

from ._validate import as_square_matrix, as_vector, check_int, check_method, max_asymmetry, prior_weights_with_null
from .ibss import SusieFit, corr_from_columns, corr_from_matrix, emit, init_state, run_ibss
from .operator import SymMatvec, SymOperator, is_operator
from .sets import get_cs, get_pip

_LOG_2PI = math.log(2.0 * math.pi)


class SuffStatBackend:
    """X'X = c * diag(s) M diag(s) (s = None means ones), optionally with an appended null column.

    ``mv`` computes ``M @ x`` (a :class:`SymMatvec` of a dense M, or a :class:`SymOperator`'s ``matvec``)."""

    def __init__(self, mv: Callable[[np.ndarray], np.ndarray], p0: int, c: float, s: np.ndarray | None,
                 Xty: np.ndarray, d: np.ndarray, yty: float, n: float, L: int, has_null: bool) -> None:
        self.c, self.s = c, s
        self._mv = mv
        self.p0 = p0
        self.p = self.p0 + (1 if has_null else 0)
        self.Xty, self.d, self.yty, self.n = Xty, d, yty, n
        self.XtXb = np.zeros((L, self.p))
        self.XtXr = np.zeros(self.p)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        x = v[: self.p0]
        if self.s is not None:
            x = self.s * x
        y = self._mv(x)
        if self.s is not None:
            y *= self.s
        if self.c != 1.0:
            y *= self.c
        if self.p != self.p0:
            y = np.append(y, 0.0)
        return y

    def start(self, b: np.ndarray) -> None:
        self.XtXb[:] = 0.0
        for l in range(b.shape[0]):
            if np.any(b[l]):
                self.XtXb[l] = self.matvec(b[l])
        self.XtXr = self.XtXb.sum(axis=0)

    def ser_inputs(self, l: int, sigma2: float) -> tuple[np.ndarray, np.ndarray]:
        self.XtXr -= self.XtXb[l]
        return (self.Xty - self.XtXr) / sigma2, self.d / sigma2

    def set_effect(self, l: int, b: np.ndarray) -> None:
        # an effect with V = 0 has b = 0 exactly: skip its p x p product
        self.XtXb[l] = self.matvec(b) if np.any(b) else 0.0
        self.XtXr += self.XtXb[l]

    def er2(self, alpha: np.ndarray, mu: np.ndarray, mu2: np.ndarray) -> float:
        B = alpha * mu
        bbar = B.sum(axis=0)
        return float(self.yty - 2.0 * bbar @ self.Xty + bbar @ self.XtXr - np.sum(B * self.XtXb)
                     + self.d @ (alpha * mu2).sum(axis=0))

    def eloglik(self, sigma2: float, alpha, mu, mu2) -> float:
        return -0.5 * self.n * (_LOG_2PI + math.log(sigma2)) - self.er2(alpha, mu, mu2) / (2.0 * sigma2)

    def new_sigma2(self, sigma2: float, alpha, mu, mu2) -> float:
        s2 = self.er2(alpha, mu, mu2) / self.n
        if s2 < 0:
            raise SusieError("Estimating residual variance failed: the estimated value is negative")
        return s2


def fit_suff_stat_core(
    M: np.ndarray | SymOperator,
    c: float,
    sraw: np.ndarray | None,
    Xty: np.ndarray,
    yty: float,
    n: float,
    *,
    L: int = 10,
    X_colmeans: Any = None,
    y_mean: float | None = None,
    scaled_prior_variance: float = 0.2,
    residual_variance: float | None = None,
    estimate_residual_variance: bool = True,
    estimate_prior_variance: bool = True,
    estimate_prior_method: str = "optim",
    check_null_threshold: float = 0.0,
    prior_tol: float = 1e-9,
    prior_weights: Any = None,
    null_weight: float = 0.0,
    standardize: bool = True,
    max_iter: int = 100,
    model_init: Any = None,
    coverage: float | None = 0.95,
    min_abs_corr: float | None = 0.5,
    tol: float = 1e-3,
    n_purity: int = 100,
    check_prior: bool = False,
    not_converged_msg: str = "IBSS algorithm did not converge in {n} iterations!",
    L_given: bool = True,
    pre_msgs: list[str] | None = None,
) -> SusieFit:
    """susie_suff_stat on X'X = c diag(sraw) M diag(sraw) (M symmetric, validated by the caller; a dense
    array or a :class:`SymOperator`, used only through its diagonal, products and correlation blocks)."""
    L = check_int(L, "L", 1)
    max_iter = check_int(max_iter, "max_iter", 1)
    method = check_method(estimate_prior_method) if estimate_prior_variance else "none"
    if not n > 1:
        raise SusieError.at("n must be greater than 1", column="n", found=n)
    if is_operator(M):
        p0, dM, mv, corr = M.p, np.asarray(M.diag(), dtype=np.float64).copy(), M.matvec, M.corr
    else:
        p0, dM, mv, corr = M.shape[0], np.diag(M).copy(), SymMatvec(M), corr_from_matrix(M)
    pi, has_null = prior_weights_with_null(prior_weights, null_weight, p0)
    p = p0 + (1 if has_null else 0)
    dXtX = c * dM if sraw is None else c * (sraw * sraw * dM)
    Xty = Xty.copy()
    if has_null:
        dXtX = np.append(dXtX, 0.0)
        Xty = np.append(Xty, 0.0)
    if standardize:
        csd = np.sqrt(dXtX / (n - 1))
        csd[csd == 0] = 1.0
        d = ((1.0 / csd) * dXtX) / csd
        Xty = Xty / csd
        s_eff = (1.0 / csd[:p0]) if sraw is None else sraw / csd[:p0]
    else:
        csd = np.ones(p)
        d = dXtX
        s_eff = sraw
    if s_eff is not None and np.all(s_eff == 1.0):
        s_eff = None
    varY = yty / (n - 1)
    if scaled_prior_variance < 0:
        raise SusieError.at("scaled prior variance must be non-negative", column="scaled_prior_variance",
                            found=scaled_prior_variance)
    if scaled_prior_variance > 1 and standardize:
        raise SusieError.at("scaled prior variance should be no greater than 1 when standardize = True",
                            column="scaled_prior_variance", found=scaled_prior_variance)
    sigma2 = varY if residual_variance is None else float(residual_variance)
    if not sigma2 > 0:
        raise SusieError.at("residual variance must be positive (is var(y) zero?)", column="residual_variance",
                            found=sigma2)
    st, msgs = init_state(p, L, scaled_prior_variance * varY, sigma2, pi, model_init, L_given)
    msgs = list(pre_msgs or []) + msgs
    be = SuffStatBackend(mv, p0, c, s_eff, Xty, d, yty, n, st.alpha.shape[0], has_null)
    max_V = None
    if check_prior:
        with np.errstate(divide="ignore", invalid="ignore"):
            zz = (Xty / d) / np.sqrt(st.sigma2 / d)
        zz = zz[~np.isnan(zz)]
        max_V = 100.0 * float(np.max(np.abs(zz))) ** 2 if zz.size else None
    elbo, niter, conv, lbf, lbf_var, KL, m2 = run_ibss(
        be, st, max_iter=max_iter, tol=tol, prior_method=method, check_null_threshold=check_null_threshold,
        estimate_residual_variance=estimate_residual_variance, max_prior_variance=max_V,
        not_converged_msg=not_converged_msg)
    if X_colmeans is None or y_mean is None:
        intercept = float("nan")
    else:
        xcm = np.broadcast_to(np.asarray(X_colmeans, dtype=np.float64), (p,)) if np.ndim(X_colmeans) == 0 \
            else as_vector(X_colmeans, "X_colmeans", p)
        intercept = float(y_mean - np.sum(xcm * ((st.alpha * st.mu).sum(axis=0) / csd)))
    fit = SusieFit(alpha=st.alpha, mu=st.mu, mu2=st.mu2, lbf=lbf, lbf_variable=lbf_var, KL=KL, V=st.V,
                   sigma2=st.sigma2, elbo=elbo, niter=niter, converged=conv, pi=pi,
                   X_column_scale_factors=csd, null_index=(p - 1) if has_null else None,
                   intercept=intercept, fitted=be.XtXr.copy(), coverage=coverage, min_abs_corr=min_abs_corr,
                   prior_tol=prior_tol, n_purity=n_purity, _corr=corr)
    emit(msgs + m2, fit.warnings)
    _finish_sets(fit)
    return fit


def _finish_sets(fit: SusieFit) -> None:
    if fit.coverage is not None and fit.min_abs_corr is not None:
        fit.sets = get_cs(fit.alpha, fit.V, fit.lbf, coverage=fit.coverage, min_abs_corr=fit.min_abs_corr,
                          corr=fit._corr, null_index=fit.null_index, n_purity=fit.n_purity)
    fit.pip = get_pip(fit.alpha, fit.V, prior_tol=fit.prior_tol, null_index=fit.null_index)


def susie_suff_stat(
    XtX: Any = None,
    Xty: Any = None,
    yty: float | None = None,
    n: float | None = None,
    L: int = 10,
    X_colmeans: Any = None,
    y_mean: float | None = None,
    maf: Any = None,
    maf_thresh: float = 0.0,
    *,
    scaled_prior_variance: float = 0.2,
    residual_variance: float | None = None,
    estimate_residual_variance: bool = True,
    estimate_prior_variance: bool = True,
    estimate_prior_method: str = "optim",
    check_null_threshold: float = 0.0,
    prior_tol: float = 1e-9,
    prior_weights: Any = None,
    null_weight: float = 0.0,
    standardize: bool = True,
    max_iter: int = 100,
    model_init: Any = None,
    coverage: float | None = 0.95,
    min_abs_corr: float | None = 0.5,
    tol: float = 1e-3,
    n_purity: int = 100,
) -> SusieFit:
    """SuSiE from sufficient statistics (susieR 0.12.35 ``susie_suff_stat``).

    Parameters
    ----------
    XtX : (p, p) X'X of column-centred X (any symmetric PSD matrix). Not copied.
    Xty : (p,) X'y with y centred. NaN entries are replaced by 0 (with a warning), as susieR does.
    yty : y'y with y centred.
    n : sample size (> 1).
    X_colmeans, y_mean : used only for the intercept (NaN when not given).
    maf, maf_thresh : keep only variables with maf > maf_thresh.
    model_init : a SusieFit (or dict alpha/mu/mu2[/V/sigma2]) to warm-start from (susieR's s_init).

    Returns
    -------
    SusieFit. ``refine`` is not implemented.
    """
    if XtX is None or Xty is None or yty is None:
        raise SusieError.at("please provide all of XtX, Xty, yty, n", column="XtX/Xty/yty")
    if n is None:
        raise SusieError.at("n must be provided", column="n")
    M = as_square_matrix(XtX, "XtX")
    xty = as_vector(Xty, "Xty", M.shape[0], allow_nan=True)
    msgs = []
    if np.isnan(xty).any():
        msgs.append("NA values in Xty are replaced with 0")
        xty = np.where(np.isnan(xty), 0.0, xty)
    if maf is not None:
        mf = as_vector(maf, "maf", M.shape[0])
        keep = np.flatnonzero(mf > maf_thresh)
        M = np.ascontiguousarray(M[np.ix_(keep, keep)])
        xty = xty[keep]
    scale = max(1.0, float(np.abs(np.diag(M)).max(initial=0.0)))
    if max_asymmetry(M) > 1e-8 * scale:
        msgs.append("XtX is not symmetric; forcing XtX to be symmetric by replacing XtX with (XtX + t(XtX))/2")
        M = (M + M.T) / 2.0
    return fit_suff_stat_core(
        M, 1.0, None, xty, float(yty), float(n), L=L, X_colmeans=X_colmeans, y_mean=y_mean,
        scaled_prior_variance=scaled_prior_variance, residual_variance=residual_variance,
        estimate_residual_variance=estimate_residual_variance, estimate_prior_variance=estimate_prior_variance,
        estimate_prior_method=estimate_prior_method, check_null_threshold=check_null_threshold,
        prior_tol=prior_tol, prior_weights=prior_weights, null_weight=null_weight, standardize=standardize,
        max_iter=max_iter, model_init=model_init, coverage=coverage, min_abs_corr=min_abs_corr, tol=tol,
        n_purity=n_purity, pre_msgs=msgs)


# --------------------------------------------------------------------------------------------------
# individual-level data


class IndividualBackend:
    """Standardised X represented by (X, column means cm, column scales csd); fitted values X b kept per
    effect (n-vectors), as susieR's ``susie``."""

    def __init__(self, X: np.ndarray, y: np.ndarray, cm: np.ndarray, csd: np.ndarray, d: np.ndarray,
                 L: int, has_null: bool) -> None:
        self.X, self.y, self.cm, self.csd, self.d = X, y, cm, csd, d
        self.p0 = X.shape[1]
        self.p = self.p0 + (1 if has_null else 0)
        self.n = X.shape[0]
        self.Xb = np.zeros((L, self.n))
        self.Xr = np.zeros(self.n)

    def compute_Xb(self, b: np.ndarray) -> np.ndarray:
        bs = b[: self.p0] / self.csd[: self.p0]
        return self.X @ bs - float(np.sum(self.cm[: self.p0] * bs))

    def compute_Xty(self, r: np.ndarray) -> np.ndarray:
        out = (r @ self.X) / self.csd[: self.p0] - self.cm[: self.p0] / self.csd[: self.p0] * float(r.sum())
        return np.append(out, 0.0) if self.p != self.p0 else out

    def start(self, b: np.ndarray) -> None:
        self.Xb[:] = 0.0
        for l in range(b.shape[0]):
            if np.any(b[l]):
                self.Xb[l] = self.compute_Xb(b[l])
        self.Xr = self.Xb.sum(axis=0)

    def ser_inputs(self, l: int, sigma2: float) -> tuple[np.ndarray, np.ndarray]:
        self.Xr -= self.Xb[l]
        return self.compute_Xty(self.y - self.Xr) / sigma2, self.d / sigma2

    def set_effect(self, l: int, b: np.ndarray) -> None:
        self.Xb[l] = self.compute_Xb(b) if np.any(b) else 0.0
        self.Xr += self.Xb[l]

    def er2(self, alpha, mu, mu2) -> float:
        res = self.y - self.Xr
        return float(res @ res - np.sum(self.Xb * self.Xb) + self.d @ (alpha * mu2).sum(axis=0))

    def eloglik(self, sigma2: float, alpha, mu, mu2) -> float:
        return -0.5 * self.n * math.log(2.0 * math.pi * sigma2) - self.er2(alpha, mu, mu2) / (2.0 * sigma2)

    lower = 0.0
    upper = math.inf

    def new_sigma2(self, sigma2: float, alpha, mu, mu2) -> float:
        return min(max(self.lower, self.er2(alpha, mu, mu2) / self.n), self.upper)


def susie(
    X: Any,
    y: Any,
    L: int | None = None,
    *,
    scaled_prior_variance: float = 0.2,
    residual_variance: float | None = None,
    prior_weights: Any = None,
    null_weight: float = 0.0,
    standardize: bool = True,
    intercept: bool = True,
    estimate_residual_variance: bool = True,
    estimate_prior_variance: bool = True,
    estimate_prior_method: str = "optim",
    check_null_threshold: float = 0.0,
    prior_tol: float = 1e-9,
    residual_variance_upperbound: float = math.inf,
    residual_variance_lowerbound: float | None = None,
    model_init: Any = None,
    coverage: float | None = 0.95,
    min_abs_corr: float | None = 0.5,
    na_rm: bool = False,
    max_iter: int = 100,
    tol: float = 1e-3,
    n_purity: int = 100,
) -> SusieFit:
    """SuSiE on individual-level data (susieR 0.12.35 ``susie``).

    Parameters
    ----------
    X : (n, p) genotype / covariate matrix (not copied unless needed for dtype/layout).
    y : (n,) response. NaN in y is an error unless ``na_rm``.
    L : number of effects (default min(10, p)).
    residual_variance_lowerbound : default var(y) / 1e4.

    Returns
    -------
    SusieFit with ``intercept`` and ``fitted`` (X b + intercept term, length n). ``refine`` is not
    implemented.
    """
    Xa = np.asarray(X, dtype=np.float64)
    if Xa.ndim != 2:
        raise SusieError.at("X must be a matrix", column="X", found=f"shape {Xa.shape}", expected="(n, p)")
    if not np.isfinite(Xa).all():
        r, c_ = np.argwhere(~np.isfinite(Xa))[0]
        raise SusieError.at(f"X contains a non-finite value at [{r}, {c_}] (0-based)", column="X",
                            found=Xa[r, c_], expected="finite numbers")
    ya = as_vector(y, "y", Xa.shape[0], allow_nan=True)
    if np.isnan(ya).any():
        if not na_rm:
            i = int(np.flatnonzero(np.isnan(ya))[0])
            raise SusieError.at(f"y contains a missing value at index {i} (0-based)", column="y",
                                expected="no missing values (or na_rm=True)")
        keep = ~np.isnan(ya)
        ya, Xa = ya[keep], Xa[keep]
    n, p0 = Xa.shape
    L_given = L is not None
    L = min(10, p0) if L is None else check_int(L, "L", 1)
    max_iter = check_int(max_iter, "max_iter", 1)
    method = check_method(estimate_prior_method) if estimate_prior_variance else "none"
    pi, has_null = prior_weights_with_null(prior_weights, null_weight, p0)
    p = p0 + (1 if has_null else 0)
    mean_y = float(ya.mean())
    yc = ya - mean_y if intercept else ya.copy()
    colmean = Xa.mean(axis=0)
    colsd = Xa.std(axis=0, ddof=1) if n > 1 else np.zeros(p0)
    cm = colmean if intercept else np.zeros(p0)
    if standardize:
        csd = colsd.copy()
        csd[csd == 0] = 1.0
    else:
        csd = np.ones(p0)
    d = ((n * colmean**2 + (n - 1) * colsd**2) - n * cm**2) / csd**2
    if has_null:
        cm, csd, d = np.append(cm, 0.0), np.append(csd, 1.0), np.append(d, 0.0)
    varY = float(np.var(yc, ddof=1))
    if scaled_prior_variance < 0 or (scaled_prior_variance > 1 and standardize):
        raise SusieError.at("scaled prior variance must be in [0, 1] when standardize = True (>= 0 otherwise)",
                            column="scaled_prior_variance", found=scaled_prior_variance)
    sigma2 = varY if residual_variance is None else float(residual_variance)
    if not sigma2 > 0:
        raise SusieError.at("residual variance must be positive (is var(y) zero?)", column="residual_variance",
                            found=sigma2)
    st, msgs = init_state(p, L, scaled_prior_variance * varY, sigma2, pi, model_init, L_given)
    Xc = Xa if Xa.flags.c_contiguous else np.ascontiguousarray(Xa)
    be = IndividualBackend(Xc, yc, cm, csd, d, st.alpha.shape[0], has_null)
    be.lower = varY / 1e4 if residual_variance_lowerbound is None else float(residual_variance_lowerbound)
    be.upper = float(residual_variance_upperbound)
    elbo, niter, conv, lbf, lbf_var, KL, m2 = run_ibss(
        be, st, max_iter=max_iter, tol=tol, prior_method=method, check_null_threshold=check_null_threshold,
        estimate_residual_variance=estimate_residual_variance)
    if intercept:
        icpt = mean_y - float(np.sum(cm * ((st.alpha * st.mu).sum(axis=0) / csd)))
        fitted = be.Xr + mean_y
    else:
        icpt, fitted = 0.0, be.Xr.copy()
    fit = SusieFit(alpha=st.alpha, mu=st.mu, mu2=st.mu2, lbf=lbf, lbf_variable=lbf_var, KL=KL, V=st.V,
                   sigma2=st.sigma2, elbo=elbo, niter=niter, converged=conv, pi=pi,
                   X_column_scale_factors=csd, null_index=(p - 1) if has_null else None, intercept=icpt,
                   fitted=fitted, coverage=coverage, min_abs_corr=min_abs_corr, prior_tol=prior_tol,
                   n_purity=n_purity, _corr=corr_from_columns(Xc))
    emit(msgs + m2, fit.warnings)
    _finish_sets(fit)
    return fit
