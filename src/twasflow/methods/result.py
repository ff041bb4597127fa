"""The fine-mapping result schema shared by every method (docs/outputs.md "Finemap").

A method returns a :class:`FinemapResult`: a per-variable table, a per-credible-set table and the locus
fields. ``result.tables(trait, locus_id)`` turns it into the three docs/outputs.md tables (``variables``, ``sets``,
``loci``) with the exact column order, so methods compare by a join on ``(trait, locus_id, variable_id)``.

Helpers:

* :func:`credible_set_tables` builds the ``cs``, ``cs_pip``, ``cs_pratt`` and ``causal`` columns and the
  sets table from SuSiE credible sets over a joint variable list (pairs + variants);
* :func:`failed_result` / :func:`empty_result` give the record of a locus that failed or had nothing to
  fit (no variables, one ``loci`` row with the status and reason).

Numerical module: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..tables_schema import table

# the three tables' columns (defined in twasflow.tables_schema). The loci table has no wall time: result files
# must be byte-identical on rerun (timings go to the rule log, chunks.run_loci)
VARIABLE_COLUMNS = table("finemap_variables").names
SET_COLUMNS = table("finemap_sets").names
LOCI_COLUMNS = table("finemap_loci").names
# per-variable columns a method fills (the rest of VARIABLE_COLUMNS comes from tables())
METHOD_VARIABLE_COLUMNS = ["name", "type", "pip", "cs", "cs_pip", "cs_pratt", "estimate", "se", "pratt", "causal"]
PAIR_META = ["pair_id", "gene_id", "gene_name", "tissue", "qtl_type"]
STATUS_OK, STATUS_EMPTY, STATUS_FAILED = "ok", "empty", "failed"
SET_EXTRAS = ["n_groups"]  # written after SET_COLUMNS by every method
# |r| between two fitted columns at or above which the data cannot tell them apart (collinear groups)
COLLINEAR_R = 0.99

_STRING_COLS = ["trait", "locus_id", "method", "variable_id", "type", *PAIR_META, "variant_id"]
_LOCUS_DEFAULTS: dict[str, Any] = {
    "status": STATUS_OK, "reason": "", "M": 0, "P": 0, "L": 0, "bic": math.nan, "sigma2_alpha": math.nan,
    "sigma2_inf": math.nan, "inf_test_p": math.nan, "pratt_pairs": math.nan, "pratt_variants": math.nan,
    "pratt_inf": math.nan, "niter": 0, "converged": False, "ld_s": math.nan, "ld_n_flagged": 0, "ld_action": "off",
    "ld_flagged": "", "log": "",
}


@dataclass
class FinemapResult:
    """One method's result at one locus.

    Attributes
    ----------
    method : method name (``tgvis``, ``ctwas``, ``tgfm``).
    variables : one row per variable (pairs first, then variants) with :data:`METHOD_VARIABLE_COLUMNS`
        (``name``: the pair_id or variant_id; ``type``: ``pair`` | ``variant``; ``cs``: nullable Int64,
        1-based set number, null outside credible sets), optionally the pair metadata columns
        :data:`PAIR_META` and any extra columns (kept at the end of the table).
    sets : one row per credible set with the method columns of :data:`SET_COLUMNS`
        (``cs .. causal`` without trait/locus_id/method).
    locus : the ``loci`` fields (status, reason, M, P, L, bic, ...); missing keys take their defaults.
    """

    method: str
    variables: pd.DataFrame
    sets: pd.DataFrame
    locus: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def tables(self, trait: str, locus_id: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The docs/outputs.md ``variables``, ``sets`` and ``loci`` tables (exact column order, extras at the end)."""
        v = self.variables.copy()
        n = len(v)
        out = pd.DataFrame({"trait": [trait] * n, "locus_id": [locus_id] * n, "method": [self.method] * n})
        out["variable_id"] = v["name"].astype(object).to_numpy() if n else np.array([], dtype=object)
        out["type"] = v["type"].to_numpy() if n else np.array([], dtype=object)
        is_pair = out["type"].to_numpy() == "pair"
        for col in PAIR_META:
            if col in v.columns:
                vals = v[col].astype(object).to_numpy()
            elif col == "pair_id":
                vals = out["variable_id"].to_numpy()
            else:
                vals = np.full(n, None, dtype=object)
            out[col] = np.where(is_pair, vals, None)
        out["variant_id"] = np.where(is_pair, None, out["variable_id"].to_numpy())
        for col in ["pip", "cs", "cs_pip", "cs_pratt", "estimate", "se", "pratt", "causal"]:
            out[col] = v[col].to_numpy() if n else np.array([], dtype=float)
        out["cs"] = pd.array(out["cs"], dtype="Int64")
        out["causal"] = out["causal"].astype(bool)
        for col in ["pip", "cs_pip", "cs_pratt", "estimate", "se", "pratt"]:
            out[col] = out[col].astype(np.float64)
        extras = [c for c in v.columns if c not in METHOD_VARIABLE_COLUMNS and c not in PAIR_META]
        for c in extras:
            out[c] = v[c].to_numpy()
        for c in _STRING_COLS:
            out[c] = out[c].astype(object)

        s = self.sets.copy()
        k = len(s)
        sets = pd.DataFrame({"trait": [trait] * k, "locus_id": [locus_id] * k, "method": [self.method] * k})
        for col in SET_COLUMNS[3:]:
            sets[col] = s[col].to_numpy() if k else np.array([], dtype=float)
        sets["cs"] = sets["cs"].astype(np.int64)
        for col in ["size", "n_pairs", "n_variants"]:
            sets[col] = sets[col].astype(np.int64)
        for col in ["coverage", "purity_min", "purity_mean", "cs_pip", "cs_pratt"]:
            sets[col] = sets[col].astype(np.float64)
        sets["causal"] = sets["causal"].astype(bool)
        sets["top_variable"] = sets["top_variable"].astype(object)
        for c in [c for c in s.columns if c not in SET_COLUMNS]:
            sets[c] = s[c].array  # keeps nullable dtypes (n_groups: Int64)

        rec = {**_LOCUS_DEFAULTS, **{k_: v_ for k_, v_ in self.locus.items() if k_ in _LOCUS_DEFAULTS}}
        loci = pd.DataFrame([{"trait": trait, "locus_id": locus_id, "method": self.method, **rec}])[LOCI_COLUMNS]
        for col in ["M", "P", "L", "niter", "ld_n_flagged"]:
            loci[col] = loci[col].astype(np.int64)
        for col in ["bic", "sigma2_alpha", "sigma2_inf", "inf_test_p", "pratt_pairs", "pratt_variants", "pratt_inf",
                    "ld_s"]:
            loci[col] = loci[col].astype(np.float64)
        loci["converged"] = loci["converged"].astype(bool)
        return out, sets, loci


