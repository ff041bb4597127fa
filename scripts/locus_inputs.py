"""Rule locus_inputs: per-locus bundles for one chunk (twasflow.stages.locus_inputs)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.locus_inputs, trait=smk.wildcards.trait, loci_tsv=smk.input.loci,
                      chunk=smk.wildcards.chunk, gwas=smk.input.gwas, xqtl_dirs=smk.params.xqtl_dirs,
                      panel_dir=smk.params.panel_dir, out_dir=smk.params.out_dir, manifest=smk.output.manifest,
                      log_dir=smk.params.log_dir, locus_variants=smk.params.locus_variants)
