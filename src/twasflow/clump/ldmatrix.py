"""Clumping from precomputed LD (no genotypes): PLINK 1.9 ``--clump``'s greedy rules with the Pearson r² of the
LD matrix (``twasflow.io.ldmatrix.LDSource``) in place of the two-locus haplotype r² (which needs genotypes).

Same rules as :func:`twasflow.clump.core.clump_plink` with ``r2_method="pearson"``: index variants (p <= p1) in
order of ascending p (ties by panel order); each absorbs the not-yet-clumped variants of its chromosome within
``kb*1000 - 1`` bp whose r² with it is strictly above the threshold (a NaN r², a monomorphic variant, absorbs
nothing); the same p-value bins and SP2 lists. With genotypes and the LD matrix computed from them the clumps are
PLINK's ``--clump`` with Pearson r² (``tests/test_inputs_ld_workflow.py``). Each index variant's row of r comes
from the one LD window holding its whole clumping range (a range no window holds is refused).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from twasflow.errors import ClumpError

from .command import _check_thresholds
from .core import ClumpRecord, _bins, _ranges, bp_radius, build_entries

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def clump_ld(df: "pd.DataFrame", variants: "pd.DataFrame", source: Any, *, p1: float, p2: float, r2: float,
             kb: float) -> tuple[list[ClumpRecord], np.ndarray]:
    """Greedy clumping of a harmonized table (``variant_id``, ``p``) on the store's ``variants`` (M rows, sorted
    by chromosome and position: ``variant_id, chrom, pos, other_allele, counted_allele``) with r from ``source``
    (an :class:`~twasflow.io.ldmatrix.LDSource`: ``rows_signs(chrom, pos, other, counted)``).

    Returns (records in PLINK order, the universe's variant ids), as :func:`twasflow.clump.clump_panel`."""
    import pandas as pd

    for col in ("variant_id", "p"):
        if col not in df.columns:
            raise ClumpError.at("column missing from the table to clump", column=col, expected="variant_id, p")
    _check_thresholds(p1, p2, r2)
    ids = variants["variant_id"].to_numpy(object)
    M = len(ids)
    marker = pd.Index(ids).get_indexer(df["variant_id"].astype(str))
    p = pd.to_numeric(df["p"], errors="coerce").to_numpy(dtype=np.float64)
    entries = build_entries(marker, p, np.ones(len(df), dtype=np.int64), np.arange(1, len(df) + 1), M, p1, p2,
                            ids=df["variant_id"].to_numpy())
    em, ep, ef, nsig = entries.marker, entries.p, entries.fidx, entries.nsig
    n_entries = np.bincount(em, minlength=M).astype(np.int64)
    ends = np.cumsum(n_entries)
    starts = ends - n_entries
    minp = np.full(M, np.inf)
    has = np.flatnonzero(n_entries)
    if has.size:
        minp[has] = np.minimum.reduceat(ep, starts[has])
    index_rows = np.unique(em[ep <= p1]) if em.size else np.zeros(0, np.int64)
    index_rows = index_rows[np.lexsort((index_rows, minp[index_rows]))]
    candidate = (n_entries > 0) | (nsig > 0)
    chrom = variants["chrom"].astype(str).to_numpy(object)
    pos = variants["pos"].to_numpy(np.int64)
    other = variants["other_allele"].to_numpy(object)
    counted = variants["counted_allele"].to_numpy(object)
    radius = bp_radius(kb)
    # per chromosome, the candidate rows in position order (the store is sorted)
    cand_rows = {c: np.flatnonzero(candidate & (chrom == c)) for c in pd.unique(chrom[index_rows])}
    clumped = np.zeros(M, dtype=bool)
    records: list[ClumpRecord] = []
    for iv in index_rows:
        iv = int(iv)
        if clumped[iv]:
            continue
        c, bp = chrom[iv], int(pos[iv])
        rows = cand_rows[c]
        lo, hi = np.searchsorted(pos[rows], [bp - radius, bp + radius + 1], "left")
        w = rows[lo:hi]
        w = w[(w != iv) & ~clumped[w]]
        # PLINK marks the index itself clumped only when it has extra rows or NSIG rows
        if ends[iv] - starts[iv] > 1 or nsig[iv] > 0:
            clumped[iv] = True
        members = w[:0]
        if w.size:
            t = np.concatenate([[iv], w])
            ld, lrows, sign = source.rows_signs(c, pos[t], other[t], counted[t])
            r = ld.block(lrows[:1], lrows[1:])[0] * sign[0] * sign[1:]
            with np.errstate(invalid="ignore"):
                members = w[r * r > r2]
        clumped[members] = True
        records.append(_record(iv, members, chrom, pos, ids, starts, ends, ep, ef, em, nsig, minp, p2))
    return records, ids


def _record(iv: int, members: np.ndarray, chrom: np.ndarray, pos: np.ndarray, ids: np.ndarray, starts: np.ndarray,
            ends: np.ndarray, ep: np.ndarray, ef: np.ndarray, em: np.ndarray, nsig: np.ndarray, minp: np.ndarray,
            p2: float) -> ClumpRecord:
    """Bins and SP2 of index ``iv`` absorbing ``members`` (panel order), as ``clump_plink`` counts them."""
    i0, i1 = int(starts[iv]), int(ends[iv])
    ms = starts[members]
    eidx = _ranges(ms, ends[members] - ms) if members.size else np.zeros(0, np.int64)
    mp, mf, mm = ep[eidx], ef[eidx], em[eidx]
    self_pos = int(np.flatnonzero(ep[i0:i1] == minp[iv])[0])
    extra = np.delete(np.arange(i0, i1), self_pos)
    bins = _bins(np.concatenate([mp, ep[extra]]))
    bins[0] += int(nsig[members].sum()) + int(nsig[iv])
    before = mm < iv
    sp_rows = np.concatenate([mm[before], np.full(extra.size, iv), mm[~before]]).astype(np.int64)
    sp_f = np.concatenate([mf[before], ef[extra], mf[~before]])
    sp_p = np.concatenate([mp[before], ep[extra], mp[~before]])
    keep = sp_p < p2
    return ClumpRecord(chrom=str(chrom[iv]), fidx=int(ef[i0 + self_pos]), snp=str(ids[iv]), bp=int(pos[iv]),
                       p=float(minp[iv]), bins=tuple(int(x) for x in bins),
                       sp2=[(str(ids[r]), int(f)) for r, f in zip(sp_rows[keep], sp_f[keep])], row=iv,
                       members=np.sort(members))
