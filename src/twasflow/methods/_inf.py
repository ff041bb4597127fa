"""Linear algebra of TGVIS's infinitesimal-effect model, all in the eigenbasis of one LD matrix.

Everything is on the z scale (GWAS z-scores, whose sampling covariance is R): the model is
``z = R (B theta + gamma + upsilon) + e``, ``e ~ N(0, sigma2_alpha R)`` with ``sigma2_alpha`` fixed to 1 in
the updates (paper: "replaced by 1 to avoid non-identifiability") and ``upsilon ~ N(0, tau2 I)``.
One eigendecomposition ``R = U diag(lam) U'`` per locus serves every solve (eq. 11, 13, 14, 21, 25).

Eigenvalues at or below ``eig_tol * max(lam)`` are treated as exactly zero: R is then singular (a panel
with fewer people than variants) and ``R^{-1}`` means the pseudo-inverse on R's column space, the only
space the summary-data model can describe.

Numerical module: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

EIG_TOL = 1e-8  # relative eigenvalue threshold for R's column space


@dataclass(frozen=True)
class LDEigen:
    """R = U diag(lam) U' with the null space marked.

    Attributes
    ----------
    lam : (M,) eigenvalues, ascending; those at or below ``eig_tol * max`` are set to 0.
    U : (M, M) orthonormal eigenvectors (columns).
    pos : (M,) bool, eigenvalue kept (column space of R).
    """

    lam: np.ndarray
    U: np.ndarray
    pos: np.ndarray

    @classmethod
    def of(cls, R: np.ndarray, eig_tol: float = EIG_TOL) -> "LDEigen":
        lam, U = np.linalg.eigh(R)
        top = max(float(lam[-1]), 0.0)
        pos = lam > eig_tol * top
        lam = np.where(pos, lam, 0.0)
        return cls(lam=lam, U=U, pos=pos)

    @property
    def M(self) -> int:
        return int(self.lam.shape[0])

    @property
    def rank(self) -> int:
        return int(self.pos.sum())

    def coords(self, v: np.ndarray) -> np.ndarray:
        """U' v for a vector (M,) or matrix (M, k)."""
        return self.U.T @ v

    def pinv_quad(self, v: np.ndarray) -> float:
        """v' R^+ v."""
        c = self.coords(v)[self.pos]
        return float(np.sum(c * c / self.lam[self.pos]))

    def project(self, v: np.ndarray) -> np.ndarray:
        """Orthogonal projection of v onto the column space of R."""
        c = self.coords(v)
        c[~self.pos] = 0.0
        return self.U @ c


# --------------------------------------------------------------------------------------------------
# PQL / REML (eq. 10-13)


