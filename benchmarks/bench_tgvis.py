"""TGVIS benchmarks: the paper's simulation design (Figure 2 metrics) and the speed target.

Usage (from the repository root; BLAS is pinned to one thread per worker):

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_tgvis.py sim --reps 100 --n-eqtl 200 --workers 2 \
        --out benchmarks/tgvis_sim.tsv
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_tgvis.py falsepairs --reps 100 --scenarios none inf
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_tgvis.py speed --runs 5
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_tgvis.py example --run-dir /tmp/exg   # after `snakemake` there

``sim``: per replicate, ``twasflow.simulate.tgvis_paper`` → stage-1 weights (``twasflow.weights.stage1``
on the reference LD, L = 3; ``--weights oracle``: the true eQTL effects instead, a diagnostic) → TGVIS with
``inf_mode=reml`` (the paper) and ``inf_mode=none`` on the same inputs → ``score_replicate``. Writes one row per (scenario, replicate, mode) and prints the averages.
``falsepairs``: the same replicates (same seeds) fitted with REML; every non-causal pair in a 95% set, classified:
a twin of a causal pair (stage-1 column |r| > 0.99), a pair whose only xQTL is a variant of its own set, or other;
for the second kind, whether that variant is a true eQTL of a causal pair and the causal pairs' expected |z| there.
``speed``: one locus with M = 1,000 variants and P = 500 pairs (coalescent LD, 2 causal pairs, 1 direct
variant, infinitesimal effects), L grid 2–8, REML mode; prints every run and the median.
``example``: the bundled example's locus bundles from a finished workflow run → stage-1 weights → TGVIS
(config defaults) → ``compare_to_truth`` against ``resources/example/gwas/{trait}.truth.tsv``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import multiprocessing as mp  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from twasflow.methods import tgvis  # noqa: E402
from twasflow.simulate.paper import SCENARIOS, SESSION2_DESIGN, score_replicate, tgvis_paper  # noqa: E402
from twasflow.weights import stage1  # noqa: E402

PAPER_FIG2 = {"tnr": 0.614, "tpr": 0.667, "n_direct_none": 0.92, "n_direct_two": 2.86}


def _weight_corr(B: np.ndarray, R: np.ndarray) -> np.ndarray:
    """(P, P) |correlation| of the pairs' predicted expression B_j'x under LD R (0 for pairs without weights)."""
    RB = R @ B
    d = np.sqrt(np.maximum(np.einsum("mp,mp->p", B, RB), 1e-300))
    return np.abs((B.T @ RB) / np.outer(d, d))


def _one(task: tuple[str, int, int, dict, str]) -> list[dict]:
    scenario, n_eqtl, seed, kw, weights = task
    t0 = time.perf_counter()
    rep = tgvis_paper(scenario, n_eqtl, seed=seed, **kw)
    # "oracle": the true standardized eQTL effects instead of stage 1 (a diagnostic: the fit with perfect weights)
    B = rep.b_true.copy() if weights == "oracle" else stage1(rep.xqtl_z, rep.R, rep.xqtl_n)[0]
    # a non-causal pair whose weight column is (almost) a causal pair's: not identifiable from the data
    corr = _weight_corr(B, rep.R)[rep.causal_pairs]
    corr[:, rep.causal_pairs] = 0.0
    corr[:, ~np.any(B != 0, axis=0)] = 0.0
    twin = float(np.any(corr > 0.99))
    rows = []
    for mode in ("reml", "none"):
        t1 = time.perf_counter()
        res = tgvis.fit(rep.z, rep.R, rep.n_gwas, B, pair_names=rep.pair_names, inf_mode=mode)
        m = score_replicate(rep, res)
        m.update(scenario=scenario, n_eqtl=n_eqtl, seed=seed, mode=mode, twin=twin, L=res.L, inf_test_p=res.inf_test_p,
                 sigma2_inf=res.sigma2_inf, fit_seconds=time.perf_counter() - t1,
                 rep_seconds=time.perf_counter() - t0)
        rows.append(m)
    return rows


def run_sim(args: argparse.Namespace) -> pd.DataFrame:
    kw = {k: v for k, v in (("n_ref", args.n_ref), ("n_gwas_ld", args.n_gwas_ld)) if v is not None}
    if args.design == "session2":
        kw.update(SESSION2_DESIGN)
    tasks = [(sc, args.n_eqtl, args.seed0 + 1000 * k + r, kw, args.weights) for k, sc in enumerate(SCENARIOS)
             for r in range(args.reps)]
    t0 = time.perf_counter()
    out = []
    with mp.get_context("spawn").Pool(max(args.workers, 1)) as pool:
        for k, rows in enumerate(pool.imap(_one, tasks, chunksize=1), start=1):
            out.append(rows)
            if k % 20 == 0:
                print(f"# {k}/{len(tasks)} replicates, {time.perf_counter() - t0:.0f} s", flush=True)
    df = pd.DataFrame([r for rows in out for r in rows])
    if args.out:
        df.to_csv(args.out, sep="\t", index=False)
    print(f"# {len(tasks)} replicates in {time.perf_counter() - t0:.0f} s with {args.workers} workers")
    cols = ["theta_mse", "theta_mse_causal", "tnr", "tnr_gene", "tnr_group", "tpr", "tnr_called", "tpr_called",
            "n_direct", "n_direct_vars", "twin", "n_direct_called", "gamma_cor", "upsilon_cor", "L", "fit_seconds"]
    summ = df.groupby(["mode", "scenario"], sort=False)[cols].mean()
    summ["inf_test_reject"] = df.groupby(["mode", "scenario"], sort=False)["inf_test_p"].apply(
        lambda p: float(np.mean(p < 0.05)))
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.precision", 3):
        print(summ)
        print(df.groupby("mode")[["tnr", "tnr_gene", "tnr_group", "tpr", "tnr_called", "tpr_called"]].mean())
        print("TNR by twin (a non-causal pair's weights correlate > 0.99 with a causal pair's):")
        print(df.groupby(["mode", "twin"])["tnr"].agg(["mean", "size"]))
    return df


def _false_pairs(task: tuple[str, int, int, dict]) -> list[dict]:
    """Every selected non-causal pair of one replicate (REML fit), with what the data offered to tell it apart."""
    scenario, n_eqtl, seed, kw = task
    rep = tgvis_paper(scenario, n_eqtl, seed=seed, **kw)
    B, _ = stage1(rep.xqtl_z, rep.R, rep.xqtl_n)
    corr = _weight_corr(B, rep.R)
    res = tgvis.fit(rep.z, rep.R, rep.n_gwas, B, pair_names=rep.pair_names, inf_mode="reml")
    v = res.variables
    P = rep.theta.size
    cs = v["cs"].to_numpy(dtype=float)
    cp = rep.causal_pairs
    # the GWAS signal the causal pairs put on each variant (expected z) and their true eQTLs
    beta = rep.b_true[:, cp] @ rep.theta[cp] * rep.theta_scale
    ez = np.sqrt(rep.n_gwas) * (rep.R_gwas @ beta)
    true_eqtl = np.any(rep.b_true[:, cp] != 0, axis=1)
    rows = []
    for j in np.flatnonzero(~np.isnan(cs[:P])):
        if j in cp:
            continue
        in_set = np.flatnonzero(cs == cs[j])
        xqtl = np.flatnonzero(B[:, j])
        r_causal = float(corr[j, cp].max())
        on_variant = xqtl.size == 1 and (P + xqtl[0]) in in_set
        kind = "twin of a causal pair" if r_causal > 0.99 else (
            "pair on one variant" if on_variant else ("other, |r| >= 0.5" if r_causal >= 0.5 else "other"))
        m = int(xqtl[0]) if xqtl.size == 1 else -1
        rows.append({"scenario": scenario, "seed": seed, "pair": rep.pair_names[j], "kind": kind,
                     "pip": float(v["pip"].iloc[j]), "r_causal": r_causal, "set_pairs": int(np.sum(in_set < P)),
                     "set_variants": int(np.sum(in_set >= P)),
                     "m_true_causal_eqtl": bool(m >= 0 and true_eqtl[m]),
                     "m_expected_abs_z": float(abs(ez[m])) if m >= 0 else float("nan")})
    return rows


def run_false_pairs(args: argparse.Namespace) -> pd.DataFrame:
    scen = [sc for sc in SCENARIOS if sc in args.scenarios]
    tasks = [(sc, args.n_eqtl, args.seed0 + 1000 * SCENARIOS.index(sc) + r, {}) for sc in scen
             for r in range(args.reps)]
    with mp.get_context("spawn").Pool(max(args.workers, 1)) as pool:
        df = pd.DataFrame([r for rows in pool.imap(_false_pairs, tasks, chunksize=1) for r in rows])
    if args.out:
        df.to_csv(args.out, sep="\t", index=False)
    with pd.option_context("display.width", 200, "display.precision", 3):
        print(f"# {len(tasks)} replicates; {df['seed'].nunique() if len(df) else 0} with a selected non-causal pair")
        print(df.groupby(["scenario", "kind"]).agg(pairs=("pair", "size"), replicates=("seed", "nunique"),
                                                   median_pip=("pip", "median")))
        on = df[df["kind"] == "pair on one variant"]
        print("pairs on one variant m: m is a true eQTL of a causal pair (missed by stage 1):",
              f"{int(on['m_true_causal_eqtl'].sum())} of {len(on)}; expected |z| at m from the causal pairs >= 3:",
              f"{int((on['m_expected_abs_z'] >= 3).sum())} of {len(on)}")
    return df


def _speed_locus(seed: int = 7) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    from _common import speed_pairs
    from twasflow.simulate.stats import gwas_z

    M, P, n = 1000, 500, 500_000.0
    rng, R, gs, B = speed_pairs(seed, M, P)
    beta = 0.02 * (B[:, 0] - B[:, P - 1])
    beta[100] += 0.01
    beta += rng.normal(0, np.sqrt(3e-4 / M), M)
    z = gwas_z(gs, beta, n, rng)
    return z, R, n, B


def run_speed(args: argparse.Namespace) -> None:
    z, R, n, B = _speed_locus()
    times = []
    for k in range(args.runs):
        t0 = time.perf_counter()
        res = tgvis.fit(z, R, n, B, L_grid=list(range(2, 9)), inf_mode="reml", estimate_prior_method=args.prior)
        times.append(time.perf_counter() - t0)
        print(f"run {k + 1}: {times[-1]:.2f} s  L={res.L} niter={res.locus['niter']} inf_p={res.inf_test_p:.2g} "
              f"sets={len(res.sets)}")
    print(f"median {np.median(times):.2f} s over {args.runs} runs (M=1000, P=500, L 2..8, reml, {args.prior}); "
          f"load average {os.getloadavg()[0]:.1f}")


def run_example(args: argparse.Namespace) -> None:
    from pathlib import Path

    from _common import example_bundles

    from twasflow.methods import compare_to_truth

    run = Path(args.run_dir)
    out = []
    for trait, locus_id, b in example_bundles(run):
        B, _ = stage1(b.xqtl_z, b.R, b.xqtl_n)
        keep = np.any(B != 0, axis=0)
        t0 = time.process_time()
        res = tgvis.fit_bundle(b, B[:, keep], list(b.pairs["pair_id"][keep]), trait=trait, options={})
        cpu = time.process_time() - t0
        v, _, _ = res.tables(trait, locus_id)
        print(f"{locus_id}: M={b.M} P={b.P} kept={int(keep.sum())} L={res.L} inf_p={res.inf_test_p:.2g} "
              f"sets={len(res.sets)} {cpu:.1f} CPU s")
        out.append(v)
    v = pd.concat(out, ignore_index=True)
    for trait in sorted(v["trait"].unique()):
        truth = pd.read_csv(run / "resources" / "example" / "gwas" / f"{trait}.truth.tsv", sep="\t")
        cmp = compare_to_truth(v[v["trait"] == trait], truth)
        with pd.option_context("display.width", 250, "display.max_colwidth", 70):
            print(cmp[["trait", "locus_id", "variable_id", "type", "outcome", "pip", "cs", "cs_pratt"]].to_string())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sim")
    s.add_argument("--reps", type=int, default=100)
    s.add_argument("--n-eqtl", type=int, default=200)
    s.add_argument("--n-ref", type=int, default=None, help="reference-panel size (default: the simulator's)")
    s.add_argument("--n-gwas-ld", type=int, default=None, help="GWAS-LD cohort size (default: the simulator's)")
    s.add_argument("--design", choices=["authors", "session2"], default="authors",
                    help="simulator defaults (the authors' script) or the session-2 design (SESSION2_DESIGN)")
    s.add_argument("--weights", choices=["stage1", "oracle"], default="stage1",
                   help="stage-1 SuSiE weights (the paper) or the true eQTL effects (diagnostic)")
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--seed0", type=int, default=1)
    s.add_argument("--out", default="")
    p = sub.add_parser("speed")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--prior", default="EM", choices=["EM", "optim"])
    f = sub.add_parser("falsepairs", help="classify every non-causal pair TGVIS selects (REML)")
    f.add_argument("--reps", type=int, default=100)
    f.add_argument("--n-eqtl", type=int, default=200)
    f.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    f.add_argument("--workers", type=int, default=2)
    f.add_argument("--seed0", type=int, default=1)
    f.add_argument("--out", default="")
    e = sub.add_parser("example")
    e.add_argument("--run-dir", required=True)
    args = ap.parse_args(argv)
    if args.cmd == "sim":
        run_sim(args)
    elif args.cmd == "falsepairs":
        run_false_pairs(args)
    elif args.cmd == "example":
        run_example(args)
    else:
        run_speed(args)


if __name__ == "__main__":
    sys.exit(main())
