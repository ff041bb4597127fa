"""Clumping + thresholding identical to PLINK 1.9 ``--clump``, and a small greedy clumper for loci.

The rules (see ``docs/clump.md``): index variants are those with p <= p1, taken in order of ascending p
(ties by panel order); each absorbs the not-yet-clumped variants on its chromosome within
``kb*1000 - 1`` bp whose haplotype r2 with it (two-locus maximum-likelihood haplotype frequencies, people
called at both variants) is strictly above the threshold. Association rows with p <= max(0.05, p2) are
counted in the p-value bins; rows with p < p2 are listed in SP2.

The two-locus EM is solved in closed form (the ML frequency is a root of a cubic, as PLINK does) and
vectorised over all candidate partners of an index at once: the 3x3 genotype table of every pair comes
from one ``bincount`` over paired genotype codes.

Numerical code here does not read files; ``run_clump`` and ``clump_table`` are the I/O-facing wrappers.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence

import numpy as np

from twasflow.errors import ClumpError
from twasflow.io.tables import write_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from twasflow.io.panel import Panel

# pandas is imported only by the functions that take or return DataFrames: `twasflow clump` competes with
# plink1.9 on wall time, and importing pandas costs about as much CPU as parsing a 1M-line .bim.

# PLINK 1.9 constants (plink_common.h): powers of two
EPSILON = 2.0**-30
SMALLISH_EPSILON = 2.0**-35
SMALL_EPSILON = 2.0**-44

R2Method = Literal["haplotype", "pearson"]



# ----------------------------------------------------------------------------------------------------
# two-locus haplotype r2 (PLINK's em_phase_hethet + cubic_real_roots semantics, vectorised)
# ----------------------------------------------------------------------------------------------------


def _cubic_real_roots(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real roots of x^3 + a x^2 + b x + c, sorted, near-duplicates (< 2^-30 apart) merged.

    Returns ``(sol (P, 3), n (P,))``; only ``sol[:, :n]`` is meaningful.
    """
    P = a.shape[0]
    sol = np.zeros((P, 3))
    n = np.ones(P, dtype=np.int64)
    a2 = a * a
    qq = (a2 - 3 * b) * (1.0 / 9.0)
    rr = (2 * a2 * a - 9 * a * b + 27 * c) * (1.0 / 54.0)
    r2 = rr * rr
    q3 = qq * qq * qq
    adiv3 = a * (1.0 / 3.0)
    three = r2 < q3
    if three.any():
        q = qq[three]
        sq = np.sqrt(q)
        d = np.arccos(rr[three] / (q * sq)) * (1.0 / 3.0)
        sq = sq * -2
        ad = adiv3[three]
        s = np.stack([sq * np.cos(d) - ad, sq * np.cos(d + (2.0 * np.pi / 3.0)) - ad,
                      sq * np.cos(d - (2.0 * np.pi / 3.0)) - ad], axis=1)
        s.sort(axis=1)
        m = np.full(s.shape[0], 3, dtype=np.int64)
        first_dup = s[:, 1] - s[:, 0] < EPSILON
        s[first_dup, 1] = s[first_dup, 2]
        m[first_dup] = np.where(s[first_dup, 1] - s[first_dup, 0] < EPSILON, 1, 2)
        second_dup = ~first_dup & (s[:, 2] - s[:, 1] < EPSILON)
        m[second_dup] = 2
        sol[three] = s
        n[three] = m
    one = ~three
    if one.any():
        r = rr[one]
        q = qq[one]
        ad = adiv3[one]
        with np.errstate(invalid="ignore"):
            d = -np.power(np.abs(r) + np.sqrt(r2[one] - q3[one]), 1.0 / 3.0)
        zero = d == 0.0
        d = np.where(r < 0.0, -d, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            sqv = q / d
        s0 = d + sqv - ad
        double = ~zero & ~(np.abs(d - sqv) >= EPSILON * 8)
        s = np.zeros((r.shape[0], 3))
        s[:, 0] = np.where(zero, -ad, s0)
        m = np.ones(r.shape[0], dtype=np.int64)
        pos = double & (d >= 0.0)
        neg = double & ~(d >= 0.0)
        s[pos, 1] = s0[pos]
        s[pos, 0] = -d[pos] - ad[pos]
        s[neg, 1] = -d[neg] - ad[neg]
        m[double] = 2
        sol[one] = s
        n[one] = m
    return sol, n


def _lnlike(k11, k12, k21, k22, center, f11, f12, f21, f22, h, incr):
    g11 = f11 + incr
    g22 = f22 + incr
    g12 = f12 + (h - incr)
    g21 = f21 + (h - incr)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = g11 * g22 + g12 * g21
        ll = np.where(center != 0.0, center * np.log(x), 0.0)
        for k, g in ((k11, g11), (k12, g12), (k21, g21), (k22, g22)):
            ll = ll + np.where(k != 0.0, k * np.log(np.where(k != 0.0, g, 1.0)), 0.0)
    return ll


def _cubic_roots_scalar(a: float, b: float, c: float) -> list[float]:
    """Scalar twin of :func:`_cubic_real_roots` (libm functions, like PLINK)."""
    a2 = a * a
    qq = (a2 - 3 * b) * (1.0 / 9.0)
    rr = (2 * a2 * a - 9 * a * b + 27 * c) * (1.0 / 54.0)
    r2 = rr * rr
    q3 = qq * qq * qq
    adiv3 = a * (1.0 / 3.0)
    if r2 < q3:
        sq = math.sqrt(qq)
        d = math.acos(rr / (qq * sq)) * (1.0 / 3.0)
        sq *= -2
        s = sorted([sq * math.cos(d) - adiv3, sq * math.cos(d + (2.0 * math.pi / 3.0)) - adiv3,
                    sq * math.cos(d - (2.0 * math.pi / 3.0)) - adiv3])
        if s[1] - s[0] < EPSILON:
            s[1] = s[2]
            return s[:1] if s[1] - s[0] < EPSILON else s[:2]
        return s[:2] if s[2] - s[1] < EPSILON else s
    d = -((abs(rr) + math.sqrt(r2 - q3)) ** (1.0 / 3.0))
    if d == 0.0:
        return [-adiv3]
    if rr < 0.0:
        d = -d
    sqv = qq / d
    s0 = d + sqv - adiv3
    if abs(d - sqv) >= EPSILON * 8:
        return [s0]
    if d >= 0.0:
        return [-d - adiv3, s0]
    return [s0, -d - adiv3]


def _lnlike_scalar(k11, k12, k21, k22, center, f11, f12, f21, f22, h, incr):
    g11 = f11 + incr
    g22 = f22 + incr
    g12 = f12 + (h - incr)
    g21 = f21 + (h - incr)
    x = g11 * g22 + g12 * g21
    ll = center * math.log(x) if x > 0 else (-math.inf if center else 0.0)
    for k, g in ((k11, g11), (k12, g12), (k21, g21), (k22, g22)):
        if k != 0.0:
            ll += k * math.log(g) if g > 0 else -math.inf
    return ll


def _haplotype_r2_one(t: Sequence[int]) -> float:
    """Scalar twin of :func:`haplotype_r2` for one table (used for small batches: less call overhead)."""
    return _haplotype_r2_one_k(2 * t[0] + t[1] + t[3], 2 * t[2] + t[1] + t[5], 2 * t[6] + t[3] + t[7],
                               2 * t[8] + t[5] + t[7], t[4])


def _haplotype_r2_one_k(k11i: int, k12i: int, k21i: int, k22i: int, ci: int) -> float:
    """:func:`_haplotype_r2_one` from the haplotype counts of the resolved genotypes (``k11 = 2 n00 + n01 +
    n10`` ...) and the double-heterozygote count ``ci``: the EM depends on the table only through these."""
    k11 = float(k11i)
    k12 = float(k12i)
    k21 = float(k21i)
    k22 = float(k22i)
    ci = int(ci)
    center = float(ci)
    twice_tot = k11 + k12 + k21 + k22 + 2 * center
    if twice_tot == 0.0:
        return math.nan
    recip = 1.0 / twice_tot
    f11, f12, f21, f22 = k11 * recip, k12 * recip, k21 * recip, k22 * recip
    p1122 = f11 * f22
    p1221 = f12 * f21
    h = center * recip
    freq1x = f11 + f12 + h
    freq2x = 1.0 - freq1x
    freqx1 = f11 + f21 + h
    freqx2 = 1.0 - freqx1
    freq11 = f11
    if ci:
        if p1122 != 0.0 or p1221 != 0.0:
            sol = _cubic_roots_scalar(0.5 * (f11 + f22 - f12 - f21 - 3 * h),
                                      0.5 * (p1122 + p1221 + h * (f12 + f21 - f11 - f22 + h)),
                                      -0.5 * h * p1122)
            end = len(sol)
            while end and sol[end - 1] > h + SMALLISH_EPSILON:
                end -= 1
            start = 0
            while start < end and sol[start] < -SMALLISH_EPSILON:
                start += 1
            if start == end:
                cand = [0.0, h]
            else:
                cand = sol[start:end]
                if cand[0] < 0:
                    cand[0] = 0.0
                if cand[-1] > h:
                    cand[-1] = h
        else:
            xx = f11 + f22
            xy = f12 + f21
            if xx + SMALLISH_EPSILON < h + xy and xy + SMALLISH_EPSILON < h + xx:
                cand = [0.0, (h + xy - xx) * 0.5, h]
            else:
                cand = [0.0, h]
        args = (k11, k12, k21, k22, center, f11, f12, f21, f22, h)
        best = cand[0]
        if len(cand) > 1:
            base = _lnlike_scalar(*args, best)
            for x in cand[1:]:  # PLINK compares with the first root's likelihood only
                if _lnlike_scalar(*args, x) > base:
                    best = x
        freq11 = f11 + best
    elif p1122 == 0.0 and p1221 == 0.0:
        return math.nan
    expected = freqx1 * freq1x
    d = freq11 - expected
    ad = abs(d)
    if ad < SMALL_EPSILON:
        return 0.0
    den = expected * freq2x * freqx2
    if den == 0.0:
        return math.nan
    return ad * d / den


def haplotype_r2(table: np.ndarray) -> np.ndarray:
    """Signed two-locus haplotype r2 from 3x3 genotype tables, exactly as PLINK 1.9 ``--clump``.

    Parameters
    ----------
    table : int array (P, 9); ``table[:, 3*a + b]`` = people with ``a`` copies-category at locus 1 and
        ``b`` at locus 2, where category 0 = two copies of allele 1, 1 = heterozygous, 2 = no copy.

    Returns
    -------
    float64 (P,): ``|D| * D / (pA pa pB pb)`` (the sign of D carried along), 0 when ``|D| < 2^-44``,
    NaN where a variant is monomorphic over the people called at both (PLINK never clumps those).
    """
    t = np.asarray(table, dtype=np.int64).reshape(-1, 9)
    P = t.shape[0]
    if P <= _SCALAR_MAX:
        return np.array([_haplotype_r2_one(row) for row in t.tolist()], dtype=np.float64)
    return _haplotype_r2_vec(t)


_SCALAR_MAX = 24  # below this many pairs the scalar path beats ~80 numpy calls


def em_r2_exceeds(table: np.ndarray, r2min: float) -> np.ndarray:
    """Boolean (k,): haplotype |r2| > ``r2min``, decided on PLINK's doubles.

    The vectorised path uses numpy's transcendental functions, which may differ from glibc's (PLINK's) in
    the last bit; pairs whose |r2| lies within 1e-9 (relative) of the threshold are recomputed with the
    scalar glibc path so the strict comparison sees the same value as PLINK.
    """
    t = np.asarray(table, dtype=np.int64).reshape(-1, 9)
    return _em_exceeds_k(*_hap_counts_of(t), r2min)


def _hap_counts_of(t: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(k11, k12, k21, k22, c)`` int64 (P,) of tables (P, 9): haplotype counts of the resolved genotypes
    and the double heterozygotes."""
    return (2 * t[:, 0] + t[:, 1] + t[:, 3], 2 * t[:, 2] + t[:, 1] + t[:, 5], 2 * t[:, 6] + t[:, 3] + t[:, 7],
            2 * t[:, 8] + t[:, 5] + t[:, 7], t[:, 4])


def _em_exceeds_k(k11: np.ndarray, k12: np.ndarray, k21: np.ndarray, k22: np.ndarray, c: np.ndarray,
                  r2min: float) -> np.ndarray:
    """:func:`em_r2_exceeds` from int64 (P,) haplotype counts (:func:`_hap_counts_of`)."""
    P = k11.shape[0]
    if P <= _SCALAR_MAX:
        r = np.array([_haplotype_r2_one_k(*x) for x in zip(k11.tolist(), k12.tolist(), k21.tolist(),
                                                          k22.tolist(), c.tolist())], dtype=np.float64)
    else:
        r = _haplotype_r2_k(k11, k12, k21, k22, c)
    with np.errstate(invalid="ignore"):
        a = np.abs(r)
        close = np.flatnonzero(np.abs(a - r2min) <= 1e-9 * max(abs(r2min), 1e-12))
        if close.size and P > _SCALAR_MAX:
            a[close] = np.abs([_haplotype_r2_one_k(int(k11[i]), int(k12[i]), int(k21[i]), int(k22[i]), int(c[i]))
                               for i in close])
        return a > r2min


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _subset(mask: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> x[mask]``, or the identity when every element is selected (no gather/copy)."""
    if mask.all():
        return _identity
    return lambda x: x[mask]


def _haplotype_r2_vec(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=np.int64).reshape(-1, 9)
    return _haplotype_r2_k(*_hap_counts_of(t))


def _haplotype_r2_k(k11i: np.ndarray, k12i: np.ndarray, k21i: np.ndarray, k22i: np.ndarray,
                    center_i: np.ndarray) -> np.ndarray:
    """Vectorised PLINK EM r2 (P,) from int64 haplotype counts (:func:`_hap_counts_of`)."""
    P = k11i.shape[0]
    out = np.full(P, np.nan)
    if P == 0:
        return out
    k11 = k11i.astype(np.float64)
    k12 = k12i.astype(np.float64)
    k21 = k21i.astype(np.float64)
    k22 = k22i.astype(np.float64)
    center = center_i.astype(np.float64)
    twice_tot = k11 + k12 + k21 + k22 + 2 * center
    ok = twice_tot != 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        recip = 1.0 / twice_tot
        f11 = k11 * recip
        f12 = k12 * recip
        f21 = k21 * recip
        f22 = k22 * recip
        p1122 = f11 * f22
        p1221 = f12 * f21
        h = center * recip
        freq1x = f11 + f12 + h
        freq2x = 1.0 - freq1x
        freqx1 = f11 + f21 + h
        freqx2 = 1.0 - freqx1
    freq11 = f11.copy()

    has_center = ok & (center_i > 0)
    ok &= has_center | (p1122 != 0.0) | (p1221 != 0.0)

    # candidate solutions for the 1-1 haplotype increment: up to 3 per pair
    cand = np.zeros((P, 3))
    lo = np.zeros(P, dtype=np.int64)
    hi = np.zeros(P, dtype=np.int64)
    cub = has_center & ((p1122 != 0.0) | (p1221 != 0.0))
    if cub.any():
        # typical large batches are all "cubic": skip the gathers then (same arithmetic either way)
        sub = _subset(cub)
        hc = sub(h)
        c11, c12, c21, c22 = sub(f11), sub(f12), sub(f21), sub(f22)
        ca = 0.5 * (c11 + c22 - c12 - c21 - 3 * hc)
        cb = 0.5 * (sub(p1122) + sub(p1221) + hc * (c12 + c21 - c11 - c22 + hc))
        cc = -0.5 * hc * sub(p1122)
        sol, nsol = _cubic_real_roots(ca, cb, cc)
        end = nsol.copy()
        col = np.arange(3)[None, :]
        # drop roots above h (+eps) from the top and below 0 (-eps) from the bottom
        above = (sol > (hc + SMALLISH_EPSILON)[:, None]) & (col < end[:, None])
        # roots are sorted, so the count of valid roots from the top is end - (# above)
        end = end - above.sum(axis=1)
        below = (sol < -SMALLISH_EPSILON) & (col < end[:, None])
        start = below.sum(axis=1)
        lost = start == end
        rows = np.arange(sol.shape[0])
        s2 = sol.copy()
        # clamp the boundary roots into [0, h]
        keep = ~lost
        si = start[keep]
        ei = end[keep] - 1
        rk = rows[keep]
        s2[rk, si] = np.where(s2[rk, si] < 0, 0.0, s2[rk, si])
        s2[rk, ei] = np.where(s2[rk, ei] > hc[keep], hc[keep], s2[rk, ei])
        s2[lost, 0] = 0.0
        s2[lost, 1] = hc[lost]
        start = np.where(lost, 0, start)
        end = np.where(lost, 2, end)
        if sub is _identity:
            cand, lo, hi = s2, start, end
        else:
            cand[cub] = s2
            lo[cub] = start
            hi[cub] = end
    nocub = has_center & ~cub
    if nocub.any():
        hn = h[nocub]
        xx = f11[nocub] + f22[nocub]
        xy = f12[nocub] + f21[nocub]
        three = (xx + SMALLISH_EPSILON < hn + xy) & (xy + SMALLISH_EPSILON < hn + xx)
        c3 = np.zeros((hn.shape[0], 3))
        c3[:, 1] = np.where(three, (hn + xy - xx) * 0.5, hn)
        c3[:, 2] = np.where(three, hn, 0.0)
        cand[nocub] = c3
        hi[nocub] = np.where(three, 3, 2)

    if has_center.any():
        sub = _subset(has_center)
        args = [sub(x) for x in (k11, k12, k21, k22, center, f11, f12, f21, f22, h)]
        c_cand, c_lo, c_hi = sub(cand), sub(lo), sub(hi)
        rows = np.arange(c_lo.shape[0])
        first = c_cand[rows, c_lo]
        best = first.copy()
        base_ll = _lnlike(*args, first)
        # PLINK compares every later root with the first root's likelihood (not the running best), so
        # the last root beating the first wins; reproduced on purpose
        for j in (1, 2):
            cj = c_lo + j
            valid = cj < c_hi
            if not valid.any():
                continue
            incr = c_cand[rows, np.minimum(cj, 2)]
            ll = _lnlike(*args, incr)
            take = valid & (ll > base_ll)
            best = np.where(take, incr, best)
        if sub is _identity:
            freq11 = f11 + best
        else:
            freq11[has_center] = f11[has_center] + best

    with np.errstate(divide="ignore", invalid="ignore"):
        expected = freqx1 * freq1x
        d = freq11 - expected
        ad = np.abs(d)
        r2 = np.where(ad >= SMALL_EPSILON, ad * d / (expected * freq2x * freqx2), 0.0)
    out[ok] = r2[ok]
    return out


def pearson_r2(table: np.ndarray) -> np.ndarray:
    """Genotype (allele-count) Pearson r2 from 3x3 tables (same layout as :func:`haplotype_r2`).

    NaN when a variant is monomorphic among the people called at both.
    """
    t = np.asarray(table, dtype=np.float64).reshape(-1, 9).reshape(-1, 3, 3)
    x = np.array([2.0, 1.0, 0.0])
    n = t.sum(axis=(1, 2))
    ra = t.sum(axis=2)
    cb = t.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = ra @ x / n
        my = cb @ x / n
        vx = ra @ (x * x) / n - mx * mx
        vy = cb @ (x * x) / n - my * my
        cxy = np.einsum("pab,a,b->p", t, x, x) / n - mx * my
        r2 = cxy * cxy / (vx * vy)
    r2[~((vx > 1e-12) & (vy > 1e-12))] = np.nan
    return r2


_RAW_OF_CAT = np.array([0, 2, 3, 1], dtype=np.uint8)  # category (0 hom, 1 het, 2 hom, 3 missing) -> raw code


def pair_tables(index_cat: np.ndarray, partner_cat: np.ndarray) -> np.ndarray:
    """3x3 genotype tables of one index against k partners over people called at both.

    ``index_cat`` (N,) and ``partner_cat`` (k, N) hold categories 0/1/2 and 3 = missing.
    Returns int64 (k, 9) in the layout of :func:`haplotype_r2` (index = locus 1).
    """
    from twasflow.io.plink import pack_codes

    cat = np.vstack([np.asarray(index_cat, dtype=np.uint8)[None, :], np.asarray(partner_cat, dtype=np.uint8)])
    bits = genotype_bits(pack_codes(_RAW_OF_CAT[cat]), cat.shape[1])
    return tables_from_bits(bits[0], bits[1:], cat.shape[1])


def genotype_bits(packed: np.ndarray, n: int, flip: np.ndarray | None = None) -> np.ndarray:
    """Category bitsets straight from PLINK-packed genotypes.

    Parameters
    ----------
    packed : uint8 (k, ceil(n/4)) PLINK 2-bit rows (first allele in the A1 role).
    n : number of people (padding bits beyond ``n`` are ignored).
    flip : optional bool (k,): swap the two homozygous categories (PLINK's A1 = minor re-orientation).

    Returns
    -------
    uint64 (k, 4, W): bitsets of categories 0 (two copies of allele 1), 1 (het), 2 (no copy), 3 (called),
    one bit per person (W = ceil(n/64) words).
    """
    packed = np.asarray(packed, dtype=np.uint8)
    k, nb = packed.shape
    W = (n + 63) // 64
    nb = min(nb, 16 * W)
    out = np.empty((k, 4, W), dtype=np.uint64)
    o8 = out.view(np.uint8).reshape(k, 4, 8 * W)
    lut = _category_lut()
    # in chunks of rows so the temporaries stay in the core's cache
    step = max(1, min(k, 1024))
    buf = np.zeros((step, 16 * W), dtype=np.uint8)
    x = np.empty((step, 8 * W), dtype=np.uint32)
    for s in range(0, k, step):
        e = min(k, s + step)
        m = e - s
        buf[:m, :nb] = packed[s:e, :nb]
        # two packed bytes (8 people) -> one byte per category plane through a 65536-entry table
        np.take(lut, buf[:m].view(np.uint16), out=x[:m], mode="clip")  # (m, 8W) uint32 = 4 plane bytes
        o8[s:e] = x[:m].view(np.uint8).reshape(m, 8 * W, 4).transpose(0, 2, 1)
    rem = n - 64 * (W - 1)
    if rem < 64:  # people past n (padding bits, zero or not, and the zero-filled bytes): in no category
        out[:, :, -1] &= np.uint64((1 << rem) - 1)
    if flip is not None and np.any(flip):
        f = np.asarray(flip, dtype=bool)
        out[f, 0], out[f, 2] = out[f, 2].copy(), out[f, 0].copy()
    return out


@functools.lru_cache(maxsize=1)
def _category_lut() -> np.ndarray:
    """uint32 (65536,): for 16 bits of PLINK codes (8 people, first in the lowest bits), the four bytes of
    category bits (byte c, bit j set if person j is in category c: 0 = code 00, 1 = code 10 (het),
    2 = code 11, 3 = called = not code 01)."""
    v = np.arange(65536, dtype=np.uint32)
    codes = (v[:, None] >> (2 * np.arange(8, dtype=np.uint32))) & 3
    planes = np.stack([codes == 0, codes == 2, codes == 3, codes != 1], axis=1)  # (65536, 4, 8)
    return np.ascontiguousarray(np.packbits(planes, axis=2, bitorder="little")[:, :, 0]).view(np.uint32)[:, 0]


def bit_counts(bits: np.ndarray) -> np.ndarray:
    """Popcounts (k, 4) of :func:`genotype_bits` output."""
    return _popsum(bits)


def tables_from_bits(
    index_bits: np.ndarray,
    partner_bits: np.ndarray,
    n: int,
    index_counts: np.ndarray | None = None,
    partner_counts: np.ndarray | None = None,
) -> np.ndarray:
    """3x3 tables (k, 9) over people called at both, from category bitsets (index (4, W), partners (k, 4, W)).

    ``n`` is the number of people; ``*_counts`` are :func:`bit_counts` of the bitsets (computed if not
    given). Four AND-popcounts give the (0/1) x (0/1) cells; the others follow from per-variant counts, with
    extra popcounts only where missing calls make the complete-pair margins differ from the variant margins.
    """
    k = partner_bits.shape[0]
    if k == 0:
        return np.zeros((0, 9), dtype=np.int64)
    ic = bit_counts(index_bits[None])[0] if index_counts is None else np.asarray(index_counts)
    pc = bit_counts(partner_bits) if partner_counts is None else np.asarray(partner_counts)
    both = np.bitwise_count(partner_bits[:, None, :2, :] & index_bits[None, :2, None, :]).sum(axis=3, dtype=np.int64)
    t = np.empty((k, 3, 3), dtype=np.int64)
    t[:, :2, :2] = both
    # index category a (0/1) among people called at the partner
    a_called = np.empty((k, 2), dtype=np.int64)
    a_called[:] = ic[:2]
    pmiss = pc[:, 3] < n
    if pmiss.any():
        a_called[pmiss] = np.bitwise_count(partner_bits[pmiss][:, None, 3, :] & index_bits[None, :2, :]).sum(
            axis=2, dtype=np.int64)
    t[:, :2, 2] = a_called - both[:, :, 0] - both[:, :, 1]
    if ic[3] < n:  # index has missing calls: partner margins over the index's called people
        b_called = np.bitwise_count(partner_bits[:, :2, :] & index_bits[None, 3:4, :]).sum(axis=2, dtype=np.int64)
        cc = np.bitwise_count(partner_bits[:, 3, :] & index_bits[None, 3, :]).sum(axis=1, dtype=np.int64)
    else:
        b_called = pc[:, :2]
        cc = pc[:, 3]
    t[:, 2, :2] = b_called - both[:, 0, :] - both[:, 1, :]
    t[:, 2, 2] = cc - t[:, :2, :].sum(axis=(1, 2)) - t[:, 2, :2].sum(axis=1)
    return t.reshape(k, 9)


EM_BOUND_ITERATIONS = 4
_BRACKET_MIN = 64
EM_ROOT_SLACK = 1e-5  # on the 1-1 haplotype frequency: covers closed-form root error near double roots


def em_r2_bounds(table: np.ndarray, iterations: int = EM_BOUND_ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds (k,) of PLINK's |haplotype r2| from 3x3 tables, without solving the cubic.

    The double heterozygotes' share x of 1-1/2-2 haplotypes that PLINK picks is a root of the cubic, i.e. a
    fixed point of the EM map T(x) = h A/(A + B) with A = (f11 + x)(f22 + x), B = (f12 + h - x)(f21 + h - x)
    on [0, h]. T is increasing (A grows, B shrinks with x), so iterating it from 0 and from h brackets every
    fixed point: they all lie in [T^n(0), T^n(h)]. D = f11 + x - pA pB is linear in x, so the bracket
    (widened by ``EM_ROOT_SLACK`` for the closed-form roots' rounding) bounds |D| and r2. NaN where the pair
    is monomorphic (over people called at both) or has no one called at both.
    """
    t = np.asarray(table, dtype=np.int64).reshape(-1, 9)
    return _bracket_bounds(2 * t[:, 0] + t[:, 1] + t[:, 3], 2 * t[:, 2] + t[:, 1] + t[:, 5],
                           2 * t[:, 6] + t[:, 3] + t[:, 7], 2 * t[:, 8] + t[:, 5] + t[:, 7], t[:, 4], iterations)


def _bracket_bounds(k11: np.ndarray, k12: np.ndarray, k21: np.ndarray, k22: np.ndarray, c: np.ndarray,
                    iterations: int = EM_BOUND_ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """:func:`em_r2_bounds` from the integer haplotype counts of the resolved genotypes (k11 = 2 n00 + n01 +
    n10, ...) and the double-heterozygote count ``c``.

    Worked in counts (frequencies times tot = 2 x people): the EM map is T(X) = c A / (A + B) with
    A = (k11 + X)(k22 + X), B = (k12 + c - X)(k21 + c - X), and r2 = (k11 + X - a b / tot)^2 / den with
    den = a (tot - a) b (tot - b) / tot^2 (a, b: allele-1 counts of the two variants).
    """
    tot_i = k11 + k12 + k21 + k22 + 2 * c
    a1 = k11 + k12 + c
    b1 = k11 + k21 + c
    poly = (a1 > 0) & (a1 < tot_i) & (b1 > 0) & (b1 < tot_i)  # decided on integers
    with np.errstate(divide="ignore", invalid="ignore"):
        K11 = k11.astype(np.float64)
        K22 = k22.astype(np.float64)
        P = (k12 + c).astype(np.float64)
        Q = (k21 + c).astype(np.float64)
        C = c.astype(np.float64)
        lo = np.zeros_like(C)
        hi = C
        # for a polymorphic pair A + B > 0 on [0, c]; elsewhere NaNs are masked below
        for _ in range(iterations):
            A = (K11 + lo) * (K22 + lo)
            lo = C * A / (A + (P - lo) * (Q - lo))
            A = (K11 + hi) * (K22 + hi)
            hi = C * A / (A + (P - hi) * (Q - hi))
        tot = tot_i.astype(np.float64)
        slack = EM_ROOT_SLACK * tot
        lo = np.maximum(lo - slack, 0.0)
        hi = np.minimum(hi + slack, C)
        af = a1.astype(np.float64)
        bf = b1.astype(np.float64)
        d0 = K11 - af * bf / tot
        da = d0 + lo
        db = d0 + hi
        den = np.where(poly, (af * (tot - af) / tot) * (bf * (tot - bf) / tot), np.nan)
        ub = np.maximum(da * da, db * db) / den
        dmin = np.where((da <= 0) & (db >= 0), 0.0, np.minimum(np.abs(da), np.abs(db)))
        lb = dmin * dmin / den
    return lb, ub


def em_r2_decide(table: np.ndarray, r2min: float) -> np.ndarray:
    """Boolean (k,): PLINK's |haplotype r2| > ``r2min``, with the EM solved only where the bracket of
    :func:`em_r2_bounds` straddles the threshold (relative slack 1e-9 plus 1e-12 either way)."""
    t = np.asarray(table, dtype=np.int64).reshape(-1, 9)
    return _decide_k(*_hap_counts_of(t), r2min)


def _decide_from_counts(counts: tuple[np.ndarray, ...], idx: np.ndarray, r2min: float) -> np.ndarray:
    """:func:`em_r2_decide` for the pairs ``idx`` of :func:`_window_counts` output, without building the
    3x3 tables."""
    return _decide_k(*(x[idx] for x in _hap_counts_from_window(counts)), r2min)


def r2_upper_bound(table: np.ndarray) -> np.ndarray:
    """Upper bound of the haplotype r2 over every split of the double heterozygotes (k,).

    The 1-1 haplotype frequency lies in [f11, f11 + h] (h = double-het share), so |D| is at most the
    larger end; used to skip the cubic for pairs that cannot pass the threshold. NaN when undefined.
    """
    t = np.asarray(table, dtype=np.float64).reshape(-1, 9)
    k11 = 2 * t[:, 0] + t[:, 1] + t[:, 3]
    k12 = 2 * t[:, 2] + t[:, 1] + t[:, 5]
    k21 = 2 * t[:, 6] + t[:, 3] + t[:, 7]
    c = t[:, 4]
    tot = 2 * t.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f11 = k11 / tot
        h = c / tot
        pa = (k11 + k12 + c) / tot
        pb = (k11 + k21 + c) / tot
        e = pa * pb
        d = np.maximum(np.abs(f11 - e), np.abs(f11 + h - e))
        return d * d / (e * (1 - pa) * (1 - pb))


# ----------------------------------------------------------------------------------------------------
# the greedy PLINK clumping core
# ----------------------------------------------------------------------------------------------------


@dataclass
class ClumpRecord:
    """One clump in PLINK order. ``row`` and ``members`` are positions in the marker universe."""

    chrom: str
    fidx: int
    snp: str
    bp: int
    p: float
    bins: tuple[int, int, int, int, int]  # NSIG, S05, S01, S001, S0001
    sp2: list[tuple[str, int]]  # (variant id, file number), PLINK order
    row: int
    members: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def total(self) -> int:
        return int(sum(self.bins))


@dataclass
class AssocEntries:
    """Association rows mapped to a marker universe (PLINK's per-variant entry lists, flattened).

    ``marker``/``p``/``fidx`` are sorted in PLINK list order: by marker, then file number ascending, then
    line descending (PLINK prepends rows as it reads them). ``nsig`` counts rows with p >= 0.05 that were
    above the load threshold (they only add to NSIG). ``missing`` lists ids absent from the universe with
    p <= p1.
    """

    marker: np.ndarray
    p: np.ndarray
    fidx: np.ndarray
    nsig: np.ndarray
    missing: list[tuple[str, float]] = field(default_factory=list)


def load_threshold(p1: float, p2: float) -> float:
    """PLINK's load threshold: rows with p above it only count as NSIG."""
    t = 0.05
    if p2 > t:
        t = p2
    if p1 >= t:
        t = p1 * (1 + SMALL_EPSILON)
    return t


def bp_radius(kb: float) -> int:
    """PLINK's maximum distance in bp for ``--clump-kb kb``: ``int(kb*1000*(1+2^-44) - 1)``."""
    if not kb >= 0.001:
        raise ClumpError.at("invalid clump kb", column="kb", found=kb, expected=">= 0.001")
    d = kb * 1000
    if d > 2147483647.0:
        return 0x7FFFFFFE
    return int(d * (1 + SMALL_EPSILON) - 1)


def build_entries(
    marker: np.ndarray,
    p: np.ndarray,
    fidx: np.ndarray,
    line: np.ndarray,
    n_markers: int,
    p1: float,
    p2: float,
    ids: np.ndarray | None = None,
    source: Sequence[str] | None = None,
) -> AssocEntries:
    """Turn parsed association rows into PLINK entry lists.

    Parameters
    ----------
    marker : int (n,), universe position of each row's variant, -1 if absent.
    p : float (n,), NaN for a non-numeric p (such rows are skipped silently, as PLINK).
    fidx : int (n,), 1-based file number; line : int (n,), 1-based line number in that file.
    ids : the rows' variant ids (for the missing-variant list and error messages).
    source : file names by file number - 1 (error messages).
    """
    marker = np.asarray(marker, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    fidx = np.asarray(fidx, dtype=np.int64)
    line = np.asarray(line, dtype=np.int64)
    good = ~np.isnan(p)
    neg = good & (p < 0)
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise ClumpError.at("negative p-value", file=_src(source, fidx[i]), row=int(line[i]),
                            found=p[i], expected="0 <= p <= 1")
    lt = load_threshold(p1, p2)
    absent = good & (marker < 0)
    missing: list[tuple[str, float]] = []
    if ids is not None:
        top = np.flatnonzero(absent & (p <= p1))
        missing = list(zip(_strings(ids, top), p[top].tolist()))
    inuni = good & (marker >= 0)
    high = inuni & (p > lt)
    over = high & (p > 1)
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise ClumpError.at("p-value > 1", file=_src(source, fidx[i]), row=int(line[i]),
                            found=p[i], expected="0 <= p <= 1")
    nsig = np.bincount(marker[high & (p >= 0.05)], minlength=n_markers).astype(np.int64)
    keep = inuni & ~high
    m, pp, ff, ll = marker[keep], p[keep], fidx[keep], line[keep]
    order = np.lexsort((-ll, ff, m))
    return AssocEntries(marker=m[order], p=pp[order], fidx=ff[order], nsig=nsig, missing=missing)


def _strings(ids: Any, rows: np.ndarray) -> list[str]:
    """``ids[rows]`` as Python strings; ``ids`` is a numpy/sequence of str or a ``StringColumn``."""
    rows = np.asarray(rows, dtype=np.int64)
    if hasattr(ids, "strings") and not isinstance(ids, np.ndarray):
        return ids.strings(rows)
    return [str(x) for x in np.asarray(ids, dtype=object)[rows].tolist()]


def _chrom_codes(chrom: Any) -> tuple[np.ndarray, list[str]]:
    """Integer codes (M,) and distinct names of a chromosome column (names in order of first appearance).

    ``chrom`` is an array of names or a ``(codes, names)`` pair (taken as they are). For names, runs of
    equal neighbours are found first: a panel is sorted by chromosome, so only the run heads are hashed.
    """
    if isinstance(chrom, tuple):
        codes, names = chrom
        return np.asarray(codes, dtype=np.int64), [str(x) for x in names]
    arr = np.asarray(chrom)
    if arr.dtype.kind not in "OUS":
        arr = arr.astype(str)
    M = arr.shape[0]
    if M == 0:
        return np.zeros(0, dtype=np.int64), []
    change = np.flatnonzero(arr[1:] != arr[:-1]) + 1
    heads = [str(x) for x in arr[np.concatenate([[0], change])].tolist()]
    names = list(dict.fromkeys(heads))
    code_of = {n: i for i, n in enumerate(names)}
    lengths = np.diff(np.concatenate([[0], change, [M]]))
    return np.repeat(np.array([code_of[h] for h in heads], dtype=np.int64), lengths), names


def _src(source: Sequence[str] | None, f: int) -> str | None:
    if source is None:
        return None
    return str(source[int(f) - 1])


def _bins(p: np.ndarray) -> np.ndarray:
    """Counts per PLINK bin (NSIG, S05, S01, S001, S0001) of the p-values given."""
    b = np.where(p < 0.001, np.where(p < 0.0001, 4, 3), np.where(p < 0.01, 2, np.where(p < 0.05, 1, 0)))
    return np.bincount(b, minlength=5)


def clump_plink(
    chrom: np.ndarray,
    pos: np.ndarray,
    ids: np.ndarray,
    entries: AssocEntries,
    genotypes: Callable[[np.ndarray], np.ndarray],
    n_samples: int,
    *,
    p1: float = 1e-4,
    p2: float = 0.01,
    r2: float = 0.5,
    kb: float = 250,
    allow_overlap: bool = False,
    r2_method: R2Method = "haplotype",
) -> list[ClumpRecord]:
    """PLINK 1.9 ``--clump`` on a marker universe.

    Parameters
    ----------
    chrom, pos, ids : (M,) the universe in panel order; each chromosome contiguous, positions sorted.
        ``chrom`` may be a ``(codes (M,), names)`` pair and ``ids`` a ``twasflow.io.plink.StringColumn``
        (only the ids that are printed are converted to Python strings).
    entries : association rows mapped to the universe (:func:`build_entries`).
    genotypes : ``rows -> uint8 (k, ceil(n_samples/4))`` PLINK-packed 2-bit rows (counted allele in the A1
        role, founders only) for universe rows of one chromosome.
    n_samples : number of people in the packed rows.
    p1, p2, r2, kb, allow_overlap : PLINK's ``--clump-p1/-p2/-r2/-kb/--clump-allow-overlap``.
    r2_method : ``"haplotype"`` (PLINK) or ``"pearson"`` (genotype correlation, for comparison).

    Returns
    -------
    Clump records in PLINK output order.
    """
    ccode, cnames = _chrom_codes(chrom)  # integer chromosome codes: cheap comparisons on 1M rows
    pos = np.asarray(pos, dtype=np.int64)
    if isinstance(ids, (list, tuple)):
        ids = np.asarray(ids, dtype=object)
    M = pos.shape[0]
    radius = bp_radius(kb)
    if r2_method not in ("haplotype", "pearson"):
        raise ClumpError.at("unknown r2 method", column="r2_method", found=r2_method,
                            expected="haplotype or pearson")

    em, ep, ef = entries.marker, entries.p, entries.fidx
    nsig = entries.nsig
    # entries are grouped by marker: per-marker counts give each marker's [start, end) range
    n_entries = np.bincount(em, minlength=M).astype(np.int64)
    ends = np.cumsum(n_entries)
    starts = ends - n_entries
    minp = np.full(M, np.inf)
    if em.size:
        has = np.flatnonzero(n_entries)
        minp[has] = np.minimum.reduceat(ep, starts[has])  # entries are grouped by marker
        is_index = np.zeros(M, dtype=bool)
        is_index[em[ep <= p1]] = True
    else:
        is_index = np.zeros(M, dtype=bool)
    index_rows = np.flatnonzero(is_index)
    if index_rows.size == 0:
        return []
    order = np.lexsort((index_rows, minp[index_rows]))
    index_rows = index_rows[order]
    candidate = (n_entries > 0) | (nsig > 0)

    # chromosome blocks
    change = np.flatnonzero(ccode[1:] != ccode[:-1]) + 1
    bstart = np.concatenate([[0], change])
    bend = np.concatenate([change, [M]])
    if len(set(ccode[bstart].tolist())) != len(bstart):
        raise ClumpError.at("variants of a chromosome are not contiguous in the panel", found="split chromosome",
                            expected="panel sorted by chromosome")
    block_of = np.repeat(np.arange(bstart.size), bend - bstart)
    if M > 1:
        same = ccode[1:] == ccode[:-1]
        if np.any(np.diff(pos)[same] < 0):
            raise ClumpError.at("panel positions are not sorted within a chromosome",
                                expected="sorted positions (as PLINK requires for --clump)")

    clumped = np.zeros(M, dtype=bool)  # known to be in some clump (index flags too)
    cache: dict[int, _Block] = {}
    records: list[ClumpRecord] = []
    haplotype = r2_method == "haplotype"

    def block_data(b: int) -> _Block:
        if b not in cache:
            cache.clear()  # one chromosome's bitsets at a time
            rows = np.flatnonzero(candidate[bstart[b]:bend[b]]) + bstart[b]
            # only variants within reach of some index variant of this chromosome are ever read
            ipos = np.sort(pos[index_rows[block_of[index_rows] == b]])
            rp = pos[rows]
            j = np.searchsorted(ipos, rp - radius, "left")
            reach = (j < ipos.size) & (ipos[np.minimum(j, ipos.size - 1)] <= rp + radius)
            rows = rows[reach]
            cache[b] = _Block.build(rows, pos[rows], np.asarray(genotypes(rows), dtype=np.uint8), n_samples)
        return cache[b]

    def _record(iv: int, members: np.ndarray) -> ClumpRecord:
        """Bins, SP2 and clumped flags for index ``iv`` absorbing ``members`` (panel order)."""
        i0, i1 = int(starts[iv]), int(ends[iv])
        pmin = minp[iv]
        if members.size == 0 and i1 - i0 == 1:  # common case: nothing absorbed, one association row
            rec = ClumpRecord(chrom=cnames[ccode[iv]], fidx=int(ef[i0]), snp="", bp=int(pos[iv]),
                              p=float(pmin), bins=(int(nsig[iv]), 0, 0, 0, 0), sp2=[], row=iv, members=members)
            pending.append((rec, members[:0], members[:0]))
            return rec
        ms = starts[members]
        eidx = _ranges(ms, ends[members] - ms)
        mp, mf, mm = ep[eidx], ef[eidx], em[eidx]
        # the index's own rows: all but the first one with the minimum p count as extra rows
        self_pos = int(np.flatnonzero(ep[i0:i1] == pmin)[0])
        extra = np.delete(np.arange(i0, i1), self_pos)
        bins = _bins(np.concatenate([mp, ep[extra]]))
        bins[0] += int(nsig[members].sum()) + int(nsig[iv])
        # SP2: members before the index, the index's extra rows, members after
        before = mm < iv
        sp_rows = np.concatenate([mm[before], np.full(extra.size, iv), mm[~before]])
        sp_f = np.concatenate([mf[before], ef[extra], mf[~before]])
        sp_p = np.concatenate([mp[before], ep[extra], mp[~before]])
        keep = sp_p < p2
        clumped[members] = True
        rec = ClumpRecord(
            chrom=cnames[ccode[iv]], fidx=int(ef[i0 + self_pos]), snp="", bp=int(pos[iv]), p=float(pmin),
            bins=tuple(int(x) for x in bins), sp2=[], row=iv, members=members,
        )
        pending.append((rec, sp_rows[keep], sp_f[keep]))
        return rec

    # Clumps never cross chromosomes: each chromosome is processed on its own (one chromosome's bitsets
    # in memory), index variants in PLINK's global order. Each index's window pairs are split into members
    # (a bound decides), non-members, and undecided pairs whose exact EM is deferred: the undecided pairs of
    # all clumps are solved in one vectorised call at the end (a flush). Only an index candidate that is an
    # undecided partner of an earlier clump needs an answer earlier (is it absorbed?): its own pairs are
    # solved then, one by one. A pair's r2 does not depend on the order, so deferring changes nothing but the
    # batching; partners not yet known to be absorbed are simply evaluated again by later clumps, and at the
    # flush clumps are completed in processing order, each taking only members no earlier clump took.
    block_order = block_of[index_rows]
    grouped = np.argsort(block_order, kind="stable")
    recs_by_pos: dict[int, ClumpRecord] = {}
    # (record, SP2 rows, SP2 file numbers): ids are turned into strings once, after the loop
    pending: list[tuple[ClumpRecord, np.ndarray, np.ndarray]] = []
    # clumps whose members are not final yet: (position in PLINK order, index row, sure members, undecided
    # partners, their haplotype counts, their decisions: -1 not solved yet, 0 no, 1 yes)
    open_: list[tuple[int, int, np.ndarray, np.ndarray, tuple[np.ndarray, ...], np.ndarray]] = []
    # undecided pairs by partner row, as linked lists in numpy arrays (appended clump by clump, no Python
    # loop over pairs): entry e = (open clump e_clump[e], position e_at[e]); head[row] is the row's latest
    # entry, e_next[e] the one before it (-1 ends the list)
    head = np.full(M, -1, dtype=np.int64)
    entries_ = np.empty((3, 4096), dtype=np.int64)  # e_clump, e_at, e_next
    n_ent = 0
    taken = np.zeros(M, dtype=bool)  # final members so far (allow_overlap off)

    def flush() -> None:
        todo = [(o, np.flatnonzero(o[5] < 0)) for o in open_ if o[3].size]
        todo = [(o, t) for o, t in todo if t.size]
        if todo:
            ok = _em_exceeds_k(*(np.concatenate([o[4][i][t] for o, t in todo]) for i in range(5)), r2)
            at = 0
            for o, t in todo:
                o[5][t] = ok[at:at + t.size]
                at += t.size
        for gi, iv, sure, und, _, res in open_:
            members = np.sort(np.concatenate([sure, und[res > 0]])) if und.size else sure  # disjoint
            if not allow_overlap:
                members = members[~taken[members]]
                taken[members] = True
            recs_by_pos[gi] = _record(iv, members)
        open_.clear()

    def absorbed(iv: int) -> bool:
        """Whether an open clump absorbs ``iv``, an undecided partner there: its pairs are solved one by one
        (scalar EM, PLINK's arithmetic) in clump order until one passes."""
        chain = []
        e = int(head[iv])
        while e >= 0:
            chain.append(e)
            e = int(entries_[2, e])
        head[iv] = -1
        for e in reversed(chain):  # earliest clump first
            j, at = int(entries_[0, e]), int(entries_[1, e])
            kk, res = open_[j][4], open_[j][5]
            res[at] = abs(_haplotype_r2_one_k(*(int(x[at]) for x in kk))) > r2
            if res[at]:
                return True
        return False

    for gi in grouped:
        iv = int(index_rows[gi])
        if clumped[iv]:
            continue
        if head[iv] >= 0 and absorbed(iv):
            clumped[iv] = True
            continue
        blk = block_data(int(block_order[gi]))
        rows, rpos = blk.rows, blk.pos
        bp = int(pos[iv])
        lo = int(np.searchsorted(rpos, bp - radius, "left"))
        hi = int(np.searchsorted(rpos, bp + radius + 1, "left"))
        ii = int(np.searchsorted(rows, iv))
        wrows = rows[lo:hi]
        sel = wrows != iv
        if not allow_overlap:
            sel &= ~clumped[wrows]
        if haplotype and not blk.miss[ii]:
            # cheapest test first: allele frequencies alone cap r2 (most pairs at r2 0.5 stop here)
            sel &= _freq_bound_allows(blk.odds[ii], blk.odds[lo:hi], blk.miss[lo:hi], r2)
        # PLINK marks the index itself clumped only when it has extra rows or NSIG rows
        if ends[iv] - starts[iv] > 1 or nsig[iv] > 0:
            clumped[iv] = True
        cand = np.flatnonzero(sel) + lo  # block rows
        sure = und = wrows[:0]
        kk: tuple[np.ndarray, ...] = ()
        if cand.size and haplotype:
            sure_i, und_i, kk = blk.classify(ii, cand, r2, n_samples)
            sure, und = rows[sure_i], rows[und_i]
            if und.size:
                m = und.size
                if n_ent + m > entries_.shape[1]:
                    entries_ = np.concatenate([entries_, np.empty((3, max(n_ent + m, 2 * entries_.shape[1])),
                                                                  dtype=np.int64)], axis=1)
                ids_ = np.arange(n_ent, n_ent + m)
                entries_[0, ids_] = len(open_)
                entries_[1, ids_] = np.arange(m)
                entries_[2, ids_] = head[und]  # rows are unique within a clump
                head[und] = ids_
                n_ent += m
        elif cand.size:
            counts = _window_counts(blk.bits, blk.cnt, blk.miss, ii, cand, n_samples)
            with np.errstate(invalid="ignore"):
                sure = rows[cand[pearson_r2(_full_tables(counts, slice(None))) > r2]]
        clumped[sure] = True
        open_.append((int(gi), iv, sure, und, kk, np.full(und.size, -1, dtype=np.int8)))
    flush()
    if pending:
        rows_all = np.concatenate([np.concatenate([[r.row], sr]) for r, sr, _ in pending]).astype(np.int64)
        names = iter(_strings(ids, rows_all))
        for r, sr, sf in pending:
            r.snp = next(names)
            r.sp2 = list(zip([next(names) for _ in range(sr.size)], sf.tolist()))
    for gi in sorted(recs_by_pos):
        records.append(recs_by_pos[gi])
    return records


_M8 = np.uint64(0x00FF00FF00FF00FF)


def _sum8(c: np.ndarray) -> np.ndarray:
    """Sum of each run of 8 uint8 popcounts (last axis, length 8) as int64: byte-lane arithmetic is much
    faster than a reduction over such a short axis."""
    v = np.ascontiguousarray(c).view(np.uint64)[..., 0]
    s = (v & _M8) + ((v >> np.uint64(8)) & _M8)
    return ((s * np.uint64(0x0001000100010001)) >> np.uint64(48)).astype(np.int64)


def _hsum8(v: np.ndarray) -> np.ndarray:
    """Sum of the 8 byte lanes of each uint64 (k,) as int64 (lanes up to 255)."""
    s = (v & _M8) + ((v >> np.uint64(8)) & _M8)
    return ((s * np.uint64(0x0001000100010001)) >> np.uint64(48)).astype(np.int64)


def _popsum(x: np.ndarray) -> np.ndarray:
    """Popcount summed over the last axis (W words)."""
    c = np.bitwise_count(x)
    W = c.shape[-1]
    if W % 8 == 0:
        return _sum8(c.reshape(c.shape[:-1] + (W // 8, 8))).sum(axis=-1) if W > 8 else _sum8(c)
    return c.sum(axis=-1, dtype=np.int64)


def _window_counts(bits: np.ndarray, cnt: np.ndarray, miss: np.ndarray, ii: int, rows: np.ndarray,
                   n: int) -> tuple[np.ndarray, ...]:
    """Cell counts of row ``ii`` (index) against ``rows`` (partners) of category bitsets ``bits`` (k, 4, W)
    with popcounts ``cnt`` (k, 4) and missing-call flags ``miss`` (k,).

    Returns ``(both (k, 2, 2), a_called (k, 2), b_called (k, 2), cc (k,))``: ``both[:, a, b]`` = people with
    index category a and partner category b (a, b in {0 = two copies, 1 = het}); ``a_called`` = index
    category a among people called at the partner; ``b_called`` = partner category b among people called
    at the index; ``cc`` = people called at both. The full 3x3 table follows (:func:`_full_tables`).
    """
    k = rows.shape[0]
    W = bits.shape[2]
    part = bits[rows, :2, :].reshape(k, 2 * W)
    ib = bits[ii]
    x = np.empty((k, 2, 2 * W), dtype=np.uint64)
    # index planes 0/1 repeated to AND against both partner planes in one pass
    np.bitwise_and(part, np.concatenate([ib[0], ib[0]]), out=x[:, 0])
    np.bitwise_and(part, np.concatenate([ib[1], ib[1]]), out=x[:, 1])
    both = _popsum(x.reshape(k, 2, 2, W))
    ic = cnt[ii]
    a_called = np.empty((k, 2), dtype=np.int64)
    a_called[:] = ic[:2]
    pm = np.flatnonzero(miss[rows])
    if pm.size:  # partners with missing calls: index margins over their called people
        a_called[pm] = _popsum(bits[rows[pm]][:, None, 3, :] & ib[None, :2, :])
    if miss[ii]:  # index with missing calls: partner margins over the index's called people
        pb = bits[rows]
        b_called = _popsum(pb[:, :2, :] & ib[None, 3:4, :])
        cc = _popsum(pb[:, 3, :] & ib[None, 3, :])
    else:
        b_called = cnt[rows, :2]
        cc = cnt[rows, 3]
    return both, a_called, b_called, cc


def _hap_counts_from_window(counts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """``(k11, k12, k21, k22, c)`` int64 (k,) (see :func:`_hap_counts_of`) from :func:`_window_counts`."""
    both, a_called, b_called, cc = counts
    n00, n01, n10, n11 = both[:, 0, 0], both[:, 0, 1], both[:, 1, 0], both[:, 1, 1]
    n02 = a_called[:, 0] - n00 - n01
    n12 = a_called[:, 1] - n10 - n11
    n20 = b_called[:, 0] - n00 - n10
    n21 = b_called[:, 1] - n01 - n11
    n22 = cc - (n00 + n01 + n02 + n10 + n11 + n12) - n20 - n21
    return (2 * n00 + n01 + n10, 2 * n02 + n01 + n12, 2 * n20 + n10 + n21, 2 * n22 + n12 + n21, n11)


def _table_bound(k11: np.ndarray, c: np.ndarray, a: Any, b: Any, tot: Any) -> np.ndarray:
    """Upper bound (k,) of PLINK's |haplotype r2| over every split of the double heterozygotes.

    Integer inputs: ``k11`` haplotype count (:func:`_hap_counts_of`), ``c`` double heterozygotes, ``a``/``b``
    allele-1 copies at the index/partner and ``tot`` = 2 x people called at both (scalars or (k,)). The 1-1
    haplotype count lies in [k11, k11 + c], so with D*tot = k11 + x - a b / tot, r2 = (D tot)^2 tot^2 /
    (a (tot - a) b (tot - b)) is at most its value at the larger end. NaN where a variant is monomorphic
    over the people called at both (PLINK's r2 is NaN there and never clumps).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        dlo = k11 - (a * (1.0 / tot)) * b
        dhi = dlo + c
        d2 = np.maximum(dlo * dlo, dhi * dhi)
        den = (a * (tot - a) * (1.0 / tot)) * (b * (tot - b) * (1.0 / tot))
        return np.where(den > 0, d2 / den, np.nan)


def _classify_k(k11: np.ndarray, k12: np.ndarray, k21: np.ndarray, k22: np.ndarray, c: np.ndarray,
                r2min: float) -> tuple[np.ndarray, np.ndarray]:
    """Split pairs (int64 haplotype counts) into ``(sure, undecided)`` bool (k,) masks by the EM bracket of
    :func:`em_r2_bounds`: sure = |r2| > ``r2min`` certainly, undecided = the exact EM must decide, the rest
    are certainly not above. Batches of at most ``_BRACKET_MIN`` pairs are all undecided (the bracket's
    per-call overhead exceeds the EM's there). Relative slack 1e-9 plus 1e-12 either way."""
    k = k11.shape[0]
    if k <= _BRACKET_MIN:
        return np.zeros(k, dtype=bool), np.ones(k, dtype=bool)
    lb, ub = _bracket_bounds(k11, k12, k21, k22, c)
    with np.errstate(invalid="ignore"):
        sure = lb * (1 - 1e-9) - 1e-12 > r2min
        out_ = ub * (1 + 1e-9) + 1e-12 <= r2min
    return sure, ~sure & ~out_


def _decide_k(k11: np.ndarray, k12: np.ndarray, k21: np.ndarray, k22: np.ndarray, c: np.ndarray,
              r2min: float) -> np.ndarray:
    """Bool (k,): PLINK's |haplotype r2| > ``r2min`` (bracket, then the exact EM on the undecided)."""
    sure, rest = _classify_k(k11, k12, k21, k22, c, r2min)
    ok = sure.copy()
    if rest.any():
        ok[rest] = _em_exceeds_k(k11[rest], k12[rest], k21[rest], k22[rest], c[rest], r2min)
    return ok


@dataclass
class _Block:
    """Genotypes of the clumping candidates of one chromosome, ready for pair counting.

    ``rows``/``pos`` (k,) universe rows and positions (sorted); ``bits`` (k, 4, W) category bitsets
    (:func:`genotype_bits`) with allele 1 re-oriented to the minor allele as PLINK does; ``cnt`` (k, 4)
    their popcounts; ``acount`` (k,) int64 copies of allele 1; ``miss`` (k,) some person not called and
    ``miss_cs`` (k + 1,) its running count; ``odds`` (k,) minor-allele odds m/(1 - m).
    """

    rows: np.ndarray
    pos: np.ndarray
    bits: np.ndarray
    cnt: np.ndarray
    acount: np.ndarray
    miss: np.ndarray
    miss_cs: np.ndarray
    odds: np.ndarray

    @classmethod
    def build(cls, rows: np.ndarray, pos: np.ndarray, packed: np.ndarray, n: int) -> "_Block":
        """From PLINK-packed rows (k, ceil(n/4)) of ``n`` people."""
        bits = genotype_bits(packed, n)
        cnt = bit_counts(bits)
        # PLINK re-orients A1 to the minor allele (freq(A1) > 0.5 among called founders): r2 is invariant,
        # but orienting the same way keeps the floating-point path identical
        flip = 2 * cnt[:, 3] - (2 * cnt[:, 0] + cnt[:, 1]) < cnt[:, 3]
        if flip.any():
            bits[flip, 0], bits[flip, 2] = bits[flip, 2].copy(), bits[flip, 0].copy()
            cnt[flip, 0], cnt[flip, 2] = cnt[flip, 2].copy(), cnt[flip, 0].copy()
        called = cnt[:, 3]
        acount = 2 * cnt[:, 0] + cnt[:, 1]
        miss = called < n
        with np.errstate(divide="ignore", invalid="ignore"):
            # odds of the minor allele among called people (exact per-pair margins for variants without
            # missing calls), for the frequency-only r2 bound
            minor = np.minimum(acount, 2 * called - acount)
            odds = minor / (2.0 * called - minor)
        return cls(rows, pos, bits, cnt, acount, miss, np.concatenate([[0], np.cumsum(miss)]), odds)

    _CHUNK = 1024  # partners per AND/popcount pass: the temporaries stay in the core's cache

    def k11_c(self, ii: int, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(k11, c)`` int64 (k,) of index ``ii`` against partners ``cand`` (sorted block rows), both
        without missing calls.

        With index planes I0 (two copies), I1 (het), I2 (no copy) and the partner's P0, P1, P2, everyone
        called: k11 = 2 n00 + n01 + n10 = (n00 + n10) + (|I0| - n02) = |(I0 | I1) & P0| + |I0| - |I0 & P2| and
        c = n11 = |I1 & P1|, i.e. three AND-popcounts of the partner's first three planes against
        [I0 | I1, I1, I0]. A dense candidate set is counted on its contiguous span (no gather), a sparse one
        after a gather.
        """
        bits = self.bits
        W = bits.shape[2]
        ib = bits[ii]
        ivec = np.stack([ib[0] | ib[1], ib[1], ib[0]])
        c0, c1 = int(cand[0]), int(cand[-1]) + 1
        dense = 2 * cand.shape[0] >= c1 - c0
        src = bits[c0:c1, :3] if dense else bits[cand, :3]
        k = src.shape[0]
        pc = np.empty((k, 3, W), dtype=np.uint8)
        step = self._CHUNK
        x = np.empty((min(k, step), 3, W), dtype=np.uint64)
        for s in range(0, k, step):
            e = min(k, s + step)
            np.bitwise_and(src[s:e], ivec, out=x[:e - s])
            np.bitwise_count(x[:e - s], out=pc[s:e])
        if W % 8 == 0:
            # byte-lane arithmetic on 8 word popcounts at a time (each <= 64): v0 + (64 - v2) <= 128 per lane
            v = pc.view(np.uint64).reshape(k, 3, W // 8)
            k11 = _hsum8(v[:, 0] + (np.uint64(0x4040404040404040) - v[:, 2]))
            c = _hsum8(v[:, 1])
            if W == 8:
                k11, c = k11[:, 0], c[:, 0]
            else:
                k11, c = k11.sum(axis=1), c.sum(axis=1)
            k11 += int(self.cnt[ii, 0]) - 64 * W
        else:
            sums = pc.sum(axis=2, dtype=np.int64)
            k11, c = sums[:, 0] - sums[:, 2] + self.cnt[ii, 0], sums[:, 1]
        if dense:
            pick = cand - c0
            return k11[pick], c[pick]
        return k11, c

    def classify(self, ii: int, cand: np.ndarray, r2min: float, n: int
                 ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
        """Haplotype-r2 decisions of index ``ii`` against partners ``cand`` (sorted block rows).

        Returns block rows of the sure members, block rows of the undecided pairs, and the undecided
        pairs' haplotype counts ``(k11, k12, k21, k22, c)`` for :func:`_em_exceeds_k`. Pairs whose table
        bound (:func:`_table_bound`) is at or below the threshold are dropped first; the EM bracket
        (:func:`_classify_k`) splits the others.
        """
        if not self.miss[ii] and self.miss_cs[cand[-1] + 1] == self.miss_cs[cand[0]]:
            # no missing calls: margins are the variants' own, only k11 and c are counted per pair
            a = int(self.acount[ii])
            tot = 2 * n
            if a == 0 or a == tot:
                return cand[:0], cand[:0], ()
            k11, c = self.k11_c(ii, cand)
            b = self.acount[cand]
            # _table_bound(...) * (1 + 1e-9) + 1e-12 > r2min without the division: d^2 > r2s * den
            r2s = (r2min - 1e-12) / (1 + 1e-9)
            dlo = k11 - (a / tot) * b
            dhi = dlo + c
            den = (b * (tot - b)) * (a * (tot - a) / (tot * tot))
            need = np.flatnonzero((np.maximum(dlo * dlo, dhi * dhi) > r2s * den) & (den > 0))
            k11, c, b = k11[need], c[need], b[need]
            kk = (k11, a - k11 - c, b - k11 - c, tot - a - b + k11, c)
        else:
            kk = _hap_counts_from_window(_window_counts(self.bits, self.cnt, self.miss, ii, cand, n))
            k11, k12, k21, k22, c = kk
            a, b = k11 + k12 + c, k11 + k21 + c
            need = np.flatnonzero(_table_bound(k11, c, a, b, a + k21 + k22 + c) * (1 + 1e-9) + 1e-12 > r2min)
            kk = tuple(x[need] for x in kk)
        part = cand[need]
        sure, und = _classify_k(*kk, r2min)
        return part[sure], part[und], tuple(x[und] for x in kk)


def _freq_bound_allows(o: float, oq: np.ndarray, q_miss: np.ndarray, r2: float) -> np.ndarray:
    """False where allele frequencies alone keep the haplotype r2 at or below ``r2`` (k,).

    ``o``, ``oq``: odds m/(1-m) of the minor-allele frequencies m of the index and the partners. Every
    haplotype table with allele frequencies p, q has D in [max(-pq, -(1-p)(1-q)), min(p(1-q), (1-p)q)];
    for minor-allele frequencies that gives r2 <= min(o, oq) / max(o, oq) (PLINK's EM picks haplotype
    frequencies with these margins). Only valid where neither variant has missing calls (then the margins
    over people called at both are the variants' own): partners in ``q_miss`` always pass. A monomorphic
    variant (odds 0) never passes (its r2 is undefined and never clumps). Same slack as the table bound:
    a pair is dropped only if bound * (1 + 1e-9) + 1e-12 <= r2.
    """
    r2s = (r2 - 1e-12) / (1 + 1e-9)
    if r2s <= 0:
        return np.ones(oq.shape[0], dtype=bool)
    # min(o, oq) > r2s * max(o, oq)
    ok = (oq > o * r2s) & (oq * r2s < o)
    return ok | q_miss


def _full_tables(counts: tuple[np.ndarray, ...], idx: np.ndarray | slice) -> np.ndarray:
    """3x3 tables (k, 9) for the selected pairs of :func:`_window_counts` output."""
    both, a_called, b_called, cc = (c[idx] for c in counts)
    k = both.shape[0]
    t = np.empty((k, 3, 3), dtype=np.int64)
    t[:, :2, :2] = both
    t[:, :2, 2] = a_called - both[:, :, 0] - both[:, :, 1]
    t[:, 2, :2] = b_called - both[:, 0, :] - both[:, 1, :]
    t[:, 2, 2] = cc - t[:, :2, :].sum(axis=(1, 2)) - t[:, 2, :2].sum(axis=1)
    return t.reshape(k, 9)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, s + c)`` for each pair, vectorised."""
    counts = np.asarray(counts, dtype=np.int64)
    tot = int(counts.sum())
    if tot == 0:
        return np.zeros(0, dtype=np.int64)
    rep = np.repeat(np.asarray(starts, dtype=np.int64) - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return rep + np.arange(tot)


# ----------------------------------------------------------------------------------------------------
# PLINK .clumped text
# ----------------------------------------------------------------------------------------------------


def plink_maxsnp(ids: Sequence[str]) -> int:
    """Width PLINK 1.9 gives the SNP column: starts at 4; an id longer than the width sets it to len + 2.

    ``ids`` may also be a ``twasflow.io.plink.StringColumn``.
    """
    if not isinstance(ids, np.ndarray) and hasattr(ids, "char_lengths"):
        lens = ids.char_lengths()
    else:
        lens = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    w = 4
    i = 0
    while True:
        over = np.flatnonzero(lens[i:] > w)
        if over.size == 0:
            return w
        j = i + int(over[0])
        w = int(lens[j]) + 2
        i = j + 1


def format_p3(x: float, width: int = 10) -> str:
    """PLINK's ``dtoa_g_wxp3``: 3 significant digits, right-aligned in ``width``."""
    if x != x:
        return " " * (width - 4) + " nan"
    neg = x < 0
    d = -x if neg else x
    sign = "-" if neg else ""
    if d < 9.9949999999999e-5:
        if d == 0.0:
            return " " * (width - 1) + "0"
        xp = 0
        if d < 9.9949999999999e-16:
            if d < 9.9949999999999e-128:
                if d < 9.9949999999999e-256:
                    d *= 1.0e256
                    xp |= 256
                else:
                    d *= 1.0e128
                    xp |= 128
            if d < 9.9949999999999e-64:
                d *= 1.0e64
                xp |= 64
            if d < 9.9949999999999e-32:
                d *= 1.0e32
                xp |= 32
            if d < 9.9949999999999e-16:
                d *= 1.0e16
                xp |= 16
        if d < 9.9949999999999e-8:
            d *= 100000000
            xp |= 8
        if d < 9.9949999999999e-4:
            d *= 10000
            xp |= 4
        if d < 9.9949999999999e-2:
            d *= 100
            xp |= 2
        if d < 9.9949999999999e-1:
            d *= 10
            xp += 1
        mant = sign + _qr_1p2(*_bround(d, 100))
        return _exp_field(mant, "-", xp, width)
    if d >= 999.49999999999:
        if d == float("inf"):
            return " " * (width - 4) + ("-inf" if neg else " inf")
        xp = 0
        for lim, mult, bit in ((9.9949999999999e255, 1.0e-256, 256), (9.9949999999999e127, 1.0e-128, 128)):
            if d >= lim:
                d *= mult
                xp |= bit
                break
        for lim, mult, bit in ((9.9949999999999e63, 1.0e-64, 64), (9.9949999999999e31, 1.0e-32, 32),
                               (9.9949999999999e15, 1.0e-16, 16), (9.9949999999999e7, 1.0e-8, 8),
                               (9.9949999999999e3, 1.0e-4, 4), (9.9949999999999e1, 1.0e-2, 2)):
            if d >= lim:
                d *= mult
                xp |= bit
        if d >= 9.9949999999999e0:
            d *= 1.0e-1
            xp += 1
        mant = sign + _qr_1p2(*_bround(d, 100))
        return _exp_field(mant, "+", xp, width)
    if d >= 0.99949999999999:
        s = _so3(d)
    else:
        s = "0."
        if d < 9.9949999999999e-3:
            d *= 100
            s += "00"
        if d < 9.9949999999999e-2:
            d *= 10
            s += "0"
        u = _bround_int(d * 1000)
        s += str(u // 100)
        u %= 100
        if u:
            two = "%02d" % u
            s += two if two[1] != "0" else two[0]
    s = sign + s
    return s.rjust(width)


def _bround_int(x: float) -> int:
    r = int(x)
    return r + int((x - r) + (0.499999999995, 0.500000000005)[r & 1])


def _bround(x: float, scale: int) -> tuple[int, int]:
    r = _bround_int(x * scale)
    return r // scale, r - (r // scale) * scale


def _qr_1p2(q: int, r: int) -> str:
    s = chr(48 + q)
    if not r:
        return s
    two = "%02d" % r
    return s + "." + (two if two[1] != "0" else two[0])


def _so3(d: float) -> str:
    if d < 99.949999999999:
        if d < 9.9949999999999:
            return _qr_1p2(*_bround(d, 100))
        q, r = _bround(d, 10)
        return "%02d" % q + ("." + str(r) if r else "")
    q = _bround_int(d)
    return "%02d" % (q // 10) + str(q % 10)


def _exp_field(mant: str, sgn: str, xp: int, width: int) -> str:
    if xp >= 100:
        head = mant.rjust(width - 5)
        return head + "e" + sgn + str(xp // 100) + "%02d" % (xp % 100)
    return mant.rjust(width - 4) + "e" + sgn + "%02d" % xp


_PLINK_CHROM = {"X": "23", "Y": "24", "XY": "25", "MT": "26"}


def format_clumped(records: Sequence[ClumpRecord], snp_width: int) -> str:
    """PLINK 1.9 ``.clumped`` text (non-verbose) for ``records``; ends with two empty lines."""
    w = snp_width
    out = [" CHR    F " + "SNP".rjust(w) + "         BP        "
           + "P    TOTAL   NSIG    S05    S01   S001  S0001    SP2\n"]
    for r in records:
        ch = _PLINK_CHROM.get(r.chrom, r.chrom)
        head = (ch.rjust(4) + " " + str(r.fidx).rjust(4) + " " + r.snp.rjust(w) + " "
                + str(r.bp).rjust(10) + " " + format_p3(r.p, 10) + " " + str(r.total).rjust(8) + " "
                + "".join(str(b).rjust(6) + " " for b in r.bins))
        sp2 = ",".join(f"{s}({f})" for s, f in r.sp2) if r.sp2 else "NONE"
        out.append(head + sp2 + "\n")
    out.append("\n\n")
    return "".join(out)


# ----------------------------------------------------------------------------------------------------
# PLINK-compatible command: twasflow clump --bfile ... --clump ...
# ----------------------------------------------------------------------------------------------------


def read_assoc(
    path: str | os.PathLike[str],
    snp_field: str | Sequence[str] = "SNP",
    field: str | Sequence[str] = "P",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read the id and p columns of a whitespace-delimited association file (gzip allowed).

    ``snp_field``/``field`` may list several names in order of preference (as PLINK). Returns
    ``(ids, p, line)``: ids as a numpy object array; p is NaN where not numeric (``NA``); ``line`` is the
    1-based data row. Rows with too few fields are skipped, as PLINK does.
    """
    ids, p, line = _read_assoc_any(path, snp_field, field)
    if not isinstance(ids, np.ndarray):
        ids = np.array(ids.strings(np.arange(len(ids))), dtype=object)
    return ids, p, line


_NA_P = ["NA", "nan", "NaN", "-nan", "."]


def _read_assoc_any(
    path: str | os.PathLike[str],
    snp_field: str | Sequence[str] = "SNP",
    field: str | Sequence[str] = "P",
) -> tuple[Any, np.ndarray, np.ndarray]:
    """:func:`read_assoc`, with the ids as a ``StringColumn`` when the fast reader applies.

    Fast path: a file whose fields are separated by exactly one space or one tab (what most tools write)
    is parsed by pyarrow's multithreaded C++ reader (correctly rounded doubles, as strtod). Anything else
    (aligned columns, ragged rows, unusual p text) goes through the pandas/Python reader, same results.
    """
    path = Path(path)
    if not path.is_file():
        raise ClumpError.at("association file not found", file=path)
    snp_names = [snp_field] if isinstance(snp_field, str) else list(snp_field)
    p_names = [field] if isinstance(field, str) else list(field)
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    if gz:
        import gzip

        with gzip.open(path, "rb") as fh:
            data = fh.read()
    else:
        data = path.read_bytes()
    nl = data.find(b"\n")
    header_b = data if nl < 0 else data[:nl]
    cols = header_b.decode(errors="replace").split()
    if not cols:  # blank first line: the slow reader finds the header
        return _read_assoc_slow(path, snp_names, p_names)
    icol = _pick_column(cols, snp_names, path, "variant id")
    pcol = _pick_column(cols, p_names, path, "p-value")
    delim = b"\t" if b"\t" in header_b else b" "
    if nl >= 0 and icol != pcol and _splits_like_whitespace(data, delim):
        import pyarrow as pa

        from twasflow.io.plink import StringColumn, _arrow_csv, arrow_to_numpy

        names = [f"f{i}" for i in range(len(cols))]
        tb = _arrow_csv(data, delim.decode(), names, {names[icol]: pa.string(), names[pcol]: pa.float64()},
                        skip_rows=1, include=[names[icol], names[pcol]], null_values=_NA_P)
        if tb is not None:
            ids = StringColumn.from_arrow(tb.column(names[icol]))
            p = np.asarray(arrow_to_numpy(tb.column(names[pcol]), fill=np.nan), dtype=np.float64)
            return ids, p, np.arange(1, len(ids) + 1, dtype=np.int64)
    return _read_assoc_slow(path, snp_names, p_names)


def _splits_like_whitespace(data: bytes, delim: bytes) -> bool:
    from twasflow.io.plink import splits_like_whitespace

    return splits_like_whitespace(data, delim)


def _read_assoc_slow(path: Path, snp_names: list[str], p_names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Any whitespace layout (pandas C tokenizer, then a line-by-line Python reader for ragged rows)."""
    import pandas as pd

    opener = _open_text(path)
    with opener as fh:
        header = ""
        for header in fh:
            if header.strip():
                break
        else:
            raise ClumpError.at("empty association file", file=path)
    cols = header.split()
    icol = _pick_column(cols, snp_names, path, "variant id")
    pcol = _pick_column(cols, p_names, path, "p-value")
    # pandas < 3 needs round_trip for correctly rounded doubles (as strtod); pandas 3 parses that way already
    precise = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    try:
        try:
            # numeric p column (NA and other standard missing markers become NaN)
            df = pd.read_csv(path, sep=r"\s+", usecols=[icol, pcol], dtype={cols[icol]: object, cols[pcol]: np.float64},
                             na_values={cols[icol]: [], cols[pcol]: _NA_P},
                             keep_default_na=False, engine="c", header=0, **precise)
            ptxt = None
        except ValueError:
            df = pd.read_csv(path, sep=r"\s+", usecols=[icol, pcol], dtype=object, keep_default_na=False,
                             engine="c", header=0)
            ptxt = df[cols[pcol]]
        ids = df[cols[icol]].to_numpy(dtype=object)
        pnum = df[cols[pcol]].to_numpy(dtype=np.float64) if ptxt is None else None
        line = np.arange(1, len(df) + 1)
    except (pd.errors.ParserError, ValueError):
        pnum = None
        ids_l, p_l, line_l = [], [], []
        with _open_text(path) as fh:
            seen_header = False
            n = 0
            for raw in fh:
                tok = raw.split()
                if not tok:
                    continue
                if not seen_header:
                    seen_header = True
                    continue
                n += 1
                if len(tok) <= max(icol, pcol):
                    continue
                ids_l.append(tok[icol])
                p_l.append(tok[pcol])
                line_l.append(n)
        ids = np.array(ids_l, dtype=object)
        ptxt = pd.Series(p_l, dtype=object)
        line = np.array(line_l, dtype=np.int64)
    if pnum is not None:
        p = np.array(pnum, dtype=np.float64)
    else:
        p = np.array(pd.to_numeric(ptxt.where(ptxt != ""), errors="coerce"), dtype=np.float64)
    return ids, p, line


def _open_text(path: Path):
    import gzip

    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path)


def _pick_column(cols: list[str], names: list[str], path: Path, what: str) -> int:
    for name in names:
        hits = [i for i, c in enumerate(cols) if c == name]
        if len(hits) > 1:
            raise ClumpError.at(f"duplicate {what} column", file=path, column=name, found=f"{len(hits)} columns")
        if hits:
            return hits[0]
    raise ClumpError.at(f"no {what} column", file=path, column=" or ".join(names), found=" ".join(cols[:20]))


def _match_ids(universe: Any, queries: Any, bim_path: str) -> np.ndarray:
    """Row of each query id in the universe (-1 if absent); a duplicate universe id is a ClumpError.

    Both are ``StringColumn``s. Hash join: the universe's 64-bit string hashes are sorted once (a radix
    sort), queries are looked up by binary search and every hit is confirmed byte for byte. Equal hashes in
    the universe are compared exactly: equal strings are the duplicate error, distinct strings (a hash
    collision, ~1e-8 for a million ids) send the join to an exact pyarrow hash table. When the association
    file lists exactly the universe's ids in order (a test run on the same fileset) only the duplicate check
    runs.
    """
    M = len(universe)
    hu = universe.hashes()
    if np.any(np.diff(np.sort(hu)) == 0):  # a radix sort: ~10x cheaper than a stable argsort
        order = np.argsort(hu, kind="stable")
        hs = hu[order]
        tie = np.flatnonzero(hs[1:] == hs[:-1])
        a, b = order[tie], order[tie + 1]
        same = universe.equal_at(a, universe, b)
        if same.any():  # duplicates: report the first row (file order) repeating an earlier one
            i = int(np.max(np.stack([a[same], b[same]]), axis=0).min())
            raise ClumpError.at("duplicate variant id in .bim", file=bim_path, found=universe.strings([i])[0],
                                expected="unique ids (PLINK --clump matches rows by id)")
        return _match_ids_exact(universe, queries, bim_path)
    if len(queries) == M and queries.equals(universe):
        return np.arange(M, dtype=np.int64)
    if M == 0:
        return np.full(len(queries), -1, dtype=np.int64)
    order = np.argsort(hu)  # hashes are distinct here: no need for a stable sort
    hs = hu[order]
    hq = queries.hashes()
    # binary search with sorted queries (random queries into 1M sorted keys are ~10x slower: cache misses)
    qorder = np.argsort(hq)
    hqs = hq[qorder]
    at = np.minimum(np.searchsorted(hs, hqs), M - 1)
    hit = np.flatnonzero(hs[at] == hqs)
    out = np.full(len(queries), -1, dtype=np.int64)
    out[qorder[hit]] = order[at[hit]]
    # confirm byte for byte, in query order (one side read sequentially)
    cand = np.flatnonzero(out >= 0)
    bad = cand[~universe.equal_at(out[cand], queries, cand)]
    out[bad] = -1
    return out


def _match_ids_exact(universe: Any, queries: Any, bim_path: str) -> np.ndarray:
    """Exact hash-table join through pyarrow (only after a 64-bit hash collision among universe ids)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from twasflow.io.plink import arrow_to_numpy

    def arrow(c: Any) -> Any:
        return pa.LargeStringArray.from_buffers(len(c), pa.py_buffer(np.ascontiguousarray(c.offsets)),
                                                pa.py_buffer(np.ascontiguousarray(c.data)))

    M = len(universe)
    enc = pc.dictionary_encode(pa.chunked_array([arrow(universe), arrow(queries)]))
    codes = np.concatenate([arrow_to_numpy(c.indices) for c in enc.chunks]).astype(np.int64)
    # each distinct id is coded by its first occurrence: the universe is unique iff its codes are 0..M-1
    dup = np.flatnonzero(codes[:M] != np.arange(M))
    if dup.size:
        raise ClumpError.at("duplicate variant id in .bim", file=bim_path, found=universe.strings(dup[:1])[0],
                            expected="unique ids (PLINK --clump matches rows by id)")
    q = codes[M:]
    return np.where(q < M, q, -1)


def run_clump(
    bfile: str | os.PathLike[str],
    assoc_paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    p1: float = 1e-4,
    p2: float = 0.01,
    r2: float = 0.5,
    kb: float = 250,
    snp_field: str | Sequence[str] = "SNP",
    field: str | Sequence[str] = "P",
    allow_overlap: bool = False,
    r2_method: R2Method = "haplotype",
) -> Path:
    """PLINK 1.9 ``--clump`` on a PLINK fileset: writes ``{out}.clumped`` (PLINK's layout) and ``{out}.log``.

    With no index variant PLINK writes no ``.clumped``; here a header-only file is written (so pipeline
    rules always have their output) and the log says so.
    """
    import time

    from twasflow.io.plink import (StringColumn, decode_codes, founder_mask, open_bed, pack_codes, read_bim_columns,
                                   read_fam_rows)

    t0 = time.perf_counter()
    _keep_freed_memory()
    _check_thresholds(p1, p2, r2)
    paths = [assoc_paths] if isinstance(assoc_paths, (str, os.PathLike)) else list(assoc_paths)
    bim = read_bim_columns(bfile)
    fam = read_fam_rows(bfile)
    M = len(bim)
    founders = np.flatnonzero(founder_mask(fam))
    if founders.size == 0:
        raise ClumpError.at("no founders in .fam (PLINK --clump uses founders only)", file=str(bfile) + ".fam")
    n = len(fam)
    bed = open_bed(bfile, M, n)

    all_founders = founders.size == n

    def genotypes(rows: np.ndarray) -> np.ndarray:
        if all_founders:
            return np.asarray(bed[rows])
        return pack_codes(decode_codes(bed[rows], n, founders))

    all_p, all_f, all_l, all_id = [], [], [], []
    for k, path in enumerate(paths, start=1):
        aid, ap, al = _read_assoc_any(path, snp_field, field)
        if isinstance(aid, np.ndarray):
            aid = StringColumn.from_strings(aid)
        all_p.append(ap)
        all_f.append(np.full(ap.size, k))
        all_l.append(al)
        all_id.append(aid)
    aid_all = all_id[0] if len(all_id) == 1 else StringColumn.concat(all_id)
    marker = _match_ids(bim.ids, aid_all, str(bfile) + ".bim")
    entries = build_entries(marker, np.concatenate(all_p), np.concatenate(all_f),
                            np.concatenate(all_l), M, p1, p2, ids=aid_all, source=[str(p) for p in paths])
    records = clump_plink((bim.chrom_code, bim.chrom_names), bim.pos, bim.ids, entries, genotypes, int(founders.size), p1=p1, p2=p2, r2=r2,
                          kb=kb, allow_overlap=allow_overlap, r2_method=r2_method)
    out_path = Path(str(out) + ".clumped")
    write_text(format_clumped(records, plink_maxsnp(bim.ids)), out_path)
    log = [
        "twasflow clump (PLINK 1.9 --clump emulation)",
        f"bfile: {bfile} ({M} variants, {n} people, {founders.size} founders)",
        "clump files: " + " ".join(str(p) for p in paths),
        f"p1 {p1!r} p2 {p2!r} r2 {r2!r} kb {kb!r} (max distance {bp_radius(kb)} bp) "
        f"allow_overlap {allow_overlap} r2_method {r2_method} snp_field {snp_field} field {field}",
        f"association rows: {sum(a.size for a in all_p)}; loaded entries: {entries.p.size}",
    ]
    for vid, pv in entries.missing:
        log.append(f"Warning: '{vid}' is missing from the main dataset, and is a top variant.")
    if not records:
        log.append("Warning: No significant --clump results (header-only .clumped written).")
    top = np.zeros(M, dtype=bool)
    top[entries.marker[entries.p <= p1]] = True  # (np.unique would import numpy.ma: ~20 ms)
    log.append(f"{len(records)} clumps formed from {int(np.count_nonzero(top))} top variants.")
    log.append(f"Results written to {out_path}; {time.perf_counter() - t0:.2f} s")
    write_text("\n".join(log) + "\n", Path(str(out) + ".log"))
    return out_path


def _keep_freed_memory() -> None:
    """glibc only (a no-op elsewhere): serve arrays up to 32 MB from the heap and keep freed heap memory for
    reuse instead of returning it to the system.

    The command allocates and frees many multi-megabyte numpy temporaries; with glibc's defaults each one is
    a fresh mmap whose pages are faulted in and zeroed again (~0.15 s of system CPU per genome-wide run,
    measured). Process-wide, and meant for the ``twasflow clump`` command (the only caller of
    :func:`run_clump`); memory use is unchanged up to the peak.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # malloc.h
        libc.mallopt(m_mmap_threshold, 32 << 20)  # glibc's maximum on 64-bit
        libc.mallopt(m_trim_threshold, (1 << 31) - 1)
        libc.mallopt(m_top_pad, 64 << 20)
    except (OSError, AttributeError):
        pass


def _check_thresholds(p1: float, p2: float, r2: float) -> None:
    if not (0 < p1 <= 1):
        raise ClumpError.at("invalid p1", column="p1", found=p1, expected="0 < p1 <= 1")
    if not (0 < p2 <= 1):
        raise ClumpError.at("invalid p2", column="p2", found=p2, expected="0 < p2 <= 1")
    if p2 < p1:
        raise ClumpError.at("p2 smaller than p1", column="p2", found=p2, expected=f">= p1 = {p1}")
    if not (r2 < 1):
        raise ClumpError.at("invalid r2", column="r2", found=r2, expected="r2 < 1")


# ----------------------------------------------------------------------------------------------------
# pipeline-facing: clump a harmonized table against the genotype store
# ----------------------------------------------------------------------------------------------------

CLUMP_TABLE_COLUMNS = ["chrom", "variant_id", "pos", "p", "total", "nsig", "s05", "s01", "s001", "s0001",
                       "n_members", "members", "sp2"]


def clump_panel(
    df: "pd.DataFrame",
    panel: "Panel",
    *,
    p1: float = 5e-8,
    p2: float = 5e-8,
    r2: float = 0.01,
    kb: float = 1000,
    r2_method: R2Method = "haplotype",
    allow_overlap: bool = False,
) -> tuple[list[ClumpRecord], np.ndarray]:
    """PLINK ``--clump`` semantics on a harmonized table, genotypes from the store.

    ``df`` needs ``variant_id`` (panel ids) and ``p``. Rows whose id is not in the panel are ignored (as
    PLINK ignores ids absent from the bfile). Genotypes are decoded one chromosome at a time and only
    for variants present in ``df``. Returns the records and the universe's variant ids (record ``row`` and
    ``members`` index into it).
    """
    for col in ("variant_id", "p"):
        if col not in df.columns:
            raise ClumpError.at("column missing from the table to clump", column=col,
                                expected="variant_id, chrom, pos, p")
    _check_thresholds(p1, p2, r2)
    import pandas as pd

    V = panel.variants
    uni = pd.Index(V["variant_id"])
    marker = uni.get_indexer(df["variant_id"].astype(str))
    p = pd.to_numeric(df["p"], errors="coerce").to_numpy(dtype=np.float64)
    line = np.arange(1, len(df) + 1)
    entries = build_entries(marker, p, np.ones(len(df), dtype=np.int64), line, len(V), p1, p2,
                            ids=df["variant_id"].to_numpy())
    vchrom = V["chrom"].to_numpy().astype(str)
    vrow = V["row"].to_numpy()

    def genotypes(rows: np.ndarray) -> np.ndarray:
        if rows.size == 0:
            return np.zeros((0, (panel.n_samples + 3) // 4), dtype=np.uint8)
        return np.asarray(panel.geno(str(vchrom[rows[0]]))[vrow[rows]])

    records = clump_plink(vchrom, V["pos"].to_numpy(), V["variant_id"].to_numpy(), entries, genotypes,
                          panel.n_samples, p1=p1, p2=p2, r2=r2, kb=kb, allow_overlap=allow_overlap, r2_method=r2_method)
    return records, V["variant_id"].to_numpy()


def clump_table(
    df: "pd.DataFrame",
    panel: "Panel",
    p1: float = 5e-8,
    p2: float = 5e-8,
    r2: float = 0.01,
    kb: float = 1000,
    r2_method: R2Method = "haplotype",
) -> "pd.DataFrame":
    """Index variants of a harmonized table with their clump members (PLINK ``--clump`` semantics).

    Parameters
    ----------
    df : table with ``variant_id`` (panel ids) and ``p`` (``chrom``/``pos`` are taken from the panel).
    panel : the genotype store.
    p1, p2, r2, kb, r2_method : clumping parameters (config ``clump`` block; defaults as SPEC §3).

    Returns
    -------
    DataFrame, one row per index variant in PLINK order, columns ``chrom, variant_id, pos, p, total, nsig,
    s05, s01, s001, s0001, n_members, members, sp2``: ``members`` = comma-joined ids of every variant
    absorbed (r2 above the threshold, within ``kb``), ``sp2`` = those with p < p2 (PLINK's SP2 column,
    without file numbers).
    """
    import pandas as pd

    records, uni = clump_panel(df, panel, p1=p1, p2=p2, r2=r2, kb=kb, r2_method=r2_method)
    rows = []
    for r in records:
        rows.append({
            "chrom": r.chrom, "variant_id": r.snp, "pos": int(r.bp), "p": r.p, "total": r.total,
            "nsig": r.bins[0], "s05": r.bins[1], "s01": r.bins[2], "s001": r.bins[3], "s0001": r.bins[4],
            "n_members": int(r.members.size), "members": ",".join(uni[r.members].tolist()),
            "sp2": ",".join(s for s, _ in r.sp2),
        })
    out = pd.DataFrame(rows, columns=CLUMP_TABLE_COLUMNS)
    return out.astype({"pos": np.int64, "p": np.float64, "total": np.int64, "nsig": np.int64, "s05": np.int64,
                       "s01": np.int64, "s001": np.int64, "s0001": np.int64, "n_members": np.int64})


# ----------------------------------------------------------------------------------------------------
# small greedy clumper for within-locus pruning
# ----------------------------------------------------------------------------------------------------


def greedy_clump(
    p: np.ndarray,
    *,
    R: np.ndarray | None = None,
    G: np.ndarray | None = None,
    positions: np.ndarray | None = None,
    r2: float = 0.5,
    kb: float | None = None,
    p_max: float = 1.0,
    inclusive: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy LD clumping of one locus with a correlation matrix (Pearson r2 of dosages).

    Variants are taken in order of ascending p (ties: input order). A variant not yet absorbed becomes an
    index if ``p < p_max`` (``<=`` when ``inclusive``); it absorbs every not-yet-absorbed variant with
    ``r^2 > r2`` and, when ``kb`` is given, ``|pos difference| < kb*1000``. NaN r (monomorphic) never
    absorbs. Used per locus for xQTL min-p (p < 1e-5, r2 0.5) and GWAS (p < 5e-8, r2 0.5).

    Parameters
    ----------
    p : (M,) p-values (NaN never index).
    R : (M, M) correlation matrix, or ``G`` (N, M) dosages with NaN for missing (R computed pairwise).
    positions : (M,) bp positions, needed with ``kb``.

    Returns
    -------
    index : int (K,) positions in the input of the index variants, in selection order.
    clump : int (M,) the clump number (0..K-1, position in ``index``) each variant belongs to, -1 if none.
    """
    p = np.asarray(p, dtype=np.float64)
    M = p.shape[0]
    if R is None:
        if G is None:
            raise ValueError("greedy_clump needs R or G")
        from twasflow.ld import ld_matrix

        R = ld_matrix(G, monomorphic="nan")
    R = np.asarray(R, dtype=np.float64)
    if R.shape != (M, M):
        raise ValueError(f"R must be ({M}, {M}); got {R.shape}")
    if kb is not None and positions is None:
        raise ValueError("kb needs positions")
    pos = None if positions is None else np.asarray(positions, dtype=np.int64)
    clump = np.full(M, -1, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        elig = (p <= p_max) if inclusive else (p < p_max)
    cand = np.flatnonzero(elig)
    order = cand[np.lexsort((cand, p[cand]))]
    index: list[int] = []
    for i in order:
        if clump[i] >= 0:
            continue
        k = len(index)
        index.append(int(i))
        clump[i] = k
        with np.errstate(invalid="ignore"):
            hit = (R[i] * R[i] > r2) & (clump < 0)
        if kb is not None:
            hit &= np.abs(pos - pos[i]) < kb * 1000
        clump[hit] = k
    return np.asarray(index, dtype=np.int64), clump
