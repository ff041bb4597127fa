"""LD-mismatch gate (twasflow.ldcheck): detection and false-flag rates on simulated loci.

Each locus is a 250 kb msprime segment (two populations split ``--split`` generations ago, Ne 10,000 each)
from which three samples are drawn: the GWAS cohort's LD sample (pop A, 2,000 people), a panel from the
same population (pop A, other 500 people) and a panel from the other population (pop B, 500 people). GWAS
z-scores are ``z = sqrt(N) R_A b + e, e ~ N(0, R_A)`` (N = 50,000; 1-3 causal variants explaining 0.1-0.3 %
of variance each) — the twasflow simulator's model (simulate.stats.gwas_z). Scenarios, each checked against
the panel LD:

* ``clean``: panel from pop A (out-of-sample, same population: the usual GWAS / reference-panel case);
* ``flip``: clean, then the sign of z flipped at 2 variants with |z| > 2 (planted allele errors);
* ``population``: panel from pop B (GWAS LD differs from the panel's).

Reported: per-variant false-flag rate on clean loci (flagged / variants), loci with any flag, detection of
the planted flips (flagged / planted), loci of the other population with any flag, and median s (lambda).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_ldcheck.py --loci 60 --seed 1
"""

from __future__ import annotations

import argparse
import json
import time

import msprime
import numpy as np

from twasflow.ld import ld_matrix
from twasflow.ldcheck import ld_mismatch
from twasflow.simulate.stats import gwas_z, standardize_columns


def simulate_locus(seed: int, split: float, n_gwas_ld: int = 2000, n_panel: int = 500, length: float = 250_000):
    """Genotypes (dosages) of the three samples at the common variants of one segment."""
    dem = msprime.Demography()
    dem.add_population(name="A", initial_size=10_000)
    dem.add_population(name="B", initial_size=10_000)
    dem.add_population(name="ANC", initial_size=10_000)
    dem.add_population_split(time=split, derived=["A", "B"], ancestral="ANC")
    ts = msprime.sim_ancestry(samples={"A": n_gwas_ld + n_panel, "B": n_panel}, demography=dem, ploidy=2,
                              sequence_length=length, recombination_rate=1e-8, random_seed=seed)
    mts = msprime.sim_mutations(ts, rate=2e-8, model=msprime.BinaryMutationModel(), random_seed=seed)
    h = mts.genotype_matrix().astype(np.float64)  # (sites, 2 * individuals), A's individuals first
    d = (h[:, 0::2] + h[:, 1::2]).T
    gw, pa, pb = d[:n_gwas_ld], d[n_gwas_ld:n_gwas_ld + n_panel], d[n_gwas_ld + n_panel:]
    f = [x.mean(axis=0) / 2 for x in (gw, pa, pb)]
    common = np.all([(fi > 0.05) & (fi < 0.95) for fi in f], axis=0)
    return gw[:, common], pa[:, common], pb[:, common]


def run(n_loci: int, seed: int, split: float, n: float = 50_000) -> dict:
    rng = np.random.default_rng(seed)
    acc = {k: [] for k in ("clean_var_rate", "clean_locus_any", "flip_detect", "flip_other_rate", "pop_locus_any",
                           "pop_var_rate", "s_clean", "s_flip", "s_pop", "M", "clean_locus_any_fliprule",
                           "clean_locus_any_dentist", "pop_locus_any_fliprule", "pop_locus_any_dentist")}
    t0 = time.process_time()
    for i in range(n_loci):
        gw, pa, pb = simulate_locus(seed * 1000 + i + 1, split)
        M = gw.shape[1]
        gs, _, _ = standardize_columns(gw)
        beta = np.zeros(M)
        causal = rng.choice(M, size=rng.integers(1, 4), replace=False)
        beta[causal] = rng.choice([-1, 1], causal.size) * np.sqrt(rng.uniform(0.001, 0.003, causal.size))
        z = gwas_z(gs, beta, n, rng)
        Ra, Rb = ld_matrix(pa, monomorphic="zero"), ld_matrix(pb, monomorphic="zero")
        c = ld_mismatch(z, Ra, n)
        acc["clean_var_rate"].append(c.n_flagged / M)
        for name, chk in (("clean", c),):
            acc[f"{name}_locus_any_fliprule"].append(bool(np.any((chk.logLR > 2) & (np.abs(z) > 2))))
            acc[f"{name}_locus_any_dentist"].append(bool(np.any(chk.flagged & ~((chk.logLR > 2) & (np.abs(z) > 2)))))
        acc["clean_locus_any"].append(c.n_flagged > 0)
        acc["s_clean"].append(c.s)
        big = np.flatnonzero(np.abs(z) > 2)
        if big.size >= 2:
            flip = rng.choice(big, size=2, replace=False)
            zf = z.copy()
            zf[flip] *= -1
            f = ld_mismatch(zf, Ra, n)
            acc["flip_detect"].append(float(f.flagged[flip].mean()))
            other = np.ones(M, bool)
            other[flip] = False
            acc["flip_other_rate"].append(float(f.flagged[other].mean()))
            acc["s_flip"].append(f.s)
        p = ld_mismatch(z, Rb, n)
        acc["pop_locus_any"].append(p.n_flagged > 0)
        acc["pop_var_rate"].append(p.n_flagged / M)
        acc["pop_locus_any_fliprule"].append(bool(np.any((p.logLR > 2) & (np.abs(z) > 2))))
        acc["pop_locus_any_dentist"].append(bool(np.any(p.flagged & ~((p.logLR > 2) & (np.abs(z) > 2)))))
        acc["s_pop"].append(p.s)
        acc["M"].append(M)
    out = {"loci": n_loci, "seed": seed, "split_generations": split, "median_M": float(np.median(acc["M"])),
           "cpu_s": round(time.process_time() - t0, 1)}
    for k in ("clean_var_rate", "flip_other_rate", "pop_var_rate", "flip_detect"):
        out[k] = float(np.mean(acc[k])) if acc[k] else float("nan")
    for k in ("clean_locus_any", "pop_locus_any", "clean_locus_any_fliprule", "clean_locus_any_dentist",
              "pop_locus_any_fliprule", "pop_locus_any_dentist"):
        out[k] = float(np.mean(acc[k]))
    out["n_flip_loci"] = len(acc["flip_detect"])
    for k in ("s_clean", "s_flip", "s_pop"):
        out[f"median_{k}"] = float(np.median(acc[k])) if acc[k] else float("nan")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--loci", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--split", type=float, default=2000.0, help="generations since the two populations split")
    a = ap.parse_args()
    print(json.dumps(run(a.loci, a.seed, a.split), indent=1))


if __name__ == "__main__":
    main()
