"""Linkage disequilibrium: Pearson correlation of allele counts (= PLINK 1.9 ``--r``/``--r2``).

``ld_matrix`` is the numerical core (no I/O). ``panel_ld`` reads dosages from the genotype store;
``write_plink_square`` and ``run_ld`` reproduce PLINK's ``--r square`` / ``--r2 square`` text output.

Monomorphic variants (zero variance over the people used) have an undefined correlation; PLINK prints
``nan`` for their whole row and column, diagonal included, and so does ``ld_matrix(..., monomorphic="nan")``.
Downstream fine-mapping should not receive such variants (drop them, or use ``monomorphic="zero"``, which
returns 0 off the diagonal and 1 on it, i.e. an uncorrelated variant that carries no signal).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from twasflow.io.panel import Panel


def ld_matrix(G: np.ndarray, monomorphic: Literal["nan", "zero"] = "nan") -> np.ndarray:
    """Pearson correlation between the columns of a genotype matrix.

    Parameters
    ----------
    G : float array (N, k) of allele counts (or dosages); NaN marks a missing call.
    monomorphic : what to return for a variant with zero variance over the people used: ``"nan"`` (as
        PLINK prints) or ``"zero"`` (0 off the diagonal, 1 on it).

    Returns
    -------
    R : float64 (k, k), symmetric, unit diagonal except NaN for monomorphic variants. With missing calls
        each entry uses the people called at both variants (pairwise complete, as PLINK 1.9 ``--r``).
    """
    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 2:
        raise ValueError(f"G must be 2-D (N, k); got shape {G.shape}")
    n, k = G.shape
    miss = np.isnan(G)
    if not miss.any():
        # centring first keeps the cross-product well conditioned
        X = G - G.mean(axis=0)
        ss = np.einsum("ij,ij->j", X, X)
        poly = ss > 1e-12 * max(n, 1)
        scale = np.zeros(k)
        scale[poly] = 1.0 / np.sqrt(ss[poly])
        Xs = X * scale
        R = Xs.T @ Xs
        bad = ~poly
        R[bad, :] = np.nan
        R[:, bad] = np.nan
    else:
        R = _ld_pairwise_complete(G, miss)
    np.fill_diagonal(R, np.where(np.isnan(np.diag(R)), np.nan, 1.0))
    np.clip(R, -1.0, 1.0, out=R)
    R = 0.5 * (R + R.T)  # exact symmetry despite GEMM rounding
    if monomorphic == "zero":
        R = np.where(np.isnan(R), 0.0, R)
        np.fill_diagonal(R, 1.0)
    elif monomorphic != "nan":
        raise ValueError(f"monomorphic must be 'nan' or 'zero', got {monomorphic!r}")
    return R


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


def _ld_pairwise_complete(G: np.ndarray, miss: np.ndarray) -> np.ndarray:
    """Pairwise-complete Pearson r via indicator-matrix GEMMs (sums over people called at both)."""
    M = (~miss).astype(np.float64)
    cnt = M.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, np.nansum(G, axis=0) / cnt, 0.0)
    X = np.where(miss, 0.0, G - mean)  # centred, 0 where missing
    X2 = X * X
    N = M.T @ M  # people called at both
    S = X.T @ M  # S[i, j] = sum of x_i over people called at i and j
    SS = X2.T @ M
    C = X.T @ X
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = C - S * S.T / N
        var_i = SS - S * S / N  # var of i over pairs complete with j
        var_j = var_i.T
        tol = 1e-10 * np.maximum(SS, SS.T) + 1e-300
        R = cov / np.sqrt(var_i * var_j)
        R[(var_i <= tol) | (var_j <= tol) | (N < 2)] = np.nan
    poly = X2.sum(axis=0) > 1e-12 * np.maximum(cnt, 1)
    R[~poly, :] = np.nan
    R[:, ~poly] = np.nan
    return R


def panel_ld(panel: "Panel", variant_ids: Sequence[str], monomorphic: Literal["nan", "zero"] = "nan") -> np.ndarray:
    """Correlation matrix (k, k) of counted-allele dosages for ``variant_ids`` from the genotype store.

    All ids must be on one chromosome; the order of ``R`` follows ``variant_ids``.
    """
    chrom, rows = panel.index_of(variant_ids)
    return ld_matrix(panel.dosages(chrom, rows), monomorphic=monomorphic)


def format_plink_square(R: np.ndarray) -> str:
    """PLINK ``--r square`` text: one row per variant, tab-separated ``%g`` (6 significant digits)."""
    R = np.asarray(R, dtype=np.float64) + 0.0  # turns -0.0 into 0.0 as PLINK prints it
    if R.size == 0:
        return ""
    fmt = "\t".join(["%g"] * R.shape[1]) + "\n"
    return "".join([fmt % tuple(row) for row in R.tolist()])


def _gzip_members(data: bytes, level: int = 1, chunk: int = 1 << 22) -> bytes:
    """gzip ``data`` as concatenated members compressed in parallel threads (valid gzip, deterministic)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(part: bytes) -> bytes:
        return gzip.compress(part, compresslevel=level, mtime=0)

    parts = [data[i: i + chunk] for i in range(0, len(data), chunk)] or [b""]
    if len(parts) == 1:
        return one(parts[0])
    workers = min(len(parts), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as ex:  # zlib releases the GIL
        return b"".join(ex.map(one, parts))


def write_plink_square(R: np.ndarray, path: str | os.PathLike[str], gz: bool = False) -> Path:
    """Write ``R`` in PLINK's square matrix layout (gzip when ``gz``; deterministic gzip header)."""
    from twasflow.io.tables import atomic_path

    path = Path(path)
    data = format_plink_square(R).encode()
    with atomic_path(path) as tmp:
        tmp.write_bytes(_gzip_members(data) if gz else data)
    return path


def plink_minor_flip(G: np.ndarray) -> np.ndarray:
    """Which columns PLINK would re-orient: A1 (counted) frequency > 0.5 among the called people.

    ``G`` (N, k) counts A1 copies with NaN for missing. Returns bool (k,). A frequency of exactly 0.5
    keeps the stored A1, as PLINK 1.9 does.
    """
    with np.errstate(invalid="ignore"):
        called = (~np.isnan(G)).sum(axis=0)
        f = np.nansum(G, axis=0) / (2.0 * called)
    # PLINK tests the A2 frequency: reverse iff freq(A2) < 0.5
    return (1.0 - f) < 0.5


def run_ld(
    bfile: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    extract: str | os.PathLike[str] | None = None,
    keep: str | os.PathLike[str] | None = None,
    r2: bool = False,
    gz: bool = False,
    keep_allele_order: bool = False,
) -> Path:
    """PLINK-compatible ``--r square`` / ``--r2 square``: write ``{out}.ld`` (or ``{out}.ld.gz``).

    Uses founders only (as PLINK), the variants listed in ``extract`` (one id per line; bim order kept),
    the people in ``keep`` (``FID IID`` per line, or one IID per line). Signs follow PLINK's A1 = minor
    allele in the analysed people unless ``keep_allele_order``. Also writes ``{out}.log``.
    """
    from twasflow.errors import PanelError
    from twasflow.io.plink import founder_mask, read_bed, read_bim, read_fam
    from twasflow.io.tables import write_text

    bim = read_bim(bfile)
    fam = read_fam(bfile)
    vrows = np.arange(len(bim))
    if extract is not None:
        ids = _read_id_list(extract)
        vrows = np.flatnonzero(bim["id"].isin(set(ids)).to_numpy())
        if vrows.size == 0:
            raise PanelError.at("no variant of the --extract list is in the .bim", file=extract)
    smask = founder_mask(fam).copy()
    if keep is not None:
        smask &= _keep_mask(fam, keep)
    srows = np.flatnonzero(smask)
    if srows.size == 0:
        raise PanelError.at("no people left after --keep and founder filtering", file=keep or bfile)
    counts = read_bed(bfile, vrows, srows)
    G = counts.astype(np.float64)
    G[counts < 0] = np.nan
    if not keep_allele_order:
        flip = plink_minor_flip(G)
        G[:, flip] = 2.0 - G[:, flip]
    R = ld_matrix(G, monomorphic="nan")
    if r2:
        R = R * R
    out_path = Path(str(out) + (".ld.gz" if gz else ".ld"))
    write_plink_square(R, out_path, gz=gz)
    n_mono = int(np.isnan(np.diag(R)).sum()) if R.size else 0
    write_text(
        "twasflow ld (PLINK 1.9 --r%s square emulation)\n"
        f"bfile: {bfile}\nextract: {extract}\nkeep: {keep}\n"
        f"variants: {len(vrows)}\npeople (founders kept): {len(srows)}\n"
        f"keep_allele_order: {keep_allele_order}\nmonomorphic (nan rows): {n_mono}\n"
        f"output: {out_path}\n" % ("2" if r2 else ""),
        Path(str(out) + ".log"),
    )
    return out_path


def _read_id_list(path: str | os.PathLike[str]) -> list[str]:
    with open(path) as fh:
        return [tok for line in fh for tok in line.split()[:1]]


def _keep_mask(fam, keep: str | os.PathLike[str]) -> np.ndarray:
    """People listed in a keep file: ``FID IID`` pairs, or a single IID per line."""
    pairs, iids = set(), set()
    with open(keep) as fh:
        for line in fh:
            tok = line.split()
            if len(tok) >= 2:
                pairs.add((tok[0], tok[1]))
            elif len(tok) == 1:
                iids.add(tok[0])
    fid = fam["fid"].to_numpy()
    iid = fam["iid"].to_numpy()
    m = np.fromiter(((f, i) in pairs or i in iids for f, i in zip(fid, iid)), dtype=bool, count=len(fam))
    return m
