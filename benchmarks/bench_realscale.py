"""Realistic-scale inputs in the GTEx v8 layout, and the ingest / locus-bundle benchmarks on them (issue #17).

``make`` writes, for a genome slice of ``--mb`` Mb on one chromosome:

- a PLINK panel tiling the four real 1000G EUR 1 Mb windows of ``--genotypes`` (489 people, 2,608-4,557
  variants per Mb, real LD inside each tile; tile k is window k mod 4 shifted to [k, k+1) Mb + 1 Mb), converted
  to the project's genotype store (``panel/``);
- genes at ``--genes-per-mb`` (Poisson, TSS uniform), for each of ``--tissues`` GTEx tissues (v8 eQTL sample
  sizes 73-706, listed below) an eQTL dataset (one phenotype per gene) and an sQTL dataset (``--introns``
  intron clusters per gene, GTEx ids ``chr1:s:e:clu_k:ENSG…``), every phenotype tested against every variant
  within ``--cis-kb`` of its TSS (GTEx v8 all-pairs Parquet: ``phenotype_id, variant_id
  (chr1_pos_ref_alt_b38), tss_distance, maf, ma_samples, ma_count, pval_nominal, slope, slope_se``, rows by
  phenotype then position); 1-3 causal variants per gene within 100 kb of the TSS, shared by every tissue (effect
  sizes correlated 0.8 across tissues) and by its introns (each intron keeps each gene causal with p 0.7 and has
  one causal variant of its own); marginal z = sqrt(n) * r(v, c) * b + N(0, 1) with the real LD r. GTEx also
  tests variants 1000G lacks: 5% extra rows per tile at other positions, a quarter of them indels. ALT is the
  panel's counted allele for a random half of the variants.
- a GWAS (GWAS-SSF TSV) of 400,000 people with a causal gene every ~5 Mb, harmonized to the panel.

Usage::

    python benchmarks/bench_realscale.py make --out /tmp/rs --mb 10 --tissues 49 [--qtl eqtl sqtl]
    python benchmarks/bench_realscale.py ingest --out /tmp/rs --dataset Muscle_Skeletal.sqtl
    python benchmarks/bench_realscale.py locus --out /tmp/rs --datasets 32
    python benchmarks/bench_realscale.py make --out /tmp/rsA --mb 6 --traits 7 --tissue-start 0 --tissues 25 &
    python benchmarks/bench_realscale.py make --out /tmp/rsB --mb 6 --traits 7 --tissue-start 25 --tissues 49
    python benchmarks/bench_realscale.py workflow --out /tmp/rsA /tmp/rsB --dest /tmp/run   # then, in /tmp/run:
    snakemake -s .../workflow/Snakefile --configfile /tmp/run/config.yaml --cores 2
    python benchmarks/bench_realscale.py rules --bench /tmp/run/benchmarks/rules

``ingest`` and ``locus`` are one-shot commands meant to run under ``/usr/bin/time -v`` (or a repeated-run
harness) with either this package or the old one on ``PYTHONPATH``; they print one JSON line (rows, seconds,
CPU seconds, peak RSS).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

GENOTYPES = Path("/work/shared/data/genotypes")
WINDOWS = ["1000G.EUR.hg19.chr22_20-21Mb", "1000G.EUR.hg19.chr18_20-21Mb", "1000G.EUR.hg19.chr12_20-21Mb",
           "1000G.EUR.hg19.chr2_20-21Mb"]
#: GTEx v8 tissues with their eQTL sample sizes (GTEx v8 portal, 49 tissues with eQTL analyses).
GTEX_TISSUES = {
    "Adipose_Subcutaneous": 581, "Adipose_Visceral_Omentum": 469, "Adrenal_Gland": 233, "Artery_Aorta": 387,
    "Artery_Coronary": 213, "Artery_Tibial": 584, "Brain_Amygdala": 129, "Brain_Anterior_cingulate_cortex_BA24": 147,
    "Brain_Caudate_basal_ganglia": 194, "Brain_Cerebellar_Hemisphere": 175, "Brain_Cerebellum": 209,
    "Brain_Cortex": 205, "Brain_Frontal_Cortex_BA9": 175, "Brain_Hippocampus": 165, "Brain_Hypothalamus": 170,
    "Brain_Nucleus_accumbens_basal_ganglia": 202, "Brain_Putamen_basal_ganglia": 170,
    "Brain_Spinal_cord_cervical_c-1": 126, "Brain_Substantia_nigra": 114, "Breast_Mammary_Tissue": 396,
    "Cells_Cultured_fibroblasts": 483, "Cells_EBV-transformed_lymphocytes": 147, "Colon_Sigmoid": 318,
    "Colon_Transverse": 368, "Esophagus_Gastroesophageal_Junction": 330, "Esophagus_Mucosa": 497,
    "Esophagus_Muscularis": 465, "Heart_Atrial_Appendage": 372, "Heart_Left_Ventricle": 386, "Kidney_Cortex": 73,
    "Liver": 208, "Lung": 515, "Minor_Salivary_Gland": 144, "Muscle_Skeletal": 706, "Nerve_Tibial": 532,
    "Ovary": 167, "Pancreas": 305, "Pituitary": 237, "Prostate": 221, "Skin_Not_Sun_Exposed_Suprapubic": 517,
    "Skin_Sun_Exposed_Lower_leg": 605, "Small_Intestine_Terminal_Ileum": 174, "Spleen": 227, "Stomach": 324,
    "Testis": 322, "Thyroid": 574, "Uterus": 129, "Vagina": 141, "Whole_Blood": 670,
}
LETTERS = np.array(["", "A", "C", "G", "T"])


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------------------------------------------- make


class _Tiles:
    """The four real windows: standardized genotypes, alleles, frequencies (loaded once)."""

    def __init__(self, gdir: Path) -> None:
        from twasflow.io.plink import decode_codes

        self.bim, self.bed, self.X = [], [], []
        fam = (gdir / f"{WINDOWS[0]}.fam").read_text()
        self.fam = fam
        self.n = len(fam.splitlines())
        rowb = (self.n + 3) // 4
        for w in WINDOWS:
            lines = [ln.split() for ln in (gdir / f"{w}.bim").read_text().splitlines()]
            raw = np.frombuffer((gdir / f"{w}.bed").read_bytes()[3:], dtype=np.uint8).reshape(len(lines), rowb)
            codes = decode_codes(raw, self.n)  # (m, n): 0 = two A1, 1 missing, 2 het, 3 none
            dos = np.array([2.0, np.nan, 1.0, 0.0])[codes].T
            mu, sd = np.nanmean(dos, 0), np.nanstd(dos, 0)
            X = np.nan_to_num((dos - mu) / np.where(sd > 0, sd, 1.0))
            self.bim.append({"pos": np.array([int(x[3]) for x in lines]) - 20_000_000, "a1": [x[4] for x in lines],
                             "a2": [x[5] for x in lines], "rs": [x[1] for x in lines], "freq": mu / 2})
            self.bed.append(raw)
            self.X.append(X)


def make(out: Path, *, mb: int, chrom: str, tissues: int, qtl: list[str], seed: int, genes_per_mb: float,
         introns: int, cis_kb: int, gdir: Path, traits: int = 0, loci_spacing_mb: float | None = None,
         tissue_start: int = 0) -> dict:
    """Write panel, xQTL datasets, GWAS and a sheet under ``out``; returns the manifest."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from twasflow.io.panel import build_panel_store

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tiles = _Tiles(gdir)
    # ---- panel: tile k = window k % 4 at [k + 1, k + 2) Mb
    pos, a1, a2, rs, freq, tile_of, row_in = [], [], [], [], [], [], []
    with open(out / "panel.bed", "wb") as fh:
        fh.write(bytes([0x6C, 0x1B, 0x01]))
        for k in range(mb):
            w = k % 4
            b = tiles.bim[w]
            pos.append(b["pos"] + (k + 1) * 1_000_000)
            a1 += b["a1"]
            a2 += b["a2"]
            rs += [f"{r}_t{k}" for r in b["rs"]]
            freq.append(b["freq"])
            tile_of.append(np.full(len(b["pos"]), k))
            row_in.append(np.arange(len(b["pos"])))
            fh.write(tiles.bed[w].tobytes())
    pos, freq, tile_of, row_in = map(np.concatenate, (pos, freq, tile_of, row_in))
    a1, a2 = np.array(a1), np.array(a2)
    with open(out / "panel.bim", "w") as fh:
        for i in range(len(pos)):
            fh.write(f"{chrom}\t{rs[i]}\t0\t{pos[i]}\t{a1[i]}\t{a2[i]}\n")
    (out / "panel.fam").write_text(tiles.fam)
    build_panel_store(out / "panel", bfile=out / "panel")
    V = len(pos)
    lo, hi = 1_000_000, (mb + 1) * 1_000_000
    # ---- genes and causal variants (positions are panel indices)
    n_genes = int(rng.poisson(genes_per_mb * mb))
    tss = np.sort(rng.integers(lo, hi, n_genes))
    gene_ids = [f"ENSG{int(x):011d}.{int(v)}" for x, v in zip(rng.choice(10**9, n_genes, replace=False) + 10**5,
                                                                 rng.integers(1, 15, n_genes))]
    causal = []
    for t in tss:
        near = np.flatnonzero(np.abs(pos - t) <= 100_000)
        causal.append(rng.choice(near, min(len(near), int(rng.integers(1, 4))), replace=False) if len(near) else
                      np.zeros(0, int))
    # ---- GTEx variant ids: panel variants (ALT = counted A1 for half) + extra variants (5%, a quarter indels)
    swap = rng.random(V) < 0.5
    ref = np.where(swap, a1, a2)
    alt = np.where(swap, a2, a1)
    n_extra = V // 20
    epos = np.sort(rng.integers(lo, hi, n_extra)) | 1
    ea = LETTERS[rng.integers(1, 5, n_extra)]
    eb = LETTERS[(np.searchsorted(LETTERS[1:], ea) + rng.integers(1, 4, n_extra)) % 4 + 1]
    indel = rng.random(n_extra) < 0.25
    eb = np.where(indel, np.char.add(ea, eb), eb)
    all_pos = np.concatenate([pos, epos])
    o = np.argsort(all_pos, kind="stable")
    all_pos = all_pos[o]
    all_ref = np.concatenate([ref, ea])[o]
    all_alt = np.concatenate([alt, eb])[o]
    all_pidx = np.concatenate([np.arange(V), np.full(n_extra, -1)])[o]
    vid = pa.array(np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(
        f"chr{chrom}_", all_pos.astype(str)), "_"), all_ref), "_"), np.char.add(all_alt, "_b38")))
    maf = np.where(all_pidx >= 0, np.minimum(freq[np.maximum(all_pidx, 0)], 1 - freq[np.maximum(all_pidx, 0)]),
                   rng.uniform(0.01, 0.5, len(all_pos)))
    sign_alt = np.where(all_pidx >= 0, np.where(swap[np.maximum(all_pidx, 0)], -1.0, 1.0), 1.0)

    def r_with(c: int, idx: np.ndarray) -> np.ndarray:
        """Panel correlation of variants ``idx`` (indices into all_pos) with panel variant c (0 across tiles)."""
        r = np.zeros(len(idx))
        pi = all_pidx[idx]
        same = (pi >= 0) & (tile_of[np.maximum(pi, 0)] == tile_of[c])
        w = tile_of[c] % 4
        X = tiles.X[w]
        r[same] = X[:, row_in[pi[same]]].T @ X[:, row_in[c]] / tiles.n
        return r

    names = list(GTEX_TISSUES)[tissue_start:tissues]  # per-tissue seeds: a range equals its part of the whole
    sheet = []
    manifest = {"mb": mb, "chrom": chrom, "panel_variants": int(V), "genes": n_genes, "datasets": {}, "seed": seed}
    gene_eff = rng.normal(0, 1, (n_genes, 3))
    rows_total = 0
    for kind in qtl:
        # phenotypes: (tss, id, causal variants, effects)
        phen = []
        for g in range(n_genes):
            if kind == "eqtl":
                phen.append((tss[g], gene_ids[g], causal[g], gene_eff[g, :len(causal[g])]))
                continue
            for j in range(introns):
                s = int(tss[g] + rng.integers(0, 50_000))
                keep = rng.random(len(causal[g])) < 0.7
                own = np.flatnonzero(np.abs(pos - tss[g]) <= 100_000)
                cs = np.concatenate([causal[g][keep], rng.choice(own, 1) if len(own) else []]).astype(int)
                ef = np.concatenate([gene_eff[g, :len(causal[g])][keep], rng.normal(0, 1, len(cs) - keep.sum())])
                phen.append((tss[g], f"chr{chrom}:{s}:{s + int(rng.integers(200, 20_000))}:clu_{g * 100 + j}:"
                             f"{gene_ids[g]}", cs, ef))
        windows = [np.arange(np.searchsorted(all_pos, t - cis_kb * 1000, "left"),
                             np.searchsorted(all_pos, t + cis_kb * 1000, "right")) for t, *_ in phen]
        signal = [sum((b * r_with(int(c), w) for c, b in zip(cs, ef)), np.zeros(len(w)))
                  for (_, _, cs, ef), w in zip(phen, windows)]
        for ti, tname in enumerate(names):
            n = GTEX_TISSUES[tname]
            trng = np.random.default_rng([seed, tissue_start + ti, qtl.index(kind)])
            tissue_scale = 0.8 + 0.4 * trng.random()  # effects correlated across tissues
            h = 0.25  # per-phenotype cis variance explained ~ h scale
            ds = f"{tname}.{kind}"
            d = out / "xqtl" / ds
            d.mkdir(parents=True, exist_ok=True)
            path = d / f"{ds}.allpairs.chr{chrom}.parquet"
            schema = pa.schema([("phenotype_id", pa.string()), ("variant_id", pa.string()),
                                ("tss_distance", pa.int32()), ("maf", pa.float32()), ("ma_samples", pa.int32()),
                                ("ma_count", pa.int32()), ("pval_nominal", pa.float64()), ("slope", pa.float32()),
                                ("slope_se", pa.float32())])
            writer = pq.ParquetWriter(path, schema, compression="snappy")
            buf: list[pa.Table] = []
            nbuf = 0
            nrows = 0
            from scipy.special import ndtr

            for (t, pid, _, _), w, sig in zip(phen, windows, signal):
                m = len(w)
                z = np.sqrt(n) * np.sqrt(h / 3) * tissue_scale * sig + trng.standard_normal(m)
                mf = maf[w]
                se = 1.0 / np.sqrt(2 * n * mf * (1 - mf))
                slope = (z * se * sign_alt[w]).astype(np.float32)
                se32 = se.astype(np.float32)
                p = 2 * ndtr(-np.abs(slope.astype(np.float64) / se32.astype(np.float64)))
                mac = np.maximum(np.round(2 * n * mf), 1).astype(np.int32)
                buf.append(pa.table({
                    "phenotype_id": pa.repeat(pa.scalar(pid), m), "variant_id": vid.take(pa.array(w)),
                    "tss_distance": pa.array((all_pos[w] - t).astype(np.int32)), "maf": pa.array(mf.astype(np.float32)),
                    "ma_samples": pa.array(np.minimum(mac, n).astype(np.int32)), "ma_count": pa.array(mac),
                    "pval_nominal": pa.array(p), "slope": pa.array(slope), "slope_se": pa.array(se32)}, schema=schema))
                nbuf += m
                if nbuf >= 1_000_000:
                    writer.write_table(pa.concat_tables(buf), row_group_size=1 << 20)
                    nrows += nbuf
                    buf, nbuf = [], 0
            if buf:
                writer.write_table(pa.concat_tables(buf), row_group_size=1 << 20)
                nrows += nbuf
            writer.close()
            rows_total += nrows
            manifest["datasets"][ds] = {"rows": nrows, "n": n}
            sheet.append({"dataset": ds, "tissue": tname, "qtl_type": "eQTL" if kind == "eqtl" else "sQTL",
                          "path": str(d / f"{ds}.allpairs.chr{{chrom}}.parquet"), "format": "gtex-parquet", "n": n,
                          "build": "GRCh38"})
            print(f"  {ds}: {nrows:,} rows ({time.perf_counter() - t0:.0f} s)", flush=True)
    pd.DataFrame(sheet).to_csv(out / "xqtl.tsv", sep="\t", index=False)
    # ---- GWAS: a causal gene every ~5 Mb acting through its first causal variant
    N = 400_000
    zg = rng.standard_normal(V)
    for g in range(0, n_genes, max(1, int(genes_per_mb * 5))):
        for c in causal[g][:1]:
            idx = np.flatnonzero(all_pidx >= 0)
            zg[all_pidx[idx]] += 7.0 * r_with(int(c), idx)
    se = 1.0 / np.sqrt(2 * N * freq * (1 - freq))
    from scipy.special import ndtr

    gw = pd.DataFrame({"chromosome": chrom, "base_pair_location": pos, "effect_allele": a1, "other_allele": a2,
                       "beta": np.round(zg * se, 8), "standard_error": np.round(se, 8),
                       "effect_allele_frequency": np.round(freq, 4), "p_value": 2 * ndtr(-np.abs(zg)),
                       "n": N, "rsid": rs})
    gw.to_csv(out / "gwas.tsv.gz", sep="\t", index=False)
    # ---- extra traits (own seeds: the datasets above do not change): loci every `loci_spacing_mb` Mb
    traits_made = []
    if loci_spacing_mb:
        targets = np.arange(lo + 900_000, hi, int(loci_spacing_mb * 1e6))
        with_causal = np.array([len(c) > 0 for c in causal])
        genes_at = [int(np.flatnonzero(with_causal)[np.argmin(np.abs(tss[with_causal] - t))]) for t in targets]
        idx = np.flatnonzero(all_pidx >= 0)
        for k in range(traits):
            trng = np.random.default_rng([seed, 1000 + k])
            zk = trng.standard_normal(V)
            for g in genes_at:  # the same causal genes in every trait, effect sizes of their own
                zk[all_pidx[idx]] += trng.uniform(6.0, 9.0) * r_with(int(causal[g][0]), idx)
            name = f"RS{k + 1}"
            pd.DataFrame({"chromosome": chrom, "base_pair_location": pos, "effect_allele": a1, "other_allele": a2,
                          "beta": np.round(zk * se, 8), "standard_error": np.round(se, 8),
                          "effect_allele_frequency": np.round(freq, 4), "p_value": 2 * ndtr(-np.abs(zk)),
                          "n": N, "rsid": rs}).to_csv(out / f"gwas_{name}.tsv.gz", sep="\t", index=False)
            traits_made.append(name)
        manifest["loci_targets"] = [int(t) for t in targets]
    manifest["traits"] = traits_made
    manifest.update(rows_total=rows_total, seconds=round(time.perf_counter() - t0, 1))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


