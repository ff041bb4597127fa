"""LD blocks built from the panel: boundaries fall where LD across them is least."""

from __future__ import annotations

import numpy as np

from twasflow.ld import ld_matrix
from twasflow.ldblocks import choose_boundaries, crossing_ld


def _blocky_genotypes(rng: np.random.Generator, sizes: list[int], n: int = 400) -> np.ndarray:
    """Dosages whose variants are correlated within blocks (shared latent haplotype) and independent across."""
    cols = []
    for s in sizes:
        latent = rng.normal(size=(n, 1))
        x = latent + 0.7 * rng.normal(size=(n, s))
        cols.append((x > 0).astype(float) + (rng.normal(size=(n, s)) > 0.5))
    return np.hstack(cols)


def test_crossing_ld_matches_dense_sum() -> None:
    rng = np.random.default_rng(1)
    G = _blocky_genotypes(rng, [30, 25])
    m = G.shape[1]
    band = 10
    score = crossing_ld(lambda lo, hi: G[:, lo:hi], m, band=band, tile=17)
    r2 = np.nan_to_num(ld_matrix(G) ** 2)
    dense = np.array([sum(r2[i, j] for i in range(g + 1) for j in range(g + 1, min(m, i + band + 1)))
                      for g in range(m - 1)])
    np.testing.assert_allclose(score, dense, rtol=1e-12, atol=1e-12)


def test_boundaries_at_block_junctions() -> None:
    rng = np.random.default_rng(2)
    sizes = [60, 80, 70]
    G = _blocky_genotypes(rng, sizes)
    m = G.shape[1]
    pos = np.arange(m, dtype=np.int64) * 1000 + 1
    score = crossing_ld(lambda lo, hi: G[:, lo:hi], m, band=40)
    cuts = choose_boundaries(pos, score, target_bp=70_000)
    # junctions are after variant 59 and 139 (0-based gap index = last variant of the block)
    assert list(cuts) == [59, 139]


def test_blocks_from_a_real_panel_tile_the_chromosome(tmp_path) -> None:
    from tests.conftest import DATA

    from twasflow.io.panel import Panel, build_panel_store
    from twasflow.ldblocks import build_ld_blocks, write_blocks_bed
    from twasflow.loci import read_blocks_bed

    build_panel_store(tmp_path / "store", bfile=str(DATA / "genotypes" / "1000G.EUR.hg19.chr22_20-21Mb"))
    panel = Panel(tmp_path / "store")
    blocks = build_ld_blocks(panel, target_kb=250)
    assert len(blocks) >= 3
    # contiguous tiling from 1 to the last variant; every variant in exactly one block
    assert blocks["start"].iloc[0] == 1
    assert (blocks["start"].to_numpy()[1:] == blocks["end"].to_numpy()[:-1] + 1).all()
    assert blocks["end"].iloc[-1] == panel.variants["pos"].max()
    assert blocks["n_variants"].sum() == len(panel.variants)
    # boundaries sit at low crossing LD: below the median over all gaps
    pos = panel.variants["pos"].to_numpy()
    score = crossing_ld(lambda lo, hi: panel.dosages("22", np.arange(lo, hi)), len(pos))
    assert (blocks["crossing_ld"].dropna() < np.median(score)).all()
    write_blocks_bed(blocks, tmp_path / "b.bed")
    back = read_blocks_bed(tmp_path / "b.bed")
    assert back[["chrom", "start", "end"]].equals(blocks[["chrom", "start", "end"]])
