"""cTWAS parameter estimation: the no-LD single-effect (SER) model fitted by EM over all regions.

Follows xinhe-lab/ctwas (branch multigroup, v0.5.27) ``est_param`` / ``fit_EM`` /
``ctwas_ser_rss`` / ``compute_region_p_single_effect``:

* Each region holds at most one causal variable. Variable j (group g) is causal a priori with
  probability ``pi_g`` and, if causal, has effect ``b_j ~ N(0, V_g)`` on the z scale; with no LD,
  ``z_j ~ N(b_j, 1)``. Wakefield's Bayes factor ``BF_j = sqrt(1 - c) exp(z_j^2 c / 2)``, ``c = V/(V + 1)``.
* ``null_method = "ctwas"``: P(no effect) = prod_j (1 - pi_j) and P(only j) = odds_j prod (1 - pi), so
  ``alpha_j = odds_j BF_j / (1 + sum_k odds_k BF_k)`` and the region log-likelihood (minus the null
  constant) is ``sum_j log(1 - pi_j) + log(1 + sum_k odds_k BF_k)``. ``"susie"``: the prior weights plus
  a null weight ``max(0, 1 - sum pi)``, normalised; ``"none"``: the weights normalised, no null.
* M step: ``pi_g`` = mean alpha over the group's variables; ``V_g`` = sum(alpha mu2) / sum(alpha) over
  the variables that share V_g (``group_prior_var_structure``), with ``mu2 = s2 + (s2 z)^2``,
  ``s2 = 1 / (1/V + 1)``.
* Stop when |loglik change| < ``EM_tol`` (the log-likelihood is evaluated at the E step's priors).
* ``est_param``: a prefit (``niter_prefit`` iterations) over regions with >= ``min_var`` variables and
  >= ``min_gene`` genes, then the full EM (``niter``) over the prefit regions whose
  P(at most one effect) = prod_g (1 - pi_g)^n_g (1 + sum_g n_g odds_g) exceeds ``min_p_single_effect``,
  started at the prefit values. With ``thin < 1`` the SNP prior is multiplied by ``thin`` and the SNP
  group size divided by it at the end (the EM itself runs on the thinned SNPs).

Everything is vectorised over regions (one ``bincount`` per per-region sum); no loop over regions.
Numerical module: no I/O.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from twasflow.errors import InputError

from ._ctwas_regions import SNP, RegionData

NULL_METHODS = ("ctwas", "susie", "none")
VAR_STRUCTURES = ("shared_all", "shared_type", "shared_context", "shared_nonSNP", "independent", "fixed")
DEFAULT_V = 50.0  # cTWAS/susieR's default prior variance when no initial value is given


@dataclass
class SERFit:
    """SER posteriors of every variable and the per-region log-likelihoods (arrays aligned with the
    RegionData: alpha, mu, mu2 are (N,); loglik is (R,))."""

    alpha: np.ndarray
    mu: np.ndarray
    mu2: np.ndarray
    loglik: np.ndarray
    null_prob: np.ndarray  # (R,) posterior probability of no effect in the region


def ser_all_regions(data: RegionData, pi: np.ndarray, V: np.ndarray, null_method: str = "ctwas") -> SERFit:
    """cTWAS's SER (``ctwas_ser_rss``) in every region at once.

    Parameters
    ----------
    data : regions (variables sorted by region).
    pi : (N,) prior inclusion probability of each variable (in [0, 1)).
    V : (N,) prior effect variance of each variable (z scale, >= 0).
    null_method : ``ctwas`` | ``susie`` | ``none`` (see the module docstring).
    """
    z, reg, R = data.z, data.region, data.n_regions
    with np.errstate(divide="ignore", invalid="ignore"):
        c = V / (V + 1.0)
        lbf = 0.5 * np.log1p(-c) + 0.5 * z * z * c
        s2 = np.where(V > 0, 1.0 / (1.0 / V + 1.0), 0.0)
    m = np.maximum.reduceat(lbf, data.starts)  # per-region max log BF, for stability
    w = np.exp(lbf - m[reg])
    if null_method == "ctwas":
        with np.errstate(divide="ignore"):
            cw = pi / (1.0 - pi)  # prior odds; the common factor prod(1 - pi) cancels in alpha
        c0 = np.ones(R)
        offset = np.bincount(reg, weights=np.log1p(-pi), minlength=R)
    elif null_method == "susie":
        tot = np.bincount(reg, weights=pi, minlength=R)
        nw = np.maximum(0.0, 1.0 - tot)
        norm = tot + nw
        cw = pi / norm[reg]
        c0 = nw / norm
        offset = np.zeros(R)
    elif null_method == "none":
        tot = np.bincount(reg, weights=pi, minlength=R)
        cw = pi / tot[reg]
        c0 = np.zeros(R)
        offset = np.zeros(R)
    else:
        raise InputError.at("unknown null_method", column="null_method", found=null_method, expected=NULL_METHODS)
    num = cw * w
    denom = c0 * np.exp(-m) + np.bincount(reg, weights=num, minlength=R)
    alpha = num / denom[reg]
    mu = s2 * z
    mu2 = s2 + mu * mu
    loglik = offset + np.log(denom) + m
    return SERFit(alpha, mu, mu2, loglik, c0 * np.exp(-m) / denom)


class _GroupSER:
    """The SER of every region when pi and V are constant within a group (every EM iteration after the
    first): the group-level constants are folded into one gather each and only the per-group sums the M step
    needs are formed (sum alpha and sum alpha z^2: sum alpha mu2 = c sum alpha + c^2 sum alpha z^2 with
    c = V / (V + 1)). ``null_method="ctwas"`` only."""

    def __init__(self, data: RegionData) -> None:
        self.z2 = data.z * data.z
        self.grp, self.reg, self.starts = data.group, data.region, data.starts
        self.R, self.G = data.n_regions, len(data.groups)
        self.n_rg = data.group_counts().astype(np.float64)

    def __call__(self, pi_g: np.ndarray, V_g: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(sum alpha per group, sum alpha z^2 per group, total log-likelihood)."""
        with np.errstate(divide="ignore"):
            c = V_g / (V_g + 1.0)
            # log(odds_j BF_j) = 0.5 log(1 - c) + log odds + 0.5 c z^2 (the max per region is subtracted)
            a = 0.5 * np.log1p(-c) + np.log(pi_g) - np.log1p(-pi_g)
        t = np.take(0.5 * c, self.grp)
        t *= self.z2
        t += np.take(a, self.grp)
        m = np.maximum.reduceat(t, self.starts)
        t -= np.take(m, self.reg)
        np.exp(t, out=t)
        denom = np.exp(-m) + np.bincount(self.reg, weights=t, minlength=self.R)
        t /= np.take(denom, self.reg)  # alpha
        sa = np.bincount(self.grp, weights=t, minlength=self.G)
        t *= self.z2
        saz = np.bincount(self.grp, weights=t, minlength=self.G)
        loglik = float((self.n_rg @ np.log1p(-pi_g)).sum() + np.log(denom).sum() + m.sum())
        return sa, saz, loglik


