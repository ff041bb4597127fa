"""The bundled example: a seeded, realistic-looking GWAS + xQTL + LD-panel data set with a planted truth.

``make_example(out_dir, seed)`` writes (paths relative to ``out_dir``)::

    panel/example.bed/.bim/.fam             reference panel, both chromosomes (A1 = ALT, A2 = REF)
    panel/example.chr{1,2}.vcf.gz(.tbi)     the same panel, phased VCF, contigs "1"/"2"
    genes.tsv                               gene annotation (GRCh38-like)
    gene_lists/silver_standard.tsv          per-trait "silver standard": planted causal genes, one left out, + decoys
    gene_lists/drug_targets.tsv             "drug targets": about half the planted causal genes + decoys
    xqtl/{tissue}.{eQTL|sQTL}.chr{c}.parquet    GTEx v8 all-pairs layout
    gwas/{trait}.tsv.gz                     GWAS-SSF summary statistics (with realistic defects)
    gwas/{trait}.truth.tsv                  planted causal pairs, variants and infinitesimal variance
    truth_xqtl.tsv                          planted xQTL effects (standardized scale)
    manifest.json                           seed, parameters, sha256 of every file, counts

See ``docs/example_data.md`` for the model. Same seed and parameters -> byte-identical files.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twasflow.errors import ConfigError
from twasflow.io.tables import write_json, write_tsv
from twasflow.simulate import design, stats, writers
from twasflow.simulate.annotations import write_example_annotations
from twasflow.simulate.genotypes import ChromGenotypes, is_palindromic, simulate_chromosome

CHROMS: tuple[str, ...] = ("1", "2")
BUILD = "GRCh38"


@dataclass(frozen=True)
class ExampleParams:
    """Parameters of the example; every one has a default giving the bundled example.

    Attributes
    ----------
    chrom_length : int
        Length (bp) of the simulated segment of each chromosome.
    chrom_offsets : dict
        Chromosome -> position (bp) just before the segment (segments: chr1 108.0-111.0 Mb, chr2
        20.5-23.5 Mb by default; far from the MHC).
    n_panel : int
        Reference-panel individuals.
    xqtl_n : dict
        eQTL tissue -> cohort size (disjoint individuals; the Liver cohort also gives the Liver sQTLs).
    n_gwas_ld : int
        Individuals of the separate cohort whose LD shapes the GWAS z-scores.
    gwas_n : dict
        Trait -> GWAS sample size N.
    variants_per_chrom : int
        Common SNVs kept per chromosome (uniform thinning of msprime's sites).
    maf_min : float
        Minimum minor-allele frequency in the panel for a simulated site to be kept.
    xqtl_maf_min : float
        Minimum MAF within an xQTL cohort for a variant to be reported in that tissue's file (GTEx: 0.01).
    eligible_maf_min : float
        Minimum panel MAF of variants that may carry a planted effect.
    ne, recombination_rate, mutation_rate : float
        msprime constant population size and per-bp per-generation rates.
    palindromic_fraction : float
        Share of A/T and C/G SNVs (transitions take 2/3 of the sites).
    genes_per_chrom : int
        Genes on each chromosome.
    frac_xqtl_only, frac_panel_only : float
        Shares of variants present in the xQTL files but not the panel, and in the panel but not the
        xQTL files.
    frac_gwas_not_in_panel : float
        Share of GWAS rows whose variant is absent from the panel.
    frac_swapped : float
        Share of GWAS rows reported with effect allele = REF (beta negated, frequency 1 - f).
    n_duplicate_rows, n_na_p_rows : int
        GWAS rows written twice, and rows whose p-value is ``NA``.
    h2_inf : float
        Total variance explained by the infinitesimal background (all variants, both chromosomes).
    z_pair_range, z_variant_range : tuple
        Expected peak |z| of each planted pair and direct variant (uniform draw).
    locus_pad : int
        Padding (bp) of the ``locus_hint`` around a signal's causal variants.
    xqtl : XqtlDesignParams
        Expression / splicing architecture (expression probability, sharing, heritability ranges).
    """

    chrom_length: int = 3_000_000
    chrom_offsets: dict[str, int] = field(default_factory=lambda: {"1": 108_000_000, "2": 20_500_000})
    n_panel: int = 500
    xqtl_n: dict[str, int] = field(
        default_factory=lambda: {"Liver": 300, "Adipose_Subcutaneous": 400, "Whole_Blood": 450, "Muscle_Skeletal": 350}
    )
    n_gwas_ld: int = 2500
    gwas_n: dict[str, int] = field(default_factory=lambda: {"LDL_sim": 300_000, "BMI_sim": 400_000})
    variants_per_chrom: int = 2300
    maf_min: float = 0.01
    xqtl_maf_min: float = 0.01
    eligible_maf_min: float = 0.05
    ne: float = 10_000.0
    recombination_rate: float = 1e-8
    mutation_rate: float = 1.25e-8
    palindromic_fraction: float = 0.05
    genes_per_chrom: int = 20
    frac_xqtl_only: float = 0.03
    frac_panel_only: float = 0.03
    frac_gwas_not_in_panel: float = 0.005
    frac_swapped: float = 0.3
    n_duplicate_rows: int = 2
    n_na_p_rows: int = 1
    h2_inf: float = 3e-4
    z_pair_range: tuple[float, float] = (8.0, 13.0)
    z_variant_range: tuple[float, float] = (7.0, 10.0)
    locus_pad: int = 250_000
    xqtl: design.XqtlDesignParams = field(default_factory=design.XqtlDesignParams)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able dict of every parameter."""
        return dataclasses.asdict(self)


def _stream(seed: int, name: str) -> np.random.SeedSequence:
    """Independent seed sequence of one named component; adding components never shifts the others."""
    return np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(name.encode()),))


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng(_stream(seed, name))


