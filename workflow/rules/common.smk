# Configuration, validated before any job runs, and the helpers every rule file uses.
import os

from twasflow.config import load_run_config
from twasflow.errors import ConfigError
from twasflow.layout import Layout
from twasflow.stage_args import StageArgs
from twasflow import workflow_helpers as wh

try:
    RUN = load_run_config(config, base_dir=os.getcwd())
except ConfigError as exc:
    raise WorkflowError(f"twasflow configuration error: {exc}") from None
config.update(RUN.config)

OUT = config["outdir"]
# every path from one Layout and every stage's arguments from one builder, shared with the `twasflow` CLI
L = Layout(OUT)
ARGS = StageArgs(RUN, L)
TRAITS = RUN.traits
DATASETS = RUN.datasets
METHODS = config["methods"]
ENV = "../../envs/twasflow.yaml"


wildcard_constraints:
    trait="|".join(TRAITS),
    dataset="|".join(DATASETS),
    chunk=r"c[0-9]+",
    method="|".join(METHODS),


def simulated_inputs():
    """The example's manifest when the config asks for the simulated example, so inputs wait for it."""
    if config["simulate"]["enabled"]:
        return [os.path.join(config["simulate"]["out_dir"], "manifest.json")]
    return []


def panel_source_files():
    if config["simulate"]["enabled"]:
        return simulated_inputs()
    return wh.panel_files(config["panel"])


def sheet_files(path):
    if config["simulate"]["enabled"]:
        return simulated_inputs()
    return wh.expand_pattern(path)


def chunks_of(trait):
    """Chunk ids of a trait, read from the `loci` checkpoint's output."""
    checkpoints.loci.get(trait=trait)
    return L.chunks(trait)


def static_targets():
    return [L.loci(t) for t in TRAITS] + [L.gwas_qc(t) for t in TRAITS] + [L.xqtl_qc(d) for d in DATASETS]


def gene_annotation_input(wildcards):
    """Gene positions for locus plots: config enrichment.gene_annotation, else the example's genes."""
    p = wh.gene_annotation_path(config)
    return [p] if p else []


def per_chunk(path):
    """Input function: one path per chunk of every trait; ``path(trait, chunk)`` is a Layout method."""

    def targets(wildcards):
        return [path(t, c) for t in TRAITS for c in chunks_of(t)]

    return targets


all_locus_inputs = per_chunk(L.bundles)
all_prescreen = per_chunk(L.prescreen)
all_coloc = per_chunk(L.coloc)
all_finemap = [per_chunk(lambda t, c, m=m: L.finemap(m, t, c, "loci")) for m in METHODS]


def trait_inputs(wildcards):
    """The per-trait files of the wildcard method (cTWAS's params, TGFM's tissue prior; methods/registry.py)."""
    return list(ARGS.trait_inputs(wildcards.method, wildcards.trait).values())


def trait_chunks(path, methods=None):
    """Input function: one path per chunk of the wildcard trait (and per method when ``methods``); ``path`` is a
    Layout method taking (trait, chunk), or (method, trait, chunk) with ``methods``."""

    def targets(wildcards):
        cs = chunks_of(wildcards.trait)
        if methods is None:
            return [path(wildcards.trait, c) for c in cs]
        return [path(m, wildcards.trait, c) for m in methods for c in cs]

    return targets


# ---- inputs of the summary rules (workflow/rules/summary.smk)
def gene_list_inputs(wildcards):
    """Gene lists and positions given in the config; the example's own files come with its manifest (no rule
    names them as outputs, so they cannot be inputs themselves)."""
    keys = (*wh.EXAMPLE_GENE_LISTS, "gene_annotation")
    paths = [config["enrichment"][k] for k in keys if config["enrichment"][k]]
    return paths + simulated_inputs()


def truth_table(trait):
    """The trait's planted-truth table (gwas sheet column ``truth``; simulated data only), else None."""
    return RUN.gwas_row(trait).get("truth") or None


def truth_inputs(wildcards):
    """The truth table as an input unless the example simulator writes it (it comes with the manifest)."""
    p = truth_table(wildcards.trait)
    return [p] if p and not wh.made_by_simulator(config, p) else []
