"""Rule tgfm_prior: TGFM's tissue-specific prior over all loci of a trait (twasflow.stages.tgfm_prior)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.tgfm_prior, **smk.params.args)
