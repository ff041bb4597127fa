"""A genome-wide synthetic data set for the scale benchmark: 22 autosomes, a few hundred GWAS loci, ≥ 20 tissues.

``make_genome(out_dir, seed, **params)`` writes (paths relative to ``out_dir``)::

    panel/genome.bed/.bim/.fam                   reference panel, every chromosome (A1 = ALT, A2 = REF)
    genes.tsv                                    gene annotation (same columns as the example's)
    xqtl/{tissue}.{eQTL|sQTL}.chr{c}.parquet     GTEx v8 all-pairs layout, one file per chromosome
    gwas/{trait}.tsv.gz                          GWAS-SSF summary statistics (30 % of rows on the other allele)
    gwas/{trait}.truth.tsv                       planted causal pairs and direct variants
    truth_xqtl.tsv                               planted xQTL effects (standardized scale)
    gwas.tsv, xqtl.tsv                           sample sheets for the workflow (paths relative to out_dir)
    manifest.json                                seed, parameters, sha256 of every file, counts

Model (see ``docs/scale.md``). The genome is a set of *slots*: short, independently simulated coalescent
segments (``segment_length`` bp, ``variants_per_segment`` common SNVs) spread evenly over the 22 GRCh38
autosomes (in proportion to their length, never inside the MHC), far enough apart that no two slots fall in
one GWAS locus. Only the slots carry variants, which keeps the panel small while every per-locus stage sees a
realistic locus. Every slot holds ``genes_per_segment`` genes; each gene has 1–3 cis-eQTL variants whose effects
are shared across the tissues that express it (correlation ``shared_effect_corr``); a share of genes also has
an sQTL intron in the ``sqtl_tissues``. Each trait gets a planted signal in a slot with probability
``p_signal`` — a causal gene–tissue pair (probability ``p_pair``) or a direct variant — scaled to an expected
peak |z| drawn from ``z_range``; every slot carries at least one trait's signal.

The xQTL donors are one cohort shared by every tissue (as GTEx donors are): tissue ``t`` uses its own seeded
subset of ``xqtl_n[t]`` donors, with independent phenotype noise per tissue. The reference panel and the
GWAS-LD cohort are disjoint from the donors. Same seed and parameters → byte-identical files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twasflow.errors import ConfigError
from twasflow.io.tables import write_json, write_tsv
from twasflow.simulate import stats, writers
from twasflow.simulate.common import msprime_seed, named_rng, scale_to_h2
from twasflow.simulate.example import _Cohorts, _rsids, _variant_sets
from twasflow.simulate.genotypes import ChromGenotypes, is_palindromic, simulate_chromosome

BUILD = "GRCh38"
AUTOSOMES: tuple[str, ...] = tuple(str(c) for c in range(1, 23))

# GRCh38 primary-assembly autosome lengths (bp).
GRCH38_AUTOSOME_LENGTHS: dict[str, int] = {
    "1": 248_956_422, "2": 242_193_529, "3": 198_295_559, "4": 190_214_555, "5": 181_538_259,
    "6": 170_805_979, "7": 159_345_973, "8": 145_138_636, "9": 138_394_717, "10": 133_797_422,
    "11": 135_086_622, "12": 133_275_309, "13": 114_364_328, "14": 107_043_718, "15": 101_991_189,
    "16": 90_338_345, "17": 83_257_441, "18": 80_373_285, "19": 58_617_616, "20": 64_444_167,
    "21": 46_709_983, "22": 50_818_468,
}

# Slots keep this far (bp) from the GRCh38 MHC (6:28510120-33480577) so no locus window reaches into it.
_MHC = ("6", 28_510_120, 33_480_577)
_MHC_MARGIN = 2_500_000
# Slots keep this far (bp) from chromosome ends.
_END_MARGIN = 3_000_000

# Twenty GTEx v8 tissue names with donor counts scaled to a 500-donor cohort.
DEFAULT_TISSUES: dict[str, int] = {
    "Adipose_Subcutaneous": 460, "Adipose_Visceral_Omentum": 380, "Artery_Aorta": 310, "Artery_Tibial": 450,
    "Brain_Cortex": 170, "Brain_Cerebellum": 180, "Colon_Transverse": 310, "Esophagus_Mucosa": 390,
    "Heart_Left_Ventricle": 300, "Liver": 210, "Lung": 400, "Muscle_Skeletal": 500, "Nerve_Tibial": 410,
    "Pancreas": 240, "Pituitary": 190, "Skin_Sun_Exposed_Lower_leg": 450, "Spleen": 180, "Stomach": 250,
    "Thyroid": 440, "Whole_Blood": 490,
}

CIS_WINDOW = 1_000_000


@dataclass(frozen=True)
class GenomeParams:
    """Parameters of the genome-wide data set; the defaults give the scale benchmark's data.

    Attributes
    ----------
    chroms : tuple of str
        Chromosomes carrying slots (GRCh38 autosome names).
    n_slots : int
        Slots (independent segments, each a GWAS locus of at least one trait) over all chromosomes.
    segment_length : int
        Length (bp) of one slot's simulated segment.
    variants_per_segment : int
        Common SNVs kept per segment.
    min_slot_spacing : int
        Smallest distance (bp) between the starts of two slots on a chromosome; raise it above
        ``segment_length + 2 * loci.radius_kb`` so slots never merge into one locus.
    n_panel, n_donors, n_gwas_ld : int
        Reference-panel individuals, xQTL donors (shared by the tissues) and the GWAS-LD cohort.
    xqtl_n : dict
        eQTL tissue -> donors with that tissue (≤ ``n_donors``).
    sqtl_tissues : tuple of str
        Tissues (among ``xqtl_n``) that also get an sQTL data set.
    traits : dict
        Trait -> GWAS sample size N.
    genes_per_segment : int
        Genes in each slot.
    p_expressed, shared_effect_corr, h2_range, p_sqtl_gene, sqtl_h2_range : float
        eQTL architecture: probability a gene is expressed (has an eQTL) in a tissue, correlation of one eQTL
        variant's effect across tissues, per-tissue cis-heritability range; share of genes with an sQTL intron
        and its heritability range.
    p_signal, p_pair : float
        Probability a trait has a signal in a slot, and that the signal is a gene–tissue pair (else a
        direct variant).
    z_range : tuple of float
        Expected peak |z| of a planted signal (uniform draw).
    maf_min, xqtl_maf_min, eligible_maf_min, ne, recombination_rate, mutation_rate, palindromic_fraction :
        As in :class:`twasflow.simulate.example.ExampleParams`.
    frac_xqtl_only, frac_panel_only, frac_gwas_not_in_panel, frac_swapped : float
        As in :class:`twasflow.simulate.example.ExampleParams` (file-membership defects and swapped rows).
    """

    chroms: tuple[str, ...] = AUTOSOMES
    n_slots: int = 200
    segment_length: int = 1_000_000
    variants_per_segment: int = 500
    min_slot_spacing: int = 3_500_000
    n_panel: int = 500
    n_donors: int = 500
    n_gwas_ld: int = 1000
    xqtl_n: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TISSUES))
    sqtl_tissues: tuple[str, ...] = ("Muscle_Skeletal", "Whole_Blood")
    traits: dict[str, int] = field(default_factory=lambda: {"LDL_gw": 300_000, "BMI_gw": 400_000})
    genes_per_segment: int = 8
    p_expressed: float = 0.7
    shared_effect_corr: float = 0.8
    h2_range: tuple[float, float] = (0.05, 0.3)
    p_sqtl_gene: float = 0.3
    sqtl_h2_range: tuple[float, float] = (0.1, 0.4)
    p_signal: float = 0.75
    p_pair: float = 0.7
    z_range: tuple[float, float] = (7.0, 12.0)
    maf_min: float = 0.01
    xqtl_maf_min: float = 0.01
    eligible_maf_min: float = 0.05
    ne: float = 10_000.0
    recombination_rate: float = 1e-8
    mutation_rate: float = 1.25e-8
    palindromic_fraction: float = 0.05
    frac_xqtl_only: float = 0.02
    frac_panel_only: float = 0.02
    frac_gwas_not_in_panel: float = 0.005
    frac_swapped: float = 0.3

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able dict of every parameter."""
        return dataclasses.asdict(self)


