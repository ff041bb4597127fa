"""Rule spredixcan: S-PrediXcan of every prediction model with its own covariance (twasflow.stages.spredixcan)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.spredixcan, **smk.params.args)
