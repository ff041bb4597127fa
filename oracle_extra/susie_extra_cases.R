#!/usr/bin/env Rscript
## Extra oracle cases for the twasflow SuSiE engine, computed with susieR 0.12.35 (Debian r-cran-susier).
## Deterministic (set.seed before every random draw). Re-run from the repository root with
##   Rscript oracle_extra/susie_extra_cases.R
## It reads the shared N3 window inputs from $TWASFLOW_SHARED (default: ../shared next to the repository)
## and writes tests/data/susie_extra/<case>/{call.json, expected.json.gz, inputs *.tsv.gz}.
## Output format follows shared/oracle/README-susie-coloc.md, except that every number is written
## with %.17g (exact double round trip) instead of jsonlite's 15 significant digits.
suppressPackageStartupMessages({library(susieR); library(jsonlite)})
stopifnot(as.character(packageVersion("susieR")) == "0.12.35")

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
REPO <- dirname(here)
SHARED <- Sys.getenv("TWASFLOW_SHARED", file.path(dirname(REPO), "shared"))
SH_IN <- file.path(SHARED, "oracle", "expected", "_inputs")
OUT <- file.path(REPO, "tests", "data", "susie_extra")
dir.create(OUT, showWarnings = FALSE, recursive = TRUE)

## ---------- readers / writers ----------
rmat <- function(path) as.matrix(read.table(gzfile(path), sep = "\t", header = FALSE, colClasses = "numeric"))
fmt <- function(x) ifelse(is.na(x), "null", ifelse(is.infinite(x), ifelse(x > 0, "\"Infinity\"", "\"-Infinity\""),
                                                 sprintf("%.17g", x)))
fmt_tsv <- function(x) ifelse(is.na(x), "NaN", sprintf("%.17g", x))
wvec <- function(path, x) { con <- gzfile(path, "w"); writeLines(fmt_tsv(as.numeric(x)), con); close(con) }
wmat <- function(path, M) {
  con <- gzfile(path, "w")
  writeLines(apply(M, 1, function(r) paste(fmt_tsv(r), collapse = "\t")), con); close(con)
}
## numbers are pre-rendered with %.17g and inserted verbatim (jsonlite caps at 15 significant digits)
jnum <- function(x) {                       # numeric vector -> JSON array
  structure(paste0("[", paste(fmt(as.numeric(x)), collapse = ","), "]"), class = "json")
}
jsc <- function(x) structure(fmt(as.numeric(x)), class = "json")   # numeric scalar
jmat <- function(M) {                        # matrix -> array of row arrays (row-major)
  M <- as.matrix(M)
  structure(paste0("[", paste(apply(M, 1, function(r) paste0("[", paste(fmt(r), collapse = ","), "]")),
                              collapse = ","), "]"), class = "json")
}
wjson <- function(x, path) {             # *.gz paths are gzip-compressed (keeps the committed data < 2 MB)
  txt <- toJSON(x, json_verbatim = TRUE, na = "null", auto_unbox = FALSE, pretty = FALSE, digits = NA)
  con <- if (grepl("\\.gz$", path)) gzfile(path, "w") else file(path, "w")
  writeLines(txt, con); close(con)
}
ub <- function(x) if (is.null(x)) NULL else unbox(x)
casedir <- function(name) { d <- file.path(OUT, name); dir.create(d, showWarnings = FALSE); d }

