"""Issue 18 (runs a user can trust), the harmonization side: rows dropped by ``panel.maf_min`` have their own
reason, and the allele-level behaviour every matcher shares.

Real data: the 1000G EUR panel of chr22:20.0-20.1 Mb and 392 UK Biobank BOLT-LMM rows (tests/data/inputs).
"""

from __future__ import annotations

import json
from pathlib import Path


from twasflow.harmonize import harmonize_gwas
from twasflow.io.panel import build_panel_store, read_panel_variants

FIX = Path(__file__).parent / "data" / "inputs"
PANEL = FIX / "chr22_20.0-20.1Mb"
BOLT = FIX / "bolt_chr22_20.0-20.1Mb.tsv.gz"
POSMAP = dict(chrom="CHR", pos="BP", ea="ALLELE1", oa="ALLELE0", beta="BETA", se="SE", p="P_BOLT_LMM", eaf="A1FREQ",
              rsid="SNP")


def _harmonize(tmp: Path, maf_min: float) -> tuple[dict, dict]:
    store = tmp / f"panel{maf_min}"
    build_panel_store(store, bfile=PANEL, maf_min=maf_min)
    qc = harmonize_gwas(BOLT, fmt="table", colmap=POSMAP, panel_variants=read_panel_variants(store), n=337_000,
                        out=tmp / f"g{maf_min}.parquet", qc_out=tmp / f"g{maf_min}.qc.json",
                        declared_build="GRCh37", panel_build="GRCh37")
    return qc, json.loads((store / "panel.json").read_text())


def test_panel_maf_min_drops_have_their_own_reason(tmp_path: Path) -> None:
    """A GWAS row at a variant the panel dropped for MAF is `panel_maf_below_min`, never `not_in_panel`; the
    rows accounted for are the same as with no MAF filter (392 = kept + dropped), and on this window every
    low-MAF panel variant has exactly one GWAS row (156 of both)."""
    qc0, _ = _harmonize(tmp_path, 0.0)
    qc5, meta5 = _harmonize(tmp_path, 0.05)
    assert qc0["n_input"] == qc5["n_input"] == 392
    assert "not_in_panel" not in qc5["dropped"] and "not_in_panel" not in qc0["dropped"]
    assert meta5["dropped"]["maf_below_min"] == 156
    assert qc5["dropped"]["panel_maf_below_min"] == 156
    assert qc5["n_kept"] + 156 == qc0["n_kept"]
    assert qc5["n_kept"] + sum(qc5["dropped"].values()) == 392
    # a store built before maf_dropped.parquet existed still works (every such row is then not_in_panel)
    (tmp_path / "panel0.05" / "maf_dropped.parquet").unlink()
    qc_old = harmonize_gwas(BOLT, fmt="table", colmap=POSMAP, panel_variants=read_panel_variants(tmp_path / "panel0.05"),
                            n=337_000, out=tmp_path / "old.parquet", qc_out=tmp_path / "old.qc.json",
                            declared_build="GRCh37", panel_build="GRCh37")
    assert qc_old["dropped"]["not_in_panel"] == 156
