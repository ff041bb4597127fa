# Stage 1 (per-pair xQTL fine-mapping → standardized weights) and the S-PrediXcan prescreen, per chunk.


rule xqtl_weights:
    input:
        bundles=os.path.join(OUT, "locus_inputs", "{trait}", "{chunk}", "manifest.json"),
    output:
        manifest=os.path.join(OUT, "weights", "{trait}", "{chunk}", "manifest.json"),
    params:
        out_dir=lambda wc, output: os.path.dirname(output.manifest),
        weights=config["weights"],
        log_dir=lambda wc: os.path.join(LOGS, "xqtl_weights", wc.trait, wc.chunk),
    log:
        os.path.join(LOGS, "xqtl_weights", "{trait}", "{chunk}.log"),
    benchmark:
        os.path.join(BENCH, "xqtl_weights", "{trait}", "{chunk}.tsv")
    threads: threads("xqtl_weights")
    resources:
        mem_mb=mem_mb("xqtl_weights"),
        runtime=runtime("xqtl_weights"),
    conda:
        ENV
    script:
        "../../scripts/xqtl_weights.py"


rule prescreen:
    input:
        bundles=os.path.join(OUT, "locus_inputs", "{trait}", "{chunk}", "manifest.json"),
        weights=os.path.join(OUT, "weights", "{trait}", "{chunk}", "manifest.json"),
    output:
        table=os.path.join(OUT, "prescreen", "{trait}", "{chunk}.parquet"),
    params:
        p_max=config["prescreen"]["p_max"],
        log_dir=lambda wc: os.path.join(LOGS, "prescreen", wc.trait, wc.chunk),
    log:
        os.path.join(LOGS, "prescreen", "{trait}", "{chunk}.log"),
    benchmark:
        os.path.join(BENCH, "prescreen", "{trait}", "{chunk}.tsv")
    threads: threads("prescreen")
    resources:
        mem_mb=mem_mb("prescreen"),
        runtime=runtime("prescreen"),
    conda:
        ENV
    script:
        "../../scripts/prescreen.py"
