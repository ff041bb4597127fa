"""Rule harmonize_gwas: GWAS → panel alleles (twasflow.stages.harmonize_gwas)."""
from pathlib import Path

from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.harmonize_gwas, row=smk.params.row, panel_dir=Path(smk.input.panel).parent,
                      out=smk.output.parquet, qc=smk.output.qc, harmonize=smk.params.harmonize,
                      build=smk.params.build)
