"""Coalescent genotypes for the bundled example: one msprime population shared by every cohort.

All cohorts (reference panel, xQTL cohorts, GWAS-LD cohort) are disjoint sets of individuals drawn from
one simulated population, so their LD patterns agree in expectation but differ by sampling noise, as they
would for real cohorts of the same ancestry.
"""

from __future__ import annotations

from dataclasses import dataclass

import msprime
import numpy as np

# Ordered allele pairs by class. Transitions are about twice as common as transversions in real data;
# palindromic (A/T, C/G) SNPs get their own, configurable share so harmonization has some to handle.
_TRANSITIONS = np.array([("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")])
_NON_PALINDROMIC_TV = np.array([("A", "C"), ("C", "A"), ("G", "T"), ("T", "G")])
_PALINDROMIC = np.array([("A", "T"), ("T", "A"), ("C", "G"), ("G", "C")])


@dataclass(frozen=True)
class ChromGenotypes:
    """Phased biallelic SNVs of one chromosome for every simulated individual.

    Attributes
    ----------
    chrom : str
        Chromosome name without prefix (``"1"``).
    pos : ndarray, shape (M,), int64
        1-based GRCh38-like positions, strictly increasing.
    ref, alt : ndarray, shape (M,), str
        REF (ancestral) and ALT (derived) alleles; ALT is the counted allele everywhere.
    haplotypes : ndarray, shape (M, 2 * N), int8
        ALT indicator per haplotype; individual ``i`` owns columns ``2 i`` and ``2 i + 1``.
    """

    chrom: str
    pos: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    haplotypes: np.ndarray

    @property
    def n_variants(self) -> int:
        return int(self.pos.shape[0])

    def dosage(self, individuals: np.ndarray) -> np.ndarray:
        """ALT dosages of the given individuals, shape (n, M), float64 in {0, 1, 2}."""
        h = self.haplotypes
        return (h[:, 2 * individuals].astype(np.float64) + h[:, 2 * individuals + 1]).T

    def dosage_pooled(self, variant_idx: np.ndarray) -> np.ndarray:
        """ALT dosages of every simulated individual at the given variants, shape (N, k), float64."""
        h = self.haplotypes[variant_idx].astype(np.float64)
        return (h[:, 0::2] + h[:, 1::2]).T

    def variant_ids(self) -> np.ndarray:
        """``{chrom}:{pos}:{REF}:{ALT}`` ids, shape (M,)."""
        return np.array(
            [f"{self.chrom}:{p}:{r}:{a}" for p, r, a in zip(self.pos.tolist(), self.ref, self.alt)], dtype=object
        )


def draw_alleles(rng: np.random.Generator, m: int, palindromic_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Draw REF/ALT letters for ``m`` SNVs.

    Transitions take 2/3 of the sites, palindromic transversions ``palindromic_fraction``, other
    transversions the rest.

    Returns
    -------
    ref, alt : ndarray, shape (m,), dtype '<U1'
    """
    p_ts = 2.0 / 3.0
    p_pal = float(palindromic_fraction)
    if not 0.0 <= p_pal <= 1.0 - p_ts:
        raise ValueError(f"palindromic_fraction must be in [0, {1 - p_ts:.3f}], got {p_pal}")
    cls = rng.choice(3, size=m, p=[p_ts, 1.0 - p_ts - p_pal, p_pal])
    which = rng.integers(0, 4, size=m)
    table = np.stack([_TRANSITIONS, _NON_PALINDROMIC_TV, _PALINDROMIC])  # (3, 4, 2)
    pairs = table[cls, which]
    return pairs[:, 0].astype("<U1"), pairs[:, 1].astype("<U1")


def simulate_chromosome(
    chrom: str,
    *,
    offset: int,
    length: int,
    n_individuals: int,
    panel_individuals: np.ndarray,
    n_sites: int,
    maf_min: float,
    ne: float,
    recombination_rate: float,
    mutation_rate: float,
    palindromic_fraction: float,
    ancestry_seed: int,
    mutation_seed: int,
    rng: np.random.Generator,
) -> ChromGenotypes:
    """Simulate one chromosome and keep ``n_sites`` common SNVs.

    Parameters
    ----------
    chrom : str
        Chromosome name.
    offset : int
        Position (bp) of the simulated segment's first base minus one; positions are ``offset + x + 1``.
    length : int
        Segment length in bp.
    n_individuals : int
        Diploid individuals simulated (all cohorts together).
    panel_individuals : ndarray of int
        Individuals whose allele frequency defines "common" (MAF >= ``maf_min``).
    n_sites : int
        Sites kept, drawn uniformly without replacement among the common biallelic sites (all of them if
        fewer exist).
    ne, recombination_rate, mutation_rate : float
        Constant effective size, per-bp per-generation rates.
    ancestry_seed, mutation_seed : int
        msprime seeds (1 .. 2**32 - 1).
    rng : numpy Generator
        Stream for thinning and allele letters.
    """
    ts = msprime.sim_ancestry(
        samples=n_individuals,
        ploidy=2,
        sequence_length=length,
        recombination_rate=recombination_rate,
        population_size=ne,
        discrete_genome=True,
        random_seed=ancestry_seed,
    )
    # A binary model keeps every site biallelic (recurrent hits only flip back and forth).
    mts = msprime.sim_mutations(
        ts, rate=mutation_rate, model=msprime.BinaryMutationModel(), discrete_genome=True, random_seed=mutation_seed
    )
    panel_nodes = np.sort(np.concatenate([2 * panel_individuals, 2 * panel_individuals + 1])).astype(np.int32)
    g_panel = mts.genotype_matrix(samples=panel_nodes)
    f = g_panel.mean(axis=1)
    common = np.flatnonzero(np.minimum(f, 1.0 - f) >= maf_min)
    if common.size > n_sites:
        keep = np.sort(rng.choice(common, size=n_sites, replace=False))
    else:
        keep = common
    sub = mts.delete_sites(np.setdiff1d(np.arange(mts.num_sites), keep))
    hap = sub.genotype_matrix().astype(np.int8)
    pos = sub.sites_position.astype(np.int64) + offset + 1
    ref, alt = draw_alleles(rng, pos.shape[0], palindromic_fraction)
    return ChromGenotypes(chrom=chrom, pos=pos, ref=ref, alt=alt, haplotypes=hap)


def is_palindromic(ref: np.ndarray, alt: np.ndarray) -> np.ndarray:
    """True where the allele pair is A/T or C/G (strand-ambiguous), shape (M,)."""
    pair = np.char.add(ref.astype("<U1"), alt.astype("<U1"))
    return np.isin(pair, ["AT", "TA", "CG", "GC"])
