"""Rule finemap: one fine-mapping method on a chunk of loci (twasflow.stages.finemap)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.finemap, **smk.params.args)