def pql_upsilon(E: LDEigen, resid: np.ndarray, tau2: float, coords: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 11: ``upsilon = (R + I / tau2)^{-1} (z - eta)`` (sigma2_alpha = 1).

    ``z - eta`` is taken on R's column space: a component outside it (LD mismatch when R is singular)
    cannot be explained by ``R upsilon`` and would only inflate ``||upsilon||``.

    Parameters
    ----------
    resid : (M,) ``z - eta`` with ``eta = R (B theta + gamma)`` (z scale).
    tau2 : prior variance of each upsilon_m on the z scale (> 0).
    coords : ``U' resid`` when the caller has it already (the REML step needs the same product).

    Returns
    -------
    upsilon : (M,) the PQL estimate.
    R_upsilon : (M,) ``R upsilon`` (its contribution to the z-scores).
    """
    h = 1.0 / (E.lam + 1.0 / tau2)
    c = (E.coords(resid) if coords is None else coords) * h
    c[~E.pos] = 0.0
    both = E.U @ np.column_stack([c, E.lam * c])  # one pass over U for upsilon and R upsilon
    return both[:, 0].copy(), both[:, 1].copy()


def reml_tau2_step(E: LDEigen, upsilon: np.ndarray, tau2: float) -> float:
    """Eq. 13: ``tau2_new = (||upsilon||^2 + tr((R + I / tau2)^{-1})) / M``."""
    return float((upsilon @ upsilon + np.sum(1.0 / (E.lam + 1.0 / tau2))) / E.M)


def _reml_score(c2: np.ndarray, lam: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``sum_i c_i^2 / (1 + lam_i t)^2 - sum_i lam_i / (1 + lam_i t)`` for each t (vectorised over t)."""
    q = 1.0 / (1.0 + np.outer(t, lam))
    return (q * q) @ c2 - q @ lam


def reml_fit(E: LDEigen, resid: np.ndarray, *, tau2_max: float, n_grid: int = 64,
             tau2_min: float = 1e-10, coords: np.ndarray | None = None) -> float:
    """The fixed point of eq. 11 + eq. 13 at fixed ``eta`` (the profile step for upsilon's variance).

    Iterating eq. 11 then eq. 13 is the EM algorithm for tau2 in ``resid = R upsilon + e``; its fixed
    points are the roots of the score of ``resid ~ N(0, R + tau2 R^2)``:
    ``sum_i c_i^2 / (1 + lam_i tau2)^2 = sum_i lam_i / (1 + lam_i tau2)``, c = U' resid on R's column space
    (eigen-directions with lam = 0 add tau2 to both sides of eq. 13 and do not move the fixed point). EM
    creeps towards it at a rate set by the smallest eigenvalues, so we solve the root equation directly:
    a log-spaced scan of (0, tau2_max] for the first sign change from + to - (the first local maximum of
    the likelihood reached from 0, the EM limit from a small start), then Brent's method. The tests check
    that the result is a fixed point of eq. 11 + 13.

    ``coords``: ``U' resid`` when the caller has it already (shared with :func:`pql_upsilon`).

    Returns
    -------
    tau2 : >= 0 (0 when the likelihood decreases from tau2 = 0, or the root is below ``tau2_min``);
        ``tau2_max`` when the score is still positive there.
    """
    c = (E.coords(resid) if coords is None else coords)[E.pos]
    lam = E.lam[E.pos]
    c2 = c * c
    if _reml_score(c2, lam, np.array([0.0]))[0] <= 0:
        return 0.0
    top = float(tau2_max)
    grid = np.geomspace(max(tau2_min, top * 1e-12), top, n_grid)
    f = _reml_score(c2, lam, grid)
    neg = np.flatnonzero(f <= 0)
    if neg.size == 0:
        return top
    k = int(neg[0])
    lo = 0.0 if k == 0 else float(grid[k - 1])
    hi = float(grid[k])
    root = optimize.brentq(lambda t: float(_reml_score(c2, lam, np.array([t]))[0]), lo, hi, xtol=1e-14 * hi,
                           rtol=1e-12)
    return 0.0 if root < tau2_min else float(root)


def sigma2_alpha(E: LDEigen, resid: np.ndarray) -> float:
    """Eq. 14: ``r' R^{-1} r / M_eff`` with r the full residual; M_eff = rank(R) (= M when R is full rank)."""
    return E.pinv_quad(resid) / max(E.rank, 1)


def inf_effective_df(E: LDEigen, tau2: float) -> float:
    """Effective degrees of freedom of the upsilon fit, ``tr(R (R + I / tau2)^{-1})`` (0 for tau2 = 0)."""
    if tau2 <= 0:
        return 0.0
    return float(np.sum(E.lam / (E.lam + 1.0 / tau2)))


# --------------------------------------------------------------------------------------------------
# Zhang-Lin score test for sigma2_upsilon = 0 (eq. 23-25)


@dataclass(frozen=True)
class ScoreTest:
    """Score statistic ``u`` with its null mean ``e`` and variance ``h`` (eq. 25) and the p-value.

    ``kappa``, ``df``: the scaled chi-square of eq. 25 (``u ~ kappa chi2_df``); ``p`` from the null chosen
    (``satterthwaite``: that scaled chi-square; ``liu``: Liu-Tang-Zhang's four-cumulant approximation of
    the exact null, a weighted sum of chi2_1).
    """

    u: float
    e: float
    h: float
    kappa: float
    df: float
    p: float
    p_satterthwaite: float
    p_liu: float


def _sym_pinv(G: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Pseudo-inverse of a symmetric PSD matrix (duplicated columns make C'RC singular)."""
    w, V = np.linalg.eigh(G)
    keep = w > rtol * max(float(w[-1]) if w.size else 0.0, 0.0)
    return (V[:, keep] / w[keep]) @ V[:, keep].T


def liu_sf(q: float, c1: float, c2: float, c3: float, c4: float) -> float:
    """P(Q > q) for Q = sum_i mu_i chi2_1 from c_k = sum_i mu_i^k (Liu, Tang & Zhang 2009, CSDA 53:853).

    Matches the skewness (and kurtosis when possible) of Q with a non-central chi-square.
    """
    if c2 <= 0:
        return 1.0
    s1 = c3 / c2**1.5
    s2 = c4 / c2**2
    if s1 * s1 > s2:
        a = 1.0 / (s1 - np.sqrt(s1 * s1 - s2))
        delta = s1 * a**3 - a * a
        l_ = a * a - 2.0 * delta
    else:
        a = 1.0 / s1
        delta = 0.0
        l_ = 1.0 / (s1 * s1)
    t = (q - c1) / np.sqrt(2.0 * c2)
    x = t * np.sqrt(2.0) * a + l_ + delta
    if delta > 0:
        return float(stats.ncx2.sf(x, l_, delta))
    return float(stats.chi2.sf(x, l_))


def score_test(E: LDEigen, z: np.ndarray, UtC: np.ndarray, null: str = "liu",
               z_coords: np.ndarray | None = None) -> ScoreTest:
    """Score test of H0: sigma2_upsilon = 0 given the selected fixed effects (eq. 23-25).

    The fixed-effect design is ``A = R C`` with C the (M, k) columns of the selected pairs' weights and
    the identity columns of the selected variants; the null covariance is R (sigma2_alpha = 1) and the
    alternative adds ``sigma2_upsilon R^2``. With ``P = R^{-1} - R^{-1} A (A' R^{-1} A)^{-1} A' R^{-1}``
    and ``R^{-1} A = C``:

    * ``u = 1/2 z' P R^2 P z = 1/2 ||r||^2``, ``r = z - A theta_GLS``, ``theta_GLS = (C'RC)^+ C'z``;
    * ``e = 1/2 tr(P R^2) = 1/2 tr(S)``, ``h = 1/2 tr(P R^2 P R^2) = 1/2 tr(S^2)``, where
      ``S = cov(r) = R - R C G^+ C' R``, ``G = C'RC``;

    and eq. 25's null ``u ~ kappa chi2_v``, ``kappa = h / (2 e)``, ``v = 2 e^2 / h`` (``null="satterthwaite"``).
    Exactly, ``2 u = sum_i mu_i chi2_1`` with mu the eigenvalues of S; ``null="liu"`` (default) uses
    tr(S^k), k <= 4, in Liu-Tang-Zhang's approximation, which keeps the test's size where the two-moment
    version is slightly liberal (docs/tgvis.md). In R's eigenbasis S = Lam - F G^+ F' with F = Lam U'C, so
    every trace reduces to k x k matrices ``H_a = C' R^a C``. The residual is taken on R's column space.

    Parameters
    ----------
    z : (M,) GWAS z-scores.
    UtC : (M, k) ``U' C`` (k may be 0: no fixed effects).
    null : ``liu`` or ``satterthwaite`` (which p-value ``p`` reports; both are returned).
    z_coords : ``U' z`` when the caller has it already (z is fixed at a locus; the test runs every iteration).
    """
    lam = E.lam
    cz = E.coords(z) if z_coords is None else z_coords.copy()
    cz[~E.pos] = 0.0
    c = [float(np.sum(lam**m)) for m in range(1, 5)]
    if UtC.shape[1] == 0:
        r2 = float(cz @ cz)
    else:
        LC = lam[:, None] * UtC  # U' R C
        G = UtC.T @ LC
        Gi = _sym_pinv(G)
        theta = Gi @ (UtC.T @ cz)  # C' z in eigen coordinates (z on R's column space)
        res = cz - LC @ theta
        r2 = float(res @ res)
        H = {a: UtC.T @ (lam[:, None] ** a * UtC) for a in range(2, 6)}  # C' R^a C
        K2 = Gi @ H[2]
        K3 = Gi @ H[3]
        K4 = Gi @ H[4]
        K5 = Gi @ H[5]
        K2sq = K2 @ K2
        c[0] -= float(np.trace(K2))
        c[1] += -2.0 * float(np.trace(K3)) + float(np.trace(K2sq))
        c[2] += -3.0 * float(np.trace(K4)) + 3.0 * float(np.sum(K3 * K2.T)) - float(np.sum(K2sq * K2.T))
        c[3] += (-4.0 * float(np.trace(K5)) + 4.0 * float(np.sum(K4 * K2.T)) + 2.0 * float(np.sum(K3 * K3.T))
                 - 4.0 * float(np.sum(K3 * K2sq.T)) + float(np.sum(K2sq * K2sq.T)))
    u, e, h = 0.5 * r2, 0.5 * c[0], 0.5 * c[1]
    if e <= 0 or h <= 0:
        return ScoreTest(u, e, h, float("nan"), float("nan"), 1.0, 1.0, 1.0)
    kappa = h / (2.0 * e)
    v = 2.0 * e * e / h
    p_s = float(stats.chi2.sf(u / kappa, v))
    p_l = liu_sf(r2, *c) if c[2] > 0 else p_s
    p = p_l if null == "liu" else p_s
    return ScoreTest(u=u, e=e, h=h, kappa=kappa, df=v, p=p, p_satterthwaite=p_s, p_liu=p_l)
