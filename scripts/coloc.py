"""Rule coloc: coloc-SuSiE + coloc-ABF per selected pair (twasflow.stages.coloc)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.coloc, trait=smk.wildcards.trait, bundles_manifest=smk.input.bundles,
                      pairs_tables=smk.params.tables, out=smk.output.table, log_dir=smk.params.log_dir,
                      coloc_cfg=smk.params.coloc)
