# Make the FUSION fixtures of tests/data/inputs (README here) with R's own save(), as FUSION writes .wgt.RDat:
#   Rscript tests/data/inputs/make_fusion.R   (from the repository root)
# Three genes on the 1000G chr22 window; weights are seeded random numbers (not fitted: the tests check the
# reader, the model choice and the TWAS formula, not FUSION's fitting). Objects and layout as in FUSION.compute_weights.R.
set.seed(19)
d = "tests/data/inputs"
bim = read.table(file.path(d, "chr22_20.0-20.1Mb.bim"), stringsAsFactors = FALSE)
models = c("top1", "blup", "lasso", "enet")
# rsq per model (rows rsq, pval): g1's best is top1 (FUSION then takes the best other: enet),
# g2's best is lasso, g3's best is blup
rsq = list(g1 = c(0.30, 0.10, 0.12, 0.20), g2 = c(0.05, 0.08, 0.25, 0.22), g3 = c(0.02, 0.18, 0.10, 0.11))
rows = list(g1 = 20:39, g2 = 100:129, g3 = 200:214)
pos = data.frame(WGT = character(), ID = character(), CHR = integer(), P0 = integer(), P1 = integer(), N = integer())
for (g in names(rows)) {
  snps = bim[rows[[g]], ]
  k = nrow(snps)
  swap = seq(2, k, by = 3)  # FUSION's own A1/A2 of these are the panel's swapped
  a1 = snps$V5; snps$V5[swap] = snps$V6[swap]; snps$V6[swap] = a1[swap]
  if (g == "g3") { snps$V2[k] = "rs_not_in_panel"; snps$V4[k] = snps$V4[k] + 1L }  # by id and position
  wgt.matrix = matrix(0, k, 4, dimnames = list(snps$V2, models))
  wgt.matrix[, "top1"] = round(rnorm(k, sd = 3), 4)
  wgt.matrix[, "blup"] = round(rnorm(k, sd = 0.05), 6)
  wgt.matrix[sample(k, 3), "lasso"] = round(rnorm(3, sd = 0.3), 6)
  wgt.matrix[sample(k, 5), "enet"] = round(rnorm(5, sd = 0.2), 6)
  wgt.matrix[1, "blup"] = NA  # FUSION sets NA weights to 0
  cv.performance = rbind(rsq = rsq[[g]], pval = 10^-(rsq[[g]] * 40))
  colnames(cv.performance) = models
  hsq = c(0.2, 0.05); hsq.pv = 1e-4; N.tot = 465L
  f = paste0("fusion_", g, ".wgt.RDat")
  save(wgt.matrix, snps, cv.performance, hsq, hsq.pv, N.tot, file = file.path(d, f))
  pos[nrow(pos) + 1, ] = list(f, g, 22L, min(snps$V4), max(snps$V4), 465L)
}
write.table(pos, file.path(d, "fusion_weights.pos"), sep = "\t", quote = FALSE, row.names = FALSE)
