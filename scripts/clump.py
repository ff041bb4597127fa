"""Rule clump: C+T clumping, PLINK 1.9 semantics (twasflow.stages.clump)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.clump, **smk.params.args)