def _parse_params(params: dict[str, Any]) -> GenomeParams:
    names = {f.name for f in dataclasses.fields(GenomeParams)}
    for k in params:
        if k not in names:
            raise ConfigError.at("unknown genome parameter", column=k, found=repr(k), expected=f"one of {sorted(names)}")
    if "chroms" in params:
        params = {**params, "chroms": tuple(str(c) for c in params["chroms"])}
    p = GenomeParams(**params)
    bad = [c for c in p.chroms if c not in GRCH38_AUTOSOME_LENGTHS]
    if bad:
        raise ConfigError.at("not an autosome", column="chroms", found=bad, expected="names among 1..22")
    big = {t: n for t, n in p.xqtl_n.items() if not 3 <= n <= p.n_donors}
    if big:
        raise ConfigError.at("tissue sample size out of range", column="xqtl_n", found=big,
                             expected=f"3 <= n <= n_donors = {p.n_donors}")
    if any(t not in p.xqtl_n for t in p.sqtl_tissues):
        raise ConfigError.at("sQTL tissue without donors", column="sqtl_tissues", found=list(p.sqtl_tissues),
                             expected=f"tissues among {sorted(p.xqtl_n)}")
    if p.n_slots < 1:
        raise ConfigError.at("no slot", column="n_slots", found=p.n_slots, expected="an integer >= 1")
    return p


