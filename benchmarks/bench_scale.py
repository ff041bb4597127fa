"""Benchmark: the whole workflow on a synthetic genome-wide data set, run locally (issue #9, "Scale benchmark").

Steps:

1. ``twasflow.simulate.genome.make_genome`` writes the data (default: 22 autosomes, 200 slots ≈ 150 loci per
   trait, 20 eQTL tissues + 2 sQTL tissues, two traits) into ``RUN/resources/genome`` (skipped when its
   manifest already matches the requested parameters);
2. a scratch copy of ``workflow/ scripts/ envs/`` goes to ``RUN`` with a config pointing at that data
   (``simulate.enabled: false``, the SPEC's default chunking of 25 loci per chunk, ``methods`` as given);
3. ``snakemake --cores N`` runs under ``/usr/bin/time -v`` (wall time and the peak RSS of the largest single
   process); every rule's ``benchmark:`` file under ``RUN/benchmarks/rules`` gives per-job wall time and max RSS;
4. a Markdown summary (jobs per rule, wall time per rule: sum / median / max, peak RSS per rule, loci,
   failed loci) is printed and written to ``RUN/scale_summary.md`` (+ ``scale_summary.json``).

It is a benchmark, not a test: the full run takes tens of minutes on 2 cores and is run once.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_scale.py --run-dir /tmp/scale [--n-slots 200] [--cores 2]
        [--chroms 1 2 ...] [--methods tgvis] [--loci-per-chunk 25] [--summarize-only]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path("resources/genome")
# the package next to this script, also for the workflow's jobs (run it from a snapshot, e.g. `git archive`,
# so edits in the working tree during a long run cannot change the code under test)
sys.path.insert(0, str(REPO / "src"))
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def generate(run: Path, seed: int, params: dict) -> float:
    """Write the synthetic data under ``run/resources/genome``; returns seconds (0 when reused)."""
    from twasflow.simulate.genome import GenomeParams, make_genome

    out = run / DATA
    man = out / "manifest.json"
    want = GenomeParams(**params).to_json()
    if man.is_file():
        m = json.loads(man.read_text())
        if m["seed"] == seed and m["params"] == json.loads(json.dumps(want)):
            return 0.0
    t0 = time.perf_counter()
    make_genome(out, seed=seed, **params)
    return time.perf_counter() - t0


def write_config(run: Path, methods: list[str], loci_per_chunk: int) -> None:
    """Copy the workflow into ``run`` and write its config and sheets for the genome data."""
    for d in ("workflow", "scripts", "envs"):
        if (run / d).exists():
            shutil.rmtree(run / d)
        shutil.copytree(REPO / d, run / d)
    cfg_dir = run / "config"
    cfg_dir.mkdir(exist_ok=True)
    for sheet in ("gwas", "xqtl"):
        df = pd.read_csv(run / DATA / f"{sheet}.tsv", sep="\t", dtype=str, keep_default_na=False)
        df["path"] = [str(DATA / p) for p in df["path"]]
        df.to_csv(cfg_dir / f"{sheet}.tsv", sep="\t", index=False)
    cfg = {
        "outdir": "results",
        "genome_build": "GRCh38",
        "gwas_sheet": "config/gwas.tsv",
        "xqtl_sheet": "config/xqtl.tsv",
        "seed": 1,
        "simulate": {"enabled": False},
        "panel": {"bfile": str(DATA / "panel" / "genome"), "maf_min": 0.01},
        "methods": methods,
        "chunking": {"loci_per_chunk": loci_per_chunk, "max_chunks": 200},
        "enrichment": {"gene_annotation": str(DATA / "genes.tsv")},
        "resources": {"default": {"mem_mb": 2000, "runtime": 60, "threads": 1}},
    }
    (cfg_dir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def run_workflow(run: Path, cores: int) -> dict:
    """``snakemake --cores`` under ``/usr/bin/time -v``; returns wall seconds, peak RSS and exit status."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--rerun-incomplete"]
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    t0 = time.perf_counter()
    with open(run / "snakemake.out", "w") as out, open(run / "snakemake.err", "w") as err:
        r = subprocess.run(timer + cmd, cwd=run, stdout=out, stderr=err, env=ENV)
    wall = time.perf_counter() - t0
    text = (run / "snakemake.err").read_text()
    return {"returncode": r.returncode, "wall_s": wall, **time_v(text), "command": " ".join(cmd), "code": str(REPO)}


