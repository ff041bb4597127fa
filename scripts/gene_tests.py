"""Rules gene_tests (one chunk) and gene_tests_trait (the trait's tables): twasflow.genetests.stage."""
from twasflow import stages
from twasflow.genetests import stage

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stage.gene_tests if smk.rule == "gene_tests" else stage.gene_tests_trait,
                      **smk.params.args)
