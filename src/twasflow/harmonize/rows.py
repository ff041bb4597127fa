"""Row-level QC of one batch (malformed, missing, out-of-range values) and the derivation of z, beta, se, n."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import special

from ..io.gwas import RawBatch

from .codes import _R, _as_string_array, allele_codes, chrom_codes


# --------------------------------------------------------------------------------------------------
# Row-level QC and effect derivation


@dataclass
class Rows:
    """Per-row values after row QC (arrays of length R aligned with the batch)."""

    reason: np.ndarray  # int8
    ccode: np.ndarray  # int16
    pos: np.ndarray  # int64
    ea: np.ndarray  # uint8
    oa: np.ndarray  # uint8
    z: np.ndarray
    beta: np.ndarray
    se: np.ndarray
    p: np.ndarray
    n: np.ndarray
    eaf: np.ndarray
    p_zero_kept: int = 0
    #: bool (R,) rows kept as indels (``row_qc(..., indels=True)``; their allele codes are 0: they are matched to
    #: the panel by allele strings, :func:`twasflow.harmonize.match.match_rows`); None when indels are dropped
    indel: np.ndarray | None = None


def _num(batch: RawBatch, role: str, r: int) -> np.ndarray:
    v = batch.numbers.get(role)
    return np.full(r, np.nan) if v is None else v


def _marker(reason: np.ndarray):
    def mark(mask: np.ndarray, name: str) -> None:
        # most masks are empty in a clean file: one pass to find out, the assignment only when needed
        if mask.any():
            reason[(reason == 0) & mask] = _R[name]
    return mark


def row_qc(batch: RawBatch, *, sheet_n: float | None, indels: bool = False) -> Rows:
    """Derive z, beta, se, p, n, eaf and the first failing reason of every row of ``batch``.

    ``indels``: keep insertions/deletions written as sequences (``A``/``AT``, ``CAG``/``C``) instead of dropping
    them as ``indel``; they are flagged in :attr:`Rows.indel` and go through the rest of the row QC like SNVs.
    Symbolic alleles (``-``, ``I``/``D``, ``<DEL>``, ``*``) are still dropped as ``indel``: no panel writes them.
    """
    reason, ccode, pos, ea, oa, indel = _variant_qc(batch, indels)
    rows = effect_qc(batch.numbers, reason, sheet_n=sheet_n, ccode=ccode, pos=pos, ea=ea, oa=oa)
    rows.indel = indel
    return rows


def variant_qc(batch: RawBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The variant part of :func:`row_qc`: reader flags, non-numeric cells, chromosome, position and alleles.

    Returns (reason int8 (R,), chromosome code int16, position int64, effect and other allele codes uint8).
    A reader that sees each variant many times (GTEx: one row per phenotype) runs this once per distinct
    variant and :func:`effect_qc` once per row: the reasons come out as :func:`row_qc` gives them.
    """
    return _variant_qc(batch, False)[:5]


