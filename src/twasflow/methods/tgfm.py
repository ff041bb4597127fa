"""TGFM (Strober et al. 2024) at one locus: joint SuSiE over gene–tissue pairs and variants, averaged over
posterior draws of the xQTL effects.

As the authors' software (BennyStrobes/TGFM: ``prepare_input_data_for_tgfm.py``, ``run_tgfm.py``):

1. for each pair, ``n_draws`` (100) effect vectors are drawn from its stage-1 SuSiE posterior — per single
   effect a variable by its ``alpha`` and a size from ``N(mu, mu2 - mu^2)`` — and each is standardized to
   unit predicted-expression variance (``w'Rw = 1``); pairs without a posterior (prediction models) keep
   their fixed weights in every draw (``twasflow.methods._tgfm_draws``);
2. per draw, SuSiE-RSS with L (10) effects on the joint system ``[[W'RW, W'R], [RW, R]]``, z ``[W'z; z]``
   (factored: ``twasflow.methods.joint``, one R shared by every draw),
   from the null initialization; prior weights 1/(P + M) for every pair and variant (TGFM's uniform
   prior) unless ``pair_prior_share`` or explicit ``pair_prior`` / ``variant_prior`` say otherwise;
3. if a pair's draw-averaged PIP exceeds ``pip_init_threshold`` (0.2), every draw is fitted again from a
   variant-only initialization (SuSiE-RSS on the variants alone, pairs at alpha = 0, prior variances
   reset) and, per draw, the fit with the higher ELBO is kept;
4. PIPs, posterior means and posterior variances are averaged over draws (the SD reported is the
   mixture SD, ``sqrt(E[sd^2] + Var[mean])``).

TGFM itself reports PIPs only and calls a pair or variant when its PIP exceeds 0.5 (the authors'
recommendation, used by the TGVIS paper on real data); the TGVIS paper's simulations scored TGFM by its
95% credible sets. Credible sets here come from one more SuSiE fit on the draw-averaged standardized
weights (the TGVIS paper's "final step"), with the draw-averaged PIPs summed per set; ``causal_rule``
chooses ``pip`` (PIP > ``pip_threshold``, default) or ``cs`` (in a 95% credible set). Decisions are
documented in ``docs/tgfm.md``.

Numerical module: no I/O.
"""

from __future__ import annotations

import time
import warnings
import zlib
from dataclasses import dataclass, field, fields
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from twasflow.errors import ConfigError, InputError
from twasflow.susie import SusieFit, susie_rss

from ._tgfm_draws import Draws, JointBuilder, draw_effects, effect_keys, posterior_from
from ._tgfm_prior import VARIANT, TissuePrior, learn_tissue_prior
from ._inputs import locus_arrays
from ._tgfm_ibss import BATCH_METHODS, DrawFits, _BatchProduct, fit_draws
from .joint import JointOperator
from .result import (STATUS_OK, FinemapResult, attach_pair_meta, bundle_pair_meta, credible_set_tables,
                     empty_result)

METHOD = "tgfm"
CAUSAL_RULES = ("pip", "cs")
__all__ = ["METHOD", "TgfmOptions", "TgfmResult", "TissuePrior", "fit", "fit_bundle",
           "learn_tissue_prior", "locus_seed", "make_options", "reference_lbf", "tissue_prior_inputs"]


@dataclass(frozen=True)
class TgfmOptions:
    """Options of :func:`fit` (config block ``tgfm``).

    Attributes
    ----------
    n_draws : posterior draws of the xQTL effects (TGFM: 100).
    L : single effects of the joint SuSiE fits (TGFM's ``--n-components`` default, 10).
    pip_init_threshold : a pair PIP above this triggers the variant-only initialization (TGFM: 0.2).
    pair_prior_share : ``"uniform"`` = 1/(P + M) for every pair and variant (TGFM without a tissue
        prior), ``"auto"`` = 1/P per pair and 1/M per variant (the TGVIS paper's setting for every
        method), or the share of the prior mass on pairs (0 < share < 1).
    causal_rule : ``pip`` (PIP > ``pip_threshold``, TGFM's recommendation) or ``cs`` (member of a 95%
        credible set of the reference fit whose summed draw-averaged PIP exceeds ``cs_pip_min``, as the
        TGVIS paper's simulations scored TGFM).
    pip_threshold : the ``pip`` rule's cut-off (0.5).
    cs_pip_min : the ``cs`` rule's cut-off on a set's summed PIP (0: every set; the TGVIS authors' R
        re-implementation drops sets below 0.5).
    coverage, min_abs_corr : credible-set coverage and purity of the reference fit.
    estimate_prior_method : SuSiE prior-variance update; ``EM`` mirrors TGFM's component-variance update.
    susie_max_iter, tol : IBSS limits of every fit (susieR defaults 100, 1e-3).
    """

    n_draws: int = 100
    L: int = 10
    pip_init_threshold: float = 0.2
    pair_prior_share: float | str = "uniform"
    causal_rule: str = "pip"
    pip_threshold: float = 0.5
    cs_pip_min: float = 0.0
    coverage: float = 0.95
    min_abs_corr: float = 0.5
    estimate_prior_method: str = "EM"
    susie_max_iter: int = 100
    tol: float = 1e-3


