"""Rule ctwas_params: cTWAS's EM of group priors over all loci of a trait (twasflow.stages.ctwas_params)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.ctwas_params, trait=smk.wildcards.trait,
                      chunks=[{"bundles": b, "weights": w} for b, w in zip(smk.input.bundles, smk.input.weights)],
                      out=smk.output.params, options=smk.params.options,
                      gwas=smk.input.gwas, loci_tsv=smk.input.loci)
