# Fine-mapping of gene–tissue pairs and variants per chunk, one job per method listed in config `methods`.


rule finemap:
    input:
        bundles=os.path.join(OUT, "locus_inputs", "{trait}", "{chunk}", "manifest.json"),
        weights=os.path.join(OUT, "weights", "{trait}", "{chunk}", "manifest.json"),
        prescreen=os.path.join(OUT, "prescreen", "{trait}", "{chunk}.parquet"),
        genes=gene_annotation_input,
    output:
        variables=os.path.join(OUT, "finemap", "{method}", "{trait}", "{chunk}.variables.parquet"),
        sets=os.path.join(OUT, "finemap", "{method}", "{trait}", "{chunk}.sets.parquet"),
        loci=os.path.join(OUT, "finemap", "{method}", "{trait}", "{chunk}.loci.parquet"),
        plots=directory(os.path.join(OUT, "finemap", "{method}", "{trait}", "{chunk}.plots")),
    params:
        out_prefix=lambda wc, output: output.loci.removesuffix(".loci.parquet"),
        options=lambda wc: config[wc.method],
        log_dir=lambda wc: os.path.join(LOGS, "finemap", wc.method, wc.trait, wc.chunk),
    log:
        os.path.join(LOGS, "finemap", "{method}", "{trait}", "{chunk}.log"),
    benchmark:
        os.path.join(BENCH, "finemap", "{method}", "{trait}", "{chunk}.tsv")
    threads: threads("finemap")
    resources:
        mem_mb=mem_mb("finemap"),
        runtime=runtime("finemap"),
        slurm_partition=partition("finemap"),
    conda:
        ENV
    script:
        "../../scripts/finemap.py"
