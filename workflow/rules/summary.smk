# Summaries read by users: per trait (every method) and across traits, gathered by `snakemake --report`
# (one report category per trait, one for all traits). Numbers come from the result tables through
# twasflow.summary; the captions in workflow/report/ only describe them.

include: "summary_inputs.smk"


rule summarize:
    input:
        variables=trait_chunks("finemap", "{method}", "{trait}", "{chunk}.variables.parquet", methods=METHODS),
        loci=trait_chunks("finemap", "{method}", "{trait}", "{chunk}.loci.parquet", methods=METHODS),
        plots=trait_chunks("finemap", "{method}", "{trait}", "{chunk}.plots", methods=METHODS),
        coloc=trait_chunks("coloc", "{trait}", "{chunk}.parquet"),
        prescreen=trait_chunks("prescreen", "{trait}", "{chunk}.parquet"),
        loci_tsv=lambda wc: loci_table(wc.trait),
        lists=gene_list_inputs,
        truth=truth_inputs,
    output:
        html=report(os.path.join(SUMMARY, "{trait}", "summary.html"), caption="../report/summary.rst",
                    category="{trait}", subcategory="1 summary", labels={"content": "summary tables"}),
        tissues_png=report(os.path.join(SUMMARY, "{trait}", "tissues.png"), caption="../report/tissues.rst",
                           category="{trait}", subcategory="2 figures", labels={"figure": "tissues of causal pairs"}),
        pratt_png=report(os.path.join(SUMMARY, "{trait}", "pratt.png"), caption="../report/pratt.rst",
                         category="{trait}", subcategory="2 figures", labels={"figure": "Pratt split"}),
        agreement_png=report(os.path.join(SUMMARY, "{trait}", "agreement.png"), caption="../report/agreement.rst",
                             category="{trait}", subcategory="2 figures", labels={"figure": "method agreement"}),
        top_loci=report(directory(os.path.join(SUMMARY, "{trait}", "top_loci")), patterns=["{name}.png"],
                        caption="../report/top_loci.rst", category="{trait}", subcategory="3 top loci",
                        labels={"locus plot": "{name}"}),
        causal_variables=report(os.path.join(SUMMARY, "{trait}", "causal_variables.tsv"),
                                caption="../report/causal_variables.rst", category="{trait}",
                                subcategory="4 tables", labels={"table": "causal variables"}),
        causal_sets=report(os.path.join(SUMMARY, "{trait}", "causal_sets.tsv"), caption="../report/causal_sets.rst",
                           category="{trait}", subcategory="4 tables", labels={"table": "causal credible sets"}),
        tables=[os.path.join(SUMMARY, "{trait}", f"{t}.tsv") for t in
                ("overview", "tissues", "coloc", "missed_by_twas", "pratt_loci", "pratt", "agreement", "silver",
                 "silver_sets", "drug_targets", "truth")],
        svgs=[os.path.join(SUMMARY, "{trait}", f"{f}.svg") for f in ("tissues", "pratt", "agreement")],
        json=os.path.join(SUMMARY, "{trait}", "summary.json"),
    params:
        methods=METHODS,
        out_dir=lambda wc, output: os.path.dirname(output.json),
        plot_dirs=plot_dirs,
        genes=gene_positions(),
        silver=gene_list("silver_standard"),
        drugs=gene_list("drug_targets"),
        truth=lambda wc: truth_table(wc.trait),
        options=config["enrichment"],
        failed_loci_tolerated=config["failed_loci"]["tolerate"],
    log:
        os.path.join(LOGS, "summarize", "{trait}.log"),
    benchmark:
        os.path.join(BENCH, "summarize", "{trait}.tsv")
    threads: threads("summarize")
    resources:
        mem_mb=mem_mb("summarize"),
        runtime=runtime("summarize"),
    conda:
        ENV
    script:
        "../../scripts/summarize.py"


rule enrichment:
    input:
        summaries=expand(os.path.join(SUMMARY, "{trait}", "summary.json"), trait=TRAITS),
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
        traits=TRAITS,
        methods=METHODS,
        out_dir=lambda wc, output: os.path.dirname(output.json),
        summary_dirs={t: os.path.join(SUMMARY, t) for t in TRAITS},
    log:
        os.path.join(LOGS, "enrichment.log"),
    benchmark:
        os.path.join(BENCH, "enrichment.tsv")
    threads: threads("enrichment")
    resources:
        mem_mb=mem_mb("enrichment"),
        runtime=runtime("enrichment"),
    conda:
        ENV
    script:
        "../../scripts/enrichment.py"

