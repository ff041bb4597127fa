# Configuration, validated before any job runs, and the helpers every rule file uses.
import os

from twasflow.config import load_run_config
from twasflow.errors import ConfigError
from twasflow import workflow_helpers as wh

try:
    RUN = load_run_config(config, base_dir=os.getcwd())
except ConfigError as exc:
    raise WorkflowError(f"twasflow configuration error: {exc}") from None
config.update(RUN.config)

OUT = config["outdir"]
LOGS = "logs"
BENCH = "benchmarks/rules"
TRAITS = RUN.traits
DATASETS = RUN.datasets
METHODS = config["methods"]
ENV = "../../envs/twasflow.yaml"


include: "resources.smk"


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


def loci_table(trait):
    return os.path.join(OUT, "loci", f"{trait}.tsv")


def chunks_of(trait):
    """Chunk ids of a trait, read from the `loci` checkpoint's output."""
    with checkpoints.loci.get(trait=trait).output.tsv.open() as fh:
        return wh.chunk_ids(fh)


def static_targets():
    targets = [loci_table(t) for t in TRAITS]
    targets += [os.path.join(OUT, "harmonized", "gwas", f"{t}.qc.json") for t in TRAITS]
    targets += [os.path.join(OUT, "harmonized", "xqtl", f"{d}.qc.json") for d in DATASETS]
    return targets


def gene_annotation_input(wildcards):
    """Gene positions for locus plots: config enrichment.gene_annotation, else the example's genes."""
    p = wh.gene_annotation_path(config)
    return [p] if p else []


def per_chunk(*parts):
    """Input function: one path per chunk of every trait; ``parts`` may contain {trait} and {chunk}."""

    def targets(wildcards):
        pattern = os.path.join(OUT, *parts)
        return [pattern.format(trait=t, chunk=c) for t in TRAITS for c in chunks_of(t)]

    return targets


all_locus_inputs = per_chunk("locus_inputs", "{trait}", "{chunk}", "manifest.json")
all_prescreen = per_chunk("prescreen", "{trait}", "{chunk}.parquet")
all_coloc = per_chunk("coloc", "{trait}", "{chunk}.parquet")
all_finemap = [per_chunk("finemap", m, "{trait}", "{chunk}.loci.parquet") for m in METHODS]


def ctwas_params_input(wildcards):
    if wildcards.method == "ctwas":
        return [os.path.join(OUT, "ctwas", wildcards.trait, "params.json")]
    return []


def tgfm_prior_input(wildcards):
    if wildcards.method == "tgfm" and config["tgfm"].get("tissue_prior"):
        return [os.path.join(OUT, "tgfm", wildcards.trait, "tissue_prior.json")]
    return []


def trait_chunks(*parts, methods=None):
    """Input function: one path per chunk of the wildcard trait (and per method when ``methods``)."""

    def targets(wildcards):
        cs = chunks_of(wildcards.trait)
        pattern = os.path.join(OUT, *parts)
        if methods is None:
            return [pattern.format(trait=wildcards.trait, chunk=c) for c in cs]
        return [pattern.format(method=m, trait=wildcards.trait, chunk=c) for m in methods for c in cs]

    return targets
