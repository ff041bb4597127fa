"""Rule finemap: one fine-mapping method on a chunk of loci (twasflow.stages.finemap)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.finemap, trait=smk.wildcards.trait, method=smk.wildcards.method,
                      bundles_manifest=smk.input.bundles, weights_manifest=smk.input.weights,
                      prescreen_table=smk.input.prescreen, out_prefix=smk.params.out_prefix,
                      log_dir=smk.params.log_dir, options=smk.params.options,
                      genes=smk.input.genes[0] if smk.input.genes else None, plot_dir=smk.output.plots,
                      ctwas_params_json=smk.input.ctwas_params[0] if smk.input.ctwas_params else None,
                      seed=smk.params.seed, plot_mode=smk.params.plot_mode, ld_check=smk.params.ld_check,
                      tgfm_prior_json=smk.input.tgfm_prior[0] if smk.input.tgfm_prior else None)
