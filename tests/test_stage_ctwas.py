"""cTWAS's genome-wide SNP regions for cTWAS's EM (hand-made case with a known answer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twasflow.methods.ctwas import genome_snp_regions


def _genome_snp_regions(g: Path, lt: Path, **kw: float) -> pd.DataFrame:
    return genome_snp_regions(pd.read_parquet(g), pd.read_csv(lt, sep="\t", dtype={"chrom": str}), **kw)


def _write(tmp_path: Path) -> tuple[Path, Path]:
    gwas = pd.DataFrame({
        "variant_id": [f"v{i}" for i in range(8)],
        "chrom": ["1", "1", "1", "1", "2", "2", "2", "2"],
        "pos": [100, 1_000, 2_000_500, 3_100_000, 50, 1_600_000, 1_700_000, 9_000_000],
        "z": [0.1, 5.0, -0.2, np.nan, 0.3, 6.0, -4.0, 0.0],
    })
    loci = pd.DataFrame({"locus_id": ["T.1_500_1500", "T.2_1500000_1800000"], "chrom": ["1", "2"],
                         "start": [500, 1_500_000], "end": [1_500, 1_800_000]})
    g, lt = tmp_path / "gwas.parquet", tmp_path / "loci.tsv"
    gwas.to_parquet(g)
    loci.to_csv(lt, sep="\t", index=False)
    return g, lt


def test_snps_go_to_their_locus_or_a_background_window(tmp_path: Path) -> None:
    g, lt = _write(tmp_path)
    t = _genome_snp_regions(g, lt, thin=1.0, region_kb=1000)
    got = dict(zip(t["id"], t["region_id"]))
    # v3 has no finite z and is left out; windows are pos // 1 Mb per chromosome
    assert got == {"v0": "1_bg0", "v1": "T.1_500_1500", "v2": "1_bg2", "v4": "2_bg0",
                   "v5": "T.2_1500000_1800000", "v6": "T.2_1500000_1800000", "v7": "2_bg9"}
    assert t.loc[t["id"] == "v5", "z"].item() == 6.0


@pytest.mark.parametrize("thin", [0.5, 0.25])
def test_thin_keeps_a_seeded_fraction(tmp_path: Path, thin: float) -> None:
    g, lt = _write(tmp_path)
    a = _genome_snp_regions(g, lt, thin=thin, region_kb=1000)
    b = _genome_snp_regions(g, lt, thin=thin, region_kb=1000)
    assert len(a) == int(np.floor(7 * thin + 0.5))
    pd.testing.assert_frame_equal(a, b)
