"""Rule failed_loci: list every failed locus of the run; fail unless tolerated (twasflow.chunks.check_run)."""
from twasflow import chunks, stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, chunks.check_run, out=smk.output[0], tolerate=smk.params.tolerate,
                      locus_inputs=list(smk.input.locus_inputs), weights=list(smk.input.weights),
                      finemap=smk.params.finemap)