# --------------------------------------------------------------------------------------------------
# EM


@dataclass
class EMResult:
    """``fit_EM``'s output. Dicts are keyed by group (molecular-trait groups, then ``SNP``)."""

    group_prior: dict[str, float]
    group_prior_var: dict[str, float]
    group_size: dict[str, int]
    group_prior_iters: dict[str, list[float]]
    group_prior_var_iters: dict[str, list[float]]
    loglik_iters: list[float]
    converged: bool
    n_iter: int


def _var_blocks(data: RegionData, structure: str) -> list[np.ndarray]:
    """Groups (as index arrays) that share one prior variance under ``structure``."""
    G = len(data.groups)
    snp = data.groups.index(SNP) if SNP in data.groups else -1
    non = [k for k in range(G) if k != snp]
    snp_b = [np.array([snp])] if snp >= 0 else []
    if structure == "shared_all":
        return [np.arange(G)]
    if structure == "independent":
        return [np.array([k]) for k in range(G)]
    if structure == "shared_nonSNP":
        return snp_b + ([np.array(non)] if non else [])
    if structure in ("shared_type", "shared_context"):
        contexts, types = data.group_types()
        key = types if structure == "shared_type" else contexts
        labels = list(dict.fromkeys(key[k] for k in non))
        return snp_b + [np.array([k for k in non if key[k] == lab]) for lab in labels]
    if structure == "fixed":
        return []
    raise InputError.at("unknown group_prior_var_structure", column="group_prior_var_structure", found=structure,
                        expected=VAR_STRUCTURES)


