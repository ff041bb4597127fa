"""Checkpoint loci: windows, merging, MHC, LD blocks, chunks (twasflow.stages.loci)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.loci, **smk.params.args)
