"""Rule ld_blocks: LD blocks built from the panel (twasflow.stages.ld_blocks)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.ld_blocks, **smk.params.args)
