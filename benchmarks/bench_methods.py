"""TGVIS, cTWAS and TGFM side by side on the TGVIS paper's simulation design (Figure 2 metrics).

Usage (from the repository root; BLAS pinned to one thread per worker):

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_methods.py --reps 100 --n-eqtl 200 --workers 2 \
        --out benchmarks/methods_sim_n200.tsv

Per replicate: ``twasflow.simulate.tgvis_paper`` → stage-1 SuSiE on every pair (``twasflow.weights.stage1``,
L = 3, on the reference LD) → on the same inputs:

* TGVIS (``twasflow.methods.tgvis.fit``, package defaults: L 2–8 by BIC, REML + score test);
* cTWAS (``twasflow.methods.ctwas.fit``) as the paper ran it in simulations: one locus, no genome-wide EM,
  prior weights 1/p per pair and 1/M per variant (the paper's Methods), fixed prior variance
  ``--ctwas-prior-var`` (z scale) for every group, L = 5, purity 0.1;
* TGFM (``twasflow.methods.tgfm.fit``, 100 draws from the stage-1 posteriors, variant-only start when a
  pair's PIP > 0.2, priors 1/p per pair and 1/M per variant (``pair_prior_share="auto"``, the paper's
  setting for every method));
* optionally ``tgvis_wu`` / ``ctwas_wu``: the same fits with the stage-1 weights' posterior variance carried
  into the joint system as the expected Gram ``B'RB + diag(tr(R Sigma_j))`` (issue 22's third bullet);
* optionally ``ctwas_tgvispkg``: the "cTWAS" of the TGVIS authors' R package (``R/ctwas.R``), which is one joint
  SuSiE-RSS over pairs and variants with L = 10, EM prior variance, priors 1/p and 1/M and no infinitesimal
  term — i.e. ``tgvis.fit(..., L_grid=(10,), inf_mode="none")`` — to see what the paper compared against.

``--stage1 paper shared``: every method runs on each listed stage 1 of the same replicate (``paper``:
``twasflow.weights.stage1``; ``shared``: ``twasflow.weights_shared.stage1_shared`` with the pairs grouped by gene
``G{g}``), so the modes compare paired; rows carry a ``stage1`` column and the script prints paired differences
(shared − paper) with their SEs. ``--design sharedtissue``: the check of issue 22 with eQTLs shared across a
gene's tissues (``SHARED_TISSUE_DESIGN``; use other seeds, e.g. ``--seed0 500001``).

"Selected" = in a 95% credible set (the paper's criterion for all three). Writes one row per (scenario,
replicate, method) and prints one table per scenario plus the averages over scenarios.
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

from twasflow.methods import ctwas, tgfm, tgvis  # noqa: E402
from twasflow.methods._weight_uncertainty import fits_weight_variance  # noqa: E402
from twasflow.simulate.paper import (SCENARIOS, SESSION2_DESIGN, SHARED_TISSUE_DESIGN, score_replicate,  # noqa: E402
                                     tgvis_paper)
from twasflow.weights import stage1  # noqa: E402
from twasflow.weights_shared import stage1_shared  # noqa: E402

PAPER_FIG2_TGVIS = {"tnr": 0.614, "tpr": 0.667, "n_direct_none": 0.92, "n_direct_two": 2.86}
METRICS = ["tnr", "tnr_gene", "tnr_group", "tpr", "n_direct", "theta_mse", "gamma_cor", "seconds"]


def _one(task: tuple[str, int, int, float, int, tuple[str, ...], dict, tuple[str, ...]]) -> list[dict]:
    scenario, n_eqtl, seed, ctwas_v, n_draws, methods, sim_kw, modes = task
    rep = tgvis_paper(scenario, n_eqtl, seed=seed, **sim_kw)
    rows = []
    for mode in modes:
        t0 = time.perf_counter()
        if mode == "shared":
            B, fits = stage1_shared(rep.xqtl_z, rep.R, rep.xqtl_n, [name.split("_")[0] for name in rep.pair_names])
        else:
            B, fits = stage1(rep.xqtl_z, rep.R, rep.xqtl_n)
        s1 = time.perf_counter() - t0
        for m in _methods(rep, B, fits, seed, ctwas_v, n_draws, methods):
            m.update(stage1=mode, stage1_seconds=s1)
            rows.append(m)
    return rows


def _methods(rep, B, fits, seed: int, ctwas_v: float, n_draws: int, methods: tuple[str, ...]) -> list[dict]:
    scenario, n_eqtl = rep.scenario, rep.n_eqtl
    P, M = B.shape[1], rep.z.size
    groups = [f"{name.split('_')[1]}|eQTL" for name in rep.pair_names]
    priors = {"group_prior": {**{g: 1.0 / P for g in set(groups)}, "SNP": 1.0 / M},
              "group_prior_var": {**{g: ctwas_v for g in set(groups)}, "SNP": ctwas_v}}
    rows = []
    genes = [name.split("_")[0] for name in rep.pair_names]
    wvar = fits_weight_variance(fits, rep.R) if any(m.endswith("_wu") for m in methods) else None
    runs = {
        "tgvis": lambda: tgvis.fit(rep.z, rep.R, rep.n_gwas, B, pair_names=rep.pair_names),
        "ctwas": lambda: ctwas.fit(rep.z, rep.R, rep.n_gwas, B, groups, priors, pair_names=rep.pair_names,
                                   gene_ids=genes),
        "tgvis_wu": lambda: tgvis.fit(rep.z, rep.R, rep.n_gwas, B, pair_names=rep.pair_names, weight_var=wvar),
        "ctwas_wu": lambda: ctwas.fit(rep.z, rep.R, rep.n_gwas, B, groups, priors, pair_names=rep.pair_names,
                                      gene_ids=genes, weight_var=wvar),
        "ctwas_tgvispkg": lambda: tgvis.fit(rep.z, rep.R, rep.n_gwas, B, pair_names=rep.pair_names, L_grid=(10,),
                                            inf_mode="none"),
        "tgfm": lambda: tgfm.fit(rep.z, rep.R, rep.n_gwas, fits, pair_names=rep.pair_names, seed=seed,
                                 n_draws=n_draws, pair_prior_share="auto", causal_rule="cs"),
    }
    for method in methods:
        run = runs[method]
        t0 = time.perf_counter()
        res = run()
        m = score_replicate(rep, res)
        m.update(scenario=scenario, n_eqtl=n_eqtl, seed=seed, method=method, seconds=time.perf_counter() - t0)
        rows.append(m)
    return rows


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per (n_eqtl, scenario, method, stage1) means of the Figure 2 metrics."""
    return df.groupby(["n_eqtl", "scenario", "method", "stage1"], sort=False)[METRICS].mean()


