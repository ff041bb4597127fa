"""The greedy PLINK 1.9 ``--clump`` core: index order, windows, partner tests (cheapest first), records.

Numerical module: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from twasflow.errors import ClumpError

from .em import (SMALL_EPSILON, R2Method, _classify_k, _em_exceeds_k, _hap_counts_from_window, _haplotype_r2_one_k,
                 _hsum8, _popsum, _table_bound, bit_counts, genotype_bits, pearson_r2)


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


