"""Harmonization of prediction-model weights (PredictDB, long weight tables, FUSION) to the panel's counted
alleles, with a per-model account of every variant (rule ``harmonize_xqtl`` for model rows, through
:func:`twasflow.models.harmonize_models`).

The matching is the one allele matcher of the package, :func:`twasflow.harmonize.match.match_to_panel`, with the
GWAS/xQTL rules: a model variant is placed by chromosome + position (or, for models keyed by rsid only, at the
position of the target variant with that rsid), then matched allele pair by allele pair (effect = counted → sign
kept, effect = other → flipped, the same after complementing both alleles for a non-palindromic pair). Indels and
non-base alleles are counted (the panel holds SNVs). Palindromic (A/T, C/G) variants follow the ``harmonize``
config block exactly as a GWAS without allele frequencies does (models carry none): ``palindromic: drop`` drops
them; otherwise they are kept at face value only when the model file is on the panel's strand (at most
``strand_consensus_max_flip`` of its matched non-palindromic variants need complementing, over at least
:data:`~twasflow.harmonize.codes.STRAND_CONSENSUS_MIN_VARIANTS`), else dropped as ``palindromic_ambiguous``.
Every model variant ends up used or dropped under one reason (:data:`REASONS`). Tables in, tables out: no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from twasflow.errors import InputError

from .accumulate import _resolve_rows, _strand_consensus
from .codes import _R, Settings, allele_codes, chrom_codes
from .match import PanelIndex, match_indels, match_to_panel

#: why a model variant is not used, in the order they are tested: missing or non-finite weight; an indel or a
#: non-base allele (the panel holds SNVs); no target variant at its position / rsid (``panel_maf_below_min``: the
#: panel store dropped the variant there for ``panel.maf_min``); alleles differ even after a strand flip;
#: palindromic and dropped by ``harmonize.palindromic: drop`` or not vouched for by the file's strand; the same
#: target variant twice in one model
REASONS = ["bad_weight", "indel", "invalid_allele", "not_in_panel", "panel_maf_below_min", "allele_mismatch",
           "palindromic_dropped", "palindromic_ambiguous", "duplicate"]
_MATCH_REASON = {_R["chrom_not_in_panel"]: "not_in_panel", _R["not_in_panel"]: "not_in_panel",
                 _R["panel_maf_below_min"]: "panel_maf_below_min", _R["allele_mismatch"]: "allele_mismatch",
                 _R["palindromic_dropped"]: "palindromic_dropped",
                 _R["palindromic_ambiguous"]: "palindromic_ambiguous",
                 _R["strand_inconsistent"]: "palindromic_ambiguous"}


def _strings(col: pd.Series) -> pa.Array:
    """A column as an Arrow string array, nulls where missing."""
    return pa.array(col.astype("string"), pa.string())


def _target_index(t: pd.DataFrame, chrom: pa.Array, pos: np.ndarray, maf: bool) -> tuple[PanelIndex, np.ndarray]:
    """The target as a :class:`PanelIndex` at (``chrom``, ``pos``) (T,) and, per index row, the target row it
    came from. ``maf``: mark positions the target's panel store dropped for ``maf_min``."""
    key = (chrom_codes(chrom).astype(np.int64) << 32) | pos.astype(np.int64)
    order = np.argsort(key, kind="stable")
    sub = pd.DataFrame({"variant_id": t["variant_id"].to_numpy(object)[order], "chrom": np.asarray(chrom)[order],
                        "pos": pos[order].astype(np.int64),
                        "other_allele": t["other_allele"].to_numpy(object)[order],
                        "counted_allele": t["counted_allele"].to_numpy(object)[order], "rsid": None,
                        "counted_freq": np.nan})
    maf_dropped = None
    if maf and t.attrs.get("panel_dir"):
        from ..io.panel import read_maf_dropped
        maf_dropped = read_maf_dropped(t.attrs["panel_dir"])
    return PanelIndex.build(sub, maf_dropped=maf_dropped), order


