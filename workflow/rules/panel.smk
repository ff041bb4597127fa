# Reference panel (PLINK bed or VCF) → per-chromosome compact genotype store read by position range.


rule panel:
    input:
        panel_source_files(),
    output:
        variants=L.panel_variants,
        meta=L.panel_meta,
    params:
        args=ARGS.panel(),
    log:
        L.log("panel"),
    benchmark:
        L.benchmark("panel"),
    threads: threads("panel")
    resources:
        **rule_resources("panel"),
    conda:
        ENV
    script:
        "../../scripts/panel.py"


rule ld_blocks:
    input:
        meta=L.panel_meta,
    output:
        bed=L.ld_blocks,
    params:
        args=ARGS.ld_blocks(),
    log:
        L.log("ld_blocks"),
    benchmark:
        L.benchmark("ld_blocks"),
    threads: threads("ld_blocks")
    resources:
        **rule_resources("ld_blocks"),
    conda:
        ENV
    script:
        "../../scripts/ld_blocks.py"
