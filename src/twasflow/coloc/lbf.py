"""coloc from published xQTL log Bayes factors, without xQTL LD (coloc's ``coloc.bf_bf``).

When an xQTL dataset arrives as SuSiE ``lbf_variable`` files (``format: eqtlcat-susie``), its credible-set
effects' single-effect lbf are the xQTL side as published; the GWAS side is our own SuSiE-RSS fit of the locus
(all locus variants, the panel LD). Every GWAS credible set is paired with every xQTL credible-set effect by
:func:`twasflow.coloc.coloc_bf_bf` (coloc 5.2.3's rules: variants matched by name, PP.H0–H4 from the two lbf
rows restricted to shared variants with priors p1, p2, p12; a pair is skipped when either signal has less than
``overlap_min`` of its single-effect posterior on the shared variants). The xQTL lbf need no LD: that is the
point of the published files.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from twasflow.errors import InputError

from ._common import PP_COLUMNS
from .susie import coloc_bf_bf

#: xQTL signals of one pair: (variant ids (m,), effects (K,) 0-based, lbf (K, m))
PairLbf = tuple[np.ndarray, np.ndarray, np.ndarray]
REASON_PREFIX = "lbf: "


def pair_lbf_from_long(table: pd.DataFrame) -> dict[str, PairLbf]:
    """``lbf.parquet`` rows (``pair_id, effect, variant_id, lbf``) → {pair_id: (variant ids, effects, lbf)};
    variants in first-appearance order, a variant missing for one effect gets lbf 0 (no evidence)."""
    out: dict[str, PairLbf] = {}
    for pid, g in table.groupby("pair_id", sort=True):
        wide = g.pivot_table(index="effect", columns="variant_id", values="lbf", aggfunc="first", sort=False)
        vids = pd.unique(g["variant_id"])
        wide = wide.reindex(columns=vids).fillna(0.0)
        out[str(pid)] = (np.asarray(vids, dtype=object).astype(str), wide.index.to_numpy(np.int64),
                         wide.to_numpy(np.float64))
    return out


def coloc_lbf_locus(
    gwas_z: Any,
    gwas_n: Any,
    R: Any,
    variant_ids: Sequence[str],
    pairs: Mapping[str, PairLbf],
    *,
    p1: float = 1e-4,
    p2: float = 1e-4,
    p12: float = 5e-6,
    h4_min: float = 0.5,
    L: int = 10,
    overlap_min: float = 0.5,
    gwas_fit: Any = None,
) -> pd.DataFrame:
    """coloc.bf_bf between the locus GWAS SuSiE fit and each pair's published xQTL lbf.

    Parameters
    ----------
    gwas_z : (M,) GWAS z; gwas_n : scalar or (M,) (the median is used); R : (M, M) locus LD; variant_ids : (M,).
    pairs : {pair_id: (variant ids (m,), effects (K,), lbf (K, m))} (:func:`pair_lbf_from_long`).
    p1, p2, p12 : coloc priors (coloc.susie's defaults); h4_min : the colocalisation call.
    gwas_fit : a precomputed SuSiE fit of (gwas_z, R) (default: :func:`twasflow.coloc.run_susie`, L effects).

    Returns
    -------
    DataFrame with :data:`twasflow.coloc.OUTPUT_COLUMNS`: per pair the coloc.bf_bf pair with the largest PP.H4
    (``nsnps`` = shared variants, ``susie_hit1/2``), ``abf_*`` NaN (no xQTL z-scores), ``colocalized`` =
    PP.H4 > h4_min, ``reason`` ("" or why no pair of signals was tested, prefixed "lbf: ").
    """
    from .locus import ABF_COLUMNS, OUTPUT_COLUMNS, run_susie

    z = np.asarray(gwas_z, dtype=np.float64)
    n = np.asarray(gwas_n, dtype=np.float64)
    vids = np.asarray(variant_ids, dtype=object).astype(str)
    rows: list[dict[str, Any]] = []
    fit = gwas_fit
    fit_error = ""
    if fit is None and len(pairs):
        try:
            fit = run_susie(z, np.asarray(R, dtype=np.float64), float(np.median(n)), L=L)
        except InputError as e:
            fit_error = f"SuSiE failed on the GWAS: {e}"
    for pid, (xv, _effects, lbf) in pairs.items():
        row: dict[str, Any] = {"pair_id": pid, "nsnps": 0, "susie_hit1": None, "susie_hit2": None,
                               **{c: np.nan for c in PP_COLUMNS}, **{c: np.nan for c in ABF_COLUMNS},
                               "colocalized": False, "reason": ""}
        rows.append(row)
        row["nsnps"] = int(pd.Index(xv).isin(vids).sum())
        if fit_error:
            row["reason"] = REASON_PREFIX + fit_error
            continue
        if row["nsnps"] == 0:
            row["reason"] = REASON_PREFIX + "no shared variants"
            continue
        if not fit.sets or lbf.shape[0] == 0:
            which = [w for w, none in (("1 (GWAS)", not fit.sets), ("2 (xQTL)", lbf.shape[0] == 0)) if none]
            row["reason"] = REASON_PREFIX + "no credible set in fit " + " and fit ".join(which)
            continue
        gl = np.asarray(fit.lbf_variable, dtype=np.float64)[[s.effect for s in fit.sets]]
        res = coloc_bf_bf(gl, lbf, vids, xv, p1=p1, p2=p2, p12=p12, overlap_min=overlap_min)
        best = res.best()
        if best is None:
            row["reason"] = REASON_PREFIX + res.reason
            continue
        row["susie_hit1"], row["susie_hit2"] = best["hit1"], best["hit2"]
        for c in PP_COLUMNS:
            row[c] = float(best[c])
        row["colocalized"] = bool(row["PP.H4"] > h4_min)
    out = pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))
    out["nsnps"] = out["nsnps"].astype(np.int64)
    out["colocalized"] = out["colocalized"].astype(bool)
    return out


__all__ = ["PairLbf", "coloc_lbf_locus", "pair_lbf_from_long"]
