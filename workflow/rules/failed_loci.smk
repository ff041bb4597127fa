# The run's last job: every failed locus of every trait and stage in one table; the run exits non-zero when
# there is one, unless the config tolerates failed loci (failed_loci.tolerate). twasflow.chunks.check_run.


rule failed_loci:
    input:
        locus_inputs=all_locus_inputs,
        weights=per_chunk(L.weights),
        finemap=lambda wc: [p for f in all_finemap for p in f(wc)],
        summaries=all_summary,
    output:
        L.failed_loci,
    params:
        tolerate=config["failed_loci"]["tolerate"],
        finemap=lambda wc: {m: per_chunk(lambda t, c, m=m: L.finemap(m, t, c, "loci"))(wc) for m in METHODS},
    log:
        L.log("failed_loci"),
    benchmark:
        L.benchmark("failed_loci"),
    threads: threads("failed_loci")
    resources:
        **rule_resources("failed_loci"),
    conda:
        ENV
    script:
        "../../scripts/failed_loci.py"


all_failed_loci = [L.failed_loci]
