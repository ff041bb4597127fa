"""Rule harmonize_xqtl: xQTL → panel alleles, per chromosome (twasflow.stages.harmonize_xqtl)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.harmonize_xqtl, **smk.params.args)