def _msprime_seed(seed: int, name: str) -> int:
    return int(_stream(seed, name).generate_state(1)[0] % (2**31 - 2)) + 1


def _parse_params(params: dict[str, Any]) -> ExampleParams:
    names = {f.name for f in dataclasses.fields(ExampleParams)}
    for k in params:
        if k not in names:
            raise ConfigError.at(
                "unknown example parameter", column=k, found=repr(k), expected=f"one of {sorted(names)}"
            )
    if "xqtl" in params and isinstance(params["xqtl"], dict):
        params = {**params, "xqtl": design.XqtlDesignParams(**params["xqtl"])}
    p = ExampleParams(**params)
    if set(p.xqtl_n) != set(design.EQTL_TISSUES):
        raise ConfigError.at("xqtl_n must name every eQTL tissue", column="xqtl_n", found=sorted(p.xqtl_n),
                             expected=list(design.EQTL_TISSUES))
    if set(p.gwas_n) != set(design.TRAITS):
        raise ConfigError.at("gwas_n must name every trait", column="gwas_n", found=sorted(p.gwas_n),
                             expected=list(design.TRAITS))
    return p


@dataclass
class _Cohorts:
    """Individual indices (0-based, into the simulated population) of each cohort."""

    panel: np.ndarray
    xqtl: dict[str, np.ndarray]
    gwas_ld: np.ndarray

    @property
    def total(self) -> int:
        return int(self.panel.size + sum(v.size for v in self.xqtl.values()) + self.gwas_ld.size)


def _cohorts(p: ExampleParams) -> _Cohorts:
    start = 0

    def take(n: int) -> np.ndarray:
        nonlocal start
        out = np.arange(start, start + n)
        start += n
        return out

    panel = take(p.n_panel)
    xq = {t: take(p.xqtl_n[t]) for t in design.EQTL_TISSUES}
    return _Cohorts(panel=panel, xqtl=xq, gwas_ld=take(p.n_gwas_ld))


