# Paths and input functions of the summary rules (workflow/rules/summary.smk).

SUMMARY = os.path.join(OUT, "summary")
ACROSS = os.path.join(SUMMARY, "across_traits")


def gene_list(key):
    """A gene list path: config enrichment.<key>, else the simulated example's own list, else None."""
    return wh.gene_list_path(config, key)


def gene_list_inputs(wildcards):
    """Gene lists and positions given in the config; the example's own files come with its manifest (no rule
    names them as outputs, so they cannot be inputs themselves)."""
    keys = (*wh.EXAMPLE_GENE_LISTS, "gene_annotation")
    paths = [config["enrichment"][k] for k in keys if config["enrichment"][k]]
    return paths + simulated_inputs()


def gene_positions():
    """Gene positions: config enrichment.gene_annotation, else the example's genes.tsv, else None."""
    return wh.gene_annotation_path(config)


def truth_table(trait):
    """The trait's planted-truth table (gwas sheet column ``truth``; simulated data only), else None."""
    return RUN.gwas_row(trait).get("truth") or None


def truth_inputs(wildcards):
    """The truth table as an input unless the example simulator writes it (it comes with the manifest)."""
    p = truth_table(wildcards.trait)
    return [p] if p and not wh.made_by_simulator(config, p) else []


def plot_dirs(wildcards):
    return {m: trait_chunks("finemap", "{method}", "{trait}", "{chunk}.plots", methods=[m])(wildcards)
            for m in METHODS}


all_summary = [os.path.join(ACROSS, "summary.json")]