def _empty_variables() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("name", "type", "collinear_group") else np.float64)
                         for c in [*METHOD_VARIABLE_COLUMNS, "collinear_group"]})


def _empty_sets() -> pd.DataFrame:
    t = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in SET_COLUMNS[3:]})
    t["n_groups"] = pd.array([], dtype="Int64")
    return t


def failed_result(method: str, reason: str, *, M: int = 0, P: int = 0, log: str = "",
                  status: str = STATUS_FAILED, seconds: float = math.nan) -> FinemapResult:
    """The record of a locus that failed (``status='failed'``) or had nothing to fit (``'empty'``)."""
    return FinemapResult(method, _empty_variables(), _empty_sets(),
                         {"status": status, "reason": reason, "M": M, "P": P, "log": log, "seconds": seconds})


def empty_result(method: str, reason: str, *, M: int = 0, P: int = 0, log: str = "") -> FinemapResult:
    """``failed_result`` with ``status='empty'`` (no variables: M = 0, or nothing left to fit)."""
    return failed_result(method, reason, M=M, P=P, log=log, status=STATUS_EMPTY)


def credible_set_tables(
    names: Sequence[str],
    types: np.ndarray,
    pip: np.ndarray,
    pratt: np.ndarray,
    sets: Sequence[Any],
    *,
    causal_rule: Callable[[float, float], bool],
    corr: Callable[[np.ndarray], np.ndarray] | None = None,
    collinear_r: float = COLLINEAR_R,
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Credible-set columns of the variables table and the sets table.

    Parameters
    ----------
    names : (p,) variable names (pairs then variants).
    types : (p,) ``"pair"`` / ``"variant"``.
    pip : (p,) posterior inclusion probabilities.
    pratt : (p,) per-variable Pratt index (NaN for methods without one).
    sets : credible sets in reporting order, each with ``variables`` (0-based indices into the p
        variables), ``coverage``, ``purity_min``, ``purity_mean`` (``twasflow.susie.CredibleSet``).
        A variable in several sets is reported with the first (SuSiE's sets rarely overlap).
    causal_rule : ``(cs_pip, cs_pratt) -> bool``, the method's causal call for a set.
    corr : ``idx -> (|idx|, |idx|)`` correlation of the fitted columns (the joint matrix of eq. 8); when
        given, members are grouped into *collinear groups* (see :func:`collinear_groups`).
    collinear_r : |r| at or above which two members are indistinguishable.

    Returns
    -------
    columns : per variable ``cs`` (float, NaN outside; cast to Int64 by :meth:`FinemapResult.tables`),
        ``cs_pip``, ``cs_pratt`` (NaN outside sets), ``causal`` (bool) and ``collinear_group`` (object): the
        name of the highest-PIP member (ties: the smallest name) of the variable's collinear group when that
        group has two or more members — the data cannot tell them apart (identical xQTL weights in several
        tissues, or a pair whose only xQTL is a variant of the set) — else None (always None without ``corr``).
    sets_table : the method columns of :data:`SET_COLUMNS`. ``cs_pip`` is the sum of the members' PIPs
        and ``cs_pratt`` the sum of their Pratt indices (eq. 19); ``top_variable`` the member with the
        largest PIP (ties: the smallest name). Extra column ``n_groups`` (Int64, null without ``corr``): how
        many distinguishable groups the members form (several members in one group: one signal, several labels).
    """
    p = len(names)
    names_arr = np.asarray(names, dtype=object)
    cs = np.full(p, np.nan)
    cs_pip = np.full(p, np.nan)
    cs_pratt = np.full(p, np.nan)
    causal = np.zeros(p, dtype=bool)
    group = np.full(p, None, dtype=object)
    rows = []
    for k, s in enumerate(sets, start=1):
        idx = np.asarray(s.variables, dtype=np.int64)
        free = idx[np.isnan(cs[idx])]
        n_groups = None
        if corr is not None:
            labels = collinear_groups(np.abs(corr(idx)), collinear_r)
            n_groups = int(labels.max()) + 1
            for g in range(n_groups):
                members = idx[labels == g]
                if members.size > 1:
                    group[members[np.isin(members, free)]] = _top_name(members, pip, names_arr)
        sp = float(pip[idx].sum())
        spr = float(np.nansum(pratt[idx])) if np.any(np.isfinite(pratt[idx])) else math.nan
        call = bool(causal_rule(sp, spr))
        cs[free], cs_pip[free], cs_pratt[free], causal[free] = k, sp, spr, call
        t = np.asarray(types)[idx]
        rows.append({"cs": k, "size": int(idx.size), "coverage": float(s.coverage), "purity_min": float(s.purity_min),
                     "purity_mean": float(s.purity_mean), "cs_pip": sp, "cs_pratt": spr,
                     "n_pairs": int(np.sum(t == "pair")), "n_variants": int(np.sum(t == "variant")),
                     "top_variable": _top_name(idx, pip, names_arr), "causal": call, "n_groups": n_groups})
    table = pd.DataFrame(rows, columns=SET_COLUMNS[3:] + SET_EXTRAS) if rows else _empty_sets()
    table["n_groups"] = pd.array(table["n_groups"], dtype="Int64")
    return {"cs": cs, "cs_pip": cs_pip, "cs_pratt": cs_pratt, "causal": causal, "collinear_group": group}, table


def _top_name(idx: np.ndarray, pip: np.ndarray, names: np.ndarray) -> str:
    """The member with the largest PIP; ties (identical columns split PIP equally, up to rounding) go to the
    smallest name, so the label does not depend on the order of the variables."""
    p = pip[idx]
    return str(min(names[idx[p >= p.max() - 1e-9]]))


def group_keys(variables: pd.DataFrame) -> pd.Series:
    """Per row of a ``variables`` table, the key of its collinear group: ``collinear_group`` where set, else the
    row's own ``variable_id`` (a member the data can tell from the others is a group of one; a label is a
    member's id, so it never equals another row's own id). Without the column every row is its own group."""
    own = variables["variable_id"].astype(object)
    if "collinear_group" not in variables.columns:
        return own
    g = variables["collinear_group"]
    return g.where(g.notna(), own).astype(object)


def collinear_groups(abs_corr: np.ndarray, r_min: float = COLLINEAR_R) -> np.ndarray:
    """Group labels (0-based, in order of first member) of variables linked by |r| >= ``r_min``.

    Single linkage (connected components of the graph ``|r| >= r_min``): at the default 0.99 a chain of
    near-copies is one group. ``abs_corr``: (k, k) absolute correlations. Returns (k,) int labels.
    """
    k = abs_corr.shape[0]
    labels = np.full(k, -1, dtype=np.int64)
    linked = abs_corr >= r_min
    nxt = 0
    for i in range(k):  # k = members of one credible set (small); one graph walk per new group
        if labels[i] >= 0:
            continue
        labels[i] = nxt
        stack = [i]
        while stack:
            j = stack.pop()
            new = np.flatnonzero(linked[j] & (labels < 0))
            labels[new] = nxt
            stack.extend(new.tolist())
        nxt += 1
    return labels


TRUTH_COLUMNS = table("summary_truth").names


def compare_to_truth(variables: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Planted truth against causal calls (e.g. the bundled example's ``gwas/{trait}.truth.tsv``).

    Parameters
    ----------
    variables : docs/outputs.md ``variables`` rows of one method (any number of loci and traits).
    truth : ``trait, kind (pair|variant|infinitesimal), pair_id, variant_id`` rows.

    Returns
    -------
    One row per planted pair/variant (``outcome`` ``TP`` when called causal at some locus, else ``FN``;
    ``locus_id`` null when it is in no fitted locus) and one per causal call that is not planted (``FP``),
    with :data:`TRUTH_COLUMNS`. ``collinear_with_planted`` (FP rows; False elsewhere) is True when the false
    call is in the same collinear group (``variables.collinear_group``: |r| >= 0.99 between the fitted
    columns) as a planted variable of that locus: a call the data could not have told from the truth.
    """
    cols = ["trait", "locus_id", "method", "variable_id", "type", "causal", "pip", "cs", "cs_pratt"]
    v = variables[cols].copy()
    v["group"] = variables["collinear_group"].to_numpy() if "collinear_group" in variables.columns else None
    t = truth[truth["kind"].isin(["pair", "variant"])].copy()
    t["variable_id"] = np.where(t["kind"] == "pair", t["pair_id"], t["variant_id"]).astype(str)
    planted = set(zip(t["trait"].astype(str), t["variable_id"]))
    v["planted"] = [(str(a), str(b)) in planted for a, b in zip(v["trait"], v["variable_id"])]
    rows = []
    for tr, vid, kind in zip(t["trait"].astype(str), t["variable_id"], t["kind"]):
        hit = v[(v["trait"] == tr) & (v["variable_id"] == vid)]
        if len(hit):
            best = hit.sort_values(["causal", "pip"], ascending=False).iloc[0]
            rec = best.to_dict()
        else:
            rec = {"trait": tr, "locus_id": None, "method": v["method"].iloc[0] if len(v) else None,
                   "variable_id": vid, "type": kind, "causal": False, "pip": np.nan, "cs": pd.NA,
                   "cs_pratt": np.nan}
        rec["planted"] = True
        rec["outcome"] = "TP" if bool(rec["causal"]) else "FN"
        rows.append(rec)
    grouped = v[v["planted"] & v["group"].notna()]
    planted_groups = set(zip(grouped["trait"], grouped["locus_id"], grouped["group"]))
    fp = v[v["causal"].astype(bool) & ~v["planted"]]
    for _, r in fp.iterrows():
        twin = bool(pd.notna(r["group"])) and (r["trait"], r["locus_id"], r["group"]) in planted_groups
        rows.append({**r.to_dict(), "outcome": "FP", "collinear_with_planted": bool(twin)})
    out = pd.DataFrame(rows, columns=TRUTH_COLUMNS)
    out["collinear_with_planted"] = out["collinear_with_planted"].fillna(False).astype(bool)
    out["cs"] = pd.array(out["cs"], dtype="Int64")
    return out


def bundle_pair_meta(bundle: Any, pair_ids: Sequence[str], trait: str) -> pd.DataFrame:
    """The bundle's pairs table indexed by ``pair_id``; every id of ``pair_ids`` must be in it (else InputError)."""
    from twasflow.errors import InputError

    meta = bundle.pairs.set_index("pair_id") if len(bundle.pairs) else pd.DataFrame()
    missing = [p for p in pair_ids if p not in meta.index]
    if missing:
        raise InputError.at(f"pair not in the bundle of locus {bundle.locus_id} ({trait})", column="pair_id",
                            found=missing[0], expected="a pair_id of the bundle's pairs table")
    return meta


def attach_pair_meta(variables: pd.DataFrame, meta: pd.DataFrame, pair_ids: Sequence[str]) -> None:
    """Fill ``gene_id, gene_name, tissue, qtl_type`` of the first ``len(pair_ids)`` rows (the pairs, in
    ``pair_ids`` order) from ``meta`` and ``pair_id`` of every pair row, in place."""
    P = len(pair_ids)
    for col in ("gene_id", "gene_name", "tissue", "qtl_type"):
        vals = np.full(len(variables), None, dtype=object)
        if P and col in meta.columns:
            vals[:P] = meta.loc[list(pair_ids), col].astype(object).to_numpy()
        variables[col] = vals
    variables["pair_id"] = np.where(variables["type"].to_numpy() == "pair", variables["name"].to_numpy(), None)
