"""cTWAS region data: the SNP and gene z-scores of every region as flat, region-sorted arrays.

cTWAS (xinhe-lab/ctwas, ``assemble_region_data``) keeps one list entry per region with its genes first,
then its SNPs. Here the same content is one set of flat arrays sorted by region (genes before SNPs
inside a region), so that every per-region sum of the EM is a ``np.bincount`` / ``np.*.reduceat``
over all regions at once.

Groups are cTWAS's ``"context|type"`` strings for molecular traits (here ``"tissue|qtl_type"``) plus
``"SNP"``; the SNP group is always last. Numerical module: tables in, arrays out, no file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from twasflow.errors import InputError

SNP = "SNP"
SNP_COLUMNS = ("id", "z", "region_id")
GENE_COLUMNS = ("id", "z", "group", "region_id")


def split_group(group: str) -> tuple[str, str]:
    """``"context|type"`` -> (context, type); ``"SNP"`` -> ("SNP", "SNP"); a name without ``|`` is both."""
    if group == SNP:
        return SNP, SNP
    if "|" in group:
        context, _, typ = group.partition("|")
        return context, typ
    return group, group


@dataclass
class RegionData:
    """All regions' variables as flat arrays (N variables; R regions; G groups).

    Attributes
    ----------
    ids : (N,) variable ids (gene ids, SNP ids).
    molecular_id : (N,) gene id of a molecular trait (cTWAS ``molecular_id``; the SNP id for SNPs).
    z : (N,) z-scores (float64).
    group : (N,) int, index into ``groups``.
    region : (N,) int, index into ``region_ids``; non-decreasing (variables sorted by region).
    is_gene : (N,) bool, molecular traits (True) or SNPs (False); genes come first inside a region.
    groups : the G group names, molecular-trait groups in order of first appearance, then ``"SNP"``.
    region_ids : the R region ids in order of first appearance (SNP table first, then gene table).
    """

    ids: np.ndarray
    molecular_id: np.ndarray
    z: np.ndarray
    group: np.ndarray
    region: np.ndarray
    is_gene: np.ndarray
    groups: list[str]
    region_ids: list[str]

    # -- derived ---------------------------------------------------------------------------------
    @property
    def n_regions(self) -> int:
        return len(self.region_ids)

    @property
    def starts(self) -> np.ndarray:
        """(R,) index of each region's first variable (every region is non-empty)."""
        return np.searchsorted(self.region, np.arange(self.n_regions), side="left")

    def region_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(n_genes, n_snps) per region, each (R,) int."""
        R = self.n_regions
        ng = np.bincount(self.region, weights=self.is_gene, minlength=R).astype(np.int64)
        nv = np.bincount(self.region, minlength=R).astype(np.int64)
        return ng, nv - ng

    def group_counts(self) -> np.ndarray:
        """(R, G) number of variables of each group in each region."""
        G = len(self.groups)
        c = np.bincount(self.region * G + self.group, minlength=self.n_regions * G)
        return c.reshape(self.n_regions, G).astype(np.int64)

    def group_size(self) -> dict[str, int]:
        """Variables per group over all regions (cTWAS ``get_group_size_from_region_data``)."""
        c = np.bincount(self.group, minlength=len(self.groups))
        return {g: int(c[k]) for k, g in enumerate(self.groups)}

    def group_types(self) -> tuple[list[str], list[str]]:
        """(contexts, types) of the groups, aligned with ``groups``."""
        parts = [split_group(g) for g in self.groups]
        return [p[0] for p in parts], [p[1] for p in parts]

    def subset(self, keep_regions: np.ndarray | Sequence[int]) -> "RegionData":
        """The regions with the given indices (kept in their order here); groups absent from them dropped,
        the remaining groups keep their relative order (cTWAS recomputes ``groups`` per call)."""
        keep = np.zeros(self.n_regions, dtype=bool)
        keep[np.asarray(keep_regions, dtype=np.int64)] = True
        m = keep[self.region]
        new_region = np.cumsum(keep) - 1
        present = np.unique(self.group[m])
        remap = np.full(len(self.groups), -1, dtype=np.int64)
        remap[present] = np.arange(present.size)
        return RegionData(self.ids[m], self.molecular_id[m], self.z[m], remap[self.group[m]], new_region[self.region[m]],
                          self.is_gene[m], [self.groups[k] for k in present],
                          [r for r, k in zip(self.region_ids, keep) if k])

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, z: Any, group: Sequence[str], region_id: Sequence[str], ids: Sequence[str] | None = None,
                    molecular_id: Sequence[str] | None = None) -> "RegionData":
        """From per-variable arrays: z (N,), group names (N,; ``"SNP"`` marks SNPs), region ids (N,)."""
        zz = _finite(np.asarray(z, dtype=np.float64).reshape(-1), "z", None)
        g = np.asarray(group).astype(str).astype(object)
        r = np.asarray(region_id).astype(str).astype(object)
        N = zz.size
        if g.size != N or r.size != N:
            raise InputError.at("z, group and region_id must have the same length", column="group",
                                found=(N, g.size, r.size), expected="equal lengths")
        names = (np.char.add("v", np.arange(1, N + 1).astype(str)) if ids is None else np.asarray(ids).astype(str)
                 ).astype(object)
        mol = names.copy() if molecular_id is None else np.asarray(molecular_id).astype(str).astype(object)
        is_gene = g != SNP
        return cls._build(names[is_gene], mol[is_gene], zz[is_gene], g[is_gene], r[is_gene],
                          names[~is_gene], zz[~is_gene], r[~is_gene])

    @classmethod
    def from_tables(cls, snp_z: pd.DataFrame, gene_z: pd.DataFrame, *, snp_file: Any = "snp_z",
                    gene_file: Any = "gene_z") -> "RegionData":
        """From cTWAS-shaped tables: ``snp_z`` (id, z, region_id) and ``gene_z`` (id, z, group, region_id,
        optional ``molecular_id`` or ``gene_id``; default molecular id = the id before its first ``|``)."""
        require_columns(snp_z, SNP_COLUMNS, snp_file)
        require_columns(gene_z, GENE_COLUMNS, gene_file)
        s_id = snp_z["id"].astype(str).to_numpy(dtype=object)
        s_z = _finite(pd.to_numeric(snp_z["z"], errors="coerce").to_numpy(np.float64), "z", snp_file)
        s_r = snp_z["region_id"].astype(str).to_numpy(dtype=object)
        g_id = gene_z["id"].astype(str).to_numpy(dtype=object)
        g_z = _finite(pd.to_numeric(gene_z["z"], errors="coerce").to_numpy(np.float64), "z", gene_file)
        g_g = gene_z["group"].astype(str).to_numpy(dtype=object)
        g_r = gene_z["region_id"].astype(str).to_numpy(dtype=object)
        bad = np.flatnonzero(g_g == SNP)
        if bad.size:
            raise InputError.at("a molecular trait cannot be in the group 'SNP'", file=gene_file, column="group",
                                row=int(bad[0]) + 1, found=SNP, expected="'context|type'")
        for col in ("molecular_id", "gene_id"):
            if col in gene_z.columns:
                g_m = gene_z[col].astype(str).to_numpy(dtype=object)
                break
        else:
            g_m = np.asarray([i.split("|", 1)[0] for i in g_id], dtype=object)
        _unique(s_id, "id", snp_file)
        _unique(g_id, "id", gene_file)
        return cls._build(g_id, g_m, g_z, g_g, g_r, s_id, s_z, s_r)

    @classmethod
    def _build(cls, g_id: np.ndarray, g_mol: np.ndarray, g_z: np.ndarray, g_group: np.ndarray, g_reg: np.ndarray,
               s_id: np.ndarray, s_z: np.ndarray, s_reg: np.ndarray) -> "RegionData":
        codes, uniq = pd.factorize(np.concatenate([s_reg, g_reg]).astype(object), sort=False)
        region_ids = [str(r) for r in uniq]
        s_code, g_code = codes[: len(s_reg)], codes[len(s_reg):]
        # molecular-trait groups in order of first appearance in region order (cTWAS's ``groups``)
        gg, gu = pd.factorize(g_group.astype(object), sort=False)
        first = np.full(len(gu), np.iinfo(np.int64).max)
        np.minimum.at(first, gg, g_code * (len(g_code) + 1) + np.arange(len(g_code)))
        rank = np.argsort(first, kind="stable")
        groups = [*[str(gu[k]) for k in rank], SNP]
        remap = np.empty(len(gu), dtype=np.int64)
        remap[rank] = np.arange(len(gu))
        ids = np.concatenate([g_id, s_id]).astype(object)
        mol = np.concatenate([g_mol, s_id]).astype(object)
        z = np.concatenate([g_z, s_z]).astype(np.float64)
        group = np.concatenate([remap[gg], np.full(len(s_id), len(gu), dtype=np.int64)])
        region = np.concatenate([g_code, s_code]).astype(np.int64)
        is_gene = np.concatenate([np.ones(len(g_id), bool), np.zeros(len(s_id), bool)])
        # genes then SNPs inside each region (cTWAS's order); the stable sort keeps the input order
        o = np.argsort(region, kind="stable")
        return cls(ids[o], mol[o], z[o], group[o], region[o], is_gene[o], groups, region_ids)


def require_columns(df: pd.DataFrame, cols: Sequence[str], file: Any) -> None:
    """Raise InputError unless ``df`` is a DataFrame with every column of ``cols``."""
    if not isinstance(df, pd.DataFrame):
        raise InputError.at("expected a table (pandas DataFrame)", file=file, found=type(df).__name__,
                            expected=f"columns {list(cols)}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError.at("missing column", file=file, column=missing[0], found=list(df.columns),
                            expected=list(cols))


def _finite(z: np.ndarray, col: str, file: Any) -> np.ndarray:
    bad = np.flatnonzero(~np.isfinite(z))
    if bad.size:
        raise InputError.at("z must be a finite number", file=file, column=col, row=int(bad[0]) + 1,
                            found=z[bad[0]], expected="a finite number")
    return z


def _unique(ids: np.ndarray, col: str, file: Any) -> None:
    if len(set(ids.tolist())) == ids.size:  # the common case, fast on object arrays
        return
    dup = pd.Series(ids, dtype=object).duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError.at("duplicated id (each variable belongs to one region)", file=file, column=col, row=i + 1,
                            found=ids[i], expected="unique ids")


def assign_genes_to_regions(gene_ids: Sequence[str], variant_regions: Sequence[str], weights: Any,
                            region_order: Sequence[str] | None = None) -> dict[str, str]:
    """cTWAS ``adjust_boundary_genes``: each gene goes to the region holding the largest sum of |weights|.

    Parameters
    ----------
    gene_ids : (K,) gene (molecular trait) id of each weight row.
    variant_regions : (K,) region id of the weight's variant.
    weights : (K,) weights (any scale: only |w| sums are compared).
    region_order : tie-break order of regions (cTWAS's ``which.max`` keeps the first region of the gene's
        region list, which is in genomic order); default: order of first appearance.

    Returns
    -------
    {gene_id: region_id}.
    """
    df = pd.DataFrame({"g": np.asarray(gene_ids, dtype=object), "r": np.asarray(variant_regions, dtype=object),
                       "w": np.abs(np.asarray(weights, dtype=np.float64))})
    order = list(dict.fromkeys(region_order if region_order is not None else df["r"].tolist()))
    rank = {r: k for k, r in enumerate(order)}
    missing = [r for r in df["r"].unique() if r not in rank]
    if missing:
        raise InputError.at("weight variant in a region missing from region_order", column="region_id",
                            found=missing[0], expected="one of region_order")
    s = df.groupby(["g", "r"], sort=False)["w"].sum().reset_index()
    s["rank"] = s["r"].map(rank)
    s = s.sort_values(["g", "w", "rank"], ascending=[True, False, True], kind="stable")
    best = s.drop_duplicates("g", keep="first")
    return dict(zip(best["g"].astype(str), best["r"].astype(str)))


def thin_snps(snp_z: pd.DataFrame, thin: float, seed: int = 99) -> pd.DataFrame:
    """Keep a random ``round(N * thin)`` of the SNP rows (cTWAS ``thin``: a genome-wide random subset), in
    their input order. ``thin = 1`` returns the table unchanged."""
    if not 0.0 < float(thin) <= 1.0:
        raise InputError.at("thin must lie in (0, 1]", column="thin", found=thin, expected="(0, 1]")
    if thin == 1.0:
        return snp_z
    n = len(snp_z)
    k = int(np.floor(n * float(thin) + 0.5))
    keep = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
    return snp_z.iloc[keep].reset_index(drop=True)
