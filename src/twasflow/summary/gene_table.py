"""The gene-level answer of a trait: one row per (locus, gene) with a gene–tissue pair that a method put in a
credible set or called causal, or that univariable S-PrediXcan found significant.

Per row: the gene (symbol, id), the tissues and QTL types of its pairs, per method the call (``causal`` /
``credible set`` / ``—``), the largest PIP of its pairs and their credible sets, CS-Pratt for the methods that
report it (TGVIS; not applicable to cTWAS and TGFM: the column is absent for them), the best S-PrediXcan pair
(z, p, tissue), the largest coloc PP.H4 over methods, silver-standard / drug-target flags (None = no list),
the members of its pairs' collinear groups, and, when the gene-based tests exist
(``results/gene_tests/{trait}.genes.parquet``), their omnibus and S-MultiXcan results.

Pure functions on the result tables (SPEC ``variables``, ``prescreen``, ``coloc``); no I/O except
:func:`read_gene_tests`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .genes import gene_key

GENE_TEST_COLUMNS = ["gene_id", "n_tests", "top_class", "min_p", "omnibus_p", "locus_rank", "smultixcan_z",
                     "smultixcan_p"]


def read_gene_tests(path: str | Path | None) -> pd.DataFrame | None:
    """The gene-based test table (``gene_id, gene_name, n_tests, top_class, min_p, omnibus_p, smultixcan_z,
    smultixcan_p``) or None when the path is not given or the file does not exist (the stage is optional)."""
    if not path or not Path(path).is_file():
        return None
    t = pd.read_parquet(path)
    keep = [c for c in GENE_TEST_COLUMNS if c in t.columns]
    if "gene_id" not in keep:
        return None
    t = t[keep].copy()
    t["_key"] = [gene_key(g) for g in t["gene_id"].astype(str)]
    return t.drop(columns="gene_id").drop_duplicates("_key")


def _joined(values: Sequence[object]) -> str:
    return "; ".join(dict.fromkeys(str(v) for v in values if v is not None and str(v) not in ("", "nan", "None")))


def pratt_methods(variables: pd.DataFrame) -> list[str]:
    """Methods that report CS-Pratt (any finite ``cs_pratt``)."""
    if not len(variables):
        return []
    f = np.isfinite(pd.to_numeric(variables["cs_pratt"], errors="coerce").to_numpy(np.float64))
    return sorted(set(variables.loc[f, "method"].astype(str)))


def gene_table(variables: pd.DataFrame, methods: Sequence[str], prescreen: pd.DataFrame | None = None,
               coloc: pd.DataFrame | None = None, *, twas_p_max: float, gene_names: dict[str, str] | None = None,
               silver: frozenset[str] | None = None, drugs: frozenset[str] | None = None,
               gene_tests: pd.DataFrame | None = None) -> pd.DataFrame:
    """Gene-level table of one trait (see the module docstring).

    Parameters
    ----------
    variables : SPEC ``variables`` of every method at every locus of the trait (all variables, not only causal).
    methods : the run's methods, in column order.
    prescreen : SPEC prescreen rows (``locus_id, pair_id, twas_z, twas_p``) or None.
    coloc : SPEC coloc rows (``method, locus_id, pair_id, PP.H4``) or None.
    twas_p_max : S-PrediXcan significance threshold.
    gene_names : gene key -> symbol for genes whose result rows carry no name.
    silver, drugs : gene keys on the silver-standard / drug-target list, or None when no list applies.
    gene_tests : :func:`read_gene_tests` output or None.

    Returns
    -------
    One row per (locus_id, gene_key), sorted by decreasing best PIP over methods then S-PrediXcan p:
    ``locus_id, gene, gene_id, pairs`` (``tissue (QTL type)`` of the gene's pairs in a set or causal in any
    method, else all its pairs), per method ``{m}_call, {m}_pip, {m}_cs``, ``{m}_cs_pratt`` for
    :func:`pratt_methods`, ``twas_z, twas_p, twas_tissue, coloc_pp_h4, silver, drug_target, collinear_with``,
    the gene-test columns when given, and ``best_pip`` (sort key).
    """
    pairs = variables.loc[variables["type"] == "pair"].copy() if len(variables) else pd.DataFrame(
        columns=["method", "locus_id", "variable_id", "gene_id", "gene_name", "tissue", "qtl_type", "pip", "cs",
                 "cs_pratt", "causal", "collinear_group"])
    pairs["_key"] = [gene_key(g) if isinstance(g, str) and g else gene_key(n) if isinstance(n, str) else ""
                     for g, n in zip(pairs["gene_id"], pairs["gene_name"])]
    pairs["cs"] = pd.to_numeric(pairs["cs"], errors="coerce")
    pairs["_hit"] = pairs["causal"].astype(bool) | pairs["cs"].notna()
    pre = None
    if prescreen is not None and len(prescreen):
        pre = prescreen[["locus_id", "pair_id", "twas_z", "twas_p"]].drop_duplicates(["locus_id", "pair_id"])
        meta = pairs.drop_duplicates(["locus_id", "variable_id"]).set_index(["locus_id", "variable_id"])
        key = list(zip(pre["locus_id"], pre["pair_id"]))
        pre = pre.assign(_key=[meta["_key"].get(k, "") for k in key], tissue=[meta["tissue"].get(k) for k in key],
                         qtl_type=[meta["qtl_type"].get(k) for k in key])
    sig_keys: set[tuple[str, str]] = set()
    if pre is not None:
        s = pre[pre["twas_p"].astype(np.float64) < twas_p_max]
        sig_keys = set(zip(s["locus_id"], s["_key"]))
    hit_keys = set(zip(pairs.loc[pairs["_hit"], "locus_id"], pairs.loc[pairs["_hit"], "_key"]))
    keys = sorted((hit_keys | sig_keys) - {(lid, "") for lid in pairs["locus_id"]})
    pratt_m = [m for m in methods if m in pratt_methods(variables)]
    co = None
    if coloc is not None and len(coloc):
        co = coloc[["method", "locus_id", "pair_id", "PP.H4"]]
    rows = []
    by_gene = {k: t for k, t in pairs.groupby(["locus_id", "_key"], sort=False)}
    for lid, gk in keys:
        t = by_gene.get((lid, gk), pairs.iloc[:0])
        hit = t[t["_hit"]]
        shown = hit if len(hit) else t
        name = next((n for n in t["gene_name"] if isinstance(n, str) and n), None) or (gene_names or {}).get(gk)
        gid = next((g for g in t["gene_id"] if isinstance(g, str) and g), gk)
        r: dict[str, object] = {"locus_id": lid, "gene": name or gid, "gene_id": gene_key(gid),
                                "pairs": _joined(f"{a} ({b})" for a, b in
                                                 sorted(set(zip(shown["tissue"].astype(str),
                                                                shown["qtl_type"].astype(str)))))}
        best = np.nan
        for m in methods:
            tm = t[t["method"] == m]
            if not len(tm):
                r[f"{m}_call"], r[f"{m}_pip"], r[f"{m}_cs"] = "not fitted", np.nan, ""
                if m in pratt_m:
                    r[f"{m}_cs_pratt"] = np.nan
                continue
            pip = float(np.nanmax(tm["pip"].to_numpy(np.float64))) if tm["pip"].notna().any() else np.nan
            call = "causal" if tm["causal"].astype(bool).any() else ("credible set" if tm["cs"].notna().any() else "—")
            r[f"{m}_call"] = call
            r[f"{m}_pip"] = pip
            r[f"{m}_cs"] = ", ".join(f"CS{int(c)}" for c in sorted(set(tm["cs"].dropna())))
            if m in pratt_m:
                cp = pd.to_numeric(tm.loc[tm["cs"].notna(), "cs_pratt"], errors="coerce").to_numpy(np.float64)
                r[f"{m}_cs_pratt"] = float(np.nanmax(cp)) if np.isfinite(cp).any() else np.nan
            best = np.nanmax([best, pip]) if np.isfinite(pip) else best
        r["twas_z"] = r["twas_p"] = np.nan
        r["twas_tissue"] = ""
        if pre is not None:
            pp = pre[(pre["locus_id"] == lid) & (pre["_key"] == gk)]
            if len(pp) and pp["twas_p"].notna().any():
                j = pp["twas_p"].astype(np.float64).idxmin()
                r["twas_z"], r["twas_p"] = float(pp.at[j, "twas_z"]), float(pp.at[j, "twas_p"])
                r["twas_tissue"] = f"{pp.at[j, 'tissue']} ({pp.at[j, 'qtl_type']})"
        r["coloc_pp_h4"] = np.nan
        if co is not None:
            c = co[(co["locus_id"] == lid) & co["pair_id"].isin(set(t["variable_id"]))]["PP.H4"].to_numpy(np.float64)
            r["coloc_pp_h4"] = float(np.nanmax(c)) if np.isfinite(c).any() else np.nan
        gkeys = {gk, gene_key(name)} if name else {gk}
        r["silver"] = None if silver is None else bool(gkeys & silver)
        r["drug_target"] = None if drugs is None else bool(gkeys & drugs)
        groups = set(hit["collinear_group"].dropna().astype(str)) if "collinear_group" in hit.columns else set()
        mates = variables.loc[(variables["locus_id"] == lid) & variables["collinear_group"].astype(str).isin(groups)
                              & ~variables["variable_id"].isin(set(t["variable_id"]))] if groups else variables.iloc[:0]
        r["collinear_with"] = _joined(sorted(set(mates["variable_id"].astype(str))))
        if gene_tests is not None:
            gt = gene_tests.set_index("_key")
            for c in gt.columns:
                r[c] = gt[c].get(gk, np.nan)
        r["best_pip"] = best
        rows.append(r)
    out = pd.DataFrame(rows)
    if not len(out):
        return out
    out = out.sort_values(["best_pip", "twas_p", "locus_id", "gene"], ascending=[False, True, True, True],
                          na_position="last", kind="mergesort")
    return out.reset_index(drop=True)