def _variant_sets(rng: np.random.Generator, g: ChromGenotypes, coh: _Cohorts, p: ExampleParams) -> design.VariantSets:
    m = g.n_variants
    order = rng.permutation(m)
    n_xo = int(round(p.frac_xqtl_only * m))
    n_po = int(round(p.frac_panel_only * m))
    xqtl_only = np.zeros(m, bool)
    xqtl_only[order[:n_xo]] = True
    panel_only = np.zeros(m, bool)
    panel_only[order[n_xo : n_xo + n_po]] = True
    in_panel, in_xqtl = ~xqtl_only, ~panel_only
    # GWAS: every panel variant plus a few the panel lacks (harmonization drops them as not_in_panel)
    n_np = int(round(p.frac_gwas_not_in_panel * in_panel.sum()))
    not_in_panel = np.zeros(m, bool)
    cand = np.flatnonzero(xqtl_only)
    not_in_panel[np.sort(rng.choice(cand, size=min(n_np, cand.size), replace=False))] = True
    f_ld = g.dosage(coh.gwas_ld).mean(axis=0) / 2.0
    in_gwas = (in_panel | not_in_panel) & (f_ld > 0) & (f_ld < 1)
    f_panel = g.haplotypes[:, np.sort(np.concatenate([2 * coh.panel, 2 * coh.panel + 1]))].mean(axis=1)
    maf_panel = np.minimum(f_panel, 1.0 - f_panel)
    eligible = in_panel & in_xqtl & in_gwas & (maf_panel >= p.eligible_maf_min) & ~is_palindromic(g.ref, g.alt)
    return design.VariantSets(in_panel=in_panel, in_xqtl=in_xqtl, in_gwas=in_gwas, eligible=eligible,
                              extra={"f_gwas_ld": f_ld})


def _rsids(g: ChromGenotypes) -> np.ndarray:
    # deterministic, unique across the two chromosomes (chromosome digit + zero-padded position)
    return np.array([f"rs{g.chrom}{q:09d}" for q in g.pos.tolist()], dtype=object)


def _xqtl_tables(
    seed: int,
    p: ExampleParams,
    geno: dict[str, ChromGenotypes],
    sets: dict[str, design.VariantSets],
    coh: _Cohorts,
    phenotypes: list[design.Phenotype],
) -> dict[tuple[str, str, str], dict[str, np.ndarray]]:
    """Simulate phenotypes in each cohort and compute GTEx-layout marginal statistics per file."""
    out: dict[tuple[str, str, str], dict[str, np.ndarray]] = {}
    datasets = [(t, "eQTL") for t in design.EQTL_TISSUES] + [(design.SQTL_TISSUE, "sQTL")]
    for tissue, qtype in datasets:
        ind = coh.xqtl[tissue]
        n = ind.size
        for chrom in CHROMS:
            g, vs = geno[chrom], sets[chrom]
            phs = sorted(
                (q for q in phenotypes if q.tissue == tissue and q.qtl_type == qtype and q.chrom == chrom),
                key=lambda q: q.phenotype_id,
            )
            rng = _rng(seed, f"noise/{tissue}/{qtype}/{chrom}")
            noise = rng.standard_normal((n, max(len(phs), 1)))[:, : len(phs)]
            p_pop = g.haplotypes.mean(axis=1, dtype=np.float64)
            sd_pop = np.sqrt(2.0 * p_pop * (1.0 - p_pop))
            cols = np.flatnonzero(vs.in_xqtl)
            d_all = g.dosage(ind)
            dos = d_all[:, cols]  # (n, Mx)
            y = np.empty((n, len(phs)))
            for j, q in enumerate(phs):
                z = (d_all[:, q.variant_idx] - 2.0 * p_pop[q.variant_idx]) / sd_pop[q.variant_idx]
                y[:, j] = z @ q.effects + np.sqrt(1.0 - q.h2) * noise[:, j]
            ols = stats.marginal_ols(dos, y)
            af = dos.mean(axis=0) / 2.0
            maf = np.minimum(af, 1.0 - af)
            alt_minor = af <= 0.5
            ma_count = np.where(alt_minor, dos.sum(axis=0), 2 * n - dos.sum(axis=0))
            ma_samples = np.where(alt_minor, (dos > 0).sum(axis=0), (dos < 2).sum(axis=0))
            gtex_ids = np.array(
                [f"chr{chrom}_{q}_{r}_{a}_b38" for q, r, a in zip(g.pos[cols].tolist(), g.ref[cols], g.alt[cols])],
                dtype=object,
            )
            pos = g.pos[cols]
            keep_v = maf >= p.xqtl_maf_min
            parts: dict[str, list[np.ndarray]] = {f.name: [] for f in writers.GTEX_SCHEMA}
            for j, q in enumerate(phs):
                sel = np.flatnonzero(keep_v & (np.abs(pos - q.tss) <= design.CIS_WINDOW))
                parts["phenotype_id"].append(np.full(sel.size, q.phenotype_id, dtype=object))
                parts["variant_id"].append(gtex_ids[sel])
                parts["tss_distance"].append(pos[sel] - q.tss)
                parts["maf"].append(maf[sel])
                parts["ma_samples"].append(ma_samples[sel])
                parts["ma_count"].append(np.round(ma_count[sel]))
                parts["pval_nominal"].append(ols.pval[sel, j])
                parts["slope"].append(ols.slope[sel, j])
                parts["slope_se"].append(ols.slope_se[sel, j])
            out[(tissue, qtype, chrom)] = {
                k: (np.concatenate(v) if v else np.array([], dtype=object if k.endswith("_id") else float))
                for k, v in parts.items()
            }
    return out


