"""TGFM benchmarks: the speed target and a comparison against TGVIS on the paper's simulation design.

Usage (from the repository root; BLAS pinned to one thread):

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_tgfm.py speed --runs 3
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_tgfm.py profile
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_tgfm.py sim --reps 20 --n-eqtl 200
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_tgfm.py prior
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_tgfm.py limit --inputs /tmp/locus7.npz

``speed``: one locus with M = 1,000 variants and P = 500 pairs (coalescent LD; xQTL z of 500 pairs with 1-3
causal variants each, |effect| 0.25-0.5 SD, at n_eQTL = 400, stage-1 SuSiE L = 3 → posteriors; GWAS with 2 causal pairs and
one direct variant, n = 500,000), 100 draws, TGFM defaults (L = 10). The stage-1 fit is set-up, not timed.
Prints every run, the median, the variant-init rule's outcome and the load average.
``profile``: one run under cProfile with the process-time clock (top 25 by own time); ``--inputs`` profiles a
locus of ``bench_locus_numerics.py make`` (M = 1,000, 3,000 pairs) instead of the speed locus.
``limit``: the physical limit of TGFM on a ``bench_locus_numerics.py make`` locus: counts the rows the lockstep
IBSS multiplies by R (each 2 M^2 flops), measures this machine's one-thread dgemm rate in CPU time on the same
shape ((100 x M)(M x M), median of 20), and prints the flops, the floor they imply and the fit's CPU time.
``prior``: ``learn_tissue_prior`` on 1,000 synthetic loci (2,000 variants + 500 pairs over 49 tissues, L = 10
effects each, log Bayes factors ~ N(-25, 3) with three informative elements per effect), 100 bootstraps,
400 iterations (TGFM's defaults).
``sim``: per replicate of ``twasflow.simulate.tgvis_paper``, stage-1 → TGFM (``causal_rule=cs`` and the
TGVIS paper's 1/P, 1/M prior, as the paper's Figure 2 scored it) → ``score_replicate``; prints the averages.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from twasflow.methods import tgfm  # noqa: E402
from twasflow.weights import stage1  # noqa: E402


def speed_locus(seed: int = 7, M: int = 1000, P: int = 500, n_eqtl: float = 400.0):
    """(z, R, n, fits) of the speed locus (see the module docstring)."""
    from _common import sparse_weights, speed_ld, xqtl_z
    from twasflow.simulate.stats import gwas_z

    rng = np.random.default_rng(seed)
    n = 500_000.0
    R, gs = speed_ld(seed, M)
    # |effect| 0.25-0.5 SD: every pair keeps a stage-1 variant, so all P pairs enter the joint fit
    Btrue = sparse_weights(rng, M, P, signed_uniform=True)
    xz = xqtl_z(rng, R, Btrue, n_eqtl)
    _, fits = stage1(xz, R, n_eqtl)
    beta = 0.02 * (Btrue[:, 0] - Btrue[:, P - 1])
    beta[100] += 0.01
    z = gwas_z(gs, beta, n, rng)
    return z, R, n, fits


def run_speed(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    z, R, n, fits = speed_locus()
    eff = fits.effects()
    print(f"set-up {time.perf_counter() - t0:.1f} s: M={z.size}, P={len(fits)}, "
          f"{eff['effect_pair'].size} stage-1 effects, {int(fits.kept.any(axis=0).sum())} pairs with a kept variant")
    times, cpu = [], []
    for k in range(args.runs):
        t1, c1 = time.perf_counter(), time.process_time()
        res = tgfm.fit(z, R, n, fits, seed=k, n_draws=args.draws)
        times.append(time.perf_counter() - t1)
        cpu.append(time.process_time() - c1)
        loc = res.locus
        print(f"run {k + 1}: {times[-1]:.2f} s wall, {cpu[-1]:.2f} s CPU  variant_init_run={loc['variant_init_run']} "
              f"kept_variant_init={loc['n_variant_init_kept']} niter(median)={loc['niter']} sets={len(res.sets)} "
              f"top pairs={res.variables.iloc[:len(fits)].nlargest(2, 'pip')['name'].tolist()}")
    print(f"median {np.median(times):.2f} s wall, {np.median(cpu):.2f} s CPU over {args.runs} runs (M={z.size}, P={len(fits)}, {args.draws} draws, "
          f"L=10); load average {os.getloadavg()[0]:.2f}")


def _locus_file(path: str) -> tuple:
    """(z, R, n, effects) of a ``bench_locus_numerics.py make`` file (its TGFM inputs)."""
    d = dict(np.load(path))
    eff = {k: d[k] for k in ("effect_pair", "alpha", "mu", "mu2", "V")}
    eff["B"] = d["B"]
    return d["z"], d["R"], float(d["n"]), eff


def run_profile(args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    if args.inputs:
        z, R, n, fits = _locus_file(args.inputs)
        seed = 1
    else:
        z, R, n, fits = speed_locus()
        seed = 0
    pr = cProfile.Profile(time.process_time)
    c0 = time.process_time()
    pr.enable()
    tgfm.fit(z, R, n, fits, seed=seed, n_draws=args.draws)
    pr.disable()
    print(f"CPU {time.process_time() - c0:.2f} s (with the profiler); load average {os.getloadavg()[0]:.2f}")
    pstats.Stats(pr).sort_stats("tottime").print_stats(25)


def run_limit(args: argparse.Namespace) -> None:
    from twasflow.methods import _tgfm_ibss

    z, R, n, eff = _locus_file(args.inputs)
    M = R.shape[0]
    rows = [0]
    inner = _tgfm_ibss._rows_times_r

    def counted(Y, ay, mx, RR):
        rows[0] += Y.shape[0]
        return inner(Y, ay, mx, RR)

    _tgfm_ibss._rows_times_r = counted
    c0 = time.process_time()
    res = tgfm.fit(z, R, n, eff, seed=1, n_draws=args.draws)
    cpu = time.process_time() - c0
    _tgfm_ibss._rows_times_r = inner
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((100, M))
    Y @ R
    rates = []
    for _ in range(20):
        t = time.process_time()
        Y @ R
        rates.append(2.0 * 100 * M * M / max(time.process_time() - t, 1e-9) / 1e9)
    rate = float(np.median(rates))
    flops = 2.0 * rows[0] * M * M
    print(f"M={M}, {args.draws} draws, variant_init_run={res.locus['variant_init_run']}: {rows[0]:,} rows x R = "
          f"{flops / 1e9:.1f} GFLOP; dgemm (100 x {M})({M} x {M}) {rate:.1f} GFLOP/s CPU (median of 20) -> floor "
          f"{flops / 1e9 / rate:.2f} CPU s; fit {cpu:.2f} CPU s = {cpu / (flops / 1e9 / rate):.1f}x the floor; "
          f"load average {os.getloadavg()[0]:.2f}")


def run_prior(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    tissues = [f"T{t:02d}" for t in range(49)]
    loci = []
    for _ in range(args.loci):
        cls = ["variant"] * 2000 + list(rng.choice(tissues, 500))
        lbf = rng.normal(-25.0, 3.0, (10, len(cls)))
        for l in range(10):
            lbf[l, rng.choice(len(cls), 3)] = rng.uniform(0.0, 10.0, 3)
        loci.append((lbf, cls))
    t0, c0 = time.perf_counter(), time.process_time()
    tp = tgfm.learn_tissue_prior(loci, n_bootstraps=100, max_iter=400, seed=0)
    print(f"learn_tissue_prior: {args.loci} loci, 100 bootstraps, {tp.n_iter} iterations: "
          f"{time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU; "
          f"load average {os.getloadavg()[0]:.2f}")


def run_sim(args: argparse.Namespace) -> None:
    import pandas as pd

    from twasflow.methods import tgvis
    from twasflow.simulate.paper import SCENARIOS, score_replicate, tgvis_paper

    rows = []
    for scenario in SCENARIOS:
        for r in range(args.reps):
            rep = tgvis_paper(scenario, args.n_eqtl, seed=r)
            B, fits = stage1(rep.xqtl_z, rep.R, rep.xqtl_n)
            t0 = time.perf_counter()
            res = tgfm.fit(rep.z, rep.R, rep.n_gwas, fits, pair_names=rep.pair_names, seed=r,
                           causal_rule="cs", pair_prior_share="auto")
            m = score_replicate(rep, res)
            m.update(scenario=scenario, seed=r, method="tgfm", seconds=time.perf_counter() - t0)
            rows.append(m)
            t0 = time.perf_counter()
            rv = tgvis.fit(rep.z, rep.R, rep.n_gwas, B, pair_names=rep.pair_names)
            m = score_replicate(rep, rv)
            m.update(scenario=scenario, seed=r, method="tgvis", seconds=time.perf_counter() - t0)
            rows.append(m)
    df = pd.DataFrame(rows)
    cols = ["tnr", "tpr", "n_direct", "theta_mse", "seconds"]
    print(df.groupby(["scenario", "method"])[cols].mean().round(3).to_string())
    print(df.groupby("method")[cols].mean().round(3).to_string())
    if args.out:
        df.to_csv(args.out, sep="\t", index=False)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--runs", type=int, default=3)
    s.add_argument("--draws", type=int, default=100)
    p = sub.add_parser("profile")
    p.add_argument("--draws", type=int, default=100)
    p.add_argument("--inputs", default="", help="a bench_locus_numerics.py make file (default: the speed locus)")
    lim = sub.add_parser("limit")
    lim.add_argument("--inputs", required=True)
    lim.add_argument("--draws", type=int, default=100)
    q = sub.add_parser("prior")
    q.add_argument("--loci", type=int, default=1000)
    m = sub.add_parser("sim")
    m.add_argument("--reps", type=int, default=20)
    m.add_argument("--n-eqtl", type=int, default=200)
    m.add_argument("--out", default="")
    args = ap.parse_args(argv)
    {"speed": run_speed, "profile": run_profile, "sim": run_sim, "prior": run_prior, "limit": run_limit}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
