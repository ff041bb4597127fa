"""PLINK 1.9 ``.clumped`` text: its number formatting and column widths, byte for byte."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .core import ClumpRecord


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
        for lim, mult, bit in ((9.9949999999999e-256, 1.0e256, 256), (9.9949999999999e-128, 1.0e128, 128)):
            if d < lim:
                d *= mult
                xp |= bit
                break
        for lim, mult, bit in ((9.9949999999999e-64, 1.0e64, 64), (9.9949999999999e-32, 1.0e32, 32),
                               (9.9949999999999e-16, 1.0e16, 16), (9.9949999999999e-8, 1.0e8, 8),
                               (9.9949999999999e-4, 1.0e4, 4), (9.9949999999999e-2, 1.0e2, 2)):
            if d < lim:
                d *= mult
                xp |= bit
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


def format_clumped(records: Sequence[ClumpRecord], snp_width: int, rsids: Mapping[str, str | None] | None = None
                   ) -> str:
    """PLINK 1.9 ``.clumped`` text (non-verbose) for ``records``; ends with two empty lines.

    ``rsids`` (index variant id → rsID): adds a last column ``RSID`` (``.`` where unknown) after ``SP2``, so
    the index variants can be looked up; without it the text is PLINK's byte for byte."""
    w = snp_width
    out = [" CHR    F " + "SNP".rjust(w) + "         BP        "
           + "P    TOTAL   NSIG    S05    S01   S001  S0001    SP2" + (" RSID" if rsids is not None else "") + "\n"]
    for r in records:
        ch = _PLINK_CHROM.get(r.chrom, r.chrom)
        head = (ch.rjust(4) + " " + str(r.fidx).rjust(4) + " " + r.snp.rjust(w) + " "
                + str(r.bp).rjust(10) + " " + format_p3(r.p, 10) + " " + str(r.total).rjust(8) + " "
                + "".join(str(b).rjust(6) + " " for b in r.bins))
        sp2 = ",".join(f"{s}({f})" for s, f in r.sp2) if r.sp2 else "NONE"
        rs = "" if rsids is None else " " + (rsids.get(r.snp) or ".")
        out.append(head + sp2 + rs + "\n")
    out.append("\n\n")
    return "".join(out)