# ---------------------------------------------------------------------------------------------------- runs


def _panel_variants(out: Path):
    import pandas as pd

    return pd.read_parquet(out / "panel" / "variants.parquet")


def run_ingest(out: Path, dataset: str, dest: Path) -> dict:
    """Harmonize one generated dataset (the rule's call); one JSON line with rows, CPU seconds, peak RSS."""
    import pandas as pd

    from twasflow.harmonize import harmonize_xqtl

    sheet = pd.read_csv(out / "xqtl.tsv", sep="\t").set_index("dataset")
    row = sheet.loc[dataset]
    pv = _panel_variants(out)
    c0, t0 = _cpu(), time.perf_counter()
    qc = harmonize_xqtl(row["path"], fmt="gtex-parquet", panel_variants=pv, out_dir=dest, qc_out=dest / "qc.json",
                        dataset=dataset, tissue=row["tissue"], qtl_type=row["qtl_type"], n=float(row["n"]),
                        declared_build="GRCh38", panel_build="GRCh38", chroms=[json.loads(
                            (out / "manifest.json").read_text())["chrom"]])
    return {"what": "ingest", "dataset": dataset, "rows": qc["n_input"], "kept": qc["n_kept"],
            "seconds": time.perf_counter() - t0, "cpu_seconds": _cpu() - c0, "peak_rss_gb": _rss_gb(),
            "dropped": qc["dropped"]}


