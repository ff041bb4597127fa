"""SuSiE-RSS: fine-mapping from z-scores (or bhat/shat) and a correlation matrix R.

``susie_rss`` follows susieR 0.12.35: with ``lambda_ == 0`` it is ``susie_suff_stat`` on
X'X = (n-1) R, X'y = sqrt(n-1) z_adj (or the original-scale version with bhat, shat, var_y), and the
p x p matrix is only ever used through ``R @ v``. With ``lambda_ > 0`` it is the internal
``susie_rss_lambda`` model z ~ N(R b, sigma2 R + lambda I), fitted in the eigenbasis of R.

``R`` may be any symmetric PSD matrix (e.g. a joint pair + variant correlation matrix). Prepare it once
with :func:`prepare_R` to reuse validation, the PSD check and the eigendecomposition across fits.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg as sla

from twasflow.errors import SusieError

from ._brent import R_OPTIMIZE_TOL, brent_min
from ._validate import as_square_matrix, as_vector, check_int, check_method, check_symmetric, prior_weights_with_null
from .ibss import SusieFit, corr_from_matrix, emit, init_state, run_ibss
from .operator import SymOperator, is_operator
from .suff_stat import _finish_sets, fit_suff_stat_core

PSD_TOL = 1e-6  # R is "not PSD" when R + PSD_TOL * mean(diag R) * I has no Cholesky factor
PSD_WINDOW = 500  # above this p the default PSD check factors overlapping diagonal windows

_NO_N_MSG = ("Providing the sample size (n), or even a rough estimate of n, is highly recommended. Without n, "
             "the implicit assumption is n is large (Inf) and the effect sizes are small (close to zero).")
_RSS_NOT_CONVERGED = ("IBSS algorithm did not converge in {n} iterations! Please check consistency between "
                      "summary statistics and LD matrix. See "
                      "https://stephenslab.github.io/susieR/articles/susierss_diagnostic.html")
_HINT_ERV = ("For estimate_residual_variance = TRUE, please check that R is the \"in-sample\" LD matrix; that is, "
             "the correlation matrix obtained using the exact same data matrix X that was used for the other "
             "summary statistics. Also note, when covariates are included in the univariate regressions that "
             "produced the summary statistics, also consider removing these effects from X before computing R.")


class PreparedR:
    """A validated correlation matrix with a lazily computed, cached eigendecomposition and PSD check.

    Parameters
    ----------
    R : (p, p) symmetric matrix (finite; symmetric within 1e-8 relative to max(1, max |diag|)). Not copied
        when already float64 and contiguous.
    R_eig : optional precomputed ``(values, vectors)`` of R (e.g. from ``numpy.linalg.eigh``).
    """

    def __init__(self, R: Any, R_eig: tuple[np.ndarray, np.ndarray] | None = None, *, name: str = "R") -> None:
        if isinstance(R, PreparedR):
            self.R, self._eig, self._psd, self._min_eig = R.R, R._eig, R._psd, R._min_eig
            self._psd_exact = R._psd_exact
            return
        self.R = as_square_matrix(R, name)
        check_symmetric(self.R, name)
        self._eig: tuple[np.ndarray, np.ndarray] | None = None
        self._psd: bool | None = None
        self._psd_exact = False
        self._min_eig: float | None = None
        if R_eig is not None:
            vals = np.asarray(R_eig[0], dtype=np.float64)
            vecs = np.asarray(R_eig[1], dtype=np.float64)
            p = self.R.shape[0]
            if vals.shape != (p,) or vecs.shape != (p, p):
                raise SusieError.at("R_eig has the wrong shape", column="R_eig",
                                    found=f"values {vals.shape}, vectors {vecs.shape}", expected=f"({p},), ({p}, {p})")
            self._eig = (vals, vecs)

    @property
    def p(self) -> int:
        return self.R.shape[0]

    @property
    def eig(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, vectors) of R, computed once (O(p^3))."""
        if self._eig is None:
            self._eig = np.linalg.eigh(self.R)
        return self._eig

    @property
    def min_eigenvalue(self) -> float:
        if self._min_eig is None:
            self._min_eig = float(self.eig[0].min()) if self._eig is not None else float(
                sla.eigh(self.R, eigvals_only=True, subset_by_index=[0, 0], check_finite=False)[0])
        return self._min_eig

    def is_psd(self, exact: bool = False) -> bool:
        """True when R + PSD_TOL * mean(diag R) * I is positive definite.

        Uses the cached eigenvalues when available; otherwise one Cholesky factorisation of the whole
        matrix when p <= PSD_WINDOW or ``exact``, else of the overlapping PSD_WINDOW-variable diagonal
        windows (step PSD_WINDOW / 2). The windowed check costs O(p PSD_WINDOW^2) instead of O(p^3) and
        catches any non-PSD principal block of consecutive variables (LD is local, so mismatch-induced
        negative directions show there), but can miss a negative direction spread over variables more
        than PSD_WINDOW apart.
        """
        if self._psd is not None and (not exact or self._psd_exact):
            return self._psd
        tol = PSD_TOL * max(float(np.mean(np.diag(self.R))), 1e-300)
        p = self.p
        if self._eig is not None:
            ok, ex = bool(self._eig[0].min() >= -tol), True
        elif exact or p <= PSD_WINDOW:
            ok, ex = _chol_ok(self.R, tol), True
        else:
            ok, ex = True, False
            step = PSD_WINDOW // 2
            for a in range(0, p - step, step):
                b = min(a + PSD_WINDOW, p)
                if not _chol_ok(self.R[a:b, a:b], tol):
                    ok = False
                    break
        self._psd, self._psd_exact = ok, ex
        return ok


