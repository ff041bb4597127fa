# The run's last job: every failed locus of every trait and stage in one table; the run exits non-zero when
# there is one, unless the config tolerates failed loci (failed_loci.tolerate). twasflow.chunks.check_run.


rule failed_loci:
    input:
        locus_inputs=all_locus_inputs,
        weights=per_chunk("weights", "{trait}", "{chunk}", "manifest.json"),
        finemap=lambda wc: [p for f in all_finemap for p in f(wc)],
        summaries=all_summary,
    output:
        os.path.join(OUT, "failed_loci.tsv"),
    params:
        tolerate=config["failed_loci"]["tolerate"],
        finemap=lambda wc: {m: per_chunk("finemap", m, "{trait}", "{chunk}.loci.parquet")(wc) for m in METHODS},
    log:
        os.path.join(LOGS, "failed_loci.log"),
    benchmark:
        os.path.join(BENCH, "failed_loci.tsv")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        "../../scripts/failed_loci.py"


all_failed_loci = [os.path.join(OUT, "failed_loci.tsv")]