def slot_offsets(p: GenomeParams) -> dict[str, np.ndarray]:
    """Segment offsets (position of the base before each segment) per chromosome, shape (n_c,), int64.

    Slots are dealt to chromosomes in proportion to the usable length (largest remainders) and spread evenly
    over it, the MHC and the chromosome ends excluded.

    Raises
    ------
    ConfigError
        When a chromosome cannot hold its slots ``min_slot_spacing`` apart.
    """
    usable: dict[str, list[tuple[int, int]]] = {}
    for c in p.chroms:
        lo, hi = _END_MARGIN, GRCH38_AUTOSOME_LENGTHS[c] - _END_MARGIN - p.segment_length
        if c == _MHC[0]:
            usable[c] = [(lo, _MHC[1] - _MHC_MARGIN - p.segment_length), (_MHC[2] + _MHC_MARGIN, hi)]
        else:
            usable[c] = [(lo, hi)]
    size = np.array([sum(b - a for a, b in usable[c]) for c in p.chroms], dtype=float)
    quota = p.n_slots * size / size.sum()
    n = np.floor(quota).astype(int)
    n[np.argsort(-(quota - n), kind="stable")[: p.n_slots - int(n.sum())]] += 1
    out: dict[str, np.ndarray] = {}
    for c, k in zip(p.chroms, n.tolist()):
        if k == 0:
            continue
        # even grid over the concatenated usable intervals, mapped back to genome positions
        total = sum(b - a for a, b in usable[c])
        step = total / k
        u = (np.arange(k) + 0.5) * step
        pos = []
        for x in u:
            for a, b in usable[c]:
                if x <= b - a:
                    pos.append(a + x)
                    break
                x -= b - a
        offs = np.round(np.asarray(pos)).astype(np.int64)
        if k > 1 and np.diff(offs).min() < p.min_slot_spacing:
            raise ConfigError.at("slots too dense", column="n_slots", found=p.n_slots,
                                 expected=f"fewer slots: chromosome {c} holds {k} at < {p.min_slot_spacing} bp")
        out[c] = offs
    return out


@dataclass(frozen=True)
class _Gene:
    gene_id: str
    gene_name: str
    version: int
    chrom: str
    start: int
    end: int
    strand: str
    tss: int


@dataclass(frozen=True)
class _Pheno:
    """One molecular phenotype in one tissue with its true cis effects (segment-local variant indices)."""

    pair_id: str
    phenotype_id: str
    gene: _Gene
    tissue: str
    qtl_type: str
    h2: float
    variant_idx: np.ndarray
    effects: np.ndarray


def _genes(rng: np.random.Generator, chrom: str, offset: int, p: GenomeParams, first: int) -> list[_Gene]:
    """``genes_per_segment`` genes with TSS spread over the segment; ids count up from ``first``."""
    k = p.genes_per_segment
    grid = np.linspace(0.08, 0.92, k) * p.segment_length
    spacing = 0.84 * p.segment_length / max(k - 1, 1)
    tss = np.sort(np.round(grid + rng.uniform(-0.3, 0.3, k) * spacing).astype(np.int64)) + offset
    strand = np.where(rng.random(k) < 0.5, "+", "-")
    glen = np.clip(np.round(rng.lognormal(np.log(25_000), 0.8, k)), 2_000, 150_000).astype(np.int64)
    version = rng.integers(1, 20, k)
    lo, hi = offset + 1, offset + p.segment_length
    out = []
    for j in range(k):
        s, e = (tss[j], tss[j] + glen[j] - 1) if strand[j] == "+" else (tss[j] - glen[j] + 1, tss[j])
        i = first + j
        out.append(_Gene(f"ENSG8{i:010d}", f"GWG{i}", int(version[j]), chrom, int(max(s, lo)), int(min(e, hi)),
                         str(strand[j]), int(tss[j])))
    return out


