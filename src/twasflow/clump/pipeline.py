"""Pipeline-facing clumping: a harmonized table against the genotype store. The small greedy clumper used for
within-locus pruning is :func:`twasflow.ld.greedy_clump` (an LD-matrix routine used by the locus bundles and coloc;
``twasflow.clump.greedy_clump`` re-exports it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from twasflow.errors import ClumpError

from .command import _check_thresholds
from .core import ClumpRecord, build_entries, clump_plink
from .em import R2Method

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from twasflow.io.panel import Panel


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
    p1, p2, r2, kb, r2_method : clumping parameters (config ``clump`` block; defaults: the config schema).

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
