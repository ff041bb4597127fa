# Per-locus bundles (variant set, LD, GWAS z, xQTL z per pair), one job per chunk of loci.


rule locus_inputs:
    input:
        loci=os.path.join(OUT, "loci", "{trait}.tsv"),
        gwas=os.path.join(OUT, "harmonized", "gwas", "{trait}.parquet"),
        xqtl=expand(os.path.join(OUT, "harmonized", "xqtl", "{dataset}.qc.json"), dataset=DATASETS),
        panel=os.path.join(OUT, "panel", "panel.json"),
    output:
        manifest=os.path.join(OUT, "locus_inputs", "{trait}", "{chunk}", "manifest.json"),
    params:
        xqtl_dirs=lambda wc, input: {d: q.removesuffix(".qc.json") for d, q in zip(DATASETS, input.xqtl)},
        panel_dir=lambda wc, input: os.path.dirname(input.panel),
        out_dir=lambda wc, output: os.path.dirname(output.manifest),
        locus_variants=config["locus_variants"],
        log_dir=lambda wc: os.path.join(LOGS, "locus_inputs", wc.trait, wc.chunk),
    log:
        os.path.join(LOGS, "locus_inputs", "{trait}", "{chunk}.log"),
    benchmark:
        os.path.join(BENCH, "locus_inputs", "{trait}", "{chunk}.tsv")
    threads: threads("locus_inputs")
    resources:
        mem_mb=mem_mb("locus_inputs"),
        runtime=runtime("locus_inputs"),
        slurm_partition=partition("locus_inputs"),
    conda:
        ENV
    script:
        "../../scripts/locus_inputs.py"