def make_options(**options: Any) -> TgfmOptions:
    """Validate ``options`` (the config ``tgfm`` block); raises ConfigError naming the key."""
    known = {f.name for f in fields(TgfmOptions)}
    for k in options:
        if k not in known:
            raise ConfigError.at("unknown TGFM option", column=f"tgfm.{k}", found=k, expected=sorted(known))
    opts = TgfmOptions(**{k: v for k, v in options.items() if v is not None})
    for key, lo in (("n_draws", 1), ("L", 1), ("susie_max_iter", 1)):
        v = getattr(opts, key)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ConfigError.at(f"{key} must be an integer >= {lo}", column=f"tgfm.{key}", found=v)
    share = opts.pair_prior_share
    if isinstance(share, str):
        if share not in ("uniform", "auto"):
            raise ConfigError.at("invalid pair_prior_share", column="tgfm.pair_prior_share", found=share,
                                 expected="'uniform', 'auto' or a number in (0, 1)")
    elif not 0.0 < float(share) < 1.0:
        raise ConfigError.at("pair_prior_share must lie in (0, 1)", column="tgfm.pair_prior_share", found=share,
                             expected="'uniform', 'auto' or a number in (0, 1)")
    if opts.causal_rule not in CAUSAL_RULES:
        raise ConfigError.at("invalid causal_rule", column="tgfm.causal_rule", found=opts.causal_rule,
                             expected=CAUSAL_RULES)
    for key in ("pip_init_threshold", "pip_threshold", "cs_pip_min", "coverage", "min_abs_corr"):
        v = getattr(opts, key)
        if not 0.0 <= float(v) <= 1.0:
            raise ConfigError.at(f"{key} must lie in [0, 1]", column=f"tgfm.{key}", found=v)
    if opts.estimate_prior_method not in ("EM", "optim", "simple"):
        raise ConfigError.at("invalid estimate_prior_method", column="tgfm.estimate_prior_method",
                             found=opts.estimate_prior_method, expected=("EM", "optim", "simple"))
    return opts


@dataclass
class TgfmResult(FinemapResult):
    """TGFM result: the shared schema plus the fit's internals.

    Extra attributes
    ----------------
    draw_pip : (D, Pm + M) per-draw PIPs of the kept fits (modelled pairs, then variants).
    variant_init : (D,) bool, draws whose kept fit started from the variant-only initialization.
    ref_fit : the reference SuSiE fit on the draw-averaged weights (its credible sets are reported).
    theta : (P,) draw-averaged pair effects (per SD of the molecular phenotype, per SD of the trait;
        NaN for pairs not modelled). gamma : (M,) draw-averaged direct variant effects (standardized).
    modelled : (Pm,) indices of the modelled pairs (the first Pm joint variables of the fits).
    """

    draw_pip: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    variant_init: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    ref_fit: SusieFit | None = None
    theta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gamma: np.ndarray = field(default_factory=lambda: np.zeros(0))
    modelled: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


# --------------------------------------------------------------------------------------------------
# inputs


def _as_inputs(z: Any, R: Any, n: Any) -> tuple[np.ndarray, np.ndarray, float]:
    return locus_arrays(z, R, n)


def _seed(seed: Any) -> list[int]:
    try:
        s = [int(x) for x in np.atleast_1d(np.asarray(seed, dtype=np.int64))]
    except (TypeError, ValueError, OverflowError):
        s = []
    if not s or min(s) < 0:
        raise InputError.at("seed must be a non-negative integer or a sequence of them", column="seed", found=seed)
    return s


