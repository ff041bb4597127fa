"""The real UK Biobank BOLT-LMM file harmonizes against the real 1000 Genomes panel windows through the
workflow (panel and harmonize_gwas rules), with a column map in the sheet and a QC JSON that accounts for
every one of its rows (see tests/data/genotypes/polypred_1000G_EUR/README.md for the facts checked)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.conftest import DATA, copy_workflow, run_snakemake

GENO = DATA / "genotypes"


def test_bolt_lmm_harmonizes_through_the_workflow(tmp_path: Path) -> None:
    root = copy_workflow(tmp_path)
    cfg = root / "config"
    (cfg / "config.yaml").write_text(
        "genome_build: GRCh37\n"
        "simulate: {enabled: false}\n"
        f"panel: {{bfile: '{GENO}/1000G.EUR.hg19.chr{{chrom}}_20-21Mb', maf_min: 0.0}}\n")
    cols = ["trait", "path", "format", "n", "build", "col_chrom", "col_pos", "col_ea", "col_oa", "col_beta",
            "col_se", "col_p", "col_eaf", "col_rsid"]
    row = ["BOLT", str(GENO / "polypred_1000G_EUR" / "bolt.sumstats.txt.gz"), "table", "337000", "GRCh37", "CHR",
           "BP", "ALLELE1", "ALLELE0", "BETA", "SE", "P_BOLT_LMM", "A1FREQ", "SNP"]
    (cfg / "gwas.tsv").write_text("\t".join(cols) + "\n" + "\t".join(row) + "\n")
    # the xQTL sheet is required but not used by the two rules run here
    (cfg / "xqtl.tsv").write_text("dataset\ttissue\tqtl_type\tpath\tformat\tn\tbuild\n"
                                  f"Liver\tLiver\teQTL\t{GENO}/1000G.EUR.hg19.chr22_20-21Mb.bim\teqtl-catalogue\t200\t"
                                  "GRCh37\n")
    r = run_snakemake("--cores", "2", "results/harmonized/gwas/BOLT.qc.json", cwd=root)
    assert r.returncode == 0, r.stderr[-4000:]
    qc = json.loads((root / "results" / "harmonized" / "gwas" / "BOLT.qc.json").read_text())
    assert qc["n_input"] == 82448
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values())
    # rows on chromosomes 1..22 other than the panel's four windows cannot match
    assert qc["dropped"].get("chrom_not_in_panel", 0) + qc["dropped"].get("not_in_panel", 0) >= 82448 - 13875
    assert qc["build"]["match_rate"] > 0.99 and qc["flipped_strand"] == 0
    out = pd.read_parquet(root / "results" / "harmonized" / "gwas" / "BOLT.parquet")
    assert len(out) == qc["n_kept"] and set(out["chrom"]) == {"2", "12", "18", "22"}
    # README fact: rs55902548 has ALLELE1=G ALLELE0=T but bim A1=T A2=G → the effect is negated
    bolt = pd.read_csv(GENO / "polypred_1000G_EUR" / "bolt.sumstats.txt.gz", sep="\t")
    raw = bolt.loc[bolt["SNP"] == "rs55902548"].iloc[0]
    got = out.loc[out["rsid"] == "rs55902548"].iloc[0]
    assert got["counted_allele"] == "T" and got["other_allele"] == "G"
    assert abs(got["beta"] + raw["BETA"]) < 1e-12
