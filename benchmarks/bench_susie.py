"""Benchmark: twasflow.susie.susie_rss vs susieR 0.12.35 susie_rss on real 1000G EUR LD.

For each p (default 1000, 2000, 4000) the first p polymorphic variants of the chr12 20-21 Mb window
(489 people, 4557 variants) give R = cor(genotypes); z comes from a planted sparse model with 3 causal
variants and n = 50,000: ``z = sqrt(n) R b + e``, ``e ~ N(0, R)`` (drawn exactly as ``Xs' g / sqrt(N-1)`` with
``Xs`` the standardised genotypes and ``g ~ N(0, I_N)``). Both tools get the same R and z (float64 files in a
temp dir) and fit ``susie_rss(z, R, n=50000, L=10)``; only the fit call is timed (R: ``proc.time`` elapsed
around ``susie_rss``; Python: ``time.perf_counter``), each ``--runs`` times, median reported. The Python fits
run in a fresh subprocess per p whose first fit runs under ``tracemalloc`` (peak memory allocated by the fit,
input R excluded; also the growth of the max RSS), compared with three p x p float64 matrices.
``--threads1`` adds a second Python column with BLAS limited to one thread (Debian R uses the
single-threaded reference BLAS).

Usage::

    python benchmarks/bench_susie.py [--sizes 1000 2000 4000] [--runs 5] [--threads1] [--append]

``--append`` appends the markdown table to ``benchmarks/RESULTS.md`` under "SuSiE engine vs susieR".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BED = REPO.parent / "shared" / "data" / "genotypes" / "1000G.EUR.hg19.chr12_20-21Mb"
N_GWAS = 50_000
L = 10
SEED = 20250601
SECTION = "## SuSiE engine vs susieR"


def read_bed_dosage(prefix: Path) -> np.ndarray:
    """A1 dosage matrix (people x variants, float64) of a PLINK 1 SNP-major .bed; missing -> NaN."""
    n = sum(1 for _ in open(f"{prefix}.fam"))
    m = sum(1 for _ in open(f"{prefix}.bim"))
    raw = np.fromfile(f"{prefix}.bed", dtype=np.uint8)
    if raw[:3].tolist() != [0x6C, 0x1B, 0x01]:
        raise ValueError(f"{prefix}.bed: not a SNP-major PLINK 1 .bed")
    nb = (n + 3) // 4
    codes = np.unpackbits(raw[3:].reshape(m, nb)[:, :, None], axis=2, bitorder="little")
    codes = (codes[:, :, 0::2] + 2 * codes[:, :, 1::2]).reshape(m, nb * 4)[:, :n]
    # 2-bit codes: 0 = hom A1, 1 = missing, 2 = het, 3 = hom A2
    lut = np.array([2.0, np.nan, 1.0, 0.0])
    return lut[codes].T.copy()


def make_inputs(G: np.ndarray, p: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R (p x p), z (p,) and the 0-based causal indices for the first p variants of G."""
    X = G[:, :p]
    Xs = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    N = Xs.shape[0]
    R = (Xs.T @ Xs) / (N - 1)
    R = (R + R.T) / 2.0
    np.fill_diagonal(R, 1.0)
    causal = np.sort(rng.choice(p, size=3, replace=False))
    b = np.zeros(p)
    b[causal] = np.array([8.0, -7.0, 6.0]) / np.sqrt(N_GWAS)  # joint z-scale effects 8, -7, 6
    e = Xs.T @ rng.standard_normal(N) / np.sqrt(N - 1)
    z = np.sqrt(N_GWAS) * (R @ b) + e
    return R, z, causal