def run_harmonize_gwas(out: Path) -> None:
    from twasflow.harmonize import harmonize_gwas

    harmonize_gwas(out / "gwas.tsv.gz", fmt="gwas-ssf", panel_variants=_panel_variants(out),
                   out=out / "harmonized" / "gwas.parquet", qc_out=out / "harmonized" / "gwas.qc.json",
                   trait="RS", declared_build="GRCh38", panel_build="GRCh38")


def run_locus(out: Path, harmonized: Path, datasets: int, centre_mb: float, radius_kb: int = 1000,
              bundle_out: Path | None = None) -> dict:
    """Build one locus bundle over the first ``datasets`` harmonized datasets (eQTL and sQTL alternating)."""
    from twasflow.io.panel import Panel
    from twasflow.ld import panel_ld
    from twasflow.locus import build_locus, write_bundle

    man = json.loads((out / "manifest.json").read_text())
    names = sorted(man["datasets"], key=lambda d: (list(GTEX_TISSUES).index(d.split(".")[0]), d))[:datasets]
    dirs = {d: harmonized / d for d in names}
    c = int(centre_mb * 1e6)
    locus = {"locus_id": f"RS.{man['chrom']}_{c - radius_kb * 1000}_{c + radius_kb * 1000}", "chrom": man["chrom"],
             "start": c - radius_kb * 1000, "end": c + radius_kb * 1000}
    c0, t0 = _cpu(), time.perf_counter()
    panel = Panel(out / "panel")
    b = build_locus(locus, gwas_path=out / "harmonized" / "gwas.parquet", xqtl_dirs=dirs, panel=panel, ld=panel_ld)
    res = {"what": "locus", "datasets": len(names), "M": b.M, "P": b.P,
           "xqtl_rows_in_window": b.stats.get("xqtl_rows_in_window"), "seconds": time.perf_counter() - t0,
           "cpu_seconds": _cpu() - c0, "peak_rss_gb": _rss_gb()}
    if bundle_out is not None:
        write_bundle(b, bundle_out)
    return res


