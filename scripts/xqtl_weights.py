"""Rule xqtl_weights: TGVIS stage-1 weights for one chunk of loci (twasflow.stages.xqtl_weights)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.xqtl_weights, **smk.params.args)