def time_v(text: str) -> dict:
    """Peak RSS of the largest process and total CPU (user + system, every waited-for job included) from
    ``/usr/bin/time -v`` output."""
    out: dict = {}
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    out["snakemake_max_rss_mb"] = int(m.group(1)) / 1024 if m else None
    u = re.search(r"User time \(seconds\): ([\d.]+)", text)
    sy = re.search(r"System time \(seconds\): ([\d.]+)", text)
    out["total_cpu_s"] = float(u.group(1)) + float(sy.group(1)) if u and sy else None
    return out


def rule_table(run: Path) -> pd.DataFrame:
    """One row per job from the ``benchmark:`` files: rule, wildcards path, seconds, max_rss (MB)."""
    rows = []
    root = run / "benchmarks" / "rules"
    for f in sorted(root.rglob("*.tsv")):
        rel = f.relative_to(root)
        rule = rel.parts[0].removesuffix(".tsv")
        b = pd.read_csv(f, sep="\t")
        last = b.iloc[-1]
        rss = pd.to_numeric(pd.Series([last.get("max_rss")]), errors="coerce").iloc[0]
        rows.append({"rule": rule, "job": str(rel.with_suffix("")), "s": float(last["s"]), "max_rss_mb": rss,
                     "cpu_time": float(last.get("cpu_time", float("nan")))})
    return pd.DataFrame(rows)


def loci_counts(run: Path) -> dict:
    """Loci per trait, chunks per trait, and locus status counts of the fine-mapping output."""
    out: dict = {"loci": {}, "chunks": {}, "status": {}}
    for f in sorted((run / "results" / "loci").glob("*.tsv")):
        df = pd.read_csv(f, sep="\t")
        out["loci"][f.stem] = int(len(df))
        out["chunks"][f.stem] = int(df["chunk"].nunique())
    fl = sorted((run / "results" / "finemap").rglob("*.loci.parquet"))
    if fl:
        st = pd.concat([pd.read_parquet(f, columns=["method", "status", "M", "P"]) for f in fl])
        out["status"] = {f"{m}:{s}": int(n) for (m, s), n in st.groupby(["method", "status"]).size().items()}
        out["M_median"] = float(st["M"].median())
        out["M_max"] = int(st["M"].max())
        out["P_median"] = float(st["P"].median())
        out["P_max"] = int(st["P"].max())
    bl = sorted((run / "results" / "locus_inputs").rglob("manifest.json"))
    pairs = [r["P"] for f in bl for r in json.loads(f.read_text())["loci"] if r.get("P") is not None]
    if pairs:
        out["bundle_P_median"] = float(pd.Series(pairs).median())
        out["bundle_P_max"] = int(max(pairs))
    return out


