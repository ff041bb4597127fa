# Reference panel (PLINK bed or VCF) → per-chromosome compact genotype store read by position range.


rule panel:
    input:
        panel_source_files(),
    output:
        variants=os.path.join(OUT, "panel", "variants.parquet"),
        meta=os.path.join(OUT, "panel", "panel.json"),
    params:
        panel=config["panel"],
        out_dir=lambda wc, output: os.path.dirname(output.meta),
    log:
        os.path.join(LOGS, "panel.log"),
    benchmark:
        os.path.join(BENCH, "panel.tsv")
    threads: threads("panel")
    resources:
        mem_mb=mem_mb("panel"),
        runtime=runtime("panel"),
        slurm_partition=partition("panel"),
    conda:
        ENV
    script:
        "../../scripts/panel.py"


rule ld_blocks:
    input:
        meta=os.path.join(OUT, "panel", "panel.json"),
    output:
        bed=os.path.join(OUT, "ld_blocks", "blocks.bed"),
    params:
        panel_dir=lambda wc, input: os.path.dirname(input.meta),
        target_kb=config["loci"]["block_target_kb"],
    log:
        os.path.join(LOGS, "ld_blocks.log"),
    benchmark:
        os.path.join(BENCH, "ld_blocks.tsv")
    threads: threads("ld_blocks")
    resources:
        mem_mb=mem_mb("ld_blocks"),
        runtime=runtime("ld_blocks"),
        slurm_partition=partition("ld_blocks"),
    conda:
        ENV
    script:
        "../../scripts/ld_blocks.py"