def _prior(values: Any, k: int, D: int, name: str) -> np.ndarray | None:
    """User prior weights as (k, D) (a vector is used for every draw; TGFM's tissue prior varies by draw)."""
    if values is None:
        return None
    a = np.asarray(values, dtype=np.float64)
    if a.ndim == 1:
        a = np.repeat(a[:, None], D, axis=1)
    if a.shape != (k, D):
        raise InputError.at(f"{name} has the wrong shape", column=name, found=a.shape,
                            expected=f"({k},) or ({k}, {D})")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise InputError.at(f"{name} must be finite and non-negative", column=name,
                            found=float(a[~np.isfinite(a) | (a < 0)][0]), expected=">= 0")
    return a


def _prior_weights(opts: TgfmOptions, Pm: int, M: int, D: int, pair_prior: np.ndarray | None,
                   variant_prior: np.ndarray | None) -> np.ndarray:
    """(Pm + M, D) unnormalized prior inclusion weights per draw (susie_rss normalizes them)."""
    share = opts.pair_prior_share
    if share == "uniform" or Pm == 0:
        pp, pv = 1.0 / (Pm + M), 1.0 / (Pm + M)
    else:
        s = 0.5 if share == "auto" else float(share)
        pp, pv = s / Pm, (1.0 - s) / M
    w = np.empty((Pm + M, D))
    w[:Pm] = pp if pair_prior is None else pair_prior
    w[Pm:] = pv if variant_prior is None else variant_prior
    return w


# --------------------------------------------------------------------------------------------------
# fitting


@dataclass
class _Kept:
    """Per-draw summaries of the kept fits (joint variables: modelled pairs, then variants)."""

    pip: np.ndarray  # (D, p)
    mean: np.ndarray  # (D, p) posterior means, pairs per SD of the molecular phenotype
    var: np.ndarray  # (D, p) posterior variances, same scale
    elbo: np.ndarray  # (D,)
    niter: np.ndarray  # (D,)
    converged: np.ndarray  # (D,)
    variant_init: np.ndarray  # (D,)

    @classmethod
    def empty(cls, D: int, p: int) -> "_Kept":
        return cls(np.zeros((D, p)), np.zeros((D, p)), np.zeros((D, p)), np.full(D, -np.inf),
                   np.zeros(D, dtype=np.int64), np.zeros(D, dtype=bool), np.zeros(D, dtype=bool))

    def put(self, d: int, f: SusieFit | DrawFits, s: np.ndarray, from_variants: bool, k: int = 0) -> None:
        """Store draw d's fit: a SusieFit, or row k of a batch of :class:`DrawFits`."""
        if isinstance(f, DrawFits):
            pip, mean, sd = f.pip[k], f.mean[k], f.sd[k]
            elbo, niter, conv = float(f.elbo[k]), int(f.niter[k]), bool(f.converged[k])
        else:
            pip, mean, sd = f.pip, f.posterior_mean(), f.posterior_sd()
            elbo, niter, conv = float(f.elbo[-1]), f.niter, f.converged
        Pm = s.size
        unit = np.concatenate([1.0 / s, np.ones(pip.size - Pm)])  # standardized pair effect -> per SD expression
        self.pip[d] = pip
        self.mean[d] = mean * unit
        self.var[d] = (sd * unit) ** 2
        self.elbo[d] = elbo
        self.niter[d] = niter
        self.converged[d] = conv
        self.variant_init[d] = from_variants


def _susie(zj: np.ndarray, J: JointOperator, n: float, opts: TgfmOptions, pw: np.ndarray, init: Any, *,
           sets: bool, check_R: bool) -> SusieFit:
    return susie_rss(z=zj, R=J, n=n, L=opts.L, prior_weights=pw, model_init=init,
                     estimate_prior_method=opts.estimate_prior_method, max_iter=opts.susie_max_iter, tol=opts.tol,
                     coverage=opts.coverage if sets else None, min_abs_corr=opts.min_abs_corr if sets else None,
                     check_R=check_R)


def _variant_init(z: np.ndarray, R: np.ndarray, n: float, opts: TgfmOptions, pw_var: np.ndarray,
                  Pm: int) -> dict[str, np.ndarray]:
    """TGFM's alternative start: SuSiE-RSS on the variants alone, padded with alpha = mu = 0 for pairs.

    No prior variances are passed, so every effect restarts from the default prior variance (TGFM resets
    its component variances); with EM an effect whose variance had shrunk to 0 could otherwise never
    pick up a pair.
    """
    fv = susie_rss(z=z, R=R, n=n, L=opts.L, prior_weights=pw_var, estimate_prior_method=opts.estimate_prior_method,
                   max_iter=opts.susie_max_iter, tol=opts.tol, coverage=None, min_abs_corr=None, check_R=False)
    pad = np.zeros((fv.alpha.shape[0], Pm))
    return {"alpha": np.hstack([pad, fv.alpha]), "mu": np.hstack([pad, fv.mu]), "mu2": np.hstack([pad, fv.mu2])}


