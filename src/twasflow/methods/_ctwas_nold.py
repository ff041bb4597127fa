"""cTWAS without LD: region screening and single-effect fine-mapping with the estimated priors.

Follows xinhe-lab/ctwas (multigroup, v0.5.27):

* ``screen_regions``: a region is kept when its strongest SNP or gene has p < ``min_snp_pval`` /
  ``min_gene_pval`` (two-sided normal p of the z), or else when its summed non-SNP PIP under the SER
  model exceeds ``min_nonSNP_PIP`` (0.5). Regions with fewer than ``min_var`` variables or ``min_gene``
  genes are skipped.
* ``finemap_regions_noLD``: SuSiE with L = 1 and R = I on each region, prior weights ``pi/(1 - pi)`` with
  a null weight (``null_method="ctwas"``), prior variance V per group. With L = 1 and R = I, SuSiE's IBSS
  returns the SER closed form in its first iteration (the second repeats it), so the PIP is the SER alpha,
  ``mu`` the posterior mean given inclusion ``z V/(V + 1)``, and the 95% credible set is the smallest
  set of variables whose alpha (with the null column's) reaches 0.95, dropped when it contains the null
  (susieR's purity -9). cTWAS names the set ``"L1"``.
* ``combine_gene_pips`` (method ``combine_cs``): per gene, sum alpha over its molecular traits within each
  single effect (region x effect), then ``1 - prod (1 - sum)`` over effects.

Numerical module: no I/O. Loops run over regions only to build credible sets (tens to hundreds of
regions after screening), never over variables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from ._ctwas_em import ser_all_regions
from ._ctwas_regions import SNP, RegionData, split_group
from twasflow.susie.sets import in_cs


def z2p(z: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value of z."""
    return special.erfc(np.abs(np.asarray(z, dtype=np.float64)) / np.sqrt(2.0))


