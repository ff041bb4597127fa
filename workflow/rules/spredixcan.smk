# S-PrediXcan of every prediction model with the models' own covariance (prescreen.covariance: model): the whole
# analysis of a run without genotypes (panel.variants; target spredixcan_all), a cross-check otherwise.


rule spredixcan:
    input:
        gwas=L.gwas("{trait}"),
        models=[L.xqtl_qc(d) for d in ARGS.model_cov_datasets()],
    output:
        table=L.spredixcan("{trait}"),
        summary=L.spredixcan_summary("{trait}"),
    params:
        args=lambda wc: ARGS.spredixcan(wc.trait),
    log:
        L.log("spredixcan", "{trait}"),
    benchmark:
        L.benchmark("spredixcan", "{trait}")
    threads: threads("spredixcan")
    resources:
        **rule_resources("spredixcan"),
    conda:
        ENV
    script:
        "../../scripts/spredixcan.py"


rule spredixcan_all:
    input:
        [L.spredixcan(t) for t in TRAITS],
