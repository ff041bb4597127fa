"""Rule simulate_example: generate the bundled example (twasflow.stages.simulate_example)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.simulate_example, **smk.params.args)