def _variant_qc(batch: RawBatch, indels: bool
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`variant_qc` plus, with ``indels``, the mask of sequence indels kept (not marked ``indel``)."""
    r = len(batch)
    reason = np.zeros(r, dtype=np.int8)
    mark = _marker(reason)
    for name, b in batch.flags.items():
        mark(b, name)
    for b in batch.bad.values():
        mark(b, "non_numeric")
    ccode = chrom_codes(batch.strings["chrom"])
    posf = _num(batch, "pos", r)
    ea, ea_kind = allele_codes(batch.strings["ea"])
    oa, oa_kind = allele_codes(batch.strings["oa"])
    kinds = ea_kind.any() or oa_kind.any()
    mark((ccode < 0) | np.isnan(posf) | ((ea_kind == 1) | (oa_kind == 1) if kinds else False), "missing_value")
    with np.errstate(invalid="ignore"):
        badpos = ~((posf >= 1) & (posf < 2**32) & (posf == np.floor(posf)))
    mark(badpos, "invalid_pos")
    indel = None
    if kinds:
        mark((ea_kind == 3) | (oa_kind == 3), "multiallelic")
        any_indel = (ea_kind == 2) | (oa_kind == 2)
        if indels:
            eas, oas = _as_string_array(batch.strings["ea"]), _as_string_array(batch.strings["oa"])
            indel = any_indel & _sequence(eas, ea_kind) & _sequence(oas, oa_kind)
            mark(any_indel & ~indel, "indel")
            # the same string twice is no variant (codes 0 = 0 would not tell)
            same = indel & pc.fill_null(pc.equal(pc.utf8_upper(eas), pc.utf8_upper(oas)), False
                                        ).to_numpy(zero_copy_only=False)
            mark(same, "invalid_allele")
        else:
            mark(any_indel, "indel")
        mark((ea_kind == 4) | (oa_kind == 4), "invalid_allele")
    mark((ea == oa) if indel is None else (ea == oa) & ~indel, "invalid_allele")  # non-bases: 0 = 0, marked above
    pos = (np.where(badpos, 0, posf) if badpos.any() else posf).astype(np.int64)
    if indel is not None:
        indel = indel & (reason == 0)
    return reason, ccode, pos, ea, oa, indel


def _sequence(alleles: pa.Array, kind: np.ndarray) -> np.ndarray:
    """bool (R,): a single base (kind 0) or an allele written as bases (``AT``, not ``-``/``I``/``<DEL>``)."""
    seq = kind == 0
    k2 = np.flatnonzero(kind == 2)
    if len(k2):
        sub = pc.utf8_upper(alleles.take(pa.array(k2)))
        seq[k2] = pc.match_substring_regex(sub, r"^[ACGT]+$").to_numpy(zero_copy_only=False)
    return seq


def effect_qc(numbers: dict[str, np.ndarray], reason: np.ndarray, *, sheet_n: float | None,
              ccode: np.ndarray | None = None, pos: np.ndarray | None = None, ea: np.ndarray | None = None,
              oa: np.ndarray | None = None) -> Rows:
    """The effect part of :func:`row_qc`: z, beta, se, p, n, eaf of every row and their reasons.

    ``reason`` (int8 (R,), modified in place) holds the reasons found so far (0 = none); only rows still at 0
    get a new one. ``ccode, pos, ea, oa`` are passed through to the result (zeros when not given).
    """
    r = len(reason)
    mark = _marker(reason)
    if ccode is None:
        ccode, pos = np.zeros(r, np.int16), np.zeros(r, np.int64)
        ea, oa = np.zeros(r, np.uint8), np.zeros(r, np.uint8)

    def num(role: str) -> np.ndarray:
        v = numbers.get(role)
        return np.full(r, np.nan) if v is None else v

    beta = num("beta")
    orr = numbers.get("or")
    with np.errstate(divide="ignore", invalid="ignore"):
        if orr is not None and "beta" not in numbers:
            mark(orr <= 0, "invalid_effect")
            beta = np.log(np.where(orr > 0, orr, np.nan))
            mark(np.isinf(orr), "invalid_effect")
        se = num("se")
        zg = numbers.get("z")
        p = num("p")
        lp = numbers.get("lp")
        se_ok = np.isfinite(se) & (se > 0)
        beta_ok = np.isfinite(beta)
        bse = beta_ok & se_ok
        p_ok = (p > 0) & (p <= 1)
        # p = 0 (underflow in the file) is kept when beta/se give z; p is then recomputed from z
        p_zero = (p == 0) & bse
        mark(~p_ok & ~np.isnan(p) & ~p_zero, "invalid_p")
        lp_ok = None
        if lp is not None:
            use_lp = np.isnan(p) & ~np.isnan(lp)
            mark(use_lp & ~(np.isfinite(lp) & (lp >= 0)), "invalid_p")
            lp_ok = use_lp & np.isfinite(lp) & (lp >= 0)
            p = np.where(lp_ok, np.maximum(np.power(10.0, -np.where(lp_ok, lp, 0.0)), np.nextafter(0.0, 1.0)), p)
            p_ok = p_ok | lp_ok
        mark(~np.isnan(se) & ~se_ok, "invalid_se")
        mark(np.isinf(beta) if zg is None else (np.isinf(beta) | np.isinf(zg)), "invalid_effect")
        eaf = num("eaf")
        mark(~np.isnan(eaf) & ~((eaf >= 0) & (eaf <= 1)), "invalid_freq")
        nrow = numbers.get("n")
        if nrow is None:
            n = np.full(r, np.nan if sheet_n is None else sheet_n)
        else:
            n = np.where(np.isnan(nrow), np.nan if sheet_n is None else sheet_n, nrow)
        mark(np.isnan(n), "missing_value")
        mark(~np.isnan(n) & ~(np.isfinite(n) & (n > 0)), "invalid_n")

        z = beta / se
        if not bse.all():
            z[~bse] = np.nan
        if zg is not None:
            z = np.where(np.isfinite(zg), zg, z)
        # the special functions run only on the rows that need them (usually none)
        zn = np.isnan(z)
        if zn.any():
            need = np.flatnonzero(zn & beta_ok & p_ok)
            if len(need):
                # z from p in log space, so -log10 p far beyond the double range stays exact
                logp = np.log(p[need])
                if lp_ok is not None:
                    logp = np.where(lp_ok[need], -lp[need] * np.log(10.0), logp)
                z[need] = np.sign(beta[need]) * -special.ndtri_exp(logp - np.log(2.0))
                zn[need] = np.isnan(z[need])
            mark(zn, "missing_value")
        # p of a row without one (or with p = 0 next to a usable beta/se) comes from z
        p_out = p if lp is not None else p.copy()
        need = np.flatnonzero(~p_ok & ~zn)
        if len(need):
            p_out[need] = np.maximum(np.exp(np.log(2.0) + special.log_ndtr(-np.abs(z[need]))),
                                     np.nextafter(0.0, 1.0))
    kept = reason == 0
    return Rows(reason=reason, ccode=ccode, pos=pos, ea=ea, oa=oa, z=z,
                beta=beta if beta_ok.all() else np.where(beta_ok, beta, np.nan),
                se=se if se_ok.all() else np.where(se_ok, se, np.nan), p=p_out, n=n, eaf=eaf,
                p_zero_kept=int((p_zero & kept).sum()) if p_zero.any() else 0)


