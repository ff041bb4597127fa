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
        slurm_partition=partition("xqtl_weights"),
    conda:
        ENV
    script:
        "../../scripts/xqtl_weights.py"


# prediction-model datasets with a covariance file, read by the prescreen when prescreen.covariance is "model"
MODEL_COV_DATASETS = [
    d
    for d in DATASETS
    if config["prescreen"]["covariance"] == "model"
    and RUN.xqtl_row(d)["format"] in ("predictdb", "weights-long")
    and RUN.xqtl_row(d).get("covariance")
]


rule prescreen:
    input:
        bundles=os.path.join(OUT, "locus_inputs", "{trait}", "{chunk}", "manifest.json"),
        weights=os.path.join(OUT, "weights", "{trait}", "{chunk}", "manifest.json"),
        models=expand(os.path.join(OUT, "harmonized", "xqtl", "{dataset}.qc.json"), dataset=MODEL_COV_DATASETS),
    output:
        table=os.path.join(OUT, "prescreen", "{trait}", "{chunk}.parquet"),
    params:
        p_max=config["prescreen"]["p_max"],
        covariance=config["prescreen"]["covariance"],
        model_dirs=lambda wc, input: {
            d: q.removesuffix(".qc.json") for d, q in zip(MODEL_COV_DATASETS, input.models)
        },
        log_dir=lambda wc: os.path.join(LOGS, "prescreen", wc.trait, wc.chunk),
    log:
        os.path.join(LOGS, "prescreen", "{trait}", "{chunk}.log"),
    benchmark:
        os.path.join(BENCH, "prescreen", "{trait}", "{chunk}.tsv")
    threads: threads("prescreen")
    resources:
        mem_mb=mem_mb("prescreen"),
        runtime=runtime("prescreen"),
        slurm_partition=partition("prescreen"),
    conda:
        ENV
    script:
        "../../scripts/prescreen.py"
