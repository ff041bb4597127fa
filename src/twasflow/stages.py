"""One function per workflow rule. The rule scripts in ``scripts/`` and the ``twasflow`` CLI both call these,
so a stage runs the same way inside and outside Snakemake. Each function takes plain paths and parameters,
logs its progress, and writes its outputs atomically.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from .errors import InputError
from .io.tables import write_tsv

log = logging.getLogger("twasflow")


# ---------------------------------------------------------------------------------------------- plumbing
def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO) -> None:
    """Log to stderr and, when given, to ``log_file`` (a rule's ``log:``)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s", handlers=handlers,
                        force=True)
    logging.captureWarnings(True)


def snakemake_main(smk: Any, fn: Callable[..., Any], **kwargs: Any) -> None:
    """Run ``fn(**kwargs)`` for a rule script: log to the rule's log file; bad input → message, exit 1."""
    from threadpoolctl import threadpool_limits

    setup_logging(smk.log[0] if len(smk.log) else None)
    t0 = time.perf_counter()
    try:
        # BLAS may use only the rule's threads: oversubscribed OpenBLAS is many times slower on busy nodes
        with threadpool_limits(limits=max(1, int(smk.threads))):
            fn(**kwargs)
    except InputError as exc:
        log.error("%s", exc)
        sys.exit(1)
    log.info("done in %.1f s", time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------- stages
def simulate_example(out_dir: str | Path, seed: int) -> dict[str, Path]:
    """Rule ``simulate_example``: write the bundled example with twasflow's own simulator."""
    from .simulate.example import make_example

    log.info("simulating the example into %s (seed %d)", out_dir, seed)
    return make_example(out_dir, seed=seed)


def panel(out_dir: str | Path, *, bfile: str | None = None, vcf: str | None = None, keep: str | None = None,
          maf_min: float = 0.01) -> dict[str, Any]:
    """Rule ``panel``: PLINK bed or VCF → per-chromosome genotype store in ``out_dir``."""
    from .io.panel import build_panel_store

    log.info("building the genotype store from %s", bfile or vcf)
    return build_panel_store(out_dir, bfile=bfile, vcf=vcf, keep=keep, maf_min=maf_min)


def _panel_variants(panel_dir: str | Path) -> pd.DataFrame:
    return pd.read_parquet(Path(panel_dir) / "variants.parquet")


def harmonize_gwas(row: Mapping[str, Any], panel_dir: str | Path, out: str | Path, qc: str | Path,
                   harmonize: Mapping[str, Any], build: str) -> dict[str, Any]:
    """Rule ``harmonize_gwas``: one GWAS sheet row → harmonized Parquet + QC JSON."""
    from .config import gwas_colmap
    from .harmonize import harmonize_gwas as _run

    log.info("harmonizing GWAS %s (%s, %s)", row["trait"], row["path"], row["format"])
    res = _run(row["path"], fmt=row["format"], panel_variants=_panel_variants(panel_dir), out=out, qc_out=qc,
               trait=row["trait"], n=row.get("n"), colmap=gwas_colmap(row) if row["format"] == "table" else None,
               declared_build=row.get("build"), panel_build=build, **harmonize)
    _log_qc(res)
    return res


def harmonize_xqtl(row: Mapping[str, Any], panel_dir: str | Path, out_dir: str | Path, qc: str | Path,
                   harmonize: Mapping[str, Any], build: str) -> dict[str, Any]:
    """Rule ``harmonize_xqtl``: one xQTL sheet row → per-chromosome harmonized Parquet + QC JSON."""
    from .harmonize import harmonize_xqtl as _run

    log.info("harmonizing xQTL %s (%s, %s)", row["dataset"], row["path"], row["format"])
    res = _run(row["path"], fmt=row["format"], panel_variants=_panel_variants(panel_dir), out_dir=out_dir,
               qc_out=qc, dataset=row["dataset"], tissue=row["tissue"], qtl_type=row["qtl_type"], n=row.get("n"),
               gene_map=row.get("gene_map"), declared_build=row.get("build"), panel_build=build, **harmonize)
    _log_qc(res)
    return res


def _log_qc(qc: Mapping[str, Any]) -> None:
    log.info("kept %s of %s rows; dropped %s", qc.get("n_kept"), qc.get("n_input"), qc.get("dropped"))
    for w in qc.get("warnings", []):
        log.warning("%s", w)


def clump(gwas: str | Path, panel_dir: str | Path, out: str | Path, *, p1: float, p2: float, r2: float,
          kb: float, r2_method: str = "haplotype") -> Path:
    """Rule ``clump``: C+T on a harmonized GWAS (PLINK 1.9 semantics) → ``.clumped``."""
    from .clump import clump_panel, format_clumped, plink_maxsnp
    from .io.panel import Panel
    from .io.tables import write_text

    log.info("clumping %s (p1 %g, p2 %g, r2 %g, kb %g, %s r2)", gwas, p1, p2, r2, kb, r2_method)
    table = pd.read_parquet(gwas, columns=["variant_id", "p"])
    records, universe = clump_panel(table, Panel(panel_dir), p1=p1, p2=p2, r2=r2, kb=kb, r2_method=r2_method)
    write_text(format_clumped(records, plink_maxsnp(universe)), out)
    log.info("%d clumps from %d variants at p <= %g", len(records), int((table["p"] <= p1).sum()), p1)
    return Path(out)


def ld_blocks(panel_dir: str | Path, out_bed: str | Path, *, target_kb: float = 1500) -> pd.DataFrame:
    """Rule ``ld_blocks``: approximately independent LD blocks built from the panel → BED."""
    from .io.panel import Panel
    from .ldblocks import build_ld_blocks, write_blocks_bed

    blocks = build_ld_blocks(Panel(panel_dir), target_kb=target_kb)
    write_blocks_bed(blocks, out_bed)
    log.info("%d LD blocks written to %s", len(blocks), out_bed)
    return blocks


def loci(trait: str, clumped: str | Path, out_tsv: str | Path, *, loci_cfg: Mapping[str, Any],
         mhc: tuple[str, int, int], chunking: Mapping[str, Any], blocks: str | Path | None = None) -> pd.DataFrame:
    """Checkpoint ``loci``: windows around index variants → loci table with chunk ids."""
    from .loci import assign_chunks, define_loci, read_blocks_bed, read_clumped

    index = read_clumped(clumped)
    bl = read_blocks_bed(blocks) if blocks else None
    table, counts = define_loci(index, trait, radius_kb=loci_cfg["radius_kb"], mhc=mhc,
                                exclude_mhc=loci_cfg["exclude_mhc"], blocks=bl)
    table = assign_chunks(table, chunking["loci_per_chunk"], chunking["max_chunks"])
    write_tsv(table, out_tsv)
    log.info("%s: %d index variants (%d in the MHC dropped) → %d loci in %d chunks", trait,
             counts["index_variants"], counts["dropped_mhc"], len(table), table["chunk"].nunique())
    if table.empty:
        log.warning("%s: no locus (no variant at p <= %s after clumping)", trait, "clump.p1")
    return table


def locus_inputs(trait: str, loci_tsv: str | Path, chunk: str | None, gwas: str | Path,
                 xqtl_dirs: Mapping[str, str | Path], panel_dir: str | Path, out_dir: str | Path,
                 manifest: str | Path, log_dir: str | Path, locus_variants: Mapping[str, Any],
                 locus: str | None = None) -> dict[str, Any]:
    """Rule ``locus_inputs``: build the bundles of every locus in ``chunk`` (or the one ``locus``)."""
    from .io.panel import Panel
    from .ld import panel_ld
    from .locus import run_chunk
    from .loci import read_loci

    table = read_loci(loci_tsv)
    if locus is not None:
        table = table[table["locus_id"] == locus]
        if table.empty:
            raise InputError.at("no such locus", file=loci_tsv, column="locus_id", found=repr(locus))
    elif chunk is not None:
        table = table[table["chunk"] == chunk]
    pnl = Panel(panel_dir)
    log.info("%s: building %d locus bundles into %s", trait, len(table), out_dir)
    return run_chunk(table, out_dir, log_dir, manifest, gwas_path=gwas, xqtl_dirs=xqtl_dirs, panel=pnl,
                     ld=panel_ld, **locus_variants)
