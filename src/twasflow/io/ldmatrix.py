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
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

_NA = {1: 208, 2: 53248, 4: 3489660928, 8: 14987979559889010688}
_BYTES = {0: 2, 1: 4, 2: 8, 3: 1}
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_COMP = str.maketrans("ACGT", "TGCA")


@dataclass
class LDMatrix:
    """A precomputed LD matrix: ``variants`` (M rows: chrom, pos, rsid, allele1, allele2) and ``R`` (M, M), dense
    or (PolyFun windows read with ``dense=False``) a ``scipy.sparse`` CSR matrix, read block by block."""

    variants: pd.DataFrame
    R: Any
    source: str

    def block(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Dense R[i, j] (len(i), len(j)) of matrix rows ``i`` and columns ``j``."""
        if isinstance(self.R, np.ndarray):
            return self.R[np.ix_(i, j)]
        return np.asarray(self.R[i][:, j].toarray(), dtype=np.float64)

    def match(self, chrom: str, pos: np.ndarray, other: np.ndarray, counted: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """Matrix row (-1 if none) and sign (+1: allele2 is the counted allele) of each target variant (K,),
        matched by position and allele pair (either order, or complemented for an SNV)."""
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
        return rows, sign

    def oriented(self, chrom: str, pos: np.ndarray, other: np.ndarray, counted: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """R among the target variants (K,) on ``chrom`` matched by position and allele pair (either order,
        or complemented), signed for the target's counted alleles.

        Returns (R (k, k) of the matched ones, matched mask (K,)); a target with no match is left out."""
        rows, sign = self.match(chrom, pos, other, counted)
        ok = rows >= 0
        k, sg = rows[ok], sign[ok]
        return self.block(k, k) * np.outer(sg, sg), ok


def _check_R(R: Any, path: Path) -> Any:
    if not isinstance(R, np.ndarray):  # sparse: the diagonal and the stored values
        d = R.diagonal()
        if R.shape[0] != R.shape[1] or not np.allclose(d, 1.0, atol=1e-6) or not np.all(np.isfinite(R.data)):
            bad = np.flatnonzero(~np.isclose(d, 1.0, atol=1e-6))
            raise InputError.at("LD matrix is not a correlation matrix (square, diagonal 1, finite)", file=path,
                                found=f"shape {R.shape}, diag[{bad[0]}] = {d[bad[0]]}" if len(bad) else f"shape {R.shape}",
                                expected="a correlation matrix (PolyFun .npz: one triangle with 0.5 on the diagonal)")
        return R
    if R.shape[0] != R.shape[1]:
        raise InputError.at("LD matrix is not square", file=path, found=str(R.shape), expected="M x M")
    if not np.allclose(np.diag(R), 1.0, atol=1e-6) or not np.all(np.isfinite(R)):
        bad = np.flatnonzero(~np.isclose(np.diag(R), 1.0, atol=1e-6))
        raise InputError.at("LD matrix diagonal is not 1 (or has NaN)", file=path,
                            found=f"diag[{bad[0] if len(bad) else '?'}] = {np.diag(R)[bad[0]] if len(bad) else 'NaN'}",
                            expected="a correlation matrix (PolyFun .npz: one triangle with 0.5 on the diagonal)")
    return R


# ---------------------------------------------------------------------------------------------- PolyFun / UKB
def read_polyfun_npz(prefix: str | os.PathLike[str], dense: bool = True) -> LDMatrix:
    """``prefix.npz`` + ``prefix.gz`` (or ``prefix.parquet``) → :class:`LDMatrix` (R = M + Mᵀ).

    ``dense=False`` keeps R sparse (CSR): a UK Biobank 3 Mb window holds ~20,000 variants, 3.2 GB dense, of which
    a locus needs a block (:meth:`LDMatrix.block`)."""
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
        M = sparse.load_npz(npz)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError.at("cannot read the LD matrix", file=npz, found=str(exc),
                            expected="a scipy.sparse .npz (PolyFun/UKB layout)") from None
    R = _check_R(M.toarray() + M.toarray().T if dense else (M + M.T).tocsr(), npz)
    if R.shape[0] != len(snps):
        raise InputError.at("LD matrix and variant list differ in size", file=npz, found=f"{R.shape[0]} x {R.shape[0]}",
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
    n_samples, m, comp, offset, variants = bcor_meta(p)
    nb = _BYTES[comp]
    npairs = m * (m - 1) // 2
    size = p.stat().st_size
    if offset + nb * npairs > size:
        raise InputError.at("truncated bcor correlations", file=p, found=f"{size} bytes",
                            expected=f"{offset + nb * npairs} bytes for {m} SNPs")
    x = np.fromfile(p, _UINT[nb], npairs, offset=offset)
    vals = np.ldexp(x.astype(np.float64), -(8 * nb - 2)) - 1.0
    vals[x == _NA[nb]] = np.nan
    R = np.eye(m)
    # strictly lower triangle, column by column: np.tril_indices is row-major, so fill the upper triangle
    # row by row (the transpose) and mirror
    iu = np.triu_indices(m, 1)
    R[iu] = vals
    R[(iu[1], iu[0])] = vals
    out = LDMatrix(variants, _check_R(R, p), str(p))
    out.n_samples = n_samples  # type: ignore[attr-defined]
    return out


def bcor_meta(path: str | os.PathLike[str]) -> tuple[int, int, int, int, pd.DataFrame]:
    """(samples, SNPs, compression, offset of the correlations, variants) of an LDstore 1.1 ``.bcor``, reading
    the header and the SNP records only."""
    p = Path(path)
    if not p.is_file():
        raise InputError.at("bcor file not found", file=p, expected="an LDstore .bcor file")
    with open(p, "rb") as fh:
        head = fh.read(32)
        if head[:7] != b"bcor1.1" or len(head) < 32:
            raise InputError.at("not an LDstore bcor 1.1 file", file=p, found=repr(head[:7]),
                                expected="magic 'bcor1.1'")
        _fsize, n_samples, m, comp, offset = (int(np.frombuffer(head, t, 1, o)[0]) for t, o in
                                             ((np.uint64, 7), (np.uint32, 15), (np.uint32, 19), (np.uint8, 23),
                                              (np.uint64, 24)))
        if comp not in _BYTES:
            raise InputError.at("unknown bcor compression", file=p, found=comp, expected="0, 1, 2 or 3")
        buf = head + fh.read(max(offset - 32, 0))
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
    variants = pd.DataFrame({"chrom": pd.Series(meta["chrom"], dtype=object).str.replace(r"^chr", "", regex=True).to_numpy(),
                             "pos": np.asarray(meta["pos"], dtype=np.int64), "rsid": meta["rsid"],
                             "allele1": pd.Series(meta["allele1"], dtype=object).str.upper().to_numpy(),
                             "allele2": pd.Series(meta["allele2"], dtype=object).str.upper().to_numpy()})
    return n_samples, m, comp, offset, variants


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


# ---------------------------------------------------------------------------------------------- a run's LD source
class LDSource:
    """The precomputed LD of a run without genotypes (config ``panel.ld``): a directory of PolyFun / UK Biobank
    windows (``chr{c}_{start}_{end}.npz`` + ``.gz``) or of LDstore ``.bcor`` files (one window each, its range
    that of its variants), or a single ``.bcor`` file.

    A set of variants gets its LD from the one window that holds their whole position range
    (:func:`window_for_locus`: the closest-centred of several; a range no window holds is refused with the
    windows named). Windows are read on demand; the last two stay in memory (PolyFun windows sparse).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        self.path = p
        if p.is_file() and p.suffix == ".bcor":
            files = [p]
        elif p.is_dir():
            files = sorted(p.glob("*.bcor"))
        else:
            raise InputError.at("precomputed LD not found", file=p, column="panel.ld",
                                expected="a directory of chr{c}_{start}_{end}.npz + .gz windows or of .bcor "
                                         "files, or one .bcor file")
        if p.is_dir() and any(_WINDOW.match(f.name) for f in p.iterdir()):
            self.format = "polyfun"
            self.windows = ukb_windows(p)
            self._variants: pd.DataFrame | None = None
        elif files:
            self.format = "bcor"
            rows, parts = [], []
            for f in files:
                v = bcor_meta(f)[4]
                if v["chrom"].nunique() != 1:
                    raise InputError.at("a bcor file spans several chromosomes", file=f, column="chromosome",
                                        found=sorted(v["chrom"].unique())[:5], expected="one chromosome per file")
                rows.append((str(v["chrom"].iloc[0]), int(v["pos"].min()), int(v["pos"].max()), str(f)))
                parts.append(v)
            self.windows = pd.DataFrame(rows, columns=["chrom", "start", "end", "prefix"])
            self._variants = pd.concat(parts, ignore_index=True)
        else:
            raise InputError.at("no LD window in the directory", file=p, column="panel.ld",
                                expected="chr{c}_{start}_{end}.npz (+ .gz) files or .bcor files")
        self._cache: dict[str, LDMatrix] = {}

    def read(self, prefix: str) -> LDMatrix:
        """The window ``prefix`` (a row of :attr:`windows`), from the cache when read last or before last."""
        if prefix not in self._cache:
            if len(self._cache) >= 2:
                self._cache.pop(next(iter(self._cache)))
            self._cache[prefix] = read_polyfun_npz(prefix, dense=False) if self.format == "polyfun" else read_bcor(prefix)
        return self._cache[prefix]

    def variants(self) -> pd.DataFrame:
        """Every variant of every window once: ``chrom, pos, rsid, allele1, allele2`` (windows overlap)."""
        if self._variants is None:
            parts = []
            for prefix in self.windows["prefix"]:
                pq_, gz = Path(prefix + ".parquet"), Path(prefix + ".gz")
                snps = (pd.read_parquet(pq_) if pq_.is_file() else
                        pd.read_csv(gz, sep=r"\s+", dtype={"chromosome": str, "rsid": str, "allele1": str,
                                                           "allele2": str}))
                parts.append(pd.DataFrame({
                    "chrom": snps["chromosome"].astype(str).str.replace(r"^chr", "", regex=True).to_numpy(),
                    "pos": snps["position"].to_numpy(np.int64), "rsid": snps["rsid"].to_numpy(),
                    "allele1": snps["allele1"].str.upper().to_numpy(), "allele2": snps["allele2"].str.upper().to_numpy()}))
            self._variants = pd.concat(parts, ignore_index=True)
        return self._variants.drop_duplicates(["chrom", "pos", "allele1", "allele2"]).reset_index(drop=True)

    def window(self, chrom: str, start: int, end: int) -> LDMatrix:
        """The window holding [start, end] on ``chrom`` (refused clearly when none does)."""
        return self.read(window_for_locus(self.windows, str(chrom), int(start), int(end)))

    def rows_signs(self, chrom: str, pos: np.ndarray, other: np.ndarray, counted: np.ndarray
                   ) -> tuple[LDMatrix, np.ndarray, np.ndarray]:
        """(window, matrix rows, signs) of target variants (K,) of one chromosome: the window holding their
        range; an InputError names a variant the window lacks."""
        pos = np.asarray(pos, dtype=np.int64)
        ld = self.window(chrom, int(pos.min()), int(pos.max()))
        rows, sign = ld.match(chrom, pos, other, counted)
        if (rows < 0).any():
            i = int(np.flatnonzero(rows < 0)[0])
            raise InputError.at("variant not in the LD window", file=ld.source, column="position",
                                found=f"{chrom}:{pos[i]}:{other[i]}:{counted[i]}",
                                expected="every variant of the run's store in each window covering it")
        return ld, rows, sign

    def ld(self, variant_ids: list[str] | np.ndarray) -> np.ndarray:
        """R (k, k) of ``variant_ids`` (``chrom:pos:other:counted``, one chromosome), signed for the counted
        alleles, in the order given."""
        parts = pd.Series(np.asarray(variant_ids, dtype=object)).str.split(":", n=3, expand=True)
        chrom = parts[0].unique()
        if len(chrom) != 1:
            raise InputError.at("variant ids span several chromosomes", column="variant_id",
                                found=sorted(chrom)[:5], expected="one chromosome")
        ld, rows, sign = self.rows_signs(str(chrom[0]), parts[1].astype(np.int64).to_numpy(),
                                         parts[2].to_numpy(object), parts[3].to_numpy(object))
        return ld.block(rows, rows) * np.outer(sign, sign)

    def __call__(self, panel: Any, variant_ids: list[str]) -> np.ndarray:
        """The per-locus LD callable of :func:`twasflow.locus.bundle_locus` (``(panel, variant_ids) -> R``)."""
        return self.ld(variant_ids)


def ld_for_store(store_dir: str | os.PathLike[str]) -> Any:
    """The per-locus LD function of a panel store: its precomputed :class:`LDSource` when the store was built
    from one (``panel.json`` ``ld``), else :func:`twasflow.ld.panel_ld` (genotypes)."""
    from ..io.tables import read_json
    from ..ld import panel_ld

    meta = read_json(Path(store_dir) / "panel.json")
    if meta.get("ld"):
        return LDSource(meta["ld"]["path"])
    return panel_ld


__all__ = ["LDMatrix", "LDSource", "bcor_meta", "ld_for_store", "read_bcor", "read_polyfun_npz", "ukb_windows",
           "window_for_locus", "write_bcor", "write_polyfun_npz"]