def fit(
    z: Any,
    R: Any,
    n: Any,
    stage1_fits: Any,
    pair_names: Sequence[str] | None = None,
    variant_names: Sequence[str] | None = None,
    *,
    seed: int | Sequence[int] = 0,
    pair_prior: Any = None,
    variant_prior: Any = None,
    **options: Any,
) -> TgfmResult:
    """Fit TGFM at one locus.

    Parameters
    ----------
    z : (M,) GWAS z-scores of the counted alleles.
    R : (M, M) LD correlation matrix.
    n : GWAS sample size (scalar, or per-variant: the median is used).
    stage1_fits : :class:`twasflow.weights.Stage1Fits`, or a mapping with ``effect_pair`` (K,) (pair index
        of each single effect), ``alpha, mu, mu2`` (K, M) (the effect's SuSiE posterior on the
        standardized genotype scale: alpha sums to 1, ``mu`` is the mean given inclusion, ``mu2`` the
        second moment), optionally ``V`` (K,) (effects with V = 0 are ignored), ``pair_ids`` (P,) or ``P``,
        and ``B`` (M, P) fixed weights for pairs without effects (prediction models). Pairs with neither
        are not modelled (NaN pip / estimate).
    pair_names, variant_names : labels (default ``pair1..``, ``variant1..``).
    seed : seed of the draws (non-negative int or sequence of them); each single effect draws from its
        own stream ``default_rng([*seed, crc32(pair name), rank of the effect in its pair])``, so the same
        seed and inputs give bit-identical results and reordering pairs only reorders them.
    pair_prior, variant_prior : optional prior inclusion weights, (P,) / (M,) or per draw (P, n_draws) /
        (M, n_draws) (TGFM's bootstrapped tissue prior); unnormalized (SuSiE normalizes over all
        variables); they replace ``pair_prior_share``'s weights for their block.
    **options : :class:`TgfmOptions` (config block ``tgfm``).

    Returns
    -------
    TgfmResult. ``variables``: name, type, pip (draw average), cs / cs_pip (reference fit's credible
    sets; cs_pip sums the draw-averaged PIPs), cs_pratt = pratt = NaN, estimate / se (draw-averaged
    posterior mean and mixture SD of credible-set members, 0 otherwise; pairs per SD of the molecular
    phenotype, variants per SD of genotype, both per SD of the trait), causal (``causal_rule``), then
    posterior_mean, posterior_sd (every variable) and pip_draw_sd (SD of the PIP over draws). Locus
    fields: L, niter (median over kept fits), converged (all kept fits), n_draws, variant_init_run,
    n_variant_init_kept, seconds.
    """
    t0 = time.perf_counter()
    opts = make_options(**options)
    zz, RR, n_eff = _as_inputs(z, R, n)
    M = zz.size
    if M == 0:
        res = empty_result(METHOD, "no variants", M=0, P=0 if pair_names is None else len(pair_names))
        return TgfmResult(res.method, res.variables, res.sets, res.locus)
    seed_list = _seed(seed)
    post = posterior_from(stage1_fits, M)
    P = post.P
    pnames = [f"pair{j + 1}" for j in range(P)] if pair_names is None else [str(x) for x in pair_names]
    vnames = [f"variant{m + 1}" for m in range(M)] if variant_names is None else [str(x) for x in variant_names]
    if len(pnames) != P:
        raise InputError.at("pair_names has the wrong length", column="pair_names", found=len(pnames), expected=P)
    if len(vnames) != M:
        raise InputError.at("variant_names has the wrong length", column="variant_names", found=len(vnames),
                            expected=M)
    D = opts.n_draws
    pp = _prior(pair_prior, P, D, "pair_prior")
    vp = _prior(variant_prior, M, D, "variant_prior")
    modelled = np.flatnonzero(post.modelled)
    Pm = modelled.size
    pw = _prior_weights(opts, Pm, M, D, None if pp is None else pp[modelled], vp)

    # a pair's draws are keyed by its name: reordering the pairs reorders the results, nothing else
    draws = draw_effects(post, seed_list, D, keys=effect_keys(post, pnames))
    jb = JointBuilder(zz, RR, post, modelled)
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always")
        systems = _DrawSystems(jb, draws)
        kept = _fit_draws(systems, n_eff, opts, pw)
        run_variant = bool(Pm and kept.pip[:, :Pm].mean(axis=0).max() > opts.pip_init_threshold)
        vinit = _variant_init(zz, RR, n_eff, opts, pw[Pm:].mean(axis=1), Pm) if run_variant else None
        if vinit is not None:
            _fit_draws(systems, n_eff, opts, pw, init=vinit, kept=kept)
        ref = _reference_fit(systems, n_eff, opts, pw.mean(axis=1), vinit)
        caught = [str(w.message) for w in wlist]
    res = _summarize(kept, ref, opts, P, M, modelled, pnames, vnames)
    res.locus.update(n_draws=D, variant_init_run=run_variant, n_variant_init_kept=int(kept.variant_init.sum()),
                     seconds=time.perf_counter() - t0)
    res.warnings = list(dict.fromkeys(caught))
    return res