def paired(df: pd.DataFrame, a: str, b: str, by: str = "stage1", keys: tuple[str, ...] = ("method",),
           metrics: tuple[str, ...] = ("tnr", "tnr_group", "tpr", "theta_mse", "n_direct")) -> pd.DataFrame:
    """Mean of ``a`` − ``b`` (values of column ``by``) over the same replicates, with its SE, per ``keys``
    (and for ``n_direct`` only over the replicates with no direct variant planted: scenarios none / inf)."""
    idx = ["n_eqtl", "scenario", "seed", *keys]
    wide = df.pivot_table(index=idx, columns=by, values=list(metrics), aggfunc="first")
    out = []
    for key, t in wide.groupby(level=["n_eqtl", *keys], sort=False):
        row = dict(zip(["n_eqtl", *keys], key if isinstance(key, tuple) else (key,)))
        for m in metrics:
            sub = t if m != "n_direct" else t[t.index.get_level_values("scenario").isin(["none", "inf"])]
            d = (sub[(m, a)] - sub[(m, b)]).dropna()
            row[f"{m}_{a}"] = float(sub[(m, a)].mean())
            row[f"{m}_{b}"] = float(sub[(m, b)].mean())
            row[f"d_{m}"] = float(d.mean())
            row[f"se_{m}"] = float(d.std(ddof=1) / max(len(d), 1) ** 0.5) if len(d) > 1 else float("nan")
        row["n"] = int(len(t))
        out.append(row)
    return pd.DataFrame(out)


