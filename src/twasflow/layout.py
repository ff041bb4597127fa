"""Where every result file of a run lives: the one source of result paths (docs/outputs.md lists the files).

The rule files (``workflow/rules/*.smk``) and the ``twasflow`` CLI both ask a :class:`Layout` for paths, so the
two cannot drift. Every method returns a plain string; pass ``"{trait}"``, ``"{chunk}"`` … as arguments to get
the Snakemake pattern of the same path::

    lay = Layout("results")
    lay.bundles("height", "c000")        # 'results/locus_inputs/height/c000/manifest.json'
    lay.bundles("{trait}", "{chunk}")    # the rule's output pattern

No I/O here except :meth:`Layout.chunks`, which reads the chunk ids of a trait from its loci table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

FINEMAP_TABLES = ("variables", "sets", "loci")


@dataclass(frozen=True)
class Layout:
    """Paths of one run's results under ``outdir``; logs under ``logs``, rule benchmarks under ``bench``
    (both relative to the working directory, like Snakemake's)."""

    outdir: str
    logs: str = "logs"
    bench: str = os.path.join("benchmarks", "rules")

    def _out(self, *parts: str) -> str:
        return os.path.join(str(self.outdir), *parts)

    # ------------------------------------------------------------------------------------------ inputs
    @property
    def panel_dir(self) -> str:
        """Genotype store written by rule ``panel``."""
        return self._out("panel")

    @property
    def panel_variants(self) -> str:
        return os.path.join(self.panel_dir, "variants.parquet")

    @property
    def panel_meta(self) -> str:
        return os.path.join(self.panel_dir, "panel.json")

    def gwas(self, trait: str) -> str:
        """Harmonized GWAS of one trait (Parquet)."""
        return self._out("harmonized", "gwas", f"{trait}.parquet")

    def gwas_qc(self, trait: str) -> str:
        return self._out("harmonized", "gwas", f"{trait}.qc.json")

    def xqtl_dir(self, dataset: str) -> str:
        """Harmonized xQTL dataset: ``{chrom}.parquet`` per chromosome, or a prediction model's files."""
        return self._out("harmonized", "xqtl", dataset)

    def xqtl_qc(self, dataset: str) -> str:
        return self._out("harmonized", "xqtl", f"{dataset}.qc.json")

    def model_covariance(self, dataset: str) -> str:
        """A harmonized prediction model's covariance (absent without a covariance file)."""
        return os.path.join(self.xqtl_dir(dataset), "covariance.npz")

    def spredixcan(self, trait: str) -> str:
        """S-PrediXcan of every prediction model with the models' own covariance (rule ``spredixcan``; TSV)."""
        return self._out("spredixcan", f"{trait}.tsv")

    def spredixcan_summary(self, trait: str) -> str:
        """What the S-PrediXcan-only run did and skipped (JSON)."""
        return self._out("spredixcan", f"{trait}.json")

    # ------------------------------------------------------------------------------------------ loci
    def clumped(self, trait: str) -> str:
        return self._out("clump", f"{trait}.clumped")

    @property
    def ld_blocks(self) -> str:
        return self._out("ld_blocks", "blocks.bed")

    def loci(self, trait: str) -> str:
        """The loci table of a trait (checkpoint ``loci``; its ``chunk`` column names the chunks)."""
        return self._out("loci", f"{trait}.tsv")

    def chunks(self, trait: str) -> list[str]:
        """Sorted chunk ids of a trait, read from its loci table."""
        from .workflow_helpers import chunk_ids

        with open(self.loci(trait)) as fh:
            return chunk_ids(fh)

    # ------------------------------------------------------------------------------------------ per chunk
    def bundles(self, trait: str, chunk: str) -> str:
        """Manifest of a chunk's locus bundles (its directory holds the bundles)."""
        return self._out("locus_inputs", trait, chunk, "manifest.json")

    @property
    def stage1_cache(self) -> str:
        """Stage-1 fits shared by the traits of a run, keyed by their inputs' hash (:mod:`twasflow.stage1_cache`)."""
        return self._out("cache", "stage1")

    def weights(self, trait: str, chunk: str) -> str:
        """Manifest of a chunk's stage-1 weights (its directory holds ``{locus}.weights.npz``)."""
        return self._out("weights", trait, chunk, "manifest.json")

    def prescreen(self, trait: str, chunk: str) -> str:
        return self._out("prescreen", trait, f"{chunk}.parquet")

    def finemap_prefix(self, method: str, trait: str, chunk: str) -> str:
        """Prefix of a method's tables of one chunk (``{prefix}.variables.parquet`` …, ``{prefix}.plots``)."""
        return self._out("finemap", method, trait, chunk)

    def finemap(self, method: str, trait: str, chunk: str, table: str) -> str:
        """One fine-mapping table (``variables``, ``sets``, ``loci``) of a method and chunk."""
        if table not in FINEMAP_TABLES:
            raise ValueError(f"finemap table {table!r}: expected one of {FINEMAP_TABLES}")
        return f"{self.finemap_prefix(method, trait, chunk)}.{table}.parquet"

    def finemap_plots(self, method: str, trait: str, chunk: str) -> str:
        return f"{self.finemap_prefix(method, trait, chunk)}.plots"

    def coloc(self, trait: str, chunk: str) -> str:
        return self._out("coloc", trait, f"{chunk}.parquet")

    def gene_tests(self, trait: str, chunk: str, table: str) -> str:
        """Gene tests of one chunk: ``table`` ``tests`` or ``genes`` (rule ``gene_tests``)."""
        return self._out("gene_tests", trait, f"{chunk}.{table}.parquet")

    def gene_tests_trait(self, trait: str, table: str) -> str:
        """Gene tests of a trait, every chunk gathered (rule ``gene_tests_trait``)."""
        return self._out("gene_tests", f"{trait}.{table}.parquet")

    # ------------------------------------------------------------------------------------------ per trait
    def ctwas_params(self, trait: str) -> str:
        return self._out("ctwas", trait, "params.json")

    def tgfm_prior(self, trait: str) -> str:
        return self._out("tgfm", trait, "tissue_prior.json")

    def summary_dir(self, trait: str) -> str:
        return self._out("summary", trait)

    @property
    def across_dir(self) -> str:
        """Across-trait summary (rule ``across_traits``)."""
        return self._out("summary", "across_traits")

    @property
    def failed_loci(self) -> str:
        """Every failed locus of the run (rule ``failed_loci``, the run's last job)."""
        return self._out("failed_loci.tsv")

    # ------------------------------------------------------------------------------------------ logs
    def log(self, rule: str, *parts: str) -> str:
        """A rule's job log: ``logs/{rule}/{parts…}.log`` (``logs/{rule}.log`` without parts)."""
        if not parts:
            return os.path.join(self.logs, f"{rule}.log")
        return os.path.join(self.logs, rule, *parts[:-1], f"{parts[-1]}.log")

    def log_dir(self, rule: str, *parts: str) -> str:
        """Directory of a chunk job's per-locus logs: ``logs/{rule}/{parts…}``."""
        return os.path.join(self.logs, rule, *parts)

    def benchmark(self, rule: str, *parts: str) -> str:
        if not parts:
            return os.path.join(self.bench, f"{rule}.tsv")
        return os.path.join(self.bench, rule, *parts[:-1], f"{parts[-1]}.tsv")
