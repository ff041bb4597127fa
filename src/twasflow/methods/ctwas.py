"""cTWAS (Zhao et al. 2024; xinhe-lab/ctwas, branch multigroup v0.5.27) on twasflow's inputs.

Two steps, as cTWAS runs them:

1. **Parameters, genome-wide** (:func:`estimate_params`, :func:`run_nold`): every region (LD block) holds
   SNPs and molecular traits ("genes": gene–tissue pairs), each in a group (``"tissue|qtl_type"``, plus
   ``"SNP"``). An EM over all regions with the no-LD single-effect model estimates each group's prior
   inclusion probability and effect variance (prefit, then the regions with P(single effect) > 0.8; see
   :mod:`._ctwas_em`). :func:`run_nold` then screens regions and fine-maps them without LD (cTWAS's
   ``ctwas_sumstats_noLD``).
2. **Fine-mapping per locus with LD** (:func:`fit`, :func:`fit_bundle`): SuSiE-RSS (L = 5, purity
   min |r| >= 0.1) over the standardized predicted-expression columns of the pairs and the variants, with
   per-variable prior inclusion probability and fixed prior variance from the group parameters and
   cTWAS's null weight (:mod:`._ctwas_susie`). Gene PIPs are combined across tissues and QTL types by
   single effect (``combine_gene_pips``).

Public API: ``run_nold``, ``estimate_params``, ``fit``, ``fit_bundle``, ``region_tables``,
``combine_gene_pips``, ``assign_genes_to_regions``, ``thin_snps``, ``RegionData``, ``CtwasParams``,
``CtwasResult``, ``NoLDResult``. Decisions and the causal rule: ``docs/ctwas.md``.
Numerical module: tables and arrays in and out, no file I/O.
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
from twasflow.susie.sets import CorrFn

from ._ctwas_em import NULL_METHODS, VAR_STRUCTURES, CtwasParams, est_param
from ._ctwas_nold import combine_gene_pips, finemap_regions_noLD, screen_regions
from ._ctwas_regions import GENE_COLUMNS, SNP, RegionData, assign_genes_to_regions, require_columns, thin_snps
from ._ctwas_susie import VSusieFit, susie_rss_fixed_v
from ._inputs import locus_arrays, weight_matrix
from .joint import JointSystem
from .result import STATUS_OK, FinemapResult, attach_pair_meta, bundle_pair_meta, credible_set_tables, empty_result

METHOD = "ctwas"
CAUSAL_RULES = ("pip", "cs")

__all__ = [
    "CtwasOptions", "CtwasParams", "CtwasResult", "NoLDResult", "RegionData", "assign_genes_to_regions",
    "combine_gene_pips", "estimate_params", "fit", "fit_bundle", "region_tables", "run_nold", "thin_snps",
]

# --------------------------------------------------------------------------------------------------
# step 1: parameters and the no-LD analysis

_EM_KEYS = ("thin", "init_group_prior", "init_group_prior_var", "group_prior_var_structure", "niter_prefit", "niter",
            "min_var", "min_gene", "min_group_size", "min_p_single_effect", "null_method", "EM_tol",
            "force_run_niter")
_NOLD_KEYS = ("min_nonSNP_PIP", "min_snp_pval", "min_gene_pval", "coverage", "screen")


def _check_keys(options: dict[str, Any], allowed: Sequence[str]) -> None:
    for k in options:
        if k not in allowed:
            raise ConfigError.at("unknown cTWAS option", column=f"ctwas.{k}", found=k, expected=sorted(allowed))


def estimate_params(snp_z: pd.DataFrame | RegionData, gene_z: pd.DataFrame | None = None, **options: Any
                    ) -> CtwasParams:
    """cTWAS ``est_param``: group priors and prior variances by EM over all regions (no LD).

    Parameters
    ----------
    snp_z : table with columns ``id, z, region_id`` (the SNPs used for estimation: all, or a random
        ``thin`` fraction of them), or a :class:`RegionData` holding SNPs and genes (then ``gene_z`` is
        None; build one from flat arrays with ``RegionData.from_arrays(z, group, region_id)``).
    gene_z : table with columns ``id, z, group, region_id`` (optional ``molecular_id`` / ``gene_id``); one
        row per molecular trait, each in one region (see :func:`assign_genes_to_regions`).
    **options : ``thin`` (1.0: fraction of SNPs in ``snp_z``), ``group_prior_var_structure``
        (``shared_all`` | ``shared_type`` | ``shared_context`` | ``shared_nonSNP`` | ``independent`` |
        ``fixed``), ``niter_prefit`` (3), ``niter`` (50), ``min_var`` (2), ``min_gene`` (1),
        ``min_group_size`` (100), ``min_p_single_effect`` (0.8), ``null_method`` (``ctwas``), ``EM_tol``
        (1e-4), ``init_group_prior`` / ``init_group_prior_var`` (dicts; SNP prior per SNP of the full
        set), ``force_run_niter`` (False).

    Returns
    -------
    :class:`CtwasParams` (``group_prior``, ``group_prior_var``, ``group_size``, traces, per-region
    P(single effect); ``to_dict()`` for JSON).
    """
    _check_keys(options, _EM_KEYS)
    data = snp_z if isinstance(snp_z, RegionData) else RegionData.from_tables(snp_z, _need(gene_z))
    return est_param(data, **options)


def _need(gene_z: pd.DataFrame | None) -> pd.DataFrame:
    if gene_z is None:
        raise InputError.at("gene_z table is required with an snp_z table", column="gene_z", found=None,
                            expected="a table with columns id, z, group, region_id")
    return gene_z


@dataclass
class NoLDResult:
    """:func:`run_nold`'s output.

    Attributes
    ----------
    params : the estimated :class:`CtwasParams` (also reachable as ``group_prior``, ``group_prior_var``,
        ``group_size``, ``loglik_iters``, ``n_iter``, ``converged`` on this object).
    finemap : per-variable no-LD fine-mapping of the fine-mapped regions: region_id, id, molecular_id,
        group, type, context, z, susie_pip, mu, mu2, cs, gene_pip (cTWAS's ``finemap_res`` columns + extras).
    screen : per-region screening summary (cTWAS's ``screen_summary`` + skipped, selected).
    dropped_groups : {group: size} of molecular-trait groups removed before the EM (< min_group_size).
    """

    params: CtwasParams
    finemap: pd.DataFrame
    screen: pd.DataFrame
    dropped_groups: dict[str, int] = field(default_factory=dict)

    @property
    def group_prior(self) -> dict[str, float]:
        return self.params.group_prior

    @property
    def group_prior_var(self) -> dict[str, float]:
        return self.params.group_prior_var

    @property
    def group_size(self) -> dict[str, int | float]:
        return self.params.group_size

    @property
    def loglik_iters(self) -> list[float]:
        return self.params.loglik_iters

    @property
    def n_iter(self) -> int:
        return self.params.n_iter

    @property
    def converged(self) -> bool:
        return self.params.converged

    @property
    def pip(self) -> pd.DataFrame:
        """The per-variable PIP table (alias of ``finemap``)."""
        return self.finemap


def run_nold(snp_z: pd.DataFrame, gene_z: pd.DataFrame, *, snp_z_full: pd.DataFrame | None = None,
             **options: Any) -> NoLDResult:
    """cTWAS without LD (``ctwas_sumstats_noLD`` after region assembly).

    1. Molecular-trait groups with fewer than ``min_group_size`` traits are dropped (with a warning).
    2. :func:`estimate_params` on ``snp_z`` (a ``thin`` fraction of the SNPs) and ``gene_z``.
    3. Screening (``screen=True``): regions whose strongest SNP / gene has p < ``min_snp_pval`` /
       ``min_gene_pval`` (5e-8), else whose summed gene PIP under the SER exceeds ``min_nonSNP_PIP`` (0.5).
    4. No-LD fine-mapping (L = 1, R = I) of the selected regions (all regions with ``screen=False``).

    Steps 3–4 use ``snp_z_full`` (all SNPs, same columns), as cTWAS does after ``expand_region_data``;
    its regions are the ones screened (so a table of some regions' SNPs screens only those). Without it
    they use ``snp_z`` (with ``thin < 1`` a warning says the fine-mapping saw thinned SNPs).

    Options: those of :func:`estimate_params` plus ``min_nonSNP_PIP``, ``min_snp_pval``,
    ``min_gene_pval`` (default = min_snp_pval), ``coverage`` (0.95), ``screen`` (True).
    """
    _check_keys(options, (*_EM_KEYS, *_NOLD_KEYS))
    em_opts = {k: v for k, v in options.items() if k in _EM_KEYS}
    min_group_size = int(em_opts.get("min_group_size", 100))
    require_columns(gene_z, GENE_COLUMNS, "gene_z")
    counts = gene_z["group"].astype(str).value_counts()
    small = {str(g): int(n) for g, n in counts.items() if n < min_group_size}
    if small:
        warnings.warn(f"cTWAS: dropping molecular-trait groups with fewer than {min_group_size} traits: {small}",
                      stacklevel=2)
        gene_z = gene_z[~gene_z["group"].astype(str).isin(list(small))].reset_index(drop=True)
    params = est_param(RegionData.from_tables(snp_z, gene_z), **em_opts)
    full = snp_z if snp_z_full is None else snp_z_full
    if snp_z_full is None and params.thin < 1.0:
        warnings.warn("cTWAS: screening and fine-mapping use the thinned SNPs (pass snp_z_full for all SNPs)",
                      stacklevel=2)
    fm_genes = gene_z
    if snp_z_full is not None:  # the full SNP table names the regions to screen and fine-map
        require_columns(snp_z_full, ("id", "z", "region_id"), "snp_z_full")
        fm_genes = gene_z[gene_z["region_id"].astype(str).isin(set(snp_z_full["region_id"].astype(str)))]
    data = RegionData.from_tables(full, fm_genes, snp_file="snp_z_full")
    min_var, min_gene = int(em_opts.get("min_var", 2)), int(em_opts.get("min_gene", 1))
    null_method = str(em_opts.get("null_method", "ctwas"))
    scr = screen_regions(data, params.group_prior, params.group_prior_var, min_var=min_var, min_gene=min_gene,
                         min_nonSNP_PIP=float(options.get("min_nonSNP_PIP", 0.5)),
                         min_snp_pval=float(options.get("min_snp_pval", 5e-8)),
                         min_gene_pval=options.get("min_gene_pval"), null_method=null_method)
    if options.get("screen", True):
        sel = np.flatnonzero(scr["selected"].to_numpy())
    else:
        sel = np.flatnonzero(~scr["skipped"].to_numpy())
    if sel.size:
        fm = finemap_regions_noLD(data.subset(sel), params.group_prior, params.group_prior_var, min_var=min_var,
                                  min_gene=min_gene, null_method=null_method,
                                  coverage=float(options.get("coverage", 0.95)))
    else:
        fm = finemap_regions_noLD(data.subset([]), params.group_prior, params.group_prior_var)
    return NoLDResult(params, fm, scr, small)


# --------------------------------------------------------------------------------------------------
# step 2: per-locus fine-mapping with LD


@dataclass(frozen=True)
class CtwasOptions:
    """Options of :func:`fit` (config block ``ctwas``; keys used only by the EM are accepted and ignored).

    Attributes
    ----------
    L : single effects (5). min_abs_corr : credible-set purity (0.1). coverage : 0.95.
    null_method : ``ctwas`` (prior weights pi/(1 - pi) with null weight 0.5), ``susie`` or ``none``.
    causal_rule : ``pip`` (default; cTWAS's reporting rule: a credible-set member with PIP > ``pip_min``)
        or ``cs`` (any member of a 95% credible set; the rule the TGVIS paper applied to cTWAS in its
        simulations). pip_min : 0.8.
    max_iter, tol : IBSS limits (100, 1e-3 on the ELBO). n_purity, seed : purity subsample of large sets.
    group_prior_var_structure : accepted for the shared config block (used by :func:`estimate_params`).
    """

    L: int = 5
    min_abs_corr: float = 0.1
    coverage: float = 0.95
    null_method: str = "ctwas"
    causal_rule: str = "pip"
    pip_min: float = 0.8
    max_iter: int = 100
    tol: float = 1e-3
    n_purity: int = 100
    seed: int = 0
    group_prior_var_structure: str = "shared_all"


def make_options(**options: Any) -> CtwasOptions:
    """Validate :class:`CtwasOptions` keys and values; raises ConfigError naming ``ctwas.<key>``."""
    known = {f.name for f in fields(CtwasOptions)}
    _check_keys(options, sorted(known | set(_EM_KEYS) | set(_NOLD_KEYS)))
    o = CtwasOptions(**{k: v for k, v in options.items() if k in known and v is not None})
    checks = [
        ("L", isinstance(o.L, (int, np.integer)) and o.L >= 1, ">= 1"),
        ("min_abs_corr", 0.0 <= o.min_abs_corr <= 1.0, "in [0, 1]"),
        ("coverage", 0.0 < o.coverage < 1.0, "in (0, 1)"),
        ("null_method", o.null_method in NULL_METHODS, NULL_METHODS),
        ("causal_rule", o.causal_rule in CAUSAL_RULES, CAUSAL_RULES),
        ("pip_min", 0.0 <= o.pip_min <= 1.0, "in [0, 1]"),
        ("max_iter", o.max_iter >= 1, ">= 1"),
        ("group_prior_var_structure", o.group_prior_var_structure in VAR_STRUCTURES, VAR_STRUCTURES),
    ]
    for key, ok, expected in checks:
        if not ok:
            raise ConfigError.at("invalid cTWAS option", column=f"ctwas.{key}", found=getattr(o, key),
                                 expected=expected)
    return o


@dataclass
class CtwasResult(FinemapResult):
    """cTWAS result at one locus: the shared schema plus the fit.

    Extra attributes
    ----------------
    fit : the SuSiE fit over the modelled pairs then the M variants (:class:`VSusieFit`).
    gene_pips : {gene_id: combined PIP across its pairs (tissues x QTL types)}.
    prior, prior_var : (Pa + M,) the per-variable prior inclusion probability and variance used.
    """

    fit: VSusieFit | None = None
    gene_pips: dict[str, float] = field(default_factory=dict)
    prior: np.ndarray = field(default_factory=lambda: np.zeros(0))
    prior_var: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _resolve_priors(priors: Any) -> tuple[dict[str, float], dict[str, float]] | None:
    if priors is None:
        return None
    if isinstance(priors, NoLDResult):
        priors = priors.params
    if isinstance(priors, CtwasParams):
        return dict(priors.group_prior), dict(priors.group_prior_var)
    if isinstance(priors, dict):
        p = CtwasParams.from_dict(priors)
        return p.group_prior, p.group_prior_var
    raise InputError.at("priors must be CtwasParams, a run_nold result, a dict or None", column="priors",
                        found=type(priors).__name__, expected="group_prior and group_prior_var per group")


def _variable_priors(priors: tuple[dict[str, float], dict[str, float]] | None, groups: np.ndarray, M: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    p = groups.size + M
    if priors is None:  # cTWAS without parameters: uniform prior and susieR's default variance
        return np.full(p, 1.0 / p), np.full(p, 50.0)
    gp, gv = priors
    allg = [*groups.tolist(), SNP]
    for name, d in (("group_prior", gp), ("group_prior_var", gv)):
        miss = [g for g in dict.fromkeys(allg) if g not in d]
        if miss:
            raise InputError.at(f"no {name} for a group at this locus", column=name, found=miss[0],
                                expected=sorted(d))
    pi = np.array([gp[g] for g in groups] + [gp[SNP]] * M, dtype=np.float64)
    V = np.array([gv[g] for g in groups] + [gv[SNP]] * M, dtype=np.float64)
    if np.any(~np.isfinite(pi) | (pi < 0) | (pi >= 1)):
        raise InputError.at("group_prior must lie in [0, 1)", column="group_prior", found=pi[(pi < 0) | (pi >= 1)][:1],
                            expected="[0, 1)")
    if np.any(~np.isfinite(V) | (V < 0)):
        raise InputError.at("group_prior_var must be >= 0", column="group_prior_var", found=V[V < 0][:1],
                            expected=">= 0")
    return pi, V


def _as_inputs(z: Any, R: Any, n: Any, B: Any, groups: Any) -> tuple[np.ndarray, np.ndarray, float, np.ndarray,
                                                                     np.ndarray]:
    zz, RR, n_eff = locus_arrays(z, R, n)
    M = zz.size
    if M and not np.allclose(RR, RR.T, rtol=0.0, atol=1e-8 * max(1.0, float(np.abs(np.diag(RR)).max()))):
        raise InputError.at("LD matrix must be symmetric", column="R", found="R != R'", expected="symmetric")
    BB = weight_matrix(B, M)
    gg = np.asarray([str(g) for g in (groups if groups is not None else [])], dtype=object)
    if gg.size != BB.shape[1]:
        raise InputError.at("groups must give one group per pair (column of B)", column="groups", found=gg.size,
                            expected=BB.shape[1])
    if np.any(gg == SNP):
        raise InputError.at("a pair cannot be in the group 'SNP'", column="groups", found=SNP,
                            expected="'tissue|qtl_type'")
    return zz, RR, n_eff, BB, gg


def fit(z: Any, R: Any, n: Any, B: Any, groups: Any, priors: Any = None, **options: Any) -> CtwasResult:
    """cTWAS fine-mapping with LD at one locus.

    Parameters
    ----------
    z : (M,) GWAS z-scores of the counted alleles.
    R : (M, M) LD correlation (symmetric).
    n : GWAS sample size (scalar or per variant: the median). cTWAS fits on the z scale (susie_rss without
        n); n only converts the reported estimates to per-SD-of-trait effects.
    B : (M, P) stage-1 weights (per SD of genotype). Pairs predicting nothing are reported with NaN.
    groups : (P,) each pair's group ``"tissue|qtl_type"`` (keys of the priors).
    priors : :class:`CtwasParams`, a :class:`NoLDResult`, a dict with ``group_prior`` and ``group_prior_var``
        (per group, ``"SNP"`` included), or None (cTWAS without parameters: prior 1/p for every
        variable and prior variance 50).
    **options : :class:`CtwasOptions` keys, plus ``pair_names`` (P,), ``variant_names`` (M,) and
        ``gene_ids`` (P,; gene of each pair for the combined gene PIP; default the pair name before its
        first ``|``) and ``weight_var`` (P,; stage-1 weight variances, expected Gram — see
        :mod:`twasflow.methods._weight_uncertainty`).

    Returns
    -------
    CtwasResult. ``variables``: name, type, pip, cs, cs_pip, cs_pratt (NaN), estimate, se (posterior mean /
    SD for credible-set members, else 0: per unit of B's column for pairs, per SD of genotype for
    variants, per SD of trait), pratt (NaN), causal, then posterior_mean, posterior_sd, gene_pip (pairs),
    group, prior, prior_var. Locus fields: M, P, L, niter, converged, seconds.
    """
    t0 = time.perf_counter()
    pair_names = options.pop("pair_names", None)
    variant_names = options.pop("variant_names", None)
    gene_ids = options.pop("gene_ids", None)
    weight_var = options.pop("weight_var", None)  # (P,) stage-1 weight variances (issue 22), None = fixed
    opts = make_options(**options)
    zz, RR, n_eff, BB, gg = _as_inputs(z, R, n, B, groups)
    M, P = zz.size, BB.shape[1]
    pnames = [f"pair{j + 1}" for j in range(P)] if pair_names is None else [str(x) for x in pair_names]
    vnames = [f"variant{m + 1}" for m in range(M)] if variant_names is None else [str(x) for x in variant_names]
    genes = [p.split("|", 1)[0] for p in pnames] if gene_ids is None else [str(x) for x in gene_ids]
    for what, arr, want in (("pair_names", pnames, P), ("variant_names", vnames, M), ("gene_ids", genes, P)):
        if len(arr) != want:
            raise InputError.at(f"{what} has the wrong length", column=what, found=len(arr), expected=want)
    pri = _resolve_priors(priors)
    if M == 0:
        res = empty_result(METHOD, "no variants", M=0, P=P)
        return CtwasResult(res.method, res.variables, res.sets, res.locus)

    S = JointSystem(zz, RR, BB, weight_var=weight_var)  # factored: the (Pa + M)^2 joint matrix is never formed
    active, sd, zj = S.active, S.sd, S.joint_z(zz)
    pi, V = _variable_priors(pri, gg[active], M)
    if opts.null_method == "ctwas":
        pw, nw = pi / (1.0 - pi), 0.5
    elif opts.null_method == "susie":
        # set_region_susie_priors: pi / (1 - w0), which susie_rss scales back by (1 - w0): weights pi, w0
        nw = max(0.0, 1.0 - float(pi.sum()))
        pw = pi / (1.0 - nw) if nw < 1.0 else pi
    else:
        pw, nw = pi, None
    if not np.any(pw > 0):
        raise InputError.at("every variable has prior 0", column="group_prior", found=0.0, expected="> 0")
    f = susie_rss_fixed_v(zj, S.joint, V, pw, null_weight=nw, L=opts.L, coverage=opts.coverage,
                          min_abs_corr=0.0 if opts.L == 1 else opts.min_abs_corr, max_iter=opts.max_iter,
                          tol=opts.tol, n_purity=opts.n_purity, seed=opts.seed)
    warns = [] if f.converged else [f"IBSS algorithm did not converge in {opts.max_iter} iterations!"]
    for w in warns:
        warnings.warn(w, stacklevel=2)
    res = _summarize(f, active, sd, n_eff, opts, pnames, vnames, genes, gg, pi, V, corr=S.joint.corr)
    res.locus.update({"M": M, "P": P, "seconds": time.perf_counter() - t0})
    res.warnings = warns
    return res


def _summarize(f: VSusieFit, active: np.ndarray, sd: np.ndarray, n: float, opts: CtwasOptions, pnames: list[str],
               vnames: list[str], genes: list[str], groups: np.ndarray, pi: np.ndarray, V: np.ndarray, *,
               corr: CorrFn | None = None) -> CtwasResult:
    Pa, M, P = int(active.sum()), len(vnames), len(pnames)
    names_j = [p for p, a in zip(pnames, active) if a] + vnames
    types_j = np.array(["pair"] * Pa + ["variant"] * M, dtype=object)
    pip = f.pip
    nan = np.full(Pa + M, np.nan)
    cols, sets_table = credible_set_tables(names_j, types_j, pip, nan, f.sets, corr=corr,
                                           causal_rule=lambda _p, _r: True)
    in_cs = np.isfinite(cols["cs"])
    causal = in_cs & (pip > opts.pip_min) if opts.causal_rule == "pip" else in_cs.copy()
    if len(sets_table):
        sets_table["causal"] = [bool(causal[cols["cs"] == k].any()) for k in sets_table["cs"]]
    # z-scale effects -> per SD of trait (/ sqrt(n - 1)); pairs per unit of B's column (/ sd)
    unit = np.concatenate([1.0 / sd, np.ones(M)]) / math.sqrt(n - 1.0)
    post_mean = f.posterior_mean() * unit
    post_sd = f.posterior_sd() * unit
    # gene PIPs combined over tissues and QTL types within each single effect (cTWAS combine_cs)
    act_genes = np.asarray([g for g, a in zip(genes, active) if a], dtype=object)
    gene_pips: dict[str, float] = {}
    if Pa:
        L = f.alpha.shape[0]
        gene_pips = combine_gene_pips(np.tile(act_genes, L), np.repeat(np.arange(L), Pa), f.alpha[:, :Pa].ravel())
    gpip = np.concatenate([[gene_pips[g] for g in act_genes], np.full(M, np.nan)])

    def full(vals: np.ndarray, fill: Any) -> np.ndarray:
        vals = np.asarray(vals)
        out = np.empty(P + M, dtype=vals.dtype if fill is not None else object)
        pair_part = np.full(P, fill, dtype=out.dtype)
        pair_part[active] = vals[:Pa]
        out[:P] = pair_part
        out[P:] = vals[Pa:]
        return out

    pair_groups = np.concatenate([groups, np.full(M, SNP, dtype=object)])
    variables = pd.DataFrame({
        "name": pnames + vnames,
        "type": ["pair"] * P + ["variant"] * M,
        "pip": full(pip.astype(np.float64), np.nan),
        "cs": full(cols["cs"], np.nan),
        "cs_pip": full(cols["cs_pip"], np.nan),
        "cs_pratt": np.full(P + M, np.nan),
        "estimate": full(np.where(in_cs, post_mean, 0.0), np.nan),
        "se": full(np.where(in_cs, post_sd, 0.0), np.nan),
        "pratt": np.full(P + M, np.nan),
        "causal": full(causal, False).astype(bool),
        "collinear_group": full(cols["collinear_group"], None),
        "posterior_mean": full(post_mean, np.nan),
        "posterior_sd": full(post_sd, np.nan),
        "gene_pip": full(gpip, np.nan),
        "group": pair_groups,
        "prior": full(pi, np.nan),
        "prior_var": full(V, np.nan),
    })
    locus = {"status": STATUS_OK, "reason": "", "L": int(f.alpha.shape[0]), "niter": f.niter,
             "converged": f.converged}
    return CtwasResult(METHOD, variables, sets_table, locus, fit=f, gene_pips=gene_pips, prior=pi, prior_var=V)


def fit_bundle(bundle: Any, B: Any, pair_ids: Sequence[str], *, trait: str, priors: Any,
               options: dict[str, Any] | None = None) -> CtwasResult:
    """cTWAS on a locus bundle (``twasflow.locus.LocusBundle``) with stage-1 weights.

    Parameters
    ----------
    bundle : LocusBundle (uses ``z, n, R, variant_ids, pairs``).
    B : (M, P') weights of the kept pairs, columns in the order of ``pair_ids``.
    pair_ids : (P',) pair ids, each in ``bundle.pairs.pair_id``; group = ``f"{tissue}|{qtl_type}"``,
        gene = ``gene_id`` (for the combined gene PIP).
    trait : trait name (error messages). priors : as :func:`fit` (the trait's ``ctwas_params`` result).
    options : the config ``ctwas`` block and any :class:`CtwasOptions` key.

    Returns
    -------
    CtwasResult whose ``variables`` carry the pair metadata (gene_id, gene_name, tissue, qtl_type);
    ``result.tables(trait, bundle.locus_id)`` gives the docs/outputs.md tables. A bundle with M = 0 gives an
    ``empty`` record.
    """
    t0 = time.perf_counter()
    pair_ids = [str(p) for p in pair_ids]
    M = len(bundle.variant_ids)
    if M == 0:
        res = empty_result(METHOD, bundle.reason or "no variants", M=0, P=len(pair_ids))
        return CtwasResult(res.method, res.variables, res.sets, res.locus)
    meta = _pair_meta(bundle, pair_ids, trait)
    BB = np.zeros((M, 0)) if not pair_ids else B
    groups = [f"{t}|{q}" for t, q in zip(meta["tissue"], meta["qtl_type"])]
    res = fit(bundle.z, bundle.R, bundle.n, BB, groups, priors, pair_names=pair_ids,
              variant_names=[str(v) for v in bundle.variant_ids], gene_ids=list(meta["gene_id"]), **(options or {}))
    attach_pair_meta(res.variables, meta.set_axis(pair_ids), pair_ids)
    res.locus["seconds"] = time.perf_counter() - t0
    return res


def _pair_meta(bundle: Any, pair_ids: list[str], trait: str) -> pd.DataFrame:
    meta = bundle_pair_meta(bundle, pair_ids, trait)
    if not pair_ids:
        return pd.DataFrame({"gene_id": [], "gene_name": [], "tissue": [], "qtl_type": []})
    out = meta.loc[pair_ids, ["gene_id", "gene_name", "tissue", "qtl_type"]].astype(object).reset_index(drop=True)
    out["gene_id"] = [g if isinstance(g, str) and g else p.split("|", 1)[0] for g, p in zip(out["gene_id"], pair_ids)]
    return out


def region_tables(bundle: Any, B: Any, pair_ids: Sequence[str], region_id: str, *, trait: str = ""
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cTWAS region tables of one locus bundle, for the gather rule's EM.

    Returns
    -------
    snp_z : id (variant id), z, region_id — every bundle variant.
    gene_z : id (pair id), z = ``w'z / sqrt(w'Rw)`` from the bundle's R (cTWAS ``compute_gene_z`` with
        w = the pair's column of B), group ``"tissue|qtl_type"``, region_id, molecular_id (gene_id).
        Pairs whose weights predict nothing (``w'Rw = 0``) have no z and are left out.
    """
    pair_ids = [str(p) for p in pair_ids]
    M = len(bundle.variant_ids)
    z = np.asarray(bundle.z, dtype=np.float64).reshape(-1)
    snp = pd.DataFrame({"id": np.asarray(bundle.variant_ids, dtype=object), "z": z,
                        "region_id": np.full(M, str(region_id), dtype=object)})
    cols = ["id", "z", "group", "region_id", "molecular_id"]
    if M == 0 or not pair_ids:
        return snp, pd.DataFrame({c: pd.Series(dtype=np.float64 if c == "z" else object) for c in cols})
    meta = _pair_meta(bundle, pair_ids, trait)
    BB = np.asarray(B, dtype=np.float64).reshape(M, -1)
    if BB.shape[1] != len(pair_ids):
        raise InputError.at("B must have one column per pair id", column="B", found=BB.shape,
                            expected=f"({M}, {len(pair_ids)})")
    S = JointSystem(z, np.asarray(bundle.R, dtype=np.float64), np.where(np.isfinite(BB), BB, 0.0))
    idx = np.flatnonzero(S.active)
    zj = S.joint_z(z)
    gene = pd.DataFrame({
        "id": np.asarray(pair_ids, dtype=object)[idx], "z": zj[: idx.size],
        "group": np.asarray([f"{t}|{q}" for t, q in zip(meta["tissue"], meta["qtl_type"])], dtype=object)[idx],
        "region_id": np.full(idx.size, str(region_id), dtype=object),
        "molecular_id": meta["gene_id"].to_numpy(dtype=object)[idx],
    })
    return snp, gene


class CtwasMethod:
    """cTWAS as a :class:`twasflow.methods.registry.FinemapMethod`: per trait, the group priors and prior
    variances of rule ``ctwas_params``; pairs of groups without parameters (too small for the EM) are left out."""

    name = METHOD
    #: the config ``ctwas`` keys of the per-locus fit (the others configure the EM)
    FIT_KEYS = ("L", "min_abs_corr", "coverage", "null_method", "causal_rule", "pip_min")

    def __init__(self, trait: str, options: dict[str, Any], priors: CtwasParams) -> None:
        self.trait, self.priors = trait, priors
        self.options = {k: v for k, v in options.items() if k in self.FIT_KEYS}

    @staticmethod
    def trait_inputs(config: dict[str, Any]) -> tuple[str, ...]:
        return ("ctwas_params",)

    @classmethod
    def prepare(cls, trait: str, options: dict[str, Any], inputs: dict[str, Any], seed: int) -> "CtwasMethod":
        """``inputs["ctwas_params"]``: the trait's ``params.json`` content (``CtwasParams.to_dict()`` and counts)."""
        if inputs.get("ctwas_params") is None:
            raise InputError.at("cTWAS fine-mapping needs the trait's ctwas_params output", column="ctwas_params",
                                found=None, expected="results/ctwas/{trait}/params.json")
        return cls(trait, options, CtwasParams.from_dict(inputs["ctwas_params"]))

    def fit_locus(self, bundle: Any, weights: Any) -> CtwasResult:
        """cTWAS at one locus on the pairs of ``weights`` (a :class:`twasflow.locus_weights.LocusWeights`)."""
        ids = [str(p) for p in weights.pair_ids]
        meta = bundle.pairs.set_index("pair_id")
        ok = [k for k, p in enumerate(ids)
              if f"{meta.at[p, 'tissue']}|{meta.at[p, 'qtl_type']}" in self.priors.group_prior]
        if len(ok) < len(ids):
            import logging

            logging.getLogger("twasflow").info("  %s: %d of %d pairs in groups without cTWAS parameters left out",
                                               bundle.locus_id, len(ids) - len(ok), len(ids))
        return fit_bundle(bundle, weights.B[:, ok], [ids[k] for k in ok], trait=self.trait, priors=self.priors,
                          options=self.options)


def genome_snp_regions(gwas: pd.DataFrame, loci: pd.DataFrame, thin: float, region_kb: float, seed: int = 99
                       ) -> pd.DataFrame:
    """cTWAS's SNP side of the EM over the genome: a random ``thin`` fraction of every GWAS variant with a finite
    z, each in one region — its locus when it lies in one, else a ``region_kb`` window of its chromosome
    (``{chrom}_bg{k}``), so the null genome informs the SNP prior as in cTWAS's genome-wide run.

    ``gwas``: ``variant_id, chrom, pos, z`` (the harmonized GWAS); ``loci``: ``locus_id, chrom, start, end``.
    Returns the SNP table of :func:`estimate_params` (``id, z, region_id``).
    """
    g = gwas[np.isfinite(gwas["z"].to_numpy(dtype=np.float64))]
    g = thin_snps(g.reset_index(drop=True), thin, seed=seed)
    chrom = g["chrom"].astype(str).to_numpy(dtype=object)
    pos = g["pos"].to_numpy(dtype=np.int64)
    window = (pos // int(region_kb * 1000)).astype(str)
    region = np.char.add(np.char.add(chrom.astype(str), "_bg"), window).astype(object)
    for c, lc in loci.groupby("chrom", sort=False):
        lc = lc.sort_values("start")
        on = np.flatnonzero(chrom == str(c))
        starts, ends = lc["start"].to_numpy(np.int64), lc["end"].to_numpy(np.int64)
        k = np.searchsorted(starts, pos[on], side="right") - 1
        inside = (k >= 0) & (pos[on] <= ends[np.clip(k, 0, None)])
        region[on[inside]] = lc["locus_id"].to_numpy(dtype=object)[k[inside]]
    return pd.DataFrame({"id": g["variant_id"].astype(object).to_numpy(), "z": g["z"].to_numpy(np.float64),
                         "region_id": region})