def harmonize_model_weights(models: pd.DataFrame, target: pd.DataFrame, *, match_on: str = "auto",
                            settings: Settings | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orient model weights to the target's counted alleles and account for every model variant.

    Parameters
    ----------
    models : long model table (:func:`predictdb_to_long` / :func:`read_weights_long`), R rows.
    target : the variants weights may use, with ``variant_id, chrom, pos, other_allele, counted_allele`` (and
        ``rsid`` to match by rsid; ``counted_freq`` optional), e.g. a panel's ``variants.parquet`` or a GWAS table.
    match_on : ``position`` (chrom + pos), ``rsid`` (placed at the target variant with that rsid), or ``auto``
        (position when the models have positions, else rsid).
    settings : the ``harmonize`` config block (palindromic handling, strand consensus); default its defaults.

    Returns
    -------
    (used, report). ``used``: one row per model variant used — ``model, model_variant, variant_id,
    target_row, weight`` (per counted allele), ``flipped`` (sign changed), ``strand_flipped``. ``report``: per
    model ``model, n_model, n_used, n_flipped`` and one count column per reason in :data:`REASONS`;
    ``n_model == n_used + Σ reasons``.
    """
    settings = settings or Settings()
    m = models.reset_index(drop=True)
    t = target.reset_index(drop=True)
    if match_on not in ("auto", "position", "rsid"):
        raise InputError.at("unknown match_on", column="match_on", found=repr(match_on),
                            expected="auto, position or rsid")
    have_pos = {"chrom", "pos"} <= set(t.columns) and m["pos"].notna().any()
    use_pos = match_on == "position" or (match_on == "auto" and have_pos)
    r = len(m)
    reason = np.full(r, "", dtype=object)
    reason[~np.isfinite(m["weight"].to_numpy(dtype=np.float64))] = "bad_weight"
    # the model's alleles as codes: indels and non-bases counted as the GWAS matcher counts them
    ea, ea_kind = allele_codes(_strings(m["effect_allele"]))
    oa_known = m["other_allele"].notna().to_numpy()
    oa, oa_kind = allele_codes(_strings(m["other_allele"]))
    oa_kind = np.where(oa_known, oa_kind, 0)
    indel = (reason == "") & ((ea_kind == 2) | (oa_kind == 2)) & (ea_kind != 4) & (oa_kind != 4) & oa_known
    free = (reason == "") & ~indel
    reason[free & ((ea_kind != 0) | (oa_kind != 0) | (oa_known & (ea == oa)))] = "invalid_allele"
    # positions: the model's own; for rsid keys, one stand-in position per distinct target rsid, so a model
    # variant meets exactly the target variants carrying its rsid
    if use_pos:
        ccode = chrom_codes(_strings(m["chrom"])).astype(np.int64)
        posf = pd.to_numeric(m["pos"], errors="coerce").to_numpy(np.float64)
        tchrom, tpos = _strings(t["chrom"]), pd.to_numeric(t["pos"]).to_numpy(np.int64)
    else:
        if "rsid" not in t.columns:
            raise InputError.at("target has neither chrom+pos nor rsid", column="rsid", found=list(t.columns))
        codes, uniq = pd.factorize(t["rsid"].astype("string"))
        tchrom, tpos = pa.array(np.full(len(t), "1", dtype=object), pa.string()), codes.astype(np.int64) + 1
        tpos[codes < 0] = 0  # a target row without an rsid: never met
        hit = pd.Index(uniq).get_indexer(m["rsid"].astype("string"))
        ccode = np.where(hit >= 0, 1, -1).astype(np.int64)
        posf = np.where(hit >= 0, hit + 1.0, np.nan)
    free = reason == ""
    placed = (ccode > 0) & np.isfinite(posf) & (posf >= 1)
    reason[free & ~placed] = "not_in_panel"
    index, order = _target_index(t, tchrom, tpos, maf=use_pos)
    pos = np.where(np.isfinite(posf), posf, 0).astype(np.int64)
    ind = np.flatnonzero((reason == "") & indel)
    sel = np.flatnonzero((reason == "") & ~indel)
    full = sel[oa_known[sel]]
    mt = match_to_panel(index, ccode[full], pos[full], ea[full], oa[full])
    pidx = np.full(r, -1, np.int64)
    sign = np.zeros(r, np.int8)
    flipped = np.zeros(r, bool)
    palin = np.zeros(r, bool)
    status = np.zeros(r, np.int8)
    pidx[full], sign[full], flipped[full], palin[full], status[full] = mt.pidx, mt.sign, mt.flipped, mt.palin, mt.status
    # a model that names only the effect allele: the first panel variant at the position carrying it
    half = sel[~oa_known[sel]]
    if len(half):
        pidx[half], sign[half], status[half] = _match_effect_allele_only(index, ccode[half], pos[half], ea[half])
    if len(ind):  # indels: the same allele strings at the position (the panel store holds SNVs: then counted)
        pidx[ind], sign[ind] = match_indels(index, ccode[ind], pos[ind], m["effect_allele"].to_numpy(object)[ind],
                                             m["other_allele"].to_numpy(object)[ind])
    # an indel not found is counted as such wherever the search failed (a panel store holds SNVs only)
    reason[indel & ((reason == "not_in_panel") | (pidx < 0) & (reason == ""))] = "indel"
    for code, name in _MATCH_REASON.items():
        reason[status == code] = name
    # palindromes and strand: the GWAS matcher's whole-file rules (no allele frequencies in a model)
    good = np.flatnonzero((status == 0) & (reason == ""))
    npal = ~palin[good]
    strand = _strand_consensus(int((flipped[good] & npal).sum()), int((~flipped[good] & npal).sum()), settings)
    pr, s2, f2, _, _ = _resolve_rows(sign[good], flipped[good], palin[good], np.full(len(good), np.nan),
                                     pidx[good], index, settings, strand)
    sign[good], flipped[good] = s2, f2
    for code, name in _MATCH_REASON.items():
        reason[good[pr == code]] = name
    hit = good[pr == 0]
    # the same target variant twice in one model: keep the first
    mdl = m["model"].astype(str).to_numpy(object)
    dup = pd.DataFrame({"m": mdl[hit], "p": pidx[hit]}).duplicated().to_numpy()
    reason[hit[dup]] = "duplicate"
    hit = hit[~dup]
    tr = order[pidx[hit]]
    used = pd.DataFrame({
        "model": mdl[hit],
        "model_variant": m["model_variant"].to_numpy(object)[hit],
        "variant_id": t["variant_id"].to_numpy(object)[tr],
        "target_row": tr.astype(np.int64),
        "weight": m["weight"].to_numpy(dtype=np.float64)[hit] * sign[hit],
        "flipped": sign[hit] < 0,
        "strand_flipped": flipped[hit],
    }).sort_values(["model", "target_row"], kind="stable").reset_index(drop=True)
    rep = pd.DataFrame({"model": mdl, "reason": reason})
    report = pd.crosstab(rep["model"], rep["reason"]).reindex(columns=[""] + REASONS, fill_value=0)
    report = report.rename(columns={"": "n_used"})
    report.insert(0, "n_model", report.sum(axis=1))
    nflip = used.groupby("model")["flipped"].sum()
    report["n_flipped"] = nflip.reindex(report.index, fill_value=0).astype(np.int64)
    report = report.reset_index()[["model", "n_model", "n_used", "n_flipped"] + REASONS]
    return used, report


def _match_effect_allele_only(index: PanelIndex, ccode: np.ndarray, pos: np.ndarray, ea: np.ndarray
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(panel row or -1, sign, status) of rows that state only their effect allele: the first panel variant at
    the position whose counted (sign +1) or other (-1) allele it is; no strand flip (undecidable without the
    other allele)."""
    k = len(pos)
    key = (ccode << 32) | pos
    pidx = np.full(k, -1, np.int64)
    sign = np.zeros(k, np.int8)
    status = np.full(k, _R["not_in_panel"], np.int8)
    if not len(index):
        return pidx, sign, status
    loc = np.minimum(np.searchsorted(index.keys, key), len(index) - 1)
    at = index.keys[loc] == key
    status[at] = _R["allele_mismatch"]
    for j in range(index.max_run):
        cand = loc + j
        live = at & (status != 0) & (cand < len(index))
        cand = np.minimum(cand, len(index) - 1)
        live &= index.keys[cand] == key
        cnt, oth = live & (index.counted[cand] == ea), live & (index.other[cand] == ea)
        for mask, s in ((cnt, 1), (oth & ~cnt, -1)):
            pidx[mask], sign[mask], status[mask] = cand[mask], s, 0
    return pidx, sign, status


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
