# Gene-based tests with heterogeneous annotations (GAMBIT) and S-MultiXcan, per chunk of loci, then per trait.
# Contract: results/gene_tests/{trait}.tests.parquet (one row per test) and {trait}.genes.parquet (one row per
# gene: n_tests, top_class, min_p, omnibus_p, smultixcan_z, smultixcan_p, ...). docs/genetests.md.
import sys

from twasflow.genetests.stage import annotation_paths

GENE_TEST_ANNOTATIONS = annotation_paths(config)


# the annotation files a gene_tests job reads (the example's are made by simulate_example)
GENE_TEST_ANNOTATION_FILES = (
    simulated_inputs()
    if config["simulate"]["enabled"]
    else [GENE_TEST_ANNOTATIONS[k] for k in ("tss", "consequences", "elements") if GENE_TEST_ANNOTATIONS.get(k)]
)


rule gene_tests:
    input:
        loci=os.path.join(OUT, "loci", "{trait}.tsv"),
        gwas=os.path.join(OUT, "harmonized", "gwas", "{trait}.parquet"),
        panel=os.path.join(OUT, "panel", "panel.json"),
        bundles=os.path.join(OUT, "locus_inputs", "{trait}", "{chunk}", "manifest.json"),
        weights=os.path.join(OUT, "weights", "{trait}", "{chunk}", "manifest.json"),
        annotations=GENE_TEST_ANNOTATION_FILES,
    output:
        tests=os.path.join(OUT, "gene_tests", "{trait}", "{chunk}.tests.parquet"),
        genes=os.path.join(OUT, "gene_tests", "{trait}", "{chunk}.genes.parquet"),
    params:
        panel_dir=lambda wc, input: os.path.dirname(input.panel),
        options=config["gene_tests"],
        annotations=GENE_TEST_ANNOTATIONS,
        log_dir=lambda wc: os.path.join(LOGS, "gene_tests", wc.trait, wc.chunk),
    log:
        os.path.join(LOGS, "gene_tests", "{trait}", "{chunk}.log"),
    benchmark:
        os.path.join(BENCH, "gene_tests", "{trait}", "{chunk}.tsv")
    threads: threads("gene_tests")
    resources:
        mem_mb=mem_mb("gene_tests"),
        runtime=runtime("gene_tests"),
        slurm_partition=partition("gene_tests"),
    conda:
        ENV
    script:
        "../../scripts/gene_tests.py"


rule gene_tests_trait:
    input:
        tests=trait_chunks("gene_tests", "{trait}", "{chunk}.tests.parquet"),
        genes=trait_chunks("gene_tests", "{trait}", "{chunk}.genes.parquet"),
    output:
        tests=os.path.join(OUT, "gene_tests", "{trait}.tests.parquet"),
        genes=os.path.join(OUT, "gene_tests", "{trait}.genes.parquet"),
    log:
        os.path.join(LOGS, "gene_tests", "{trait}.log"),
    benchmark:
        os.path.join(BENCH, "gene_tests", "{trait}.tsv")
    threads: threads("gene_tests_trait")
    resources:
        mem_mb=mem_mb("gene_tests_trait"),
        runtime=runtime("gene_tests_trait"),
        slurm_partition=partition("gene_tests_trait"),
    conda:
        ENV
    script:
        "../../scripts/gene_tests.py"


# on by default, but only with gene TSS positions (gene_tests.annotations.tss, enrichment.gene_annotation or the
# example's genes): a real-data config without a gene annotation skips the gene tests instead of failing
GENE_TESTS_ON = config["gene_tests"]["enabled"] and bool(GENE_TEST_ANNOTATIONS.get("tss"))
if config["gene_tests"]["enabled"] and not GENE_TESTS_ON:
    print(
        "twasflow: gene tests skipped: no gene TSS positions (set gene_tests.annotations.tss or "
        "enrichment.gene_annotation)",
        file=sys.stderr,
    )

all_gene_tests = [os.path.join(OUT, "gene_tests", f"{t}.genes.parquet") for t in TRAITS] if GENE_TESTS_ON else []