def _chol_ok(A: np.ndarray, tol: float) -> bool:
    B = A + tol * np.eye(A.shape[0])
    try:
        sla.cholesky(B, lower=True, overwrite_a=True, check_finite=False)
        return True
    except np.linalg.LinAlgError:
        return False


def prepare_R(R: Any, R_eig: tuple[np.ndarray, np.ndarray] | None = None) -> PreparedR:
    """Validate R once for several fits (see :class:`PreparedR`)."""
    return R if isinstance(R, PreparedR) and R_eig is None else PreparedR(R, R_eig)


def _psd_warning(P: PreparedR | SymOperator, msgs: list[str]) -> None:
    if not P.is_psd():
        extra = ""
        if P.p <= 2000 or getattr(P, "_eig", None) is not None:
            extra = f" (smallest eigenvalue {P.min_eigenvalue:.4g})"
        msgs.append(f"R is not positive semidefinite{extra}; results may be unreliable. Consider the lambda model "
                    f"(lambda_ > 0, e.g. 1e-3) or regularising R as (1 - eps) R + eps I.")


def _z_from_inputs(z, bhat, shat, p_hint: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    if (z is None) == (bhat is None or shat is None):
        raise SusieError.at("please provide either z or (bhat, shat), but not both", column="z/bhat/shat")
    if z is not None:
        return as_vector(z, "z", p_hint), None
    b = as_vector(bhat, "bhat", p_hint)
    s = as_vector(shat, "shat")
    if s.size == 1:
        s = np.full(b.size, s[0])
    if s.size != b.size:
        raise SusieError.at("the lengths of bhat and shat do not agree", column="shat", found=s.size, expected=b.size)
    if np.any(s <= 0):
        i = int(np.flatnonzero(s <= 0)[0])
        raise SusieError.at(f"shat must be positive; index {i} (0-based)", column="shat", found=s[i], expected="> 0")
    return b / s, s


def susie_rss(
    z: Any = None,
    R: Any = None,
    n: float | None = None,
    bhat: Any = None,
    shat: Any = None,
    var_y: float | None = None,
    L: int = 10,
    *,
    lambda_: float | str = 0.0,
    prior_variance: float = 50.0,
    scaled_prior_variance: float = 0.2,
    residual_variance: float | None = None,
    estimate_residual_variance: bool | None = None,
    estimate_prior_variance: bool = True,
    estimate_prior_method: str = "optim",
    check_null_threshold: float = 0.0,
    prior_tol: float = 1e-9,
    prior_weights: Any = None,
    null_weight: float = 0.0,
    standardize: bool = True,
    max_iter: int = 100,
    tol: float = 1e-3,
    coverage: float | None = 0.95,
    min_abs_corr: float | None = 0.5,
    n_purity: int = 100,
    model_init: Any = None,
    check_prior: bool = True,
    check_R: bool = True,
    R_eig: tuple[np.ndarray, np.ndarray] | None = None,
    r_tol: float = 1e-8,
    maf: Any = None,
    maf_thresh: float = 0.0,
) -> SusieFit:
    """SuSiE-RSS (susieR 0.12.35 ``susie_rss``; with ``lambda_ > 0``, ``susie_rss_lambda``).

    Parameters
    ----------
    z : (p,) z-scores, or give ``bhat`` and ``shat`` (shat > 0; a scalar shat is recycled).
    R : (p, p) symmetric correlation-like matrix, a :class:`PreparedR`, or a :class:`SymOperator` (a matrix
        known through its diagonal, products and correlation blocks; not with ``maf``, ``R_eig`` or the
        lambda model).
    n : sample size. With n, z is PVE-adjusted: z * sqrt((n-1) / (z^2 + n - 2)). Without n a warning is
        issued and the model assumes n -> Inf (susieR's behaviour; prior_variance is then the prior
        variance of the z-scale effects).
    var_y : with bhat, shat and n: effects are on the original y scale (X_column_scale_factors then map
        posterior means back to bhat's scale).
    lambda_ : > 0 (or "estimate") selects the lambda model z ~ N(R b, sigma2 R + lambda I): z is not
        adjusted, n and var_y are ignored, prior_variance (default 50) is the prior variance,
        estimate_residual_variance defaults to True, and negative eigenvalues of R are set to 0.
    estimate_residual_variance : default False (True for the lambda model).
    check_prior : raise when an estimated prior variance exceeds 100 * max|z|^2 (LD / z mismatch).
    check_R : warn (not raise) when R is not PSD (one Cholesky of R + 1e-6 mean(diag) I; cached on a
        PreparedR). With ``lambda_ > 0`` the eigendecomposition is used instead.
    R_eig : optional (values, vectors) of R, reused by the lambda model.
    model_init : SusieFit or dict to warm-start from (susieR's s_init).

    Returns
    -------
    SusieFit. ``fitted`` is X'X b (the fitted "XtXr"), or R b for the lambda model (``Rz``).
    ``refine`` and ``z_ld_weight`` are not implemented.
    """
    if R is None:
        raise SusieError.at("R must be provided", column="R")
    zz, s = _z_from_inputs(z, bhat, shat, None)
    op = is_operator(R) and not isinstance(R, PreparedR)
    if op and (maf is not None or R_eig is not None or isinstance(lambda_, str) or lambda_ > 0):
        raise SusieError.at("an operator R supports neither maf, R_eig nor the lambda model", column="R",
                            found=type(R).__name__, expected="a dense R for these options")
    P = R if (op or isinstance(R, PreparedR) and R_eig is None) else PreparedR(R, R_eig)
    p = P.p
    if p != zz.size:
        raise SusieError.at("the dimension of R does not agree with the number of z-scores", column="R",
                            found=f"{p} x {p}", expected=f"{zz.size} x {zz.size}")
    msgs: list[str] = []
    if maf is not None:
        mf = as_vector(maf, "maf", p)
        keep = np.flatnonzero(mf > maf_thresh)
        P = PreparedR(np.ascontiguousarray(P.R[np.ix_(keep, keep)]))
        zz = zz[keep]
        s = None if s is None else s[keep]
        p = P.p
    if isinstance(lambda_, str) or lambda_ > 0:
        return _susie_rss_lambda(
            zz, P, L=L, lambda_=lambda_, prior_variance=prior_variance, residual_variance=residual_variance,
            r_tol=r_tol, prior_weights=prior_weights, null_weight=null_weight,
            estimate_residual_variance=True if estimate_residual_variance is None else estimate_residual_variance,
            estimate_prior_variance=estimate_prior_variance, estimate_prior_method=estimate_prior_method,
            check_null_threshold=check_null_threshold, prior_tol=prior_tol, max_iter=max_iter,
            model_init=model_init, coverage=coverage, min_abs_corr=min_abs_corr, tol=tol, n_purity=n_purity)
    if lambda_ < 0:
        raise SusieError.at("lambda_ must be >= 0", column="lambda_", found=lambda_)
    erv = False if estimate_residual_variance is None else bool(estimate_residual_variance)
    if erv:
        msgs.append(_HINT_ERV)
    if check_R:
        _psd_warning(P, msgs)
    XX = P if op else P.R  # the matrix, or the operator standing for it
    common = dict(
        L=L, residual_variance=residual_variance, estimate_residual_variance=erv,
        estimate_prior_variance=estimate_prior_variance, estimate_prior_method=estimate_prior_method,
        check_null_threshold=check_null_threshold, prior_tol=prior_tol, prior_weights=prior_weights,
        null_weight=null_weight, max_iter=max_iter, model_init=model_init, coverage=coverage,
        min_abs_corr=min_abs_corr, tol=tol, n_purity=n_purity, check_prior=check_prior,
        not_converged_msg=_RSS_NOT_CONVERGED)
    if n is None:
        msgs.append(_NO_N_MSG)
        return fit_suff_stat_core(XX, 1.0, None, zz, 1.0, 2.0, scaled_prior_variance=prior_variance,
                                  standardize=False, pre_msgs=msgs, **common)
    if not n > 1:
        raise SusieError.at("n must be greater than 1", column="n", found=n)
    n = float(n)
    adj = (n - 1.0) / (zz * zz + n - 2.0)
    za = np.sqrt(adj) * zz
    if s is not None and var_y is not None:
        if not var_y > 0:
            raise SusieError.at("var_y must be positive", column="var_y", found=var_y)
        # effects on the original scale: X'X = D R D with D_jj^2 = var_y * adj_j / shat_j^2
        sraw = np.sqrt(var_y * adj / (s * s))
        Xty = za * np.sqrt(adj) * var_y / s
        return fit_suff_stat_core(XX, 1.0, sraw, Xty, (n - 1.0) * var_y, n,
                                  scaled_prior_variance=scaled_prior_variance, standardize=standardize,
                                  pre_msgs=msgs, **common)
    return fit_suff_stat_core(XX, n - 1.0, None, math.sqrt(n - 1.0) * za, n - 1.0, n,
                              scaled_prior_variance=scaled_prior_variance, standardize=standardize,
                              pre_msgs=msgs, **common)


# --------------------------------------------------------------------------------------------------
# lambda model


class LambdaBackend:
    """z ~ N(R b, sigma2 R + lambda I) in the eigenbasis R = U diag(lam) U' (negative eigenvalues zeroed).

    Per effect: one U' b and one U v product. ``S`` holds U' sum_l b_l.
    """

    def __init__(self, U: np.ndarray, lam: np.ndarray, z: np.ndarray, lambda_: float, L: int) -> None:
        self.U, self.lam, self.lambda_ = U, lam, lambda_
        self.p = U.shape[0]
        self.zhat = U.T @ z
        self.U2 = U * U
        self.dR = self.U2 @ lam  # diag of the reconstructed R
        self.nnz = int(np.count_nonzero(lam))
        self.Ub = np.zeros((L, U.shape[1]))
        self.S = np.zeros(U.shape[1])
        self._sig: float | None = None

    def _sigma(self, sigma2: float) -> None:
        if self._sig == sigma2:
            return
        with np.errstate(divide="ignore"):
            dinv = 1.0 / (sigma2 * self.lam + self.lambda_)
        dinv[np.isinf(dinv)] = 0.0
        self.dinv = dinv
        self.prec = self.dR / sigma2 if self.lambda_ == 0 else self.U2 @ (dinv * self.lam**2)
        self._sig = sigma2

    def start(self, b: np.ndarray) -> None:
        self.Ub[:] = 0.0
        for l in range(b.shape[0]):
            if np.any(b[l]):
                self.Ub[l] = self.U.T @ b[l]
        self.S = self.Ub.sum(axis=0)

    def ser_inputs(self, l: int, sigma2: float) -> tuple[np.ndarray, np.ndarray]:
        self._sigma(sigma2)
        self.S -= self.Ub[l]
        rhat = self.zhat - self.lam * self.S
        return self.U @ (self.dinv * self.lam * rhat), self.prec

    def set_effect(self, l: int, b: np.ndarray) -> None:
        self.Ub[l] = self.U.T @ b if np.any(b) else 0.0
        self.S += self.Ub[l]

    def er2(self, sigma2: float, alpha, mu, mu2) -> float:
        with np.errstate(divide="ignore"):
            dinv = 1.0 / (sigma2 * self.lam + self.lambda_)
        dinv[np.isinf(dinv)] = 0.0
        zSz = float(np.sum(self.zhat**2 * dinv))
        cross = float(np.sum(dinv * self.lam * self.zhat * self.S))
        if self.lambda_ == 0:
            w = self.lam / sigma2
            diag = self.dR / sigma2
        else:
            w = self.lam**2 * dinv
            diag = self.U2 @ w
        quad = float(np.sum(w * self.S**2))
        rz2 = float(np.sum(self.Ub**2 * w))
        return zSz - 2.0 * cross + quad - rz2 + float(diag @ (alpha * mu2).sum(axis=0))

    def eloglik(self, sigma2: float, alpha, mu, mu2) -> float:
        e = self.er2(sigma2, alpha, mu, mu2)
        if self.lambda_ == 0:
            return -(self.nnz / 2.0) * math.log(2 * math.pi * sigma2) - 0.5 * e
        dd = sigma2 * self.lam + self.lambda_
        return -(self.p / 2.0) * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(dd))) - 0.5 * e

    def new_sigma2(self, sigma2: float, alpha, mu, mu2) -> float:
        if self.lambda_ == 0:
            s2 = self.er2(1.0, alpha, mu, mu2) / self.nnz
            if s2 < 0:
                raise SusieError("Estimating residual variance failed: the estimated value is negative")
            return min(s2, 1.0)
        hi = 1.0 - self.lambda_
        s2 = brent_min(lambda s: -self.eloglik(s, alpha, mu, mu2), 1e-4, hi, R_OPTIMIZE_TOL)
        if self.eloglik(s2, alpha, mu, mu2) < self.eloglik(hi, alpha, mu, mu2):
            s2 = hi
        return s2

    def fitted(self) -> np.ndarray:
        return self.U @ (self.lam * self.S)


