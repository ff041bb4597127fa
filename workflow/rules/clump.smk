# C+T clumping of the harmonized GWAS against the panel, PLINK 1.9 --clump semantics and .clumped layout.


rule clump:
    input:
        gwas=L.gwas("{trait}"),
        panel=L.panel_meta,
    output:
        clumped=L.clumped("{trait}"),
    params:
        args=lambda wc: ARGS.clump(wc.trait),
    log:
        L.log("clump", "{trait}"),
    benchmark:
        L.benchmark("clump", "{trait}"),
    threads: threads("clump")
    resources:
        **rule_resources("clump"),
    conda:
        ENV
    script:
        "../../scripts/clump.py"
