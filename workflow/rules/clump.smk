# C+T clumping of the harmonized GWAS against the panel, PLINK 1.9 --clump semantics and .clumped layout.


rule clump:
    input:
        gwas=os.path.join(OUT, "harmonized", "gwas", "{trait}.parquet"),
        panel=os.path.join(OUT, "panel", "panel.json"),
    output:
        clumped=os.path.join(OUT, "clump", "{trait}.clumped"),
    params:
        clump=config["clump"],
        panel_dir=lambda wc, input: os.path.dirname(input.panel),
    log:
        os.path.join(LOGS, "clump", "{trait}.log"),
    benchmark:
        os.path.join(BENCH, "clump", "{trait}.tsv")
    threads: threads("clump")
    resources:
        mem_mb=mem_mb("clump"),
        runtime=runtime("clump"),
        slurm_partition=partition("clump"),
    conda:
        ENV
    script:
        "../../scripts/clump.py"
