# Stage 1 (per-pair xQTL fine-mapping → standardized weights) and the S-PrediXcan prescreen, per chunk.


rule xqtl_weights:
    input:
        bundles=L.bundles("{trait}", "{chunk}"),
    output:
        manifest=L.weights("{trait}", "{chunk}"),
    params:
        args=lambda wc: ARGS.xqtl_weights(wc.trait, wc.chunk),
    log:
        L.log("xqtl_weights", "{trait}", "{chunk}"),
    benchmark:
        L.benchmark("xqtl_weights", "{trait}", "{chunk}"),
    threads: threads("xqtl_weights")
    resources:
        **rule_resources("xqtl_weights"),
    conda:
        ENV
    script:
        "../../scripts/xqtl_weights.py"


rule prescreen:
    input:
        bundles=L.bundles("{trait}", "{chunk}"),
        weights=L.weights("{trait}", "{chunk}"),
        # prediction-model datasets with a covariance file, read when prescreen.covariance is "model"
        models=[L.xqtl_qc(d) for d in ARGS.model_cov_datasets()],
        # the chunk's gene-test table when prescreen.statistic is "gene_test"
        gene_tests=lambda wc: ARGS.prescreen_gene_tests(wc.trait, wc.chunk),
    output:
        table=L.prescreen("{trait}", "{chunk}"),
    params:
        args=lambda wc: ARGS.prescreen(wc.trait, wc.chunk),
    log:
        L.log("prescreen", "{trait}", "{chunk}"),
    benchmark:
        L.benchmark("prescreen", "{trait}", "{chunk}"),
    threads: threads("prescreen")
    resources:
        **rule_resources("prescreen"),
    conda:
        ENV
    script:
        "../../scripts/prescreen.py"
