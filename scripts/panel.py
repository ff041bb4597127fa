"""Rule panel: reference panel → genotype store (twasflow.stages.panel)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.panel, **smk.params.args)
