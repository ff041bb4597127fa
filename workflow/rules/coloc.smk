# Colocalization (coloc-SuSiE and coloc-ABF) of the GWAS with each selected pair's xQTL, per chunk.
# The pairs tested are those in a causal credible set of each fine-mapping method in config `methods`.


rule coloc:
    input:
        bundles=os.path.join(OUT, "locus_inputs", "{trait}", "{chunk}", "manifest.json"),
        variables=expand(
            os.path.join(OUT, "finemap", "{method}", "{{trait}}", "{{chunk}}.variables.parquet"),
            method=METHODS,
        ),
    output:
        table=os.path.join(OUT, "coloc", "{trait}", "{chunk}.parquet"),
    params:
        coloc=config["coloc"],
        tables=lambda wc, input: dict(zip(METHODS, input.variables)),
        log_dir=lambda wc: os.path.join(LOGS, "coloc", wc.trait, wc.chunk),
    log:
        os.path.join(LOGS, "coloc", "{trait}", "{chunk}.log"),
    benchmark:
        os.path.join(BENCH, "coloc", "{trait}", "{chunk}.tsv")
    threads: threads("coloc")
    resources:
        mem_mb=mem_mb("coloc"),
        runtime=runtime("coloc"),
        slurm_partition=partition("coloc"),
    conda:
        ENV
    script:
        "../../scripts/coloc.py"
