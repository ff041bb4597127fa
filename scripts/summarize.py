"""Rule summarize: every summary of one trait over all methods (twasflow.summary.summarize)."""
from twasflow import stages
from twasflow.summary import summarize

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, summarize, **smk.params.args)
