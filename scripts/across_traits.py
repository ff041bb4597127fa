"""Rule across_traits: across-trait tables, figures and enrichment tests (twasflow.summary.enrichment)."""
from twasflow import stages
from twasflow.summary import enrichment

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, enrichment, **smk.params.args)
