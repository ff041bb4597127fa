"""Stage 1 that borrows strength across the pairs of a gene: per-pair effects plus shared single effects.

Why. TGVIS's stage 1 fits every (gene, tissue) pair on its own. At small xQTL samples it keeps only the
strongest eQTL of a pair and misses secondary ones; two pairs that keep the same single eQTL get identical
weight columns, which no stage-2 fit can tell apart. Most cis-eQTLs are shared across tissues (GTEx; mash,
mvSuSiE), so an eQTL too weak to be found in one tissue (|z| ~ 2-3) can be found jointly in the gene's
tissues: under a shared effect the pairs' log Bayes factors add.

Model (``weights.mode: shared``). The pairs of one group (a gene's tissues and, for sQTL, its introns: pairs
with the same ``group`` key; eQTL and sQTL of a gene are separate groups) are T regressions on one genotype
matrix with standardized phenotypes, sigma^2 = 1 and independent residuals across pairs, through summary
statistics as susie_rss (X'X = (n_t - 1) R, X'y_t = sqrt(n_t - 1) z_t after the PVE adjustment). Pair t's
effect vector is a sum of

* ``L`` per-pair single effects (the paper's model: one variant of the pair's tested set, prior 1/p_t,
  b ~ N(0, V), V by EM with susieR's null check), and
* ``L_shared`` shared single effects of the group (default L): one variant j of the group (prior 1/p), and
  across the pairs the "sparse shared" prior: each pair tested at j is affected independently with
  probability rho, with its own size b_t ~ N(0, V) (sizes and signs may differ across tissues). Its Bayes
  factor is closed form, BF_j = prod_t ((1 - rho) + rho BF_jt(V)), and so are the posterior probability that
  the effect acts in pair t, rho BF_jt / ((1 - rho) + rho BF_jt), and the moments. V is the maximum-
  likelihood scale (susie's "optim": grid plus golden section on log V, kept at 0 when nothing beats the
  null); EM is not used here because under EM a shared effect that reached V = 0 in an early sweep — its
  signal first split among the per-pair effects — could never come back. An optional "equal effect"
  component (b_t = beta for every pair, ``equal_component=True``) is implemented and tested but off by
  default: on simulated tissues whose eQTL sets overlap but differ, it put eQTLs of the gene's other
  tissues into every pair.

Empirical Bayes: rho is the pooled posterior fraction of affected pairs among the included shared effects of
all groups, alternated with IBSS to convergence (at most ``max_eb_rounds`` rounds). IBSS sweeps the per-pair
effects first, then the shared ones, so a strong tissue-specific eQTL is taken by its pair's own effect and
the shared effects are left for what the pairs have in common. With nothing shared, the shared effects'
V is 0 and the fit is per-pair SuSiE with EM prior updates (for a group of one pair: exactly
``susie_rss(..., estimate_prior_method="EM")``, tested to 1e-9).

What a pair gets. Pair t's inclusion probability of variant j is
``pip_t(j) = 1 - prod_l (1 - alpha_lj a_ljt)`` over its own effects (a = 1) and the shared effects that act
in it — a shared effect counts for pair t only when its effect-level local false sign rate there,
sum_j alpha_j lfsr_jt with lfsr = min(P(b >= 0), P(b <= 0)) (mvSuSiE's per-condition measure), is below
``lfsr_max`` (0.05). TGVIS's stage-1 rule is applied to pip_t (PIP > ``pip_min``, or PIP > ``cs_pip_min`` in a
95% credible set, purity 0.5, of one of those effects) and a kept variant's weight is its posterior mean in
t. TGFM gets, per pair, those effects with alpha_l, E[b_t | j] and E[b_t^2 | j] (a normal with these moments
stands in for the spike-and-slab posterior in its draws).

Limits, stated: residuals are independent across pairs (GTEx tissues share donors, so theirs correlate;
mvSuSiE estimates that matrix — not done here); one rho per locus.

Numerical module: no I/O. Groups with the same number of pairs are fitted together as one batch; the R
products of a batch are one (sparse when alpha is concentrated) product per effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.special import ndtr

from .errors import InputError
from .susie.ibss import corr_from_matrix
from .susie.sets import get_cs
from .weights import STATUS_NO_KEPT, STATUS_NO_TESTED, STATUS_OK
from .weights import _as_inputs as _stage1_inputs

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class SharedStage1Fits:
    """Joint fits of a locus's pair groups, viewed per pair (duck-compatible with
    :class:`twasflow.weights.Stage1Fits` for ``kept``, ``pip``, ``status``, ``message``, ``effects()``).

    Shapes: M variants, P pairs, Lr = L + the largest L_shared (rows 0..L-1: the pair's own effects, then its
    group's shared effects).

    Attributes
    ----------
    group_of : (P,) index of each pair's group; groups : (G,) the group keys.
    alpha : (Lr, P, M) effect alphas (shared rows are the same for every pair of a group).
    mu, mu2 : (Lr, P, M) E[b_t | j] and E[b_t^2 | j] on the standardized (column-scaled) scale.
    act : (Lr, P, M) posterior probability that effect l at variant j acts in the pair (0 for a shared
        effect whose lfsr in the pair is >= lfsr_max). lfsr : (Lr, P) effect-level lfsr (0 for own effects).
    V : (Lr, P) the effects' prior scale (0 = excluded).
    pip, kept, tested : (M, P). status, message : (P,). niter, converged : (P,) of the pair's group.
    n_shared : (P,) included shared effects of the pair's group; pi_equal, rho : the EB estimates;
    eb_rounds : EB rounds run.
    """

    group_of: np.ndarray
    groups: list[Any]
    alpha: np.ndarray
    mu: np.ndarray
    mu2: np.ndarray
    act: np.ndarray
    V: np.ndarray
    pip: np.ndarray
    kept: np.ndarray
    tested: np.ndarray
    status: np.ndarray
    message: np.ndarray
    niter: np.ndarray
    converged: np.ndarray
    lfsr: np.ndarray
    n_shared: np.ndarray
    pi_equal: float
    rho: float
    eb_rounds: int
    csd: np.ndarray
    R: np.ndarray = field(repr=False)
    prior_tol: float = 1e-9
    act_min: float = 0.01

    def __len__(self) -> int:
        return self.pip.shape[1]

    def effects(self) -> dict[str, np.ndarray]:
        """Per pair with a kept variant, the included effects (V > prior_tol) that act in it with posterior
        probability > ``act_min``: ``effect_pair`` (K,), ``effect_l`` (K,), ``alpha, mu, mu2`` (K, M), ``V``
        (K,) — the layout :meth:`twasflow.weights.Stage1Fits.effects` gives TGFM."""
        keep_pair = self.kept.any(axis=0)
        w_act = np.einsum("lpm,lpm->lp", self.alpha, self.act)
        ll, jj = np.nonzero((self.V > self.prior_tol) & keep_pair[None, :] & (w_act > self.act_min))
        order = np.lexsort((ll, jj))
        ll, jj = ll[order], jj[order]
        return {"effect_pair": jj.astype(np.int64), "effect_l": ll.astype(np.int64),
                "alpha": self.alpha[ll, jj], "mu": self.mu[ll, jj], "mu2": self.mu2[ll, jj], "V": self.V[ll, jj]}


class _Batch:
    """IBSS state of G groups with T pairs each.

    Per-pair effects (the paper's model): ``sp_*`` arrays (Lsp, G, M, T), V (Lsp, G, T). Shared effects:
    alpha (Ls, G, M) over the group's variants, mean / second moment / activity per pair (Ls, G, M, T),
    responsibilities (Ls, G, M, 3), V (Ls, G).
    """

    def __init__(self, cols: np.ndarray, Xty: np.ndarray, tested: np.ndarray, nm1: np.ndarray, Lsp: int, Ls: int,
                 V0: float) -> None:
        self.cols = cols  # (G, T) pair indices
        self.Xty, self.tested, self.nm1 = Xty, tested, nm1  # (G, M, T), (G, M, T), (G, T)
        G, M, T = Xty.shape
        self.G, self.M, self.T, self.Lsp, self.Ls = G, M, T, Lsp, Ls
        self.any_tested = tested.any(axis=2)  # (G, M)
        self.p = self.any_tested.sum(axis=1).astype(np.float64)  # (G,)
        self.logp = np.log(np.maximum(self.p, 1.0))
        self.n_tested = tested.sum(axis=2).astype(np.float64)  # (G, M)
        pt = tested.sum(axis=1).astype(np.float64)  # (G, T) variants each pair tested
        self.logp_t = np.log(np.maximum(pt, 1.0))
        # per-pair effects, as weights.fit_pairs: min(L, p_t) effects, alpha uniform on the tested set
        self.sp_alpha = np.where(tested, 1.0 / np.maximum(pt, 1.0)[:, None, :], 0.0)[None].repeat(Lsp, 0)
        self.sp_mu = np.zeros((Lsp, G, M, T))
        self.sp_mu2 = np.zeros((Lsp, G, M, T))
        self.sp_V = np.where(np.arange(Lsp)[:, None, None] < np.minimum(pt, Lsp)[None], V0, 0.0)
        self.sp_KL = np.zeros((Lsp, G, T))
        self.sp_XtXb = np.zeros((Lsp, G, M, T))
        # shared effects
        self.alpha = np.where(self.any_tested, 1.0 / np.maximum(self.p, 1.0)[:, None], 0.0)[None].repeat(Ls, 0)
        self.mu = np.zeros((Ls, G, M, T))
        self.mu2 = np.zeros((Ls, G, M, T))
        self.act = np.zeros((Ls, G, M, T))
        self.resp = np.zeros((Ls, G, M, 2))
        self.lfsr = np.ones((Ls, G, M, T))
        self.rho_num = np.zeros((Ls, G, M))
        self.rho_den = np.zeros((Ls, G, M))
        self.V = np.full((Ls, G), V0)
        self.V[:, self.p == 0] = 0.0
        self.KL = np.zeros((Ls, G))
        self.XtXb = np.zeros((Ls, G, M, T))
        self.XtXr = np.zeros((G, M, T))
        self.active = self.p > 0
        self.elbo_prev = np.full(G, -np.inf)
        self.niter = np.zeros(G, dtype=np.int64)
        self.converged = np.zeros(G, dtype=bool)


def _ser(zeta: np.ndarray, tested: np.ndarray, nm1: np.ndarray, V: np.ndarray, logp: np.ndarray,
         prior: tuple[float, float] | None = None, method: str = "EM"):
    """Single-effect regressions for G groups at once.

    zeta : (G, M, T) X'r per pair; tested : (G, M, T); nm1 : (G, T) n_t - 1; V : (G,) prior scale;
    logp : (G,) log of the number of candidate variants (prior 1/p each). ``prior`` None: T must be 1, the
    univariate SER of susie (a per-pair effect). Otherwise ``(pi_equal, rho)``: the shared effect's mixture,
    weight 1 - pi_equal on "shared location, each pair affected with probability rho, independent sizes"
    and pi_equal on "equal effect in every pair tested".

    Returns alpha (G, M); E[b_t | j], E[b_t^2 | j], P(b_t != 0 | j) (G, M, T); responsibilities (G, M, 2) of
    the two components and the rho numerator / denominator (G, M) for the EB updates; KL (G,); the EM update
    of V with susieR's null check (G,).
    """
    G, M, T = zeta.shape
    prec = nm1[:, None, :]  # precision of the marginal estimate: sigma^2 = 1 and unit diagonal
    shared = prior is not None
    if shared:
        pi_eq, rho = prior
    elif T != 1:
        raise ValueError("a per-pair single effect needs T = 1")

    def parts(Vg: np.ndarray):
        a = Vg[:, None, None] * prec
        c = a / (1.0 + a)
        lbf_t = np.where(tested, 0.5 * (c * zeta * zeta / prec - np.log1p(a)), 0.0)  # (G, M, T)
        if not shared:
            lbf = np.where(tested[..., 0], lbf_t[..., 0], -np.inf)
            return a, lbf_t, lbf, None, None, None
        # sparse shared: prod_t ((1 - rho) + rho BF_t) over the pairs tested at j
        with np.errstate(divide="ignore"):
            l_on = math.log(rho) + lbf_t
            l_off = math.log1p(-rho) if rho < 1 else -np.inf
        mx = np.maximum(l_on, l_off)
        l_t = np.where(tested, mx + np.log(np.exp(l_on - mx) + np.exp(l_off - mx)), 0.0)
        act_sp = np.where(tested, np.exp(l_on - l_t), 0.0)
        # equal effect: rank-one U = 1 1' over the tested pairs; q = sum_t zeta_t, w = sum_t (n_t - 1)
        q = np.where(tested, zeta, 0.0).sum(axis=2)
        w = np.where(tested, prec, 0.0).sum(axis=2)
        Vw = Vg[:, None] * w
        lbf_eq = 0.5 * Vg[:, None] * q * q / (1.0 + Vw) - 0.5 * np.log1p(Vw)
        with np.errstate(divide="ignore"):
            comp = np.stack([math.log1p(-pi_eq) + l_t.sum(axis=2), (math.log(pi_eq) if pi_eq > 0 else -np.inf) + lbf_eq], axis=2)
        cm = comp.max(axis=2, keepdims=True)
        lbf = cm[..., 0] + np.log(np.exp(comp - cm).sum(axis=2))
        lbf = np.where(any_t, lbf, -np.inf)
        return a, lbf_t, lbf, comp, act_sp, (q, w)

    any_t = tested.any(axis=2)
    T2 = np.where(tested, zeta * zeta / prec, 0.0)  # once per SER: the likelihood's data part
    l_off = (math.log1p(-rho) if rho < 1 else -np.inf) if shared else 0.0
    log_rho = math.log(rho) if shared else 0.0
    fast = shared and pi_eq == 0.0 and bool(tested.all())

    def loglik(Vg: np.ndarray) -> np.ndarray:
        if fast:  # the sparse-shared component alone, every pair tested: the V search's hot path
            a = Vg[:, None, None] * prec
            lbf_t = 0.5 * (a / (1.0 + a) * T2 - np.log1p(a))
            lbf = np.logaddexp(log_rho + lbf_t, l_off).sum(axis=2)
        else:
            lbf = parts(Vg)[2]
        m = np.max(lbf, axis=1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        return m[:, 0] + np.log(np.exp(lbf - m).sum(axis=1)) - logp

    if shared and method == "optim":
        # the shared effects' scale by maximum likelihood (susie's "optim"), not EM: under EM a V that reached 0
        # stays 0, and a shared effect killed in an early sweep (its signal first taken by the per-pair
        # effects) could never come back when the pairs' evidence adds up later
        V = _optimize_V(loglik, V)
    a, lbf_t, lbf, comp, act_sp, qw = parts(V)
    m = lbf.max(axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(lbf - m)
    s = e.sum(axis=1)
    alpha = e / np.where(s > 0, s, 1.0)[:, None]
    lbf_model = m[:, 0] + np.log(np.where(s > 0, s, 1.0)) - logp
    pv = np.where(V[:, None, None] > 0, V[:, None, None] / (1.0 + a), 0.0)  # 1 / (prec + 1 / V)
    m_ind = np.where(tested, pv * zeta, 0.0)
    s_ind = np.where(tested, pv + m_ind * m_ind, 0.0)
    if not shared:
        mean, mom2, act = m_ind, s_ind, tested.astype(np.float64)
        resp = np.zeros((G, M, 2))
        rho_num = rho_den = np.zeros((G, M))
        lfsr = np.zeros((G, M, T))
        em = s_ind[..., 0]
    else:
        q, w = qw
        with np.errstate(invalid="ignore"):  # -inf - -inf where no pair of the group tested the variant
            r = np.exp(comp - lbf[..., None])
        r = np.where(np.isfinite(r), r, 0.0)  # (G, M, 2)
        r_sp, r_eq = r[..., 0], r[..., 1]
        pv_eq = np.where(V[:, None] > 0, V[:, None] / (1.0 + V[:, None] * w), 0.0)
        m_eq = pv_eq * q
        s_eq = pv_eq + m_eq * m_eq
        t_eq = np.where(tested, r_eq[..., None], 0.0)
        act = r_sp[..., None] * act_sp + t_eq
        mean = r_sp[..., None] * act_sp * m_ind + t_eq * m_eq[..., None]
        mom2 = r_sp[..., None] * act_sp * s_ind + t_eq * s_eq[..., None]
        resp = r
        # local false sign rate per pair given j (mvSuSiE): min(P(b >= 0), P(b <= 0)), the null mass in both;
        # the equal component's effect is one beta for every pair
        sd = np.sqrt(pv)
        with np.errstate(divide="ignore", invalid="ignore"):
            p_pos = np.where(sd > 0, ndtr(m_ind / np.where(sd > 0, sd, 1.0)), 0.5)
            sd_eq = np.sqrt(pv_eq)
            pe_pos = np.where(sd_eq > 0, ndtr(m_eq / np.where(sd_eq > 0, sd_eq, 1.0)), 0.5)[..., None]
        on = r_sp[..., None] * act_sp
        pos = on * p_pos + t_eq * pe_pos
        neg = on * (1.0 - p_pos) + t_eq * (1.0 - pe_pos)
        lfsr = np.where(tested, np.minimum(1.0 - neg, 1.0 - pos), 1.0)
        rho_num = r_sp * act_sp.sum(axis=2)
        rho_den = r_sp * tested.sum(axis=2)
        # EM for the scale: E[b_t^2] averaged over the affected pairs (sparse shared), E[beta^2] (equal)
        n_on = np.maximum((act_sp * tested).sum(axis=2), 1e-300)
        em = r_sp * (act_sp * s_ind).sum(axis=2) / n_on + r_eq * s_eq
        em = np.where(np.isfinite(em), em, 0.0)
    # KL(q || prior) = -lbf_model + E_q[log lik] - log lik(0), summed over the pairs (as susie's SER)
    KL = -lbf_model + np.einsum("gm,gmt,gmt->g", alpha, mean, zeta) - 0.5 * np.einsum("gt,gm,gmt->g", nm1, alpha, mom2)
    if shared and method == "optim":
        V_new = V
    else:
        V_new = np.einsum("gm,gm->g", alpha, em)
        V_new = np.where(loglik(V_new) > 0.0, V_new, 0.0)  # susieR's null check (the null log-likelihood is 0)
    return alpha, mean, mom2, act, resp, rho_num, rho_den, lfsr, KL, V_new


_GRID = np.linspace(math.log(1e-4), math.log(1.0), 8)  # log V: effects per SD from 0.01 to 1
_GOLDEN = 0.5 * (math.sqrt(5.0) - 1.0)


def _optimize_V(loglik, V_init: np.ndarray, n_golden: int = 12) -> np.ndarray:
    """(G,) prior scales maximising ``loglik`` (the SER log-likelihood minus the null's, vectorised over
    groups), V = 0 when no V beats the null (log-likelihood 0). Groups with ``V_init`` > 0 search log V in
    [log V_init - 1.5, log V_init + 1.5] by golden section (12 steps: to ~0.01 in log V, i.e. 1% in V — V is a
    nuisance, refined again at every sweep); the others first scan a coarse grid (8 points, 1e-4 to 1) and
    stop at V = 0 when no grid point beats the null, else refine around the best point."""
    G = V_init.size
    live = V_init > 0
    lo = np.where(live, np.log(np.where(live, V_init, 1.0)) - 1.5, 0.0)
    hi = lo + 3.0
    dead = np.flatnonzero(~live)
    best_grid = np.full(G, -np.inf)
    grid_u = np.zeros(G)
    if dead.size:
        ll = np.stack([loglik(np.full(G, math.exp(u)))[dead] for u in _GRID], axis=1)
        k = np.argmax(ll, axis=1)
        h = _GRID[1] - _GRID[0]
        lo[dead], hi[dead] = _GRID[k] - h, _GRID[k] + h
        best_grid[dead] = ll[np.arange(dead.size), k]
        grid_u[dead] = _GRID[k]
    x1, x2 = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    f1, f2 = loglik(np.exp(x1)), loglik(np.exp(x2))
    for _ in range(n_golden):
        left = f1 >= f2  # the maximum lies in [lo, x2]
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        x1n = np.where(left, hi - _GOLDEN * (hi - lo), x2)
        x2n = np.where(left, x1, lo + _GOLDEN * (hi - lo))
        fn = loglik(np.exp(np.where(left, x1n, x2n)))
        f1, f2 = np.where(left, fn, f2), np.where(left, f1, fn)
        x1, x2 = x1n, x2n
    u = np.where(f1 >= f2, x1, x2)
    f = np.maximum(f1, f2)
    u = np.where(best_grid > f, grid_u, u)
    f = np.maximum(f, best_grid)
    V = np.exp(u)
    if live.any():  # keep V_init when it is better (as susieR)
        fi = np.where(live, loglik(np.where(live, V_init, 1.0)), -np.inf)
        V = np.where(fi > f, V_init, V)
        f = np.maximum(f, fi)
    return np.where(f > 0.0, V, 0.0)


def _elbo(b: _Batch) -> np.ndarray:
    """(G,) ELBO of the batch's groups: sum over pairs of susie's expected log-likelihood minus the KLs."""
    Bsp = b.sp_alpha * b.sp_mu  # (Lsp, G, M, T)
    Bsh = b.alpha[..., None] * b.mu  # (Ls, G, M, T)
    bbar = Bsp.sum(axis=0) + Bsh.sum(axis=0)
    er2 = (b.nm1 - 2.0 * np.einsum("gmt,gmt->gt", bbar, b.Xty) + np.einsum("gmt,gmt->gt", bbar, b.XtXr)
           - np.einsum("lgmt,lgmt->gt", Bsp, b.sp_XtXb) - np.einsum("lgmt,lgmt->gt", Bsh, b.XtXb)
           + b.nm1 * (np.einsum("lgmt,lgmt->gt", b.sp_alpha, b.sp_mu2) + np.einsum("lgm,lgmt->gt", b.alpha, b.mu2)))
    ll = (-0.5 * (b.nm1 + 1.0) * _LOG_2PI - 0.5 * er2).sum(axis=1)
    return ll - b.KL.sum(axis=0) - b.sp_KL.sum(axis=(0, 2))


def stage1_shared(
    z_xqtl: Any,
    R: Any,
    n: Any,
    groups: Sequence[Any],
    L: int = 3,
    *,
    coverage: float = 0.95,
    cs_pip_min: float = 0.25,
    pip_min: float = 0.5,
    min_abs_corr: float = 0.5,
    prior_tol: float = 1e-9,
    scaled_prior_variance: float = 0.2,
    max_iter: int = 100,
    tol: float = 1e-3,
    L_shared: int | None = None,
    shared_prior_method: str = "optim",
    max_eb_rounds: int = 3,
    eb_tol: float = 1e-3,
    equal_component: bool = False,
    pi_equal_init: float = 0.5,
    lfsr_max: float = 0.05,
    rho_init: float = 0.5,
    eb_floor: float = 1e-4,
) -> tuple[np.ndarray, SharedStage1Fits]:
    """Stage 1, ``mode: shared``: joint fine-mapping of each group's pairs with a shared-effect prior.

    Parameters
    ----------
    z_xqtl : (M, P) xQTL z of the counted alleles, NaN where a pair did not test a variant.
    R : (M, M) LD correlation of the locus variants. n : xQTL sample size, scalar or (P,).
    groups : (P,) group key of every pair (gene + QTL type: a gene's tissues and introns).
    L : per-pair effects (3, as TGVIS). L_shared : shared effects per group of two or more pairs (default L).
    coverage, cs_pip_min, pip_min, min_abs_corr : the stage-1 selection (as :func:`twasflow.weights.stage1`).
    max_iter, tol : IBSS sweeps and ELBO tolerance per group. scaled_prior_variance : starting V.
    shared_prior_method : ``optim`` (maximum likelihood, default) or ``EM`` for the shared effects' V.
    max_eb_rounds, eb_tol : EB rounds for rho (and pi_equal), stopping when neither moves by more than eb_tol;
        rho_init, eb_floor : start and bounds [eb_floor, 1 - eb_floor].
    equal_component, pi_equal_init : the optional equal-effect component and its starting weight.
    lfsr_max : a shared effect counts for a pair only below this effect-level lfsr there.

    Returns
    -------
    B : (M, P) posterior-mean weights of the kept variants (per SD of genotype, per SD of phenotype).
    fits : :class:`SharedStage1Fits`.
    """
    # the same checks and messages as the per-pair stage 1 (one owner of stage-1 input validation)
    Z, RR, nn = _stage1_inputs(z_xqtl, R, n)
    M, P = Z.shape
    gk = list(groups)
    if len(gk) != P:
        raise InputError.at("groups must name one group per pair", column="groups", found=len(gk), expected=P)
    keys, group_of = np.unique(np.asarray([str(g) for g in gk]), return_inverse=True)
    L_shared = int(L) if L_shared is None else int(L_shared)
    if int(L) < 1 or L_shared < 0:
        raise InputError.at("L must be >= 1 and L_shared >= 0", column="L", found=(L, L_shared),
                            expected="L >= 1, L_shared >= 0")

    dR = np.diag(RR).copy()
    ok_var = dR > 0
    csd = np.where(ok_var, np.sqrt(np.where(ok_var, dR, 1.0)), 1.0)
    s = 1.0 / csd
    Rs = RR * s[:, None] * s[None, :]  # R of the column-scaled variables (unit diagonal), as susie_rss
    tested = ~np.isnan(Z) & ok_var[:, None]
    nm1 = nn - 1.0
    zz = np.where(tested, Z, 0.0)
    za = np.sqrt(nm1 / (zz * zz + nm1 - 1.0)) * zz  # susie_rss's PVE adjustment
    Xty_all = np.sqrt(nm1) * za / csd[:, None]

    # batches: groups with the same number of pairs
    members = [np.flatnonzero(group_of == g) for g in range(keys.size)]
    sizes = np.array([m.size for m in members])
    batches: list[_Batch] = []
    for T in np.unique(sizes):
        cols = np.stack([members[g] for g in np.flatnonzero(sizes == T)])  # (G, T)
        batches.append(_Batch(cols, np.moveaxis(Xty_all[:, cols], 0, 1), np.moveaxis(tested[:, cols], 0, 1),
                              nm1[cols], int(L), int(L_shared) if T > 1 else 0, scaled_prior_variance))

    # empirical Bayes for the shared effects' mixture, alternated with IBSS to convergence (warm starts)
    pi_eq, rho = (float(pi_equal_init) if equal_component else 0.0), float(rho_init)
    rounds = 0
    for rounds in range(1, max_eb_rounds + 1):
        for b in batches:
            b.active = b.p > 0
            b.elbo_prev = np.full(b.G, -np.inf)
            b.converged[:] = False
            _ibss(b, Rs, (pi_eq, rho), max_iter, tol, shared_prior_method)
        num = np.zeros(3)  # equal, all shared, rho numerator; rho denominator
        den = 0.0
        for b in batches:
            if b.Ls == 0:
                continue
            w = (b.V > prior_tol)[..., None] * b.alpha  # (Ls, G, M)
            num += [float((w * b.resp[..., 1]).sum()), float((w * b.resp.sum(axis=3)).sum()),
                    float((w * b.rho_num).sum())]
            den += float((w * b.rho_den).sum())
        if num[1] <= 0:
            break  # no shared effect included: nothing to learn (the fit is the per-pair one)
        new_eq = float(np.clip(num[0] / num[1], eb_floor, 1.0 - eb_floor)) if equal_component else 0.0
        new_rho = float(np.clip(num[2] / den, eb_floor, 1.0 - eb_floor)) if den > 0 else rho
        moved = max(abs(new_eq - pi_eq), abs(new_rho - rho))
        pi_eq, rho = new_eq, new_rho
        if moved < eb_tol:
            break

    # per-pair views: the pair's own effects, then its group's shared effects
    Lsh = max((b.Ls for b in batches), default=0)
    Lr = int(L) + Lsh
    alpha = np.zeros((Lr, P, M))
    mu = np.zeros((Lr, P, M))
    mu2 = np.zeros((Lr, P, M))
    act = np.zeros((Lr, P, M))
    V = np.zeros((Lr, P))
    lfsr_eff = np.zeros((Lr, P))
    niter = np.zeros(P, dtype=np.int64)
    conv = np.zeros(P, dtype=bool)
    n_shared = np.zeros(P, dtype=np.int64)
    for b in batches:
        for t in range(b.T):
            j = b.cols[:, t]
            alpha[:b.Lsp, j] = b.sp_alpha[..., t]
            mu[:b.Lsp, j] = b.sp_mu[..., t]
            mu2[:b.Lsp, j] = b.sp_mu2[..., t]
            act[:b.Lsp, j] = b.tested[None, :, :, t]
            V[:b.Lsp, j] = b.sp_V[..., t]
            sl = slice(b.Lsp, b.Lsp + b.Ls)
            alpha[sl, j] = b.alpha
            mu[sl, j] = b.mu[..., t]
            mu2[sl, j] = b.mu2[..., t]
            # a shared effect counts for pair t only where its sign there is confident (effect-level lfsr,
            # sum_j alpha_j lfsr_jt, below lfsr_max, as mvSuSiE reports per condition)
            sig = np.einsum("lgm,lgm->lg", b.alpha, b.lfsr[..., t]) < lfsr_max
            act[sl, j] = b.act[..., t] * sig[..., None]
            lfsr_eff[sl, j] = np.einsum("lgm,lgm->lg", b.alpha, b.lfsr[..., t])
            V[sl, j] = b.V
            niter[j] = b.niter
            conv[j] = b.converged
            n_shared[j] = (b.V > prior_tol).sum(axis=0)
    inc = (V > prior_tol)[:, :, None]
    pip = (1.0 - np.prod(np.where(inc, 1.0 - alpha * act, 1.0), axis=0)).T  # (M, P)
    pip[~tested] = 0.0
    kept = (pip > pip_min) & tested
    mid = (pip > cs_pip_min) & ~kept & tested
    corr = corr_from_matrix(Rs)
    for j in np.flatnonzero(mid.any(axis=0)):
        # the pair's credible sets: its own effects', and those of the shared effects acting in it
        # (probability > 0.5); no deduplication, membership is what counts
        Vj = np.where(np.einsum("lm,lm->l", alpha[:, j], act[:, j]) > 0.5, V[:, j], 0.0)
        for cs in get_cs(alpha[:, j], Vj, np.zeros(Lr), coverage=coverage, min_abs_corr=min_abs_corr, corr=corr,
                         dedup=False, n_purity=100):
            kept[cs.variables, j] |= mid[cs.variables, j]
    status = np.full(P, STATUS_OK, dtype=object)
    status[~kept.any(axis=0)] = STATUS_NO_KEPT
    status[~tested.any(axis=0)] = STATUS_NO_TESTED
    message = np.where(conv | (status == STATUS_NO_TESTED), "",
                       f"IBSS algorithm did not converge in {max_iter} iterations!").astype(object)
    mean = np.einsum("lpm,lpm->mp", alpha * inc * (act > 0), mu) / csd[:, None]
    B = np.where(kept, mean, 0.0)
    fits = SharedStage1Fits(group_of=group_of, groups=list(keys), alpha=alpha, mu=mu, mu2=mu2, act=act, V=V,
                            pip=pip, kept=kept, tested=tested, status=status, message=message, niter=niter,
                            converged=conv, lfsr=lfsr_eff, n_shared=n_shared, pi_equal=pi_eq, rho=rho, eb_rounds=rounds, csd=csd,
                            R=RR, prior_tol=prior_tol)
    return B, fits


def _r_times(Rs: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Rs @ x for (M, k) x whose columns are mostly concentrated on few variants (alpha of a found effect):
    entries below 1e-14 x the column's max are dropped (as twasflow.susie's product), and the product is
    sparse when few entries remain."""
    ax = np.abs(x)
    keep = ax > 1e-14 * ax.max(axis=0, keepdims=True)
    if keep.sum() <= 0.25 * x.size:
        return np.asarray((sp.csc_matrix(np.where(keep, x, 0.0)).T @ Rs).T)
    return Rs @ x


def _ibss(b: _Batch, Rs: np.ndarray, prior: tuple[float, float], max_iter: int, tol: float,
          shared_method: str = "EM") -> None:
    """Iterative Bayesian stepwise selection of one batch until every group's ELBO moves by less than tol:
    per sweep, each per-pair effect (all pairs of the active groups at once), then each shared effect."""
    M, T = b.M, b.T
    for it in range(1, max_iter + 1):
        g = np.flatnonzero(b.active)
        if g.size == 0:
            return
        b.niter[g] += 1
        k = g.size * T
        for l in range(b.Lsp):
            b.XtXr[g] -= b.sp_XtXb[l, g]
            zeta = (b.Xty[g] - b.XtXr[g]).transpose(0, 2, 1).reshape(k, M, 1)
            tst = b.tested[g].transpose(0, 2, 1).reshape(k, M, 1)
            al, mean, mom2, _, _, _, _, _, KL, V_new = _ser(zeta, tst, b.nm1[g].reshape(k, 1), b.sp_V[l, g].reshape(k),
                                                         b.logp_t[g].reshape(k))
            b.sp_alpha[l, g] = al.reshape(g.size, T, M).transpose(0, 2, 1)
            b.sp_mu[l, g] = mean[..., 0].reshape(g.size, T, M).transpose(0, 2, 1)
            b.sp_mu2[l, g] = mom2[..., 0].reshape(g.size, T, M).transpose(0, 2, 1)
            b.sp_KL[l, g] = np.where(b.sp_V[l, g] > 0, KL.reshape(g.size, T), 0.0)
            b.sp_V[l, g] = np.where(b.sp_V[l, g] > 0, V_new.reshape(g.size, T), 0.0)
            eb = (b.sp_alpha[l, g] * b.sp_mu[l, g]).transpose(1, 0, 2).reshape(M, k)
            b.sp_XtXb[l, g] = _r_times(Rs, eb).reshape(M, g.size, T).transpose(1, 0, 2) * b.nm1[g][:, None, :]
            b.XtXr[g] += b.sp_XtXb[l, g]
        for l in range(b.Ls):
            b.XtXr[g] -= b.XtXb[l, g]
            zeta = b.Xty[g] - b.XtXr[g]
            al, mean, mom2, act, resp, rn, rd, lfsr, KL, V_new = _ser(zeta, b.tested[g], b.nm1[g], b.V[l, g],
                                                                      b.logp[g], prior, shared_method)
            b.lfsr[l, g] = lfsr
            b.alpha[l, g], b.mu[l, g], b.mu2[l, g], b.act[l, g], b.resp[l, g] = al, mean, mom2, act, resp
            b.rho_num[l, g], b.rho_den[l, g] = rn, rd
            b.KL[l, g] = np.where(b.V[l, g] > 0, KL, 0.0)
            b.V[l, g] = V_new
            # X'X b for this effect: (n_t - 1) R (alpha * mean) per pair, one product for the batch
            eb = (al[..., None] * mean).transpose(1, 0, 2).reshape(M, k)
            b.XtXb[l, g] = _r_times(Rs, eb).reshape(M, g.size, T).transpose(1, 0, 2) * b.nm1[g][:, None, :]
            b.XtXr[g] += b.XtXb[l, g]
        e = _elbo(b)[g]
        done = e - b.elbo_prev[g] < tol
        b.elbo_prev[g] = e
        b.converged[g[done]] = True
        b.active[g[done]] = False
