"""Per-trait summaries of the causal variables, following the TGVIS paper's evaluation:

* :func:`tissue_counts` — the share of each tissue among causal pairs, a credible set with k causal pairs
  contributing 1/k per pair ("Mapping major trait relevant tissues");
* :func:`coloc_proportions` — credible sets with at least one / more than half of their pairs colocalized
  ("Colocalization of credible sets");
* :func:`missed_by_twas` — causal pairs not significant in univariable S-PrediXcan ("Searching causal
  gene-tissue pairs missed by univariable TWAS");
* :func:`pratt_split` — the Pratt contributions of pairs, direct variants and infinitesimal effects per
  locus, and their distribution across loci;
* :func:`method_agreement` — causal pairs shared between methods (and univariable TWAS).

Inputs are the tables of :mod:`twasflow.summary.tables` (and the docs/outputs.md ``loci`` table). Pure functions.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..tables_schema import table

PRATT_COMPONENTS = ("pairs", "variants", "infinitesimal")
# column lists of the tables these functions return (the summary writer puts ``trait`` first where it is missing)
TISSUE_COLUMNS = table("summary_tissues").names[1:]
MISSED_COLUMNS = table("summary_missed_by_twas").names[1:]
PRATT_LOCI_COLUMNS = table("summary_pratt_loci").names
PRATT_COLUMNS = table("summary_pratt").names[1:]
AGREEMENT_COLUMNS = table("summary_agreement").names[1:]


def tissue_counts(cv: pd.DataFrame) -> pd.DataFrame:
    """Fractional tissue counts per method.

    Parameters
    ----------
    cv : causal variables (``method, set_id, type, tissue``).

    Returns
    -------
    ``method, tissue, count, share, n_sets`` sorted by method and decreasing count: ``count`` = Σ over
    credible sets of (pairs of the tissue in the set / causal pairs in the set); ``share`` = count / number
    of sets with pairs (so shares of a method sum to 1); ``n_sets`` = that number.
    """
    cols = TISSUE_COLUMNS
    p = cv.loc[cv["type"] == "pair", ["method", "set_id", "tissue"]]
    if not len(p):
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("method", "tissue") else float) for c in cols})
    w = 1.0 / p.groupby(["method", "set_id"])["tissue"].transform("size").to_numpy(np.float64)
    t = p.assign(w=w).groupby(["method", "tissue"], sort=True)["w"].sum().rename("count").reset_index()
    n_sets = p.groupby("method")["set_id"].nunique()
    t["n_sets"] = t["method"].map(n_sets).astype(np.int64)
    t["share"] = t["count"] / t["n_sets"]
    t = t.sort_values(["method", "count", "tissue"], ascending=[True, False, True], kind="mergesort")
    return t[cols].reset_index(drop=True)


def coloc_proportions(sets: pd.DataFrame, methods: list[str] | None = None) -> pd.DataFrame:
    """Colocalized credible sets per method, over causal sets with at least one pair.

    Returns ``method, n_sets, n_coloc_any, n_coloc_majority, prop_coloc_any, prop_coloc_majority``
    (proportions NaN when a method has no such set). ``methods`` adds zero rows for methods without sets.
    """
    s = sets.loc[sets["n_pairs"] > 0]
    g = s.groupby("method").agg(n_sets=("set_id", "size"), n_coloc_any=("coloc_any", "sum"),
                                n_coloc_majority=("coloc_majority", "sum"))
    if methods is not None:
        g = g.reindex(sorted(set(methods) | set(g.index)), fill_value=0)
    g = g.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        g["prop_coloc_any"] = g["n_coloc_any"] / g["n_sets"].where(g["n_sets"] > 0)
        g["prop_coloc_majority"] = g["n_coloc_majority"] / g["n_sets"].where(g["n_sets"] > 0)
    return g.reset_index().rename(columns={"index": "method"})


def missed_by_twas(cv: pd.DataFrame, n_loci: Mapping[str, int], *, twas_p_max: float) -> pd.DataFrame:
    """Causal pairs not significant in S-PrediXcan (``twas_p >= twas_p_max``; a pair without a TWAS p is
    counted in ``n_no_twas`` and not as missed).

    ``n_loci``: method -> number of loci fitted (status ok), for the per-locus averages.
    Returns ``method, n_loci, n_causal_pairs, n_twas_significant, n_missed, n_no_twas, prop_missed,
    pairs_per_locus, missed_per_locus``.
    """
    p = cv.loc[cv["type"] == "pair"]
    methods = sorted(set(n_loci) | set(p["method"]))
    rows = []
    for m in methods:
        q = p.loc[p["method"] == m, "twas_p"].to_numpy(np.float64)
        has = ~np.isnan(q)
        n_sig = int((q[has] < twas_p_max).sum())
        n_missed = int((q[has] >= twas_p_max).sum())
        nl = int(n_loci.get(m, 0))
        rows.append({"method": m, "n_loci": nl, "n_causal_pairs": int(q.size), "n_twas_significant": n_sig,
                     "n_missed": n_missed, "n_no_twas": int((~has).sum()),
                     "prop_missed": n_missed / (n_sig + n_missed) if n_sig + n_missed else np.nan,
                     "pairs_per_locus": q.size / nl if nl else np.nan,
                     "missed_per_locus": n_missed / nl if nl else np.nan})
    return pd.DataFrame(rows, columns=MISSED_COLUMNS)


def pratt_per_locus(loci: pd.DataFrame, variables: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pratt contribution of pairs, variants and infinitesimal effects per fitted locus (long format).

    Uses the ``loci`` table's ``pratt_pairs, pratt_variants, pratt_inf``; where a method leaves them NaN,
    the pair and variant parts are the sums of the ``pratt`` column of its ``variables`` (infinitesimal
    stays NaN). Returns ``trait, method, locus_id, component, pratt`` for loci with status ``ok``.
    """
    ok = loci.loc[loci["status"] == "ok", ["trait", "method", "locus_id", "pratt_pairs", "pratt_variants",
                                           "pratt_inf"]].copy()
    if variables is not None and len(variables) and "pratt" in variables.columns:
        sums = (variables.assign(_p=variables["pratt"].astype(np.float64))
                .pivot_table(index=["method", "locus_id"], columns="type", values="_p", aggfunc="sum")
                .reindex(columns=["pair", "variant"]))
        key = pd.MultiIndex.from_frame(ok[["method", "locus_id"]])
        fill = sums.reindex(key)
        for col, typ in (("pratt_pairs", "pair"), ("pratt_variants", "variant")):
            ok[col] = ok[col].astype(np.float64).fillna(pd.Series(fill[typ].to_numpy(), index=ok.index))
    long = ok.melt(id_vars=["trait", "method", "locus_id"], value_vars=["pratt_pairs", "pratt_variants", "pratt_inf"],
                   var_name="component", value_name="pratt")
    long["component"] = long["component"].map({"pratt_pairs": "pairs", "pratt_variants": "variants",
                                               "pratt_inf": "infinitesimal"})
    long["pratt"] = long["pratt"].astype(np.float64)
    return long.sort_values(["method", "locus_id", "component"], kind="mergesort").reset_index(drop=True)


