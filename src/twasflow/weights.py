"""Stage 1 of TGVIS: per-pair xQTL fine-mapping → the standardized weight matrix B̂.

For every pair (one column of the locus's xQTL z matrix) we fit SuSiE-RSS with L = 3 on the pair's tested
variants, with the panel LD and the pair's xQTL sample size, exactly as ``twasflow.susie.susie_rss(z, R, n,
L=3)`` would (same model, defaults and credible-set rules), and keep a variant when it is in a 95% credible
set with PIP > ``cs_pip_min`` (0.25) or has PIP > ``pip_min`` (0.5). Its weight is the posterior mean of
its effect on the standardized scale (per SD of genotype, per SD of the molecular phenotype).

Batched engine. All pairs of a locus are fitted together on the locus's full R:

* A pair fitted on its own subset S of the M variants is the same model as a fit on all M variants with
  prior inclusion weight 1/|S| on S and 0 elsewhere: a variable outside S then has alpha = 0 exactly, so it
  contributes nothing to R b, to the ELBO or to the credible sets, and the SER on S is unchanged. So no
  submatrix of R is ever formed and every pair shares one matrix.
* Per IBSS sweep and effect, the products R b for all pairs are one sparse×dense product for the pairs whose
  b is concentrated on few variables (entries below 1e-14 × max|b| are dropped, as the single-fit engine
  does) and one BLAS-3 product for the others.
* The prior variance of each effect is maximised by a safeguarded Newton iteration on log V, vectorised
  over pairs, instead of one scalar Brent search per pair. With R's unit diagonal the SER log-likelihood
  depends on V only through c = a / (1 + a), a = V (n - 1), so value, gradient and curvature come from one
  exponential per variable and pair. Newton converges to the same stationary point as susieR's Brent
  search (to ~1e-10 in log V rather than Brent's ~1e-8), so fits agree with ``susie_rss`` to that
  tolerance, not bit for bit. A null effect's search stops as soon as a bound certifies that no smaller V
  beats V = 0 (:func:`_below_null`), instead of walking to log V = -30. Newton's first evaluation (at
  V_init) doubles as susieR's "keep V_init if it is better" comparison, and the search keeps the
  exponentials of each pair's best point, from which alpha is read (the same numbers as computing them
  again): about one exponential per variable less per single-effect regression.
* Memory: per effect the fit stores alpha and zeta = X'r (the regression's input); mu, mu2 and
  lbf_variable are the same expressions of zeta, V and n evaluated on demand (:class:`Stage1Fits`).
* Selection: credible sets, their de-duplication and purity (``get_cs`` semantics, including its seeded
  draws for sets larger than ``n_purity``) for all candidate pairs at once (:func:`_cs_membership`).

Numerical module: no I/O, no pipeline imports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import scipy.sparse as sp

from .errors import InputError
from .susie import SusieFit
from .susie._brent import R_OPTIM_RELTOL
from .susie.ibss import corr_from_matrix
from .susie.sets import CredibleSet, get_cs, in_cs

_LOG_2PI = math.log(2.0 * math.pi)
_LOGV_LO, _LOGV_HI = -30.0, 15.0  # susieR's optim() interval for log V
_SPARSE_REL_TOL = 1e-14  # as twasflow.susie's SymMatvec
_SPARSE_FRACTION = 0.25  # rows of b with more non-zeros than this fraction of M go through dense BLAS
_NEWTON_MAX_ITER = 60
_NEWTON_TOL = 1e-10  # |Δ log V|
_NEWTON_BASIN = 1e-5  # a full Newton step this small is taken without the ascent check
_GOLD = 0.5 * (3.0 - math.sqrt(5.0))
_SQRT_EPS = math.sqrt(2.220446049250313e-16)
_CHUNK = 1000  # pairs fitted together (bounded working memory; results do not depend on it)
_OUTSIDE = -1e30  # T2 - max(T2) for untested variables: exp(c * _OUTSIDE / 2) == 0 for every c >= 1e-13

STATUS_OK = "ok"
STATUS_NO_KEPT = "no_kept_variant"
STATUS_NO_TESTED = "no_tested_variant"
STATUS_FAILED = "susie_failed"


@dataclass
class Stage1Fits:
    """Per-pair SuSiE-RSS fits of one locus, stored batched.

    Shapes: L effects, P pairs, M locus variants. Arrays over variants are on the locus's M variants with
    zeros (alpha, mu, mu2) for variants a pair was not tested on. ``fits[j]`` gives pair j's fit as a
    :class:`twasflow.susie.SusieFit` on its tested variants only (what ``susie_rss`` on that subset
    returns), or None when the pair was not fitted.

    Attributes
    ----------
    alpha : (L, P, M)
    zeta : (L, P, M) X'r of each effect's last single-effect regression (the z-scale input it saw); the
        posterior mean ``mu``, second moment ``mu2`` and per-variable log Bayes factor ``lbf_variable``
        are functions of it, V and n, computed on demand by the same expressions as the fit (so the same
        numbers) rather than stored (three (L, P, M) float64 arrays less: 0.7 GB at P = 10,000, M = 1,000)
    V, lbf, KL : (L, P) prior variance, log Bayes factor and KL term per effect
    pip : (M, P) PIPs (0 where untested)
    kept : (M, P) selected by the stage-1 rule
    tested : (M, P) the variants each pair was fitted on
    niter, converged : (P,)
    elbo : per pair, the ELBO trace
    status : (P,) ``ok`` | ``no_kept_variant`` | ``no_tested_variant`` | ``susie_failed``
    message : (P,) the error for failed pairs, a warning (e.g. no convergence) otherwise, or ""
    """

    alpha: np.ndarray
    zeta: np.ndarray
    V: np.ndarray
    lbf: np.ndarray
    KL: np.ndarray
    pip: np.ndarray
    kept: np.ndarray
    tested: np.ndarray
    n: np.ndarray
    niter: np.ndarray
    converged: np.ndarray
    elbo: list[np.ndarray]
    status: np.ndarray
    message: np.ndarray
    csd: np.ndarray
    R: np.ndarray = field(repr=False)
    coverage: float = 0.95
    min_abs_corr: float = 0.5
    prior_tol: float = 1e-9
    n_purity: int = 100

    def __len__(self) -> int:
        return self.alpha.shape[1]

    def moments(self, ll: np.ndarray | slice, jj: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        """``mu, mu2`` of effects ``(ll, jj)`` (numpy indexing into the (L, P) effect grid)."""
        zeta, pv = self.zeta[ll, jj], _post_var(self.V[ll, jj], np.broadcast_to(self.n - 1.0, self.V.shape)[ll, jj])
        mu = pv[..., None] * zeta
        return mu, pv[..., None] + mu * mu

    def lbf_rows(self, ll: np.ndarray | slice, jj: np.ndarray | slice) -> np.ndarray:
        """``lbf_variable`` of effects ``(ll, jj)``: 0.5 (c T2 - log(1 + a)), a = V (n - 1), c = a / (1 + a)."""
        zeta, V = self.zeta[ll, jj], self.V[ll, jj]
        prec = np.broadcast_to(self.n - 1.0, self.V.shape)[ll, jj]
        tested = np.broadcast_to(self.tested.T, self.zeta.shape)[ll, jj]
        T2 = np.where(tested, zeta * zeta / prec[..., None], 0.0)
        a = V * prec
        c = a / (1.0 + a)
        return 0.5 * (T2 * c[..., None] - np.log1p(a)[..., None])

    @property
    def mu(self) -> np.ndarray:
        """(L, P, M) posterior means (computed: one more (L, P, M) array)."""
        return self.moments(slice(None), slice(None))[0]

    @property
    def mu2(self) -> np.ndarray:
        """(L, P, M) posterior second moments (computed)."""
        return self.moments(slice(None), slice(None))[1]

    @property
    def lbf_variable(self) -> np.ndarray:
        """(L, P, M) per-variable log Bayes factors (computed)."""
        return self.lbf_rows(slice(None), slice(None))

    def corr(self, idx: np.ndarray) -> np.ndarray:
        """Correlation submatrix of R for locus variant indices ``idx`` (as the fits' purity uses)."""
        return corr_from_matrix(self.R)(idx)

    def sets(self, j: int) -> list[CredibleSet]:
        """Pair j's credible sets (``susie_get_cs`` with the fit's coverage and purity), ``variables`` as
        locus (0..M-1) indices; [] for a pair that was not fitted."""
        if self.status[j] in (STATUS_NO_TESTED, STATUS_FAILED):
            return []
        return get_cs(self.alpha[:, j], self.V[:, j], self.lbf[:, j], coverage=self.coverage,
                      min_abs_corr=self.min_abs_corr, corr=self.corr, n_purity=self.n_purity)

    def __iter__(self) -> Iterator[SusieFit | None]:
        return (self[j] for j in range(len(self)))

    def __getitem__(self, j: int) -> SusieFit | None:
        if self.status[j] in (STATUS_NO_TESTED, STATUS_FAILED):
            return None
        idx = np.flatnonzero(self.tested[:, j])
        p = idx.size
        Lp = min(self.alpha.shape[0], p)  # susie uses min(L, p) effects
        pos = np.full(self.alpha.shape[2], -1)
        pos[idx] = np.arange(p)
        sets = [CredibleSet(pos[s.variables], s.coverage, s.purity_min, s.purity_mean, s.purity_median,
                            s.effect, s.log10bf) for s in self.sets(j)]
        Rs = self.R[np.ix_(idx, idx)]
        mu, mu2 = self.moments(slice(0, Lp), j)
        return SusieFit(
            alpha=self.alpha[:Lp, j][:, idx], mu=mu[:, idx], mu2=mu2[:, idx],
            lbf=self.lbf[:Lp, j].copy(), lbf_variable=self.lbf_rows(slice(0, Lp), j)[:, idx], KL=self.KL[:Lp, j].copy(),
            V=self.V[:Lp, j].copy(), sigma2=1.0, elbo=self.elbo[j], niter=int(self.niter[j]),
            converged=bool(self.converged[j]), pi=np.full(p, 1.0 / p), X_column_scale_factors=self.csd[idx],
            pip=self.pip[idx, j].copy(), sets=sets, coverage=self.coverage, min_abs_corr=self.min_abs_corr,
            prior_tol=self.prior_tol, n_purity=self.n_purity,
            warnings=[self.message[j]] if self.message[j] else [], _corr=corr_from_matrix(Rs))

    def effects(self) -> dict[str, np.ndarray]:
        """The included effects (V > prior_tol) of the pairs with at least one kept variant, for TGFM:
        ``effect_pair`` (K,) pair index, ``effect_l`` (K,) effect index, ``alpha, mu, mu2`` (K, M) (zeros
        where untested), ``V`` (K,)."""
        keep_pair = self.kept.any(axis=0)
        ll, jj = np.nonzero((self.V > self.prior_tol) & keep_pair[None, :])
        order = np.lexsort((ll, jj))
        ll, jj = ll[order], jj[order]
        mu, mu2 = self.moments(ll, jj)
        return {"effect_pair": jj.astype(np.int64), "effect_l": ll.astype(np.int64),
                "alpha": self.alpha[ll, jj], "mu": mu, "mu2": mu2, "V": self.V[ll, jj]}


def _as_inputs(z_xqtl: Any, R: Any, n: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    Z = np.asarray(z_xqtl, dtype=np.float64)
    if Z.ndim == 1:
        Z = Z[:, None]
    if Z.ndim != 2:
        raise InputError.at("z_xqtl must be an M x P matrix", column="z_xqtl", found=f"shape {Z.shape}",
                            expected="(M, P)")
    M, P = Z.shape
    RR = np.asarray(R, dtype=np.float64)
    if RR.shape != (M, M):
        raise InputError.at("R does not match z_xqtl", column="R", found=f"shape {RR.shape}",
                            expected=f"({M}, {M})")
    if not np.isfinite(RR).all():
        i, k = np.argwhere(~np.isfinite(RR))[0]
        raise InputError.at(f"R has a non-finite entry at [{i}, {k}] (0-based)", column="R", found=RR[i, k],
                            expected="finite correlations")
    if np.isinf(Z).any():
        i, k = np.argwhere(np.isinf(Z))[0]
        raise InputError.at(f"z_xqtl has an infinite entry at [{i}, {k}] (0-based)", column="z_xqtl",
                            found=Z[i, k], expected="finite z or NaN (untested)")
    nn = np.broadcast_to(np.asarray(n, dtype=np.float64).reshape(-1), (P,)).copy() if np.ndim(n) == 0 or \
        np.size(n) == 1 else np.asarray(n, dtype=np.float64).reshape(-1)
    if nn.shape != (P,):
        raise InputError.at("n must be a scalar or one sample size per pair", column="n", found=f"{nn.size} values",
                            expected=f"1 or {P}")
    bad = ~(nn > 1)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise InputError.at(f"sample size of pair {j} (0-based) must be > 1", column="n", found=nn[j],
                            expected="> 1")
    return Z, RR, nn


class _RProduct:
    """Rows of b (k x M) times the symmetric R, scaled: out = (n - 1) * s * ((s * b) @ R)."""

    def __init__(self, R: np.ndarray, s: np.ndarray | None) -> None:
        self.R, self.s = R, s
        self.M = R.shape[0]

    def __call__(self, b: np.ndarray, nm1: np.ndarray) -> np.ndarray:
        x = b if self.s is None else b * self.s
        out = np.zeros_like(x)
        ax = np.abs(x)
        mx = ax.max(axis=1)
        live = mx > 0
        if not live.any():
            return out
        keep = ax > (_SPARSE_REL_TOL * mx)[:, None]
        nnz = keep.sum(axis=1)
        sparse = live & (nnz <= _SPARSE_FRACTION * self.M)
        dense = live & ~sparse
        if dense.all():  # one BLAS-3 product straight into the output
            out = np.matmul(x, self.R, out=out)
        elif dense.any():
            out[dense] = x[dense] @ self.R
        if sparse.any():
            xs = np.where(keep[sparse], x[sparse], 0.0)
            out[sparse] = sp.csr_matrix(xs) @ self.R
        if self.s is not None:
            out *= self.s
        out *= nm1[:, None]
        return out


class _SERCurve:
    """The SER log-likelihood of k pairs as a function of u = log V, evaluated on any subset of them.

    f(u) = log Σ_S π exp(lbf(V)) = 0.5 c T2max - 0.5 log1p(a) + log(Σ_S exp(0.5 c D) / |S|), with a = V prec,
    c = a / (1 + a) and D = T2 - T2max (``_OUTSIDE`` off the pair's tested set S, where exp gives 0).
    The rows held are recompacted from the full D when a request covers less than half of them (or rows
    not held); otherwise the requested rows are gathered from the held block.
    """

    def __init__(self, prec: np.ndarray, T2max: np.ndarray, D: np.ndarray, logp: np.ndarray) -> None:
        self.prec, self.T2max, self.logp = prec, T2max, logp
        self._rows = np.arange(T2max.size)  # which pairs the held copy of D covers
        self._D0 = self._D = D
        # exp(c D / 2) at each row's best point so far (valid where ``have``): the SER's alpha is then
        # read from here instead of computed again
        self.E = np.empty(D.shape)
        self.have = np.zeros(T2max.size, dtype=bool)
        self._last: np.ndarray | None = None

    def keep(self, rows: np.ndarray, sel: np.ndarray | slice = slice(None)) -> None:
        """The last evaluation's exponentials, rows ``sel`` of it, are pairs ``rows``' best point."""
        assert self._last is not None
        self.E[rows] = self._last[sel]
        self.have[rows] = True

    def _held(self, idx: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self._rows, idx)
        covered = bool(np.all(pos < self._rows.size)) and bool(np.all(self._rows[np.minimum(pos, self._rows.size - 1)]
                                                                      == idx))
        if not covered or idx.size < 0.5 * self._rows.size:
            self._D = self._D0[idx]
            self._rows = idx.copy()
            pos = np.arange(idx.size)
        return self._D if idx.size == self._rows.size else self._D[pos]

    def __call__(self, u: np.ndarray, idx: np.ndarray, derivs: bool = False):
        """f (and, with ``derivs``, df/du and d²f/du²) at u for pairs ``idx`` (increasing)."""
        D = self._held(idx)
        prec, T2max = self.prec[idx], self.T2max[idx]
        a = np.exp(u) * prec
        c = a / (1.0 + a)
        E = np.exp((0.5 * c)[:, None] * D)
        self._last = E
        S0 = E.sum(axis=1)
        f = 0.5 * c * T2max - 0.5 * np.log1p(a) + np.log(S0) - self.logp[idx]
        if not derivs:
            return f
        ED = E * D  # E == 0 exactly off the tested set (c > 1e-13 here), so E * D is 0 there
        m1 = ED.sum(axis=1) / S0
        m2 = np.einsum("ij,ij->i", ED, D) / S0
        var = np.maximum(m2 - m1 * m1, 0.0)
        mean = T2max + m1
        q = c * (1.0 - c)  # dc/du
        g = 0.5 * q * mean - 0.5 * c
        h = 0.5 * q * (1.0 - 2.0 * c) * mean + 0.25 * q * q * var - 0.5 * q
        return f, g, h


def _below_null(curve: _SERCurve, idx: np.ndarray, u: np.ndarray, f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Rows whose ascent heads down (g < 0) from a point u0 that certifies f < 0 on all of u <= u0, so that
    every maximum the ascent can reach loses to V = 0 (the null check then sets V = 0, whatever u it ends at).

    With c = a / (1 + a): f = K(c / 2) + log(1 - c) / 2, K(t) = log mean_S exp(t T2) convex with K(0) = 0, so
    for c <= c0, K(c / 2) <= (c / c0) K(c0 / 2) and log(1 - c) <= -c give f(c) <= c (K(c0 / 2) / c0 - 1/2),
    negative when f(c0) < (c0 + log(1 - c0)) / 2. (Without this the ascent walks to log V = -30 one unit per
    evaluation: ~25 evaluations for each null effect.) The 1e-12 margin absorbs rounding."""
    a = np.exp(u) * curve.prec[idx]
    c = a / (1.0 + a)
    return (g < 0) & (f < 0.5 * (c + np.log1p(-c)) - 1e-12)


def _newton_max(curve: _SERCurve, idx: np.ndarray, u0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Safeguarded Newton ascent of the SER log-likelihood in u = log V on [-30, 15] for pairs ``idx``
    (steps at most 4 in u, halved until the value does not decrease). Returns (u, f, f at the clipped u0);
    ``curve.E`` holds the exponentials of each row's returned u."""
    u = np.clip(u0, _LOGV_LO, _LOGV_HI)
    f, g, h = curve(u, idx, derivs=True)
    curve.keep(idx)
    f0 = f.copy()
    scale = np.ones(idx.size)
    act = np.arange(idx.size)
    for _ in range(_NEWTON_MAX_ITER):
        act = act[~_below_null(curve, idx[act], u[act], f[act], g[act])]
        if act.size == 0:
            break
        ga, ha = g[act], h[act]
        newton = ha < 0
        step = np.where(newton, -ga / np.where(newton, ha, -1.0), np.sign(ga))
        # a full Newton step this small means u is at the maximum to ~1e-20: stop without evaluating
        fin = newton & (scale[act] == 1.0) & (np.abs(step) < _NEWTON_TOL)
        if fin.any():
            act, step, newton = act[~fin], step[~fin], newton[~fin]
            if act.size == 0:
                break
        step = np.clip(step, -4.0, 4.0) * scale[act]
        newton_act = newton & (scale[act] == 1.0)
        new = np.clip(u[act] + step, _LOGV_LO, _LOGV_HI)
        moved = np.abs(new - u[act])
        fn, gn, hn = curve(new, idx[act], derivs=True)
        # in Newton's quadratic basin (a full step below 1e-5) the next full step is ~1e-10: the value then
        # changes by ~|h| 1e-10 squared, below its rounding, so the step is taken as it is rather than
        # halved on rounding noise (which cost up to ~13 evaluations per pair)
        ok = (fn >= f[act] - 1e-14 * np.abs(f[act])) | (newton_act & (np.abs(step) < _NEWTON_BASIN))
        acc = act[ok]
        u[acc], f[acc], g[acc], h[acc] = new[ok], fn[ok], gn[ok], hn[ok]
        curve.keep(idx[acc], ok)
        scale[acc] = 1.0
        scale[act[~ok]] *= 0.5
        done = (ok & (moved < _NEWTON_TOL)) | (~ok & (moved < 1e-13)) | (np.abs(g[act]) < 1e-15)
        act = act[~done]
    return u, f, f0


def _brent_max(f: Callable[[np.ndarray, np.ndarray], np.ndarray], k: int, lower: float, upper: float,
               tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Brent's bounded minimiser of ``-f`` run for k problems at once, step for step as the scalar
    :func:`twasflow.susie._brent.brent_min` (so it lands on the same local optimum). ``f(x, idx)``
    evaluates problems ``idx`` at ``x``. Returns (argmax, max)."""
    a = np.full(k, float(lower))
    b = np.full(k, float(upper))
    v = a + _GOLD * (b - a)
    w = v.copy()
    x = v.copy()
    d = np.zeros(k)
    e = np.zeros(k)
    fx = -f(x, np.arange(k))
    fv = fx.copy()
    fw = fx.copy()
    tol3 = tol / 3.0
    act = np.arange(k)
    while act.size:
        xa, aa, ba = x[act], a[act], b[act]
        xm = 0.5 * (aa + ba)
        tol1 = _SQRT_EPS * np.abs(xa) + tol3
        t2 = 2.0 * tol1
        stop = np.abs(xa - xm) <= t2 - 0.5 * (ba - aa)
        act, xa, aa, ba, xm, tol1, t2 = act[~stop], xa[~stop], aa[~stop], ba[~stop], xm[~stop], tol1[~stop], t2[~stop]
        if act.size == 0:
            break
        wa, va, fxa, fva, fwa, da, ea = w[act], v[act], fx[act], fv[act], fw[act], d[act], e[act]
        para = np.abs(ea) > tol1
        r = (xa - wa) * (fxa - fva)
        q = (xa - va) * (fxa - fwa)
        p = (xa - va) * q - (xa - wa) * r
        q = 2.0 * (q - r)
        p = np.where(q > 0.0, -p, p)
        q = np.abs(q)
        p, q, r = np.where(para, p, 0.0), np.where(para, q, 0.0), np.where(para, ea, 0.0)
        ea = np.where(para, da, ea)
        golden = (np.abs(p) >= np.abs(0.5 * q * r)) | (p <= q * (aa - xa)) | (p >= q * (ba - xa))
        eg = np.where(xa < xm, ba - xa, aa - xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            dp = p / q
        up = xa + dp
        near = (up - aa < t2) | (ba - up < t2)
        dp = np.where(near, np.where(xa < xm, tol1, -tol1), dp)
        ea = np.where(golden, eg, ea)
        da = np.where(golden, _GOLD * eg, dp)
        u = np.where(np.abs(da) >= tol1, xa + da, np.where(da > 0.0, xa + tol1, xa - tol1))
        fu = -f(u, act)
        better = fu <= fxa
        left = u < xa
        # accepted point: the bracket shrinks to the side of the old x
        na = np.where(better, np.where(left, aa, xa), np.where(left, u, aa))
        nb = np.where(better, np.where(left, xa, ba), np.where(left, ba, u))
        c1 = ~better & ((fu <= fwa) | (wa == xa))
        c2 = ~better & ~c1 & ((fu <= fva) | (va == xa) | (va == wa))
        nv = np.where(better | c1, wa, np.where(c2, u, va))
        nfv = np.where(better | c1, fwa, np.where(c2, fu, fva))
        nw = np.where(better, xa, np.where(c1, u, wa))
        nfw = np.where(better, fxa, np.where(c1, fu, fwa))
        x[act] = np.where(better, u, xa)
        fx[act] = np.where(better, fu, fxa)
        a[act], b[act], v[act], fv[act], w[act], fw[act], d[act], e[act] = na, nb, nv, nfv, nw, nfw, da, ea
    return x, -fx


def _optimize_V(curve: _SERCurve, V_init: np.ndarray, meanT2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximise each pair's SER log-likelihood over V (susieR's ``optimize_prior_variance``, method
    "optim"): a local maximum in log V ∈ [-30, 15], replaced by V_init when that is better, and by 0 when
    V = 0 is at least as good (check_null_threshold = 0).

    When the mean T2 over the tested set is at least 1 the log-likelihood rises from V = 0 to one interior
    maximum, which Newton finds from V_init. Otherwise it also decreases away from V = 0, so there can be
    two local maxima (V -> 0 and an interior one) and which one susieR's Brent search returns depends on
    its iterates: when the interior maximum (Newton from the top variant's optimum) beats V = 0, those
    pairs are solved with the same Brent iteration as susieR.

    Returns V (k,) and, per row, whether ``curve.E`` holds the exponentials at that V (V > 0)."""
    T2max, prec = curve.T2max, curve.prec
    k = T2max.size
    V = np.zeros(k)
    # with every T2 <= 1 each Bayes factor is <= 1 for all V, so V = 0 wins the null check
    sig = T2max > 1.0
    u = np.zeros(k)
    f = np.full(k, -np.inf)
    fi = np.full(k, -np.inf)  # the log-likelihood at V_init
    fi_known = np.zeros(k, dtype=bool)
    newt = np.flatnonzero(sig & (meanT2 >= 1.0))
    if newt.size:
        Vi = V_init[newt]
        u0 = np.where(Vi > 0, np.log(np.where(Vi > 0, Vi, 1.0)),
                      np.log(np.maximum(T2max[newt] - 1.0, 1e-3) / prec[newt]))
        u[newt], f[newt], f0 = _newton_max(curve, newt, u0)
        # Newton's first evaluation is at V_init itself unless the interval clipped it
        same = (Vi > 0) & (u0 == np.clip(u0, _LOGV_LO, _LOGV_HI))
        fi[newt[same]], fi_known[newt[same]] = f0[same], True
    two = np.flatnonzero(sig & (meanT2 < 1.0))
    if two.size:
        # the interior maximum, searched from the top variant's own optimum; where it does not beat V = 0,
        # no local maximum does and Brent's choice does not matter (V = 0 either way)
        u[two], f[two], _ = _newton_max(curve, two, np.log(np.maximum(T2max[two] - 1.0, 1e-3) / prec[two]))
    brent = two[f[two] > 0.0]
    if brent.size:
        u[brent], f[brent] = _brent_max(lambda x, i: curve(x, brent[i]), brent.size, _LOGV_LO, _LOGV_HI,
                                        R_OPTIM_RELTOL)
        curve.have[brent] = False
    # keep V_init when the optimum found is lower (susieR compares the two)
    has_i = np.flatnonzero(sig & (V_init > 0) & ~fi_known)
    if has_i.size:
        fi[has_i] = curve(np.log(V_init[has_i]), has_i)
    use_i = f < fi
    V = np.where(use_i, V_init, np.exp(u))
    fs = np.where(use_i, fi, f)
    V[~sig | ~(fs > 0.0)] = 0.0  # null check: the log-likelihood at V = 0 is log Σπ = 0
    return V, curve.have & ~use_i & (V > 0)


def _ser_batch(zeta: np.ndarray, prec: np.ndarray, V_init: np.ndarray, tested: np.ndarray,
               logp: np.ndarray, pk: np.ndarray):
    """Single-effect regressions for k pairs at once (sigma2 = 1, uniform prior on each tested set).

    zeta : (k, M) X'r / sigma2; prec : (k,) the common precision (n - 1); tested : (k, M) bool.
    Returns alpha, mu (k, M), V, lbf_model, KL (k,) (``lbf_variable`` and ``mu2`` are recomputed from zeta
    when asked for: :class:`Stage1Fits`).
    """
    every = bool(tested.all())  # no masking needed (the usual case: every variant tested for every pair)
    T2 = zeta * zeta
    T2 /= prec[:, None]
    if not every:
        T2 = np.where(tested, T2, 0.0)
    T2max = T2.max(axis=1)
    D = T2 - T2max[:, None]
    if not every:
        D = np.where(tested, D, _OUTSIDE)
    curve = _SERCurve(prec, T2max, D, logp)
    V, have = _optimize_V(curve, V_init, T2.sum(axis=1) / pk)
    a = V * prec
    c = a / (1.0 + a)
    # exp(lbf - max lbf) on the tested set: the search's last accepted evaluation where it ended at V, 1
    # where V = 0, computed here otherwise (the same expression, so the same numbers)
    E = curve.E
    null = V == 0
    E[null] = tested[null]
    redo = np.flatnonzero(~have & ~null)
    if redo.size:
        Er = np.exp((0.5 * c[redo])[:, None] * D[redo])
        E[redo] = Er if every else np.where(tested[redo], Er, 0.0)
    S0 = E.sum(axis=1)
    lbf_model = 0.5 * c * T2max - 0.5 * np.log1p(a) + np.log(S0) - logp
    alpha = E / S0[:, None]
    post_var = _post_var(V, prec)
    mu = post_var[:, None] * zeta
    mu2 = post_var[:, None] + mu * mu
    Eb = alpha * mu
    KL = -lbf_model + np.einsum("ij,ij->i", Eb, zeta) - 0.5 * prec * np.einsum("ij,ij->i", alpha, mu2)
    return alpha, mu, V, lbf_model, KL


def _post_var(V: np.ndarray, prec: np.ndarray) -> np.ndarray:
    """Posterior variance 1 / (prec + 1 / V) of a single effect, 0 where V = 0."""
    with np.errstate(divide="ignore"):
        return np.where(V > 0, 1.0 / (prec + 1.0 / np.where(V > 0, V, 1.0)), 0.0)


def fit_pairs(
    z_xqtl: Any,
    R: Any,
    n: Any,
    L: int = 3,
    *,
    coverage: float = 0.95,
    min_abs_corr: float = 0.5,
    prior_tol: float = 1e-9,
    scaled_prior_variance: float = 0.2,
    max_iter: int = 100,
    tol: float = 1e-3,
    n_purity: int = 100,
) -> Stage1Fits:
    """SuSiE-RSS (``susie_rss(z, R, n, L)`` defaults) for every column of ``z_xqtl`` on its non-missing
    variants, batched on the shared ``R``. See the module docstring. ``kept`` is left all False and credible
    sets are computed on demand (:meth:`Stage1Fits.sets`)."""
    Z, RR, nn = _as_inputs(z_xqtl, R, n)
    M, P = Z.shape
    L = int(L)
    if L < 1:
        raise InputError.at("L must be >= 1", column="L", found=L)
    dR = np.diag(RR).copy()
    ok_var = dR > 0  # a variable without variance carries no information: never selected
    csd = np.where(ok_var, np.sqrt(np.where(ok_var, dR, 1.0)), 1.0)
    s = None if np.all(csd == 1.0) else 1.0 / csd
    tested = ~np.isnan(Z) & ok_var[:, None]
    pk = tested.sum(axis=0)
    nm1 = nn - 1.0
    TT = tested.T.copy()

    def xty(j: np.ndarray) -> np.ndarray:
        """(k, M) X'y of pairs j: susie_rss's PVE-adjusted z on the standardized scale."""
        zz = np.where(TT[j], Z[:, j].T, 0.0)
        za = np.sqrt(nm1[j, None] / (zz * zz + nm1[j, None] - 1.0)) * zz
        return np.sqrt(nm1[j])[:, None] * za / csd

    logp = np.log(np.maximum(pk, 1)).astype(np.float64)

    # outputs (all pairs)
    alpha = np.zeros((L, P, M))
    alpha[:] = np.where(TT, 1.0 / np.maximum(pk, 1)[:, None], 0.0)
    zeta = np.zeros((L, P, M))
    V = np.full((L, P), scaled_prior_variance * 1.0)  # var(y) = y'y / (n - 1) = 1
    lbf = np.full((L, P), np.nan)
    KL = np.full((L, P), np.nan)
    enabled = np.arange(L)[:, None] < np.minimum(pk, L)[None, :]  # susie fits min(L, p) effects
    V[~enabled] = 0.0
    status = np.full(P, STATUS_OK, dtype=object)
    message = np.full(P, "", dtype=object)
    status[pk == 0] = STATUS_NO_TESTED
    niter = np.zeros(P, dtype=np.int64)
    converged = np.zeros(P, dtype=bool)
    elbo: list[list[float]] = [[] for _ in range(P)]
    prod = _RProduct(RR, s)

    def run(act: np.ndarray) -> None:
        """IBSS for the pairs ``act`` together, writing their results into the outputs."""
        # working state of the pairs still iterating (compacted as pairs finish)
        w_alpha, w_zeta = alpha[:, act], zeta[:, act]
        w_mu = np.zeros_like(w_zeta)
        w_V, w_lbf, w_KL, w_on = V[:, act], lbf[:, act], KL[:, act], enabled[:, act]
        w_XtXb = np.zeros((L, act.size, M))
        w_XtXr = np.zeros((act.size, M))
        w_Xty, w_TT, w_nm1, w_logp, w_pk = xty(act), TT[act], nm1[act], logp[act], pk[act]
        w_maxV = 100.0 * np.max(np.abs(w_Xty / np.sqrt(w_nm1)[:, None]), axis=1, initial=0.0) ** 2
        w_prev = np.full(act.size, -np.inf)

        def store(rows: np.ndarray) -> None:
            j = act[rows]
            alpha[:, j], zeta[:, j] = w_alpha[:, rows], w_zeta[:, rows]
            V[:, j], lbf[:, j], KL[:, j] = w_V[:, rows], w_lbf[:, rows], w_KL[:, rows]

        for it in range(1, max_iter + 1):
            if act.size == 0:
                break
            niter[act] = it
            for l in range(L):
                on = slice(None) if w_on[l].all() else np.flatnonzero(w_on[l])
                w_XtXr[on] -= w_XtXb[l, on]
                z_ = w_Xty[on] - w_XtXr[on]
                a_, m_, V_, lm_, kl_ = _ser_batch(z_, w_nm1[on], w_V[l, on], w_TT[on], w_logp[on], w_pk[on])
                w_alpha[l, on], w_mu[l, on], w_zeta[l, on] = a_, m_, z_
                w_V[l, on], w_lbf[l, on], w_KL[l, on] = V_, lm_, kl_
                w_XtXb[l, on] = prod(a_ * m_, w_nm1[on])
                w_XtXr[on] += w_XtXb[l, on]
            w_lbf[~w_on] = 0.0
            w_KL[~w_on] = 0.0
            # susie_rss's check_prior: an enormous prior variance means z and R disagree
            bad = np.any(w_V > w_maxV, axis=0)
            Bw = w_alpha * w_mu  # (L, k, M)
            bbar = Bw.sum(axis=0)
            er2 = (w_nm1 - 2.0 * np.einsum("ij,ij->i", bbar, w_Xty) + np.einsum("ij,ij->i", bbar, w_XtXr)
                   - np.einsum("lij,lij->i", Bw, w_XtXb)
                   + w_nm1 * np.einsum("lij,lij->i", w_alpha, _post_var(w_V, w_nm1[None, :])[:, :, None] + w_mu * w_mu))
            e = -0.5 * (w_nm1 + 1.0) * _LOG_2PI - 0.5 * er2 - w_KL.sum(axis=0)
            fin = np.isfinite(e) & ~bad
            for r in np.flatnonzero(bad):
                status[act[r]] = STATUS_FAILED
                message[act[r]] = ("The estimated prior variance is unreasonably large. This is usually caused by "
                                   "mismatch between the summary statistics and the LD matrix.")
            for r in np.flatnonzero(~np.isfinite(e) & ~bad):
                status[act[r]] = STATUS_FAILED
                message[act[r]] = "The SuSiE objective became infinite."
            for j, ej in zip(act[fin].tolist(), e[fin].tolist()):
                elbo[j].append(ej)
            conv = fin & (e - w_prev < tol)
            converged[act[conv]] = True
            w_prev = e
            done = conv | ~fin
            if done.any():
                store(np.flatnonzero(done))
                keep = ~done
                act = act[keep]
                w_alpha, w_mu, w_zeta = w_alpha[:, keep], w_mu[:, keep], w_zeta[:, keep]
                w_V, w_lbf, w_KL, w_on = w_V[:, keep], w_lbf[:, keep], w_KL[:, keep], w_on[:, keep]
                w_XtXb, w_XtXr = w_XtXb[:, keep], w_XtXr[keep]
                w_Xty, w_TT, w_nm1, w_logp, w_pk = w_Xty[keep], w_TT[keep], w_nm1[keep], w_logp[keep], w_pk[keep]
                w_prev, w_maxV = w_prev[keep], w_maxV[keep]
        if act.size:
            store(np.arange(act.size))
            for j in act:
                message[j] = f"IBSS algorithm did not converge in {max_iter} iterations!"

    # pairs in chunks: the working state (about 30 arrays of chunk x M) stays bounded whatever P is
    for cols in _chunks(P):
        run(cols[pk[cols] > 0])
    # PIPs over included effects; failed / untested pairs get nothing
    pip = np.empty((M, P))
    for cols in _chunks(P):
        inc = V[:, cols] > prior_tol
        pip[:, cols] = (1.0 - np.prod(np.where(inc[:, :, None], 1.0 - alpha[:, cols], 1.0), axis=0)).T
    pip[:, status != STATUS_OK] = 0.0
    return Stage1Fits(alpha=alpha, zeta=zeta, V=V, lbf=lbf, KL=KL, pip=pip,
                      kept=np.zeros((M, P), dtype=bool), tested=tested, n=nn, niter=niter, converged=converged,
                      elbo=[np.asarray(x) for x in elbo], status=status, message=message, csd=csd, R=RR,
                      coverage=coverage, min_abs_corr=min_abs_corr, prior_tol=prior_tol, n_purity=n_purity)


def _chunks(P: int) -> Iterator[np.ndarray]:
    """Consecutive pair indices in blocks of ``_CHUNK``."""
    for c0 in range(0, P, _CHUNK):
        yield np.arange(c0, min(c0 + _CHUNK, P))


def _in_pure_cs(fits: Stage1Fits, j: int, candidates: np.ndarray) -> np.ndarray:
    """Which of ``candidates`` (locus variant indices) lie in one of pair j's credible sets, following
    ``get_cs`` (same set order, deduplication, purity sampling stream) but computing purity only for sets
    that contain a candidate."""
    out = np.zeros(candidates.size, dtype=bool)
    a = fits.alpha[:, j]
    include = fits.V[:, j] > 1e-9
    seen: set[bytes] = set()
    rng: np.random.Generator | None = None
    for l in range(a.shape[0]):
        cs = in_cs(a[l], fits.coverage)
        key = cs.tobytes()
        dup = key in seen
        seen.add(key)
        if not include[l] or cs.size == 0 or dup:
            continue
        idx = cs
        if cs.size > fits.n_purity:  # keep the sampling stream aligned with get_cs(seed=0)
            rng = np.random.default_rng(0) if rng is None else rng
            idx = rng.choice(cs, size=fits.n_purity, replace=False)
        hit = np.isin(candidates, cs)
        if not hit.any() or np.all(out[hit]):
            continue
        if idx.size > 1:
            c = np.abs(fits.corr(idx))
            pur = float(c[np.triu_indices(idx.size, k=1)].min())
        else:
            pur = 1.0
        if pur >= fits.min_abs_corr:
            out |= hit
    return out


def select(fits: Stage1Fits, *, cs_pip_min: float = 0.25, pip_min: float = 0.5) -> np.ndarray:
    """TGVIS's stage-1 rule: keep a variant with PIP > ``pip_min``, or with PIP > ``cs_pip_min`` inside one
    of the pair's credible sets. Returns the (M, P) bool selection (False for pairs not fitted).

    Credible-set membership only matters for PIPs in (cs_pip_min, pip_min], so sets are built only for
    pairs that have such a variant, batched (:func:`_cs_membership`)."""
    pip = fits.pip
    kept = (pip > pip_min) & fits.tested
    mid = (pip > cs_pip_min) & ~kept & fits.tested
    mid[:, np.isin(fits.status, [STATUS_NO_TESTED, STATUS_FAILED])] = False
    todo = np.flatnonzero(mid.any(axis=0))
    for c0 in range(0, todo.size, _CHUNK):
        cols = todo[c0:c0 + _CHUNK]
        kept[:, cols] |= _cs_membership(fits, cols, mid[:, cols].T).T
    kept[:, np.isin(fits.status, [STATUS_NO_TESTED, STATUS_FAILED])] = False
    return kept


_TOP = 32  # credible sets are first looked for among each effect's 32 largest alphas


def _cs_rows(a: np.ndarray, coverage: float) -> np.ndarray:
    """(n, M) bool: row r's credible set, exactly :func:`twasflow.susie.sets.in_cs` of ``a[r]`` (the
    fewest largest alphas whose sum reaches ``coverage``; ties at the threshold keep the lower index), found
    from a partial sort of each row's top ``_TOP`` values (a full sort only for rows that need more)."""
    n, M = a.shape
    out = np.zeros((n, M), dtype=bool)
    if n == 0:
        return out
    K = min(_TOP, M)
    top = -np.sort(-np.partition(a, M - K, axis=1)[:, M - K:], axis=1)  # the K largest, decreasing
    csum = np.cumsum(top, axis=1)
    cnt = (csum < coverage).sum(axis=1)
    need = np.minimum(cnt + 1, M)
    full = np.flatnonzero(cnt >= K)  # the set is longer than K: sort the whole row (same values, same cumsum)
    thr = np.empty(n)
    part = np.flatnonzero(cnt < K)
    thr[part] = top[part, need[part] - 1]
    if full.size:
        srt = -np.sort(-a[full], axis=1)
        cf = np.cumsum(srt, axis=1)
        need[full] = np.minimum((cf < coverage).sum(axis=1) + 1, M)
        thr[full] = srt[np.arange(full.size), need[full] - 1]
    out = a >= thr[:, None]
    over = np.flatnonzero(out.sum(axis=1) > need)  # ties at the threshold: the lower indices first
    for r in over:
        above = a[r] > thr[r]
        ties = np.flatnonzero(a[r] == thr[r])
        out[r] = above
        out[r, ties[:need[r] - int(above.sum())]] = True
    return out


def _cs_membership(fits: Stage1Fits, cols: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """(k, M) bool: which candidate variants (``cand`` (k, M), pairs ``cols``) lie in one of the pair's
    pure credible sets, as :func:`twasflow.susie.sets.get_cs` defines them (effects with V > 1e-9,
    duplicated sets dropped, purity = min |r| over the set's pairs >= ``min_abs_corr``; a set larger than
    ``n_purity`` is judged on ``n_purity`` of its variables drawn from one ``default_rng(0)`` stream per
    pair, set after set), for all pairs at once: one partial sort per effect, purities gathered from R by
    set size (:func:`_in_pure_cs` is the one-pair reference)."""
    L = fits.alpha.shape[0]
    k, M = cand.shape
    cs = _cs_rows(fits.alpha[:, cols].reshape(L * k, M), fits.coverage).reshape(L, k, M)
    size = cs.sum(axis=2)  # (L, k)
    dup = np.zeros((L, k), dtype=bool)
    for l in range(1, L):
        for m in range(l):
            dup[l] |= (size[l] == size[m]) & np.all(cs[l] == cs[m], axis=1)
    use = (fits.V[:, cols] > 1e-9) & (size > 0) & ~dup
    hit = use & np.any(cs & cand[None], axis=2)
    ll, jj = np.nonzero(hit)
    if ll.size == 0:
        return np.zeros((k, M), dtype=bool)
    # the variables purity is computed on: the whole set, or n_purity of it drawn as get_cs draws them
    npur = np.minimum(size[ll, jj], fits.n_purity)
    drawn: dict[tuple[int, int], np.ndarray] = {}
    for j in np.unique(jj[size[ll, jj] > fits.n_purity]):
        rng = np.random.default_rng(0)
        for l in np.flatnonzero(use[:, j] & (size[:, j] > fits.n_purity)):
            sample = rng.choice(np.flatnonzero(cs[l, j]), size=fits.n_purity, replace=False)
            if hit[l, j]:
                drawn[(int(l), int(j))] = sample
    sinv = _inv_sqrt_diag(fits.R)
    unit = bool(np.all(sinv == 1.0))  # a correlation matrix: cov2cor leaves R as it is
    pure = np.ones(ll.size, dtype=bool)  # a single variable is pure
    for s in np.unique(npur[npur > 1]):
        g = np.flatnonzero(npur == s)
        small = size[ll[g], jj[g]] <= fits.n_purity
        idx = np.empty((g.size, s), dtype=np.int64)
        if small.any():
            idx[small] = np.nonzero(cs[ll[g[small]], jj[g[small]]])[1].reshape(-1, s)
        for r in np.flatnonzero(~small):
            idx[r] = drawn[(int(ll[g[r]]), int(jj[g[r]]))]
        iu = np.triu_indices(s, k=1)
        ia, ib = idx[:, iu[0]], idx[:, iu[1]]
        c = np.take(fits.R, ia * M + ib)
        if not unit:
            c = c * sinv[ia] * sinv[ib]
        pure[g] = np.abs(c).min(axis=1) >= fits.min_abs_corr  # NaN: not pure
    pm = np.zeros((L, k), dtype=bool)
    pm[ll[pure], jj[pure]] = True
    return np.any(cs & pm[:, :, None], axis=0) & cand


def _inv_sqrt_diag(R: np.ndarray) -> np.ndarray:
    """1 / sqrt(diag R) (inf where the diagonal is 0), the cov2cor scaling the fits' purity uses."""
    with np.errstate(divide="ignore"):
        return 1.0 / np.sqrt(np.diag(R))


def select_rule(pip: np.ndarray, in_cs: np.ndarray, *, cs_pip_min: float = 0.25, pip_min: float = 0.5) -> np.ndarray:
    """The selection rule on plain arrays (any matching shape): PIP > pip_min, or in a credible set with
    PIP > cs_pip_min."""
    return (np.asarray(pip) > pip_min) | (np.asarray(in_cs, dtype=bool) & (np.asarray(pip) > cs_pip_min))


def posterior_mean(fits: Stage1Fits) -> np.ndarray:
    """(M, P) posterior mean effects on the standardized scale (effects with V > prior_tol)."""
    M, P = fits.pip.shape
    out = np.empty((M, P))
    for cols in _chunks(P):  # bounded temporaries
        inc = (fits.V[:, cols] > fits.prior_tol).astype(np.float64)
        mu = fits.moments(slice(None), cols)[0]
        out[:, cols] = np.einsum("lpm,lp->mp", fits.alpha[:, cols] * mu, inc) / fits.csd[:, None]
    return out


def stage1(
    z_xqtl: Any,
    R: Any,
    n: Any,
    L: int = 3,
    *,
    coverage: float = 0.95,
    cs_pip_min: float = 0.25,
    pip_min: float = 0.5,
    min_abs_corr: float = 0.5,
    prior_tol: float = 1e-9,
    max_iter: int = 100,
    tol: float = 1e-3,
) -> tuple[np.ndarray, Stage1Fits]:
    """TGVIS stage 1: per-pair SuSiE-RSS and variant selection → standardized weights.

    Parameters
    ----------
    z_xqtl : (M, P) xQTL z-scores of the counted alleles, one column per pair; NaN where a variant is
        untested for the pair (each pair is fitted on its own non-missing variants).
    R : (M, M) LD correlation of the locus variants (panel, counted-allele dosages).
    n : xQTL sample size, a scalar or (P,).
    L : SuSiE effects per pair (3 in TGVIS).
    coverage, min_abs_corr : credible-set coverage and purity (susie_rss defaults 0.95, 0.5).
    cs_pip_min, pip_min : the selection thresholds (keep PIP > cs_pip_min inside a credible set, or
        PIP > pip_min).

    Returns
    -------
    B : (M, P) float64 posterior-mean effects (per SD of genotype, per SD of phenotype) of the selected
        variants, 0 elsewhere.
    fits : :class:`Stage1Fits`; ``fits[j]`` is pair j's :class:`twasflow.susie.SusieFit`, ``fits.kept`` the
        (M, P) selection, ``fits.status`` ``ok`` / ``no_kept_variant`` (dropped) / ``no_tested_variant`` /
        ``susie_failed``.
    """
    fits = fit_pairs(z_xqtl, R, n, L, coverage=coverage, min_abs_corr=min_abs_corr, prior_tol=prior_tol,
                     max_iter=max_iter, tol=tol)
    kept = select(fits, cs_pip_min=cs_pip_min, pip_min=pip_min)
    fits.kept = kept
    fits.status[(fits.status == STATUS_OK) & ~kept.any(axis=0)] = STATUS_NO_KEPT
    B = np.where(kept, posterior_mean(fits), 0.0)
    return B, fits
