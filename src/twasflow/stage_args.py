"""The keyword arguments of every stage function, built once from the validated config and a :class:`Layout`.

A rule passes ``params: args=lambda wc: ARGS.<rule>(...)`` and its script runs
``stages.snakemake_main(smk, stages.<rule>, **smk.params.args)``; the ``twasflow`` CLI calls
``stages.<rule>(**ARGS.<rule>(...))`` with the same builder. Paths come from :mod:`twasflow.layout`, options from
the config (whose schema, ``schemas/config.schema.yaml``, is the only source of defaults), so the CLI and the
rules cannot drift apart. Every value is a plain string, number, list or dict (Snakemake stores params).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import RunConfig
from .layout import Layout
from .models import is_model_format


@dataclass(frozen=True)
class StageArgs:
    """Builders of ``stages.<rule>`` arguments for one configured run."""

    run: RunConfig
    layout: Layout

    @classmethod
    def of(cls, run: RunConfig) -> "StageArgs":
        return cls(run, Layout(str(run.config["outdir"])))

    @property
    def cfg(self) -> dict[str, Any]:
        return self.run.config

    # ------------------------------------------------------------------------------------------ inputs
    def simulate_example(self) -> dict[str, Any]:
        sim = self.cfg["simulate"]
        return {"out_dir": str(sim["out_dir"]), "seed": int(sim["seed"])}

    def panel(self) -> dict[str, Any]:
        p = self.cfg["panel"]
        return {"out_dir": self.layout.panel_dir, "bfile": p["bfile"], "vcf": p["vcf"], "pgen": p["pgen"], "keep": p["keep"],
                "maf_min": p["maf_min"], "variants": p.get("variants"), "ld": p.get("ld")}

    def harmonize_gwas(self, trait: str) -> dict[str, Any]:
        # the truth column only feeds the summary: editing it must not re-harmonize the trait
        row = {k: v for k, v in self.run.gwas_row(trait).items() if k != "truth"}
        return {"row": row, "panel_dir": self.layout.panel_dir, "out": self.layout.gwas(trait),
                "qc": self.layout.gwas_qc(trait), "harmonize": dict(self.cfg["harmonize"]),
                "build": self.cfg["genome_build"]}

    def harmonize_xqtl(self, dataset: str) -> dict[str, Any]:
        return {"row": self.run.xqtl_row(dataset), "panel_dir": self.layout.panel_dir,
                "out_dir": self.layout.xqtl_dir(dataset), "qc": self.layout.xqtl_qc(dataset),
                "harmonize": dict(self.cfg["harmonize"]), "build": self.cfg["genome_build"]}

    def clump(self, trait: str) -> dict[str, Any]:
        return {"gwas": self.layout.gwas(trait), "panel_dir": self.layout.panel_dir,
                "out": self.layout.clumped(trait), **self.cfg["clump"]}

    def ld_blocks(self) -> dict[str, Any]:
        return {"panel_dir": self.layout.panel_dir, "out_bed": self.layout.ld_blocks,
                "target_kb": self.cfg["loci"]["block_target_kb"]}

    def blocks_file(self) -> str | None:
        """The LD blocks the loci snap to (config ``loci.ld_blocks``): none, the panel's, or a BED file."""
        blocks = self.cfg["loci"]["ld_blocks"]
        if blocks == "none":
            return None
        return self.layout.ld_blocks if blocks == "panel" else str(blocks)

    def loci(self, trait: str) -> dict[str, Any]:
        return {"trait": trait, "clumped": self.layout.clumped(trait), "out_tsv": self.layout.loci(trait),
                "loci_cfg": self.cfg["loci"], "mhc": self.run.mhc(), "chunking": self.cfg["chunking"],
                "blocks": self.blocks_file()}

    # ------------------------------------------------------------------------------------------ per chunk
    def locus_inputs(self, trait: str, chunk: str, *, locus: str | None = None,
                     out_dir: str | None = None) -> dict[str, Any]:
        """``locus``: one locus of ``chunk`` only (the CLI), written to ``out_dir`` (default: the chunk's)."""
        import os

        lay = self.layout
        target = out_dir or os.path.dirname(lay.bundles(trait, locus or chunk))
        return {"trait": trait, "loci_tsv": lay.loci(trait), "chunk": None if locus else chunk,
                "gwas": lay.gwas(trait), "xqtl_dirs": {d: lay.xqtl_dir(d) for d in self.run.datasets},
                "panel_dir": lay.panel_dir, "out_dir": target, "manifest": os.path.join(target, "manifest.json"),
                "log_dir": lay.log_dir("locus_inputs", trait, locus or chunk),
                "locus_variants": self.cfg["locus_variants"], "locus": locus}

    def xqtl_weights(self, trait: str, chunk: str, *, locus: str | None = None,
                     out_dir: str | None = None) -> dict[str, Any]:
        import os

        lay = self.layout
        target = out_dir or os.path.dirname(lay.weights(trait, chunk))
        return {"trait": trait, "bundles_manifest": lay.bundles(trait, chunk), "out_dir": target,
                "manifest": os.path.join(target, "manifest.json"),
                "log_dir": lay.log_dir("xqtl_weights", trait, locus or chunk), "weights": self.cfg["weights"],
                "locus": locus, "stage1_cache": lay.stage1_cache}

    def model_cov_datasets(self) -> list[str]:
        """Prediction-model datasets with a covariance file, read by the prescreen with ``covariance: model``."""
        if self.cfg["prescreen"]["covariance"] != "model":
            return []
        return [d for d in self.run.datasets
                if is_model_format(self.run.xqtl_row(d)["format"]) and self.run.xqtl_row(d).get("covariance")]

    def spredixcan(self, trait: str) -> dict[str, Any]:
        lay = self.layout
        return {"trait": trait, "gwas": lay.gwas(trait),
                "model_dirs": {d: lay.xqtl_dir(d) for d in self.model_cov_datasets()},
                "out": lay.spredixcan(trait), "summary": lay.spredixcan_summary(trait),
                "phi_h2": self.cfg["prescreen"]["phi_h2"],
                "genotypes": not self.cfg["panel"].get("variants")}

    def prescreen(self, trait: str, chunk: str, *, locus: str | None = None,
                  out: str | None = None) -> dict[str, Any]:
        lay, pre = self.layout, self.cfg["prescreen"]
        return {"trait": trait, "bundles_manifest": lay.bundles(trait, chunk),
                "weights_manifest": lay.weights(trait, chunk), "out": out or lay.prescreen(trait, chunk),
                "log_dir": lay.log_dir("prescreen", trait, locus or chunk), "p_max": pre["p_max"],
                "covariance": pre["covariance"],
                "model_dirs": {d: lay.xqtl_dir(d) for d in self.model_cov_datasets()}, "locus": locus,
                "phi_h2": pre["phi_h2"], "phi_dirs": self.phi_dirs(),
                **self._prescreen_gene_tests(trait, chunk)}

    def _prescreen_gene_tests(self, trait: str, chunk: str) -> dict[str, Any]:
        """Prescreen by gene tests (``prescreen.statistic: gene_test``): the chunk's gene-test table."""
        from .genetests.stage import gene_tests_enabled

        pre = self.cfg["prescreen"]
        on = pre["statistic"] == "gene_test" and gene_tests_enabled(self.cfg)
        return {"statistic": pre["statistic"], "gene_test_column": pre["gene_test_column"],
                "gene_tests": self.layout.gene_tests(trait, chunk, "genes") if on else None}

    def prescreen_gene_tests(self, trait: str, chunk: str) -> list[str]:
        """The prescreen rule's gene-test input (empty unless ``prescreen.statistic: gene_test``)."""
        g = self._prescreen_gene_tests(trait, chunk)["gene_tests"]
        return [g] if g else []

    def phi_dirs(self) -> dict[str, str]:
        """Harmonized PredictDB datasets, whose ``models.parquet`` may carry phi (with ``prescreen.phi_h2``)."""
        if self.cfg["prescreen"]["phi_h2"] is None:
            return {}
        return {d: self.layout.xqtl_dir(d) for d in self.run.datasets if self.run.xqtl_row(d)["format"] == "predictdb"}

    def trait_inputs(self, method: str, trait: str) -> dict[str, str]:
        """The per-trait files a method's finemap job reads (its registry entry's preparation outputs)."""
        from .methods.registry import get_method

        return {k: getattr(self.layout, k)(trait) for k in get_method(method).trait_inputs(self.cfg)}

    def finemap(self, method: str, trait: str, chunk: str, *, locus: str | None = None,
                out_prefix: str | None = None) -> dict[str, Any]:
        from .workflow_helpers import gene_annotation_path

        lay, cfg = self.layout, self.cfg
        prefix = out_prefix or lay.finemap_prefix(method, trait, locus or chunk)
        return {"trait": trait, "method": method, "bundles_manifest": lay.bundles(trait, chunk),
                "weights_manifest": lay.weights(trait, chunk), "prescreen_table": lay.prescreen(trait, chunk),
                "out_prefix": prefix, "log_dir": lay.log_dir("finemap", method, trait, locus or chunk),
                "options": cfg[method], "genes": gene_annotation_path(cfg),
                "plot_dir": f"{prefix}.plots", "locus": locus, "trait_inputs": self.trait_inputs(method, trait),
                "seed": cfg["seed"], "plot_mode": cfg["locus_plots"], "genome_build": cfg["genome_build"],
                "ld_check": cfg["ld_check"], "gwas": lay.gwas(trait)}

    def coloc(self, trait: str, chunk: str, *, locus: str | None = None, out: str | None = None) -> dict[str, Any]:
        lay = self.layout
        return {"trait": trait, "bundles_manifest": lay.bundles(trait, chunk),
                "pairs_tables": {m: lay.finemap(m, trait, chunk, "variables") for m in self.cfg["methods"]},
                "out": out or lay.coloc(trait, chunk), "log_dir": lay.log_dir("coloc", trait, locus or chunk),
                "coloc_cfg": self.cfg["coloc"], "locus": locus, "lbf_files": self.lbf_files()}

    def lbf_files(self) -> list[str]:
        """The ``lbf.parquet`` of every ``eqtlcat-susie`` dataset (coloc from published lbf)."""
        import os

        from .finemapped_xqtl import LBF_FILE, SUSIE_FORMAT

        return [os.path.join(self.layout.xqtl_dir(d), LBF_FILE) for d in self.run.datasets
                if self.run.xqtl_row(d)["format"] == SUSIE_FORMAT]

    def gene_tests(self, trait: str, chunk: str, *, locus: str | None = None,
                   out_prefix: str | None = None) -> dict[str, Any]:
        """Rule ``gene_tests`` (``twasflow.genetests.stage.gene_tests``); ``locus``: that locus of ``chunk`` only."""
        from .genetests.stage import annotation_paths

        lay = self.layout

        def out(table: str) -> str:
            return f"{out_prefix}.{table}.parquet" if out_prefix else lay.gene_tests(trait, locus or chunk, table)

        return {"trait": trait, "loci_tsv": lay.loci(trait), "chunk": chunk, "gwas": lay.gwas(trait),
                "panel_dir": lay.panel_dir, "bundles_manifest": lay.bundles(trait, chunk),
                "weights_manifest": lay.weights(trait, chunk), "out_tests": out("tests"), "out_genes": out("genes"),
                "log_dir": lay.log_dir("gene_tests", trait, locus or chunk), "options": self.cfg["gene_tests"],
                "annotations": annotation_paths(self.cfg), "locus": locus}

    # ------------------------------------------------------------------------------------------ per trait
    def gene_tests_trait(self, trait: str, chunks: list[str] | None = None) -> dict[str, Any]:
        """Rule ``gene_tests_trait``: the chunks' gene-test tables gathered (chunks from the loci table)."""
        lay = self.layout
        chunks = lay.chunks(trait) if chunks is None else chunks
        return {"chunk_tests": [lay.gene_tests(trait, c, "tests") for c in chunks],
                "chunk_genes": [lay.gene_tests(trait, c, "genes") for c in chunks],
                "out_tests": lay.gene_tests_trait(trait, "tests"), "out_genes": lay.gene_tests_trait(trait, "genes")}

    def gather_chunks(self, trait: str, chunks: list[str] | None = None) -> list[dict[str, str]]:
        """Per chunk of a trait the inputs of the gather stages (chunks from the loci table by default)."""
        lay = self.layout
        return [{"bundles": lay.bundles(trait, c), "weights": lay.weights(trait, c),
                 "prescreen": lay.prescreen(trait, c)} for c in (lay.chunks(trait) if chunks is None else chunks)]

    def ctwas_params(self, trait: str, *, out: str | None = None) -> dict[str, Any]:
        lay = self.layout
        return {"trait": trait, "chunks": self.gather_chunks(trait), "out": out or lay.ctwas_params(trait),
                "options": self.cfg["ctwas"], "gwas": lay.gwas(trait), "loci_tsv": lay.loci(trait)}

    def tgfm_prior(self, trait: str, *, out: str | None = None) -> dict[str, Any]:
        return {"trait": trait, "chunks": self.gather_chunks(trait), "out": out or self.layout.tgfm_prior(trait),
                "options": self.cfg["tgfm"], "seed": self.cfg["seed"]}

    def summarize(self, trait: str, *, out_dir: str | None = None) -> dict[str, Any]:
        from .genetests.stage import gene_tests_enabled
        from .workflow_helpers import gene_annotation_path, gene_list_path

        lay, cfg = self.layout, self.cfg
        chunks, methods, opt = lay.chunks(trait), list(cfg["methods"]), cfg["enrichment"]
        return {"trait": trait, "methods": methods,
                "variables": [lay.finemap(m, trait, c, "variables") for m in methods for c in chunks],
                "loci": [lay.finemap(m, trait, c, "loci") for m in methods for c in chunks],
                "coloc": [lay.coloc(trait, c) for c in chunks], "prescreen": [lay.prescreen(trait, c) for c in chunks],
                "out_dir": out_dir or lay.summary_dir(trait),
                "plot_dirs": {m: [lay.finemap_plots(m, trait, c) for c in chunks] for m in methods},
                "loci_tsv": lay.loci(trait), "genes": gene_annotation_path(cfg),
                "silver_standard": gene_list_path(cfg, "silver_standard"),
                "drug_targets_list": gene_list_path(cfg, "drug_targets"),
                "truth": self.run.gwas_row(trait).get("truth") or None,
                "twas_p_max": opt["twas_p_max"], "top_loci": opt["top_loci"], "nearby_kb": opt["nearby_kb"],
                "gwas": lay.gwas(trait), "panel_dir": lay.panel_dir, "genome_build": cfg["genome_build"],
                "gene_tests": lay.gene_tests_trait(trait, "genes") if gene_tests_enabled(cfg) else None,
                "locus_pages": cfg["locus_plots"], "failed_loci_tolerated": cfg["failed_loci"]["tolerate"]}

    def across_traits(self, *, out_dir: str | None = None) -> dict[str, Any]:
        lay = self.layout
        return {"traits": list(self.run.traits), "methods": list(self.cfg["methods"]),
                "summary_dirs": {t: lay.summary_dir(t) for t in self.run.traits},
                "out_dir": out_dir or lay.across_dir}
