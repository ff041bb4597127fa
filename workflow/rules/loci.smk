# Loci: ± radius around index variants, overlaps merged, MHC excluded, optional LD-block snapping, chunks.


def ld_blocks_input(wildcards):
    blocks = config["loci"]["ld_blocks"]
    if blocks == "panel":
        return [os.path.join(OUT, "ld_blocks", "blocks.bed")]
    if blocks == "none":
        return []
    return [blocks]


checkpoint loci:
    input:
        clumped=os.path.join(OUT, "clump", "{trait}.clumped"),
        blocks=ld_blocks_input,
    output:
        tsv=os.path.join(OUT, "loci", "{trait}.tsv"),
    params:
        loci=config["loci"],
        mhc=RUN.mhc(),
        chunking=config["chunking"],
    log:
        os.path.join(LOGS, "loci", "{trait}.log"),
    benchmark:
        os.path.join(BENCH, "loci", "{trait}.tsv")
    threads: threads("loci")
    resources:
        mem_mb=mem_mb("loci"),
        runtime=runtime("loci"),
        slurm_partition=partition("loci"),
    conda:
        ENV
    script:
        "../../scripts/loci.py"
