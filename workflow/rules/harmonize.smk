# GWAS and xQTL summary statistics → harmonized to the panel's counted alleles; every drop counted in QC JSON.


rule harmonize_gwas:
    input:
        sheet_files_gwas=lambda wc: sheet_files(RUN.gwas_row(wc.trait)["path"]),
        # an rsID → position table and a liftover chain file, when the row names them
        gwas_aux=lambda wc: [RUN.gwas_row(wc.trait)[k] for k in ("rsid_map", "liftover") if RUN.gwas_row(wc.trait).get(k)],
        panel=L.panel_variants,
    output:
        parquet=L.gwas("{trait}"),
        qc=L.gwas_qc("{trait}"),
    params:
        args=lambda wc: ARGS.harmonize_gwas(wc.trait),
    log:
        L.log("harmonize_gwas", "{trait}"),
    benchmark:
        L.benchmark("harmonize_gwas", "{trait}"),
    threads: threads("harmonize_gwas")
    resources:
        **rule_resources("harmonize_gwas"),
    conda:
        ENV
    script:
        "../../scripts/harmonize_gwas.py"


rule harmonize_xqtl:
    input:
        sheet_files_xqtl=lambda wc: sheet_files(RUN.xqtl_row(wc.dataset)["path"]),
        # a prediction model's covariance file (PredictDB); absent for summary statistics
        covariance=lambda wc: sheet_files(RUN.xqtl_row(wc.dataset).get("covariance") or "")
        if RUN.xqtl_row(wc.dataset).get("covariance")
        else [],
        # published SuSiE fine-mapping (eqtlcat-susie): the credible sets beside the lbf_variable path
        credible_sets=lambda wc: sheet_files(RUN.xqtl_row(wc.dataset).get("credible_sets") or "")
        if RUN.xqtl_row(wc.dataset).get("credible_sets")
        else [],
        # a FUSION .pos list's weight files (.wgt.RDat)
        fusion=lambda wc: wh.fusion_files(RUN.xqtl_row(wc.dataset)),
        panel=L.panel_variants,
    output:
        # summary statistics: {chrom}.parquet per chromosome; prediction models (predictdb, weights-long):
        # models.parquet, models_report.tsv and, with a covariance file, covariance.npz
        out_dir=directory(L.xqtl_dir("{dataset}")),
        qc=L.xqtl_qc("{dataset}"),
    params:
        args=lambda wc: ARGS.harmonize_xqtl(wc.dataset),
    log:
        L.log("harmonize_xqtl", "{dataset}"),
    benchmark:
        L.benchmark("harmonize_xqtl", "{dataset}"),
    threads: threads("harmonize_xqtl")
    resources:
        **rule_resources("harmonize_xqtl"),
    conda:
        ENV
    script:
        "../../scripts/harmonize_xqtl.py"