class _DrawSystems:
    """Every draw's joint system (z, operator, active pairs, scales), built once and shared by the null-start
    pass, the variant-only-start pass and the reference fit; with the batched product of all draws."""

    def __init__(self, jb: JointBuilder, draws: Draws) -> None:
        self.jb, self.D = jb, draws.D
        built = [jb.draw_system(draws, d) for d in range(draws.D)]
        self.zs = np.stack([b[0] for b in built])
        self.ops = [b[1] for b in built]
        self.active = np.stack([b[2] for b in built])  # (D, Pm)
        self.scales = [b[3] for b in built]
        self._prod: _BatchProduct | None = None

    @property
    def prod(self) -> _BatchProduct:
        if self._prod is None:
            self._prod = _BatchProduct(self.ops)
        return self._prod

    def prior(self, pw: np.ndarray) -> np.ndarray:
        """(D, p) prior weights of each draw from (p, D) ``pw``: a drawn vector that predicts nothing cannot
        be selected."""
        out = np.ascontiguousarray(pw.T).copy()
        out[:, : self.jb.Pm][~self.active] = 0.0
        return out


def _fit_draws(sys_: _DrawSystems, n: float, opts: TgfmOptions, pw: np.ndarray, init: Any = None,
               kept: _Kept | None = None) -> _Kept:
    """SuSiE on every draw's joint system; with ``kept``, replace a draw's fit when the new ELBO is higher."""
    jb = sys_.jb
    p = jb.Pm + jb.M
    out = kept if kept is not None else _Kept.empty(sys_.D, p)
    pws = sys_.prior(pw)
    if opts.estimate_prior_method in BATCH_METHODS and sys_.D > 1:
        # all draws in lockstep: the products with the shared R become matrix-matrix products
        fits = fit_draws(sys_.zs, sys_.ops, n, opts.L, pws, method=opts.estimate_prior_method,
                         max_iter=opts.susie_max_iter, tol=opts.tol, init=init, check_R=init is None, prod=sys_.prod)
        for d in range(sys_.D):
            if kept is None or float(fits.elbo[d]) > out.elbo[d]:
                out.put(d, fits, sys_.scales[d], init is not None, k=d)
        return out
    for d in range(sys_.D):
        f = _susie(sys_.zs[d], sys_.ops[d], n, opts, pws[d], init, sets=False, check_R=(d == 0 and init is None))
        if kept is None or float(f.elbo[-1]) > out.elbo[d]:
            out.put(d, f, sys_.scales[d], init is not None)
    return out


def _reference_fit(sys_: _DrawSystems, n: float, opts: TgfmOptions, pw: np.ndarray, vinit: Any) -> SusieFit:
    """SuSiE with credible sets on the draw-averaged standardized weights (the higher-ELBO start when the
    variant-only start was run)."""
    jb = sys_.jb
    acc = sp.csr_matrix((jb.Pm, jb.M))
    for J in sys_.ops:
        acc = acc + J.Ws
    zj, J, active, s = jb.system(acc / sys_.D)
    w = pw.copy()
    w[:jb.Pm][~active] = 0.0
    f = _susie(zj, J, n, opts, w, None, sets=True, check_R=False)
    if vinit is not None:
        g = _susie(zj, J, n, opts, w, vinit, sets=True, check_R=False)
        if float(g.elbo[-1]) > float(f.elbo[-1]):
            f = g
    return f


