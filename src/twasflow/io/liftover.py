"""Lift variant positions between genome builds with a UCSC chain file, vectorised, with a reason per failure.

Chain format (https://genome.ucsc.edu/goldenPath/help/chain.html)::

    chain score tName tSize tStrand tStart tEnd qName qSize qStrand qStart qEnd id
    size dt dq
    ...
    size

``t`` is the build lifted *from* (always the + strand), ``q`` the build lifted *to*; coordinates are 0-based,
half-open. Each line ``size dt dq`` is an ungapped aligned block of ``size`` bases followed by gaps of ``dt``
bases in t and ``dq`` in q; the last block line has ``size`` only. When ``qStrand`` is ``-`` the q coordinates
count from the end of the q chromosome: a base at reverse coordinate ``r`` is at forward coordinate
``qSize - 1 - r``, and the alleles of a variant there read as their complements.

A position (1-based) lifts when exactly one aligned block covers it. The outcomes counted per variant
(:data:`LIFT_REASONS`): ``liftover_unmapped`` (no block covers it: a gap of the alignment or a chromosome the
chain file does not have), ``liftover_ambiguous`` (blocks of two or more chains cover it: UCSC ``liftOver``
refuses such positions without ``-multiple``). Lifted variants on a ``-`` block get complemented alleles; how
many is reported (``reverse_strand``), as is the number lifted to another chromosome.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pandas import isnull as pd_isnull

from ..errors import InputError

#: Reasons a variant does not lift (names of harmonization drop reasons).
LIFT_REASONS = ("liftover_unmapped", "liftover_ambiguous")


def _chrom_key(label: str) -> str:
    """Chromosome label without ``chr`` prefix, upper case (``chrX`` and ``X`` are the same chromosome)."""
    s = str(label).strip()
    if s[:3].lower() == "chr":
        s = s[3:]
    s = s.upper()
    if s == "M":
        s = "MT"
    return str(int(s)) if s.isdigit() else s


@dataclass
class _Blocks:
    """The aligned blocks of every chain on one source chromosome, sorted by start (arrays of length B)."""

    start: np.ndarray  # int64, 0-based t start
    end: np.ndarray  # int64, exclusive
    qstart: np.ndarray  # int64, q start of the block on the chain's q strand
    chain: np.ndarray  # int64, index into Chain.q_* lists
    reach: np.ndarray = field(init=False)  # running max of end: some block before i still covers positions < reach

    def __post_init__(self) -> None:
        self.reach = np.maximum.accumulate(self.end) if len(self.end) else self.end


@dataclass
class LiftResult:
    """Outcome of :meth:`Chain.lift` for R positions."""

    chrom: np.ndarray  # object (R,): target chromosome label (no ``chr``), None where not lifted
    pos: np.ndarray  # int64 (R,): target 1-based position, 0 where not lifted
    reverse: np.ndarray  # bool (R,): lifted onto a '-' block (alleles read as complements)
    reason: np.ndarray  # object (R,): "" lifted, else one of LIFT_REASONS


class Chain:
    """A parsed UCSC chain file (see the module docstring). Build with :meth:`read`."""

    def __init__(self, path: Path, blocks: dict[str, _Blocks], q_name: list[str], q_size: np.ndarray,
                 q_minus: np.ndarray) -> None:
        self.path = path
        self.blocks = blocks
        self.q_name = np.asarray(q_name, dtype=object)
        self.q_size = q_size
        self.q_minus = q_minus

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> "Chain":
        """Parse a (gzipped) chain file; raise :class:`InputError` naming the line of a malformed record."""
        p = Path(path)
        if not p.is_file():
            raise InputError.at("chain file not found", file=p, expected="a UCSC .chain or .chain.gz file")
        with open(p, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        per_t: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]] = {}
        q_name: list[str] = []
        q_size: list[int] = []
        q_minus: list[bool] = []
        opener = gzip.open if gz else open
        cur: list[list[int]] | None = None
        head: tuple[str, int, int] | None = None
        lineno = 0

        def close() -> None:
            nonlocal cur, head
            if cur is None or head is None:
                return
            t_name, t_start, q_start = head
            arr = np.array([(r + [0, 0])[:3] for r in cur], dtype=np.int64).reshape(-1, 3)
            size, dt, dq = arr[:, 0], arr[:, 1], arr[:, 2]
            ts = t_start + np.concatenate(([0], np.cumsum(size + dt)[:-1]))
            qs = q_start + np.concatenate(([0], np.cumsum(size + dq)[:-1]))
            per_t.setdefault(t_name, []).append((ts, ts + size, qs, len(q_name) - 1))
            cur, head = None, None

        try:
            with opener(p, "rt") as fh:
                for lineno, line in enumerate(fh, start=1):
                    tok = line.split()
                    if not tok or tok[0].startswith("#"):
                        continue
                    if tok[0] == "chain":
                        close()
                        if len(tok) < 12 or tok[4] != "+" or tok[9] not in "+-":
                            raise InputError.at("malformed chain header", file=p, row=lineno,
                                                found=line.strip()[:200],
                                                expected="chain score tName tSize + tStart tEnd qName qSize +|- "
                                                         "qStart qEnd id")
                        head = (_chrom_key(tok[2]), int(tok[5]), int(tok[10]))
                        q_name.append(_chrom_key(tok[7]))
                        q_size.append(int(tok[8]))
                        q_minus.append(tok[9] == "-")
                        cur = []
                    else:
                        if cur is None or len(tok) not in (1, 3):
                            raise InputError.at("malformed chain block line", file=p, row=lineno,
                                                found=line.strip()[:200], expected="'size dt dq' or 'size' after a "
                                                                                   "chain header")
                        cur.append([int(x) for x in tok])
                close()
        except (OSError, EOFError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError.at("cannot read the chain file", file=p, row=lineno or None, found=str(exc),
                                expected="a UCSC chain file") from None
        if not q_name:
            raise InputError.at("no chain in the file", file=p, expected="at least one 'chain' header")
        blocks = {}
        for t, parts in per_t.items():
            start = np.concatenate([x[0] for x in parts])
            end = np.concatenate([x[1] for x in parts])
            qs = np.concatenate([x[2] for x in parts])
            ch = np.concatenate([np.full(len(x[0]), x[3], dtype=np.int64) for x in parts])
            o = np.argsort(start, kind="stable")
            blocks[t] = _Blocks(start[o], end[o], qs[o], ch[o])
        return cls(p, blocks, q_name, np.asarray(q_size, dtype=np.int64), np.asarray(q_minus, dtype=bool))

    def lift(self, chrom: np.ndarray, pos: np.ndarray) -> LiftResult:
        """Lift positions ``pos`` (int, 1-based, (R,)) on chromosomes ``chrom`` (labels, (R,)).

        Vectorised per chromosome: one ``searchsorted`` over the block starts; positions covered by two or
        more blocks (blocks of different chains) are ``liftover_ambiguous``.
        """
        chrom = np.asarray(chrom, dtype=object)
        pos = np.asarray(pos, dtype=np.int64)
        r = len(pos)
        out_chrom = np.full(r, None, dtype=object)
        out_pos = np.zeros(r, dtype=np.int64)
        reverse = np.zeros(r, dtype=bool)
        reason = np.full(r, "liftover_unmapped", dtype=object)
        if not r:
            return LiftResult(out_chrom, out_pos, reverse, reason)
        labels, inv = np.unique(np.where(pd_isnull(chrom), "", chrom).astype(str), return_inverse=True)
        for li, label in enumerate(labels):
            b = self.blocks.get(_chrom_key(label)) if label else None
            if b is None or not len(b.start):
                continue
            rows = np.flatnonzero(inv == li)
            p0 = pos[rows] - 1
            i = np.searchsorted(b.start, p0, side="right") - 1
            ok = i >= 0
            ic = np.where(ok, i, 0)
            inside = ok & (p0 < b.end[ic])
            # a block before i that still reaches past p0 also covers it: two blocks -> ambiguous;
            # (the nested case, covered only by an earlier block, is resolved one by one below)
            prev = np.where(ic > 0, b.reach[np.maximum(ic - 1, 0)], -1)
            earlier = ok & (ic > 0) & (prev > p0)
            amb = inside & earlier
            for k in np.flatnonzero(~inside & earlier):  # rare: covered by an earlier, longer block only
                cover = np.flatnonzero((b.start[: ic[k]] <= p0[k]) & (b.end[: ic[k]] > p0[k]))
                if len(cover) == 1:
                    ic[k], inside[k] = cover[0], True
                elif len(cover) > 1:
                    amb[k] = True
            reason[rows[amb]] = "liftover_ambiguous"
            hit = inside & ~amb
            h, blk = rows[hit], ic[hit]
            ch = b.chain[blk]
            q0 = b.qstart[blk] + (p0[hit] - b.start[blk])
            minus = self.q_minus[ch]
            q0 = np.where(minus, self.q_size[ch] - 1 - q0, q0)
            out_chrom[h] = self.q_name[ch]
            out_pos[h] = q0 + 1
            reverse[h] = minus
            reason[h] = ""
        return LiftResult(out_chrom, out_pos, reverse, reason)


__all__ = ["Chain", "LiftResult", "LIFT_REASONS"]
