# Per-locus bundles (variant set, LD, GWAS z, xQTL z per pair), one job per chunk of loci.


rule locus_inputs:
    input:
        loci=L.loci("{trait}"),
        gwas=L.gwas("{trait}"),
        xqtl=[L.xqtl_qc(d) for d in DATASETS],
        panel=L.panel_meta,
    output:
        manifest=L.bundles("{trait}", "{chunk}"),
    params:
        args=lambda wc: ARGS.locus_inputs(wc.trait, wc.chunk),
    log:
        L.log("locus_inputs", "{trait}", "{chunk}"),
    benchmark:
        L.benchmark("locus_inputs", "{trait}", "{chunk}"),
    threads: threads("locus_inputs")
    resources:
        **rule_resources("locus_inputs"),
    conda:
        ENV
    script:
        "../../scripts/locus_inputs.py"