def _summarize(kept: _Kept, ref: SusieFit, opts: TgfmOptions, P: int, M: int,
               modelled: np.ndarray, pnames: list[str], vnames: list[str]) -> TgfmResult:
    Pm = modelled.size
    pip = kept.pip.mean(axis=0)
    mean = kept.mean.mean(axis=0)
    sd = np.sqrt(kept.var.mean(axis=0) + kept.mean.var(axis=0))  # law of total variance over draws
    pip_sd = kept.pip.std(axis=0)
    names_j = [pnames[j] for j in modelled] + vnames
    types_j = np.array(["pair"] * Pm + ["variant"] * M, dtype=object)
    nan = np.full(Pm + M, np.nan)
    if opts.causal_rule == "cs":
        cut = opts.cs_pip_min
        cols, sets_table = credible_set_tables(names_j, types_j, pip, nan, ref.sets, corr=ref.corr,
                                               causal_rule=lambda cs_pip, _pratt: bool(cs_pip > cut))
    else:
        cols, sets_table = credible_set_tables(names_j, types_j, pip, nan, ref.sets, corr=ref.corr,
                                               causal_rule=lambda *_: False)
        cut = opts.pip_threshold
        cols["causal"] = pip > cut
        if len(sets_table):
            sets_table["causal"] = [bool(np.any(pip[np.asarray(s.variables)] > cut)) for s in ref.sets]
    in_cs = np.isfinite(cols["cs"])

    def full(vals: np.ndarray, fill: Any) -> np.ndarray:
        vals = np.asarray(vals)
        out = np.empty(P + M, dtype=vals.dtype if vals.dtype != bool else bool)
        part = np.full(P, fill, dtype=out.dtype)
        part[modelled] = vals[:Pm]
        out[:P] = part
        out[P:] = vals[Pm:]
        return out

    variables = pd.DataFrame({
        "name": pnames + vnames,
        "type": ["pair"] * P + ["variant"] * M,
        "pip": full(pip, np.nan),
        "cs": full(cols["cs"], np.nan),
        "cs_pip": full(cols["cs_pip"], np.nan),
        "cs_pratt": np.full(P + M, np.nan),
        "estimate": full(np.where(in_cs, mean, 0.0), np.nan),
        "se": full(np.where(in_cs, sd, 0.0), np.nan),
        "pratt": np.full(P + M, np.nan),
        "causal": full(cols["causal"], False).astype(bool),
        "collinear_group": full(cols["collinear_group"], None),
        "posterior_mean": full(mean, np.nan),
        "posterior_sd": full(sd, np.nan),
        "pip_draw_sd": full(pip_sd, np.nan),
    })
    theta = np.full(P, np.nan)
    theta[modelled] = mean[:Pm]
    locus = {"status": STATUS_OK, "reason": "", "M": M, "P": P, "L": opts.L,
             "niter": int(np.median(kept.niter)) if kept.niter.size else 0,
             "converged": bool(np.all(kept.converged))}
    return TgfmResult(METHOD, variables, sets_table, locus, draw_pip=kept.pip, variant_init=kept.variant_init.copy(),
                      ref_fit=ref, theta=theta, gamma=mean[Pm:].copy(), modelled=modelled)


# --------------------------------------------------------------------------------------------------
# tissue-specific prior (learned across loci)


def tissue_prior_inputs(res: TgfmResult, pair_tissues: Sequence[str],
                        prior_tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray] | None:
    """One locus's input to :func:`learn_tissue_prior`: the reference fit's per-effect log Bayes factors
    (effects with prior variance > ``prior_tol``) and the element classes (the tissue of each modelled
    pair, then ``variant``).

    TGFM learns its prior from the fits without sampling (weights = posterior means), counting only
    windows with at least one credible set; ``ref_fit`` (the fit on the draw-averaged weights) plays that
    role, and loci without a credible set give None.

    Parameters
    ----------
    res : a fitted locus. pair_tissues : (P,) tissue of every pair of the fit (``res.variables`` order).
    """
    f = res.ref_fit
    if f is None or not f.sets:
        return None
    P = int(res.locus.get("P", len(pair_tissues)))
    if len(pair_tissues) != P:
        raise InputError.at("pair_tissues has the wrong length", column="pair_tissues", found=len(pair_tissues),
                            expected=P)
    return _prior_input(f, res.modelled, pair_tissues, f.lbf_variable.shape[1] - res.modelled.size, prior_tol)