def run_example(run_dir: str, modes: tuple[str, ...]) -> pd.DataFrame:
    """The bundled example (issue 22 item 3): every locus bundle of a finished workflow run → each stage 1 in
    ``modes`` (shared: pairs grouped by gene + QTL type, as the workflow does) → TGVIS (config defaults), with
    fixed weights and with ``weight_uncertainty: expected_gram``, on the pairs with a kept variant (no
    prescreen, as ``bench_tgvis.py example``) → ``compare_to_truth``. Prints the planted pairs called and the
    false calls, each with whether it shares a collinear group with a planted pair; returns the outcome rows."""
    from pathlib import Path

    from _common import example_bundles

    from twasflow.methods import compare_to_truth
    from twasflow.methods._weight_uncertainty import weight_var_for

    run = Path(run_dir)
    bundles = example_bundles(run)
    rows = []
    for mode in modes:
        fitted = []  # stage 1 once per bundle and mode, for both weight-uncertainty arms
        for trait, locus_id, b in bundles:
            if mode == "shared":
                groups = (b.pairs["gene_id"].astype(str) + "|" + b.pairs["qtl_type"].astype(str)).tolist()
                B, fits = stage1_shared(b.xqtl_z, b.R, b.xqtl_n, groups)
            else:
                B, fits = stage1(b.xqtl_z, b.R, b.xqtl_n)
            fitted.append((trait, locus_id, b, B, fits))
        for wu in ("none", "expected_gram"):
            out = []
            for trait, locus_id, b, B, fits in fitted:
                keep = np.flatnonzero(np.any(B != 0, axis=0))
                wv = weight_var_for(wu, fits, b.R)
                res = tgvis.fit_bundle(b, B[:, keep], list(b.pairs["pair_id"].iloc[keep]), trait=trait, options={},
                                       weight_var=None if wv is None else wv[keep])
                out.append(res.tables(trait, locus_id)[0])
            v = pd.concat(out, ignore_index=True)
            for trait in sorted(v["trait"].unique()):
                truth = pd.read_csv(run / "resources" / "example" / "gwas" / f"{trait}.truth.tsv", sep="\t")
                cmp = compare_to_truth(v[v["trait"] == trait], truth)
                cmp["stage1"], cmp["weight_uncertainty"] = mode, wu
                rows.append(cmp)
                tp = cmp[(cmp["outcome"] == "TP") & (cmp["type"] == "pair")]
                fn = cmp[(cmp["outcome"] == "FN") & (cmp["type"] == "pair")]
                fp = cmp[cmp["outcome"] == "FP"]
                print(f"# {mode:6s} {wu:13s} {trait}: planted pairs called {len(tp)}/{len(tp) + len(fn)}; planted "
                      f"variants called {int(((cmp['outcome'] == 'TP') & (cmp['type'] == 'variant')).sum())}; false "
                      f"calls {len(fp)} ({int(fp['collinear_with_planted'].sum())} in a planted pair's collinear group"
                      f", pairs {int((fp['type'] == 'pair').sum())}, variants {int((fp['type'] == 'variant').sum())})")
                with pd.option_context("display.width", 250, "display.max_colwidth", 60):
                    print(cmp[["locus_id", "variable_id", "type", "outcome", "pip", "cs", "cs_pratt",
                               "collinear_with_planted"]].to_string(index=False))
    return pd.concat(rows, ignore_index=True)


