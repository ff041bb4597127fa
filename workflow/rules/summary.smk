# Summaries read by users: per trait (every method) and across traits, gathered by `snakemake --report`
# (one report category per trait, one for all traits). Numbers come from the result tables through
# twasflow.summary; the captions in workflow/report/ only describe them.

SUMMARY = L.summary_dir("{trait}")
ACROSS = L.across_dir


all_summary = [os.path.join(ACROSS, "summary.json")]


rule summarize:
    input:
        variables=trait_chunks(lambda m, t, c: L.finemap(m, t, c, "variables"), methods=METHODS),
        loci=trait_chunks(lambda m, t, c: L.finemap(m, t, c, "loci"), methods=METHODS),
        plots=trait_chunks(L.finemap_plots, methods=METHODS),
        coloc=trait_chunks(L.coloc),
        prescreen=trait_chunks(L.prescreen),
        loci_tsv=L.loci("{trait}"),
        gwas=L.gwas("{trait}"),
        panel=L.panel_meta,
        gene_tests=lambda wc: [L.gene_tests_trait(wc.trait, "genes")] if GENE_TESTS_ON else [],
        lists=gene_list_inputs,
        truth=truth_inputs,
    output:
        html=report(os.path.join(SUMMARY, "summary.html"), caption="../report/summary.rst",
                    category="{trait}", subcategory="1 summary", labels={"content": "summary tables"}),
        tissues_png=report(os.path.join(SUMMARY, "tissues.png"), caption="../report/tissues.rst",
                           category="{trait}", subcategory="2 figures", labels={"figure": "tissues of causal pairs"}),
        pratt_png=report(os.path.join(SUMMARY, "pratt.png"), caption="../report/pratt.rst",
                         category="{trait}", subcategory="2 figures", labels={"figure": "Pratt split"}),
        agreement_png=report(os.path.join(SUMMARY, "agreement.png"), caption="../report/agreement.rst",
                             category="{trait}", subcategory="2 figures", labels={"figure": "method agreement"}),
        locus_pages=report(directory(os.path.join(SUMMARY, "loci")), patterns=["{locus}__{genes}.html"],
                           caption="../report/locus_page.rst", category="{trait}", subcategory="3 loci",
                           labels={"locus": "{locus}", "genes": "{genes}"}),
        top_loci=directory(os.path.join(SUMMARY, "top_loci")),
        causal_variables=report(os.path.join(SUMMARY, "causal_variables.html"),
                                caption="../report/causal_variables.rst", category="{trait}",
                                subcategory="4 tables", labels={"table": "causal variables"}),
        causal_sets=report(os.path.join(SUMMARY, "causal_sets.html"), caption="../report/causal_sets.rst",
                           category="{trait}", subcategory="4 tables", labels={"table": "causal credible sets"}),
        tables=[os.path.join(SUMMARY, f"{t}.tsv") for t in
                ("causal_variables", "causal_sets", "genes", "overview", "tissues", "coloc", "missed_by_twas",
                 "pratt_loci", "pratt", "agreement", "silver", "silver_sets", "drug_targets", "truth")],
        svgs=[os.path.join(SUMMARY, f"{f}.svg") for f in ("tissues", "pratt", "agreement")],
        json=os.path.join(SUMMARY, "summary.json"),
    params:
        args=lambda wc: ARGS.summarize(wc.trait),
    log:
        L.log("summarize", "{trait}"),
    benchmark:
        L.benchmark("summarize", "{trait}"),
    threads: threads("summarize")
    resources:
        **rule_resources("summarize"),
    conda:
        ENV
    script:
        "../../scripts/summarize.py"


# the across-trait summary (tables, heatmaps, enrichment tests over every trait)
rule across_traits:
    input:
        summaries=expand(os.path.join(SUMMARY, "summary.json"), trait=TRAITS),
    output:
        *[report(os.path.join(ACROSS, f"heatmap.{m}.png"), caption="../report/heatmap.rst", category="across traits",
                 subcategory="2 figures", labels={"figure": f"trait x tissue heatmap ({m})"}) for m in METHODS],
        html=report(os.path.join(ACROSS, "summary.html"), caption="../report/across.rst", category="across traits",
                    subcategory="1 summary", labels={"content": "summary tables"}),
        overview_png=report(os.path.join(ACROSS, "overview.png"), caption="../report/overview.rst",
                            category="across traits", subcategory="2 figures", labels={"figure": "overview"}),
        heatmap_svgs=expand(os.path.join(ACROSS, "heatmap.{method}.svg"), method=METHODS),
        tables=[os.path.join(ACROSS, f"{t}.tsv") for t in
                ("overview", "tissue_matrix", "drug_targets", "drug_ttest", "silver", "coloc", "missed_by_twas",
                 "pratt", "medians")],
        overview_svg=os.path.join(ACROSS, "overview.svg"),
        json=os.path.join(ACROSS, "summary.json"),
    params:
        args=ARGS.across_traits(),
    log:
        L.log("across_traits"),
    benchmark:
        L.benchmark("across_traits"),
    threads: threads("across_traits")
    resources:
        **rule_resources("across_traits"),
    conda:
        ENV
    script:
        "../../scripts/across_traits.py"

