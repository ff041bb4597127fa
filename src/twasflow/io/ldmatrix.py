"""Precomputed LD instead of genotypes: PolyFun / UK Biobank ``.npz`` + ``.gz`` windows and LDstore ``.bcor``.

**PolyFun / UKB** (``chr{c}_{start}_{end}.npz`` + ``.gz``, 3 Mb windows every 1 Mb): the ``.npz`` is a
``scipy.sparse`` matrix holding **one triangle** of R with **half the diagonal** (0.5): the full matrix is
``M + Mᵀ`` (PolyFun's ``load_ld_npz``; polyfun#205: a user reading the raw matrix sees 0.5 on the diagonal).
The ``.gz`` lists the variants in matrix order, whitespace-delimited with a header ``rsid chromosome position
allele1 allele2`` (or a ``.parquet`` with the same columns).

**LDstore ``.bcor``** (v1.1; layout as read by LDstore's own Python reader, C. Benner): magic ``bcor1.1``; then
little-endian ``uint64`` file size, ``uint32`` samples, ``uint32`` SNPs, ``uint8`` compression (0: 2-byte, 1:
4-byte, 2: 8-byte, 3: 1-byte integers), ``uint64`` offset of the correlations; per SNP a meta record ``uint32``
length (= 20 + string lengths), ``uint32`` index, ``uint16`` + rsid, ``uint32`` position, ``uint16`` +
chromosome, ``uint32`` + allele1, ``uint32`` + allele2; then the strictly lower triangle column by column
(column j holds rows j+1..M-1), each value ``x`` stored as ``r = x · 2^-(8b-2) - 1`` with a NA sentinel.
The 2-byte files resolve r to 2⁻¹⁴ ≈ 6e-5 only.

In both, r is the correlation of allele2 dosages; counting allele1 for every variant gives the same matrix, so
the sign of a pair changes only when one variant's alleles are swapped relative to the panel or GWAS:
:meth:`LDMatrix.oriented` returns R for given counted alleles.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

_NA = {1: 208, 2: 53248, 4: 3489660928, 8: 14987979559889010688}
_BYTES = {0: 2, 1: 4, 2: 8, 3: 1}
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_COMP = str.maketrans("ACGT", "TGCA")


@dataclass
class LDMatrix:
    """A precomputed LD matrix: ``variants`` (M rows: chrom, pos, rsid, allele1, allele2) and ``R`` (M, M)."""

    variants: pd.DataFrame
    R: np.ndarray
    source: str

    def oriented(self, chrom: str, pos: np.ndarray, other: np.ndarray, counted: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """R among the target variants (K,) on ``chrom`` matched by position and allele pair (either order,
        or complemented), signed for the target's counted alleles.

        Returns (R (k, k) of the matched ones, matched mask (K,)); a target with no match is left out."""
        v = self.variants
        onc = np.flatnonzero(v["chrom"].astype(str).to_numpy() == str(chrom))
        t = pd.DataFrame({"t": np.arange(len(pos)), "pos": np.asarray(pos, dtype=np.int64),
                          "o": pd.Series(np.asarray(other, dtype=object)).str.upper().to_numpy(),
                          "c": pd.Series(np.asarray(counted, dtype=object)).str.upper().to_numpy()})
        ldv = pd.DataFrame({"r": onc, "pos": v["pos"].to_numpy(np.int64)[onc],
                            "a1": v["allele1"].to_numpy(object)[onc], "a2": v["allele2"].to_numpy(object)[onc]})
        m = t.merge(ldv, on="pos", how="inner")
        o, c = m["o"].to_numpy(object), m["c"].to_numpy(object)
        oc, cc = m["o"].str.translate(_COMP).to_numpy(object), m["c"].str.translate(_COMP).to_numpy(object)
        a1, a2 = m["a1"].to_numpy(object), m["a2"].to_numpy(object)
        # the alleles as stated first (a palindromic pair matches that way), complemented (strand) only otherwise
        direct = ((a1 == o) & (a2 == c)) | ((a1 == c) & (a2 == o))
        same = np.where(direct, (a1 == o) & (a2 == c), (a1 == oc) & (a2 == cc))
        swap = np.where(direct, (a1 == c) & (a2 == o), (a1 == cc) & (a2 == oc))
        hit = m.assign(sign=np.where(same, 1.0, -1.0))[same | swap].drop_duplicates("t", keep="first")
        rows = np.full(len(pos), -1, dtype=np.int64)
        sign = np.ones(len(pos))
        rows[hit["t"].to_numpy()] = hit["r"].to_numpy()
        sign[hit["t"].to_numpy()] = hit["sign"].to_numpy()
        ok = rows >= 0
        k, s = rows[ok], sign[ok]
        return self.R[np.ix_(k, k)] * np.outer(s, s), ok


def _check_R(R: np.ndarray, path: Path) -> np.ndarray:
    if R.shape[0] != R.shape[1]:
        raise InputError.at("LD matrix is not square", file=path, found=str(R.shape), expected="M x M")
    if not np.allclose(np.diag(R), 1.0, atol=1e-6) or not np.all(np.isfinite(R)):
        bad = np.flatnonzero(~np.isclose(np.diag(R), 1.0, atol=1e-6))
        raise InputError.at("LD matrix diagonal is not 1 (or has NaN)", file=path,
                            found=f"diag[{bad[0] if len(bad) else '?'}] = {np.diag(R)[bad[0]] if len(bad) else 'NaN'}",
                            expected="a correlation matrix (PolyFun .npz: one triangle with 0.5 on the diagonal)")
    return R


# ---------------------------------------------------------------------------------------------- PolyFun / UKB
def read_polyfun_npz(prefix: str | os.PathLike[str]) -> LDMatrix:
    """``prefix.npz`` + ``prefix.gz`` (or ``prefix.parquet``) → :class:`LDMatrix` (R = M + Mᵀ)."""
    from scipy import sparse

    npz = Path(str(prefix) + ".npz")
    if not npz.is_file():
        raise InputError.at("LD matrix file not found", file=npz, expected="a PolyFun/UKB .npz beside its .gz")
    pq_, gz = Path(str(prefix) + ".parquet"), Path(str(prefix) + ".gz")
    if pq_.is_file():
        snps = pd.read_parquet(pq_)
    elif gz.is_file():
        snps = pd.read_csv(gz, sep=r"\s+", dtype={"chromosome": str, "rsid": str, "allele1": str, "allele2": str})
    else:
        raise InputError.at("LD variant list not found", file=gz, expected=f"{gz.name} or {pq_.name} beside {npz.name}")
    need = ["rsid", "chromosome", "position", "allele1", "allele2"]
    missing = [c for c in need if c not in snps.columns]
    if missing:
        raise InputError.at("LD variant list lacks a column", file=gz, column=missing[0], found=list(snps.columns),
                            expected=" ".join(need))
    try:
        M = sparse.load_npz(npz).toarray()
    except (OSError, ValueError, KeyError) as exc:
        raise InputError.at("cannot read the LD matrix", file=npz, found=str(exc),
                            expected="a scipy.sparse .npz (PolyFun/UKB layout)") from None
    R = _check_R(M + M.T, npz)
    if len(R) != len(snps):
        raise InputError.at("LD matrix and variant list differ in size", file=npz, found=f"{len(R)} x {len(R)}",
                            expected=f"{len(snps)} variants as in {gz.name}")
    variants = pd.DataFrame({"chrom": snps["chromosome"].astype(str).str.replace(r"^chr", "", regex=True).to_numpy(),
                             "pos": snps["position"].to_numpy(np.int64), "rsid": snps["rsid"].to_numpy(),
                             "allele1": snps["allele1"].str.upper().to_numpy(),
                             "allele2": snps["allele2"].str.upper().to_numpy()})
    return LDMatrix(variants, R, str(npz))


def write_polyfun_npz(prefix: str | os.PathLike[str], variants: pd.DataFrame, R: np.ndarray) -> None:
    """Write the UKB layout (lower triangle with 0.5 on the diagonal, sparse .npz; variants .gz): for fixtures."""
    from scipy import sparse

    sparse.save_npz(str(prefix) + ".npz", sparse.csr_matrix(np.tril(R, -1) + 0.5 * np.eye(len(R))), compressed=True)
    variants.rename(columns={"chrom": "chromosome", "pos": "position"})[
        ["rsid", "chromosome", "position", "allele1", "allele2"]].to_csv(str(prefix) + ".gz", sep="\t", index=False,
                                                                          compression={"method": "gzip", "mtime": 0})


_WINDOW = re.compile(r"^chr([0-9XY]+)_([0-9]+)_([0-9]+)\.npz$")


def ukb_windows(directory: str | os.PathLike[str]) -> pd.DataFrame:
    """The LD windows of a directory (files ``chr{c}_{start}_{end}.npz``): ``chrom, start, end, prefix``."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError.at("LD directory not found", file=d, expected="a directory of chr{c}_{start}_{end}.npz files")
    rows = [(m.group(1), int(m.group(2)), int(m.group(3)), str(d / f.name[:-4]))
            for f in sorted(d.iterdir()) if (m := _WINDOW.match(f.name))]
    if not rows:
        raise InputError.at("no LD window in the directory", file=d, expected="files chr{c}_{start}_{end}.npz")
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "prefix"])