def _pick(rng: np.random.Generator, pos: np.ndarray, pool: np.ndarray, centre: int, scale: float, k: int) -> np.ndarray:
    """Up to ``k`` distinct pool variants, favouring those near ``centre`` (exponential kernel, ``scale`` bp)."""
    cand = np.flatnonzero(pool)
    if cand.size == 0:
        return cand
    w = np.exp(-np.abs(pos[cand] - centre) / scale)
    return np.sort(rng.choice(cand, size=min(k, cand.size), replace=False, p=w / w.sum()))


def _design_xqtl(rng: np.random.Generator, g: ChromGenotypes, eligible: np.ndarray, genes: list[_Gene],
                 p: GenomeParams) -> list[_Pheno]:
    """eQTLs of every gene in the tissues that express it, then sQTL introns in ``sqtl_tissues``."""
    tissues = list(p.xqtl_n)
    n_t = len(tissues)
    hap = g.haplotypes
    out: list[_Pheno] = []
    rho = p.shared_effect_corr
    for gene in genes:
        k = int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2]))
        idx = _pick(rng, g.pos, eligible, gene.tss, 50_000.0, k)
        expressed = rng.random(n_t) < p.p_expressed
        base, private = rng.standard_normal(idx.size), rng.standard_normal((n_t, idx.size))
        h2 = rng.uniform(*p.h2_range, size=n_t)
        if idx.size == 0 or not expressed.any():
            continue
        pop_f = hap[idx].mean(axis=1, dtype=np.float64)
        dos = (hap[idx, 0::2].astype(np.float64) + hap[idx, 1::2]).T
        z_pool = (dos - 2.0 * pop_f) / np.sqrt(2.0 * pop_f * (1.0 - pop_f))
        w = np.sqrt(rho) * base[:, None] + np.sqrt(1.0 - rho) * private.T  # (k, T)
        b = scale_to_h2(z_pool, w, 1.0) * np.sqrt(h2)
        pid = f"{gene.gene_id}.{gene.version}"
        for t in np.flatnonzero(expressed).tolist():
            out.append(_Pheno(f"{pid}|{tissues[t]}|eQTL", pid, gene, tissues[t], "eQTL", float(h2[t]), idx, b[:, t]))
        # an sQTL intron: its own 1-2 variants near the TSS, in every sQTL tissue that expresses the gene
        u, k_s = rng.random(), int(rng.integers(1, 3))
        h2_s = rng.uniform(*p.sqtl_h2_range)
        i_start = gene.start + int(rng.integers(0, max(1, (gene.end - gene.start) // 2)))
        i_end = i_start + int(rng.integers(100, max(200, (gene.end - gene.start) // 3)))
        ws = rng.standard_normal(k_s)
        if u >= p.p_sqtl_gene:
            continue
        s_idx = _pick(rng, g.pos, eligible, gene.tss, 30_000.0, k_s)
        if s_idx.size == 0:
            continue
        pop_f = hap[s_idx].mean(axis=1, dtype=np.float64)
        dos = (hap[s_idx, 0::2].astype(np.float64) + hap[s_idx, 1::2]).T
        zs = (dos - 2.0 * pop_f) / np.sqrt(2.0 * pop_f * (1.0 - pop_f))
        bs = scale_to_h2(zs, ws[: s_idx.size], h2_s)
        spid = f"chr{gene.chrom}:{i_start}:{i_end}:clu_{gene.gene_id[5:].lstrip('0')}:{pid}"
        for tissue in p.sqtl_tissues:
            if expressed[tissues.index(tissue)]:
                out.append(_Pheno(f"{spid}|{tissue}|sQTL", spid, gene, tissue, "sQTL", float(h2_s), s_idx, bs))
    return out


def _xqtl_stats(seed: int, tag: str, g: ChromGenotypes, in_xqtl: np.ndarray, donors: dict[str, np.ndarray],
                phenos: list[_Pheno], p: GenomeParams) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """GTEx-layout marginal statistics of one segment, keyed by (tissue, qtl_type)."""
    out: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    p_pop = g.haplotypes.mean(axis=1, dtype=np.float64)
    sd_pop = np.sqrt(2.0 * p_pop * (1.0 - p_pop))
    cols = np.flatnonzero(in_xqtl)
    pos = g.pos[cols]
    gtex_ids = np.array([f"chr{g.chrom}_{q}_{r}_{a}_b38" for q, r, a in zip(pos.tolist(), g.ref[cols], g.alt[cols])],
                        dtype=object)
    datasets = [(t, "eQTL") for t in p.xqtl_n] + [(t, "sQTL") for t in p.sqtl_tissues]
    for tissue, qtype in datasets:
        phs = [q for q in phenos if q.tissue == tissue and q.qtl_type == qtype]
        if not phs:
            continue
        ind = donors[tissue]
        n = ind.size
        d_all = g.dosage(ind)
        noise = named_rng(seed, f"noise/{tissue}/{qtype}/{tag}").standard_normal((n, len(phs)))
        y = np.empty((n, len(phs)))
        for j, q in enumerate(phs):
            zq = (d_all[:, q.variant_idx] - 2.0 * p_pop[q.variant_idx]) / sd_pop[q.variant_idx]
            y[:, j] = zq @ q.effects + np.sqrt(1.0 - q.h2) * noise[:, j]
        dos = d_all[:, cols]
        ols = stats.marginal_ols(dos, y)
        af = dos.mean(axis=0) / 2.0
        maf = np.minimum(af, 1.0 - af)
        alt_minor = af <= 0.5
        ma_count = np.where(alt_minor, dos.sum(axis=0), 2 * n - dos.sum(axis=0))
        ma_samples = np.where(alt_minor, (dos > 0).sum(axis=0), (dos < 2).sum(axis=0))
        keep = maf >= p.xqtl_maf_min
        parts: dict[str, list[np.ndarray]] = {f.name: [] for f in writers.GTEX_SCHEMA}
        for j, q in enumerate(phs):
            tss = q.gene.tss
            sel = np.flatnonzero(keep & (np.abs(pos - tss) <= CIS_WINDOW))
            parts["phenotype_id"].append(np.full(sel.size, q.phenotype_id, dtype=object))
            parts["variant_id"].append(gtex_ids[sel])
            parts["tss_distance"].append(pos[sel] - tss)
            parts["maf"].append(maf[sel])
            parts["ma_samples"].append(ma_samples[sel])
            parts["ma_count"].append(np.round(ma_count[sel]))
            parts["pval_nominal"].append(ols.pval[sel, j])
            parts["slope"].append(ols.slope[sel, j])
            parts["slope_se"].append(ols.slope_se[sel, j])
        out[(tissue, qtype)] = {k: np.concatenate(v) for k, v in parts.items()}
    return out


@dataclass
class _Segment:
    """What one slot contributes to the output files."""

    geno: ChromGenotypes
    sets: Any  # design.VariantSets
    genes: list[_Gene]
    phenos: list[_Pheno]
    xqtl: dict[tuple[str, str], dict[str, np.ndarray]]
    gwas: dict[str, pd.DataFrame]
    truth: list[dict[str, Any]]


def _plant(rng: np.random.Generator, trait: str, n_gwas: float, g: ChromGenotypes, eligible: np.ndarray,
           g_std: np.ndarray, phenos: list[_Pheno], kind: str, p: GenomeParams) -> tuple[np.ndarray, dict[str, Any]]:
    """Joint per-SD effects (M,) of one planted signal and its truth record."""
    m = g.n_variants
    sign = 1.0 if rng.random() < 0.5 else -1.0
    target = float(rng.uniform(*p.z_range))
    eqtl = [q for q in phenos if q.qtl_type == "eQTL"]
    if kind == "pair" and eqtl:
        q = eqtl[int(rng.integers(0, len(eqtl)))]
        b = np.zeros(m)
        b[q.variant_idx] = q.effects
        u = np.sqrt(n_gwas) * stats.ld_times(g_std, b)
        theta = sign * target / float(np.max(np.abs(u)))
        rec = {"kind": "pair", "pair_id": q.pair_id, "gene_id": q.gene.gene_id, "gene_name": q.gene.gene_name,
               "tissue": q.tissue, "qtl_type": q.qtl_type, "variant_id": None, "effect": theta}
        return theta * b, rec
    mediated = np.zeros(m, bool)
    for q in phenos:
        mediated[q.variant_idx] = True
    pool = eligible & ~mediated
    vi = int(_pick(rng, g.pos, pool if pool.any() else eligible, int(np.median(g.pos)), 1e12, 1)[0])
    beta = np.zeros(m)
    beta[vi] = sign * target / np.sqrt(n_gwas)
    rec = {"kind": "variant", "pair_id": None, "gene_id": None, "gene_name": None, "tissue": None,
           "qtl_type": None, "variant_id": f"{g.chrom}:{g.pos[vi]}:{g.ref[vi]}:{g.alt[vi]}", "effect": beta[vi]}
    return beta, rec


def _segment(seed: int, chrom: str, k: int, offset: int, coh: _Cohorts, donors: dict[str, np.ndarray],
             p: GenomeParams, first_gene: int) -> _Segment:
    tag = f"{chrom}/{k}"
    g = simulate_chromosome(
        chrom, offset=offset, length=p.segment_length, n_individuals=coh.total, panel_individuals=coh.panel,
        n_sites=p.variants_per_segment, maf_min=p.maf_min, ne=p.ne, recombination_rate=p.recombination_rate,
        mutation_rate=p.mutation_rate, palindromic_fraction=p.palindromic_fraction,
        ancestry_seed=msprime_seed(seed, f"ancestry/{tag}"), mutation_seed=msprime_seed(seed, f"mutations/{tag}"),
        rng=named_rng(seed, f"sites/{tag}"),
    )
    sets = _variant_sets(named_rng(seed, f"sets/{tag}"), g, coh, p)
    genes = _genes(named_rng(seed, f"genes/{tag}"), chrom, offset, p, first_gene)
    phenos = _design_xqtl(named_rng(seed, f"xqtl_design/{tag}"), g, sets.eligible, genes, p)
    xq = _xqtl_stats(seed, tag, g, sets.in_xqtl, donors, phenos, p)
    g_std = stats.standardize_columns(g.dosage(coh.gwas_ld))[0]

    # which traits have a signal here (at least one), and of which kind
    rng = named_rng(seed, f"plan/{tag}")
    traits = list(p.traits)
    has = rng.random(len(traits)) < p.p_signal
    if not has.any():
        has[int(rng.integers(0, len(traits)))] = True
    kinds = np.where(rng.random(len(traits)) < p.p_pair, "pair", "variant")

    gwas: dict[str, pd.DataFrame] = {}
    truth: list[dict[str, Any]] = []
    f_ld = sets.extra["f_gwas_ld"]
    sel = np.flatnonzero(sets.in_gwas)
    rs = _rsids(g)
    hint = f"{chrom}:{offset + 1}-{offset + p.segment_length}"
    for i, trait in enumerate(traits):
        n_gwas = float(p.traits[trait])
        beta = np.zeros(g.n_variants)
        if has[i]:
            beta, rec = _plant(named_rng(seed, f"truth/{trait}/{tag}"), trait, n_gwas, g, sets.eligible, g_std, phenos,
                               str(kinds[i]), p)
            truth.append({"trait": trait, **rec, "locus_hint": hint})
        z = stats.gwas_z(g_std, beta, n_gwas, named_rng(seed, f"gwas_noise/{trait}/{tag}"))
        b, se, pv = stats.z_to_beta_se(z, np.clip(f_ld, 1e-12, 1 - 1e-12), n_gwas)
        gwas[trait] = pd.DataFrame({
            "chromosome": int(chrom), "base_pair_location": g.pos[sel], "effect_allele": g.alt[sel],
            "other_allele": g.ref[sel], "beta": b[sel], "standard_error": se[sel],
            "effect_allele_frequency": f_ld[sel], "p_value": pv[sel], "rsid": rs[sel], "n": int(n_gwas),
        })
    return _Segment(g, sets, genes, phenos, xq, gwas, truth)


def _swap_alleles(df: pd.DataFrame, rng: np.random.Generator, frac: float) -> tuple[pd.DataFrame, int]:
    """Report a share of rows on the other allele (effect = REF, beta negated, frequency complemented)."""
    swap = rng.random(len(df)) < frac
    ea = df["effect_allele"].to_numpy().copy()
    df = df.assign(
        effect_allele=np.where(swap, df["other_allele"], ea),
        other_allele=np.where(swap, ea, df["other_allele"]),
        beta=np.where(swap, -df["beta"], df["beta"]),
        effect_allele_frequency=np.where(swap, 1.0 - df["effect_allele_frequency"], df["effect_allele_frequency"]),
    )
    return df, int(swap.sum())


def make_genome(out_dir: str | Path, seed: int = 20250901, **params: Any) -> dict[str, Path]:
    """Simulate the genome-wide data set into ``out_dir`` and return every path written.

    Parameters
    ----------
    out_dir : path
        Destination directory (created; files of the same names are replaced atomically).
    seed : int
        Master seed; every slot and component draws from its own named stream.
    **params
        Overrides of :class:`GenomeParams` fields (e.g. ``chroms=("21", "22"), n_slots=4`` for a small,
        fast data set).

    Returns
    -------
    dict
        Path relative to ``out_dir`` (POSIX string) -> absolute path, for every file written including
        ``manifest.json``.

    Raises
    ------
    twasflow.errors.ConfigError
        Unknown parameter names, tissue sizes above ``n_donors``, or more slots than the chromosomes hold.
    """
    p = _parse_params(params)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    offsets = slot_offsets(p)
    n_ind = p.n_panel + p.n_donors + p.n_gwas_ld
    panel = np.arange(p.n_panel)
    donor_ids = np.arange(p.n_panel, p.n_panel + p.n_donors)
    coh = _Cohorts(panel=panel, xqtl={"donors": donor_ids}, gwas_ld=np.arange(p.n_panel + p.n_donors, n_ind))
    rng_d = named_rng(seed, "donors")
    donors = {t: np.sort(rng_d.choice(donor_ids, size=n, replace=False)) for t, n in p.xqtl_n.items()}

    written: dict[str, Path] = {}

    def rel(path: Path) -> None:
        written[path.relative_to(out).as_posix()] = path

    datasets = [(t, "eQTL") for t in p.xqtl_n] + [(t, "sQTL") for t in p.sqtl_tissues]
    bims, dosages, genes_rows, truth_rows, truth_x = [], [], [], [], []
    gwas_frames: dict[str, list[pd.DataFrame]] = {t: [] for t in p.traits}
    xqtl_rows: dict[str, int] = {}
    n_genes = 0
    counts_slots: dict[str, int] = {}
    for chrom, offs in offsets.items():
        per_ds: dict[tuple[str, str], list[dict[str, np.ndarray]]] = {}
        for k, off in enumerate(offs.tolist()):
            s = _segment(seed, chrom, k, off, coh, donors, p, n_genes + 1)
            n_genes += len(s.genes)
            g, vs = s.geno, s.sets
            sel = np.flatnonzero(vs.in_panel)
            bims.append(pd.DataFrame({"chrom": chrom, "rsid": _rsids(g)[sel],
                                      "cm": g.pos[sel] * p.recombination_rate * 100.0,
                                      "pos": g.pos[sel], "a1": g.alt[sel], "a2": g.ref[sel]}))
            dosages.append(g.dosage(coh.panel)[:, sel].T.astype(np.int8))
            genes_rows += [dataclasses.asdict(x) for x in s.genes]
            truth_rows += s.truth
            for q in s.phenos:
                for i, b in zip(q.variant_idx.tolist(), q.effects.tolist()):
                    truth_x.append({"pair_id": q.pair_id,
                                    "variant_id": f"{chrom}:{g.pos[i]}:{g.ref[i]}:{g.alt[i]}", "effect": float(b),
                                    "gene_id": q.gene.gene_id, "gene_name": q.gene.gene_name, "tissue": q.tissue,
                                    "qtl_type": q.qtl_type, "h2": q.h2})
            for key, cols in s.xqtl.items():
                per_ds.setdefault(key, []).append(cols)
            for t, df in s.gwas.items():
                gwas_frames[t].append(df)
        counts_slots[chrom] = int(offs.size)
        # one file per data set and chromosome, as GTEx ships them (zero rows when nothing is expressed)
        for tissue, qtype in sorted(datasets):
            parts = per_ds.get((tissue, qtype), [])
            cols = {f.name: (np.concatenate([x[f.name] for x in parts]) if parts
                             else np.array([], dtype=object if f.name.endswith("_id") else float))
                    for f in writers.GTEX_SCHEMA}
            path = out / "xqtl" / f"{tissue}.{qtype}.chr{chrom}.parquet"
            writers.write_gtex_parquet(cols, path)
            rel(path)
            xqtl_rows[path.name] = int(len(cols["variant_id"]))

    samples = [f"GW{i + 1:05d}" for i in panel]
    for path in writers.write_plink(out / "panel" / "genome", pd.concat(bims, ignore_index=True),
                                    np.concatenate(dosages, axis=0), samples):
        rel(path)

    genes = pd.DataFrame(genes_rows)
    genes["biotype"] = "protein_coding"
    genes = genes[["gene_id", "gene_name", "chrom", "start", "end", "strand", "tss", "biotype"]]
    write_tsv(genes, out / "genes.tsv")
    rel(out / "genes.tsv")

    gwas_counts: dict[str, dict[str, int]] = {}
    truth = pd.DataFrame(truth_rows, columns=["trait", "kind", "pair_id", "gene_id", "gene_name", "tissue",
                                              "qtl_type", "variant_id", "effect", "locus_hint"])
    for trait, frames in gwas_frames.items():
        df, n_swapped = _swap_alleles(pd.concat(frames, ignore_index=True), named_rng(seed, f"defects/{trait}"),
                                      p.frac_swapped)
        path = out / "gwas" / f"{trait}.tsv.gz"
        writers.write_gzip_text(writers.format_gwas_ssf(df), path)
        rel(path)
        pal = is_palindromic(df["effect_allele"].to_numpy().astype(str), df["other_allele"].to_numpy().astype(str))
        sub = truth[truth["trait"] == trait]
        gwas_counts[trait] = {"rows": int(len(df)), "swapped": n_swapped, "palindromic": int(pal.sum()),
                              "signals": int(len(sub)), "pair_signals": int((sub["kind"] == "pair").sum())}
        path = out / "gwas" / f"{trait}.truth.tsv"
        write_tsv(sub.reset_index(drop=True), path)
        rel(path)
    write_tsv(pd.DataFrame(truth_x), out / "truth_xqtl.tsv")
    rel(out / "truth_xqtl.tsv")

    # sample sheets, paths relative to out_dir (the benchmark rewrites them relative to its run directory)
    gw = pd.DataFrame({"trait": list(p.traits), "path": [f"gwas/{t}.tsv.gz" for t in p.traits],
                       "format": "gwas-ssf", "n": "", "build": BUILD})
    ds = datasets
    xq = pd.DataFrame({"dataset": [f"{t}_{q}" for t, q in ds], "tissue": [t for t, _ in ds],
                       "qtl_type": [q for _, q in ds], "path": [f"xqtl/{t}.{q}.chr{{chrom}}.parquet" for t, q in ds],
                       "format": "gtex-parquet", "n": [str(p.xqtl_n[t]) for t, _ in ds], "build": BUILD})
    write_tsv(gw, out / "gwas.tsv")
    write_tsv(xq, out / "xqtl.tsv")
    rel(out / "gwas.tsv")
    rel(out / "xqtl.tsv")

    manifest = {
        "generator": "twasflow.simulate.genome.make_genome",
        "seed": int(seed),
        "genome_build": BUILD,
        "chromosomes": list(offsets),
        "params": p.to_json(),
        "files": {k: {"sha256": writers.sha256(v), "bytes": v.stat().st_size} for k, v in sorted(written.items())},
        "counts": {
            "slots": counts_slots,
            "slot_offsets": {c: o.tolist() for c, o in offsets.items()},
            "panel_samples": int(p.n_panel),
            "panel_variants": int(sum(len(b) for b in bims)),
            "genes": int(len(genes)),
            "xqtl_datasets": len(ds),
            "xqtl_pairs": int(sum(1 for _ in {r["pair_id"] for r in truth_x})),
            "xqtl_rows": int(sum(xqtl_rows.values())),
            "gwas": gwas_counts,
        },
    }
    write_json(manifest, out / "manifest.json")
    rel(out / "manifest.json")
    return written
