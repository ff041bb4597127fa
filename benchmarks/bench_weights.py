"""Benchmark: stage 1 (per-pair SuSiE-RSS, L = 3, + selection) and the S-PrediXcan prescreen for one locus.

Locus: M variants (default 1,000) = the first M polymorphic variants of the real 1000G EUR chr12 20-21 Mb
window (489 people) in ``../shared/data/genotypes``, R = their correlation. P pairs (default 1,000): each pair
has 1-3 planted causal xQTLs (85% of pairs; 15% are null), standardized effects scaled to h2 ~ U(0.02, 0.3),
xQTL n ~ U{200..700}; z = sqrt(n) R b + e with e ~ N(0, R) drawn exactly as ``Xs' g / sqrt(N - 1)``. 20% of
the pairs miss a random 5% of the variants (NaN, fitted on their own subsets). GWAS z: n = 300,000, three
causal pairs, z = sqrt(n) R Σ θ b + e.

Timed (median of ``--runs``), with ``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1`` set before numpy loads:
``twasflow.weights.stage1`` on all P pairs + ``twasflow.twas.prescreen_table``. Side by side in the same run,
on the first ``--ref-pairs`` pairs (default 100) only, extrapolated per pair: the single-fit engine
``twasflow.susie.susie_rss`` in a Python loop, and susieR 0.12.35 ``susie_rss`` in one Rscript session
(when Rscript + susieR are installed; loop timed inside R with ``proc.time``). ``--profile`` prints a cProfile
of one stage-1 run.

Usage::

    python benchmarks/bench_weights.py [--M 1000] [--P 1000] [--runs 3] [--ref-pairs 100] [--profile] [--append]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BED = REPO.parent / "shared" / "data" / "genotypes" / "1000G.EUR.hg19.chr12_20-21Mb"
SEED = 20250611
SECTION = "## Weights and prescreen"


def read_dosage(prefix: Path) -> np.ndarray:
    """A1 dosages (people x variants) of a SNP-major PLINK 1 .bed; missing → NaN."""
    n = sum(1 for _ in open(f"{prefix}.fam"))
    m = sum(1 for _ in open(f"{prefix}.bim"))
    raw = np.fromfile(f"{prefix}.bed", dtype=np.uint8)[3:].reshape(m, (n + 3) // 4)
    bits = np.unpackbits(raw[:, :, None], axis=2, bitorder="little")
    codes = (bits[:, :, 0::2] + 2 * bits[:, :, 1::2]).reshape(m, -1)[:, :n]
    return np.array([2.0, np.nan, 1.0, 0.0])[codes].T.copy()


def make_locus(M: int = 1000, P: int = 1000, seed: int = SEED) -> dict:
    """A benchmark locus: R (M x M), xQTL z (M x P, NaN = untested), n (P,), GWAS z (M,), truth."""
    rng = np.random.default_rng(seed)
    G = read_dosage(BED)
    G = np.where(np.isnan(G), np.nanmean(G, axis=0), G)
    G = G[:, G.std(axis=0) > 0][:, :M]
    Xs = (G - G.mean(axis=0)) / G.std(axis=0, ddof=1)
    N = Xs.shape[0]
    R = np.corrcoef(Xs, rowvar=False)
    n = rng.integers(200, 701, size=P).astype(float)
    Btrue = np.zeros((M, P))
    for j in range(P):
        if rng.random() < 0.15:
            continue
        k = rng.integers(1, 4)
        idx = rng.choice(M, size=k, replace=False)
        b = rng.standard_normal(k)
        h2 = rng.uniform(0.02, 0.3)
        b *= np.sqrt(h2 / (b @ R[np.ix_(idx, idx)] @ b))
        Btrue[idx, j] = b
    E = Xs.T @ rng.standard_normal((N, P)) / np.sqrt(N - 1)
    Z = np.sqrt(n) * (R @ Btrue) + E
    miss = rng.random(P) < 0.2
    mask = (rng.random((M, P)) < 0.05) & miss[None, :]
    Z[mask] = np.nan
    causal = rng.choice(np.flatnonzero(Btrue.any(axis=0)), size=3, replace=False)
    theta = np.zeros(P)
    theta[causal] = 0.04
    ngwas = 300_000
    zg = np.sqrt(ngwas) * (R @ (Btrue @ theta)) + Xs.T @ rng.standard_normal(N) / np.sqrt(N - 1)
    genes = [f"G{j // 4}" for j in range(P)]  # four pairs (tissues) per gene
    pairs = pd.DataFrame({"pair_id": [f"{g}|T{j % 4}|eQTL" for j, g in enumerate(genes)], "gene_id": genes})
    return {"R": R, "Z": Z, "n": n, "z": zg, "Btrue": Btrue, "causal": causal, "pairs": pairs}


def run_batch(loc: dict):
    from twasflow.twas import prescreen_table
    from twasflow.weights import stage1

    t0, c0 = time.perf_counter(), time.process_time()
    B, fits = stage1(loc["Z"], loc["R"], loc["n"], L=3)
    t1, c1 = time.perf_counter(), time.process_time()
    tab = prescreen_table("bench", loc["pairs"], loc["z"], loc["R"], B, p_max=0.05)
    t2, c2 = time.perf_counter(), time.process_time()
    return (t1 - t0, c1 - c0), (t2 - t1, c2 - c1), B, fits, tab


def time_reference_python(loc: dict, k: int) -> float:
    from twasflow.susie import susie_rss

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j in range(k):
            m = ~np.isnan(loc["Z"][:, j])
            susie_rss(z=loc["Z"][m, j], R=loc["R"][np.ix_(m, m)], n=float(loc["n"][j]), L=3)
    return (time.perf_counter() - t0) / k


R_SCRIPT = r"""
suppressMessages(library(susieR))
a <- commandArgs(TRUE)
M <- as.integer(a[2]); k <- as.integer(a[3])
R <- matrix(readBin(file.path(a[1], "R.bin"), "double", M * M), M, M)
Z <- matrix(readBin(file.path(a[1], "Z.bin"), "double", M * k), M, k)
n <- readBin(file.path(a[1], "n.bin"), "double", k)
t0 <- proc.time()[["elapsed"]]
for (j in seq_len(k)) {
  m <- !is.na(Z[, j])
  f <- suppressWarnings(susie_rss(z = Z[m, j], R = R[m, m, drop = FALSE], n = n[j], L = 3))
}
cat((proc.time()[["elapsed"]] - t0) / k, "\n")
"""


def time_reference_r(loc: dict, k: int) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    if subprocess.run(["Rscript", "-e", "library(susieR)"], capture_output=True).returncode != 0:
        return None
    with tempfile.TemporaryDirectory() as td:
        loc["R"].astype(np.float64).T.tofile(Path(td) / "R.bin")
        np.asfortranarray(loc["Z"][:, :k]).T.astype(np.float64).tofile(Path(td) / "Z.bin")
        loc["n"][:k].astype(np.float64).tofile(Path(td) / "n.bin")
        (Path(td) / "b.R").write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(Path(td) / "b.R"), td, str(loc["R"].shape[0]), str(k)],
                             capture_output=True, text=True, check=True)
        return float(out.stdout.split()[-1])


def recovery(loc: dict, fits) -> tuple[int, int]:
    """Planted causal xQTLs selected (kept) / planted, over all non-null pairs."""
    truth = loc["Btrue"] != 0
    return int(np.sum(truth & fits.kept)), int(truth.sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--M", type=int, default=1000)
    ap.add_argument("--P", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ref-pairs", type=int, default=100)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--append", action="store_true")
    args = ap.parse_args()
    loc = make_locus(args.M, args.P)
    run_batch(loc)  # warm-up (imports, page faults)
    t_s1, t_ps = [], []
    for _ in range(args.runs):
        a, b, B, fits, tab = run_batch(loc)
        t_s1.append(a)
        t_ps.append(b)
    if args.profile:
        import cProfile
        import pstats

        pr = cProfile.Profile()
        pr.enable()
        run_batch(loc)
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(15)
    # exactness on the reference subset: stage1 == susie_rss + the rule by hand
    from twasflow.susie import susie_rss
    from twasflow.weights import select_rule

    k0 = min(args.ref_pairs, args.P)
    max_dw, n_sel_diff = 0.0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j in range(k0):
            m = ~np.isnan(loc["Z"][:, j])
            f = susie_rss(z=loc["Z"][m, j], R=loc["R"][np.ix_(m, m)], n=float(loc["n"][j]), L=3)
            cs = np.zeros(int(m.sum()), dtype=bool)
            for st_ in f.sets:
                cs[st_.variables] = True
            kk = select_rule(f.pip, cs)
            n_sel_diff += int(np.sum(kk != fits.kept[m, j]))
            max_dw = max(max_dw, float(np.max(np.abs(np.where(kk, f.posterior_mean(), 0.0) - B[m, j]))))
    k = min(args.ref_pairs, args.P)
    ref_py = time_reference_python(loc, k)
    ref_r = time_reference_r(loc, k)
    rec, npl = recovery(loc, fits)
    st = pd.Series(fits.status).value_counts().to_dict()
    causal_kept = tab.kept.to_numpy()[loc["causal"]]
    s1, ps = statistics.median(t[0] for t in t_s1), statistics.median(t[0] for t in t_ps)
    s1c, psc = statistics.median(t[1] for t in t_s1), statistics.median(t[1] for t in t_ps)
    load = os.getloadavg()[0]
    lines = [
        "",
        SECTION,
        "",
        f"Locus: M = {args.M} variants (real 1000G EUR LD, chr12 20-21 Mb), P = {args.P} pairs (1-3 planted "
        f"xQTLs per non-null pair, 20% of pairs with 5% untested variants); machine: {os.cpu_count()} cores / "
        f"24 GiB, {platform.processor() or platform.machine()}, one BLAS thread, 1-min load average {load:.1f} "
        f"at the end (other jobs were running).",
        f"Command: `OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_weights.py --M {args.M} "
        f"--P {args.P} --runs {args.runs} --ref-pairs {k}`",
        "",
        "| step | median wall s (of %d) | median CPU s | wall per pair ms |" % args.runs,
        "|---|---|---|---|",
        f"| `weights.stage1` (all {args.P} pairs, L = 3, + selection) | {s1:.2f} | {s1c:.2f} | "
        f"{1e3 * s1 / args.P:.2f} |",
        f"| `twas.prescreen_table` | {ps:.3f} | {psc:.3f} | {1e3 * ps / args.P:.3f} |",
        f"| **stage 1 + prescreen** | **{s1 + ps:.2f}** | {s1c + psc:.2f} | {1e3 * (s1 + ps) / args.P:.2f} |",
        f"| reference: `twasflow.susie.susie_rss` per pair, Python loop ({k} pairs) | {ref_py * args.P:.1f} "
        f"(extrapolated) | | {1e3 * ref_py:.1f} |",
    ]
    if ref_r is not None:
        lines.append(f"| reference: susieR 0.12.35 `susie_rss` per pair, R loop ({k} pairs) | {ref_r * args.P:.1f} "
                     f"(extrapolated) | | {1e3 * ref_r:.1f} |")
    lines += [
        "",
        f"Same {k0} pairs, stage1 vs `susie_rss` + the rule by hand: {n_sel_diff} selection differences, "
        f"max |Δ weight| {max_dw:.1e}.",
        f"Planted causal xQTLs selected: {rec} of {npl} ({100 * rec / max(npl, 1):.0f}%; real LD is not pruned "
        f"here, so PIP splits over near-identical variants); pair status: {st}; "
        f"pairs kept by the prescreen (p <= 0.05): {int(tab.kept.sum())}; the 3 GWAS-causal pairs kept: "
        f"{causal_kept.tolist()}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        with open(HERE / "RESULTS.md", "a") as fh:
            fh.write(text)


if __name__ == "__main__":
    sys.exit(main())