def write_workflow(outs: list[Path], dest: Path, *, loci_per_chunk: int, methods: list[str]) -> Path:
    """A Snakemake config + sheets under ``dest`` running the whole workflow on the generated slice: the
    panel and GWAS traits of ``outs[0]``, the xQTL datasets of every dir in ``outs`` (``make --tissue-start``
    ranges run in parallel). Returns the config path (``snakemake --configfile``)."""
    import pandas as pd
    import yaml

    dest.mkdir(parents=True, exist_ok=True)
    man = json.loads((outs[0] / "manifest.json").read_text())
    xq = pd.concat([pd.read_csv(o / "xqtl.tsv", sep="\t") for o in outs], ignore_index=True)
    xq["dataset"] = xq["dataset"].str.replace(".", "_", regex=False)
    xq.to_csv(dest / "xqtl.tsv", sep="\t", index=False)
    traits = man.get("traits") or []
    gw = pd.DataFrame({"trait": traits, "path": [str(outs[0] / f"gwas_{t}.tsv.gz") for t in traits],
                       "format": "gwas-ssf", "n": "", "build": "GRCh38"})
    gw.to_csv(dest / "gwas.tsv", sep="\t", index=False)
    cfg = {"outdir": str(dest / "results"), "genome_build": "GRCh38", "gwas_sheet": str(dest / "gwas.tsv"),
           "xqtl_sheet": str(dest / "xqtl.tsv"), "simulate": {"enabled": False},
           "panel": {"bfile": str(outs[0] / "panel")}, "methods": methods, "locus_plots": "none",
           "loci": {"radius_kb": 1000, "ld_blocks": "none"}, "ctwas": {"min_group_size": 100, "min_p_single_effect": 0.5},  # 3 regions per trait: 0.8 finds none
           "gene_tests": {"enabled": False}, "chunking": {"loci_per_chunk": loci_per_chunk}}
    (dest / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dest / "config.yaml"


def rule_table(bench_dir: Path) -> str:
    """Markdown table of Snakemake benchmark files (``{bench_dir}/{rule}/….tsv``): per rule the jobs, CPU and
    wall seconds (total and median per job) and the largest peak RSS."""
    import pandas as pd

    rows = []
    for rd in sorted(p for p in bench_dir.iterdir() if p.is_dir() or p.suffix == ".tsv"):
        files = [rd] if rd.is_file() else sorted(rd.rglob("*.tsv"))
        if not files:
            continue
        t = pd.concat([pd.read_csv(f, sep="\t") for f in files], ignore_index=True)
        rows.append({"rule": rd.stem, "jobs": len(t), "CPU s total": t["cpu_time"].sum(),
                     "CPU s median/job": t["cpu_time"].median(), "wall s total": t["s"].sum(),
                     "wall s median/job": t["s"].median(), "peak RSS MB (max)": t["max_rss"].max()})
    df = pd.DataFrame(rows)
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
    return head + "".join("| " + " | ".join(f"{v:,.1f}" if isinstance(v, float) else str(v) for v in r) + " |\n"
                          for r in df.itertuples(index=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--mb", type=int, default=10, help="slice length (Mb): the size parameter")
    m.add_argument("--chrom", default="1")
    m.add_argument("--tissues", type=int, default=49)
    m.add_argument("--qtl", nargs="+", default=["eqtl", "sqtl"], choices=["eqtl", "sqtl"])
    m.add_argument("--seed", type=int, default=17)
    m.add_argument("--genes-per-mb", type=float, default=7.0)
    m.add_argument("--introns", type=int, default=13)
    m.add_argument("--cis-kb", type=int, default=1000)
    m.add_argument("--genotypes", type=Path, default=GENOTYPES)
    m.add_argument("--force", action="store_true")
    m.add_argument("--traits", type=int, default=0,
                   help="extra GWAS traits gwas_RS{k}.tsv.gz with causal genes every --loci-spacing-mb Mb")
    m.add_argument("--loci-spacing-mb", type=float, default=2.2)
    m.add_argument("--tissue-start", type=int, default=0,
                   help="write tissues [tissue-start, tissues) only (run ranges in parallel into separate --out)")
    i = sub.add_parser("ingest")
    i.add_argument("--out", type=Path, required=True)
    i.add_argument("--dataset", required=True)
    i.add_argument("--dest", type=Path, default=None)
    g = sub.add_parser("gwas")
    g.add_argument("--out", type=Path, required=True)
    lc = sub.add_parser("locus")
    lc.add_argument("--out", type=Path, required=True)
    lc.add_argument("--harmonized", type=Path, default=None)
    lc.add_argument("--datasets", type=int, default=32)
    lc.add_argument("--centre-mb", type=float, default=None)
    lc.add_argument("--bundle-out", type=Path, default=None)
    w = sub.add_parser("workflow", help="write a Snakemake config running the whole workflow on generated data")
    w.add_argument("--out", type=Path, nargs="+", required=True, help="make dirs (panel and GWAS from the first)")
    w.add_argument("--dest", type=Path, required=True)
    w.add_argument("--loci-per-chunk", type=int, default=1)
    w.add_argument("--methods", nargs="+", default=["tgvis", "ctwas", "tgfm"])
    rt = sub.add_parser("rules", help="per-rule table of a run's Snakemake benchmark files")
    rt.add_argument("--bench", type=Path, required=True, help="the run's benchmarks/rules directory")
    a = ap.parse_args()
    if a.cmd == "rules":
        print(rule_table(a.bench), end="")
        return
    if a.cmd == "workflow":
        print(write_workflow(a.out, a.dest, loci_per_chunk=a.loci_per_chunk, methods=a.methods))
        return
    if a.cmd == "make":
        if a.force and a.out.exists():
            shutil.rmtree(a.out)
        man = make(a.out, mb=a.mb, chrom=a.chrom, tissues=a.tissues, qtl=a.qtl, seed=a.seed,
                   genes_per_mb=a.genes_per_mb, introns=a.introns, cis_kb=a.cis_kb, gdir=a.genotypes,
                   traits=a.traits, loci_spacing_mb=a.loci_spacing_mb if a.traits else None, tissue_start=a.tissue_start)
        print(json.dumps({k: v for k, v in man.items() if k != "datasets"}))
    elif a.cmd == "ingest":
        dest = a.dest or a.out / "harmonized" / a.dataset
        print(json.dumps(run_ingest(a.out, a.dataset, dest)))
    elif a.cmd == "gwas":
        run_harmonize_gwas(a.out)
    else:
        man = json.loads((a.out / "manifest.json").read_text())
        centre = a.centre_mb if a.centre_mb is not None else 1 + man["mb"] / 2
        print(json.dumps(run_locus(a.out, a.harmonized or a.out / "harmonized", a.datasets, centre,
                                   bundle_out=a.bundle_out)))


if __name__ == "__main__":
    main()
