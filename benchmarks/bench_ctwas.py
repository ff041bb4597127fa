"""cTWAS benchmarks: the genome-wide EM over 1,000 regions and the per-locus fit at M = 1,000, P = 500.

Usage (from the repository root; BLAS pinned to one thread):

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_ctwas.py em --runs 5 [--size typical|pipeline] \
        [--r-ctwas /path/to/ctwas/R]
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_ctwas.py fit --runs 5 [--r-ctwas /path/to/ctwas/R]

``em``: 1,000 no-LD regions simulated with known group priors (independent Bernoulli causal variables,
0.2 causal molecular traits and 0.1 causal SNPs expected per region, effects N(0, 30), z = effect + N(0, 1)), then ``estimate_params`` (prefit 3 iterations, region selection,
EM up to 50 iterations, tol 1e-4, shared_all). ``--size typical``: cTWAS's usual thinned input (600 SNPs
and 30 genes in 3 groups per region: 630,000 variables); ``--size pipeline``: SPEC's scale (3,000 variants
and 2,000 pairs in 100 tissue x QTL-type groups per region: 5,000,000 variables). Times: table -> RegionData
construction and the EM, separately; median over ``--runs``.
``fit``: one locus with M = 1,000 variants and P = 500 pairs (coalescent LD as bench_tgvis), 10 groups,
L = 5; median over ``--runs``.
``--r-ctwas DIR``: also time cTWAS's own R code on the same data (``est_param`` / ``ctwas_susie_rss``),
sourcing the ``R/*.R`` files of a ctwas checkout (xinhe-lab/ctwas, multigroup) from DIR; the logging
package's calls are replaced by no-ops. Prints both and the max relative difference of the estimates.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from twasflow.methods import ctwas  # noqa: E402
from twasflow.methods.joint import JointSystem  # noqa: E402

SIZES = {  # regions, SNPs per region, (groups, genes per group per region)
    "typical": (1000, 600, (3, 10)),
    "pipeline": (1000, 3000, (100, 20)),
}

_R_PRELUDE = r"""
suppressPackageStartupMessages({library(Matrix); library(data.table); library(dplyr); library(tidyr)})
loginfo <- function(...) invisible(NULL); logwarn <- function(...) invisible(NULL)
logdebug <- function(...) invisible(NULL); addHandler <- function(...) invisible(NULL)
writeToFile <- function(...) invisible(NULL); basicConfig <- function(...) invisible(NULL)
args <- commandArgs(trailingOnly = TRUE); src <- args[1]; work <- args[2]; runs <- as.integer(args[3])
rf <- list.files(file.path(src), pattern = "\\.R$", full.names = TRUE)
for (f in rf[!grepl("ctwas_plots.R", rf)]) source(f)
"""

_R_EM = _R_PRELUDE + r"""
d <- fread(file.path(work, "vars.tsv"))
sp <- split(d, d$region_id)
region_data <- lapply(names(sp), function(r) {
  x <- sp[[r]]; g <- x[x$group != "SNP", ]; s <- x[x$group == "SNP", ]
  z_gene <- data.frame(id = g$id, z = g$z, group = g$group, type = g$type, context = g$context)
  z_snp <- data.frame(id = s$id, z = s$z)
  list(region_id = r, thin = as.numeric(readLines(file.path(work, "thin.txt"))), gid = g$id, sid = s$id,
       z_gene = z_gene, z_snp = z_snp, z = c(g$z, s$z), gs_group = c(g$group, rep("SNP", nrow(s))),
       g_type = g$type, g_context = g$context, g_group = g$group,
       types = unique(c(g$type, "SNP")), contexts = unique(c(g$context, "SNP")), groups = unique(c(g$group, "SNP")))
})
names(region_data) <- names(sp)
times <- c()
for (i in seq_len(runs)) {
  t0 <- proc.time()[["elapsed"]]
  p <- est_param(region_data, group_prior_var_structure = "shared_all", niter_prefit = 3, niter = 50,
                 min_var = 2, min_gene = 1, min_group_size = 100, min_p_single_effect = 0.8,
                 null_method = "ctwas", EM_tol = 1e-4)
  times <- c(times, proc.time()[["elapsed"]] - t0)
}
cat("R_TIMES", times, "\n")
cat("R_NITER", length(p$loglik_iters), "\n")
write.table(data.frame(group = names(p$group_prior), prior = sprintf("%.17g", p$group_prior),
                       var = sprintf("%.17g", p$group_prior_var[names(p$group_prior)])),
            file.path(work, "r_params.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
"""

_R_FIT = _R_PRELUDE + r"""
z <- scan(file.path(work, "z.txt"), quiet = TRUE); V <- scan(file.path(work, "V.txt"), quiet = TRUE)
ppi <- scan(file.path(work, "pi.txt"), quiet = TRUE)
R <- matrix(readBin(file.path(work, "R.bin"), "double", n = length(z)^2), length(z)); dimnames(R) <- NULL
times <- c()
for (i in seq_len(runs)) {
  t0 <- proc.time()[["elapsed"]]
  s <- ctwas_susie_rss(z, R, prior_weights = ppi / (1 - ppi), prior_variance = matrix(rep(V, each = 5), nrow = 5),
                       L = 5, null_weight = 0.5, coverage = 0.95, min_abs_corr = 0.1)
  times <- c(times, proc.time()[["elapsed"]] - t0)
}
cat("R_TIMES", times, "\n")
cat("R_NITER", s$niter, "\n")
write(sprintf("%.17g", s$pip), file.path(work, "r_pip.txt"), ncolumns = 1)
"""


def simulate_regions(size: str, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """cTWAS tables (snp_z, gene_z) for ``SIZES[size]`` regions with known priors."""
    n_reg, n_snp, (n_grp, per) = SIZES[size]
    rng = np.random.default_rng(seed)
    k = n_snp + n_grp * per
    g_of = np.concatenate([np.repeat(np.arange(n_grp), per), np.full(n_snp, n_grp)])
    # per region: 0.2 causal molecular traits and 0.1 causal SNPs expected (sparse, as cTWAS assumes)
    pi = np.concatenate([rng.uniform(0.2, 1.8, n_grp) * 0.2 / (n_grp * per), [0.1 / n_snp]])[g_of]
    causal = rng.random((n_reg, k)) < pi
    z = rng.standard_normal((n_reg, k)) + causal * rng.standard_normal((n_reg, k)) * np.sqrt(30.0)
    names = np.array([f"tissue{t // 2}|{'eQTL' if t % 2 == 0 else 'sQTL'}" for t in range(n_grp)] + ["SNP"],
                     dtype=object)
    region = np.repeat(np.char.add("chr1_", np.arange(n_reg).astype(str)), k).astype(object)
    ids = np.char.add(np.char.add(region.astype(str), "."), np.tile(np.arange(k).astype(str), n_reg)).astype(object)
    df = pd.DataFrame({"id": ids, "z": z.ravel(), "group": np.tile(names[g_of], n_reg), "region_id": region})
    snp = df[df["group"] == "SNP"][["id", "z", "region_id"]].reset_index(drop=True)
    genes = df[df["group"] != "SNP"].reset_index(drop=True)
    return snp, genes


def _run_r(script: str, src: str, work: Path, runs: int) -> tuple[list[float], int]:
    path = work / "bench.R"
    path.write_text(script)
    out = subprocess.run(["Rscript", str(path), src, str(work), str(runs)], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"R failed:\n{out.stderr[-3000:]}")
    times, niter = [], 0
    for line in out.stdout.splitlines():
        if line.startswith("R_TIMES"):
            times = [float(x) for x in line.split()[1:]]
        if line.startswith("R_NITER"):
            niter = int(line.split()[1])
    return times, niter


def run_em(args: argparse.Namespace) -> None:
    snp, genes = simulate_regions(args.size)
    print(f"size={args.size}: {snp['region_id'].nunique()} regions, {len(snp):,} SNPs, {len(genes):,} genes, "
          f"{genes['group'].nunique()} gene groups; load {os.getloadavg()[0]:.1f}")
    t_build, t_em = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        data = ctwas.RegionData.from_tables(snp, genes)
        t1 = time.perf_counter()
        p = ctwas.estimate_params(data, min_group_size=100)
        t2 = time.perf_counter()
        t_build.append(t1 - t0)
        t_em.append(t2 - t1)
        print(f"  run: build {t1 - t0:.2f} s, EM {t2 - t1:.2f} s (prefit {p.prefit['n_iter']} + {p.n_iter} iterations, "
              f"{int(p.p_single_effect['selected'].sum())} regions selected)")
    print(f"median: build {np.median(t_build):.2f} s, EM {np.median(t_em):.2f} s, "
          f"total {np.median(np.add(t_build, t_em)):.2f} s")
    if args.r_ctwas:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            g = genes.assign(type=genes["group"].str.split("|").str[1], context=genes["group"].str.split("|").str[0])
            s = snp.assign(group="SNP", type="SNP", context="SNP")
            pd.concat([g, s], ignore_index=True)[["region_id", "id", "z", "group", "type", "context"]].to_csv(
                work / "vars.tsv", sep="\t", index=False)
            (work / "thin.txt").write_text("1\n")
            times, niter = _run_r(_R_EM, args.r_ctwas, work, args.runs)
            rp = pd.read_csv(work / "r_params.tsv", sep="\t").set_index("group")
        rel = max(max(abs(p.group_prior[g] / rp.loc[g, "prior"] - 1), abs(p.group_prior_var[g] / rp.loc[g, "var"] - 1))
                  for g in p.group_prior)
        print(f"cTWAS R est_param: runs {', '.join(f'{t:.1f}' for t in times)} s; median {np.median(times):.1f} s "
              f"({niter} EM iterations); max relative difference of the estimates {rel:.2e}")


def speed_locus(seed: int = 7) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, list[str]]:
    """M = 1,000 variants, P = 500 pairs in 10 groups (the TGVIS speed locus's LD and weights)."""
    from _common import speed_pairs
    from twasflow.simulate.stats import gwas_z

    M, P, n = 1000, 500, 500_000.0
    rng, R, gs, B = speed_pairs(seed, M, P)
    beta = 0.02 * (B[:, 0] - B[:, P - 1])
    beta[100] += 0.01
    z = gwas_z(gs, beta, n, rng)
    groups = [f"tissue{j % 5}|{'eQTL' if j % 2 == 0 else 'sQTL'}" for j in range(P)]
    return z, R, n, B, groups


def run_fit(args: argparse.Namespace) -> None:
    z, R, n, B, groups = speed_locus()
    pri = {"group_prior": {**{g: 0.01 for g in set(groups)}, "SNP": 1e-4},
           "group_prior_var": {**{g: 30.0 for g in set(groups)}, "SNP": 30.0}}
    print(f"M={R.shape[0]}, P={B.shape[1]}, {len(set(groups))} groups, L=5; load {os.getloadavg()[0]:.1f}")
    times = []
    res = None
    for _ in range(args.runs):
        t0 = time.perf_counter()
        res = ctwas.fit(z, R, n, B, groups, pri)
        times.append(time.perf_counter() - t0)
        print(f"  run: {times[-1]:.2f} s (IBSS {res.locus['niter']} sweeps, {len(res.sets)} credible sets)")
    print(f"median: {np.median(times):.2f} s")
    if args.r_ctwas and res is not None:
        S = JointSystem(z, R, B)
        zj, J = S.joint_z(z), S.joint.dense()  # the dense matrix for R's ctwas_susie_rss
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            np.savetxt(work / "z.txt", zj, fmt="%.17g")
            np.savetxt(work / "V.txt", res.prior_var, fmt="%.17g")
            np.savetxt(work / "pi.txt", res.prior, fmt="%.17g")
            np.asfortranarray(J).T.tofile(work / "R.bin")  # column-major doubles, as R reads them
            r_times, niter = _run_r(_R_FIT, args.r_ctwas, work, args.runs)
            pip = np.loadtxt(work / "r_pip.txt")
        print(f"cTWAS R ctwas_susie_rss (same joint z/R/priors): runs {', '.join(f'{t:.2f}' for t in r_times)} s; "
              f"median {np.median(r_times):.2f} s ({niter} sweeps); max |PIP difference| "
              f"{np.max(np.abs(pip - res.fit.pip)):.2e}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("em")
    e.add_argument("--runs", type=int, default=5)
    e.add_argument("--size", choices=sorted(SIZES), default="typical")
    e.add_argument("--r-ctwas", default=None, help="directory with cTWAS's R/*.R files (optional side-by-side)")
    f = sub.add_parser("fit")
    f.add_argument("--runs", type=int, default=5)
    f.add_argument("--r-ctwas", default=None)
    args = ap.parse_args(argv)
    {"em": run_em, "fit": run_fit}[args.cmd](args)


if __name__ == "__main__":
    main()
