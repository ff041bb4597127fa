# Gene-based tests with heterogeneous annotations (GAMBIT) and S-MultiXcan, per chunk of loci, then per trait.
# Contract: results/gene_tests/{trait}.tests.parquet (one row per test) and {trait}.genes.parquet (one row per
# gene: n_tests, top_class, min_p, omnibus_p, smultixcan_z, smultixcan_p, ...). docs/genetests.md.
import sys

from twasflow.genetests.stage import annotation_paths, gene_tests_enabled

GENE_TEST_ANNOTATIONS = annotation_paths(config)


# the annotation files a gene_tests job reads (the example's are made by simulate_example)
GENE_TEST_ANNOTATION_FILES = (
    simulated_inputs()
    if config["simulate"]["enabled"]
    else [GENE_TEST_ANNOTATIONS[k] for k in ("tss", "consequences", "elements") if GENE_TEST_ANNOTATIONS.get(k)]
)


rule gene_tests:
    input:
        loci=L.loci("{trait}"),
        gwas=L.gwas("{trait}"),
        panel=L.panel_meta,
        bundles=L.bundles("{trait}", "{chunk}"),
        weights=L.weights("{trait}", "{chunk}"),
        annotations=GENE_TEST_ANNOTATION_FILES,
    output:
        tests=L.gene_tests("{trait}", "{chunk}", "tests"),
        genes=L.gene_tests("{trait}", "{chunk}", "genes"),
    params:
        args=lambda wc: ARGS.gene_tests(wc.trait, wc.chunk),
    log:
        L.log("gene_tests", "{trait}", "{chunk}"),
    benchmark:
        L.benchmark("gene_tests", "{trait}", "{chunk}"),
    threads: threads("gene_tests")
    resources:
        **rule_resources("gene_tests"),
    conda:
        ENV
    script:
        "../../scripts/gene_tests.py"


rule gene_tests_trait:
    input:
        tests=trait_chunks(lambda t, c: L.gene_tests(t, c, "tests")),
        genes=trait_chunks(lambda t, c: L.gene_tests(t, c, "genes")),
    output:
        tests=L.gene_tests_trait("{trait}", "tests"),
        genes=L.gene_tests_trait("{trait}", "genes"),
    params:
        args=lambda wc: ARGS.gene_tests_trait(wc.trait),
    log:
        L.log("gene_tests", "{trait}"),
    benchmark:
        L.benchmark("gene_tests", "{trait}"),
    threads: threads("gene_tests_trait")
    resources:
        **rule_resources("gene_tests_trait"),
    conda:
        ENV
    script:
        "../../scripts/gene_tests.py"


# on by default, but only with gene TSS positions (gene_tests.annotations.tss, enrichment.gene_annotation or the
# example's genes): a real-data config without a gene annotation skips the gene tests instead of failing
GENE_TESTS_ON = gene_tests_enabled(config)
if config["gene_tests"]["enabled"] and not GENE_TESTS_ON:
    print(
        "twasflow: gene tests skipped: no gene TSS positions (set gene_tests.annotations.tss or "
        "enrichment.gene_annotation)",
        file=sys.stderr,
    )

all_gene_tests = [L.gene_tests_trait(t, "genes") for t in TRAITS] if GENE_TESTS_ON else []