def missed_eqtls(seeds: list[int], n_eqtl: int = 200, scenario: str = "none") -> None:
    """Diagnostic (issue 22): the causal pairs' true eQTLs that the paper's stage 1 did not keep, their eQTL z, and
    the full stage-1 posterior mean there (every included effect, no selection rule) — what any use of the
    stage-1 posterior's uncertainty could carry into stage 2."""
    from twasflow.weights import posterior_mean

    for seed in seeds:
        rep = tgvis_paper(scenario, n_eqtl, seed=seed)
        B, fits = stage1(rep.xqtl_z, rep.R, rep.xqtl_n)
        full = posterior_mean(fits)
        for j in rep.causal_pairs:
            miss = np.flatnonzero((rep.b_true[:, j] != 0) & (B[:, j] == 0))
            print(f"seed {seed} pair {j}: missed {miss.tolist()} true b {np.round(rep.b_true[miss, j], 2).tolist()} "
                  f"eQTL z {np.round(rep.xqtl_z[miss, j], 1).tolist()} full posterior mean "
                  f"{np.round(full[miss, j], 3).tolist()}", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--n-eqtl", type=int, nargs="+", default=[200])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed0", type=int, default=1)
    ap.add_argument("--ctwas-prior-var", type=float, default=50.0)
    ap.add_argument("--n-draws", type=int, default=100)
    ap.add_argument("--methods", nargs="+", default=["tgvis", "ctwas", "tgfm"],
                    choices=["tgvis", "ctwas", "tgfm", "ctwas_tgvispkg", "tgvis_wu", "ctwas_wu"],
                    help="*_wu: the method with the stage-1 weight uncertainty carried as the expected Gram "
                         "(twasflow.methods._weight_uncertainty; compare paired with the plain method)")
    ap.add_argument("--n-ref", type=int, default=None, help="reference-panel size (default: the simulator's)")
    ap.add_argument("--n-gwas-ld", type=int, default=None, help="GWAS-LD cohort size (default: the simulator's)")
    ap.add_argument("--design", choices=["authors", "session2", "sharedtissue"], default="authors",
                    help="simulator defaults (the authors' script), the session-2 design (SESSION2_DESIGN) or eQTLs "
                         "shared across a gene's tissues (SHARED_TISSUE_DESIGN)")
    ap.add_argument("--stage1", nargs="+", default=["paper"], choices=["paper", "shared"],
                    help="stage-1 modes, each run on the same replicates")
    ap.add_argument("--out", default="")
    ap.add_argument("--example", default="", metavar="RUN_DIR",
                    help="instead of the simulation: the bundled example's locus bundles in a finished workflow run "
                         "(TGVIS on each --stage1, fixed weights and expected_gram; issue 22 item 3)")
    ap.add_argument("--from-tsv", default="", metavar="TSV",
                    help="only report on the rows of an earlier run's --out (e.g. one stopped early)")
    ap.add_argument("--missed-eqtls", type=int, nargs="+", default=None, metavar="SEED",
                    help="diagnostic: the causal pairs' missed true eQTLs and the full stage-1 posterior mean there")
    args = ap.parse_args(argv)
    if args.missed_eqtls:
        missed_eqtls(args.missed_eqtls, args.n_eqtl[0])
        return
    if args.from_tsv:
        report(pd.read_csv(args.from_tsv, sep="\t"), tuple(args.stage1), tuple(args.methods))
        return
    if args.example:
        df = run_example(args.example, tuple(args.stage1))
        if args.out:
            df.to_csv(args.out, sep="\t", index=False)
        return
    sim_kw = {k: v for k, v in (("n_ref", args.n_ref), ("n_gwas_ld", args.n_gwas_ld)) if v is not None}
    if args.design == "session2":
        sim_kw.update(SESSION2_DESIGN)
    elif args.design == "sharedtissue":
        sim_kw.update(SHARED_TISSUE_DESIGN)
    # replicate-major order: a run cut short still has balanced scenarios (results are saved every 20)
    tasks = [(sc, n, args.seed0 + 1000 * k + r, args.ctwas_prior_var, args.n_draws, tuple(args.methods), sim_kw,
              tuple(args.stage1))
             for n in args.n_eqtl for r in range(args.reps) for k, sc in enumerate(SCENARIOS)]
    t0 = time.perf_counter()
    out: list[dict] = []
    with mp.get_context("spawn").Pool(max(args.workers, 1)) as pool:
        for k, rows in enumerate(pool.imap(_one, tasks, chunksize=1), start=1):
            out.extend(rows)
            if k % 4 == 0:
                print(f"# {k}/{len(tasks)} replicates, {time.perf_counter() - t0:.0f} s", flush=True)
                if args.out:
                    pd.DataFrame(out).to_csv(args.out, sep="\t", index=False)
    df = pd.DataFrame(out)
    if args.out:
        df.to_csv(args.out, sep="\t", index=False)
    print(f"# {len(tasks)} replicates in {time.perf_counter() - t0:.0f} s with {args.workers} workers; "
          f"load average {os.getloadavg()[0]:.1f}")
    report(df, tuple(args.stage1), tuple(args.methods))


