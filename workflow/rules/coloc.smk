# Colocalization (coloc-SuSiE and coloc-ABF) of the GWAS with each selected pair's xQTL, per chunk.
# Until fine-mapping lands, the pairs tested are those that pass the prescreen.


rule coloc:
    input:
        bundles=os.path.join(OUT, "locus_inputs", "{trait}", "{chunk}", "manifest.json"),
        pairs=os.path.join(OUT, "prescreen", "{trait}", "{chunk}.parquet"),
    output:
        table=os.path.join(OUT, "coloc", "{trait}", "{chunk}.parquet"),
    params:
        coloc=config["coloc"],
        log_dir=lambda wc: os.path.join(LOGS, "coloc", wc.trait, wc.chunk),
    log:
        os.path.join(LOGS, "coloc", "{trait}", "{chunk}.log"),
    benchmark:
        os.path.join(BENCH, "coloc", "{trait}", "{chunk}.tsv")
    threads: threads("coloc")
    resources:
        mem_mb=mem_mb("coloc"),
        runtime=runtime("coloc"),
    conda:
        ENV
    script:
        "../../scripts/coloc.py"
