# Loci: ± radius around index variants, overlaps merged, MHC excluded, optional LD-block snapping, chunks.


checkpoint loci:
    input:
        clumped=L.clumped("{trait}"),
        blocks=[ARGS.blocks_file()] if ARGS.blocks_file() else [],
    output:
        tsv=L.loci("{trait}"),
    params:
        args=lambda wc: ARGS.loci(wc.trait),
    log:
        L.log("loci", "{trait}"),
    benchmark:
        L.benchmark("loci", "{trait}"),
    threads: threads("loci")
    resources:
        **rule_resources("loci"),
    conda:
        ENV
    script:
        "../../scripts/loci.py"