def _gwas_table(
    seed: int,
    trait: str,
    p: ExampleParams,
    geno: dict[str, ChromGenotypes],
    sets: dict[str, design.VariantSets],
    g_std: dict[str, np.ndarray],
    signals: list[design.Signal],
    sigma2_inf: float,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Summary statistics of one trait in GWAS-SSF columns, with the planted defects; also defect counts."""
    n_gwas = float(p.gwas_n[trait])
    frames = []
    for chrom in CHROMS:
        g, vs = geno[chrom], sets[chrom]
        m = g.n_variants
        beta = np.zeros(m)
        planted = np.zeros(m, bool)
        for s in signals:
            if s.plan.chrom != chrom:
                continue
            if s.pair is not None:
                beta += s.effect * design.dense_effects(s.pair, m)
                planted[s.pair.variant_idx] = True
            else:
                beta[s.variant_idx] += s.effect
                planted[s.variant_idx] = True
        beta += _rng(seed, f"inf/{trait}/{chrom}").normal(0.0, np.sqrt(sigma2_inf), m)
        z = stats.gwas_z(g_std[chrom], beta, n_gwas, _rng(seed, f"gwas_noise/{trait}/{chrom}"))
        f = vs.extra["f_gwas_ld"]
        b, se, pv = stats.z_to_beta_se(z, np.clip(f, 1e-12, 1 - 1e-12), n_gwas)
        rs = _rsids(g)
        sel = np.flatnonzero(vs.in_gwas)
        frames.append(
            pd.DataFrame(
                {
                    "chromosome": int(chrom),
                    "base_pair_location": g.pos[sel],
                    "effect_allele": g.alt[sel],
                    "other_allele": g.ref[sel],
                    "beta": b[sel],
                    "standard_error": se[sel],
                    "effect_allele_frequency": f[sel],
                    "p_value": pv[sel],
                    "rsid": rs[sel],
                    "n": int(n_gwas),
                    "_idx": sel,
                    "_planted": planted[sel],
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    rng = _rng(seed, f"defects/{trait}")
    # report ~30% of rows on the other allele: effect = REF, beta negated, frequency complemented
    swap = rng.random(len(df)) < p.frac_swapped
    ea = df["effect_allele"].to_numpy().copy()
    df["effect_allele"] = np.where(swap, df["other_allele"], ea)
    df["other_allele"] = np.where(swap, ea, df["other_allele"])
    df["beta"] = np.where(swap, -df["beta"], df["beta"])
    df["effect_allele_frequency"] = np.where(swap, 1.0 - df["effect_allele_frequency"], df["effect_allele_frequency"])
    # defects go to rows that carry no planted effect
    free = np.flatnonzero(~df["_planted"].to_numpy())
    picks = rng.choice(free, size=p.n_duplicate_rows + p.n_na_p_rows, replace=False)
    na_rows = picks[p.n_duplicate_rows :]
    df.loc[na_rows, "p_value"] = np.nan
    dups = df.loc[np.sort(picks[: p.n_duplicate_rows])]
    df = pd.concat([df, dups], ignore_index=False).sort_index(kind="stable").reset_index(drop=True)
    pal = is_palindromic(df["effect_allele"].to_numpy().astype(str), df["other_allele"].to_numpy().astype(str))
    counts = {
        "rows": int(len(df)),
        "swapped": int(swap.sum()),
        "duplicate_rows": int(p.n_duplicate_rows),
        "na_p_value": int(p.n_na_p_rows),
        "palindromic": int(pal.sum()),
    }
    return df.drop(columns=["_idx", "_planted"]), counts


def _gene_lists(seed: int, out: Path, genes: pd.DataFrame, truth: dict[str, set[tuple[str, str]]]) -> list[Path]:
    """The example's own silver-standard and drug-target lists, so every summary section has data.

    Silver standard, per trait: the planted causal genes except one (when there are two or more; real lists
    are incomplete, and the left-out gene's credible set then counts as "nearby") plus two decoy genes.
    Drug targets (all traits): each planted causal gene with probability 1/2, plus three decoys. Seeded.
    """
    planted = {g for v in truth.values() for g, _ in v}
    others = genes.loc[~genes["gene_id"].isin(planted)].sort_values("gene_id").reset_index(drop=True)
    rows = []
    for trait in sorted(truth):
        rng = _rng(seed, f"gene_lists/silver/{trait}")
        cg = sorted(truth[trait])
        drop = int(rng.integers(len(cg))) if len(cg) >= 2 else -1
        rows += [{"gene_symbol": n, "gene_id": g, "trait": trait, "source": "planted"}
                 for i, (g, n) in enumerate(cg) if i != drop]
        for i in sorted(rng.choice(len(others), size=min(2, len(others)), replace=False).tolist()):
            rows.append({"gene_symbol": others.at[i, "gene_name"], "gene_id": others.at[i, "gene_id"], "trait": trait,
                         "source": "decoy"})
    silver = pd.DataFrame(rows, columns=["gene_symbol", "gene_id", "trait", "source"])
    rng = _rng(seed, "gene_lists/drug_targets")
    cg = sorted(planted)
    keep = rng.random(len(cg)) < 0.5
    decoys = sorted(rng.choice(len(others), size=min(3, len(others)), replace=False).tolist())
    names = dict(zip(genes["gene_id"], genes["gene_name"]))
    drug = pd.DataFrame([{"gene_symbol": names[g], "gene_id": g} for g, k in zip(cg, keep) if k]
                        + [{"gene_symbol": others.at[i, "gene_name"], "gene_id": others.at[i, "gene_id"]} for i in decoys],
                        columns=["gene_symbol", "gene_id"]).sort_values("gene_id")
    paths = [out / "gene_lists" / "silver_standard.tsv", out / "gene_lists" / "drug_targets.tsv"]
    write_tsv(silver, paths[0])
    write_tsv(drug, paths[1])
    return paths


def make_example(out_dir: str | Path, seed: int = 20240601, **params: Any) -> dict[str, Path]:
    """Simulate the bundled example into ``out_dir`` and return every path written.

    Parameters
    ----------
    out_dir : path
        Destination directory (created; existing files of the same names are replaced atomically).
    seed : int
        Master seed; every component draws from its own stream derived from it.
    **params
        Overrides of :class:`ExampleParams` fields (e.g. ``n_panel=100, chrom_length=1_000_000`` for a
        small, fast example). ``xqtl`` may be a dict of :class:`~twasflow.simulate.design.XqtlDesignParams`.

    Returns
    -------
    dict
        Path relative to ``out_dir`` (as a POSIX string, e.g. ``"xqtl/Liver.eQTL.chr1.parquet"``) ->
        absolute path, for every file written including ``manifest.json``.

    Raises
    ------
    twasflow.errors.ConfigError
        Unknown parameter names or inconsistent cohort/trait dictionaries.
    """
    p = _parse_params(params)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    coh = _cohorts(p)

    geno: dict[str, ChromGenotypes] = {}
    for chrom in CHROMS:
        geno[chrom] = simulate_chromosome(
            chrom,
            offset=p.chrom_offsets[chrom],
            length=p.chrom_length,
            n_individuals=coh.total,
            panel_individuals=coh.panel,
            n_sites=p.variants_per_chrom,
            maf_min=p.maf_min,
            ne=p.ne,
            recombination_rate=p.recombination_rate,
            mutation_rate=p.mutation_rate,
            palindromic_fraction=p.palindromic_fraction,
            ancestry_seed=_msprime_seed(seed, f"ancestry/{chrom}"),
            mutation_seed=_msprime_seed(seed, f"mutations/{chrom}"),
            rng=_rng(seed, f"sites/{chrom}"),
        )
    sets = {c: _variant_sets(_rng(seed, f"sets/{c}"), geno[c], coh, p) for c in CHROMS}
    g_std = {c: stats.standardize_columns(geno[c].dosage(coh.gwas_ld))[0] for c in CHROMS}

    genes = design.design_genes(_rng(seed, "genes"), p.chrom_offsets, p.chrom_length, p.genes_per_chrom)
    plan_genes = design.assign_planned_genes(genes, p.chrom_offsets, p.chrom_length)
    causal: dict[int, list[design.PlannedSignal]] = {}
    for s in design.PLAN:
        if s.kind == "pair":
            causal.setdefault(plan_genes[(s.chrom, s.slot, s.gene_rank)], []).append(s)
    for gi in causal:
        genes.loc[gi, "biotype"] = "protein_coding"
    phenotypes = design.design_xqtl(_rng(seed, "xqtl_design"), genes, geno, sets, causal, p.xqtl)

    written: dict[str, Path] = {}

    def rel(path: Path) -> None:
        written[path.relative_to(out).as_posix()] = path

    # panel: PLINK (both chromosomes) and one VCF per chromosome
    samples = [f"SIM{i + 1:04d}" for i in coh.panel]
    bims, dosages = [], []
    for chrom in CHROMS:
        g, vs = geno[chrom], sets[chrom]
        sel = np.flatnonzero(vs.in_panel)
        bims.append(pd.DataFrame({"chrom": chrom, "rsid": _rsids(g)[sel],
                                  "cm": (g.pos[sel] - p.chrom_offsets[chrom]) * p.recombination_rate * 100.0,
                                  "pos": g.pos[sel], "a1": g.alt[sel], "a2": g.ref[sel]}))
        dosages.append(g.dosage(coh.panel)[:, sel].T.astype(np.int8))
        hp = g.haplotypes[sel][:, np.sort(np.concatenate([2 * coh.panel, 2 * coh.panel + 1]))]
        for path in writers.write_vcf(out / "panel" / f"example.chr{chrom}.vcf.gz", chrom, g.pos[sel],
                                      _rsids(g)[sel], g.ref[sel], g.alt[sel], hp, samples, BUILD):
            rel(path)
    for path in writers.write_plink(out / "panel" / "example", pd.concat(bims, ignore_index=True),
                                    np.concatenate(dosages, axis=0), samples):
        rel(path)

    genes_out = genes.drop(columns="version")
    write_tsv(genes_out, out / "genes.tsv")
    rel(out / "genes.tsv")

    # xQTL summary statistics
    tables = _xqtl_tables(seed, p, geno, sets, coh, phenotypes)
    xqtl_rows: dict[str, int] = {}
    for (tissue, qtype, chrom), cols in tables.items():
        path = out / "xqtl" / f"{tissue}.{qtype}.chr{chrom}.parquet"
        writers.write_gtex_parquet(cols, path)
        rel(path)
        xqtl_rows[path.name] = int(len(cols["variant_id"]))

    truth_x = pd.DataFrame(
        [
            {
                "pair_id": q.pair_id,
                "variant_id": f"{q.chrom}:{geno[q.chrom].pos[i]}:{geno[q.chrom].ref[i]}:{geno[q.chrom].alt[i]}",
                "effect": float(b),
                "gene_id": q.gene_id,
                "gene_name": q.gene_name,
                "tissue": q.tissue,
                "qtl_type": q.qtl_type,
                "h2": q.h2,
            }
            for q in phenotypes
            for i, b in zip(q.variant_idx.tolist(), q.effects.tolist())
        ]
    )

    # GWAS per trait, with the planted truth
    m_total = sum(int(sets[c].in_gwas.sum()) for c in CHROMS)
    sigma2_inf = p.h2_inf / m_total
    gwas_counts: dict[str, dict[str, int]] = {}
    truth_counts: dict[str, dict[str, int]] = {}
    causal_for: dict[str, list[str]] = {}
    truth_genes: dict[str, set[tuple[str, str]]] = {}
    for trait in design.TRAITS:
        signals = design.plant_signals(
            _rng(seed, f"truth/{trait}"), trait, float(p.gwas_n[trait]), genes, plan_genes, phenotypes,
            geno, sets, g_std, p.z_pair_range, p.z_variant_range, p.locus_pad,
        )
        df, counts = _gwas_table(seed, trait, p, geno, sets, g_std, signals, sigma2_inf)
        path = out / "gwas" / f"{trait}.tsv.gz"
        writers.write_gzip_text(writers.format_gwas_ssf(df), path)
        rel(path)
        gwas_counts[trait] = counts
        rows = []
        for s in signals:
            g = geno[s.plan.chrom]
            hint = f"{s.plan.chrom}:{s.locus[0]}-{s.locus[1]}"
            if s.pair is not None:
                q = s.pair
                causal_for.setdefault(q.pair_id, []).append(trait)
                truth_genes.setdefault(trait, set()).add((q.gene_id, q.gene_name))
                rows.append({"trait": trait, "kind": "pair", "pair_id": q.pair_id, "gene_id": q.gene_id,
                             "gene_name": q.gene_name, "tissue": q.tissue, "qtl_type": q.qtl_type,
                             "variant_id": None, "effect": s.effect, "locus_hint": hint,
                             "z_expected": s.z_expected})
            else:
                i = int(s.variant_idx)
                rows.append({"trait": trait, "kind": "variant", "pair_id": None, "gene_id": None,
                             "gene_name": None, "tissue": None, "qtl_type": None,
                             "variant_id": f"{g.chrom}:{g.pos[i]}:{g.ref[i]}:{g.alt[i]}", "effect": s.effect,
                             "locus_hint": hint, "z_expected": s.z_expected})
        rows.append({"trait": trait, "kind": "infinitesimal", "pair_id": None, "gene_id": None, "gene_name": None,
                     "tissue": None, "qtl_type": None, "variant_id": None, "effect": sigma2_inf,
                     "locus_hint": None, "z_expected": None})
        truth = pd.DataFrame(rows)
        truth_counts[trait] = {k: int((truth["kind"] == k).sum()) for k in ("pair", "variant", "infinitesimal")}
        path = out / "gwas" / f"{trait}.truth.tsv"
        write_tsv(truth, path)
        rel(path)

    for path in _gene_lists(seed, out, genes_out, truth_genes):
        rel(path)
    for path in write_example_annotations(out, seed):  # gene-test annotations (reads the files above back)
        rel(path)

    truth_x["causal_for"] = truth_x["pair_id"].map(lambda x: ",".join(causal_for.get(x, [])) or None)
    write_tsv(truth_x, out / "truth_xqtl.tsv")
    rel(out / "truth_xqtl.tsv")

    manifest = {
        "generator": "twasflow.simulate.example.make_example",
        "seed": int(seed),
        "genome_build": BUILD,
        "chromosomes": list(CHROMS),
        "params": p.to_json(),
        "files": {k: {"sha256": writers.sha256(v), "bytes": v.stat().st_size} for k, v in sorted(written.items())},
        "counts": {
            "panel_samples": int(coh.panel.size),
            "panel_variants": {c: int(sets[c].in_panel.sum()) for c in CHROMS},
            "simulated_variants": {c: int(geno[c].n_variants) for c in CHROMS},
            "xqtl_only_variants": {c: int((~sets[c].in_panel).sum()) for c in CHROMS},
            "panel_only_variants": {c: int((~sets[c].in_xqtl).sum()) for c in CHROMS},
            "genes": int(len(genes)),
            "xqtl_n": {f"{t}.eQTL": int(p.xqtl_n[t]) for t in design.EQTL_TISSUES}
            | {f"{design.SQTL_TISSUE}.sQTL": int(p.xqtl_n[design.SQTL_TISSUE])},
            "xqtl_pairs": {
                f"{t}.{q}": int(sum(1 for ph in phenotypes if ph.tissue == t and ph.qtl_type == q))
                for t, q in [(t, "eQTL") for t in design.EQTL_TISSUES] + [(design.SQTL_TISSUE, "sQTL")]
            },
            "xqtl_rows": xqtl_rows,
            "gwas_n": {t: int(p.gwas_n[t]) for t in design.TRAITS},
            "gwas": gwas_counts,
            "truth": truth_counts,
            "sigma2_inf_per_variant": sigma2_inf,
        },
    }
    write_json(manifest, out / "manifest.json")
    rel(out / "manifest.json")
    return written
