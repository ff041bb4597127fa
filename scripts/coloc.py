"""Rule coloc: coloc-SuSiE + coloc-ABF per selected pair (twasflow.stages.coloc)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.coloc, **smk.params.args)
