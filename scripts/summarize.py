"""Rule summarize: every summary of one trait over all methods (twasflow.summary.summarize)."""
from twasflow import stages
from twasflow.summary import summarize

smk = snakemake  # noqa: F821 - injected by Snakemake
opt = smk.params.options
stages.snakemake_main(smk, summarize, trait=smk.wildcards.trait, methods=list(smk.params.methods),
                      variables=list(smk.input.variables), loci=list(smk.input.loci), coloc=list(smk.input.coloc),
                      prescreen=list(smk.input.prescreen), out_dir=smk.params.out_dir, plot_dirs=smk.params.plot_dirs,
                      loci_tsv=smk.input.loci_tsv, genes=smk.params.genes,
                      silver_standard=smk.params.silver, drug_targets_list=smk.params.drugs, truth=smk.params.truth,
                      twas_p_max=opt["twas_p_max"], top_loci=opt["top_loci"], nearby_kb=opt["nearby_kb"],
                      failed_loci_tolerated=smk.params.failed_loci_tolerated)
