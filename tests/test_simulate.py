"""The bundled example simulator: layout, formats, determinism, planted truth, speed."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pysam
import pytest
from scipy import stats as sps

from twasflow.errors import ConfigError
from twasflow.simulate import make_example
from twasflow.simulate.stats import gwas_z, marginal_ols

TRAITS = ("LDL_sim", "BMI_sim")
EQTL_TISSUES = ("Liver", "Adipose_Subcutaneous", "Whole_Blood", "Muscle_Skeletal")
XQTL_FILES = [f"xqtl/{t}.eQTL.chr{c}.parquet" for t in EQTL_TISSUES for c in ("1", "2")] + [
    f"xqtl/Liver.sQTL.chr{c}.parquet" for c in ("1", "2")
]
EXPECTED = sorted(
    [
        "panel/example.bed",
        "panel/example.bim",
        "panel/example.fam",
        "panel/example.chr1.vcf.gz",
        "panel/example.chr1.vcf.gz.tbi",
        "panel/example.chr2.vcf.gz",
        "panel/example.chr2.vcf.gz.tbi",
        "genes.tsv",
        "truth_xqtl.tsv",
        "gene_lists/silver_standard.tsv",
        "gene_lists/drug_targets.tsv",
        "annotations/consequences.tsv",
        "annotations/elements.bed",
        "annotations/truth.tsv",
        "manifest.json",
        *XQTL_FILES,
        *[f"gwas/{t}.tsv.gz" for t in TRAITS],
        *[f"gwas/{t}.truth.tsv" for t in TRAITS],
    ]
)
SSF_COLUMNS = [
    "chromosome", "base_pair_location", "effect_allele", "other_allele", "beta", "standard_error",
    "effect_allele_frequency", "p_value", "rsid", "n",
]
GTEX_TYPES = {
    "phenotype_id": "string", "variant_id": "string", "tss_distance": "int32", "maf": "float", "ma_samples": "int32",
    "ma_count": "int32", "pval_nominal": "double", "slope": "float", "slope_se": "float",
}
SMALL = dict(
    n_panel=60,
    xqtl_n={t: 80 for t in EQTL_TISSUES},
    n_gwas_ld=200,
    chrom_length=1_000_000,
    variants_per_chrom=400,
    genes_per_chrom=8,
)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path], float]:
    out = tmp_path_factory.mktemp("example")
    t0 = time.perf_counter()
    written = make_example(out)
    return out, written, time.perf_counter() - t0


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_bim(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "panel/example.bim", sep="\t", header=None, dtype={0: str},
                       names=["chrom", "rsid", "cm", "pos", "a1", "a2"])


def _read_bed(out: Path, n_samples: int, n_variants: int) -> np.ndarray:
    """Decode a SNP-major PLINK 1 .bed by hand: A1 dosages, shape (M, n), -1 for missing."""
    raw = np.fromfile(out / "panel/example.bed", dtype=np.uint8)
    assert raw[:3].tolist() == [0x6C, 0x1B, 0x01]
    per = (n_samples + 3) // 4
    body = raw[3:].reshape(n_variants, per)
    codes = np.stack([(body >> (2 * k)) & 0b11 for k in range(4)], axis=2).reshape(n_variants, -1)[:, :n_samples]
    return np.array([2, -1, 1, 0], dtype=np.int64)[codes]


def _gwas(out: Path, trait: str) -> pd.DataFrame:
    return pd.read_csv(out / f"gwas/{trait}.tsv.gz", sep="\t", dtype={"chromosome": str})


def test_layout_and_manifest(example) -> None:
    out, written, _ = example
    assert sorted(written) == EXPECTED
    for rel, path in written.items():
        assert path == out / rel and path.is_file() and path.stat().st_size > 0, rel
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 20240601 and manifest["genome_build"] == "GRCh38"
    assert sorted(manifest["files"]) == sorted(set(EXPECTED) - {"manifest.json"})
    for rel, meta in manifest["files"].items():
        assert meta["sha256"] == _sha(out / rel), rel
    genes = pd.read_csv(out / "genes.tsv", sep="\t", dtype={"chrom": str})
    assert list(genes.columns) == ["gene_id", "gene_name", "chrom", "start", "end", "strand", "tss", "biotype"]
    assert len(genes) == 40 and set(genes["chrom"]) == {"1", "2"}
    assert genes["gene_id"].str.fullmatch(r"ENSG9\d{10}").all() and genes["gene_id"].is_unique
    assert genes["gene_name"].str.fullmatch(r"SIMG\d+").all()
    assert ((genes["strand"] == "+") == (genes["tss"] == genes["start"])).all()
    assert ((genes["strand"] == "-") == (genes["tss"] == genes["end"])).all()
    assert (genes["biotype"] == "protein_coding").mean() > 0.7


def test_same_seed_byte_identical_different_seed_differs(tmp_path: Path) -> None:
    a = make_example(tmp_path / "a", seed=7, **SMALL)
    b = make_example(tmp_path / "b", seed=7, **SMALL)
    c = make_example(tmp_path / "c", seed=8, **SMALL)
    assert sorted(a) == sorted(b) == sorted(c) == EXPECTED
    for rel in a:
        assert _sha(a[rel]) == _sha(b[rel]), rel
    differs = [rel for rel in a if _sha(a[rel]) != _sha(c[rel])]
    # only the sample list does not depend on the seed
    assert sorted(set(a) - set(differs)) == ["panel/example.fam"]


def test_unknown_parameter_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="n_pannel"):
        make_example(tmp_path, n_pannel=10)


def test_panel_bed_and_vcf_encode_the_same_genotypes(example) -> None:
    out, _, _ = example
    bim = _read_bim(out)
    fam = pd.read_csv(out / "panel/example.fam", sep="\t", header=None, dtype=str)
    assert (fam[0] == fam[1]).all() and (fam[4] == "0").all() and (fam[5] == "-9").all()
    assert len(fam) == 500
    dos = _read_bed(out, len(fam), len(bim))
    assert (dos >= 0).all()
    f = dos.mean(axis=1) / 2
    assert np.minimum(f, 1 - f).min() >= 0.01
    assert bim["rsid"].str.fullmatch(r"rs\d+").all() and bim["rsid"].is_unique
    assert set(bim["chrom"]) == {"1", "2"}
    for chrom in ("1", "2"):
        sub = bim["chrom"] == chrom
        assert 1500 <= sub.sum() <= 3000
        with pysam.VariantFile(str(out / f"panel/example.chr{chrom}.vcf.gz")) as vcf:
            assert list(vcf.header.contigs) == [chrom]
            assert list(vcf.header.samples) == fam[1].tolist()
            assert not any(r.key == "fileDate" for r in vcf.header.records)
            rows = [(r.chrom, r.pos, r.id, r.ref, r.alts, str(r).rstrip("\n").split("\t")[9:]) for r in vcf]
        assert [r[1] for r in rows] == bim.loc[sub, "pos"].tolist()
        assert [r[2] for r in rows] == bim.loc[sub, "rsid"].tolist()
        # bim A1 (col 5) = ALT, A2 (col 6) = REF: the same {chrom}:{pos}:{REF}:{ALT} ids
        assert [r[3] for r in rows] == bim.loc[sub, "a2"].tolist()
        assert [r[4] for r in rows] == [(a,) for a in bim.loc[sub, "a1"]]
        assert all(len(r[3]) == 1 and len(r[4][0]) == 1 for r in rows)
        gt = np.array([r[5] for r in rows])
        vcf_dos = (np.char.count(gt.astype(str), "1")).astype(np.int64)
        assert np.array_equal(vcf_dos, dos[sub.to_numpy()])
        with pysam.TabixFile(str(out / f"panel/example.chr{chrom}.vcf.gz")) as tbx:
            mid = rows[len(rows) // 2][1]
            hits = list(tbx.fetch(chrom, mid - 1, mid))
            assert len(hits) == 1 and hits[0].split("\t")[1] == str(mid)


def test_xqtl_files_have_the_gtex_v8_layout(example) -> None:
    out, _, _ = example
    genes = pd.read_csv(out / "genes.tsv", sep="\t", dtype={"chrom": str}).set_index("gene_id")
    bim = _read_bim(out)
    panel_ids = set("chr" + bim["chrom"] + "_" + bim["pos"].astype(str) + "_" + bim["a2"] + "_" + bim["a1"] + "_b38")
    xqtl_ids: set[str] = set()
    for rel in XQTL_FILES:
        pf = pq.ParquetFile(out / rel)
        assert pf.metadata.created_by.startswith("parquet-cpp-arrow")
        assert pf.schema_arrow.metadata is None  # no pandas metadata, nothing run-dependent
        assert {f.name: str(f.type) for f in pf.schema_arrow} == GTEX_TYPES
        df = pf.read().to_pandas()
        chrom = re.search(r"chr(\d)", rel).group(1)
        assert len(df) > 1000
        assert df["variant_id"].str.fullmatch(rf"chr{chrom}_\d+_[ACGT]_[ACGT]_b38").all()
        pos = df["variant_id"].str.split("_").str[1].astype(np.int64)
        # sorted by phenotype, then position; no duplicate (phenotype, variant)
        key = pd.DataFrame({"p": df["phenotype_id"], "pos": pos})
        assert key.equals(key.sort_values(["p", "pos"]).reset_index(drop=True))
        assert not df.duplicated(["phenotype_id", "variant_id"]).any()
        gene = df["phenotype_id"].str.extract(r"(ENSG9\d{10})\.\d+$")[0]
        assert gene.notna().all()
        if ".eQTL." in rel:
            assert df["phenotype_id"].str.fullmatch(r"ENSG9\d{10}\.\d+").all()
        else:
            assert df["phenotype_id"].str.fullmatch(rf"chr{chrom}:\d+:\d+:clu_\d+:ENSG9\d{{10}}\.\d+").all()
        tss = genes.loc[gene, "tss"].to_numpy()
        assert np.array_equal(df["tss_distance"].to_numpy(), pos.to_numpy() - tss)
        assert (df["tss_distance"].abs() <= 1_000_000).all()
        assert ((df["maf"] >= 0.01) & (df["maf"] <= 0.5)).all()
        assert (df["ma_count"] >= df["ma_samples"]).all() and (df["ma_samples"] > 0).all()
        assert ((df["pval_nominal"] > 0) & (df["pval_nominal"] <= 1)).all()
        assert (df["slope_se"] > 0).all()
        t = df["slope"].to_numpy(np.float64) / df["slope_se"].to_numpy(np.float64)
        n = 300 if rel.startswith("xqtl/Liver") else None
        if n is not None:  # p is the two-sided t-test with n - 2 df
            np.testing.assert_allclose(2 * sps.t.sf(np.abs(t), n - 2), df["pval_nominal"], rtol=1e-4)
        xqtl_ids |= set(df["variant_id"])
    # a few % of variants on each side are missing from the other, to exercise drops downstream
    only_x = len(xqtl_ids - panel_ids) / len(xqtl_ids)
    only_p = len(panel_ids - xqtl_ids) / len(panel_ids)
    assert 0.01 <= only_x <= 0.06 and 0.01 <= only_p <= 0.08


def test_gwas_ssf_columns_and_planted_defects(example) -> None:
    out, _, _ = example
    bim = _read_bim(out)
    ref = dict(zip(bim["chrom"] + ":" + bim["pos"].astype(str), bim["a2"]))
    manifest = json.loads((out / "manifest.json").read_text())
    for trait in TRAITS:
        raw = (out / f"gwas/{trait}.tsv.gz").read_bytes()
        assert raw[:4] == b"\x1f\x8b\x08\x00" and raw[4:8] == b"\x00\x00\x00\x00"  # no FNAME, mtime 0
        df = _gwas(out, trait)
        assert list(df.columns) == SSF_COLUMNS
        key = df[["chromosome", "base_pair_location"]].assign(chromosome=df["chromosome"].astype(int))
        assert key.equals(key.sort_values(["chromosome", "base_pair_location"], kind="stable"))
        assert df.duplicated().sum() == 2
        assert df["p_value"].isna().sum() == 1 and df.drop(columns="p_value").notna().all().all()
        assert (df["n"] == manifest["params"]["gwas_n"][trait]).all()
        ids = df["chromosome"] + ":" + df["base_pair_location"].astype(str)
        in_panel = ids.isin(ref.keys())
        assert 0.002 <= 1 - in_panel.mean() <= 0.01
        swapped = df.loc[in_panel, "effect_allele"].to_numpy() == ids[in_panel].map(ref).to_numpy()
        assert 0.25 <= swapped.mean() <= 0.35
        pal = (df["effect_allele"] + df["other_allele"]).isin(["AT", "TA", "CG", "GC"])
        assert 0 < pal.sum() < 0.1 * len(df)
        assert df["rsid"].str.fullmatch(r"rs\d+").all()
        assert ((df["effect_allele_frequency"] > 0) & (df["effect_allele_frequency"] < 1)).all()
        z = df["beta"] / df["standard_error"]
        ok = df["p_value"].notna()
        np.testing.assert_allclose(2 * sps.norm.sf(np.abs(z[ok])), df.loc[ok, "p_value"], rtol=1e-3)


def _gws_loci(df: pd.DataFrame, sep: int = 1_000_000) -> list[tuple[str, int]]:
    hits = df[df["p_value"] < 5e-8].sort_values("p_value")
    leads: list[tuple[str, int]] = []
    for c, p in zip(hits["chromosome"], hits["base_pair_location"]):
        if all(c != c0 or abs(p - p0) > sep for c0, p0 in leads):
            leads.append((c, int(p)))
    return leads


def test_gwas_has_planted_genome_wide_loci(example) -> None:
    out, _, _ = example
    for trait in TRAITS:
        df = _gwas(out, trait)
        loci = _gws_loci(df)
        assert len(loci) >= 3, (trait, loci)
        truth = pd.read_csv(out / f"gwas/{trait}.truth.tsv", sep="\t")
        for hint in truth["locus_hint"].dropna():
            chrom, rng = hint.split(":")
            lo, hi = map(int, rng.split("-"))
            inside = (df["chromosome"] == chrom) & df["base_pair_location"].between(lo, hi)
            assert df.loc[inside, "p_value"].min() < 5e-8, (trait, hint)


def test_truth_tables_and_causal_pairs_have_xqtls(example) -> None:
    out, _, _ = example
    bim = _read_bim(out)
    panel_vids = set(bim["chrom"] + ":" + bim["pos"].astype(str) + ":" + bim["a2"] + ":" + bim["a1"])
    tx = pd.read_csv(out / "truth_xqtl.tsv", sep="\t")
    assert list(tx.columns[:3]) == ["pair_id", "variant_id", "effect"]
    assert tx["variant_id"].isin(panel_vids).all()
    truths = {}
    for trait in TRAITS:
        t = pd.read_csv(out / f"gwas/{trait}.truth.tsv", sep="\t", dtype={"variant_id": str})
        assert list(t.columns[:10]) == ["trait", "kind", "pair_id", "gene_id", "gene_name", "tissue", "qtl_type",
                                        "variant_id", "effect", "locus_hint"]
        kinds = t["kind"].value_counts()
        assert 2 <= kinds["pair"] <= 4 and 1 <= kinds["variant"] <= 2 and kinds["infinitesimal"] == 1
        assert t.loc[t["kind"] == "variant", "variant_id"].isin(panel_vids).all()
        for _, r in t[t["kind"] == "pair"].iterrows():
            phenotype_id, tissue, qtl_type = r["pair_id"].split("|")
            assert (tissue, qtl_type) == (r["tissue"], r["qtl_type"])
            assert phenotype_id.split(":")[-1].split(".")[0] == r["gene_id"]
            chrom = r["locus_hint"].split(":")[0]
            x = pd.read_parquet(out / f"xqtl/{tissue}.{qtl_type}.chr{chrom}.parquet")
            x = x[x["phenotype_id"] == phenotype_id]
            # significant after Bonferroni over its cis variants, and below the pipeline's default xqtl_p
            assert len(x) > 0 and x["pval_nominal"].min() < min(1e-5, 0.05 / len(x)), r["pair_id"]
            assert (tx["pair_id"] == r["pair_id"]).any()
        truths[trait] = t
    # one shared locus at least, with different causal pairs for the two traits
    def spans(t: pd.DataFrame) -> list[tuple[str, int, int, str]]:
        out_ = []
        for _, r in t.dropna(subset=["locus_hint"]).iterrows():
            c, rg = r["locus_hint"].split(":")
            lo, hi = map(int, rg.split("-"))
            out_.append((c, lo, hi, str(r["pair_id"])))
        return out_
    shared = [
        (a, b) for a in spans(truths["LDL_sim"]) for b in spans(truths["BMI_sim"])
        if a[0] == b[0] and a[1] <= b[2] and b[1] <= a[2] and a[3] != "nan" and b[3] != "nan" and a[3] != b[3]
    ]
    assert shared
    # one causal eQTL pair whose eQTL variants act in every tissue (the tissue must be resolved)
    pairs = pd.concat(truths.values())
    pairs = pairs[(pairs["kind"] == "pair") & (pairs["qtl_type"] == "eQTL")]
    n_tissues = [
        tx[(tx["gene_id"] == g) & (tx["qtl_type"] == "eQTL") & tx["variant_id"].isin(
            tx.loc[tx["pair_id"] == p, "variant_id"])]["tissue"].nunique()
        for g, p in zip(pairs["gene_id"], pairs["pair_id"])
    ]
    assert max(n_tissues) == 4


def test_marginal_ols_matches_scipy_linregress() -> None:
    rng = np.random.default_rng(3)
    dos = rng.binomial(2, [0.1, 0.3, 0.5, 0.02], size=(200, 4)).astype(float)
    y = dos @ np.array([0.3, -0.2, 0.0, 0.5])[:, None] + rng.standard_normal((200, 1))
    y = np.hstack([y, rng.standard_normal((200, 1))])
    ols = marginal_ols(dos, y)
    ys = (y - y.mean(0)) / y.std(0)
    for m in range(4):
        for p in range(2):
            ref = sps.linregress(dos[:, m], ys[:, p])
            np.testing.assert_allclose(ols.slope[m, p], ref.slope, rtol=1e-10)
            np.testing.assert_allclose(ols.slope_se[m, p], ref.stderr, rtol=1e-10)
            np.testing.assert_allclose(ols.pval[m, p], ref.pvalue, rtol=1e-8)


def test_gwas_z_noise_covariance_is_the_sample_ld() -> None:
    rng = np.random.default_rng(5)
    g = rng.standard_normal((50, 3))
    g[:, 1] = 0.8 * g[:, 0] + 0.6 * g[:, 1]
    g = (g - g.mean(0)) / g.std(0)
    r = g.T @ g / 50
    draws = np.array([gwas_z(g, np.zeros(3), 1e5, np.random.default_rng(i)) for i in range(4000)])
    # Monte-Carlo error of a covariance from 4000 draws is ~ 0.02; 0.08 is 4 SE
    np.testing.assert_allclose(np.cov(draws.T), r, atol=0.08)
    beta = np.array([0.01, 0.0, 0.0])
    np.testing.assert_allclose(gwas_z(g, beta, 1e5, np.random.default_rng(0)) - draws[0],
                               np.sqrt(1e5) * r @ beta, atol=1e-12)
