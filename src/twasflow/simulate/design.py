"""The planted architecture of the bundled example: genes, xQTL effects and each trait's causal signals.

Pure numpy; no I/O. Effects are per-SD ("standardized genotype scale") throughout: a variant's effect
multiplies its dosage standardized with the allele frequency of the whole simulated population.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from twasflow.simulate.common import scale_to_h2
from twasflow.simulate.genotypes import ChromGenotypes
from twasflow.simulate.stats import ld_times

EQTL_TISSUES: tuple[str, ...] = ("Liver", "Adipose_Subcutaneous", "Whole_Blood", "Muscle_Skeletal")
SQTL_TISSUE = "Liver"
TRAITS: tuple[str, ...] = ("LDL_sim", "BMI_sim")
CIS_WINDOW = 1_000_000

# Where the planted GWAS signals sit: three slots per chromosome at these fractions of its length, far
# enough apart (> 1 Mb on a 3 Mb chromosome) that each slot is its own GWAS locus.
SLOT_FRACTIONS: tuple[float, ...] = (0.12, 0.5, 0.88)


@dataclass(frozen=True)
class PlannedSignal:
    """One planted causal signal of a trait.

    ``kind`` is ``"pair"`` (a gene-tissue pair whose standardized phenotype acts on the trait) or
    ``"variant"`` (a direct, non-mediated variant effect). ``gene_rank`` picks the gene with the
    ``gene_rank``-th nearest TSS to the slot centre (0 = nearest), so two signals may share a slot with
    different genes. ``shared_eqtl`` makes every eQTL of the gene active in all four tissues with
    correlated effects, so only the effect sizes tell the causal tissue apart.
    """

    trait: str
    chrom: str
    slot: int
    kind: str
    tissue: str | None = None
    qtl_type: str | None = None
    gene_rank: int = 0
    shared_eqtl: bool = False


# LDL_sim: 4 loci (3 pairs, one of them an sQTL and one with eQTLs shared by every tissue; 1 variant).
# BMI_sim: 4 loci (3 pairs, 2 variants). Slot (1, 2) is shared with different causal genes; slot (2, 2) is
# shared between an LDL direct variant and a BMI pair; slot (2, 0) holds a pair and a variant of BMI.
PLAN: tuple[PlannedSignal, ...] = (
    PlannedSignal("LDL_sim", "1", 0, "pair", "Liver", "eQTL", shared_eqtl=True),
    PlannedSignal("LDL_sim", "1", 2, "pair", "Liver", "eQTL", gene_rank=0),
    PlannedSignal("LDL_sim", "2", 1, "pair", "Liver", "sQTL"),
    PlannedSignal("LDL_sim", "2", 2, "variant"),
    PlannedSignal("BMI_sim", "1", 2, "pair", "Adipose_Subcutaneous", "eQTL", gene_rank=1),
    PlannedSignal("BMI_sim", "2", 0, "pair", "Muscle_Skeletal", "eQTL"),
    PlannedSignal("BMI_sim", "2", 0, "variant"),
    PlannedSignal("BMI_sim", "2", 2, "pair", "Whole_Blood", "eQTL"),
    PlannedSignal("BMI_sim", "1", 1, "variant"),
)


@dataclass(frozen=True)
class Phenotype:
    """One molecular phenotype in one tissue (a *pair*) and its true cis effects.

    ``variant_idx`` indexes the chromosome's simulated variants; ``effects`` are the per-SD effects on the
    standardized phenotype (same length).
    """

    pair_id: str
    phenotype_id: str
    gene_id: str
    gene_name: str
    tissue: str
    qtl_type: str
    chrom: str
    tss: int
    h2: float
    variant_idx: np.ndarray
    effects: np.ndarray


@dataclass(frozen=True)
class Signal:
    """A realized planted GWAS signal: the plan entry, its effect and where it acts."""

    plan: PlannedSignal
    effect: float
    z_expected: float
    pair: Phenotype | None = None
    variant_idx: int | None = None
    locus: tuple[int, int] = (0, 0)


@dataclass
class VariantSets:
    """Per-chromosome membership masks over the simulated variants (all shape (M,), bool)."""

    in_panel: np.ndarray
    in_xqtl: np.ndarray
    in_gwas: np.ndarray
    eligible: np.ndarray  # may carry a planted effect: in every file, common, not palindromic
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def pooled_standardizer(geno: ChromGenotypes) -> tuple[np.ndarray, np.ndarray]:
    """Population ALT frequency ``p`` and SD ``sqrt(2 p (1 - p))`` over every simulated haplotype, shape (M,)."""
    p = geno.haplotypes.mean(axis=1, dtype=np.float64)
    return p, np.sqrt(2.0 * p * (1.0 - p))


def design_genes(
    rng: np.random.Generator, chroms: dict[str, int], length: int, genes_per_chrom: int
) -> pd.DataFrame:
    """Place ``genes_per_chrom`` genes on each chromosome segment.

    Parameters
    ----------
    chroms : dict
        Chromosome name -> segment offset (bp); the segment spans ``offset + 1 .. offset + length``.

    Returns
    -------
    DataFrame with ``gene_id, gene_name, chrom, start, end, strand, tss, biotype, version``, sorted by
    chromosome and TSS; ids count up in that order (``ENSG90000000001``, ``SIMG1``...).
    """
    rows = []
    for chrom, offset in chroms.items():
        grid = np.linspace(0.05, 0.95, genes_per_chrom) * length
        spacing = 0.9 * length / max(genes_per_chrom - 1, 1)
        tss = np.round(grid + rng.uniform(-0.3, 0.3, genes_per_chrom) * spacing).astype(np.int64) + offset
        strand = np.where(rng.random(genes_per_chrom) < 0.5, "+", "-")
        glen = np.clip(np.round(rng.lognormal(np.log(25_000), 0.8, genes_per_chrom)), 2_000, 150_000).astype(np.int64)
        start = np.where(strand == "+", tss, tss - glen + 1)
        end = np.where(strand == "+", tss + glen - 1, tss)
        lo, hi = offset + 1, offset + length
        start, end = np.clip(start, lo, hi), np.clip(end, lo, hi)
        biotype = np.where(rng.random(genes_per_chrom) < 0.85, "protein_coding", "lncRNA")
        version = rng.integers(1, 20, genes_per_chrom)
        order = np.argsort(tss, kind="stable")
        for i in order:
            rows.append(
                (chrom, int(start[i]), int(end[i]), str(strand[i]), int(tss[i]), str(biotype[i]), int(version[i]))
            )
    df = pd.DataFrame(rows, columns=["chrom", "start", "end", "strand", "tss", "biotype", "version"])
    k = np.arange(1, len(df) + 1)
    df.insert(0, "gene_name", [f"SIMG{i}" for i in k])
    df.insert(0, "gene_id", [f"ENSG9{i:010d}" for i in k])
    return df


def slot_centres(genes: pd.DataFrame, chrom: str, offset: int, length: int) -> list[np.ndarray]:
    """For each slot, the gene table row indices of that chromosome ordered by TSS distance to the slot."""
    sub = genes.index[genes["chrom"] == chrom].to_numpy()
    tss = genes.loc[sub, "tss"].to_numpy()
    out = []
    for frac in SLOT_FRACTIONS:
        centre = offset + frac * length
        out.append(sub[np.argsort(np.abs(tss - centre), kind="stable")])
    return out


def assign_planned_genes(
    genes: pd.DataFrame, offsets: dict[str, int], length: int, plan: tuple[PlannedSignal, ...] = PLAN
) -> dict[tuple[str, int, int], int]:
    """Map (chrom, slot, gene_rank) of the plan to distinct gene rows; slot anchors use rank 0."""
    ranked = {c: slot_centres(genes, c, offsets[c], length) for c in offsets}
    keys = sorted({(s.chrom, s.slot, s.gene_rank) for s in plan} | {(s.chrom, s.slot, 0) for s in plan})
    used: set[int] = set()
    out: dict[tuple[str, int, int], int] = {}
    for chrom, slot, rank in sorted(keys, key=lambda k: (k[0], k[1], k[2])):
        cands = [g for g in ranked[chrom][slot] if g not in used]
        if len(cands) <= rank:
            raise ValueError(f"too few genes on chromosome {chrom} for the planted signals; raise genes_per_chrom")
        g = int(cands[rank])
        out[(chrom, slot, rank)] = g
        used.add(g)
    return out


def _pick_variants(
    rng: np.random.Generator, pos: np.ndarray, pool: np.ndarray, centre: int, max_dist: int, scale: float, k: int
) -> np.ndarray:
    """Up to ``k`` distinct pool variants within ``max_dist`` of ``centre``, favouring close ones."""
    cand = np.flatnonzero(pool & (np.abs(pos - centre) <= max_dist))
    if cand.size == 0:
        return cand
    w = np.exp(-np.abs(pos[cand] - centre) / scale)
    return np.sort(rng.choice(cand, size=min(k, cand.size), replace=False, p=w / w.sum()))


@dataclass(frozen=True)
class XqtlDesignParams:
    """Knobs of the xQTL architecture (see :class:`twasflow.simulate.example.ExampleParams`)."""

    p_expressed: float = 0.85
    p_shared: float = 0.6
    shared_effect_corr: float = 0.8
    h2_range: tuple[float, float] = (0.05, 0.3)
    h2_causal_range: tuple[float, float] = (0.15, 0.3)
    p_sqtl_gene: float = 0.3
    sqtl_h2_range: tuple[float, float] = (0.1, 0.4)
    eqtl_scale_bp: float = 50_000.0
    causal_max_dist: int = 150_000


def design_xqtl(
    rng: np.random.Generator,
    genes: pd.DataFrame,
    geno: dict[str, ChromGenotypes],
    sets: dict[str, VariantSets],
    causal: dict[int, list[PlannedSignal]],
    prm: XqtlDesignParams,
) -> list[Phenotype]:
    """Draw cis-eQTLs for every gene in every tissue and sQTLs (intron clusters) for some genes in Liver.

    Parameters
    ----------
    genes : DataFrame from :func:`design_genes`.
    geno : chromosome -> genotypes of every simulated individual.
    sets : chromosome -> variant membership masks; planted effects go to ``eligible`` variants only.
    causal : gene row -> planned pair signals on that gene (forces expression, heritability, sharing).

    Returns
    -------
    list of Phenotype, in gene order; eQTL tissues in :data:`EQTL_TISSUES` order, then sQTL introns.
    """
    pooled = {c: pooled_standardizer(g) for c, g in geno.items()}
    out: list[Phenotype] = []
    n_t = len(EQTL_TISSUES)
    for gi, g in genes.iterrows():
        chrom, tss = str(g["chrom"]), int(g["tss"])
        gg, vs = geno[chrom], sets[chrom]
        p_pop, sd_pop = pooled[chrom]
        plans = causal.get(int(gi), [])
        is_causal = bool(plans)
        shared_all = any(p.shared_eqtl for p in plans)
        max_dist = prm.causal_max_dist if is_causal else CIS_WINDOW
        eqtl_causal = [EQTL_TISSUES.index(str(p.tissue)) for p in plans if p.qtl_type == "eQTL"]
        k = int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2]))
        if eqtl_causal and not shared_all:
            k = max(k, 2)
        idx = _pick_variants(rng, gg.pos, vs.eligible, tss, max_dist, prm.eqtl_scale_bp, k)
        k = idx.size
        expressed = rng.random(n_t) < prm.p_expressed
        shared = rng.random(max(k, 1))[:k] < prm.p_shared
        base = rng.standard_normal(k)
        private = rng.standard_normal((n_t, k))
        specific_tissue = rng.integers(0, n_t, size=k)
        h2s = rng.uniform(*prm.h2_range, size=n_t)
        h2c = rng.uniform(*prm.h2_causal_range, size=n_t)
        if k == 0:
            if is_causal:
                raise ValueError(f"no eligible variant near causal gene {g['gene_id']}")
            continue
        shared[0] = True
        for p in plans:
            if p.qtl_type == "eQTL":
                expressed[EQTL_TISSUES.index(p.tissue)] = True
        if shared_all:
            expressed[:] = True
            shared[:] = True
        if not expressed.any():
            expressed[int(rng.integers(0, n_t))] = True
        # a tissue-specific eQTL lives in one of the tissues that express the gene
        on = np.flatnonzero(expressed)
        specific_tissue = on[specific_tissue % on.size]
        if eqtl_causal and not shared_all and k >= 2:
            # a causal pair keeps one eQTL of its own, so its tissue is identifiable from the data
            shared[1] = False
            specific_tissue[1] = eqtl_causal[0]
        rho = prm.shared_effect_corr
        z_pool = (gg.dosage_pooled(idx) - 2.0 * p_pop[idx]) / sd_pop[idx]
        causal_tissues = {p.tissue for p in plans if p.qtl_type == "eQTL"}
        for t in on:
            w = np.where(shared, np.sqrt(rho) * base + np.sqrt(1.0 - rho) * private[t], 0.0)
            w = np.where(~shared & (specific_tissue == t), private[t], w)
            if not np.any(w):
                continue
            tissue = EQTL_TISSUES[t]
            h2 = float(h2c[t] if tissue in causal_tissues or shared_all else h2s[t])
            b = scale_to_h2(z_pool, w, h2)
            nz = b != 0
            pid = f"{g['gene_id']}.{int(g['version'])}"
            out.append(
                Phenotype(
                    pair_id=f"{pid}|{tissue}|eQTL",
                    phenotype_id=pid,
                    gene_id=str(g["gene_id"]),
                    gene_name=str(g["gene_name"]),
                    tissue=tissue,
                    qtl_type="eQTL",
                    chrom=chrom,
                    tss=tss,
                    h2=h2,
                    variant_idx=idx[nz],
                    effects=b[nz],
                )
            )
        # sQTLs: splicing of expressed-in-Liver genes, one leafcutter-style cluster of 1-2 introns
        liver_on = expressed[EQTL_TISSUES.index(SQTL_TISSUE)]
        wants_sqtl = any(p.qtl_type == "sQTL" for p in plans)
        u_sqtl = rng.random()
        n_intron = int(rng.integers(1, 3))
        k_s = int(rng.integers(1, 3))
        ws = rng.standard_normal(k_s)
        shrink = rng.uniform(0.5, 1.0)
        w_extra = rng.standard_normal(1) * 0.7
        h2_i = rng.uniform(*(prm.h2_causal_range if wants_sqtl else prm.sqtl_h2_range), size=2)
        glen = int(g["end"] - g["start"] + 1)
        i_start = int(g["start"]) + int(rng.integers(0, max(1, int(0.6 * glen))))
        # two distinct intron ends sharing the start (an alternative 3' splice site); both stay inside the gene
        i_ends = i_start + np.sort(rng.choice(np.arange(100, max(200, int(0.3 * glen))), size=2, replace=False))
        if not (wants_sqtl or (liver_on and u_sqtl < prm.p_sqtl_gene)):
            continue
        s_idx = _pick_variants(rng, gg.pos, vs.eligible, tss, prm.causal_max_dist, 30_000.0, k_s)
        if s_idx.size == 0:
            continue
        ws = ws[: s_idx.size]
        pool_extra = vs.eligible.copy()
        pool_extra[s_idx] = False
        x_idx = _pick_variants(rng, gg.pos, pool_extra, tss, prm.causal_max_dist, 30_000.0, 1)
        cluster = f"clu_{20_000 + int(gi) + 1}"
        for j in range(n_intron):
            # introns of one cluster share a splice site and compete, so their QTL effects oppose; the
            # second intron also has a QTL of its own so the two are not perfectly collinear
            if j == 0:
                idx_j, w = s_idx, ws
            else:
                idx_j = np.concatenate([s_idx, x_idx])
                w = np.concatenate([-shrink * ws, w_extra[: x_idx.size]])
                order = np.argsort(idx_j)
                idx_j, w = idx_j[order], w[order]
            zs = (gg.dosage_pooled(idx_j) - 2.0 * p_pop[idx_j]) / sd_pop[idx_j]
            b = scale_to_h2(zs, w, float(h2_i[j]))
            i_end = int(i_ends[j])
            pid = f"chr{chrom}:{i_start}:{i_end}:{cluster}:{g['gene_id']}.{int(g['version'])}"
            out.append(
                Phenotype(
                    pair_id=f"{pid}|{SQTL_TISSUE}|sQTL",
                    phenotype_id=pid,
                    gene_id=str(g["gene_id"]),
                    gene_name=str(g["gene_name"]),
                    tissue=SQTL_TISSUE,
                    qtl_type="sQTL",
                    chrom=chrom,
                    tss=tss,
                    h2=float(h2_i[j]),
                    variant_idx=idx_j,
                    effects=b,
                )
            )
    return out


def dense_effects(ph: Phenotype, m: int) -> np.ndarray:
    """The phenotype's true effects as a dense vector over the chromosome's ``m`` variants."""
    b = np.zeros(m)
    b[ph.variant_idx] = ph.effects
    return b


def plant_signals(
    rng: np.random.Generator,
    trait: str,
    n_gwas: float,
    genes: pd.DataFrame,
    plan_genes: dict[tuple[str, int, int], int],
    phenotypes: list[Phenotype],
    geno: dict[str, ChromGenotypes],
    sets: dict[str, VariantSets],
    g_std: dict[str, np.ndarray],
    z_pair_range: tuple[float, float],
    z_variant_range: tuple[float, float],
    locus_pad: int,
    plan: tuple[PlannedSignal, ...] = PLAN,
) -> list[Signal]:
    """Realize the planned signals of ``trait``, scaling each so its expected peak |z| is in the given range.

    A pair's effect ``theta`` (trait SD per phenotype SD) is set so that ``max |sqrt(N) R b|`` equals a
    target drawn from ``z_pair_range``; a direct variant's per-SD effect so that ``sqrt(N) beta`` does
    (``R`` is the GWAS-LD cohort's LD, ``b`` the pair's true standardized xQTL effects).
    """
    by_pair = {(p.gene_id, p.tissue, p.qtl_type): p for p in reversed(phenotypes)}  # first intron wins
    mediated = {c: np.zeros(geno[c].n_variants, bool) for c in geno}
    for p in phenotypes:
        mediated[p.chrom][p.variant_idx] = True
    out: list[Signal] = []
    for s in plan:
        if s.trait != trait:
            continue
        sign = 1.0 if rng.random() < 0.5 else -1.0
        target = float(rng.uniform(*(z_pair_range if s.kind == "pair" else z_variant_range)))
        gg = geno[s.chrom]
        lo_seg, hi_seg = int(gg.pos.min()), int(gg.pos.max())
        if s.kind == "pair":
            gene = genes.loc[plan_genes[(s.chrom, s.slot, s.gene_rank)]]
            ph = by_pair[(str(gene["gene_id"]), str(s.tissue), str(s.qtl_type))]
            u = np.sqrt(n_gwas) * ld_times(g_std[s.chrom], dense_effects(ph, gg.n_variants))
            theta = sign * target / float(np.max(np.abs(u)))
            ppos = gg.pos[ph.variant_idx]
            locus = (max(lo_seg, int(ppos.min()) - locus_pad), min(hi_seg, int(ppos.max()) + locus_pad))
            out.append(Signal(plan=s, effect=theta, z_expected=target, pair=ph, locus=locus))
        else:
            anchor = int(genes.loc[plan_genes[(s.chrom, s.slot, 0)], "tss"])
            pool = sets[s.chrom].eligible & ~mediated[s.chrom]
            v = _pick_variants(rng, gg.pos, pool, anchor, 100_000, 1e12, 1)
            if v.size == 0:
                raise ValueError(f"no eligible variant for the direct signal of {trait} on chromosome {s.chrom}")
            vi = int(v[0])
            mediated[s.chrom][vi] = True
            beta = sign * target / np.sqrt(n_gwas)
            p0 = int(gg.pos[vi])
            out.append(
                Signal(plan=s, effect=beta, z_expected=target, variant_idx=vi,
                       locus=(max(lo_seg, p0 - locus_pad), min(hi_seg, p0 + locus_pad)))
            )
    return out
