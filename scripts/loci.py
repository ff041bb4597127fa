"""Checkpoint loci: windows, merging, MHC, LD blocks, chunks (twasflow.stages.loci)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.loci, trait=smk.wildcards.trait, clumped=smk.input.clumped,
                      out_tsv=smk.output.tsv, loci_cfg=smk.params.loci, mhc=smk.params.mhc,
                      chunking=smk.params.chunking, blocks=smk.input.blocks[0] if smk.input.blocks else None)