PY_CHILD = textwrap.dedent(
    """
    import json, os, sys, time, tracemalloc
    import numpy as np
    from twasflow.susie import susie_rss
    d, p, n, L, runs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    R = np.fromfile(f"{d}/R.f64", dtype="<f8").reshape(p, p)
    z = np.fromfile(f"{d}/z.f64", dtype="<f8")
    def status_kb(key):
        # VmHWM is this process's own high-water mark (getrusage's ru_maxrss survives exec, so it can
        # report the parent's peak)
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    rss_before_kb = status_kb("VmRSS")
    # memory first, in a fresh process: tracemalloc peak of the allocations made by one fit (numpy
    # buffers are traced), and the growth of the process high-water mark over the RSS before the fit
    tracemalloc.start()
    susie_rss(z=z, R=R, n=n, L=L)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_kb = status_kb("VmHWM")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fit = susie_rss(z=z, R=R, n=n, L=L)
        times.append(time.perf_counter() - t0)
    fit.pip.astype("<f8").tofile(f"{d}/py_pip.f64")
    print(json.dumps({"times": times, "niter": int(fit.niter), "converged": bool(fit.converged),
                      "n_cs": len(fit.sets), "peak_bytes": peak, "rss_before_kb": rss_before_kb,
                      "maxrss_kb": maxrss_kb}))
    """
)


def run_python(d: Path, p: int, runs: int, threads: int | None) -> dict:
    env = dict(os.environ)
    if threads is not None:
        for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(threads)
    out = subprocess.run([sys.executable, "-c", PY_CHILD, str(d), str(p), str(N_GWAS), str(L), str(runs)],
                         check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_r(d: Path, p: int, runs: int) -> dict:
    subprocess.run(["Rscript", str(HERE / "bench_susie.R"), str(d), str(p), str(N_GWAS), str(L), str(runs)],
                   check=True, capture_output=True, text=True)
    return json.loads((d / "r_result.json").read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads1", action="store_true", help="also time Python with 1 BLAS thread")
    ap.add_argument("--append", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    args.load_before = os.getloadavg()[0]

    G = read_bed_dosage(BED)
    poly = np.nanstd(G, axis=0) > 0
    G = G[:, poly]
    if np.isnan(G).any():
        raise SystemExit("missing genotypes in the benchmark panel; not expected for these files")
    rng = np.random.default_rng(SEED)
    rows = []
    for p in args.sizes:
        if p > G.shape[1]:
            raise SystemExit(f"p={p} exceeds the {G.shape[1]} polymorphic variants of {BED.name}")
        R, z, causal = make_inputs(G, p, rng)
        with tempfile.TemporaryDirectory(prefix=f"bench_susie_{p}_") as td:
            d = Path(td)
            np.ascontiguousarray(R).astype("<f8").tofile(d / "R.f64")
            z.astype("<f8").tofile(d / "z.f64")
            r = run_r(d, p, args.runs)
            py = run_python(d, p, args.runs, None)
            py1 = run_python(d, p, args.runs, 1) if args.threads1 else None
            pip_r = np.fromfile(d / "r_pip.f64", dtype="<f8")
            pip_py = np.fromfile(d / "py_pip.f64", dtype="<f8")
        row = {
            "p": p, "causal": causal.tolist(), "max_abs_z": float(np.abs(z).max()),
            "r_med": statistics.median(r["times"]), "r_times": r["times"],
            "py_med": statistics.median(py["times"]), "py_times": py["times"],
            "py1_med": statistics.median(py1["times"]) if py1 else None,
            "py1_times": py1["times"] if py1 else None,
            "peak_mb": py["peak_bytes"] / 2**20, "three_pp_mb": 3 * p * p * 8 / 2**20,
            "maxrss_mb": py["maxrss_kb"] / 1024,
            "rss_growth_mb": (py["maxrss_kb"] - py["rss_before_kb"]) / 1024,
            "niter_r": r["niter"], "niter_py": py["niter"], "ncs_r": r["n_cs"], "ncs_py": py["n_cs"],
            "max_dpip": float(np.max(np.abs(pip_r - pip_py))),
            "r_meta": {k: r[k] for k in ("susieR", "R", "blas", "rfast")},
        }
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "r_meta"}), flush=True)

    table = render(rows, args)
    print(table)
    if args.append:
        res = HERE / "RESULTS.md"
        prev = res.read_text() if res.exists() else "# Benchmark results\n"
        res.write_text(prev.rstrip("\n") + "\n\n" + table)
    return 0