sets_to_list <- function(sets) {
  if (is.null(sets$cs) || length(sets$cs) == 0)
    return(list(n_cs = ub(0L), cs_names = character(0), cs_1based = list(), cs_0based = list(),
                cs_index = integer(0), coverage = numeric(0),
                requested_coverage = jsc(sets$requested_coverage),
                purity = list(min_abs_corr = numeric(0), mean_abs_corr = numeric(0), median_abs_corr = numeric(0))))
  list(n_cs = ub(length(sets$cs)),
       cs_names = names(sets$cs),
       cs_1based = unname(lapply(sets$cs, as.integer)),
       cs_0based = unname(lapply(sets$cs, function(v) as.integer(v) - 1L)),
       cs_index = as.integer(sets$cs_index),          # 1-based row of alpha (effect index)
       coverage = jnum(sets$coverage),
       requested_coverage = jsc(sets$requested_coverage),
       purity = list(min_abs_corr = jnum(sets$purity[, 1]), mean_abs_corr = jnum(sets$purity[, 2]),
                     median_abs_corr = jnum(sets$purity[, 3])))
}
fit_to_list <- function(fit, extra = list()) {
  out <- list(
    alpha = jmat(fit$alpha), mu = jmat(fit$mu), mu2 = jmat(fit$mu2),
    lbf = jnum(fit$lbf), lbf_variable = jmat(fit$lbf_variable),
    KL = jnum(fit$KL), V = jnum(fit$V), sigma2 = jsc(fit$sigma2),
    elbo = jnum(fit$elbo), niter = ub(as.integer(fit$niter)),
    converged = ub(isTRUE(fit$converged)),
    pip = jnum(fit$pip),
    sets = sets_to_list(fit$sets),
    posterior_mean = jnum(susie_get_posterior_mean(fit)),
    posterior_sd = jnum(susie_get_posterior_sd(fit)),
    pi = jnum(fit$pi),                       # prior weights as used (normalised; incl. null column if any)
    null_index = ub(as.integer(if (is.null(fit$null_index)) 0L else fit$null_index)),  # 1-based, 0 = none
    dims = list(L = ub(nrow(fit$alpha)), ncol_alpha = ub(ncol(fit$alpha)), length_pip = ub(length(fit$pip))))
  if (!is.null(fit$intercept)) out$intercept <- jsc(fit$intercept)
  if (!is.null(fit$X_column_scale_factors)) out$X_column_scale_factors <- jnum(fit$X_column_scale_factors)
  c(out, extra)
}
capture <- function(expr) {   # run, capturing warnings & messages
  w <- character(0); m <- character(0)
  val <- withCallingHandlers(expr,
    warning = function(c) { w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") },
    message = function(c) { m <<- c(m, conditionMessage(c)); invokeRestart("muffleMessage") })
  list(value = val, warnings = w, messages = m)
}
write_case <- function(name, call, fit_cap, extra = list()) {
  d <- casedir(name)
  call$susieR_version <- ub(as.character(packageVersion("susieR")))
  call$R_version <- ub(R.version.string)
  wjson(call, file.path(d, "call.json"))
  ex <- fit_to_list(fit_cap$value, extra)
  ex$r_warnings <- fit_cap$warnings
  ex$r_messages <- gsub("\033\\[[0-9;]*m", "", fit_cap$messages)
  wjson(ex, file.path(d, "expected.json.gz"))
  cat(sprintf("%-30s niter=%3d conv=%s ncs=%d sigma2=%.4g V=%s\n", name, fit_cap$value$niter,
              fit_cap$value$converged, length(fit_cap$value$sets$cs), fit_cap$value$sigma2,
              paste(sprintf("%.3g", fit_cap$value$V), collapse = ",")))
}

## ---------- shared inputs: N3 window (p = 410, n = 574) ----------
R <- rmat(file.path(SH_IN, "N3w_R.tsv.gz")); dimnames(R) <- NULL
ss <- rmat(file.path(SH_IN, "N3w_y1_sumstats.tsv.gz"))
z <- ss[, 3]
n <- 574L; p <- ncol(R)
info <- fromJSON(file.path(SH_IN, "N3w_info.json"))
pos <- info$pos
IN_R <- "@shared/oracle/expected/_inputs/N3w_R.tsv.gz"
IN_SS <- "@shared/oracle/expected/_inputs/N3w_y1_sumstats.tsv.gz"
INP_RSS <- list(R = ub(IN_R), sumstats = ub(IN_SS))
Z_NOTE <- ub("z = column 3 ('z') of the sumstats file; call susie_rss(z=z, R=R, n=574, ...)")

## 1. null_weight
write_case("xs_01_null_weight",
  list(fun = ub("susie_rss"), args = list(n = ub(n), L = ub(10), null_weight = jsc(0.1)), inputs = INP_RSS, z_note = Z_NOTE,
       note = ub(paste("susie_suff_stat appends a null column (XtX row/col of 0, Xty 0, prior weight null_weight;",
                       "other weights (1-null_weight)/p). alpha/mu/mu2/lbf_variable/pi/X_column_scale_factors have p+1",
                       "columns, null_index = p+1 (1-based); pip and posterior_mean/sd have p entries; a CS containing",
                       "the null column would get purity -9."))),
  capture(susie_rss(z = z, R = R, n = n, L = 10, null_weight = 0.1)))

## 2. non-uniform prior weights, structured by distance to a mid-window 'TSS', NOT normalised
tss <- pos[205]
pw_dist <- exp(-abs(pos - tss) / 1e5)
d <- casedir("xs_02_prior_weights_dist"); wvec(file.path(d, "prior_weights.tsv.gz"), pw_dist)
write_case("xs_02_prior_weights_dist",
  list(fun = ub("susie_rss"), args = list(n = ub(n), L = ub(10)),
       inputs = c(INP_RSS, list(prior_weights = ub("prior_weights.tsv.gz"))), z_note = Z_NOTE,
       note = ub("prior_weights = exp(-|pos - pos[205]|/1e5) (unnormalised, passed as is; susieR divides by the sum)")),
  capture(susie_rss(z = z, R = R, n = n, L = 10, prior_weights = pw_dist)))

## 2b. prior weights with exact zeros (every 7th variable, and variable 13 = a true causal of y1) and a step
pw_zero <- ifelse(seq_len(p) > 205, 3, 1)
pw_zero[seq(7, p, by = 7)] <- 0
pw_zero[13] <- 0
d <- casedir("xs_03_prior_weights_zeros"); wvec(file.path(d, "prior_weights.tsv.gz"), pw_zero)
write_case("xs_03_prior_weights_zeros",
  list(fun = ub("susie_rss"), args = list(n = ub(n), L = ub(10)),
       inputs = c(INP_RSS, list(prior_weights = ub("prior_weights.tsv.gz"))), z_note = Z_NOTE,
       note = ub("prior_weights = 1 for j<=205, 3 for j>205, 0 for j in seq(7,p,7) and j=13 (1-based); unnormalised")),
  capture(susie_rss(z = z, R = R, n = n, L = 10, prior_weights = pw_zero)))

## 3. estimate_prior_method = "simple"
write_case("xs_04_prior_simple",
  list(fun = ub("susie_rss"), args = list(n = ub(n), L = ub(10), estimate_prior_method = ub("simple")),
       inputs = INP_RSS, z_note = Z_NOTE,
       note = ub("'simple': V stays at its initial value (scaled_prior_variance 0.2 x var_y 1) unless loglik(0) >= loglik(V), then V = 0")),
  capture(susie_rss(z = z, R = R, n = n, L = 10, estimate_prior_method = "simple")))

## 4. TGVIS joint gene-tissue-pair + variant matrix (Yang et al. 2025, Methods eq. 7-8), M = 410 N3 variants
## B: M x P sparse weight matrix; each column scaled so that b' R b = 1 (predicted expression has unit variance),
## then z_pair = b' z / sqrt(b' R b) = b' z, cor(pair, pair') = b' R b', cor(pair, variant) = R b.
## Pair 5 has weights = e_300 exactly: its row/column in the joint matrix equals variant 300's (exact singularity).
M <- p
Bspec <- list(
  list(idx = c(40, 45),            w = c(1, 0.5)),
  list(idx = c(40, 47, 120),       w = c(0.6, 0.6, -0.4)),
  list(idx = c(150, 152),          w = c(1, -0.7)),
  list(idx = c(200, 210, 220),     w = c(0.3, 0.3, 0.3)),
  list(idx = 300,                  w = 1),
  list(idx = c(300, 305),          w = c(1, 0.2)),
  list(idx = c(350, 380),          w = c(0.5, -0.5)),
  list(idx = c(10, 20, 30, 400),   w = c(0.25, -0.5, 0.75, 0.4)))
P <- length(Bspec)
B <- matrix(0, M, P)
for (k in seq_len(P)) B[Bspec[[k]]$idx, k] <- Bspec[[k]]$w
B <- sweep(B, 2, sqrt(colSums(B * (R %*% B))), "/")
stopifnot(identical(B[, 5], replace(numeric(M), 300, 1)))
RB <- R %*% B                                  # M x P
BtRB <- crossprod(B, RB); BtRB <- (BtRB + t(BtRB)) / 2
Rj <- rbind(cbind(BtRB, t(RB)), cbind(RB, R))  # (P+M) x (P+M)
stopifnot(isSymmetric(Rj), all(Rj[5, ] == Rj[P + 300, ]))
## GWAS z from a planted model: pair 2 causal (theta), variant 300 direct causal (gamma), n_gwas = 50,000,
## z = sqrt(n) R (B theta + gamma) + e, e ~ N(0, R) (R's zero eigenvalues dropped)
n_gwas <- 50000
theta <- c(0, 7, 0, 0, 0, 0, 0, 0) / sqrt(n_gwas)
gamma <- numeric(M); gamma[300] <- 5 / sqrt(n_gwas)
eg <- eigen(R, symmetric = TRUE)
set.seed(20250601)
e <- as.numeric(eg$vectors %*% (sqrt(pmax(eg$values, 0)) * rnorm(M)))
zg <- as.numeric(sqrt(n_gwas) * R %*% (B %*% theta + gamma)) + e
zj <- c(as.numeric(crossprod(B, zg)), zg)
d <- casedir("xs_05_tgvis_joint")
wvec(file.path(d, "z_joint.tsv.gz"), zj)
wmat(file.path(d, "joint_top.tsv.gz"), cbind(BtRB, t(RB)))
wmat(file.path(d, "B.tsv.gz"), B)
tg_inputs <- list(
  R_variants = ub(IN_R),
  joint_top = ub("joint_top.tsv.gz (P x (P+M)): rows 1..P of the joint matrix = [B'RB, B'R] exactly as passed"),
  z_joint = ub("z_joint.tsv.gz ((P+M) values) = c(B'z_gwas, z_gwas) exactly as passed"),
  B = ub("B.tsv.gz (M x P) standardised weights (b'Rb = 1), for reference"))
tg_note <- paste("Joint matrix Rj = [[B'RB, B'R],[RB, R]] with P = 8 pairs first, then M = 410 variants (R = N3w_R).",
  "Rebuild: top = joint_top; Rj = rbind(top, cbind(t(top[, (P+1):(P+M)]), R)). Pair 5 (0-based 4) weights = e_300 (1-based),",
  "so row 5 == row P+300 (0-based 4 and 307): Rj singular. z_gwas = sqrt(5e4) R (B theta + gamma) + N(0,R) noise,",
  "theta_2 = 7/sqrt(5e4), gamma_300 = 5/sqrt(5e4). z_pair = b'z_gwas/sqrt(b'Rb) (paper eq. 7 with upsilon = 0).")
tg_extra <- list(P = ub(P), M = ub(M), joint_min_eigenvalue = jsc(min(eigen(Rj, symmetric = TRUE, only.values = TRUE)$values)),
                 joint_diag = jnum(diag(Rj)), joint_rowsums = jnum(rowSums(Rj)))
write_case("xs_05_tgvis_joint",
  list(fun = ub("susie_rss"), args = list(n = ub(n_gwas), L = ub(10)), inputs = tg_inputs, note = ub(tg_note)),
  capture(susie_rss(z = zj, R = Rj, n = n_gwas, L = 10)), extra = tg_extra)

## 4b. same joint model with TGVIS prior weights pi = 1/P for pairs, 1/M for variants (unnormalised), L = 5
pw_tg <- c(rep(1 / P, P), rep(1 / M, M))
d <- casedir("xs_06_tgvis_joint_pw")
wvec(file.path(d, "prior_weights.tsv.gz"), pw_tg)
write_case("xs_06_tgvis_joint_pw",
  list(fun = ub("susie_rss"), args = list(n = ub(n_gwas), L = ub(5)),
       inputs = c(lapply(tg_inputs, function(s) ub(sub("^(joint_top|z_joint|B)", "../xs_05_tgvis_joint/\\1", s))),
                  list(prior_weights = ub("prior_weights.tsv.gz"))),
       note = ub(paste(tg_note, "prior_weights = c(rep(1/P,P), rep(1/M,M)) (sums to 2; susieR normalises)."))),
  capture(susie_rss(z = zj, R = Rj, n = n_gwas, L = 5, prior_weights = pw_tg)), extra = tg_extra)

## 5. susie_suff_stat, EM prior updates, residual variance fixed
XtX <- rmat(file.path(SHARED, "oracle", "expected", "susie_05_suff_stat", "XtX.tsv.gz")); dimnames(XtX) <- NULL
Xty <- as.numeric(rmat(file.path(SHARED, "oracle", "expected", "susie_05_suff_stat", "Xty.tsv.gz")))
sc <- fromJSON(file.path(SHARED, "oracle", "expected", "susie_05_suff_stat", "call.json"))
yty <- sc$args$yty
write_case("xs_07_ss_EM_fixed_resid",
  list(fun = ub("susie_suff_stat"),
       args = list(yty = jsc(yty), n = ub(n), L = ub(10), estimate_prior_method = ub("EM"),
                   residual_variance = jsc(6.5), estimate_residual_variance = ub(FALSE)),
       inputs = list(XtX = ub("@shared/oracle/expected/susie_05_suff_stat/XtX.tsv.gz"),
                     Xty = ub("@shared/oracle/expected/susie_05_suff_stat/Xty.tsv.gz")),
       note = ub("yty from shared susie_05_suff_stat/call.json; residual_variance fixed at 6.5 (var(y1) = 7.84)")),
  capture(susie_suff_stat(XtX = XtX, Xty = Xty, yty = yty, n = n, L = 10, estimate_prior_method = "EM",
                          residual_variance = 6.5, estimate_residual_variance = FALSE)))

## 6. warm start: s_init = susie_init_coef(c(263, 100), c(0.4, -0.3), p), L = 10 (init expanded to 10 effects)
s0 <- susie_init_coef(c(263, 100), c(0.4, -0.3), p)
write_case("xs_08_rss_s_init",
  list(fun = ub("susie_rss"), args = list(n = ub(n), L = ub(10)), inputs = INP_RSS, z_note = Z_NOTE,
       s_init = list(fun = ub("susie_init_coef"), coef_index_1based = c(263L, 100L), coef_index_0based = c(262L, 99L),
                     coef_value = jnum(c(0.4, -0.3)),
                     note = ub(paste("alpha[k, idx_k] = 1, mu[k, idx_k] = value_k, mu2 = mu^2 (2 x p); susie_suff_stat",
                                     "expands it to L = 10 (extra rows alpha = 1/p, mu = mu2 = 0), V = rep(0.2, 10),",
                                     "and starts from XtXr = XtX %*% colSums(alpha*mu)"))),
       note = ub("susie_rss(z, R, n = 574, L = 10, s_init = s0)")),
  capture(susie_rss(z = z, R = R, n = n, L = 10, s_init = s0)))

## 7. null_weight together with unnormalised prior weights (susieR: c(pw*(1-nw), nw), then divides by the sum)
write_case("xs_09_null_weight_prior_weights",
  list(fun = ub("susie_rss"), args = list(n = ub(n), L = ub(10), null_weight = jsc(0.2)),
       inputs = c(INP_RSS, list(prior_weights = ub("../xs_02_prior_weights_dist/prior_weights.tsv.gz"))), z_note = Z_NOTE,
       note = ub(paste("prior_weights = exp(-|pos-pos[205]|/1e5) unnormalised (xs_02); susieR forms c(pw*(1-0.2), 0.2)",
                       "and then normalises the whole vector, so the null column's final weight is NOT 0.2 (see pi)"))),
  capture(susie_rss(z = z, R = R, n = n, L = 10, null_weight = 0.2, prior_weights = pw_dist)))
cat("done\n")