def pratt_split(per_locus: pd.DataFrame) -> pd.DataFrame:
    """Distribution of each Pratt component across loci, per method.

    Returns ``method, component, n_loci, mean, median, q25, q75, share``: ``share`` = Σ_loci component /
    Σ_loci (pairs + variants + infinitesimal) — how the explained signal splits overall (NaN components are
    left out of both sums). Quantiles: linear interpolation (numpy default).
    """
    rows = []
    for m, t in per_locus.groupby("method", sort=True):
        total = float(np.nansum(t["pratt"].to_numpy(np.float64)))
        for comp in PRATT_COMPONENTS:
            x = t.loc[t["component"] == comp, "pratt"].to_numpy(np.float64)
            x = x[~np.isnan(x)]
            rows.append({"method": m, "component": comp, "n_loci": int(x.size),
                         "mean": float(x.mean()) if x.size else np.nan,
                         "median": float(np.median(x)) if x.size else np.nan,
                         "q25": float(np.quantile(x, 0.25)) if x.size else np.nan,
                         "q75": float(np.quantile(x, 0.75)) if x.size else np.nan,
                         "share": float(x.sum()) / total if total > 0 and x.size else np.nan})
    return pd.DataFrame(rows, columns=PRATT_COLUMNS)


def method_agreement(cv: pd.DataFrame, prescreen: pd.DataFrame | None, *, twas_p_max: float,
                     twas_label: str = "S-PrediXcan") -> pd.DataFrame:
    """Causal pairs shared between methods, univariable TWAS included as one more "method".

    The TWAS pairs are those with ``twas_p < twas_p_max`` in the prescreen table. Returns the long table
    ``method_a, method_b, n_a, n_b, n_shared, jaccard`` over every ordered pair of methods (a == b gives
    each method's own count).
    """
    sel: dict[str, set[tuple[str, str]]] = {}
    p = cv.loc[cv["type"] == "pair"]
    for m, t in p.groupby("method", sort=True):
        sel[str(m)] = set(zip(t["locus_id"].astype(str), t["pair_id"].astype(str)))
    if prescreen is not None:
        q = prescreen.loc[prescreen["twas_p"].astype(np.float64) < twas_p_max]
        sel[twas_label] = set(zip(q["locus_id"].astype(str), q["pair_id"].astype(str)))
    names = list(sel)
    rows = []
    for a in names:
        for b in names:
            inter = len(sel[a] & sel[b])
            union = len(sel[a] | sel[b])
            rows.append({"method_a": a, "method_b": b, "n_a": len(sel[a]), "n_b": len(sel[b]), "n_shared": inter,
                         "jaccard": inter / union if union else np.nan})
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
