"""Rule prescreen: S-PrediXcan prescreen of one chunk's pairs (twasflow.stages.prescreen)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.prescreen, trait=smk.wildcards.trait, bundles_manifest=smk.input.bundles,
                      weights_manifest=smk.input.weights, out=smk.output.table, log_dir=smk.params.log_dir,
                      p_max=smk.params.p_max, covariance=smk.params.covariance, model_dirs=smk.params.model_dirs)
