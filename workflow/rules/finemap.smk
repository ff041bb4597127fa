# Fine-mapping of gene–tissue pairs and variants per chunk, one job per method listed in config `methods`
# (twasflow.methods.registry: same inputs, same output schema). cTWAS first estimates its group priors once per
# trait over all loci (rule ctwas_params); TGFM with `tgfm.tissue_prior` learns its tissue prior over all loci
# of the trait first (rule tgfm_prior).


rule ctwas_params:
    input:
        bundles=trait_chunks(L.bundles),
        weights=trait_chunks(L.weights),
        gwas=L.gwas("{trait}"),
        loci=L.loci("{trait}"),
    output:
        params=L.ctwas_params("{trait}"),
    params:
        args=lambda wc: ARGS.ctwas_params(wc.trait),
    log:
        L.log("ctwas_params", "{trait}"),
    benchmark:
        L.benchmark("ctwas_params", "{trait}"),
    threads: threads("ctwas_params")
    resources:
        **rule_resources("ctwas_params"),
    conda:
        ENV
    script:
        "../../scripts/ctwas_params.py"


rule tgfm_prior:
    input:
        bundles=trait_chunks(L.bundles),
        weights=trait_chunks(L.weights),
        prescreen=trait_chunks(L.prescreen),
    output:
        prior=L.tgfm_prior("{trait}"),
    params:
        args=lambda wc: ARGS.tgfm_prior(wc.trait),
    log:
        L.log("tgfm_prior", "{trait}"),
    benchmark:
        L.benchmark("tgfm_prior", "{trait}"),
    threads: threads("tgfm_prior")
    resources:
        **rule_resources("tgfm_prior"),
    conda:
        ENV
    script:
        "../../scripts/tgfm_prior.py"


rule finemap:
    input:
        bundles=L.bundles("{trait}", "{chunk}"),
        weights=L.weights("{trait}", "{chunk}"),
        prescreen=L.prescreen("{trait}", "{chunk}"),
        genes=gene_annotation_input,
        trait_inputs=trait_inputs,
    output:
        variables=L.finemap("{method}", "{trait}", "{chunk}", "variables"),
        sets=L.finemap("{method}", "{trait}", "{chunk}", "sets"),
        loci=L.finemap("{method}", "{trait}", "{chunk}", "loci"),
        plots=directory(L.finemap_plots("{method}", "{trait}", "{chunk}")),
    params:
        args=lambda wc: ARGS.finemap(wc.method, wc.trait, wc.chunk),
    log:
        L.log("finemap", "{method}", "{trait}", "{chunk}"),
    benchmark:
        L.benchmark("finemap", "{method}", "{trait}", "{chunk}"),
    threads: threads("finemap")
    resources:
        **rule_resources("finemap"),
    conda:
        ENV
    script:
        "../../scripts/finemap.py"
