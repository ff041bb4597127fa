"""Approximately independent LD blocks built from the reference panel.

For every gap between adjacent variants the *crossing LD* is the sum of r² over variant pairs (i, j) that lie on
opposite sides of the gap and at most ``band`` variants apart. Boundaries are then chosen left to right: the next
boundary is the gap of least crossing LD whose position is between ``0.5`` and ``1.5`` × ``target_kb`` past the
current block start (the idea of LDetect's minima search, in a simple greedy form). The blocks tile each
chromosome from position 1 to its last panel variant.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .io.tables import write_text

log = logging.getLogger(__name__)


def crossing_ld(dosage_tile: Any, m: int, band: int = 200, tile: int = 500) -> np.ndarray:
    """Crossing LD of each of the ``m - 1`` gaps between ``m`` ordered variants.

    ``dosage_tile(lo, hi)`` returns the (N, hi - lo) correlation-ready dosages of variants ``lo..hi-1``; it is
    called on overlapping tiles so memory stays O(N·(tile + band)). Returns (m - 1,) float64: entry g is the gap
    between variants g and g + 1.
    """
    from .ld import ld_matrix

    diff = np.zeros(m + 1)
    for lo in range(0, m, tile):
        hi = min(m, lo + tile + band)
        r = ld_matrix(dosage_tile(lo, hi))
        r2 = np.nan_to_num(r * r, nan=0.0)
        k = hi - lo
        ii, jj = np.triu_indices(k, 1)
        keep = (jj - ii <= band) & (ii < min(tile, m - lo))
        ii, jj = ii[keep], jj[keep]
        w = r2[ii, jj]
        # pair (i, j) crosses gaps i..j-1: add w on [i, j) with a difference array
        np.add.at(diff, lo + ii, w)
        np.add.at(diff, lo + jj, -w)
    return np.cumsum(diff)[: m - 1]


def choose_boundaries(pos: np.ndarray, score: np.ndarray, target_bp: float) -> np.ndarray:
    """Gap indices (into ``score``) at which blocks end, greedy left to right (see module docstring)."""
    mid = (pos[:-1] + pos[1:]) / 2.0
    cuts = []
    start = pos[0]
    last = pos[-1]
    while last - start > 1.5 * target_bp:
        lo, hi = np.searchsorted(mid, [start + 0.5 * target_bp, start + 1.5 * target_bp])
        if hi <= lo:
            lo, hi = lo, min(lo + 1, len(mid))
            if hi <= lo:
                break
        g = lo + int(np.argmin(score[lo:hi]))
        cuts.append(g)
        start = mid[g]
    return np.asarray(cuts, dtype=np.int64)


def build_ld_blocks(panel: Any, *, target_kb: float = 1500, band: int = 200) -> pd.DataFrame:
    """LD blocks of every chromosome of a :class:`~twasflow.io.panel.Panel` → ``chrom, start, end, n_variants``
    (1-based inclusive), with ``crossing_ld`` of the boundary that ends each block (NaN for the last)."""
    rows = []
    for chrom in panel.chroms:
        v = panel.variants[panel.variants["chrom"] == chrom]
        pos = v["pos"].to_numpy(np.int64)
        prow = v["row"].to_numpy(np.int64)
        if len(pos) < 2:
            rows.append((chrom, 1, int(pos[-1]) if len(pos) else 1, len(pos), np.nan))
            continue
        score = crossing_ld(lambda lo, hi: panel.dosages(chrom, prow[lo:hi]), len(pos), band=band)
        cuts = choose_boundaries(pos, score, target_kb * 1000)
        starts = np.concatenate([[1], pos[cuts] + 1])
        ends = np.concatenate([pos[cuts], [pos[-1]]])
        counts = np.diff(np.concatenate([[0], cuts + 1, [len(pos)]]))
        cross = np.concatenate([score[cuts], [np.nan]])
        rows += [(chrom, int(s), int(e), int(c), float(x)) for s, e, c, x in zip(starts, ends, counts, cross)]
        log.info("chromosome %s: %d variants → %d blocks", chrom, len(pos), len(starts))
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "n_variants", "crossing_ld"])


def write_blocks_bed(blocks: pd.DataFrame, path: str | Path) -> None:
    """BED (0-based start, exclusive end: ``start - 1, end``) with ``n_variants`` and ``crossing_ld`` columns."""
    lines = [f"{r.chrom}\t{r.start - 1}\t{r.end}\t{r.n_variants}\t{r.crossing_ld:.6g}" for r in blocks.itertuples()]
    write_text("\n".join(lines) + ("\n" if lines else ""), path)
