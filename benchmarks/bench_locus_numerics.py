"""Per-locus numerics at real scale (issue 17): stage 1, TGVIS, cTWAS and TGFM at M = 1,000 variants.

Usage (from the repository root; BLAS pinned to one thread):

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_locus_numerics.py make --out /tmp/locus.npz
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_locus_numerics.py run stage1 --inputs /tmp/locus.npz \
        --save /tmp/new_stage1.npz
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_locus_numerics.py run tgvis|ctwas|tgfm --inputs /tmp/locus.npz
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_locus_numerics.py run coloc --coloc-pairs 50 --inputs /tmp/locus.npz
    python benchmarks/bench_locus_numerics.py compare /tmp/old_tgvis.npz /tmp/new_tgvis.npz
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_locus_numerics.py dgemm

``make``: one locus from the project's coalescent simulator (``twasflow.simulate.paper._genotypes``: msprime
haplotypes, 2,500 people, M = 1,000 variants with MAF > 0.02 over 1.5 Mb; R from 500 of them). xQTL z of
``--pairs-stage1`` (10,000) pairs, each with 1–3 causal variants of |effect| 0.25–0.5 SD at GTEx sample sizes
(70–706), drawn as ``z ~ N(sqrt(n) R b, R)``; stage 1 on the first ``--pairs`` (3,000) of them gives the
weights B and the posteriors TGFM samples from; GWAS z (n = 500,000) with 2 causal pairs, one direct variant
and a small infinitesimal component. The set-up itself is not timed.

``run``: loads the inputs, times one call of the method (wall, CPU, peak RSS of the process) and optionally
saves its main outputs (``--save``) for ``compare``. Run it with ``PYTHONPATH=/work/main/src`` (or any
other checkout's ``src``) to time another version of the code on the same inputs.

``run coloc``: ``twasflow.coloc.coloc_locus`` (GWAS clumped at p < 5e-5, r2 < 0.81; coloc-SuSiE with L = 10 on
both traits plus coloc-ABF) for the first ``--coloc-pairs`` xQTL pairs of the stage-1 set, as rule ``coloc``
runs it per locus on the pairs the methods call causal or the prescreen keeps.

``dgemm``: the machine's measured double-precision matrix-multiply rate (one thread), for the ratio to the
physical limit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def make(args: argparse.Namespace) -> None:
    from _common import sparse_weights, speed_ld, xqtl_z
    from twasflow.simulate.stats import gwas_z
    from twasflow.weights import stage1

    rng = np.random.default_rng(args.seed)
    M, P1, P = args.M, args.pairs_stage1, args.pairs
    R, gs = speed_ld(args.seed, M)
    Btrue = sparse_weights(rng, M, P1, signed_uniform=True)
    n_x = rng.integers(70, 707, size=P1).astype(float)
    Z = xqtl_z(rng, R, Btrue, n_x)
    t0 = time.perf_counter()
    B, fits = stage1(Z[:, :P], R, n_x[:P])
    eff = fits.effects()
    beta = 0.02 * (Btrue[:, 0] - Btrue[:, P - 1])
    beta[100] += 0.01
    beta += rng.normal(0, np.sqrt(3e-4 / M), M)
    z = gwas_z(gs, beta, 500_000.0, rng)
    np.savez(args.out, R=R, Z=Z, n_x=n_x, B=B, z=z, n=500_000.0,
             effect_pair=eff["effect_pair"], alpha=eff["alpha"], mu=eff["mu"], mu2=eff["mu2"], V=eff["V"])
    print(f"wrote {args.out}: M={M}, stage-1 pairs {P1}, method pairs {P} ({int((B != 0).any(axis=0).sum())} with "
          f"weights, {np.count_nonzero(B)} non-zero weights), {eff['effect_pair'].size} stage-1 effects "
          f"(stage 1 on {P} pairs: {time.perf_counter() - t0:.1f} s)")


def _groups(P: int) -> list[str]:
    return [f"tissue{j % 5}|{'eQTL' if j % 2 == 0 else 'sQTL'}" for j in range(P)]


def run(args: argparse.Namespace) -> None:
    import twasflow
    from twasflow.methods import ctwas, tgfm, tgvis
    from twasflow.weights import stage1

    d = dict(np.load(args.inputs))
    R, z, n, B = d["R"], d["z"], float(d["n"]), d["B"]
    out: dict[str, np.ndarray] = {}
    groups = _groups(B.shape[1])
    pri = {"group_prior": {**{g: 0.01 for g in set(groups)}, "SNP": 1e-4},
           "group_prior_var": {**{g: 30.0 for g in set(groups)}, "SNP": 30.0}}
    eff = {k: d[k] for k in ("effect_pair", "alpha", "mu", "mu2", "V")}
    eff["B"] = B
    t0, c0 = time.perf_counter(), time.process_time()
    if args.method == "stage1":
        P1 = args.pairs or d["Z"].shape[1]
        Bs, fits = stage1(d["Z"][:, :P1], R, d["n_x"][:P1])
        out = {"B": Bs, "pip": fits.pip, "V": fits.V, "niter": fits.niter}
        info = f"P={P1}, kept pairs {int(fits.kept.any(axis=0).sum())}"
    elif args.method == "tgvis":
        res = tgvis.fit(z, R, n, B)
        out = {"pip": res.variables["pip"].to_numpy(float), "pm": res.variables["posterior_mean"].to_numpy(float)}
        info = f"L={res.L}, sets={len(res.sets)}, niter={res.locus['niter']}"
    elif args.method == "ctwas":
        res = ctwas.fit(z, R, n, B, groups, pri)
        out = {"pip": res.variables["pip"].to_numpy(float), "pm": res.variables["posterior_mean"].to_numpy(float)}
        info = f"sets={len(res.sets)}, niter={res.locus['niter']}"
    elif args.method == "coloc":
        from twasflow.coloc import coloc_locus
        K = args.coloc_pairs
        Zx, nx = d["Z"][:, :K], d["n_x"][:K]
        M = R.shape[0]
        tab = coloc_locus(z, n, R, Zx, nx, [f"pair{j}" for j in range(K)], [f"v{m}" for m in range(M)])
        out = {"pp4": tab["PP.H4"].to_numpy(float), "abf_pp4": tab["abf_PP.H4"].to_numpy(float),
               "nsnps": tab["nsnps"].to_numpy(float)}
        info = (f"pairs={K}, variants used per pair (median) {int(np.median(tab['nsnps']))}, "
                f"colocalized {int(tab['colocalized'].sum())}")
    elif args.method == "tgfm":
        res = tgfm.fit(z, R, n, eff, seed=1, n_draws=args.draws)
        out = {"pip": res.variables["pip"].to_numpy(float), "pm": res.variables["posterior_mean"].to_numpy(float)}
        info = (f"draws={args.draws}, variant_init_run={res.locus['variant_init_run']}, "
                f"niter(median)={res.locus['niter']}, sets={len(res.sets)}")
    else:
        sys.exit(f"unknown method {args.method}")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"method": args.method, "code": os.path.dirname(twasflow.__file__), "wall_s": round(wall, 3),
                      "cpu_s": round(cpu, 3), "peak_rss_mb": round(rss, 1), "info": info,
                      "load": round(os.getloadavg()[0], 1)}))
    if args.save:
        np.savez(args.save, **out)


def compare(args: argparse.Namespace) -> None:
    a, b = np.load(args.a), np.load(args.b)
    for k in a.files:
        x, y = a[k].astype(float), b[k].astype(float)
        both = np.isfinite(x) & np.isfinite(y)
        same_nan = bool(np.array_equal(np.isfinite(x), np.isfinite(y)))
        diff = float(np.max(np.abs(x[both] - y[both]))) if both.any() else 0.0
        print(f"{k}: shape {x.shape}, max |diff| {diff:.3g}, same NaN pattern {same_nan}")


def dgemm(args: argparse.Namespace) -> None:
    n = 1000
    rng = np.random.default_rng(0)
    A, Bm = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    A @ Bm
    rates = []
    for _ in range(5):
        t0 = time.perf_counter()
        A @ Bm
        rates.append(2.0 * n**3 / (time.perf_counter() - t0) / 1e9)
    x = rng.standard_normal(n)
    t0 = time.perf_counter()
    for _ in range(200):
        A @ x
    gemv = 200 * 2.0 * n * n / (time.perf_counter() - t0) / 1e9
    # per CPU second (on a loaded machine the wall clock also counts the time the process waits for a core)
    c0 = time.process_time()
    for _ in range(5):
        A @ Bm
    cpu_rate = 5 * 2.0 * n**3 / (time.process_time() - c0) / 1e9
    c0 = time.process_time()
    for _ in range(20):
        np.exp(A)
    exp_ns = (time.process_time() - c0) / (20 * n * n) * 1e9
    print(f"dgemm {n}^3: median {np.median(rates):.2f} GFLOP/s (max {max(rates):.2f}), {cpu_rate:.1f} GFLOP/CPU-s; "
          f"dgemv {n}^2: {gemv:.2f} GFLOP/s; float64 exp: {exp_ns:.2f} CPU-ns each; "
          f"load {os.getloadavg()[0]:.1f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    m.add_argument("--M", type=int, default=1000)
    m.add_argument("--pairs-stage1", type=int, default=10_000)
    m.add_argument("--pairs", type=int, default=3000)
    m.add_argument("--seed", type=int, default=7)
    r = sub.add_parser("run")
    r.add_argument("method", choices=("stage1", "tgvis", "ctwas", "tgfm", "coloc"))
    r.add_argument("--inputs", required=True)
    r.add_argument("--pairs", type=int, default=0, help="stage1: the first P pairs (default all)")
    r.add_argument("--draws", type=int, default=100)
    r.add_argument("--coloc-pairs", type=int, default=50, help="coloc: the first K pairs (coloc-SuSiE + ABF)")
    r.add_argument("--save", default="")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    sub.add_parser("dgemm")
    args = ap.parse_args(argv)
    {"make": make, "run": run, "compare": compare, "dgemm": dgemm}[args.cmd](args)


if __name__ == "__main__":
    main()
