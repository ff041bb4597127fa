"""Benchmark: harmonizing a 10-million-row GWAS-SSF ``.tsv.gz`` against a ~10-million-variant panel.

Target (brief): wall time <= 2x ``gzip -dc FILE > /dev/null`` on the same file, measured side by side in one
run (median of 3), and peak memory < 8 GB.

Usage::

    python benchmarks/bench_harmonize.py [--rows 10000000] [--workdir /tmp/bench_harmonize] [--reps 3] [--profile]

The synthetic data: 22 autosomes, positions spread over 2.5 Mb..250 Mb, random SNV allele pairs; the GWAS
has every panel variant except 3% (plus 3% of rows at positions the panel lacks), half of the rows with the
alleles swapped, 0.5% strand-flipped, values written like real files (beta/se 6 decimals, frequency 4,
p with 4 significant digits and binary noise), an rsid column, no n column (n from the sheet).
Each harmonization runs in a fresh Python process, which reports the time of the ``harmonize_gwas`` call, its
CPU time (user + system, all threads) and the process's peak RSS (the panel frame is read from Parquet before
the clock starts, as the rule does). The CPU times are reported because on a shared machine the wall-clock
ratio depends on the load: a process with several busy threads gets a larger share than single-threaded gzip.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

COMP = np.array([0, 4, 3, 2, 1], dtype=np.int8)  # A=1 C=2 G=3 T=4 -> complement
LETTERS = np.array(["", "A", "C", "G", "T"], dtype=object)


def make_data(rows: int, workdir: Path, seed: int = 1) -> tuple[Path, Path]:
    """Write ``panel.parquet`` (panel_variants layout) and ``gwas.tsv.gz`` (GWAS-SSF) into ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    panel_path, gwas_path = workdir / "panel.parquet", workdir / "gwas.tsv.gz"
    meta = workdir / "meta.json"
    if panel_path.exists() and gwas_path.exists() and meta.exists() and json.loads(meta.read_text())["rows"] == rows:
        return panel_path, gwas_path
    rng = np.random.default_rng(seed)
    per = rows // 22
    chrom = np.repeat(np.arange(1, 23), per)
    pos = np.concatenate([np.sort(rng.choice(np.arange(2_500_000, 250_000_000, 8), per, replace=False))
                          for _ in range(22)]).astype(np.int64)
    n = len(pos)
    a = rng.integers(1, 5, n)
    b = (a + rng.integers(1, 4, n) - 1) % 4 + 1  # a different base
    freq = np.round(rng.beta(0.6, 1.2, n).clip(0.001, 0.999), 4)
    chrom_s = pa.array(chrom.astype(str))
    other_s = pa.array(LETTERS[a].astype(str))
    counted_s = pa.array(LETTERS[b].astype(str))
    pos_s = pc.cast(pa.array(pos), pa.string())
    vid = pc.binary_join_element_wise(chrom_s, pos_s, other_s, counted_s, ":")
    rsid = pc.binary_join_element_wise(pa.scalar("rs"), pc.cast(pa.array(np.arange(n) + 1000), pa.string()), "")
    panel = pa.table({"variant_id": vid, "chrom": chrom_s, "pos": pa.array(pos), "other_allele": other_s,
                      "counted_allele": counted_s, "rsid": rsid, "counted_freq": pa.array(freq),
                      "n_called": pa.array(np.full(n, 489, dtype=np.int64)), "row": pa.array(np.arange(n))})
    pq.write_table(panel, panel_path, compression="zstd")

    # GWAS rows: 97% of panel variants + 3% at new positions, file sorted by chromosome and position
    keep = rng.random(n) >= 0.03
    g_chrom, g_pos, g_a, g_b, g_f = chrom[keep], pos[keep], a[keep], b[keep], freq[keep]
    m_new = n - int(keep.sum())
    new_chrom = rng.integers(1, 23, m_new)
    new_pos = rng.choice(np.arange(2_500_001, 250_000_000, 8), m_new) + 1  # never a panel position (odd offset)
    na = rng.integers(1, 5, m_new)
    nb = (na + rng.integers(1, 4, m_new) - 1) % 4 + 1
    g_chrom = np.concatenate([g_chrom, new_chrom])
    g_pos = np.concatenate([g_pos, new_pos])
    g_a = np.concatenate([g_a, na])
    g_b = np.concatenate([g_b, nb])
    g_f = np.concatenate([g_f, np.round(rng.uniform(0.01, 0.99, m_new), 4)])
    o = np.lexsort((g_pos, g_chrom))
    g_chrom, g_pos, g_a, g_b, g_f = g_chrom[o], g_pos[o], g_a[o], g_b[o], g_f[o]
    m = len(g_pos)
    swap = rng.random(m) < 0.5
    flip = rng.random(m) < 0.005
    ea = np.where(swap, g_a, g_b)  # effect = counted unless swapped
    oa = np.where(swap, g_b, g_a)
    ea = np.where(flip, COMP[ea], ea)
    oa = np.where(flip, COMP[oa], oa)
    eaf = np.round(np.where(swap, 1 - g_f, g_f), 4)
    beta = np.round(rng.normal(0, 0.02, m), 6)
    se = np.round(rng.uniform(0.003, 0.05, m), 6)
    from scipy.special import log_ndtr

    logp = np.log(2.0) + log_ndtr(-np.abs(beta / se))
    e = np.floor(logp / np.log(10))
    mant = np.round(np.exp(logp - e * np.log(10)), 3)
    p = mant * np.power(10.0, e)  # 4 significant digits with the binary noise real files carry
    table = pa.table({
        "chromosome": pa.array(g_chrom.astype(str)),
        "base_pair_location": pa.array(g_pos),
        "effect_allele": pa.array(LETTERS[ea].astype(str)),
        "other_allele": pa.array(LETTERS[oa].astype(str)),
        "beta": pa.array(beta),
        "standard_error": pa.array(se),
        "effect_allele_frequency": pa.array(eaf),
        "p_value": pa.array(p),
        "rsid": pc.binary_join_element_wise(pa.scalar("rs"), pc.cast(pa.array(np.arange(m) + 1000), pa.string()), ""),
    })
    raw = workdir / "gwas.tsv"
    with open(raw, "wb") as fh:
        fh.write(("\t".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none"))
    subprocess.run(["gzip", "-6", "-f", str(raw)], check=True)
    meta.write_text(json.dumps({"rows": rows, "gwas_rows": m}))
    return panel_path, gwas_path


_CHILD = r"""
import json, resource, sys, time
import pandas as pd
from twasflow.harmonize import harmonize_gwas
panel_path, gwas, out, qc_out, profile = sys.argv[1:6]
t0 = time.perf_counter()
panel = pd.read_parquet(panel_path)
t_panel = time.perf_counter() - t0
if profile == "1":
    # CPU seconds per thread and per function (time.thread_time around wrapped functions): the reader,
    # the matcher (main thread) and the Parquet writer run concurrently, so a wall-clock profile misleads
    import collections, functools
    from twasflow.harmonize import accumulate, codes, match, rows
    from twasflow.harmonize import gwas as hgwas  # `gwas` is the input path here
    cpu_of = collections.defaultdict(float)
    def wrap(owner, name, label=None):
        f = getattr(owner, name)
        @functools.wraps(f)
        def g(*a, **k):
            c0 = time.thread_time()
            try:
                return f(*a, **k)
            finally:
                cpu_of[label or name] += time.thread_time() - c0
        setattr(owner, name, g)
    # a function is wrapped in every module that calls it through its own global name (each call is counted
    # once: through the wrapper of the module it is called from)
    for name in ("row_qc", "match_to_panel", "_finalize", "_gwas_table", "chrom_codes", "allele_codes"):
        for m in (codes, match, rows, accumulate, hgwas):
            if hasattr(m, name):
                wrap(m, name)
    wrap(match.PanelIndex, "build", "PanelIndex.build (main)")
    wrap(hgwas._GwasStream, "push", "_GwasStream.push (main)")
    wrap(hgwas._RowGroupWriter, "_work", "writer thread (table build + Parquet encode)")
    wrap(accumulate._Prefetch, "_work", "reader thread (inflate + CSV parse + arrays)")
    for m in (accumulate, hgwas):
        wrap(m, "_consume", "_consume (main: row QC, matching, push)")
r0 = resource.getrusage(resource.RUSAGE_SELF)
c_main = time.thread_time()
t0 = time.perf_counter()
qc = harmonize_gwas(gwas, fmt="gwas-ssf", panel_variants=panel, out=out, qc_out=qc_out, n=100000,
                    declared_build="GRCh38", panel_build="GRCh38")
t = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
prof = ""
if profile == "1":
    prof = (f"wall {t:.2f} s, process CPU {cpu:.2f} s, main thread CPU {time.thread_time() - c_main:.2f} s; "
            "CPU seconds by part (nested parts overlap; pyarrow's own pool threads are in neither):\n")
    prof += "\n".join(f"  {k:55s} {v:6.2f}" for k, v in sorted(cpu_of.items(), key=lambda x: -x[1]))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps({"seconds": t, "cpu_seconds": cpu, "panel_read_seconds": t_panel, "peak_rss_gb": rss,
                  "n_input": qc["n_input"], "n_kept": qc["n_kept"], "dropped": qc["dropped"], "profile": prof}))
"""


def time_gzip(path: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of ``gzip -dc path > /dev/null``."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(f"gzip -dc '{path}' > /dev/null", shell=True, check=True)
    t = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return t, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def time_harmonize(panel: Path, gwas: Path, workdir: Path, profile: bool = False) -> dict:
    r = subprocess.run([sys.executable, "-c", _CHILD, str(panel), str(gwas), str(workdir / "out.parquet"),
                        str(workdir / "out.qc.json"), "1" if profile else "0"], check=True, capture_output=True,
                       text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench_harmonize"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="one extra run reporting CPU seconds per thread/part")
    a = ap.parse_args()
    t0 = time.perf_counter()
    panel, gwas = make_data(a.rows, a.workdir)
    print(f"data ready in {time.perf_counter() - t0:.1f} s: {gwas} ({gwas.stat().st_size / 1e6:.0f} MB), "
          f"{panel} ({panel.stat().st_size / 1e6:.0f} MB)", flush=True)
    gz, gzc, hz, res = [], [], [], []
    load0 = os.getloadavg()[0]
    for i in range(a.reps):
        g, gc = time_gzip(gwas)
        gz.append(g)
        gzc.append(gc)
        r = time_harmonize(panel, gwas, a.workdir)
        hz.append(r["seconds"])
        res.append(r)
        print(f"rep {i + 1}: gzip -dc {gz[-1]:.2f} s (CPU {gc:.2f} s), harmonize {hz[-1]:.2f} s "
              f"(CPU {r['cpu_seconds']:.2f} s), peak RSS {r['peak_rss_gb']:.2f} GB, kept {r['n_kept']} of "
              f"{r['n_input']}, load {os.getloadavg()[0]:.1f}", flush=True)
    mg, mh = statistics.median(gz), statistics.median(hz)
    mgc, mhc = statistics.median(gzc), statistics.median(r["cpu_seconds"] for r in res)
    summary = {"rows": res[0]["n_input"], "gzip_dc_median_s": round(mg, 2), "harmonize_median_s": round(mh, 2),
               "ratio": round(mh / mg, 2), "gzip_dc_cpu_median_s": round(mgc, 2),
               "harmonize_cpu_median_s": round(mhc, 2), "cpu_ratio": round(mhc / mgc, 2),
               "peak_rss_gb_max": round(max(r["peak_rss_gb"] for r in res), 2),
               "panel_read_s_median": round(statistics.median(r["panel_read_seconds"] for r in res), 2),
               "gzip_dc_s": [round(x, 2) for x in gz], "harmonize_s": [round(x, 2) for x in hz],
               "load_average_start_end": [round(load0, 2), round(os.getloadavg()[0], 2)],
               "dropped": res[0]["dropped"], "cpus": os.cpu_count()}
    print(json.dumps(summary))
    if a.profile:
        r = time_harmonize(panel, gwas, a.workdir, profile=True)
        print(r["profile"])


if __name__ == "__main__":
    main()