def _priors(data: RegionData, group_prior: dict[str, float] | None, group_prior_var: dict[str, float] | None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Per-variable (pi, V); without priors cTWAS uses 1/p per region and V = 50."""
    from twasflow.errors import InputError

    for name, d in (("group_prior", group_prior), ("group_prior_var", group_prior_var)):
        if d is not None:
            miss = [g for g in data.groups if g not in d]
            if miss:
                raise InputError.at(f"missing {name} for a group", column=name, found=miss[0], expected=data.groups)
    if group_prior is None:
        p_r = np.bincount(data.region, minlength=data.n_regions).astype(np.float64)
        pi = 1.0 / p_r[data.region]
    else:
        pi = np.array([float(group_prior[g]) for g in data.groups])[data.group]
    V = np.full(data.z.size, 50.0) if group_prior_var is None else \
        np.array([float(group_prior_var[g]) for g in data.groups])[data.group]
    return pi, V


def _skip(data: RegionData, min_var: int, min_gene: int) -> np.ndarray:
    ng, ns = data.region_counts()
    return ((ng + ns) < min_var) | (ng < min_gene)


def screen_regions(
    data: RegionData,
    group_prior: dict[str, float] | None,
    group_prior_var: dict[str, float] | None,
    *,
    min_var: int = 2,
    min_gene: int = 1,
    min_nonSNP_PIP: float = 0.5,
    min_snp_pval: float = 5e-8,
    min_gene_pval: float | None = None,
    null_method: str = "ctwas",
) -> pd.DataFrame:
    """cTWAS ``screen_regions`` summary: one row per region with region_id, n_gids, n_sids, max_gene_absZ,
    max_snp_absZ, min_gene_p, min_snp_p, nonSNP_PIP (NaN for regions not screened by PIP: skipped or kept
    for their p-value), skipped, selected."""
    if min_gene_pval is None:
        min_gene_pval = min_snp_pval
    R = data.n_regions
    ng, ns = data.region_counts()
    az = np.abs(data.z)
    gmax = np.full(R, -np.inf)
    smax = np.full(R, -np.inf)
    np.maximum.at(gmax, data.region[data.is_gene], az[data.is_gene])
    np.maximum.at(smax, data.region[~data.is_gene], az[~data.is_gene])
    gmax[ng == 0] = np.nan
    smax[ns == 0] = np.nan
    gp, sp = z2p(gmax), z2p(smax)
    skipped = _skip(data, min_var, min_gene)
    with np.errstate(invalid="ignore"):
        sig = (sp < min_snp_pval) | (gp < min_gene_pval)
    sig &= ~skipped
    todo = ~skipped & ~sig
    nonsnp = np.full(R, np.nan)
    if todo.any():
        sub = data.subset(np.flatnonzero(todo))
        pi, V = _priors(sub, group_prior, group_prior_var)
        f = ser_all_regions(sub, pi, V, null_method)
        nonsnp[todo] = np.bincount(sub.region, weights=f.alpha * sub.is_gene, minlength=sub.n_regions)
    with np.errstate(invalid="ignore"):
        selected = sig | (nonsnp > min_nonSNP_PIP)
    return pd.DataFrame({"region_id": list(data.region_ids), "n_gids": ng, "n_sids": ns, "max_gene_absZ": gmax,
                         "max_snp_absZ": smax, "min_gene_p": gp, "min_snp_p": sp, "nonSNP_PIP": nonsnp,
                         "skipped": skipped, "selected": selected})


def finemap_regions_noLD(
    data: RegionData,
    group_prior: dict[str, float] | None,
    group_prior_var: dict[str, float] | None,
    *,
    min_var: int = 2,
    min_gene: int = 1,
    null_method: str = "ctwas",
    coverage: float = 0.95,
) -> pd.DataFrame:
    """cTWAS ``finemap_regions_noLD`` (L = 1, R = I) on every region with >= min_var variables and
    >= min_gene genes.

    Returns
    -------
    One row per variable (regions in order, genes first): region_id, id, molecular_id, group, type,
    context (cTWAS's columns; SNPs have type = context = group = "SNP"), z, susie_pip, mu (posterior mean
    given inclusion, z scale), mu2, cs (``"L1"`` or None), gene_pip (combined PIP of the molecular_id
    across its molecular traits; NaN for SNPs).
    """
    keep = np.flatnonzero(~_skip(data, min_var, min_gene))
    sub = data.subset(keep)
    pi, V = _priors(sub, group_prior, group_prior_var)
    # susie_rss's prior weights: cTWAS gives pi / (1 - pi) with null weight 0.5 ("ctwas"), pi with
    # null weight max(0, 1 - sum pi) ("susie"), or pi alone ("none"); the SER with the same null
    # method gives the same normalised prior, hence the same alpha.
    f = ser_all_regions(sub, pi, V, null_method)
    cs = np.full(sub.z.size, None, dtype=object)
    for r, (a, b) in enumerate(zip(sub.starts, [*sub.starts[1:], sub.z.size])):
        row = np.append(f.alpha[a:b], f.null_prob[r])
        members = in_cs(row, coverage)
        if (b - a) not in members:  # a set holding the null column is dropped (purity -9)
            cs[a + members] = "L1"
    ctx_typ = [split_group(g) for g in sub.groups]
    out = pd.DataFrame({
        "region_id": np.asarray(sub.region_ids, dtype=object)[sub.region], "id": sub.ids,
        "molecular_id": sub.molecular_id, "group": np.asarray(sub.groups, dtype=object)[sub.group],
        "type": np.asarray([t for _, t in ctx_typ], dtype=object)[sub.group],
        "context": np.asarray([c for c, _ in ctx_typ], dtype=object)[sub.group],
        # SuSiE's PIP 1 - prod_l (1 - alpha_l), with L = 1 computed as susieR does (so alphas below
        # 1e-16 come out as the same multiples of the float spacing as cTWAS reports)
        "z": sub.z, "susie_pip": 1.0 - (1.0 - f.alpha), "mu": f.mu, "mu2": f.mu2, "cs": cs,
    })
    gene = sub.is_gene
    gp = np.full(sub.z.size, np.nan)
    if gene.any():
        comb = combine_gene_pips(sub.molecular_id[gene], np.asarray(sub.region_ids, dtype=object)[sub.region[gene]],
                                 f.alpha[gene])
        gp[gene] = [comb[m] for m in sub.molecular_id[gene]]
    out["gene_pip"] = gp
    return out


def combine_gene_pips(gene_ids: Any, set_keys: Any, alpha: Any) -> dict[str, float]:
    """cTWAS ``combine_gene_pips(method="combine_cs", filter_cs=FALSE)``.

    Parameters
    ----------
    gene_ids : (K,) gene of each (molecular trait, single effect) entry.
    set_keys : (K,) the single effect of the entry (e.g. ``"region.L2"``; one key per SuSiE effect).
    alpha : (K,) the effect's alpha for the molecular trait.

    Returns
    -------
    {gene: 1 - prod_effects (1 - sum of the gene's alpha in the effect)}.
    """
    df = pd.DataFrame({"g": np.asarray(gene_ids, dtype=object), "s": np.asarray(set_keys, dtype=object),
                       "a": np.asarray(alpha, dtype=np.float64)})
    if df.empty:
        return {}
    summed = df.groupby(["g", "s"], sort=False)["a"].sum().reset_index()
    with np.errstate(divide="ignore"):  # a summed alpha of 1 gives log 0 = -inf, i.e. a combined PIP of 1
        summed["log1m"] = np.log1p(-np.minimum(summed["a"].to_numpy(), 1.0))
    comb = summed.groupby("g", sort=False)["log1m"].sum()
    return {str(g): float(-np.expm1(v)) for g, v in comb.items()}


__all__ = ["SNP", "combine_gene_pips", "finemap_regions_noLD", "screen_regions", "z2p"]
