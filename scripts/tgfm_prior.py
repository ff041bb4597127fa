"""Rule tgfm_prior: TGFM's tissue-specific prior over all loci of a trait (twasflow.stages.tgfm_prior)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.tgfm_prior, trait=smk.wildcards.trait,
                      chunks=[{"bundles": b, "weights": w, "prescreen": p}
                              for b, w, p in zip(smk.input.bundles, smk.input.weights, smk.input.prescreen)],
                      out=smk.output.prior, options=smk.params.options, seed=smk.params.seed)