def summarize(run: Path, info: dict) -> str:
    jobs = rule_table(run)
    per = jobs.groupby("rule").agg(jobs=("s", "size"), wall_sum_s=("s", "sum"), wall_median_s=("s", "median"),
                                   wall_max_s=("s", "max"), cpu_sum_s=("cpu_time", "sum"),
                                   max_rss_mb=("max_rss_mb", "max"))
    per = per.sort_values("wall_sum_s", ascending=False)
    lc = loci_counts(run)
    err = run / "snakemake.err"
    if info.get("total_cpu_s") is None and err.exists():
        info.update(time_v(err.read_text()))
    info = {**info, "jobs_total": int(len(jobs)), "job_wall_sum_s": float(jobs["s"].sum()),
            "job_cpu_sum_s": float(jobs["cpu_time"].sum()),
            "peak_job_rss_mb": float(jobs["max_rss_mb"].max()), **lc,
            "per_rule": per.reset_index().to_dict("records")}
    (run / "scale_summary.json").write_text(json.dumps(info, indent=1, sort_keys=True, default=float))
    lines = [
        f"- run dir `{run}`; {platform.node()} {platform.machine()}, {os.cpu_count()} cores; "
        f"uptime before: `{info.get('uptime_before', '?')}`; after: `{info.get('uptime_after', '?')}`",
        f"- data generation: {info.get('generate_s', 0):.0f} s; workflow wall time **{info['wall_s'] / 60:.1f} min** "
        f"(exit {info['returncode']}); jobs run: **{info['jobs_total']}**; sum of job wall times "
        f"{info['job_wall_sum_s'] / 60:.1f} min",
        f"- CPU time of the whole run (`/usr/bin/time -v` user + system, all jobs and Snakemake): "
        f"**{(info.get('total_cpu_s') or float('nan')) / 60:.1f} min**, i.e. at least "
        f"{(info.get('total_cpu_s') or float('nan')) / 120:.1f} min of wall time on 2 idle cores; sum of the jobs' "
        f"sampled `cpu_time` {info['job_cpu_sum_s'] / 60:.1f} min (Snakemake samples it periodically, so short "
        f"jobs are undercounted; the per-rule CPU column below uses it)",
        f"- peak memory: largest single job max RSS **{info['peak_job_rss_mb']:.0f} MB**; snakemake's own process "
        f"(`/usr/bin/time -v`, the largest process of the tree) {info.get('snakemake_max_rss_mb') or float('nan'):.0f} MB",
        f"- loci per trait {lc['loci']}, chunks per trait {lc['chunks']}; locus status {lc.get('status')}; "
        f"fine-mapped M median {lc.get('M_median')} (max {lc.get('M_max')}), pairs given to the method P median "
        f"{lc.get('P_median')} (max {lc.get('P_max')}); bundle pairs median {lc.get('bundle_P_median')} "
        f"(max {lc.get('bundle_P_max')})",
        "",
        "| rule | jobs | wall sum (s) | wall median (s) | wall max (s) | CPU sum (s) | max RSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule, r in per.iterrows():
        lines.append(f"| {rule} | {int(r.jobs)} | {r.wall_sum_s:.1f} | {r.wall_median_s:.1f} | {r.wall_max_s:.1f} | "
                     f"{r.cpu_sum_s:.1f} | {r.max_rss_mb:.0f} |")
    text = "\n".join(lines) + "\n"
    (run / "scale_summary.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run-dir", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=20250901)
    ap.add_argument("--n-slots", type=int, default=200)
    ap.add_argument("--chroms", nargs="*", default=None)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--methods", nargs="+", default=["tgvis"])
    ap.add_argument("--loci-per-chunk", type=int, default=25)
    ap.add_argument("--summarize-only", action="store_true", help="only summarize an existing run")
    a = ap.parse_args(argv)
    run = a.run_dir.resolve()
    run.mkdir(parents=True, exist_ok=True)
    params: dict = {"n_slots": a.n_slots}
    if a.chroms:
        params["chroms"] = tuple(a.chroms)
    if a.summarize_only:
        info = json.loads((run / "scale_summary.json").read_text()) if (run / "scale_summary.json").exists() else {}
        print(summarize(run, info))
        return 0
    info: dict = {"uptime_before": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}
    info["generate_s"] = generate(run, a.seed, params)
    write_config(run, a.methods, a.loci_per_chunk)
    info.update(run_workflow(run, a.cores))
    info["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    info["params"] = params
    print(summarize(run, info))
    return int(info["returncode"] != 0)


if __name__ == "__main__":
    sys.exit(main())
