#!/usr/bin/env Rscript
## susieR side of benchmarks/bench_susie.py (called by it; not meant to be run alone).
## Usage: Rscript bench_susie.R <dir> <p> <n> <L> <runs>
## Reads <dir>/R.f64 (p x p, float64 little-endian, row-major = column-major since symmetric) and <dir>/z.f64,
## times only the susie_rss() call (elapsed, proc.time) <runs> times, writes <dir>/r_result.json and
## <dir>/r_pip.f64 (PIPs of the last run).
suppressPackageStartupMessages({library(susieR); library(jsonlite)})
a <- commandArgs(trailingOnly = TRUE)
dir <- a[1]; p <- as.integer(a[2]); n <- as.numeric(a[3]); L <- as.integer(a[4]); runs <- as.integer(a[5])
R <- matrix(readBin(file.path(dir, "R.f64"), "double", n = p * p, size = 8, endian = "little"), p, p)
z <- readBin(file.path(dir, "z.f64"), "double", n = p, size = 8, endian = "little")
times <- numeric(runs)
fit <- NULL
for (i in seq_len(runs)) {
  t0 <- proc.time()[["elapsed"]]
  fit <- susie_rss(z = z, R = R, n = n, L = L)
  times[i] <- proc.time()[["elapsed"]] - t0
}
writeBin(as.numeric(fit$pip), file.path(dir, "r_pip.f64"), size = 8, endian = "little")
write_json(list(times = times, niter = unbox(fit$niter), converged = unbox(fit$converged),
                n_cs = unbox(length(fit$sets$cs)), susieR = unbox(as.character(packageVersion("susieR"))),
                R = unbox(R.version.string), blas = unbox(extSoftVersion()[["BLAS"]]),
                rfast = unbox(requireNamespace("Rfast", quietly = TRUE))),
           file.path(dir, "r_result.json"), digits = NA)