def render(rows: list[dict], args: argparse.Namespace) -> str:
    meta = rows[0]["r_meta"]
    hdr = ["p", "susieR median s", "twasflow median s", "speedup"]
    if args.threads1:
        hdr += ["twasflow 1-thread s", "speedup 1-thread"]
    hdr += ["twasflow peak MB (tracemalloc)", "twasflow RSS growth MB", "3·p²·8 B (MB)",
            "niter susieR / twasflow",
            "CS susieR / twasflow", "max abs ΔPIP"]
    lines = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    for r in rows:
        cells = [str(r["p"]), f"{r['r_med']:.3f}", f"{r['py_med']:.3f}", f"{r['r_med'] / r['py_med']:.1f}×"]
        if args.threads1:
            cells += [f"{r['py1_med']:.3f}", f"{r['r_med'] / r['py1_med']:.1f}×"]
        cells += [f"{r['peak_mb']:.1f}", f"{r['rss_growth_mb']:.1f}", f"{r['three_pp_mb']:.1f}",
                  f"{r['niter_r']} / {r['niter_py']}",
                  f"{r['ncs_r']} / {r['ncs_py']}", f"{r['max_dpip']:.2e}"]
        lines.append("| " + " | ".join(cells) + " |")
    cmd = "python benchmarks/bench_susie.py " + " ".join(
        ["--sizes", *map(str, args.sizes), "--runs", str(args.runs)]
        + (["--threads1"] if args.threads1 else []) + (["--append"] if args.append else []))
    head = (
        f"{SECTION}\n\n"
        f"Run {time.strftime('%Y-%m-%d %H:%M %Z')} on this machine ({os.cpu_count()} cores, 24 GiB; "
        f"{platform.processor() or platform.machine()}), both tools in the same run on identical inputs; "
        f"1-min load average before / after: {args.load_before:.1f} / {os.getloadavg()[0]:.1f} "
        f"(other jobs share the machine).\n"
        f"`susie_rss(z, R, n={N_GWAS}, L={L})`; R = cor of the first p polymorphic variants of "
        f"`{BED.name}` (1000G EUR, 489 people; rank <= 488), z = sqrt(n)·R·b + N(0, R) with 3 planted causal "
        f"variants (seed {SEED}). Median of {args.runs} timed fits per tool and size (only the fit call is timed; "
        f"R: proc.time elapsed, Python: perf_counter). Memory: the first fit in a fresh Python process runs "
        f"under tracemalloc (peak of the allocations made by the fit; the input R, already loaded, is excluded); "
        f"RSS growth = process high-water RSS (VmHWM) after that fit minus RSS before it.\n"
        f"susieR {meta['susieR']} ({meta['R']}, BLAS {meta['blas']}, Rfast {'yes' if meta['rfast'] else 'no'}); "
        f"twasflow with numpy {np.__version__} (OpenBLAS, default threads"
        + (", and limited to 1 thread" if args.threads1 else "") + ").\n"
        f"Command: `{cmd}`\n\n"
    )
    extra = "\n".join(
        f"- p={r['p']}: susieR runs {', '.join(f'{t:.3f}' for t in r['r_times'])} s; twasflow runs "
        f"{', '.join(f'{t:.3f}' for t in r['py_times'])} s"
        + (f" (1 thread: {', '.join(f'{t:.3f}' for t in r['py1_times'])} s)" if r["py1_times"] else "")
        + f"; Python child max RSS {r['maxrss_mb']:.0f} MB "
        f"(incl. interpreter, numpy/scipy and the input R); "
        f"causal (0-based) {r['causal']}"
        for r in rows)
    return head + "\n".join(lines) + "\n\n" + extra + "\n"


if __name__ == "__main__":
    sys.exit(main())
