"""Benchmark: dry-run DAG construction at genome-wide scale (issue #9: 45 traits × 300 loci × 3 methods < 60 s).

The per-locus rules hang off the ``loci`` checkpoint, so a dry run can only list them when every checkpoint
output exists and is up to date. This script builds a scratch run directory where that is so, without running
anything:

- ``resources/``: one small placeholder GWAS file per trait, one placeholder xQTL parquet per data set
  (``--datasets``, default 100 = 50 tissues × 2 QTL types, SPEC §6), a PLINK fileset name and a genes table —
  the config check only needs the paths to exist;
- ``results/``: every output upstream of the checkpoint (panel store, harmonized GWAS/xQTL + QC JSON, clumps)
  and the checkpoint's own ``results/loci/{trait}.tsv`` with ``--loci`` loci per trait dealt to chunks exactly
  as ``twasflow.loci`` does (``chunking.loci_per_chunk`` 25 → 12 chunks per trait); modification times are
  set layer by layer (inputs oldest, loci newest) so nothing upstream is out of date;
- ``config/config.yaml`` with ``methods: [tgvis, ctwas, tgfm]`` (every registered method).

The time reported is the wall and CPU time of the whole ``python -m snakemake -n`` process (interpreter start,
imports, parsing, config check, DAG), median of ``--runs``. ``--profile`` runs it once more under cProfile and prints the functions
with the largest cumulative and own time, and the time in the workflow's own input functions.

Usage::

    python benchmarks/bench_dag.py --run-dir /tmp/dag [--traits 45] [--loci 300] [--datasets 100] [--runs 3]
        [--profile]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from twasflow.layout import Layout
from twasflow.methods.registry import METHODS as REGISTERED

REPO = Path(__file__).resolve().parents[1]
METHODS = list(REGISTERED)  # every fine-mapping method



def _touch(path: Path, t: float, text: str | bytes = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    os.utime(path, (t, t))


def loci_table(trait: str, n_loci: int, loci_per_chunk: int, max_chunks: int) -> pd.DataFrame:
    """``n_loci`` 2-Mb loci spread over 22 chromosomes, chunk ids dealt as ``twasflow.loci`` deals them."""
    chrom = np.repeat(np.arange(1, 23), math.ceil(n_loci / 22))[:n_loci]
    k = np.concatenate([np.arange((chrom == c).sum()) for c in range(1, 23)])
    start = 5_000_000 + k * 4_000_000
    n_chunks = min(max_chunks, math.ceil(n_loci / loci_per_chunk))
    chunk = (np.arange(n_loci) * n_chunks) // n_loci
    return pd.DataFrame({
        "locus_id": [f"{trait}.{c}_{s}_{s + 2_000_000}" for c, s in zip(chrom, start)],
        "chrom": chrom, "start": start, "end": start + 2_000_000,
        "lead_variant": [f"{c}:{s + 1_000_000}:A:G" for c, s in zip(chrom, start)],
        "lead_p": 1e-10, "n_index_variants": 1, "chunk": [f"c{i:03d}" for i in chunk],
    })


def build(run: Path, n_traits: int, n_loci: int, n_datasets: int, loci_per_chunk: int, max_chunks: int) -> None:
    """Write the scratch run directory (see the module docstring)."""
    if run.exists():
        shutil.rmtree(run)
    run.mkdir(parents=True)
    for d in ("workflow", "scripts", "envs"):
        shutil.copytree(REPO / d, run / d)
    t0 = time.time() - 3600
    traits = [f"trait{i:02d}" for i in range(1, n_traits + 1)]
    tissues = [f"Tissue{i:02d}" for i in range(1, math.ceil(n_datasets / 2) + 1)]
    datasets = [(t, q) for t in tissues for q in ("eQTL", "sQTL")][:n_datasets]
    res = run / "resources"
    for t in traits:
        _touch(res / "gwas" / f"{t}.tsv.gz", t0)
    for t, q in datasets:
        _touch(res / "xqtl" / f"{t}.{q}.chr1.parquet", t0)
    for ext in ("bed", "bim", "fam"):
        _touch(res / "panel" / f"panel.{ext}", t0)
    _touch(res / "genes.tsv", t0, "gene_id\tgene_name\tchrom\tstart\tend\tstrand\ttss\tbiotype\n")
    cfg_dir = run / "config"
    cfg_dir.mkdir()
    pd.DataFrame({"trait": traits, "path": [f"resources/gwas/{t}.tsv.gz" for t in traits], "format": "gwas-ssf",
                  "n": "100000", "build": "GRCh38"}).to_csv(cfg_dir / "gwas.tsv", sep="\t", index=False)
    pd.DataFrame({"dataset": [f"{t}_{q}" for t, q in datasets], "tissue": [t for t, _ in datasets],
                  "qtl_type": [q for _, q in datasets],
                  "path": [f"resources/xqtl/{t}.{q}.chr{{chrom}}.parquet" for t, q in datasets],
                  "format": "gtex-parquet", "n": "300", "build": "GRCh38"}).to_csv(cfg_dir / "xqtl.tsv", sep="\t",
                                                                                     index=False)
    cfg = {"outdir": "results", "genome_build": "GRCh38", "gwas_sheet": "config/gwas.tsv",
           "xqtl_sheet": "config/xqtl.tsv", "simulate": {"enabled": False},
           "panel": {"bfile": "resources/panel/panel"}, "methods": METHODS,
           "chunking": {"loci_per_chunk": loci_per_chunk, "max_chunks": max_chunks},
           "enrichment": {"gene_annotation": "resources/genes.tsv"}}
    (cfg_dir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    out = run / "results"
    _touch(out / "panel" / "variants.parquet", t0 + 10)
    _touch(out / "panel" / "panel.json", t0 + 10, "{}")
    for t, q in datasets:
        d = out / "harmonized" / "xqtl" / f"{t}_{q}"
        _touch(d / "1.parquet", t0 + 20)
        os.utime(d, (t0 + 20, t0 + 20))
        _touch(out / "harmonized" / "xqtl" / f"{t}_{q}.qc.json", t0 + 20, "{}")
    for t in traits:
        _touch(out / "harmonized" / "gwas" / f"{t}.parquet", t0 + 20)
        _touch(out / "harmonized" / "gwas" / f"{t}.qc.json", t0 + 20, "{}")
        _touch(out / "clump" / f"{t}.clumped", t0 + 30)
        loci = loci_table(t, n_loci, loci_per_chunk, max_chunks)
        _touch(out / "loci" / f"{t}.tsv", t0 + 40, loci.to_csv(sep="\t", index=False))
    # a rule's benchmark file counts as one of its outputs: the upstream jobs' are there too (paths: Layout)
    lay = Layout("results")
    done = [(lay.benchmark("panel"), 10)] + [(lay.benchmark("harmonize_xqtl", f"{t}_{q}"), 20) for t, q in datasets]
    done += [(lay.benchmark(r, t), dt) for t in traits for r, dt in (("harmonize_gwas", 20), ("clump", 30),
                                                                       ("loci", 40))]
    for path, dt in done:
        _touch(run / path, t0 + dt, "s\n")


def snakemake_cmd(args: list[str]) -> list[str]:
    """The Snakemake command line (this interpreter's snakemake, so the package under test)."""
    return [sys.executable, "-m", "snakemake", *args]


def count_jobs(stdout: str) -> tuple[int, dict[str, int]]:
    """Total and per-rule job counts from the dry run's job-stats table."""
    per: dict[str, int] = {}
    total = 0
    in_table = False
    for line in stdout.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table and len(parts) == 2 and parts[1].isdigit():
            if parts[0] == "total":
                total = int(parts[1])
                break
            per[parts[0]] = int(parts[1])
    return total, per


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run-dir", type=Path, required=True)
    ap.add_argument("--traits", type=int, default=45)
    ap.add_argument("--loci", type=int, default=300)
    ap.add_argument("--datasets", type=int, default=100)
    ap.add_argument("--loci-per-chunk", type=int, default=25)
    ap.add_argument("--max-chunks", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--keep", action="store_true", help="reuse an existing run dir")
    a = ap.parse_args(argv)
    run = a.run_dir.resolve()
    if not (a.keep and (run / "results" / "loci").is_dir()):
        t = time.perf_counter()
        build(run, a.traits, a.loci, a.datasets, a.loci_per_chunk, a.max_chunks)
        print(f"built {run} in {time.perf_counter() - t:.1f} s", flush=True)
    # the scratch outputs have no provenance records (nothing ran): only their modification times say they are
    # up to date (Snakemake 9 otherwise reruns a job without metadata as if its code had changed)
    args = ["-n", "--cores", "2", "--quiet", "rules", "--rerun-triggers", "mtime"]
    times, cpus = [], []
    for i in range(a.runs):
        shutil.rmtree(run / ".snakemake", ignore_errors=True)
        up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run(snakemake_cmd(args), cwd=run, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU time (user + system) of the snakemake process: the fair number on a shared, loaded machine
        cpus.append((c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime))
        if r.returncode != 0:
            print(r.stdout[-3000:], r.stderr[-5000:])
            return 1
        total, per = count_jobs(r.stdout + r.stderr)
        print(f"run {i + 1}: wall {times[-1]:.2f} s, CPU {cpus[-1]:.2f} s, {total} jobs {per}; before: {up}",
              flush=True)
    up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"median wall {statistics.median(times):.2f} s, median CPU {statistics.median(cpus):.2f} s over "
          f"{a.runs} runs (wall {[round(x, 2) for x in times]}, CPU {[round(x, 2) for x in cpus]}); "
          f"{a.traits} traits x {a.loci} loci x {len(METHODS)} methods, {a.datasets} xQTL data sets; "
          f"{platform.node()}, {os.cpu_count()} cores; uptime: {up}")
    if a.profile:
        import pstats

        prof = run / "dag.prof"
        cmd = snakemake_cmd(args)
        cmd[1:1] = ["-m", "cProfile", "-o", str(prof)]
        shutil.rmtree(run / ".snakemake", ignore_errors=True)
        subprocess.run(cmd, cwd=run, capture_output=True, text=True, check=True)
        st = pstats.Stats(str(prof))
        st.sort_stats("cumulative").print_stats(35)
        st.sort_stats("tottime").print_stats(25)
        st.print_callers("chunks_of|targets|chunk_ids|expand_output|get\\b")
    return 0


if __name__ == "__main__":
    sys.exit(main())
