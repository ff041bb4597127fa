#!/bin/sh
# Expected PLINK 1.9 --clump outputs on the real 1000G EUR windows with the real BOLT-LMM file
# (PLINK v1.90b6.26 64-bit (2 Apr 2022), Debian plink1.9). Run from this directory:
#   sh commands.sh /work/shared/data/genotypes
set -e
G=${1:-../../../../shared/data/genotypes}
S=$G/polypred_1000G_EUR/bolt.sumstats.txt.gz
P="plink1.9 --threads 1 --silent"
for c in 2 12 18 22; do
  B=$G/1000G.EUR.hg19.chr${c}_20-21Mb
  # A: PLINK defaults (p1 1e-4, p2 0.01, r2 0.5, kb 250)
  $P --bfile $B --clump $S --clump-field P_BOLT_LMM --out chr${c}_A_default
  # B: twasflow config defaults (p1 5e-8, p2 5e-8, r2 0.01, kb 1000)
  $P --bfile $B --clump $S --clump-field P_BOLT_LMM --clump-p1 5e-8 --clump-p2 5e-8 --clump-r2 0.01 --clump-kb 1000 --out chr${c}_B_pipeline
  # C: p1 5e-8, p2 1e-5, r2 0.1, kb 500 with overlap allowed
  $P --bfile $B --clump $S --clump-field P_BOLT_LMM --clump-p1 5e-8 --clump-p2 1e-5 --clump-r2 0.1 --clump-kb 500 --clump-allow-overlap --out chr${c}_C_overlap
done
rm -f *.nosex *.log
