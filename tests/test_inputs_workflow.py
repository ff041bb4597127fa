"""The new input formats through the workflow (issue 19): a PLINK 2 panel, an rsID-only GWAS table, a COJO .ma,
an odds-ratio / -log10 p table and FUSION weights, each a sheet row; `snakemake` runs the panel and
harmonization rules and every QC accounts for every row. Fixtures: tests/data/inputs (README there)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import copy_workflow, run_snakemake

pytest.importorskip("pgenlib")
pytest.importorskip("rdata")
FIX = Path(__file__).parent / "data" / "inputs"


@pytest.mark.slow
def test_new_inputs_through_snakemake(tmp_path: Path) -> None:
    root = copy_workflow(tmp_path)
    data = root / "data"
    shutil.copytree(FIX, data)
    bolt = pd.read_csv(data / "bolt_chr22_20.0-20.1Mb.tsv.gz", sep="\t")
    bolt.drop(columns=["CHR", "BP"]).to_csv(data / "rsid_only.tsv", sep="\t", index=False)
    pd.DataFrame({"SNP": bolt["SNP"], "A1": bolt["ALLELE1"], "A2": bolt["ALLELE0"], "freq": bolt["A1FREQ"],
                  "b": bolt["BETA"], "se": bolt["SE"], "p": bolt["P_BOLT_LMM"], "N": 337000}).to_csv(
        data / "trait.ma", sep=" ", index=False)
    bolt.assign(OR=np.exp(bolt["BETA"]), LP=-np.log10(bolt["P_BOLT_LMM"])).to_csv(data / "or.tsv", sep="\t",
                                                                                   index=False)
    cfg = root / "config"
    (cfg / "config.yaml").write_text(
        "genome_build: GRCh37\nsimulate: {enabled: false}\n"
        "panel: {pgen: data/chr22_20.0-20.1Mb, maf_min: 0.01}\n")
    rows = [
        dict(trait="RS", path="data/rsid_only.tsv", format="table", n="337000", build="GRCh37", col_rsid="SNP",
             col_ea="ALLELE1", col_oa="ALLELE0", col_beta="BETA", col_se="SE", col_eaf="A1FREQ"),
        dict(trait="COJO", path="data/trait.ma", format="cojo", build="GRCh37"),
        dict(trait="OR", path="data/or.tsv", format="table", n="337000", build="GRCh37", col_chrom="CHR",
             col_pos="BP", col_ea="ALLELE1", col_oa="ALLELE0", col_or="OR", col_lp="LP", col_eaf="A1FREQ"),
    ]
    pd.DataFrame(rows).to_csv(cfg / "gwas.tsv", sep="\t", index=False)
    (cfg / "xqtl.tsv").write_text("dataset\ttissue\tqtl_type\tpath\tformat\tn\tbuild\n"
                                  "fus\tT_model\teQTL\tdata/fusion_weights.pos\tfusion\t465\tGRCh37\n")
    targets = [f"results/harmonized/gwas/{t}.qc.json" for t in ("RS", "COJO", "OR")]
    targets.append("results/harmonized/xqtl/fus.qc.json")
    r = run_snakemake("--cores", "2", *targets, cwd=root)
    assert r.returncode == 0, r.stderr[-4000:]
    panel = json.loads((root / "results" / "panel" / "panel.json").read_text())
    assert panel["source"]["type"] == "pgen"
    qcs = {t: json.loads((root / "results" / "harmonized" / "gwas" / f"{t}.qc.json").read_text())
           for t in ("RS", "COJO", "OR")}
    for t, qc in qcs.items():
        assert qc["n_input"] == 392 == qc["n_kept"] + sum(qc["dropped"].values()), t
    assert qcs["RS"]["rsid_positions"]["source"] == "panel" and qcs["COJO"]["format"] == "cojo"
    rs = pd.read_parquet(root / "results" / "harmonized" / "gwas" / "RS.parquet")
    cojo = pd.read_parquet(root / "results" / "harmonized" / "gwas" / "COJO.parquet")
    pd.testing.assert_frame_equal(rs.drop(columns=["p", "n"]), cojo.drop(columns=["p", "n"]))
    fq = json.loads((root / "results" / "harmonized" / "xqtl" / "fus.qc.json").read_text())
    assert fq["format"] == "fusion" and fq["n_models"] == 3
    assert fq["n_input"] == fq["n_kept"] + sum(fq["dropped"].values())
    r = run_snakemake("-n", cwd=root)
    assert r.returncode == 0, r.stderr[-4000:]
