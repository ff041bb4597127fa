"""Harmonization of prediction-model weights (PredictDB, long weight tables) to the panel's counted alleles,
with a per-model account of every variant (rule ``harmonize_xqtl`` for ``predictdb`` / ``weights-long`` rows,
through :func:`twasflow.models.harmonize_models`).

Each model variant is matched to the target variants (the panel, or a locus's variant set) by chromosome +
position when both sides have them, else by rsid, then by alleles: effect = counted → sign kept, effect = other
→ sign flipped, the same after complementing both alleles (strand flip; not for palindromic A/T, C/G pairs,
which are matched as labelled: models carry no allele frequency to orient them by). Every model variant ends up
used or dropped under one reason (:data:`REASONS`). Tables in, tables out: no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twasflow.errors import InputError

#: why a model variant is not used: no target variant at its position / rsid; alleles differ even after a strand
#: flip; missing or non-finite weight; the same target variant twice in one model
REASONS = ["not_in_panel", "allele_mismatch", "bad_weight", "duplicate"]
_COMP = str.maketrans("ACGTacgt", "TGCAtgca")
_PALINDROMIC = {("A", "T"), ("T", "A"), ("C", "G"), ("G", "C")}


def harmonize_model_weights(models: pd.DataFrame, target: pd.DataFrame, *, match_on: str = "auto"
                            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orient model weights to the target's counted alleles and account for every model variant.

    Parameters
    ----------
    models : long model table (:func:`predictdb_to_long` / :func:`read_weights_long`).
    target : the variants weights may use, with ``variant_id, other_allele, counted_allele`` and ``chrom,
        pos`` and/or ``rsid`` (e.g. a panel's ``variants.parquet``, or a GWAS table).
    match_on : ``position`` (chrom + pos), ``rsid``, or ``auto`` (position when both sides have it, else rsid).

    Returns
    -------
    (used, report). ``used``: one row per model variant used — ``model, model_variant, variant_id,
    target_row, weight`` (per counted allele), ``flipped`` (sign changed), ``strand_flipped``. ``report``: per model ``model, n_model, n_used, n_flipped`` and one count
    column per reason in :data:`REASONS`; ``n_model == n_used + Σ reasons``.
    """
    m = models.reset_index(drop=True)
    t = target.reset_index(drop=True)
    if match_on not in ("auto", "position", "rsid"):
        raise InputError.at("unknown match_on", column="match_on", found=repr(match_on),
                            expected="auto, position or rsid")
    have_pos = {"chrom", "pos"} <= set(t.columns) and m["pos"].notna().any()
    use_pos = match_on == "position" or (match_on == "auto" and have_pos)
    reason = np.full(len(m), "", dtype=object)
    bad_w = ~np.isfinite(m["weight"].to_numpy(dtype=np.float64))
    reason[bad_w] = "bad_weight"
    # candidate target rows per model row (all target variants at that position / rsid)
    if use_pos:
        tk = t["chrom"].astype(str) + ":" + t["pos"].astype("Int64").astype(str)
        mk = m["chrom"].astype(str) + ":" + m["pos"].astype("Int64").astype(str)
    else:
        if "rsid" not in t.columns:
            raise InputError.at("target has neither chrom+pos nor rsid", column="rsid", found=list(t.columns))
        tk, mk = t["rsid"].astype(str), m["rsid"].astype(str)
    cand = pd.DataFrame({"mrow": np.arange(len(m)), "key": mk.to_numpy()}).merge(
        pd.DataFrame({"trow": np.arange(len(t)), "key": tk.to_numpy()}), on="key", how="inner")
    ea = m["effect_allele"].to_numpy(object)[cand["mrow"]]
    oa = m["other_allele"].to_numpy(object)[cand["mrow"]]
    cnt = t["counted_allele"].to_numpy(object)[cand["trow"]]
    oth = t["other_allele"].to_numpy(object)[cand["trow"]]
    known_oa = pd.notna(oa)
    same = (ea == cnt) & (~known_oa | (oa == oth))
    swap = (ea == oth) & (~known_oa | (oa == cnt))
    pal = np.array([(str(a), str(b)) in _PALINDROMIC for a, b in zip(cnt, oth)], dtype=bool)
    eac = np.array([str(x).translate(_COMP) for x in ea], dtype=object)
    oac = np.array([str(x).translate(_COMP) if pd.notna(x) else x for x in oa], dtype=object)
    s_same = ~pal & ~same & ~swap & (eac == cnt) & (~known_oa | (oac == oth))
    s_swap = ~pal & ~same & ~swap & (eac == oth) & (~known_oa | (oac == cnt))
    ok = same | swap | s_same | s_swap
    cand = cand.assign(ok=ok, sign=np.where(swap | s_swap, -1.0, 1.0), strand=s_same | s_swap)
    found = np.zeros(len(m), dtype=bool)
    found[cand["mrow"].to_numpy()] = True
    hit = cand[cand["ok"]].drop_duplicates("mrow", keep="first")
    matched = np.zeros(len(m), dtype=bool)
    matched[hit["mrow"].to_numpy()] = True
    reason[(reason == "") & ~found] = "not_in_panel"
    reason[(reason == "") & found & ~matched] = "allele_mismatch"
    hit = hit[reason[hit["mrow"].to_numpy()] == ""]
    # the same target variant twice in one model: keep the first
    dup = pd.Series(m["model"].to_numpy(object)[hit["mrow"]]).astype(str) + "\x00" + hit["trow"].astype(str).to_numpy()
    d = dup.duplicated().to_numpy()
    reason[hit["mrow"].to_numpy()[d]] = "duplicate"
    hit = hit[~d]
    mr, tr = hit["mrow"].to_numpy(), hit["trow"].to_numpy()
    w = m["weight"].to_numpy(dtype=np.float64)[mr] * hit["sign"].to_numpy()
    used = pd.DataFrame({
        "model": m["model"].to_numpy(object)[mr],
        "model_variant": m["model_variant"].to_numpy(object)[mr],
        "variant_id": t["variant_id"].to_numpy(object)[tr],
        "target_row": tr.astype(np.int64),
        "weight": w,
        "flipped": hit["sign"].to_numpy() < 0,
        "strand_flipped": hit["strand"].to_numpy(bool),
    }).sort_values(["model", "target_row"], kind="stable").reset_index(drop=True)
    rep = pd.DataFrame({"model": m["model"].astype(str), "reason": reason})
    report = pd.crosstab(rep["model"], rep["reason"]).reindex(columns=[""] + REASONS, fill_value=0)
    report = report.rename(columns={"": "n_used"})
    report.insert(0, "n_model", report.sum(axis=1))
    nflip = used.groupby("model")["flipped"].sum()
    report["n_flipped"] = nflip.reindex(report.index, fill_value=0).astype(np.int64)
    report = report.reset_index()[["model", "n_model", "n_used", "n_flipped"] + REASONS]
    return used, report


def oriented_covariance(cov: tuple[np.ndarray, np.ndarray], used: pd.DataFrame) -> np.ndarray:
    """The model covariance of the used variants of one model (rows of ``used`` for that model, in order),
    oriented to the counted alleles (rows/columns of flipped variants change sign).

    Raises InputError when a used variant is absent from the covariance file."""
    ids, C = cov
    pos = {v: i for i, v in enumerate(ids)}
    mv = used["model_variant"].to_numpy(object)
    missing = [v for v in mv if v not in pos]
    if missing:
        raise InputError.at("model variant missing from the covariance file", column="RSID1/RSID2",
                            found=missing[0], expected=f"one of the {len(ids)} ids of the model")
    k = np.array([pos[v] for v in mv], dtype=np.int64)
    s = np.where(used["flipped"].to_numpy(bool), -1.0, 1.0)
    return C[np.ix_(k, k)] * np.outer(s, s)
