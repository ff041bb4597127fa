"""The IBSS loop over effects, the ELBO trace and the fit object.

The loop is independent of the data representation: a *backend* supplies, for effect l, the SER inputs
computed from the residual of the other effects, absorbs the new effect, and evaluates the expected
log-likelihood and the residual-variance update. Backends: sufficient statistics / RSS (``suff_stat``),
individual-level data (``suff_stat``), and the RSS lambda model (``rss``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from twasflow.errors import SusieError

from .ser import single_effect_regression
from .sets import CorrFn, CredibleSet, get_cs, get_pip


class Backend(Protocol):
    p: int

    def start(self, b: np.ndarray) -> None:
        """Set the fitted values of all effects from the (L, p) matrix of posterior means."""

    def ser_inputs(self, l: int, sigma2: float) -> tuple[np.ndarray, np.ndarray]:
        """Remove effect l from the fit; return (zeta, prec) for its SER."""

    def set_effect(self, l: int, b: np.ndarray) -> None:
        """Add effect l back with posterior mean vector b."""

    def eloglik(self, sigma2: float, alpha: np.ndarray, mu: np.ndarray, mu2: np.ndarray) -> float:
        """Expected log-likelihood under q."""

    def new_sigma2(self, sigma2: float, alpha: np.ndarray, mu: np.ndarray, mu2: np.ndarray) -> float:
        """Residual-variance update."""


@dataclass
class SusieFit:
    """A fitted SuSiE model. Arrays are float64; variable indices are 0-based.

    ``alpha, mu, mu2, lbf_variable`` are (L, p) (p includes the null column when ``null_weight > 0``,
    at ``null_index``); ``lbf, KL, V`` are (L,); ``elbo`` has one value per IBSS iteration; ``pip`` has
    one value per real variable. ``fitted`` is X b (individual data), X'X b (sufficient statistics /
    RSS) or R b (lambda model), on the scale the model was fitted on.
    """

    alpha: np.ndarray
    mu: np.ndarray
    mu2: np.ndarray
    lbf: np.ndarray
    lbf_variable: np.ndarray
    KL: np.ndarray
    V: np.ndarray
    sigma2: float
    elbo: np.ndarray
    niter: int
    converged: bool
    pi: np.ndarray
    X_column_scale_factors: np.ndarray
    null_index: int | None = None
    pip: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sets: list[CredibleSet] = field(default_factory=list)
    intercept: float = float("nan")
    fitted: np.ndarray | None = None
    lambda_: float = 0.0
    coverage: float | None = 0.95
    min_abs_corr: float | None = 0.5
    prior_tol: float = 1e-9
    n_purity: int = 100
    warnings: list[str] = field(default_factory=list)
    _corr: CorrFn | None = field(default=None, repr=False)

    @property
    def corr(self) -> CorrFn | None:
        """Correlation submatrices of the matrix the model was fitted with (``idx -> |idx| x |idx|``)."""
        return self._corr

    # -- susieR accessors --------------------------------------------------------------------
    def _included(self, prior_tol: float) -> np.ndarray:
        return np.flatnonzero(self.V > prior_tol)

    def posterior_mean(self, prior_tol: float = 1e-9) -> np.ndarray:
        """Posterior mean of b on the original X scale (``susie_get_posterior_mean``); length p incl. the
        null column if any."""
        inc = self._included(prior_tol)
        if inc.size == 0:
            return np.zeros(self.mu.shape[1])
        return (self.alpha[inc] * self.mu[inc]).sum(axis=0) / self.X_column_scale_factors

    def posterior_sd(self, prior_tol: float = 1e-9) -> np.ndarray:
        """Posterior sd of b on the original X scale (``susie_get_posterior_sd``)."""
        inc = self._included(prior_tol)
        if inc.size == 0:
            return np.zeros(self.mu.shape[1])
        a, m, m2 = self.alpha[inc], self.mu[inc], self.mu2[inc]
        return np.sqrt((a * m2 - (a * m) ** 2).sum(axis=0)) / self.X_column_scale_factors

    def get_pip(self, prune_by_cs: bool = False, prior_tol: float | None = None) -> np.ndarray:
        """PIPs (``susie_get_pip``), optionally only from effects that gave a credible set."""
        return get_pip(self.alpha, self.V, prior_tol=self.prior_tol if prior_tol is None else prior_tol,
                       null_index=self.null_index, cs_effects=[s.effect for s in self.sets],
                       prune_by_cs=prune_by_cs)

    def get_cs(
        self,
        coverage: float = 0.95,
        min_abs_corr: float = 0.5,
        R: np.ndarray | None = None,
        X: np.ndarray | None = None,
        n_purity: int | None = None,
        dedup: bool = True,
        seed: int = 0,
    ) -> list[CredibleSet]:
        """Credible sets (``susie_get_cs``). Purity uses ``R`` (a correlation / covariance matrix), the
        columns of ``X``, or, when neither is given, the matrix the model was fitted with."""
        if R is not None and X is not None:
            raise SusieError("get_cs: give only one of R or X")
        corr = self._corr
        if R is not None:
            corr = corr_from_matrix(np.asarray(R, dtype=np.float64))
        elif X is not None:
            corr = corr_from_columns(np.asarray(X, dtype=np.float64))
        return get_cs(self.alpha, self.V, self.lbf, coverage=coverage, min_abs_corr=min_abs_corr,
                      corr=corr, null_index=self.null_index, dedup=dedup,
                      n_purity=self.n_purity if n_purity is None else n_purity, seed=seed)

    def to_init(self) -> dict[str, Any]:
        """The parts of the fit used to warm-start another fit (``model_init``)."""
        return {"alpha": self.alpha.copy(), "mu": self.mu.copy(), "mu2": self.mu2.copy(),
                "V": self.V.copy(), "sigma2": self.sigma2}


def corr_from_matrix(M: np.ndarray) -> CorrFn:
    """Correlation submatrices of a covariance-like matrix (cov2cor on the requested block)."""

    def corr(idx: np.ndarray) -> np.ndarray:
        sub = M[np.ix_(idx, idx)]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = 1.0 / np.sqrt(np.diag(sub))
            c = sub * s[:, None] * s[None, :]
        np.fill_diagonal(c, 1.0)
        return c

    return corr


def corr_from_columns(X: np.ndarray) -> CorrFn:
    """Pearson correlation between selected columns of X (constant columns give NaN)."""

    def corr(idx: np.ndarray) -> np.ndarray:
        sub = X[:, idx]
        sub = sub - sub.mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = np.sqrt((sub * sub).sum(axis=0))
            return (sub.T @ sub) / np.outer(sd, sd)

    return corr


@dataclass
class IBSSState:
    alpha: np.ndarray
    mu: np.ndarray
    mu2: np.ndarray
    V: np.ndarray
    sigma2: float
    pi: np.ndarray


def init_state(
    p: int,
    L: int,
    V: float,
    sigma2: float,
    pi: np.ndarray,
    model_init: Any = None,
    L_given: bool = True,
) -> tuple[IBSSState, list[str]]:
    """Initial variational parameters: alpha = 1/p, mu = mu2 = 0, V and sigma2 as given; or a warm start
    from ``model_init`` (a SusieFit or a dict with alpha, mu, mu2 and optionally V, sigma2) following
    susieR's ``s_init`` rules: the init keeps its own number of effects if L is smaller, and is padded with
    fresh effects (all prior variances reset to V) if L is larger."""
    msgs: list[str] = []
    L = min(L, p)
    if model_init is None:
        st = IBSSState(np.full((L, p), 1.0 / p), np.zeros((L, p)), np.zeros((L, p)),
                       np.full(L, float(V)), float(sigma2), pi)
        return st, msgs
    init = model_init.to_init() if isinstance(model_init, SusieFit) else dict(model_init)
    a = np.atleast_2d(np.asarray(init["alpha"], dtype=np.float64))
    m = np.atleast_2d(np.asarray(init["mu"], dtype=np.float64))
    m2 = np.atleast_2d(np.asarray(init["mu2"], dtype=np.float64))
    if a.shape[1] != p or m.shape != a.shape or m2.shape != a.shape:
        raise SusieError.at("model_init arrays have the wrong shape", column="model_init",
                            found=f"alpha {a.shape}, mu {m.shape}, mu2 {m2.shape}",
                            expected=f"(L, {p})")
    if a.max() > 1 or a.min() < 0:
        raise SusieError.at("model_init alpha has values outside [0, 1]", column="model_init.alpha")
    k = a.shape[0]
    Vi = init.get("V")
    if not L_given:
        L = k
    elif L < k:
        msgs.append(f"Specified number of effects L = {L} is smaller than the number of effects {k} in "
                    f"model_init; the fit will have {k} effects.")
        L = k
    if L > k:
        a = np.vstack([a, np.full((L - k, p), 1.0 / p)])
        m = np.vstack([m, np.zeros((L - k, p))])
        m2 = np.vstack([m2, np.zeros((L - k, p))])
        Vv = np.full(L, float(V))
    else:
        Vv = np.full(L, float(V)) if Vi is None else np.asarray(Vi, dtype=np.float64).reshape(-1).copy()
        if Vv.size == 1:
            Vv = np.full(L, float(Vv[0]))
    s2 = float(init["sigma2"]) if init.get("sigma2") is not None else float(sigma2)
    if not s2 > 0:
        raise SusieError.at("residual variance must be positive", column="model_init.sigma2", found=s2)
    if np.any(Vv < 0):
        raise SusieError.at("prior variance must be non-negative", column="model_init.V")
    return IBSSState(a.copy(), m.copy(), m2.copy(), Vv, s2, pi), msgs


def run_ibss(
    backend: Backend,
    st: IBSSState,
    *,
    max_iter: int,
    tol: float,
    prior_method: str,
    check_null_threshold: float,
    estimate_residual_variance: bool,
    max_prior_variance: float | None = None,
    not_converged_msg: str = "IBSS algorithm did not converge in {n} iterations!",
) -> tuple[np.ndarray, int, bool, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Run IBSS in place on ``st``. Returns (elbo trace, niter, converged, lbf, lbf_variable, KL, msgs).

    Convergence: ELBO increase below ``tol``; the ELBO is evaluated before the residual-variance update.
    ``max_prior_variance``: raise if any V exceeds it (susie_rss's ``check_prior``).
    """
    L, p = st.alpha.shape
    lbf = np.full(L, np.nan)
    lbf_var = np.full((L, p), np.nan)
    KL = np.full(L, np.nan)
    backend.start(st.alpha * st.mu)
    elbo: list[float] = []
    prev = -math.inf
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        for l in range(L):
            zeta, prec = backend.ser_inputs(l, st.sigma2)
            r = single_effect_regression(zeta, prec, float(st.V[l]), st.pi, prior_method, check_null_threshold)
            st.alpha[l], st.mu[l], st.mu2[l] = r.alpha, r.mu, r.mu2
            st.V[l] = r.V
            lbf[l] = r.lbf_model
            lbf_var[l] = r.lbf
            KL[l] = r.KL
            backend.set_effect(l, r.alpha * r.mu)
        if max_prior_variance is not None and np.any(st.V > max_prior_variance):
            raise SusieError(
                "The estimated prior variance is unreasonably large. This is usually caused by mismatch "
                "between the summary statistics and the LD matrix. Please check the input.")
        e = backend.eloglik(st.sigma2, st.alpha, st.mu, st.mu2) - float(KL.sum())
        if not np.isfinite(e):
            raise SusieError("The SuSiE objective became infinite. Please check the input.")
        elbo.append(e)
        if e - prev < tol:
            converged = True
            break
        prev = e
        if estimate_residual_variance:
            st.sigma2 = backend.new_sigma2(st.sigma2, st.alpha, st.mu, st.mu2)
    msgs = []
    if not converged:
        msgs.append(not_converged_msg.format(n=max_iter))
    return np.asarray(elbo), it, converged, lbf, lbf_var, KL, msgs


def emit(msgs: list[str], sink: list[str]) -> None:
    """Issue each message as a Python warning and record it on the fit."""
    for m in msgs:
        warnings.warn(m, stacklevel=3)
        sink.append(m)
