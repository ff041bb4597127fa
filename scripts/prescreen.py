"""Rule prescreen: S-PrediXcan prescreen of one chunk's pairs (twasflow.stages.prescreen)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.prescreen, **smk.params.args)
