"""Rule harmonize_gwas: GWAS → panel alleles (twasflow.stages.harmonize_gwas)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.harmonize_gwas, **smk.params.args)
