# GWAS and xQTL summary statistics → harmonized to the panel's counted alleles; every drop counted in QC JSON.


rule harmonize_gwas:
    input:
        sheet_files_gwas=lambda wc: sheet_files(RUN.gwas_row(wc.trait)["path"]),
        # an rsID → position table and a liftover chain file, when the row names them
        gwas_aux=lambda wc: [RUN.gwas_row(wc.trait)[k] for k in ("rsid_map", "liftover") if RUN.gwas_row(wc.trait).get(k)],
        panel=os.path.join(OUT, "panel", "variants.parquet"),
    output:
        parquet=os.path.join(OUT, "harmonized", "gwas", "{trait}.parquet"),
        qc=os.path.join(OUT, "harmonized", "gwas", "{trait}.qc.json"),
    params:
        # the truth column only feeds the summary: editing it must not re-harmonize the trait
        row=lambda wc: {k: v for k, v in RUN.gwas_row(wc.trait).items() if k != "truth"},
        harmonize=config["harmonize"],
        build=config["genome_build"],
    log:
        os.path.join(LOGS, "harmonize_gwas", "{trait}.log"),
    benchmark:
        os.path.join(BENCH, "harmonize_gwas", "{trait}.tsv")
    threads: threads("harmonize_gwas")
    resources:
        mem_mb=mem_mb("harmonize_gwas"),
        runtime=runtime("harmonize_gwas"),
        slurm_partition=partition("harmonize_gwas"),
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
        panel=os.path.join(OUT, "panel", "variants.parquet"),
    output:
        # summary statistics: {chrom}.parquet per chromosome; prediction models (predictdb, weights-long):
        # models.parquet, models_report.tsv and, with a covariance file, covariance.npz
        out_dir=directory(os.path.join(OUT, "harmonized", "xqtl", "{dataset}")),
        qc=os.path.join(OUT, "harmonized", "xqtl", "{dataset}.qc.json"),
    params:
        row=lambda wc: RUN.xqtl_row(wc.dataset),
        harmonize=config["harmonize"],
        build=config["genome_build"],
    log:
        os.path.join(LOGS, "harmonize_xqtl", "{dataset}.log"),
    benchmark:
        os.path.join(BENCH, "harmonize_xqtl", "{dataset}.tsv")
    threads: threads("harmonize_xqtl")
    resources:
        mem_mb=mem_mb("harmonize_xqtl"),
        runtime=runtime("harmonize_xqtl"),
        slurm_partition=partition("harmonize_xqtl"),
    conda:
        ENV
    script:
        "../../scripts/harmonize_xqtl.py"
