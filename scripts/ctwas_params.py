"""Rule ctwas_params: cTWAS's EM of group priors over all loci of a trait (twasflow.stages.ctwas_params)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.ctwas_params, **smk.params.args)
