# Fine-mapping of gene–tissue pairs and variants per chunk, one job per method listed in config `methods`
# (tgvis, ctwas, tgfm: same inputs, same output schema). cTWAS first estimates its group priors once per
# trait over all loci (rule ctwas_params); TGFM with `tgfm.tissue_prior` learns its tissue prior over all loci
# of the trait first (rule tgfm_prior).


rule ctwas_params:
    input:
        bundles=trait_chunks("locus_inputs", "{trait}", "{chunk}", "manifest.json"),
        weights=trait_chunks("weights", "{trait}", "{chunk}", "manifest.json"),
        gwas=os.path.join(OUT, "harmonized", "gwas", "{trait}.parquet"),
        loci=os.path.join(OUT, "loci", "{trait}.tsv"),
    output:
        params=os.path.join(OUT, "ctwas", "{trait}", "params.json"),
    params:
        options=config["ctwas"],
    log:
        os.path.join(LOGS, "ctwas_params", "{trait}.log"),
    benchmark:
        os.path.join(BENCH, "ctwas_params", "{trait}.tsv")
    threads: threads("ctwas_params")
    resources:
        mem_mb=mem_mb("ctwas_params"),
        runtime=runtime("ctwas_params"),
        slurm_partition=partition("ctwas_params"),
    conda:
        ENV
    script:
        "../../scripts/ctwas_params.py"


rule tgfm_prior:
    input:
        bundles=trait_chunks("locus_inputs", "{trait}", "{chunk}", "manifest.json"),
        weights=trait_chunks("weights", "{trait}", "{chunk}", "manifest.json"),
        prescreen=trait_chunks("prescreen", "{trait}", "{chunk}.parquet"),
    output:
        prior=os.path.join(OUT, "tgfm", "{trait}", "tissue_prior.json"),
    params:
        options=config["tgfm"],
        seed=config["seed"],
    log:
        os.path.join(LOGS, "tgfm_prior", "{trait}.log"),
    benchmark:
        os.path.join(BENCH, "tgfm_prior", "{trait}.tsv")
    threads: threads("tgfm_prior")
    resources:
        mem_mb=mem_mb("tgfm_prior"),
        runtime=runtime("tgfm_prior"),
        slurm_partition=partition("tgfm_prior"),
    conda:
        ENV
    script:
        "../../scripts/tgfm_prior.py"


rule finemap:
    input:
        bundles=os.path.join(OUT, "locus_inputs", "{trait}", "{chunk}", "manifest.json"),
        weights=os.path.join(OUT, "weights", "{trait}", "{chunk}", "manifest.json"),
        prescreen=os.path.join(OUT, "prescreen", "{trait}", "{chunk}.parquet"),
        genes=gene_annotation_input,
        ctwas_params=ctwas_params_input,
        tgfm_prior=tgfm_prior_input,
    output:
        variables=os.path.join(OUT, "finemap", "{method}", "{trait}", "{chunk}.variables.parquet"),
        sets=os.path.join(OUT, "finemap", "{method}", "{trait}", "{chunk}.sets.parquet"),
        loci=os.path.join(OUT, "finemap", "{method}", "{trait}", "{chunk}.loci.parquet"),
        plots=directory(os.path.join(OUT, "finemap", "{method}", "{trait}", "{chunk}.plots")),
    params:
        out_prefix=lambda wc, output: output.loci.removesuffix(".loci.parquet"),
        options=lambda wc: config[wc.method],
        log_dir=lambda wc: os.path.join(LOGS, "finemap", wc.method, wc.trait, wc.chunk),
        seed=config["seed"],
        plot_mode=config["locus_plots"],
        ld_check=config["ld_check"],
    log:
        os.path.join(LOGS, "finemap", "{method}", "{trait}", "{chunk}.log"),
    benchmark:
        os.path.join(BENCH, "finemap", "{method}", "{trait}", "{chunk}.tsv")
    threads: threads("finemap")
    resources:
        mem_mb=mem_mb("finemap"),
        runtime=runtime("finemap"),
        slurm_partition=partition("finemap"),
    conda:
        ENV
    script:
        "../../scripts/finemap.py"
