"""One builder of every stage's arguments (twasflow.stage_args) and one path layout (twasflow.layout), shared by
the rules and the CLI: the CLI/rule drifts of issue 16 stay fixed."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest

from twasflow import stages
from twasflow.cli import build_parser
from twasflow.config import RunConfig, load_schema, validate
from twasflow.layout import Layout
from twasflow.stage_args import StageArgs


def _run(**overrides: object) -> RunConfig:
    cfg = validate({"genome_build": "GRCh38", "panel": {"bfile": "p"}, "outdir": "out", **overrides},
                   load_schema("config"), "config")
    gwas = pd.DataFrame({"trait": ["T"], "path": ["t.tsv"], "format": ["gwas-ssf"], "build": ["GRCh38"]})
    xqtl = pd.DataFrame({"dataset": ["Liver_eQTL", "Liver_models"], "tissue": ["Liver", "Liver"],
                         "qtl_type": ["eQTL", "eQTL"], "path": ["x.parquet", "m.db"],
                         "format": ["gtex-parquet", "predictdb"], "build": ["GRCh38", "GRCh38"],
                         "covariance": [None, "m.cov.txt.gz"]})
    return RunConfig(cfg, gwas, xqtl)


def test_layout_gives_the_same_path_for_values_and_patterns() -> None:
    lay = Layout("results")
    assert lay.bundles("T", "c000") == "results/locus_inputs/T/c000/manifest.json"
    assert lay.bundles("{trait}", "{chunk}").format(trait="T", chunk="c000") == lay.bundles("T", "c000")
    assert lay.finemap("tgvis", "T", "c000", "loci") == "results/finemap/tgvis/T/c000.loci.parquet"
    assert lay.log("finemap", "tgvis", "T", "c000") == "logs/finemap/tgvis/T/c000.log"
    with pytest.raises(ValueError):
        lay.finemap("tgvis", "T", "c000", "nope")


def test_every_builder_fits_its_stage_function() -> None:
    """Each StageArgs method returns exactly the keyword arguments its stages function takes."""
    args = StageArgs.of(_run())
    built = {"prescreen": args.prescreen("T", "c000"), "xqtl_weights": args.xqtl_weights("T", "c000"),
             "locus_inputs": args.locus_inputs("T", "c000"), "coloc": args.coloc("T", "c000"),
             "finemap": args.finemap("tgvis", "T", "c000"), "clump": args.clump("T"), "loci": args.loci("T"),
             "harmonize_gwas": args.harmonize_gwas("T"), "harmonize_xqtl": args.harmonize_xqtl("Liver_eQTL"),
             "panel": args.panel(), "ld_blocks": args.ld_blocks(), "simulate_example": args.simulate_example()}
    from twasflow.genetests import stage as gstage

    funcs = {name: getattr(stages, name) for name in built}
    built.update(gene_tests=args.gene_tests("T", "c000"), gene_tests_trait=args.gene_tests_trait("T", ["c000"]))
    funcs.update(gene_tests=gstage.gene_tests, gene_tests_trait=gstage.gene_tests_trait)
    for name, kw in built.items():
        params = inspect.signature(funcs[name]).parameters
        assert set(kw) <= set(params), (name, set(kw) - set(params))
        required = {k for k, p in params.items() if p.default is inspect.Parameter.empty}
        assert required <= set(kw), (name, required - set(kw))


def test_prescreen_honours_model_covariance() -> None:
    """`twasflow prescreen` once ignored prescreen.covariance: model; the builder both paths use carries it."""
    panel = StageArgs.of(_run()).prescreen("T", "c000")
    assert panel["covariance"] == "panel" and panel["model_dirs"] == {}
    model = StageArgs.of(_run(prescreen={"covariance": "model"})).prescreen("T", "c000", locus="T.1_1_2")
    assert model["covariance"] == "model"
    assert model["model_dirs"] == {"Liver_models": "out/harmonized/xqtl/Liver_models"}
    assert model["log_dir"] == "logs/prescreen/T/T.1_1_2"


def test_method_trait_inputs_come_from_the_registry() -> None:
    args = StageArgs.of(_run(tgfm={"tissue_prior": True}))
    assert args.finemap("tgvis", "T", "c000")["trait_inputs"] == {}
    assert args.finemap("ctwas", "T", "c000")["trait_inputs"] == {"ctwas_params": "out/ctwas/T/params.json"}
    assert args.finemap("tgfm", "T", "c000")["trait_inputs"] == {"tgfm_prior": "out/tgfm/T/tissue_prior.json"}
    assert StageArgs.of(_run()).finemap("tgfm", "T", "c000")["trait_inputs"] == {}


@pytest.mark.parametrize("fmt", ["gtex-parquet", "eqtl-catalogue", "predictdb", "weights-long"])
def test_cli_takes_every_xqtl_format_the_sheet_takes(fmt: str) -> None:
    a = build_parser().parse_args(["harmonize-xqtl", "--input", "x", "--format", fmt, "--dataset", "d", "--tissue",
                                   "t", "--qtl-type", "eQTL", "--out-dir", "o", "--qc", "q", "--panel", "p",
                                   "--build", "GRCh38"])
    assert a.format == fmt
    assert a.palindromic == load_schema("config")["properties"]["harmonize"]["properties"]["palindromic"]["default"]


def test_every_cli_option_says_its_default() -> None:
    """`--help` of every subcommand shows each option's default (options without a default say nothing)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        text = p.format_help()
        for action in p._actions:
            if action.option_strings and action.default not in (None, False) and action.help != "==SUPPRESS==" \
                    and not action.required and action.dest != "help":
                assert f"(default: {action.default})" in " ".join(text.split()), (name, action.dest)


def test_gene_tests_paths_follow_the_layout() -> None:
    """`twasflow gene-tests` once rebuilt its paths (and logged to ./logs whatever the outdir); the rule and the
    CLI now share StageArgs.gene_tests."""
    args = StageArgs.of(_run())
    kw = args.gene_tests("T", "c000")
    lay = args.layout
    assert (kw["out_tests"], kw["out_genes"]) == (lay.gene_tests("T", "c000", "tests"), lay.gene_tests("T", "c000", "genes"))
    assert kw["log_dir"] == lay.log_dir("gene_tests", "T", "c000")
    one = args.gene_tests("T", "c000", locus="T.1_1_2", out_prefix="x/one")
    assert (one["out_tests"], one["chunk"], one["locus"]) == ("x/one.tests.parquet", "c000", "T.1_1_2")
    gathered = args.gene_tests_trait("T", ["c000", "c001"])
    assert gathered["chunk_genes"] == [lay.gene_tests("T", c, "genes") for c in ("c000", "c001")]
    assert gathered["out_genes"] == lay.gene_tests_trait("T", "genes")