def window_for_locus(windows: pd.DataFrame, chrom: str, start: int, end: int) -> str:
    """The prefix of the window holding the whole locus [start, end]; when several do, the one whose centre is
    closest to the locus centre (PolyFun's choice). A locus no single window holds is refused, naming the
    windows it overlaps (a correlation between variants of two windows is in neither file)."""
    w = windows[windows["chrom"].astype(str) == str(chrom)]
    inside = w[(w["start"] <= start) & (w["end"] >= end)]
    if len(inside):
        mid = (start + end) / 2
        i = int(np.argmin(np.abs((inside["start"] + inside["end"]) / 2 - mid).to_numpy()))
        return str(inside["prefix"].iloc[i])
    over = w[(w["start"] <= end) & (w["end"] >= start)]
    names = ", ".join(Path(p).name for p in over["prefix"]) or "none"
    raise InputError.at("the locus spans several LD windows (or none): no precomputed LD holds all its pairs",
                        column="locus", found=f"chr{chrom}:{start}-{end} overlaps {names}",
                        expected="a locus inside one window (shorten loci.radius_kb, or use genotypes)")


# ---------------------------------------------------------------------------------------------- LDstore bcor
def read_bcor(path: str | os.PathLike[str]) -> LDMatrix:
    """An LDstore 1.1 ``.bcor`` → :class:`LDMatrix` (whole matrix, vectorised)."""
    p = Path(path)
    if not p.is_file():
        raise InputError.at("bcor file not found", file=p, expected="an LDstore .bcor file")
    buf = p.read_bytes()
    if buf[:7] != b"bcor1.1":
        raise InputError.at("not an LDstore bcor 1.1 file", file=p, found=repr(buf[:7]), expected="magic 'bcor1.1'")
    _fsize, n_samples, m, comp, offset = (int(np.frombuffer(buf, t, 1, o)[0]) for t, o in
                                         ((np.uint64, 7), (np.uint32, 15), (np.uint32, 19), (np.uint8, 23),
                                          (np.uint64, 24)))
    if comp not in _BYTES:
        raise InputError.at("unknown bcor compression", file=p, found=comp, expected="0, 1, 2 or 3")
    o = 32
    meta: dict[str, list] = {k: [] for k in ("rsid", "pos", "chrom", "allele1", "allele2")}

    def u(t, n=1):  # noqa: ANN001, ANN202
        nonlocal o
        v = np.frombuffer(buf, t, n, o)
        o += np.dtype(t).itemsize * n
        return int(v[0])

    def s(n: int) -> str:
        nonlocal o
        v = buf[o:o + n].decode()
        o += n
        return v

    try:
        for _ in range(m):
            u(np.uint32)
            u(np.uint32)
            meta["rsid"].append(s(u(np.uint16)))
            meta["pos"].append(u(np.uint32))
            meta["chrom"].append(s(u(np.uint16)))
            meta["allele1"].append(s(u(np.uint32)))
            meta["allele2"].append(s(u(np.uint32)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError.at("truncated or corrupt bcor meta block", file=p, found=str(exc),
                            expected=f"{m} SNP records") from None
    nb = _BYTES[comp]
    npairs = m * (m - 1) // 2
    if offset + nb * npairs > len(buf):
        raise InputError.at("truncated bcor correlations", file=p, found=f"{len(buf)} bytes",
                            expected=f"{offset + nb * npairs} bytes for {m} SNPs")
    x = np.frombuffer(buf, _UINT[nb], npairs, offset)
    vals = np.ldexp(x.astype(np.float64), -(8 * nb - 2)) - 1.0
    vals[x == _NA[nb]] = np.nan
    R = np.eye(m)
    # strictly lower triangle, column by column: np.tril_indices is row-major, so fill the upper triangle
    # row by row (the transpose) and mirror
    iu = np.triu_indices(m, 1)
    R[iu] = vals
    R[(iu[1], iu[0])] = vals
    variants = pd.DataFrame({"chrom": pd.Series(meta["chrom"]).str.replace(r"^chr", "", regex=True).to_numpy(),
                             "pos": np.asarray(meta["pos"], dtype=np.int64), "rsid": meta["rsid"],
                             "allele1": pd.Series(meta["allele1"]).str.upper().to_numpy(),
                             "allele2": pd.Series(meta["allele2"]).str.upper().to_numpy()})
    out = LDMatrix(variants, _check_R(R, p), str(p))
    out.n_samples = n_samples  # type: ignore[attr-defined]
    return out


def write_bcor(path: str | os.PathLike[str], variants: pd.DataFrame, R: np.ndarray, n_samples: int,
               compression: int = 1) -> None:
    """Write an LDstore 1.1 ``.bcor`` (for fixtures and tests), in the layout :func:`read_bcor` documents."""
    nb = _BYTES[compression]
    recs = []
    for i, r in enumerate(variants.itertuples(index=False)):
        rs, ch, a1, a2 = (str(x).encode() for x in (r.rsid, r.chrom, r.allele1, r.allele2))
        recs.append(np.array([20 + len(rs) + len(ch) + len(a1) + len(a2), i], np.uint32).tobytes()
                    + np.uint16(len(rs)).tobytes() + rs + np.uint32(r.pos).tobytes() + np.uint16(len(ch)).tobytes()
                    + ch + np.uint32(len(a1)).tobytes() + a1 + np.uint32(len(a2)).tobytes() + a2)
    meta = b"".join(recs)
    m = len(R)
    vals = R[np.triu_indices(m, 1)]  # = the lower triangle column by column
    x = np.rint(np.ldexp(vals + 1.0, 8 * nb - 2)).astype(_UINT[nb])
    offset = 32 + len(meta)
    body = x.tobytes()
    head = (b"bcor1.1" + np.uint64(offset + len(body)).tobytes() + np.uint32(n_samples).tobytes()
            + np.uint32(m).tobytes() + np.uint8(compression).tobytes() + np.uint64(offset).tobytes())
    Path(path).write_bytes(head + meta + body)


__all__ = ["LDMatrix", "read_bcor", "read_polyfun_npz", "ukb_windows", "window_for_locus", "write_bcor",
           "write_polyfun_npz"]