def _susie_rss_lambda(z: np.ndarray, P: PreparedR, *, L, lambda_, prior_variance, residual_variance, r_tol,
                      prior_weights, null_weight, estimate_residual_variance, estimate_prior_variance,
                      estimate_prior_method, check_null_threshold, prior_tol, max_iter, model_init, coverage,
                      min_abs_corr, tol, n_purity) -> SusieFit:
    L = check_int(L, "L", 1)
    max_iter = check_int(max_iter, "max_iter", 1)
    method = check_method(estimate_prior_method) if estimate_prior_variance else "none"
    p0 = P.p
    pi, has_null = prior_weights_with_null(prior_weights, null_weight, p0)
    vals, vecs = P.eig
    if has_null:
        # the null column is an extra variable uncorrelated with everything, with eigenvalue 0
        vals = np.append(vals, 0.0)
        vecs = np.block([[vecs, np.zeros((p0, 1))], [np.zeros((1, p0)), np.ones((1, 1))]])
        z = np.append(z, 0.0)
    p = vals.size
    lam = vals.copy()
    lam[np.abs(lam) < r_tol] = 0.0
    msgs: list[str] = []
    if np.any(lam < 0):
        msgs.append(f"The input correlation matrix has negative eigenvalues (smallest one is {lam.min():.15g}). "
                    "The correlation matrix is adjusted such that these negative eigenvalues are now zeros.")
        lam[lam < 0] = 0.0
    if isinstance(lambda_, str):
        if lambda_ != "estimate":
            raise SusieError.at("lambda_ must be a number >= 0 or 'estimate'", column="lambda_", found=lambda_)
        null_space = lam <= 0
        lambda_ = 0.0 if not null_space.any() else float(np.mean((vecs[:, null_space].T @ z) ** 2))
    lambda_ = float(lambda_)
    if prior_variance < 0:
        raise SusieError.at("prior variance must be non-negative", column="prior_variance", found=prior_variance)
    if residual_variance is not None and not 0 <= residual_variance <= 1:
        raise SusieError.at("residual variance should be a scalar between 0 and 1", column="residual_variance",
                            found=residual_variance)
    sigma2 = (1.0 if residual_variance is None else float(residual_variance))
    st, m0 = init_state(p, L, prior_variance, sigma2, pi, model_init, True)
    st.sigma2 = st.sigma2 - lambda_
    if not st.sigma2 > 0:
        raise SusieError.at("residual variance minus lambda must be positive", column="lambda_", found=lambda_)
    be = LambdaBackend(vecs, lam, z, lambda_, st.alpha.shape[0])
    elbo, niter, conv, lbf, lbf_var, KL, m2 = run_ibss(
        be, st, max_iter=max_iter, tol=tol, prior_method=method, check_null_threshold=check_null_threshold,
        estimate_residual_variance=estimate_residual_variance)

    def corr(idx: np.ndarray) -> np.ndarray:
        Ui = vecs[idx]
        return corr_from_matrix((Ui * lam) @ Ui.T)(np.arange(idx.size))

    fit = SusieFit(alpha=st.alpha, mu=st.mu, mu2=st.mu2, lbf=lbf, lbf_variable=lbf_var, KL=KL, V=st.V,
                   sigma2=st.sigma2, elbo=elbo, niter=niter, converged=conv, pi=pi,
                   X_column_scale_factors=np.ones(p), null_index=(p - 1) if has_null else None, intercept=0.0,
                   fitted=be.fitted(), lambda_=lambda_, coverage=coverage, min_abs_corr=min_abs_corr,
                   prior_tol=prior_tol, n_purity=n_purity, _corr=corr)
    emit(msgs + m0 + m2, fit.warnings)
    _finish_sets(fit)
    return fit
