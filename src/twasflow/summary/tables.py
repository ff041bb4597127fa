"""Per-trait tables of causal gene–tissue pairs and direct variants, one row per variable and one per
credible set, with the coloc and univariable-TWAS evidence of each pair.

Inputs are the docs/outputs.md tables (``variables``, ``coloc``, ``prescreen``) of one trait, every method stacked.
A variable is *causal* by its method's own rule (the ``causal`` column). Causal variables are grouped into
credible sets by ``(method, locus_id, cs)``; a causal variable outside every credible set (possible with a
PIP rule) forms a set of its own. Pure functions, no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..methods.result import group_keys
from ..tables_schema import table

#: Univariable S-PrediXcan significance used by the TGVIS paper (0.05 / 20,000 genes, tissues not counted).
TWAS_P_MAX = 0.05 / 20_000

VARIABLE_OUT = table("summary_causal_variables").names
SET_OUT = table("summary_causal_sets").names


def _str(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), None)


def set_ids(t: pd.DataFrame) -> pd.Series:
    """``{locus_id}:cs{cs}`` per row, or ``{locus_id}:{variable_id}`` outside credible sets."""
    cs = pd.to_numeric(t["cs"], errors="coerce")
    lab = np.where(cs.notna(), "cs" + cs.fillna(0).astype(np.int64).astype(str), t["variable_id"].astype(str))
    return t["locus_id"].astype(str) + ":" + pd.Series(lab, index=t.index)


def causal_variables(variables: pd.DataFrame, coloc: pd.DataFrame | None = None,
                     prescreen: pd.DataFrame | None = None, *, twas_p_max: float = TWAS_P_MAX,
                     gene_names: dict[str, str] | None = None) -> pd.DataFrame:
    """Causal variables of every method with coloc PP.H4 and S-PrediXcan z/p for pairs.

    Parameters
    ----------
    variables : docs/outputs.md ``variables`` rows (any number of methods and loci of one trait).
    coloc : docs/outputs.md coloc rows (``method, locus_id, pair_id, PP.H4, colocalized``), or None.
    prescreen : docs/outputs.md prescreen rows (``locus_id, pair_id, twas_z, twas_p``), or None.
    twas_p_max : a pair is TWAS-significant when ``twas_p < twas_p_max``.
    gene_names : gene_id -> gene name, to fill blank ``gene_name`` values.

    Returns
    -------
    :data:`VARIABLE_OUT` columns, sorted by method, locus, set, type (pairs first) and decreasing PIP.
    """
    if variables is None or not len(variables):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in VARIABLE_OUT})
    v = variables.loc[variables["causal"].astype(bool)].copy()
    for c in ("trait", "method", "locus_id", "type", "variable_id", "pair_id", "gene_id", "gene_name", "tissue",
              "qtl_type", "variant_id"):
        v[c] = _str(v[c]) if c in v.columns else None
    v["collinear_group"] = _str(v["collinear_group"]) if "collinear_group" in v.columns else None
    if gene_names:
        blank = v["gene_name"].isna() | (v["gene_name"] == "")
        v.loc[blank, "gene_name"] = v.loc[blank, "gene_id"].map(gene_names)
    v["cs"] = pd.to_numeric(v["cs"], errors="coerce").astype("Int64")
    v["set_id"] = set_ids(v)
    v["coloc_pp_h4"] = np.nan
    v["colocalized"] = pd.array([pd.NA] * len(v), dtype="boolean")
    if coloc is not None and len(coloc):
        c = coloc[["method", "locus_id", "pair_id", "PP.H4", "colocalized"]].copy()
        for k in ("method", "locus_id", "pair_id"):
            c[k] = _str(c[k])
        # one test per pair per locus and method; keep the strongest if a pair appears in two sets
        c = c.sort_values("PP.H4", ascending=False, na_position="last").drop_duplicates(["method", "locus_id", "pair_id"])
        m = v[["method", "locus_id", "pair_id"]].merge(c, on=["method", "locus_id", "pair_id"], how="left")
        v["coloc_pp_h4"] = m["PP.H4"].to_numpy(np.float64)
        v["colocalized"] = pd.array(m["colocalized"].to_numpy(object), dtype="boolean")
    v["twas_z"] = np.nan
    v["twas_p"] = np.nan
    if prescreen is not None and len(prescreen):
        p = prescreen[["locus_id", "pair_id", "twas_z", "twas_p"]].copy()
        for k in ("locus_id", "pair_id"):
            p[k] = _str(p[k])
        p = p.drop_duplicates(["locus_id", "pair_id"])
        m = v[["locus_id", "pair_id"]].merge(p, on=["locus_id", "pair_id"], how="left")
        v["twas_z"] = m["twas_z"].to_numpy(np.float64)
        v["twas_p"] = m["twas_p"].to_numpy(np.float64)
    is_pair = (v["type"] == "pair").to_numpy()
    sig = np.where(np.isnan(v["twas_p"].to_numpy(np.float64)), np.nan, v["twas_p"].to_numpy(np.float64) < twas_p_max)
    v["twas_significant"] = pd.array([bool(x) if (ip and not np.isnan(x)) else pd.NA for x, ip in zip(sig, is_pair)],
                                     dtype="boolean")
    v.loc[~is_pair, ["coloc_pp_h4", "twas_z", "twas_p"]] = np.nan
    v["_pair_first"] = ~is_pair
    v = v.sort_values(["method", "locus_id", "set_id", "_pair_first", "pip", "variable_id"],
                      ascending=[True, True, True, True, False, True], kind="mergesort")
    return v[VARIABLE_OUT].reset_index(drop=True)


def causal_sets(cv: pd.DataFrame) -> pd.DataFrame:
    """One row per causal credible set from :func:`causal_variables` output.

    ``n_pairs_colocalized`` counts pairs with ``colocalized`` true (untested pairs count as not colocalized);
    ``coloc_any``: at least one pair colocalized; ``coloc_majority``: more than half of the set's pairs
    colocalized (both false for sets without pairs). ``genes``/``tissues``: sorted, ``;``-joined.
    ``n_groups``: distinguishable groups among the set's causal members (members sharing a
    ``collinear_group`` count once; as many as members when the column is absent).
    """
    if not len(cv):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SET_OUT})
    t = cv.copy()
    t["_pair"] = t["type"] == "pair"
    t["_coloc"] = t["colocalized"].fillna(False).astype(bool) & t["_pair"]
    t["_gene"] = t["gene_name"].where(t["gene_name"].notna() & (t["gene_name"] != ""), t["gene_id"])
    t["_group"] = group_keys(t)
    keys = ["trait", "method", "locus_id", "set_id"]
    g = t.groupby(keys, sort=True, dropna=False)

    def joined(s: pd.Series) -> str:
        return ";".join(sorted({str(x) for x in s.dropna()}))

    out = g.agg(cs=("cs", "first"), n_pairs=("_pair", "sum"), n_variants=("_pair", lambda s: int((~s).sum())),
                cs_pip=("cs_pip", "first"), cs_pratt=("cs_pratt", "first"), n_pairs_colocalized=("_coloc", "sum"),
                genes=("_gene", joined), tissues=("tissue", joined), n_groups=("_group", "nunique")).reset_index()
    top = t.sort_values("pip", ascending=False, kind="mergesort").drop_duplicates(keys)[keys + ["variable_id"]]
    out = out.merge(top.rename(columns={"variable_id": "top_variable"}), on=keys, how="left")
    out["n_pairs"] = out["n_pairs"].astype(np.int64)
    out["n_variants"] = out["n_variants"].astype(np.int64)
    out["n_pairs_colocalized"] = out["n_pairs_colocalized"].astype(np.int64)
    out["n_groups"] = out["n_groups"].astype(np.int64)
    out["coloc_any"] = out["n_pairs_colocalized"] >= 1
    out["coloc_majority"] = (out["n_pairs"] > 0) & (out["n_pairs_colocalized"] > 0.5 * out["n_pairs"])
    return out[SET_OUT]