def fit_em(
    data: RegionData,
    *,
    niter: int = 30,
    init_group_prior: dict[str, float] | None = None,
    init_group_prior_var: dict[str, float] | None = None,
    group_prior_var_structure: str = "shared_all",
    null_method: str = "ctwas",
    EM_tol: float = 1e-4,
    force_run_niter: bool = False,
    warn_converge_fail: bool = True,
) -> EMResult:
    """cTWAS ``fit_EM`` over the regions of ``data``.

    Without initial values (``None``, or a group missing from the dicts) every variable of a region starts
    at prior 1/p (p = the region's number of variables) and prior variance 50, as cTWAS does.
    """
    G = len(data.groups)
    grp = data.group
    if init_group_prior is not None and all(g in init_group_prior for g in data.groups):
        pi_g = np.array([float(init_group_prior[g]) for g in data.groups])
        pi = pi_g[grp]
    else:
        p_r = np.bincount(data.region, minlength=data.n_regions).astype(np.float64)
        pi_g = np.full(G, np.nan)
        pi = 1.0 / p_r[data.region]
    if init_group_prior_var is not None and all(g in init_group_prior_var for g in data.groups):
        V_g = np.array([float(init_group_prior_var[g]) for g in data.groups])
    else:
        if group_prior_var_structure == "fixed":
            raise InputError.at("init_group_prior_var is needed with group_prior_var_structure 'fixed'",
                                column="init_group_prior_var", found=init_group_prior_var,
                                expected=f"a value for each of {data.groups}")
        V_g = np.full(G, np.nan)
    V = V_g[grp] if np.all(np.isfinite(V_g)) else np.full(grp.size, DEFAULT_V)
    blocks = _var_blocks(data, group_prior_var_structure)
    counts = np.bincount(grp, minlength=G).astype(np.float64)

    pi_hist: list[np.ndarray] = []
    V_hist: list[np.ndarray] = []
    ll: list[float] = []
    prev = -math.inf
    converged = False
    it = 0
    fast = _GroupSER(data) if null_method == "ctwas" else None
    per_group = np.all(np.isfinite(pi_g))  # False until the first M step when started at 1/p per region
    for it in range(1, niter + 1):
        if fast is not None and per_group:
            Vc = V_g if np.all(np.isfinite(V_g)) else np.full(G, DEFAULT_V)
            sa, saz, cur = fast(pi_g, Vc)
            c = Vc / (Vc + 1.0)
            sam = c * sa + c * c * saz
        else:
            f = ser_all_regions(data, pi, V, null_method)
            sa = np.bincount(grp, weights=f.alpha, minlength=G)
            sam = np.bincount(grp, weights=f.alpha * f.mu2, minlength=G)
            cur = float(f.loglik.sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            pi_g = sa / counts
            if blocks:
                V_g = V_g.copy()
                for b in blocks:
                    V_g[b] = sam[b].sum() / sa[b].sum()
        per_group = True
        pi, V = pi_g[grp], V_g[grp]
        pi_hist.append(pi_g.copy())
        V_hist.append(V_g.copy())
        ll.append(cur)
        if abs(cur - prev) < EM_tol:
            converged = True
            if not force_run_niter:
                break
        prev = cur
    if not converged and warn_converge_fail:
        warnings.warn(f"EM did not converge in {it} iterations! Please increase niter.", stacklevel=2)
    names = data.groups
    P = np.array(pi_hist)
    Vh = np.array(V_hist)
    return EMResult(
        group_prior={g: float(pi_g[k]) for k, g in enumerate(names)},
        group_prior_var={g: float(V_g[k]) for k, g in enumerate(names)},
        group_size={g: int(counts[k]) for k, g in enumerate(names)},
        group_prior_iters={g: P[:, k].tolist() for k, g in enumerate(names)},
        group_prior_var_iters={g: Vh[:, k].tolist() for k, g in enumerate(names)},
        loglik_iters=ll, converged=converged, n_iter=it)


def p_single_effect(data: RegionData, group_prior: dict[str, float]) -> np.ndarray:
    """(R,) P(at most one causal variable) per region: prod_g (1 - pi_g)^n_g (1 + sum_g n_g pi_g / (1 - pi_g))."""
    missing = [g for g in data.groups if g not in group_prior]
    if missing:
        raise InputError.at("missing group_prior for a group", column="group_prior", found=missing[0],
                            expected=data.groups)
    pi = np.array([float(group_prior[g]) for g in data.groups])
    n = data.group_counts().astype(np.float64)
    return np.exp(n @ np.log1p(-pi)) * (1.0 + n @ (pi / (1.0 - pi)))


# --------------------------------------------------------------------------------------------------
# est_param


@dataclass
class CtwasParams:
    """cTWAS's estimated parameters (``est_param``), keyed by group (molecular-trait groups, then SNP).

    Attributes
    ----------
    group_prior : prior inclusion probability per variable of each group (SNP: thin-adjusted, i.e. per SNP
        of the full SNP set).
    group_prior_var : prior effect variance of each group (z scale).
    group_size : variables per group over all regions (SNP: divided by ``thin``).
    group_prior_var_structure, thin : as given.
    loglik_iters, group_prior_iters, group_prior_var_iters, n_iter, converged : the final EM's traces
        (SNP prior trace thin-adjusted, as cTWAS reports it).
    prefit : the prefit EM's group_prior (unadjusted), group_prior_var, loglik_iters, n_iter.
    p_single_effect : one row per region: region_id, n_genes, n_snps, skipped (fewer than min_var variables
        or min_gene genes), p_single_effect (NaN when skipped), selected (used by the final EM).
    em_group_size : group sizes of the regions the final EM used (SNP divided by ``thin``).
    options : the options of the run.
    """

    group_prior: dict[str, float]
    group_prior_var: dict[str, float]
    group_size: dict[str, int | float]
    group_prior_var_structure: str = "shared_all"
    thin: float = 1.0
    loglik_iters: list[float] = field(default_factory=list)
    group_prior_iters: dict[str, list[float]] = field(default_factory=dict)
    group_prior_var_iters: dict[str, list[float]] = field(default_factory=dict)
    n_iter: int = 0
    converged: bool = False
    prefit: dict[str, Any] = field(default_factory=dict)
    p_single_effect: pd.DataFrame = field(default_factory=pd.DataFrame)
    em_group_size: dict[str, int | float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the gather rule's ``params.json``)."""
        pse = self.p_single_effect
        return {
            "group_prior": dict(self.group_prior), "group_prior_var": dict(self.group_prior_var),
            "group_size": dict(self.group_size), "group_prior_var_structure": self.group_prior_var_structure,
            "thin": self.thin, "loglik_iters": list(self.loglik_iters),
            "group_prior_iters": dict(self.group_prior_iters), "group_prior_var_iters": dict(self.group_prior_var_iters),
            "n_iter": self.n_iter, "converged": self.converged, "prefit": dict(self.prefit),
            "p_single_effect": {c: pse[c].tolist() for c in pse.columns} if len(pse.columns) else {},
            "em_group_size": dict(self.em_group_size), "options": dict(self.options),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CtwasParams":
        """Inverse of :meth:`to_dict`; also accepts a bare ``{group_prior, group_prior_var[, group_size]}``."""
        for k in ("group_prior", "group_prior_var"):
            if k not in d:
                raise InputError.at("cTWAS parameters lack a key", column=k, found=sorted(d),
                                    expected="group_prior and group_prior_var")
        pse = d.get("p_single_effect") or {}
        return cls(group_prior={str(k): float(v) for k, v in d["group_prior"].items()},
                   group_prior_var={str(k): float(v) for k, v in d["group_prior_var"].items()},
                   group_size=dict(d.get("group_size", {})),
                   group_prior_var_structure=str(d.get("group_prior_var_structure", "shared_all")),
                   thin=float(d.get("thin", 1.0)), loglik_iters=list(d.get("loglik_iters", [])),
                   group_prior_iters=dict(d.get("group_prior_iters", {})),
                   group_prior_var_iters=dict(d.get("group_prior_var_iters", {})),
                   n_iter=int(d.get("n_iter", 0)), converged=bool(d.get("converged", False)),
                   prefit=dict(d.get("prefit", {})), p_single_effect=pd.DataFrame(pse),
                   em_group_size=dict(d.get("em_group_size", {})), options=dict(d.get("options", {})))


def est_param(
    data: RegionData,
    *,
    thin: float = 1.0,
    init_group_prior: dict[str, float] | None = None,
    init_group_prior_var: dict[str, float] | None = None,
    group_prior_var_structure: str = "shared_all",
    niter_prefit: int = 3,
    niter: int = 50,
    min_var: int = 2,
    min_gene: int = 1,
    min_group_size: int = 100,
    min_p_single_effect: float = 0.8,
    null_method: str = "ctwas",
    EM_tol: float = 1e-4,
    force_run_niter: bool = False,
) -> CtwasParams:
    """cTWAS ``est_param`` on region data whose SNPs are a ``thin`` fraction of all SNPs."""
    if not 0.0 < thin <= 1.0:
        raise InputError.at("thin must lie in (0, 1]", column="thin", found=thin, expected="(0, 1]")
    if null_method not in NULL_METHODS:
        raise InputError.at("unknown null_method", column="null_method", found=null_method, expected=NULL_METHODS)
    _var_blocks(data, group_prior_var_structure)  # validates the name
    if data.n_regions == 0:
        raise InputError.at("no regions", column="region_id", found=0, expected="at least one region")
    opts = {"thin": thin, "group_prior_var_structure": group_prior_var_structure, "niter_prefit": niter_prefit,
            "niter": niter, "min_var": min_var, "min_gene": min_gene, "min_group_size": min_group_size,
            "min_p_single_effect": min_p_single_effect, "null_method": null_method, "EM_tol": EM_tol,
            "force_run_niter": force_run_niter}
    init_pi = dict(init_group_prior) if init_group_prior is not None else None
    if init_pi is not None and SNP in init_pi:
        init_pi[SNP] = init_pi[SNP] / thin
    size = data.group_size()
    small = {g: n for g, n in size.items() if n < min_group_size}
    if small:
        g0 = next(iter(small))
        raise InputError.at("group with too few variables for reliable parameters (remove it from the gene table)",
                            column="group", found=f"{g0}: {small[g0]}", expected=f">= {min_group_size} (min_group_size)")
    n_gene, n_snp = data.region_counts()
    skipped = ((n_gene + n_snp) < min_var) | (n_gene < min_gene)
    prefit_idx = np.flatnonzero(~skipped)
    if prefit_idx.size == 0:
        raise InputError.at("no region has enough variables and genes for the EM", column="region_id",
                            found=f"{data.n_regions} regions", expected=f">= {min_var} variables and >= {min_gene} genes")
    pre_data = data.subset(prefit_idx)
    pre = fit_em(pre_data, niter=niter_prefit, init_group_prior=init_pi, init_group_prior_var=init_group_prior_var,
                 group_prior_var_structure=group_prior_var_structure, null_method=null_method, EM_tol=EM_tol,
                 force_run_niter=force_run_niter, warn_converge_fail=False)
    pse = p_single_effect(pre_data, pre.group_prior)
    sel_local = np.flatnonzero(pse > min_p_single_effect)
    table = pd.DataFrame({"region_id": list(data.region_ids), "n_genes": n_gene, "n_snps": n_snp,
                          "skipped": skipped, "p_single_effect": np.nan, "selected": False})
    table.loc[prefit_idx, "p_single_effect"] = pse
    table.loc[prefit_idx[sel_local], "selected"] = True
    if sel_local.size == 0:
        raise InputError.at("no region with P(single effect) above min_p_single_effect", column="min_p_single_effect",
                            found=f"max {float(pse.max()):.4g}", expected=f"> {min_p_single_effect}")
    em_data = pre_data.subset(sel_local)
    em = fit_em(em_data, niter=niter, init_group_prior=pre.group_prior, init_group_prior_var=pre.group_prior_var,
                group_prior_var_structure=group_prior_var_structure, null_method=null_method, EM_tol=EM_tol,
                force_run_niter=force_run_niter, warn_converge_fail=True)
    bad = [g for g in em.group_prior if not (np.isfinite(em.group_prior[g]) and np.isfinite(em.group_prior_var[g]))]
    if bad:
        raise InputError.at("estimated parameters contain NaN", column="group", found=bad[0],
                            expected="groups with variables in the selected regions")
    gp = dict(em.group_prior)
    gp_iters = {g: list(v) for g, v in em.group_prior_iters.items()}
    gsize: dict[str, int | float] = {g: size[g] for g in gp}
    em_size: dict[str, int | float] = dict(em_data.group_size())
    if thin != 1.0 and SNP in gp:
        gp[SNP] *= thin
        gp_iters[SNP] = [x * thin for x in gp_iters[SNP]]
        gsize[SNP] = gsize[SNP] / thin
        em_size[SNP] = em_size[SNP] / thin
    for d in (gsize, em_size):  # integral sizes stay ints in JSON
        for g, v in d.items():
            if float(v).is_integer():
                d[g] = int(v)
    prefit = {"group_prior": pre.group_prior, "group_prior_var": pre.group_prior_var,
              "loglik_iters": pre.loglik_iters, "n_iter": pre.n_iter, "converged": pre.converged}
    return CtwasParams(group_prior=gp, group_prior_var=dict(em.group_prior_var), group_size=gsize,
                       group_prior_var_structure=group_prior_var_structure, thin=thin, loglik_iters=em.loglik_iters,
                       group_prior_iters=gp_iters, group_prior_var_iters=em.group_prior_var_iters, n_iter=em.n_iter,
                       converged=em.converged, prefit=prefit, p_single_effect=table, em_group_size=em_size,
                       options=opts)
