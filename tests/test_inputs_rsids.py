"""Results users can look up (issue 18 item 4): the rsIDs of the panel (carried in the harmonized GWAS) ride beside
the variant ids in the workflow's `.clumped` (a last RSID column; `twasflow clump` stays PLINK's byte for byte),
the loci table (`lead_rsid`), the fine-mapping `variables` table (`rsid` of variant rows) and `twasflow show`.

Real data: the 1000G EUR chr22:20.0-20.1 Mb panel (rsIDs in its .bim) and 392 UK Biobank BOLT-LMM rows.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from twasflow import stages
from twasflow.harmonize import harmonize_gwas
from twasflow.harmonize.gwas import harmonized_rsids
from twasflow.io.panel import build_panel_store, read_panel_variants
from twasflow.loci import read_clumped

FIX = Path(__file__).parent / "data" / "inputs"
POSMAP = dict(chrom="CHR", pos="BP", ea="ALLELE1", oa="ALLELE0", beta="BETA", se="SE", p="P_BOLT_LMM", eaf="A1FREQ",
              rsid="SNP")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("rsids")
    build_panel_store(tmp / "panel", bfile=FIX / "chr22_20.0-20.1Mb", maf_min=0.0)
    gwas = tmp / "g.parquet"
    harmonize_gwas(FIX / "bolt_chr22_20.0-20.1Mb.tsv.gz", fmt="table", colmap=POSMAP,
                   panel_variants=read_panel_variants(tmp / "panel"), n=337_000, out=gwas, qc_out=tmp / "g.qc.json",
                   declared_build="GRCh37", panel_build="GRCh37")
    # every variant an index variant candidate, so the window yields several clumps
    stages.clump(gwas, tmp / "panel", tmp / "T.clumped", p1=1.0, p2=1.0, r2=0.1, kb=20, r2_method="haplotype")
    loci = stages.loci("T", tmp / "T.clumped", tmp / "T.tsv", loci_cfg={"radius_kb": 5, "exclude_mhc": True},
                       mhc=("6", 28_477_797, 33_448_354), chunking={"loci_per_chunk": 10, "max_chunks": 100})
    return {"tmp": tmp, "gwas": gwas, "loci": loci, "panel": read_panel_variants(tmp / "panel")}


def test_clumped_and_loci_carry_rsids(run: dict) -> None:
    text = (run["tmp"] / "T.clumped").read_text().splitlines()
    assert text[0].split()[-1] == "RSID"
    idx = read_clumped(run["tmp"] / "T.clumped")
    truth = run["panel"].set_index("variant_id")["rsid"]
    assert len(idx) >= 3 and idx["rsid"].str.startswith("rs").all()
    assert (idx["rsid"].to_numpy() == truth.reindex(idx["variant_id"]).to_numpy()).all()
    loci = run["loci"]
    assert (loci["lead_rsid"].to_numpy() == truth.reindex(loci["lead_variant"]).to_numpy()).all()
    back = pd.read_csv(run["tmp"] / "T.tsv", sep="\t")
    assert list(back.columns[-2:]) == ["chunk", "lead_rsid"]


def test_harmonized_rsids_lookup(run: dict) -> None:
    v = run["panel"]["variant_id"].tolist()
    rs = harmonized_rsids(run["gwas"], v[:5] + ["22:1:A:C"])
    assert rs.iloc[:5].tolist() == run["panel"]["rsid"].iloc[:5].tolist() and rs.iloc[5] is None


def test_variables_and_show_carry_rsids(run: dict) -> None:
    from twasflow.cli import _describe_sets
    from twasflow.stages import _with_rsids

    vid = run["panel"]["variant_id"].iloc[:3].tolist()
    v = pd.DataFrame({"locus_id": "T.22_1_2", "variable_id": ["G|Liver|eQTL"] + vid, "type": ["pair"] + ["variant"] * 3,
                      "variant_id": [None] + vid, "pip": [0.9, 0.5, 0.3, 0.1], "cs": [1, 1, 1, None],
                      "collinear_group": [None] * 4})
    out = _with_rsids(v, run["gwas"])
    assert out.columns[-1] == "rsid" and out["rsid"].iloc[0] is None
    assert out["rsid"].iloc[1:].tolist() == run["panel"]["rsid"].iloc[:3].tolist()
    sets = pd.DataFrame({"locus_id": ["T.22_1_2"], "cs": [1], "causal": [True], "size": [3], "cs_pratt": [None],
                         "cs_pip": [1.7]})
    line = _describe_sets(out, sets)[0]
    assert f"{vid[0]} ({run['panel']['rsid'].iloc[0]})" in line
