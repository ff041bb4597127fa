"""Loci from index variants: windows, merging, MHC, LD-block snapping, chunks; greedy LD pruning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twasflow.errors import InputError
from twasflow.loci import assign_chunks, define_loci, read_blocks_bed, read_clumped

MHC38 = ("6", 28510120, 33480577)


def _idx(rows):
    return pd.DataFrame(rows, columns=["chrom", "pos", "variant_id", "p"])


def test_windows_merge_and_lead():
    idx = _idx([("1", 1_000_000, "a", 1e-9), ("1", 2_500_000, "b", 1e-12), ("1", 9_000_000, "c", 1e-8)])
    loci, counts = define_loci(idx, "T", radius_kb=1000, mhc=MHC38)
    assert list(loci["locus_id"]) == ["T.1_1_3500000", "T.1_8000000_10000000"]
    assert list(loci["lead_variant"]) == ["b", "c"]
    assert list(loci["n_index_variants"]) == [2, 1]
    assert counts == {"index_variants": 3, "dropped_mhc": 0, "loci": 2}


def test_adjacent_windows_touching_merge_but_gap_does_not():
    idx = _idx([("2", 10_000_000, "a", 1e-9), ("2", 12_000_001, "b", 1e-9), ("2", 20_000_000, "c", 1e-9),
                ("2", 22_000_002, "d", 1e-9)])
    loci, _ = define_loci(idx, "T", radius_kb=1000)
    # windows [9e6, 11e6] and [11000001, 13000001] touch → merged; [19e6,21e6] and [21000002, ...] have a gap
    assert list(loci["start"]) == [9_000_000, 19_000_000, 21_000_002]


def test_mhc_index_dropped_and_windows_clipped():
    idx = _idx([("6", 30_000_000, "in", 1e-30), ("6", 28_000_000, "left", 1e-9), ("6", 34_000_000, "right", 1e-9)])
    loci, counts = define_loci(idx, "T", radius_kb=1000, mhc=MHC38)
    assert counts["dropped_mhc"] == 1
    assert list(loci["end"])[0] == MHC38[1] - 1
    assert list(loci["start"])[1] == MHC38[2] + 1
    kept, _ = define_loci(idx, "T", radius_kb=1000, mhc=MHC38, exclude_mhc=False)
    assert list(kept["lead_variant"]) == ["in", "right"]  # 27-31 Mb and 33-35 Mb do not touch


def test_block_snapping_is_outward(tmp_path: Path):
    bed = tmp_path / "b.bed"
    bed.write_text("1\t0\t1500000\n1\t1500000\t4000000\n1\t4000000\t9000000\n")
    blocks = read_blocks_bed(bed)
    assert blocks["start"].tolist() == [1, 1_500_001, 4_000_001]
    idx = _idx([("1", 2_000_000, "a", 1e-9)])
    loci, _ = define_loci(idx, "T", radius_kb=100, blocks=blocks)
    assert (loci["start"].iloc[0], loci["end"].iloc[0]) == (1_500_001, 4_000_000)


def test_genome_order_and_chunks():
    idx = _idx([("10", 5e6, "a", 1e-9), ("2", 5e6, "b", 1e-9), ("X", 5e6, "c", 1e-9), ("2", 50e6, "d", 1e-9)])
    idx["pos"] = idx["pos"].astype(np.int64)
    loci, _ = define_loci(idx, "T", radius_kb=10)
    assert list(loci["chrom"]) == ["2", "2", "10", "X"]
    ch = assign_chunks(loci, loci_per_chunk=3)
    assert list(ch["chunk"]) == ["c000", "c000", "c001", "c001"]
    ch = assign_chunks(loci, loci_per_chunk=1, max_chunks=3)
    assert ch["chunk"].nunique() == 3
    assert list(assign_chunks(loci.iloc[:0])["chunk"]) == []


def test_read_clumped_plink_layout(tmp_path: Path):
    f = tmp_path / "x.clumped"
    f.write_text(" CHR    F          SNP         BP        P    TOTAL   NSIG    S05    S01   S001  S0001    SP2\n"
                 "  22    1   rs3890996   20500000   0.0001        2      0      1      1      0      0 rs1(1)\n\n\n")
    df = read_clumped(f)
    assert df.to_dict("records") == [{"chrom": "22", "pos": 20500000, "variant_id": "rs3890996", "p": 1e-4}]
    f.write_text("")
    assert read_clumped(f).empty
    f.write_text("a b c\n")
    with pytest.raises(InputError, match="not a PLINK .clumped file"):
        read_clumped(f)
