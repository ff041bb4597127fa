"""Rules gene_tests (one chunk) and gene_tests_trait (the trait's tables): twasflow.genetests.stage."""
from twasflow import stages
from twasflow.genetests import stage

smk = snakemake  # noqa: F821 - injected by Snakemake
if smk.rule == "gene_tests":
    stages.snakemake_main(smk, stage.gene_tests, trait=smk.wildcards.trait, loci_tsv=smk.input.loci,
                          chunk=smk.wildcards.chunk, gwas=smk.input.gwas, panel_dir=smk.params.panel_dir,
                          bundles_manifest=smk.input.bundles, weights_manifest=smk.input.weights,
                          out_tests=smk.output.tests, out_genes=smk.output.genes, log_dir=smk.params.log_dir,
                          options=smk.params.options, annotations=smk.params.annotations)
else:
    stages.snakemake_main(smk, stage.gene_tests_trait, chunk_tests=smk.input.tests, chunk_genes=smk.input.genes,
                          out_tests=smk.output.tests, out_genes=smk.output.genes)
