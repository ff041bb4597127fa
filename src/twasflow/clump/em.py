"""Two-locus haplotype r2 as PLINK 1.9 computes it (em_phase_hethet + cubic_real_roots), vectorised, and the
genotype bitsets and 3x3 tables it is computed from.

Numerical module: no I/O.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Literal, Sequence

import numpy as np

# PLINK 1.9 constants (plink_common.h): powers of two
EPSILON = 2.0**-30
SMALLISH_EPSILON = 2.0**-35
SMALL_EPSILON = 2.0**-44

R2Method = Literal["haplotype", "pearson"]
_M8 = np.uint64(0x00FF00FF00FF00FF)  # every other byte of a 64-bit word


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
