# Colocalization (coloc-SuSiE and coloc-ABF) of the GWAS with each selected pair's xQTL, per chunk.
# The pairs tested are those in a causal credible set of each fine-mapping method in config `methods`.


rule coloc:
    input:
        bundles=L.bundles("{trait}", "{chunk}"),
        variables=[L.finemap(m, "{trait}", "{chunk}", "variables") for m in METHODS],
        # eqtlcat-susie datasets' harmonized directories: their lbf.parquet (coloc.bf_bf without xQTL LD)
        lbf=[os.path.dirname(f) for f in ARGS.lbf_files()],
    output:
        table=L.coloc("{trait}", "{chunk}"),
    params:
        args=lambda wc: ARGS.coloc(wc.trait, wc.chunk),
    log:
        L.log("coloc", "{trait}", "{chunk}"),
    benchmark:
        L.benchmark("coloc", "{trait}", "{chunk}"),
    threads: threads("coloc")
    resources:
        **rule_resources("coloc"),
    conda:
        ENV
    script:
        "../../scripts/coloc.py"