def complete(df: pd.DataFrame) -> pd.DataFrame:
    """The replicates with a row for every (stage 1, method) of the run, and per n_eQTL only the first k
    replicates of every scenario (k = the fewest complete in any scenario), so a run stopped early compares
    the same, balanced replicates in every arm."""
    arms = df.groupby(["stage1", "method"]).ngroups
    n_rows = df.groupby(["n_eqtl", "scenario", "seed"])["method"].transform("size")
    df = df[n_rows == arms]
    out = []
    for _, t in df.groupby("n_eqtl", sort=False):
        seeds = t.groupby("scenario")["seed"].apply(lambda x: sorted(set(x)))
        k = min(len(x) for x in seeds)
        keep = {(sc, sd) for sc, x in seeds.items() for sd in x[:k]}
        out.append(t[[(a, b) in keep for a, b in zip(t["scenario"], t["seed"])]])
    return pd.concat(out, ignore_index=True) if out else df


def report(df: pd.DataFrame, modes: tuple[str, ...], methods: tuple[str, ...]) -> None:
    """Print the per-scenario tables, the averages and every paired comparison (stage 1 modes; methods against
    the first; ``*_wu`` against its fixed-weights method)."""
    df = complete(df)
    print(f"# complete replicates: {df.groupby('n_eqtl')['seed'].nunique().to_dict()} "
          f"(per scenario: {df.groupby(['n_eqtl', 'scenario'])['seed'].nunique().to_dict()})")
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.precision", 4):
        for (n, sc), t in summarize(df).groupby(level=[0, 1], sort=False):
            print(f"\n## n_eQTL = {n}, scenario {sc}\n{t.droplevel([0, 1])}")
        print("\n## averaged over scenarios")
        print(df.groupby(["n_eqtl", "method", "stage1"], sort=False)[["tnr", "tnr_group", "tpr", "theta_mse"]].mean())
        nd = df[df["scenario"].isin(["none", "inf"])]
        print("\n## direct variants with none planted (scenarios none, inf) / none only")
        print(nd.groupby(["n_eqtl", "method", "stage1"], sort=False)["n_direct"].mean())
        print(nd.groupby(["n_eqtl", "method", "stage1", "scenario"], sort=False)["n_direct"].mean())
        if len(modes) > 1:
            print(f"\n## paired over the same replicates: {modes[1]} - {modes[0]} (mean, SE)")
            print(paired(df, modes[1], modes[0]).to_string(index=False))
        for mode in modes:
            sub = df[df["stage1"] == mode]
            for other in [m for m in methods[1:] if not m.endswith("_wu")]:
                print(f"\n## stage 1 {mode}: {methods[0]} - {other}, paired (mean, SE)")
                print(paired(sub, methods[0], other, by="method", keys=("stage1",)).to_string(index=False))
            for m in methods:
                if m.endswith("_wu") and m[:-3] in methods:
                    print(f"\n## stage 1 {mode}: {m} - {m[:-3]} (weight uncertainty), paired (mean, SE)")
                    print(paired(sub, m, m[:-3], by="method", keys=("stage1",)).to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())
