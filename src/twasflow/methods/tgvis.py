"""TGVIS stage 2 at one locus: gene–tissue pairs, direct causal variants and infinitesimal effects.

Model (paper eq. 4 and 6, z scale): ``z = R (B theta + gamma + upsilon) + e``, ``e ~ N(0, R)``,
``upsilon ~ N(0, tau2 I)``, with B the (M, P) stage-1 weights. The profile-likelihood loop alternates

1. joint SuSiE-RSS over P pairs + M variants on ``z - R upsilon`` (eq. 6–8): pair column j is the
   standardized predicted expression ``G w_j``, ``w_j = B_j / sqrt(B_j' R B_j)``; its z-score is
   ``w_j' (z - R upsilon)`` and the joint correlation is ``[[W'RW, W'R], [RW, R]]``; prior weights 1/P per pair
   and 1/M per variant (``pair_prior_share``);
2. the Zhang–Lin score test of ``sigma2_upsilon = 0`` given the credible-set members (eq. 23–25); when it
   is not significant ``upsilon = 0``, otherwise the PQL update of upsilon (eq. 11) and the REML update of
   its variance (eq. 13), iterated to their fixed point at the current ``eta = R (B theta + gamma)``;

until ``max(||Δtheta||_2, ||Δgamma||_2) < tol`` (1e-3, on the paper's scale: theta per unit of B's column,
gamma per SD of genotype, both per SD of the trait) or ``max_iter`` (50) iterations. ``sigma2_alpha``
(eq. 14) then gives the summary-data BIC (eq. 15), which picks L on ``L_grid`` (each L warm-started from
the previous L's SuSiE fit). Pratt indices (eq. 16–19) and the locus split (eq. 20–21) are computed on the
selected fit. One eigendecomposition of R (``twasflow.methods._inf.LDEigen``) serves every solve, and the
factored joint system (``twasflow.methods.joint``: products through W and R, never the (P + M)^2 matrix)
every SuSiE fit.

Decisions the paper leaves open are documented in ``docs/tgvis.md``.

Numerical module: no I/O.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field, fields
from typing import Any, Sequence

import numpy as np
import pandas as pd

from twasflow.errors import ConfigError, InputError
from twasflow.susie import SusieFit, susie_rss

from . import _inf
from ._inputs import locus_arrays, weight_matrix
from ._weight_uncertainty import weight_var_for
from .joint import JointSystem
from .result import (STATUS_OK, FinemapResult, attach_pair_meta, bundle_pair_meta, credible_set_tables,
                     empty_result)

METHOD = "tgvis"
INF_MODES = ("reml", "fixed", "none")
_SUSIE_TOL = 1e-3  # susie_rss's ELBO tolerance (its default, used for every fit)


@dataclass(frozen=True)
class TgvisOptions:
    """Options of :func:`fit` (the first five are the config keys of the ``tgvis`` block).

    Attributes
    ----------
    L_grid : candidate numbers of single effects, scored by BIC (eq. 15).
    inf_mode : ``reml`` (score test + PQL/REML, the paper), ``fixed`` (PQL with ``inf_variance``, no
        test), ``none`` (no infinitesimal effects: plain joint SuSiE).
    inf_variance : ``fixed`` mode's per-variant variance of upsilon on the standardized scale (trait
        variance per variant); multiplied by n - 1 on the z scale.
    cs_pratt_min : a 95% credible set is causal when its CS-Pratt exceeds this (0.15).
    pair_prior_share : ``"auto"`` = 1/P per pair and 1/M per variant (half the prior mass on pairs), or
        the share of the prior mass on pairs (0 < share < 1): share/P per pair, (1 - share)/M per variant.
    coverage, min_abs_corr : SuSiE credible-set coverage and purity (over the joint matrix).
    max_iter, tol : profile-likelihood loop limits (50; 1e-3).
    score_alpha : level of the score test (0.05).
    score_null : null distribution of the score statistic: ``liu`` (four cumulants of its exact null,
        default) or ``satterthwaite`` (eq. 25's scaled chi-square, slightly liberal; docs/tgvis.md).
    estimate_prior_method : SuSiE prior-variance update: ``EM`` (as the authors' TGVIS software) or ``optim``
        (susie_rss's default).
    susie_max_iter : IBSS iterations per SuSiE fit.
    eig_tol : relative eigenvalue threshold defining R's column space.
    bic_df : causal degrees of freedom in the BIC (``sets``, ``members``, ``effects``; docs/tgvis.md).
    tau2_cap : REML's bound on tau2 as a multiple of ``z'R^+z / rank(R)`` (1; the authors' software uses 0.25).
    bound_warm_start : while tau2 sits at that bound, later L start from the upsilon of the first L that ended
        there instead of 0. Off by default: 5x faster on a locus where the bound binds at every L, but it can
        keep later L at the bound and lose signals (docs/tgvis.md, "When tau2 reaches its bound"). Loci with
        interior tau2 are unchanged either way.
    """

    L_grid: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    inf_mode: str = "reml"
    inf_variance: float | None = None
    cs_pratt_min: float = 0.15
    pair_prior_share: float | str = "auto"
    coverage: float = 0.95
    min_abs_corr: float = 0.5
    max_iter: int = 50
    tol: float = 1e-3
    score_alpha: float = 0.05
    score_null: str = "liu"
    estimate_prior_method: str = "EM"
    susie_max_iter: int = 100
    eig_tol: float = _inf.EIG_TOL
    bic_df: str = "sets"
    tau2_cap: float = 1.0
    bound_warm_start: bool = False


BIC_DF = ("sets", "members", "effects")


def make_options(**options: Any) -> TgvisOptions:
    """Validate ``options`` (config keys and the extras of :class:`TgvisOptions`); raises ConfigError."""
    known = {f.name for f in fields(TgvisOptions)}
    for k in options:
        if k not in known:
            raise ConfigError.at("unknown TGVIS option", column=f"tgvis.{k}", found=k, expected=sorted(known))
    o = {k: v for k, v in options.items() if v is not None or k == "inf_variance"}
    if "L_grid" in o:
        grid = o["L_grid"]
        if isinstance(grid, (int, np.integer)):
            grid = [grid]
        try:
            grid = tuple(sorted({int(x) for x in grid}))
        except (TypeError, ValueError):
            raise ConfigError.at("L_grid must be a list of integers", column="tgvis.L_grid", found=o["L_grid"])
        if not grid or grid[0] < 1:
            raise ConfigError.at("L_grid must hold integers >= 1", column="tgvis.L_grid", found=o["L_grid"])
        o["L_grid"] = grid
    opts = TgvisOptions(**o)
    if opts.inf_mode not in INF_MODES:
        raise ConfigError.at("invalid inf_mode", column="tgvis.inf_mode", found=opts.inf_mode, expected=INF_MODES)
    if opts.inf_mode == "fixed" and not (opts.inf_variance is not None and opts.inf_variance > 0):
        raise ConfigError.at("inf_mode 'fixed' needs a positive inf_variance", column="tgvis.inf_variance",
                             found=opts.inf_variance, expected="> 0")
    if opts.bic_df not in BIC_DF:
        raise ConfigError.at("invalid bic_df", column="tgvis.bic_df", found=opts.bic_df, expected=BIC_DF)
    if opts.score_null not in ("liu", "satterthwaite"):
        raise ConfigError.at("invalid score_null", column="tgvis.score_null", found=opts.score_null,
                             expected=("liu", "satterthwaite"))
    share = opts.pair_prior_share
    if isinstance(share, str):
        if share != "auto":
            raise ConfigError.at("invalid pair_prior_share", column="tgvis.pair_prior_share", found=share,
                                 expected="'auto' or a number in (0, 1)")
    elif not 0.0 < float(share) < 1.0:
        raise ConfigError.at("pair_prior_share must lie in (0, 1)", column="tgvis.pair_prior_share", found=share,
                             expected="'auto' or a number in (0, 1)")
    if not (math.isfinite(float(opts.tau2_cap)) and float(opts.tau2_cap) > 0):
        raise ConfigError.at("tau2_cap must be a positive number", column="tgvis.tau2_cap", found=opts.tau2_cap,
                             expected="> 0")
    if not 0.0 <= opts.cs_pratt_min <= 1.0:
        raise ConfigError.at("cs_pratt_min must lie in [0, 1]", column="tgvis.cs_pratt_min", found=opts.cs_pratt_min)
    return opts


@dataclass
class TgvisResult(FinemapResult):
    """TGVIS result: the shared schema plus the fit's internals.

    Extra attributes
    ----------------
    bic_grid : {L: BIC} for every L tried.
    fit : the selected joint SuSiE fit (variables: the modelled pairs, then the M variants).
    theta : (P,) posterior means of the pair effects (paper scale; NaN for pairs without weights).
    gamma : (M,) posterior means of the direct variant effects (standardized scale).
    upsilon : (M,) infinitesimal effects (standardized scale; 0 when absent).
    """

    bic_grid: dict[int, float] = field(default_factory=dict)
    fit: SusieFit | None = None
    theta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gamma: np.ndarray = field(default_factory=lambda: np.zeros(0))
    upsilon: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def L(self) -> int:
        return int(self.locus.get("L", 0))

    @property
    def bic(self) -> float:
        return float(self.locus.get("bic", math.nan))

    @property
    def sigma2_inf(self) -> float:
        return float(self.locus.get("sigma2_inf", math.nan))

    @property
    def inf_test_p(self) -> float:
        return float(self.locus.get("inf_test_p", math.nan))

    @property
    def pratt_split(self) -> dict[str, float]:
        """Eq. 21: the locus's Pratt index split into pairs, direct variants and infinitesimal effects."""
        return {k: float(self.locus.get(f"pratt_{k}", math.nan)) for k in ("pairs", "variants", "inf")}


@dataclass
class _LFit:
    L: int
    fit: SusieFit
    b: np.ndarray  # joint posterior means (standardized)
    Rups: np.ndarray  # R upsilon, z scale
    ups: np.ndarray  # upsilon, z scale
    tau2: float  # z scale; 0 when upsilon = 0
    test_p: float
    niter: int
    converged: bool
    at_bound: bool = False  # the last upsilon update had tau2 = tau2_max (REML's root above the bound)
    sigma2_alpha: float = math.nan
    bic: float = math.nan


def _prior_weights(Pa: int, M: int, share: float | str) -> np.ndarray:
    if Pa == 0:
        return np.full(M, 1.0 / M)
    s = 0.5 if share == "auto" else float(share)
    return np.concatenate([np.full(Pa, s / Pa), np.full(M, (1.0 - s) / M)])


def _bic(S: JointSystem, lf: _LFit, n_members: int, logM: float, how: str) -> float:
    """Summary-data BIC (eq. 15) of one L's fit; ``how`` chooses the causal degrees of freedom."""
    K = max(S.E.rank, 1)
    df_inf = _inf.inf_effective_df(S.E, lf.tau2)
    fit_term = math.log(max(lf.sigma2_alpha, 1e-300))
    if how == "sets":
        return fit_term + logM / K * (len(lf.fit.sets) + df_inf)
    if how == "members":
        return fit_term + logM / K * (n_members + df_inf)
    # "effects": the authors' software (L effects with an extended-BIC term, infinitesimal df counted twice)
    n_var = S.Pa + S.M
    return fit_term + (logM + math.log(n_var)) / K * lf.L + 2.0 * logM / K * df_inf


def _in_sets(fit: SusieFit) -> np.ndarray:
    if not fit.sets:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate([np.asarray(s.variables, dtype=np.int64) for s in fit.sets]))


def _profile(S: JointSystem, n: float, L: int, opts: TgvisOptions, pw: np.ndarray, init: SusieFit | None,
             check_R: bool, start: _LFit | None = None) -> _LFit:
    """The profile-likelihood loop at one L, from upsilon = 0, or from ``start``'s upsilon (the first L whose
    loop ended at the tau2 bound, passed by :func:`fit` with ``bound_warm_start``; docs/tgvis.md)."""
    z = S.z
    scale = math.sqrt(n - 1.0)  # z-scale effect = sqrt(n - 1) x standardized effect (susie_rss with n)
    M, Pa = S.M, S.Pa
    sd = S.sd
    zero = np.zeros(M)
    ups, Rups, tau2 = (zero, zero, 0.0) if start is None else (start.ups, start.Rups, start.tau2)
    tau2_fixed = (n - 1.0) * (opts.inf_variance or 0.0)
    tau2_max = max(opts.tau2_cap * S.zPz / max(S.E.rank, 1), 1e-12)
    Utz = S.E.coords(z) if opts.inf_mode == "reml" else None  # fixed at the locus: the score test's U'z
    tested: dict[tuple[int, ...], float] = {}  # score-test p-value per credible-set member set
    fit = init
    prev_theta = prev_gamma = None
    test_p = math.nan
    converged = False
    at_bound = False
    it = 0
    for it in range(1, opts.max_iter + 1):
        fit = susie_rss(z=S.joint_z(z - Rups), R=S.joint, n=n, L=L, prior_weights=pw, model_init=fit,
                        estimate_prior_method=opts.estimate_prior_method, max_iter=opts.susie_max_iter,
                        coverage=opts.coverage, min_abs_corr=opts.min_abs_corr, check_R=check_R and it == 1)
        b = fit.posterior_mean()
        theta, gamma = b[:Pa] / sd, b[Pa:]
        used_zero = not np.any(Rups)
        if opts.inf_mode == "none":
            new_ups, new_Rups, tau2 = zero, zero, 0.0
        else:
            resid = z - S.eta(b, scale)
            if opts.inf_mode == "fixed":
                tau2 = tau2_fixed
                new_ups, new_Rups = _inf.pql_upsilon(S.E, resid, tau2)
            else:
                # the test depends only on z and the credible-set members, which rarely change between
                # iterations: the same members give the same p-value, so it is computed once per member set
                key = tuple(_in_sets(fit).tolist())
                if key not in tested:
                    tested[key] = _inf.score_test(S.E, z, S.UtC(np.asarray(key, dtype=np.int64)),
                                                  null=opts.score_null, z_coords=Utz).p
                test_p = tested[key]
                new_ups, new_Rups = zero, zero
                if test_p < opts.score_alpha:
                    c = S.E.coords(resid)  # one product with U' for the REML and PQL steps
                    tau2 = _inf.reml_fit(S.E, resid, tau2_max=tau2_max, coords=c)
                    at_bound = tau2 >= tau2_max
                    if tau2 > 0:
                        new_ups, new_Rups = _inf.pql_upsilon(S.E, resid, tau2, coords=c)
                else:
                    tau2, at_bound = 0.0, False
        ups, Rups = new_ups, new_Rups
        if prev_theta is not None:
            delta = max(float(np.linalg.norm(theta - prev_theta)), float(np.linalg.norm(gamma - prev_gamma)))
            if delta < opts.tol:
                converged = True
                break
        # upsilon = 0 before and after this fit: the next fit would see the same z (a fixed point)
        if used_zero and not np.any(Rups):
            converged = True
            break
        prev_theta, prev_gamma = theta, gamma
    assert fit is not None
    return _LFit(L=L, fit=fit, b=fit.posterior_mean(), Rups=Rups, ups=ups, tau2=tau2 if np.any(ups) else 0.0,
                 test_p=test_p, niter=it, converged=converged, at_bound=at_bound and bool(np.any(ups)))


def _as_inputs(z: Any, R: Any, n: Any, B: Any) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    zz, RR, n_eff = locus_arrays(z, R, n)
    return zz, RR, n_eff, weight_matrix(B, zz.size)


def fit(
    z: Any,
    R: Any,
    n: Any,
    B: Any,
    pair_names: Sequence[str] | None = None,
    variant_names: Sequence[str] | None = None,
    weight_var: Any = None,
    **options: Any,
) -> TgvisResult:
    """Fit TGVIS at one locus.

    Parameters
    ----------
    z : (M,) GWAS z-scores of the counted alleles.
    R : (M, M) LD correlation matrix (reference panel; symmetric).
    n : GWAS sample size (scalar, or per-variant: the median is used).
    B : (M, P) stage-1 weights of the pairs (per SD of genotype, per SD of the molecular phenotype;
        0 for unselected variants). Pairs whose weights predict nothing (``B_j' R B_j = 0``) are not
        modelled and are reported with NaN pip / estimate.
    pair_names, variant_names : labels (default ``pair1..``, ``variant1..``).
    weight_var : (P,) stage-1 weight variances ``tr(R Sigma_j)``, carried as the expected Gram
        ``B'RB + diag(weight_var)`` (:mod:`twasflow.methods._weight_uncertainty`); None = fixed weights.
    **options : see :class:`TgvisOptions` (config keys ``L_grid``, ``inf_mode``, ``inf_variance``,
        ``cs_pratt_min``, ``pair_prior_share``, plus the extras).

    Returns
    -------
    TgvisResult. ``variables`` columns: name, type (pair/variant), pip, cs, cs_pip, cs_pratt, estimate
    (posterior mean of a credible-set member, 0 otherwise: theta per unit of B's column for pairs, gamma per
    SD of genotype for variants, both per SD of the trait), se (posterior SD, same rule), pratt, causal,
    then posterior_mean, posterior_sd. Locus fields: L, bic, sigma2_alpha, sigma2_inf (per-variant
    variance of upsilon, standardized scale), inf_test_p, pratt_pairs/variants/inf, niter, converged,
    seconds.
    """
    t0 = time.perf_counter()
    opts = make_options(**options)
    zz, RR, n_eff, BB = _as_inputs(z, R, n, B)
    M, P = zz.size, BB.shape[1]
    pnames = [f"pair{j + 1}" for j in range(P)] if pair_names is None else [str(x) for x in pair_names]
    vnames = [f"variant{m + 1}" for m in range(M)] if variant_names is None else [str(x) for x in variant_names]
    if len(pnames) != P:
        raise InputError.at("pair_names has the wrong length", column="pair_names", found=len(pnames), expected=P)
    if len(vnames) != M:
        raise InputError.at("variant_names has the wrong length", column="variant_names", found=len(vnames),
                            expected=M)
    if M == 0:
        res = empty_result(METHOD, "no variants", M=0, P=P)
        return TgvisResult(res.method, res.variables, res.sets, res.locus)

    caught: list[str] = []
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always")
        S = JointSystem(zz, RR, BB, opts.eig_tol, weight_var=weight_var)
        pw = _prior_weights(S.Pa, M, opts.pair_prior_share)
        fits: dict[int, _LFit] = {}
        init: SusieFit | None = None
        anchor: _LFit | None = None
        logM = math.log(max(S.E.rank, 2))
        for i, L in enumerate(opts.L_grid):
            # at the bound the loop walks a ridge at contraction ~0.99 (docs/tgvis.md): restarting upsilon at 0
            # walks it again from the start. While tau2 stays at the bound, every further L starts from the
            # upsilon of the first L that ended there (the same start for all, so BIC compares L, not how far
            # along the ridge each fit got)
            lf = _profile(S, n_eff, L, opts, pw, init, check_R=(i == 0),
                          start=anchor if opts.bound_warm_start else None)
            # eq. 14-15 on the reported fit: estimates outside the credible sets are 0 (as TGVIS reports
            # them), so an effect that forms no credible set neither lowers sigma2_alpha nor counts in df
            b_sel = np.zeros_like(lf.b)
            members = _in_sets(lf.fit)
            b_sel[members] = lf.b[members]
            resid = zz - S.eta(b_sel, math.sqrt(n_eff - 1.0)) - lf.Rups
            lf.sigma2_alpha = _inf.sigma2_alpha(S.E, resid)
            lf.bic = _bic(S, lf, members.size, logM, opts.bic_df)
            fits[L] = lf
            init = lf.fit
            anchor = (anchor or lf) if lf.at_bound else None
        caught = [str(w.message) for w in wlist]
    # BIC differences below the fits' own precision (SuSiE stops when the ELBO gains < tol, i.e. log
    # sigma2_alpha moves by < 2 tol / M) are ties, resolved towards the smaller L
    bmin = min(f.bic for f in fits.values())
    tie = 2.0 * _SUSIE_TOL / max(S.E.rank, 1)
    best = min(L for L in opts.L_grid if fits[L].bic <= bmin + tie)
    res = _summarize(S, fits[best], n_eff, opts, pnames, vnames)
    res.bic_grid = {L: fits[L].bic for L in opts.L_grid}
    res.locus["seconds"] = time.perf_counter() - t0
    res.warnings = list(dict.fromkeys(caught))
    return res


def _summarize(S: JointSystem, lf: _LFit, n: float, opts: TgvisOptions, pnames: list[str],
               vnames: list[str]) -> TgvisResult:
    """Per-variable and per-set tables, Pratt indices (eq. 16-21) and the locus fields of the chosen L."""
    fitL = lf.fit
    Pa, M, P = S.Pa, S.M, len(pnames)
    scale = math.sqrt(n - 1.0)
    sd_pair = S.sd
    b = lf.b
    bsd = fitL.posterior_sd()
    pip_j = fitL.pip
    members = _in_sets(fitL)
    in_cs = np.zeros(Pa + M, dtype=bool)
    in_cs[members] = True
    est_j = np.where(in_cs, b, 0.0)
    # Pratt (eq. 16-18): V_j = estimate_j x (x_j' a) / (a' R^{-1} a) with a = z / sqrt(n - 1); for the
    # standardized pair column this is sqrt(n - 1) b_j (w_j' z) / (z' R^+ z); variants: x_j = e_m
    xz = S.joint_z(S.Piz)
    denom = S.zPz if S.zPz > 0 else math.nan
    pratt_j = scale * est_j * xz / denom
    names_j = [p for p, a in zip(pnames, S.active) if a] + vnames
    types_j = np.array(["pair"] * Pa + ["variant"] * M, dtype=object)
    cut = opts.cs_pratt_min
    cols, sets_table = credible_set_tables(names_j, types_j, pip_j, pratt_j, fitL.sets, corr=fitL.corr,
                                           causal_rule=lambda _pip, pr: bool(np.isfinite(pr) and pr > cut))
    # back to the paper's scales: theta per unit of B's column, gamma per SD of genotype
    unit = np.concatenate([1.0 / sd_pair, np.ones(M)])
    post_mean = b * unit
    post_sd = bsd * unit
    estimate = np.where(in_cs, post_mean, 0.0)
    se = np.where(in_cs, post_sd, 0.0)

    # expand pairs to all P (inactive pairs: NaN)
    def full(vals: np.ndarray, fill: Any) -> np.ndarray:
        out = np.empty(P + M, dtype=np.asarray(vals).dtype if fill is not None else object)
        pair_part = np.full(P, fill, dtype=out.dtype)
        pair_part[S.active] = vals[:Pa]
        out[:P] = pair_part
        out[P:] = vals[Pa:]
        return out

    variables = pd.DataFrame({
        "name": pnames + vnames,
        "type": ["pair"] * P + ["variant"] * M,
        "pip": full(pip_j.astype(np.float64), np.nan),
        "cs": full(cols["cs"], np.nan),
        "cs_pip": full(cols["cs_pip"], np.nan),
        "cs_pratt": full(cols["cs_pratt"], np.nan),
        "estimate": full(estimate, np.nan),
        "se": full(se, np.nan),
        "pratt": full(pratt_j, np.nan),
        "causal": full(cols["causal"], False).astype(bool),
        "collinear_group": full(cols["collinear_group"], None),
        "posterior_mean": full(post_mean, np.nan),
        "posterior_sd": full(post_sd, np.nan),
    })
    # locus split (eq. 20-21): R^{1/2} R^{-1/2} is the projection onto R's column space
    pratt_pairs = float(np.sum(pratt_j[:Pa]))
    pratt_variants = float(np.sum(pratt_j[Pa:]))
    pratt_inf = float(lf.ups @ S.Piz / denom) if np.any(lf.ups) else 0.0
    theta = np.full(P, np.nan)
    theta[S.active] = post_mean[:Pa]
    locus = {
        "status": STATUS_OK, "reason": "", "M": M, "P": P, "L": lf.L, "bic": lf.bic,
        "sigma2_alpha": lf.sigma2_alpha, "sigma2_inf": lf.tau2 / (n - 1.0), "inf_test_p": lf.test_p,
        "pratt_pairs": pratt_pairs, "pratt_variants": pratt_variants, "pratt_inf": pratt_inf,
        "niter": lf.niter, "converged": lf.converged,
    }
    return TgvisResult(METHOD, variables, sets_table, locus, fit=fitL, theta=theta, gamma=post_mean[Pa:].copy(),
                       upsilon=lf.ups / scale)


def fit_bundle(bundle: Any, B: Any, pair_ids: Sequence[str], *, trait: str, options: dict[str, Any] | None = None,
               weight_var: Any = None) -> TgvisResult:
    """TGVIS on a locus bundle (``twasflow.locus.LocusBundle``) with stage-1 weights.

    Parameters
    ----------
    bundle : LocusBundle (uses ``z, n, R, variant_ids, pairs``).
    B : (M, P') weights of the kept pairs, columns in the order of ``pair_ids``.
    pair_ids : (P',) pair ids, each present in ``bundle.pairs.pair_id``.
    trait : trait name (recorded in the result's tables by ``result.tables``; used in error messages).
    options : the config ``tgvis`` block (``L_grid``, ``inf_mode``, ``inf_variance``, ``cs_pratt_min``,
        ``pair_prior_share``) and any :class:`TgvisOptions` extra.
    weight_var : (P',) stage-1 weight variances for :func:`fit` (config ``tgvis.weight_uncertainty``).

    Returns
    -------
    TgvisResult whose ``variables`` carry the pair metadata (gene_id, gene_name, tissue, qtl_type);
    ``result.tables(trait, bundle.locus_id)`` gives the docs/outputs.md tables. A bundle with M = 0 gives an
    ``empty`` record.
    """
    t0 = time.perf_counter()
    pair_ids = [str(p) for p in pair_ids]
    M = len(bundle.variant_ids)
    if M == 0:
        res = empty_result(METHOD, bundle.reason or "no variants", M=0, P=len(pair_ids))
        return TgvisResult(res.method, res.variables, res.sets, res.locus)
    meta = bundle_pair_meta(bundle, pair_ids, trait)
    BB = np.zeros((M, 0)) if not pair_ids else B
    res = fit(bundle.z, bundle.R, bundle.n, BB, pair_names=pair_ids,
              variant_names=[str(v) for v in bundle.variant_ids], weight_var=weight_var, **(options or {}))
    attach_pair_meta(res.variables, meta, pair_ids)
    res.locus["seconds"] = time.perf_counter() - t0
    return res


class TgvisMethod:
    """TGVIS as a :class:`twasflow.methods.registry.FinemapMethod` (no per-trait preparation)."""

    name = METHOD

    def __init__(self, trait: str, options: dict[str, Any]) -> None:
        self.trait, self.options = trait, dict(options)

    @staticmethod
    def trait_inputs(config: dict[str, Any]) -> tuple[str, ...]:
        return ()

    @classmethod
    def prepare(cls, trait: str, options: dict[str, Any], inputs: dict[str, Any], seed: int) -> "TgvisMethod":
        return cls(trait, options)

    def fit_locus(self, bundle: Any, weights: Any) -> TgvisResult:
        """TGVIS at one locus on the pairs of ``weights`` (a :class:`twasflow.locus_weights.LocusWeights`)."""
        opts = dict(self.options)
        # issue 22: the stage-1 posterior's variance as the expected Gram (default off; _weight_uncertainty)
        wv = weight_var_for(opts.pop("weight_uncertainty", "none"), weights, bundle.R)
        return fit_bundle(bundle, weights.B, list(weights.pair_ids), trait=self.trait, options=opts, weight_var=wv)
