"""Rule enrichment: across-trait tables and figures (twasflow.summary.enrichment)."""
from twasflow import stages
from twasflow.summary import enrichment

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, enrichment, traits=list(smk.params.traits), methods=list(smk.params.methods),
                      summary_dirs=dict(smk.params.summary_dirs), out_dir=smk.params.out_dir)
