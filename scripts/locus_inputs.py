"""Rule locus_inputs: per-locus bundles for one chunk (twasflow.stages.locus_inputs)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.locus_inputs, **smk.params.args)
