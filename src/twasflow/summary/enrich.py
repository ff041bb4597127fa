"""Enrichment of the identified causal genes (TGVIS paper, "Enrichment of identified causal genes in lipids
silver gene list and druggable gene database"; cTWAS paper's silver-standard precision) and the
across-trait comparisons (paired t-test of methods, Ward clustering of the trait × tissue map).

Silver-standard precision, per method: every causal credible set with at least one pair is checked once —
*silver* if any of its genes is on the silver-standard list, else *nearby* if any of its genes lies within
1 Mb of a silver gene (:func:`twasflow.summary.genes.nearby_genes`), else *other* (not counted).
precision = silver / (silver + nearby).

Drug targets, per method: ``n_genes`` distinct causal genes, ``n_drug_genes`` of them on the drug-target
list, ``ratio`` = n_drug_genes / n_genes; also the number of causal sets with at least one drug-target gene
(each set counted once). Methods are compared across traits by a paired t-test on the ratios.

Pure functions on tables; gene keys as in :mod:`twasflow.summary.genes`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sst
from scipy.cluster import hierarchy

from ..tables_schema import table
from .genes import on_list

# column lists of the tables these functions return (the summary writer puts ``trait`` first)
SILVER_SETS_COLUMNS = table("summary_silver_sets").names[1:]
SILVER_COLUMNS = table("summary_silver").names[1:]
DRUG_COLUMNS = table("summary_drug_targets").names[1:]
TTEST_COLUMNS = table("summary_across_drug_ttest").names


def _pair_genes(cv: pd.DataFrame) -> pd.DataFrame:
    p = cv.loc[cv["type"] == "pair"]
    if "keys" not in p.columns:
        raise ValueError("causal variables need a 'keys' column (twasflow.summary.genes.annotate)")
    return p


def _display_name(p: pd.DataFrame) -> pd.Series:
    """Gene name for tables: the result's name, else the annotation's symbol, else the id."""
    name = p["gene_name"].where(p["gene_name"].notna() & (p["gene_name"] != ""), None)
    if "symbol" in p.columns:
        name = name.fillna(p["symbol"].where(p["symbol"].notna() & (p["symbol"] != ""), None))
    return name.fillna(p["gene_id"]).astype(str)


def silver_classes(cv: pd.DataFrame, silver: frozenset[str], nearby: frozenset[str]) -> pd.DataFrame:
    """Class of every causal credible set with pairs: ``method, locus_id, set_id, cls`` (silver | nearby |
    other), ``silver_genes`` and ``nearby_genes`` (``;``-joined names of the set's genes in each class)."""
    p = _pair_genes(cv).copy()
    p["_silver"] = on_list(p["keys"], silver)
    p["_nearby"] = on_list(p["keys"], nearby) & ~p["_silver"]
    p["_name"] = _display_name(p)
    rows = []
    for (m, lid, sid), t in p.groupby(["method", "locus_id", "set_id"], sort=True):
        sg = sorted(set(t.loc[t["_silver"], "_name"]))
        ng = sorted(set(t.loc[t["_nearby"], "_name"]))
        cls = "silver" if sg else ("nearby" if ng else "other")
        rows.append({"method": m, "locus_id": lid, "set_id": sid, "cls": cls, "silver_genes": ";".join(sg),
                     "nearby_genes": ";".join(ng)})
    return pd.DataFrame(rows, columns=SILVER_SETS_COLUMNS)


def silver_precision(classes: pd.DataFrame, methods: list[str] | None = None) -> pd.DataFrame:
    """``method, n_sets, n_silver, n_nearby, n_other, precision`` (NaN when silver + nearby = 0)."""
    names = sorted(set(methods or []) | set(classes["method"]))
    rows = []
    for m in names:
        c = classes.loc[classes["method"] == m, "cls"]
        ns, nn = int((c == "silver").sum()), int((c == "nearby").sum())
        rows.append({"method": m, "n_sets": int(c.size), "n_silver": ns, "n_nearby": nn,
                     "n_other": int((c == "other").sum()), "precision": ns / (ns + nn) if ns + nn else np.nan})
    return pd.DataFrame(rows, columns=SILVER_COLUMNS)


def gene_level_precision(cv: pd.DataFrame, silver: frozenset[str], nearby: frozenset[str],
                         methods: list[str] | None = None) -> pd.DataFrame:
    """cTWAS-paper variant: distinct causal genes among silver ∪ nearby; precision = silver / that number.

    Returns ``method, n_genes, n_silver_genes, n_nearby_genes, precision``.
    """
    p = _pair_genes(cv)
    names = sorted(set(methods or []) | set(p["method"]))
    rows = []
    for m in names:
        t = p.loc[p["method"] == m]
        genes: dict[frozenset[str], bool] = {}
        for k in t["keys"]:
            if k & silver:
                genes[k] = True
            elif k & nearby:
                genes.setdefault(k, False)
        ns = sum(genes.values())
        rows.append({"method": m, "n_genes": len(genes), "n_silver_genes": ns, "n_nearby_genes": len(genes) - ns,
                     "precision": ns / len(genes) if genes else np.nan})
    return pd.DataFrame(rows, columns=["method", "n_genes", "n_silver_genes", "n_nearby_genes", "precision"])


def drug_targets(cv: pd.DataFrame, drug: frozenset[str], methods: list[str] | None = None) -> pd.DataFrame:
    """``method, n_genes, n_drug_genes, ratio, n_sets, n_sets_drug, drug_genes`` (see module docstring).

    A gene is one distinct key set (its id, name and symbol), so a gene found in several tissues or sets
    counts once.
    """
    p = _pair_genes(cv).copy()
    p["_drug"] = on_list(p["keys"], drug)
    p["_name"] = _display_name(p)
    names = sorted(set(methods or []) | set(p["method"]))
    rows = []
    for m in names:
        t = p.loc[p["method"] == m]
        genes = set(t["keys"])
        dg = {k for k in genes if k & drug}
        n_sets = int(t["set_id"].nunique())
        n_sets_drug = int(t.loc[t["_drug"], "set_id"].nunique())
        rows.append({"method": m, "n_genes": len(genes), "n_drug_genes": len(dg),
                     "ratio": len(dg) / len(genes) if genes else np.nan, "n_sets": n_sets, "n_sets_drug": n_sets_drug,
                     "drug_genes": ";".join(sorted(set(t.loc[t["_drug"], "_name"])))})
    return pd.DataFrame(rows, columns=DRUG_COLUMNS)


def paired_t(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int]:
    """Two-sided paired t-test of mean(a - b) = 0 over the pairs where both are finite.

    Returns ``(t, p, n)``; t and p are NaN with fewer than 2 pairs or when every difference is equal.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    n = int(d.size)
    if n < 2:
        return np.nan, np.nan, n
    sd = float(np.std(d, ddof=1))
    if not sd > 0:
        return np.nan, np.nan, n
    t = float(d.mean() / (sd / np.sqrt(n)))
    return t, float(2.0 * sst.t.sf(abs(t), df=n - 1)), n


def compare_methods(per_trait: pd.DataFrame, value: str = "ratio") -> pd.DataFrame:
    """Paired t-tests of ``value`` between every two methods across traits.

    ``per_trait``: ``trait, method, <value>``. Returns ``method_a, method_b, n_traits, mean_a, mean_b,
    mean_diff, t, p`` (one row per unordered pair, a before b alphabetically; empty with one method).
    """
    w = per_trait.pivot_table(index="trait", columns="method", values=value, aggfunc="first")
    ms = sorted(w.columns)
    rows = []
    for i, a in enumerate(ms):
        for b in ms[i + 1:]:
            t, p, n = paired_t(w[a].to_numpy(), w[b].to_numpy())
            ok = np.isfinite(w[a].to_numpy(np.float64)) & np.isfinite(w[b].to_numpy(np.float64))
            ma = float(w[a].to_numpy(np.float64)[ok].mean()) if ok.any() else np.nan
            mb = float(w[b].to_numpy(np.float64)[ok].mean()) if ok.any() else np.nan
            rows.append({"method_a": a, "method_b": b, "n_traits": n, "mean_a": ma, "mean_b": mb,
                         "mean_diff": ma - mb, "t": t, "p": p})
    return pd.DataFrame(rows, columns=TTEST_COLUMNS)


def ward_order(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Leaf order of the rows of ``x`` (n × k) under Ward hierarchical clustering on Euclidean distances
    (R's ``hclust(dist(x), "ward.D2")``). Returns ``(order, linkage)``; linkage is None for n < 2."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 2:
        return np.arange(n), None
    z = hierarchy.linkage(x, method="ward", metric="euclidean")
    return hierarchy.leaves_list(z), z