def reference_lbf(z: Any, R: Any, n: Any, stage1_fits: Any, pair_tissues: Sequence[str], *, prior_tol: float = 1e-9,
                  **options: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """One locus's input to :func:`learn_tissue_prior` from TGFM's fit without sampling.

    TGFM learns its tissue prior from fits whose pair weights are the stage-1 posterior means (no draws),
    with the default (uniform) prior, over the windows with at least one credible set. This runs that one
    SuSiE-RSS fit: pair columns ``sum_k alpha_k mu_k`` of each pair's single effects (standardized to unit
    predicted-expression variance), then the variants.

    Parameters
    ----------
    z, R, n, stage1_fits : as :func:`fit`. pair_tissues : (P,) tissue of every pair (the prior's classes).
    prior_tol : effects whose estimated prior variance is at most this are not counted (TGFM drops them).
    **options : :class:`TgfmOptions` (L, coverage, purity, SuSiE controls; ``pair_prior_share``).

    Returns
    -------
    ``(lbf, classes)``: (L', Pm + M) per-effect log Bayes factors of the modelled pairs then the variants, and
    the (Pm + M,) classes (pair tissues, then ``variant``); None when the fit has no credible set.
    """
    opts = make_options(**options)
    zz, RR, n_eff = _as_inputs(z, R, n)
    M = zz.size
    post = posterior_from(stage1_fits, M)
    if len(pair_tissues) != post.P:
        raise InputError.at("pair_tissues has the wrong length", column="pair_tissues", found=len(pair_tissues),
                            expected=post.P)
    modelled = np.flatnonzero(post.modelled)
    Pm = modelled.size
    jb = JointBuilder(zz, RR, post, modelled)
    # posterior-mean weights: effect k adds alpha_k * mu_k to its pair's column
    E = sp.csr_matrix((np.ones(post.K), (jb.eff_col, np.arange(post.K))), shape=(Pm, post.K))
    Wt = sp.csr_matrix(E @ (post.alpha * post.mu))
    if jb.fixed_t is not None:
        Wt = Wt + jb.fixed_t
    zj, J, active, _ = jb.system(Wt)
    pw = _prior_weights(opts, Pm, M, 1, None, None)[:, 0]
    pw[:Pm][~active] = 0.0
    f = _susie(zj, J, n_eff, opts, pw, None, sets=True, check_R=True)
    return _prior_input(f, modelled, pair_tissues, M, prior_tol)


def _prior_input(f: SusieFit | None, modelled: np.ndarray, pair_tissues: Sequence[str], M: int,
                 prior_tol: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``(lbf of the effects with V > prior_tol, element classes)`` of a joint fit over the ``modelled`` pairs
    then M variants; None without a credible set or a non-null effect (the locus does not inform the prior)."""
    if f is None or not f.sets:
        return None
    inc = f.V > prior_tol
    if not np.any(inc):
        return None
    classes = np.array([str(pair_tissues[j]) for j in modelled] + [VARIANT] * M, dtype=object)
    return f.lbf_variable[inc].copy(), classes


# --------------------------------------------------------------------------------------------------
# pipeline entry


def locus_seed(seed: int, trait: str, locus_id: str) -> list[int]:
    """The draw seed of one (config seed, trait, locus) for TGFM: stable across runs and platforms."""
    return [int(seed), zlib.crc32(trait.encode()), zlib.crc32(locus_id.encode()), zlib.crc32(METHOD.encode())]


def fit_bundle(bundle: Any, effects: Any, pair_ids: Sequence[str], *, trait: str,
               options: dict[str, Any] | None = None, seed: int = 0, pair_prior: Any = None,
               variant_prior: Any = None) -> TgfmResult:
    """TGFM on a locus bundle (``twasflow.locus.LocusBundle``) with stage-1 posteriors.

    Parameters
    ----------
    bundle : LocusBundle (uses ``locus_id, z, n, R, variant_ids, pairs``).
    effects : mapping restricted to ``pair_ids`` (``LocusWeights.select(pair_ids).effects()`` of
        :mod:`twasflow.locus_weights`): ``effect_pair`` (K,) indices into ``pair_ids``, ``alpha, mu, mu2`` (K, M), optional
        ``V`` (K,), and ``B`` (M, len(pair_ids)) whose columns are used as fixed weights for pairs without
        effects (prediction models).
    pair_ids : (P',) pair ids, each present in ``bundle.pairs.pair_id``.
    trait : trait name (seeds the draws with ``seed`` and the locus id; used in error messages).
    options : the config ``tgfm`` block (its ``tissue_prior`` switch is ignored here). seed : the config seed.
    pair_prior, variant_prior : see :func:`fit`.

    Returns
    -------
    TgfmResult whose ``variables`` carry the pair metadata; a bundle with M = 0 gives an ``empty`` record.
    """
    t0 = time.perf_counter()
    pair_ids = [str(p) for p in pair_ids]
    M = len(bundle.variant_ids)
    if M == 0:
        res = empty_result(METHOD, bundle.reason or "no variants", M=0, P=len(pair_ids))
        return TgfmResult(res.method, res.variables, res.sets, res.locus)
    meta = bundle_pair_meta(bundle, pair_ids, trait)
    eff = dict(effects)
    eff["pair_ids"] = pair_ids
    # tissue_prior is the pipeline's switch for learn_tissue_prior (priors arrive as pair_prior/variant_prior)
    opts = {k: v for k, v in (options or {}).items() if k != "tissue_prior"}
    res = fit(bundle.z, bundle.R, bundle.n, eff, pair_names=pair_ids,
              variant_names=[str(v) for v in bundle.variant_ids], seed=locus_seed(seed, trait, bundle.locus_id),
              pair_prior=pair_prior, variant_prior=variant_prior, **opts)
    attach_pair_meta(res.variables, meta, pair_ids)
    res.locus["seconds"] = time.perf_counter() - t0
    return res


class TgfmMethod:
    """TGFM as a :class:`twasflow.methods.registry.FinemapMethod`: with ``tgfm.tissue_prior``, per trait the
    tissue prior of rule ``tgfm_prior`` (draw b uses bootstrap b)."""

    name = METHOD

    def __init__(self, trait: str, options: dict[str, Any], seed: int, prior: TissuePrior | None) -> None:
        self.trait, self.seed, self.prior = trait, int(seed), prior
        self.options = {k: v for k, v in options.items() if k != "tissue_prior"}

    @staticmethod
    def trait_inputs(config: dict[str, Any]) -> tuple[str, ...]:
        return ("tgfm_prior",) if config["tgfm"]["tissue_prior"] else ()

    @classmethod
    def prepare(cls, trait: str, options: dict[str, Any], inputs: dict[str, Any], seed: int) -> "TgfmMethod":
        """``inputs["tgfm_prior"]``: the trait's ``tissue_prior.json`` content (with ``tgfm.tissue_prior``)."""
        prior = None
        if options["tissue_prior"]:
            if inputs.get("tgfm_prior") is None:
                raise InputError.at("TGFM with tgfm.tissue_prior needs the trait's tgfm_prior output",
                                    column="tgfm_prior", found=None, expected="results/tgfm/{trait}/tissue_prior.json")
            prior = tissue_prior_from_dict(inputs["tgfm_prior"])
            if prior.probs.shape[1] != int(options["n_draws"]):
                raise InputError.at("the tissue prior's bootstraps do not match tgfm.n_draws",
                                    file="tgfm_prior (tissue_prior.json)", column="probs",
                                    found=prior.probs.shape[1], expected=options["n_draws"])
        return cls(trait, options, seed, prior)

    def fit_locus(self, bundle: Any, weights: Any) -> TgfmResult:
        """TGFM at one locus on the pairs of ``weights`` (a :class:`twasflow.locus_weights.LocusWeights`)."""
        ids = [str(p) for p in weights.pair_ids]
        pp = vp = None
        if self.prior is not None:
            meta = bundle.pairs.set_index("pair_id")
            pp, vp = self.prior.weights([str(meta.at[p, "tissue"]) for p in ids], len(bundle.variant_ids))
        return fit_bundle(bundle, weights.effects(), ids, trait=self.trait, options=self.options, seed=self.seed,
                          pair_prior=pp, variant_prior=vp)


def tissue_prior_from_dict(d: dict[str, Any]) -> TissuePrior:
    """The tissue prior of rule ``tgfm_prior``'s ``tissue_prior.json`` (``classes``, ``probs`` (C, B), ``n_iter``)."""
    probs = np.asarray(d["probs"], dtype=np.float64)
    return TissuePrior(tuple(d["classes"]), probs, np.zeros((0, probs.shape[1])), int(d["n_iter"]))
