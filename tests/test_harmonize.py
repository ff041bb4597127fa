"""Harmonization of GWAS and xQTL summary statistics: allele rules, invariants, formats, real data."""

from __future__ import annotations

import gzip
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import DATA
from twasflow.errors import HarmonizeError
from twasflow.harmonize import GWAS_COLUMNS, XQTL_COLUMNS, gene_id_of, harmonize_gwas, harmonize_xqtl

COMP = {"A": "T", "C": "G", "G": "C", "T": "A"}
SSF_HEADER = ["chromosome", "base_pair_location", "effect_allele", "other_allele", "beta", "standard_error",
              "effect_allele_frequency", "p_value", "rsid"]


def make_panel(rows: list[tuple]) -> pd.DataFrame:
    """rows: (chrom, pos, other, counted, freq[, rsid])."""
    df = pd.DataFrame([r[:5] for r in rows], columns=["chrom", "pos", "other_allele", "counted_allele", "counted_freq"])
    df["chrom"] = df["chrom"].astype(str)
    df["pos"] = df["pos"].astype(np.int64)
    df["rsid"] = [r[5] if len(r) > 5 else f"rs{i + 1}" for i, r in enumerate(rows)]
    df["variant_id"] = df.chrom + ":" + df.pos.astype(str) + ":" + df.other_allele + ":" + df.counted_allele
    df["n_called"] = 100
    df["row"] = np.arange(len(df))
    return df[["variant_id", "chrom", "pos", "other_allele", "counted_allele", "rsid", "counted_freq", "n_called", "row"]]


def random_panel(m: int, seed: int, chroms=("1", "2")) -> pd.DataFrame:
    """A panel of m non-palindromic and palindromic SNVs spread over ``chroms``."""
    rng = np.random.default_rng(seed)
    rows = []
    per = m // len(chroms)
    for c in chroms:
        pos = np.sort(rng.choice(np.arange(10_000, 10_000 + 50 * per), per, replace=False))
        for p in pos:
            a, b = rng.choice(list("ACGT"), 2, replace=False)
            rows.append((c, int(p), a, b, float(np.round(rng.uniform(0.02, 0.98), 4))))
    return make_panel(rows)


def gwas_from_panel(panel: pd.DataFrame, seed: int, frac_swap: float = 0.5) -> pd.DataFrame:
    """A GWAS-SSF frame on the panel's variants, effect allele = counted or other at random."""
    rng = np.random.default_rng(seed)
    m = len(panel)
    swap = rng.random(m) < frac_swap
    beta = np.round(rng.normal(0, 0.05, m), 6)
    se = np.round(rng.uniform(0.01, 0.05, m), 6)
    f = panel.counted_freq.to_numpy()
    # a frequency close to the panel's, so palindromic variants align
    eaf_c = np.clip(np.round(f + rng.normal(0, 0.01, m), 4), 0.001, 0.999)
    df = pd.DataFrame({
        "chromosome": panel.chrom.to_numpy(),
        "base_pair_location": panel.pos.to_numpy(),
        "effect_allele": np.where(swap, panel.other_allele, panel.counted_allele),
        "other_allele": np.where(swap, panel.counted_allele, panel.other_allele),
        "beta": beta,
        "standard_error": se,
        "effect_allele_frequency": np.round(np.where(swap, 1 - eaf_c, eaf_c), 4),
        "p_value": [float(f"{x:.4g}") for x in 2 * _sf(np.abs(beta / se))],
        "rsid": panel.rsid.to_numpy(),
    })
    return df


def _sf(x):
    from scipy.stats import norm
    return norm.sf(x)


def write_tsv(df: pd.DataFrame, path: Path, gz: bool = False) -> Path:
    text = df.to_csv(sep="\t", index=False, na_rep="NA")
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def run(tmp: Path, path: Path, panel: pd.DataFrame, name: str = "h", **kw) -> tuple[dict, pd.DataFrame]:
    kw.setdefault("fmt", "gwas-ssf")
    kw.setdefault("n", 1000)
    qc = harmonize_gwas(path, panel_variants=panel, out=tmp / f"{name}.parquet", qc_out=tmp / f"{name}.qc.json", **kw)
    assert json.loads((tmp / f"{name}.qc.json").read_text()) == qc
    return qc, pd.read_parquet(tmp / f"{name}.parquet")


# ------------------------------------------------------------------------------------------------


def test_orientation_rules(tmp_path):
    panel = make_panel([
        ("1", 100, "A", "G", 0.2),   # same orientation
        ("1", 200, "C", "T", 0.3),   # swapped
        ("1", 300, "A", "C", 0.3),   # strand flip, same
        ("1", 400, "A", "C", 0.3),   # strand flip, swapped
        ("1", 500, "A", "T", 0.1),   # palindromic, aligned by frequency (swapped)
        ("1", 600, "C", "G", 0.45),  # palindromic, MAF too high -> ambiguous
        ("1", 700, "A", "G", 0.2),   # multi-allelic panel site: A/G ...
        ("1", 700, "A", "T", 0.05),  # ... and A/T
        ("1", 800, "A", "G", 0.2),   # allele mismatch (file has C/A)
        ("23", 900, "C", "T", 0.3),  # X given as 23 in the panel
    ])
    rows = [
        ("chr1", 100, "G", "A", 0.5, 0.1, 0.21),
        ("1", 200, "C", "T", 0.5, 0.1, 0.69),
        ("1", 300, "G", "T", 0.5, 0.1, 0.31),   # complement of C/A -> counted C is effect
        ("1", 400, "T", "G", 0.5, 0.1, 0.69),   # complement A/C -> effect = other
        ("1", 500, "A", "T", 0.5, 0.1, 0.88),   # A freq .88 <-> panel T .1: A is the other allele
        ("1", 600, "C", "G", 0.5, 0.1, 0.55),
        ("1", 700, "T", "A", 0.5, 0.1, 0.06),   # matches the second panel row, same orientation
        ("1", 800, "C", "A", 0.5, 0.1, 0.5),
        ("chrX", 900, "C", "T", 0.5, 0.1, 0.7),
        ("1", 100, "G", "A", 0.7, 0.1, 0.21),   # duplicate of the first row
        ("5", 100, "G", "A", 0.7, 0.1, 0.21),   # chromosome absent from the panel
        ("1", 150, "G", "A", 0.7, 0.1, 0.21),   # position absent from the panel
    ]
    df = pd.DataFrame(rows, columns=["chromosome", "base_pair_location", "effect_allele", "other_allele", "beta",
                                     "standard_error", "effect_allele_frequency"])
    df["p_value"] = 0.01
    qc, out = run(tmp_path, write_tsv(df, tmp_path / "g.tsv"), panel)
    assert list(out.columns) == list(GWAS_COLUMNS)
    assert qc["n_input"] == 12 and qc["n_kept"] == 7
    assert qc["dropped"] == {"palindromic_ambiguous": 1, "allele_mismatch": 1, "duplicate": 1,
                             "chrom_not_in_panel": 1, "not_in_panel": 1}
    assert qc["flipped_strand"] == 2 and qc["palindromic_aligned"] == 2
    got = dict(zip(out.variant_id, out.z))
    assert got == {"1:100:A:G": 5.0, "1:200:C:T": -5.0, "1:300:A:C": 5.0, "1:400:A:C": -5.0,
                   "1:500:A:T": -5.0, "1:700:A:T": 5.0, "23:900:C:T": -5.0}
    freq = dict(zip(out.variant_id, out.counted_freq))
    assert freq["1:200:C:T"] == pytest.approx(0.31, abs=1e-12)
    assert freq["1:500:A:T"] == pytest.approx(0.12, abs=1e-12)
    assert list(out.chrom) == ["1"] * 6 + ["23"]  # panel labels are written as the panel has them
    assert (out.pos.diff().dropna() >= 0).iloc[:5].all()


def test_palindromic_drop_mode_and_strand_inconsistent(tmp_path):
    panel = make_panel([("1", 100, "A", "T", 0.1), ("1", 200, "C", "G", 0.2), ("1", 300, "A", "G", 0.2)])
    df = pd.DataFrame({"chromosome": ["1", "1", "1"], "base_pair_location": [100, 200, 300],
                       "effect_allele": ["T", "C", "G"], "other_allele": ["A", "G", "A"], "beta": [0.1, 0.1, 0.1],
                       "standard_error": [0.1, 0.1, 0.1], "effect_allele_frequency": [0.1, 0.2, 0.2],
                       "p_value": [0.3, 0.3, 0.3]})
    path = write_tsv(df, tmp_path / "g.tsv")
    qc, out = run(tmp_path, path, panel, palindromic="drop")
    assert qc["dropped"] == {"palindromic_dropped": 2} and list(out.variant_id) == ["1:300:A:G"]
    # C/G at 200: labels say C is the other allele, frequency says C is counted (0.2 vs 0.2) -> inconsistent
    qc, out = run(tmp_path, path, panel, name="h2")
    assert qc["dropped"] == {"strand_inconsistent": 1} and qc["palindromic_aligned"] == 1
    assert list(out.variant_id) == ["1:100:A:T", "1:300:A:G"]


def test_flip_invariance_and_accounting(tmp_path):
    panel = random_panel(600, seed=1)
    g = gwas_from_panel(panel, seed=2)
    qc1, out1 = run(tmp_path, write_tsv(g, tmp_path / "a.tsv.gz", gz=True), panel, name="a")
    flipped = g.copy()
    flipped["effect_allele"], flipped["other_allele"] = g["other_allele"], g["effect_allele"]
    flipped["beta"] = -g["beta"]
    flipped["effect_allele_frequency"] = np.round(1 - g["effect_allele_frequency"], 4)
    qc2, out2 = run(tmp_path, write_tsv(flipped, tmp_path / "b.tsv", gz=False), panel, name="b")
    assert qc1["n_input"] == qc1["n_kept"] + sum(qc1["dropped"].values()) == 600
    assert qc1["n_kept"] == qc2["n_kept"] and qc1["dropped"] == qc2["dropped"]
    assert qc1["swapped_alleles"] + qc2["swapped_alleles"] == qc1["n_kept"] - 0  # every kept row swaps in one
    exact = ["variant_id", "chrom", "pos", "other_allele", "counted_allele", "z", "n", "p", "beta", "se", "rsid"]
    pd.testing.assert_frame_equal(out1[exact], out2[exact], check_exact=True)
    np.testing.assert_allclose(out1.counted_freq, out2.counted_freq, rtol=0, atol=1e-12)
    # effects agree with the input after orientation: z = beta/se on the counted allele
    assert np.allclose(out1.z, out1.beta / out1.se, rtol=0, atol=0)


def test_idempotence(tmp_path):
    panel = random_panel(400, seed=3)
    g = gwas_from_panel(panel, seed=4)
    qc1, out1 = run(tmp_path, write_tsv(g, tmp_path / "a.tsv"), panel, name="a")
    write_tsv(out1, tmp_path / "harm.tsv")
    colmap = {"chrom": "chrom", "pos": "pos", "ea": "counted_allele", "oa": "other_allele", "beta": "beta",
              "se": "se", "z": "z", "p": "p", "n": "n", "eaf": "counted_freq", "rsid": "rsid"}
    qc2, out2 = run(tmp_path, tmp_path / "harm.tsv", panel, name="b", fmt="table", colmap=colmap, n=None)
    pd.testing.assert_frame_equal(out1, out2, check_exact=True)
    assert qc2["n_input"] == qc2["n_kept"] == qc1["n_kept"] and qc2["dropped"] == {}
    assert qc2["swapped_alleles"] == 0 and qc2["flipped_strand"] == 0
    # the Parquet bytes do not depend on the run
    a = pq.read_table(tmp_path / "a.parquet")
    b = pq.read_table(tmp_path / "b.parquet")
    assert a.equals(b)


def test_z_sources(tmp_path):
    panel = make_panel([("1", 100, "A", "G", 0.2), ("1", 200, "C", "T", 0.3), ("1", 300, "A", "C", 0.3)])
    # odds ratio + p only: z = sign(log OR) * |Phi^-1(p/2)|
    df = pd.DataFrame({"chromosome": ["1", "1", "1"], "base_pair_location": [100, 200, 300],
                       "effect_allele": ["G", "C", "C"], "other_allele": ["A", "T", "A"],
                       "odds_ratio": [1.2, 0.8, 1.1], "p_value": [0.05, 1e-300, 1.0]})
    qc, out = run(tmp_path, write_tsv(df, tmp_path / "or.tsv"), panel)
    from scipy.stats import norm
    assert out.z.tolist() == pytest.approx([norm.isf(0.025), norm.isf(0.5e-300), 0.0], rel=1e-10)
    assert out.beta.tolist() == pytest.approx([math.log(1.2), -math.log(0.8), math.log(1.1)], rel=1e-12)
    assert out.se.isna().all() and out.counted_freq.isna().all()
    # -log10 p beyond double range through a table colmap: z from log space, p clipped to the smallest double
    df2 = pd.DataFrame({"c": ["1"], "bp": [100], "a1": ["G"], "a2": ["A"], "b": [0.3], "lp": [400.0]})
    qc, out = run(tmp_path, write_tsv(df2, tmp_path / "lp.tsv"), panel, name="lp", fmt="table",
                  colmap={"chrom": "c", "pos": "bp", "ea": "a1", "oa": "a2", "beta": "b", "lp": "lp"})
    from scipy.special import log_ndtr
    z0 = out.z.iloc[0]
    assert z0 > 42 and log_ndtr(-z0) == pytest.approx(-400 * math.log(10) - math.log(2), rel=1e-12)
    assert out.p.iloc[0] > 0
    # given z wins
    df3 = pd.DataFrame({"c": ["1"], "bp": [200], "a1": ["C"], "a2": ["T"], "z": [3.5], "P": [0.2]})
    qc, out = run(tmp_path, write_tsv(df3, tmp_path / "z.tsv"), panel, name="z", fmt="table",
                  colmap={"chrom": "c", "pos": "bp", "ea": "a1", "oa": "a2", "z": "z", "p": "P"})
    assert out.z.tolist() == [-3.5] and out.p.tolist() == [0.2]


def _shift_positions(pos: np.ndarray) -> np.ndarray:
    # a liftover-like pattern: offsets growing along the chromosome
    return pos + 1000 + (pos // 97) % 500


def test_build_check_wrong_build(tmp_path):
    panel = random_panel(400, seed=5)
    g = gwas_from_panel(panel, seed=6)
    g["base_pair_location"] = _shift_positions(g["base_pair_location"].to_numpy())
    path = write_tsv(g, tmp_path / "hg38.tsv")
    with pytest.raises(HarmonizeError) as ei:
        run(tmp_path, path, panel, declared_build="GRCh38", panel_build="GRCh37")
    msg = str(ei.value)
    assert "hg38.tsv" in msg and re.search(r"found match rate 0\.0\d\d; expected ≥ 0\.7", msg)
    assert "declared GRCh38 but the panel is GRCh37" in msg and "lift" in msg
    assert "rsid-matched variants sit at other positions" in msg and "different genome build" in msg
    assert not (tmp_path / "h.parquet").exists()
    # declared the same as the panel: still caught, and the rsids name the likely build
    with pytest.raises(HarmonizeError, match=r"likely build: GRCh38"):
        run(tmp_path, path, panel, declared_build="GRCh37", panel_build="GRCh37")
    # 0-based positions
    g2 = gwas_from_panel(panel, seed=6)
    g2["base_pair_location"] -= 1
    with pytest.raises(HarmonizeError, match=r"exactly -1 bp: positions look 0-based"):
        run(tmp_path, write_tsv(g2, tmp_path / "zero.tsv"), panel, panel_build="GRCh37")


def test_build_check_partial_panel_does_not_fire(tmp_path):
    # the panel covers a window of chromosome 1 only; the file covers chromosomes 1-3 and more of chr1
    panel = random_panel(200, seed=7, chroms=("1",))
    g = gwas_from_panel(panel, seed=8)
    rng = np.random.default_rng(9)
    extra = g.sample(300, replace=True, random_state=1).copy()
    extra["chromosome"] = rng.choice(["1", "2", "3"], 300)
    extra["base_pair_location"] = np.where(extra["chromosome"] == "1", 5_000_000 + np.arange(300), np.arange(300) + 1)
    qc, out = run(tmp_path, write_tsv(pd.concat([g, extra]), tmp_path / "g.tsv"), panel, panel_build="GRCh37")
    assert qc["build"]["match_rate"] == 1.0 and qc["build"]["best_guess"] == "GRCh37"
    pal = sum(qc["dropped"].get(r, 0) for r in ("palindromic_ambiguous", "strand_inconsistent"))
    assert qc["n_kept"] + pal == 200 and qc["n_kept"] > 150
    assert qc["dropped"]["chrom_not_in_panel"] + qc["dropped"]["not_in_panel"] == 300


def test_gwas_vcf_matches_ssf(tmp_path):
    pysam = pytest.importorskip("pysam")
    panel = random_panel(100, seed=10)
    g = gwas_from_panel(panel, seed=11)
    header = ["##fileformat=VCFv4.2",
              '##FORMAT=<ID=ES,Number=A,Type=Float,Description="Effect size">',
              '##FORMAT=<ID=SE,Number=A,Type=Float,Description="SE">',
              '##FORMAT=<ID=LP,Number=A,Type=Float,Description="-log10 p">',
              '##FORMAT=<ID=AF,Number=A,Type=Float,Description="AF">',
              '##FORMAT=<ID=SS,Number=A,Type=Float,Description="N">',
              '##FORMAT=<ID=ID,Number=1,Type=String,Description="rsid">',
              "##contig=<ID=1>", "##contig=<ID=2>",
              "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", "trait"])]
    lines = []
    for r in g.itertuples(index=False):
        lp = -math.log10(r.p_value)
        lines.append("\t".join([r.chromosome, str(r.base_pair_location), r.rsid, r.other_allele, r.effect_allele,
                                ".", "PASS", ".", "ES:SE:LP:AF:SS:ID",
                                f"{r.beta!r}:{r.standard_error!r}:{lp!r}:{r.effect_allele_frequency!r}:5000:{r.rsid}"]))
    raw = tmp_path / "g.vcf"
    raw.write_text("\n".join(header + lines) + "\n")
    vcf = pysam.tabix_index(str(raw), preset="vcf", force=True)
    qc_v, out_v = run(tmp_path, Path(vcf), panel, name="v", fmt="gwas-vcf", n=None)
    qc_s, out_s = run(tmp_path, write_tsv(g, tmp_path / "g.tsv"), panel, name="s")
    assert qc_v["n_kept"] == qc_s["n_kept"] > 90
    # VCF Float fields are 32-bit: numbers agree to float32 precision, everything else exactly
    num = ["z", "p", "beta", "se", "counted_freq"]
    pd.testing.assert_frame_equal(out_v.drop(columns=num + ["n"]), out_s.drop(columns=num + ["n"]), check_exact=True)
    for c in num:
        np.testing.assert_allclose(out_v[c], out_s[c], rtol=2e-6, atol=1e-7)
    assert (out_v.n == 5000).all()


def test_real_bolt_lmm_file(tmp_path):
    """The real UK Biobank BOLT-LMM file against the four 1000G windows (facts from its README)."""
    gdir = DATA / "genotypes"
    panel = bim_panel(gdir, [2, 12, 18, 22])
    colmap = {"chrom": "CHR", "pos": "BP", "ea": "ALLELE1", "oa": "ALLELE0", "beta": "BETA", "se": "SE", "z": None,
              "p": "P_BOLT_LMM", "n": None, "eaf": "A1FREQ", "rsid": "SNP"}
    src = gdir / "polypred_1000G_EUR" / "bolt.sumstats.txt.gz"
    qc, out = run(tmp_path, src, panel, fmt="table", colmap=colmap, n=337_000, declared_build="hg19",
                  panel_build="GRCh37")
    assert qc["n_input"] == 82_448
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values())
    assert qc["dropped"]["chrom_not_in_panel"] == 82_448 - 13_875  # rows off chromosomes 2, 12, 18, 22
    # every row on the panel chromosomes sits at a panel position with the same two alleles
    on_panel = 13_875
    assert qc["n_kept"] + qc["dropped"].get("palindromic_ambiguous", 0) + qc["dropped"].get(
        "strand_inconsistent", 0) == on_panel
    assert qc["flipped_strand"] == 0 and qc["build"]["match_rate"] == 1.0 and qc["build"]["best_guess"] == "GRCh37"
    assert (out.n == 337_000).all()
    # README facts on chr22: 2608 rows, 2597 match a bim id, 348 same orientation and 2249 swapped
    bolt = pd.read_csv(src, sep="\t", usecols=["SNP", "CHR", "BP", "ALLELE1", "ALLELE0", "BETA"])
    b22 = bolt[bolt.CHR == 22].merge(panel[panel.chrom == "22"], left_on="SNP", right_on="rsid")
    assert len(bolt[bolt.CHR == 22]) == 2608 and len(b22) == 2597
    same = (b22.ALLELE1 == b22.counted_allele) & (b22.ALLELE0 == b22.other_allele)
    assert same.sum() == 348 and (~same).sum() == 2249
    o22 = out[out.chrom == "22"].merge(b22, left_on="pos", right_on="BP")
    s = o22.ALLELE1 == o22.counted_allele_x
    assert (np.sign(o22.z[s]) == np.sign(o22.BETA[s])).all()
    assert (np.sign(o22.z[~s]) == -np.sign(o22.BETA[~s])).all()
    assert s.sum() > 0 and (~s).sum() > 0
    # palindromic variants kept only where labels and frequencies agree
    assert qc["palindromic_aligned"] > 1000


def bim_panel(gdir: Path, chroms) -> pd.DataFrame:
    """panel_variants from PLINK bims (counted = column 5), counted_freq from the bed."""
    frames = []
    for c in chroms:
        prefix = gdir / f"1000G.EUR.hg19.chr{c}_20-21Mb"
        b = pd.read_csv(f"{prefix}.bim", sep="\t", header=None, names=["chrom", "rsid", "cm", "pos", "a1", "a2"],
                        dtype={"chrom": str})
        nind = sum(1 for _ in open(f"{prefix}.fam"))
        raw = np.fromfile(f"{prefix}.bed", dtype=np.uint8)
        assert raw[:3].tolist() == [0x6C, 0x1B, 0x01]
        nb = (nind + 3) // 4
        g = raw[3:].reshape(len(b), nb)
        codes = np.stack([(g >> (2 * k)) & 3 for k in range(4)], axis=2).reshape(len(b), nb * 4)[:, :nind]
        called = (codes != 1).sum(1)
        b["counted_freq"] = (2 * (codes == 0) + (codes == 2)).sum(1) / (2 * called)
        b["n_called"] = called
        frames.append(b)
    d = pd.concat(frames, ignore_index=True).rename(columns={"a1": "counted_allele", "a2": "other_allele"})
    d["variant_id"] = d.chrom + ":" + d.pos.astype(str) + ":" + d.other_allele + ":" + d.counted_allele
    d["row"] = np.arange(len(d))
    return d[["variant_id", "chrom", "pos", "other_allele", "counted_allele", "rsid", "counted_freq", "n_called", "row"]]


# ------------------------------------------------------------------------------------------------ xQTL


def gtex_frame(panel: pd.DataFrame, chrom: str, phenos: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = panel[panel.chrom == chrom]
    rows = []
    for ph in phenos:
        for r in p.itertuples(index=False):
            ref, alt = (r.other_allele, r.counted_allele) if rng.random() < 0.5 else (r.counted_allele, r.other_allele)
            rows.append((ph, f"chr{chrom}_{r.pos}_{ref}_{alt}_b38", int(r.pos) - 5000, 0.2, 10, 12,
                         float(rng.uniform(0, 1)), float(np.round(rng.normal(0, 0.3), 5)),
                         float(np.round(rng.uniform(0.05, 0.2), 5))))
    return pd.DataFrame(rows, columns=["phenotype_id", "variant_id", "tss_distance", "maf", "ma_samples", "ma_count",
                                       "pval_nominal", "slope", "slope_se"])


def test_gtex_parquet(tmp_path):
    panel = random_panel(120, seed=12, chroms=("1", "2", "3"))
    panel = panel[~panel.apply(lambda r: COMP[r.other_allele] == r.counted_allele, axis=1)].reset_index(drop=True)
    sq = "chr1:15947:16607:clu_40980:ENSG00000227232.5"
    f1 = gtex_frame(panel, "1", ["ENSG00000000002.3", sq], seed=13)
    f2 = gtex_frame(panel, "2", ["ENSG00000000001.7"], seed=14)
    pq.write_table(pa.Table.from_pandas(f1, preserve_index=False), tmp_path / "L.chr1.parquet", row_group_size=17)
    pq.write_table(pa.Table.from_pandas(f2, preserve_index=False), tmp_path / "L.chr2.parquet")
    gm = tmp_path / "gm.tsv"
    gm.write_text("phenotype_id\tgene_id\nENSG00000000001.7\tENSG00000009999.1\n")
    qc = harmonize_xqtl(str(tmp_path / "L.chr{chrom}.parquet"), fmt="gtex-parquet", panel_variants=panel,
                        out_dir=tmp_path / "x", qc_out=tmp_path / "x.qc.json", dataset="L_eQTL", tissue="Liver",
                        qtl_type="eQTL", n=208, gene_map=gm)
    assert qc["n_input"] == len(f1) + len(f2) == qc["n_kept"] and qc["dropped"] == {}
    # chromosome 3 has no rows: an empty data file and no xQTL track (a locus then finds no rows either way)
    # (with the track, the variant-major store: rows file and pairs table, twasflow.io.xqtl_store)
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "1.pairs.parquet", "1.parquet", "1.rows.arrow", "1.track.parquet", "2.pairs.parquet", "2.parquet",
        "2.rows.arrow", "2.track.parquet", "3.parquet"]
    t1 = pd.read_parquet(tmp_path / "x" / "1.parquet")
    assert list(t1.columns) == list(XQTL_COLUMNS)
    assert t1.pos.is_monotonic_increasing
    assert set(t1.gene_id) == {"ENSG00000000002", "ENSG00000227232"}
    assert set(t1.pair_id) == {"ENSG00000000002.3|Liver|eQTL", f"{sq}|Liver|eQTL"}
    assert set(pd.read_parquet(tmp_path / "x" / "2.parquet").gene_id) == {"ENSG00000009999"}
    t3 = pq.read_table(tmp_path / "x" / "3.parquet")
    assert t3.num_rows == 0 and t3.column_names == list(XQTL_COLUMNS)
    # orientation: slope is per ALT; z on the counted allele
    n_swapped = 0
    for c, f in (("1", f1), ("2", f2)):
        t = pd.read_parquet(tmp_path / "x" / f"{c}.parquet")
        m = t.merge(f, on=["phenotype_id", "tss_distance"], suffixes=("", "_in"))
        assert len(m) == len(t) == len(f)
        alt = m.variant_id_in.str.split("_").str[3]
        sign = np.where(alt == m.variant_id.str.split(":").str[3], 1.0, -1.0)
        np.testing.assert_array_equal(m.z, sign * m.slope / m.slope_se)
        np.testing.assert_array_equal(m.beta, sign * m.slope)
        assert (m.n == 208).all()
        n_swapped += int((sign < 0).sum())
    assert qc["swapped_alleles"] == n_swapped > 0
    assert pq.ParquetFile(tmp_path / "x" / "1.parquet").metadata.num_row_groups >= 1


@pytest.mark.parametrize("strand", ["forward", "flipped"])
def test_gtex_palindromic_by_strand_consensus(tmp_path, strand):
    """GTEx gives no effect-allele frequency: palindromic rows are kept only on a forward-strand file."""
    panel = random_panel(300, seed=21, chroms=("1",))
    pal = (panel.other_allele.map(COMP) == panel.counted_allele).to_numpy()
    assert 50 < pal.sum() < 150
    f = gtex_frame(panel, "1", ["ENSG00000000005.1"], seed=22)
    if strand == "flipped":  # every allele label on the other strand
        parts = f.variant_id.str.split("_")
        f["variant_id"] = ["_".join([a, b, COMP[c], COMP[d], e]) for a, b, c, d, e in parts]
    pq.write_table(pa.Table.from_pandas(f, preserve_index=False), tmp_path / "L.chr1.parquet")
    qc = harmonize_xqtl(str(tmp_path / "L.chr{chrom}.parquet"), fmt="gtex-parquet", panel_variants=panel,
                        out_dir=tmp_path / "x", qc_out=tmp_path / "x.qc.json", dataset="L", tissue="Liver",
                        qtl_type="eQTL", n=208)
    assert qc["n_input"] == 300 == qc["n_kept"] + sum(qc["dropped"].values())
    t = pd.read_parquet(tmp_path / "x" / "1.parquet")
    if strand == "forward":
        assert qc["dropped"] == {} and qc["palindromic_kept_by_strand_consensus"] == pal.sum()
        assert qc["flipped_strand"] == 0
        m = t.merge(f, on=["phenotype_id", "tss_distance"], suffixes=("", "_in"))
        alt = m.variant_id_in.str.split("_").str[3]
        sign = np.where(alt == m.variant_id.str.split(":").str[3], 1.0, -1.0)
        np.testing.assert_array_equal(m.z, sign * m.slope / m.slope_se)  # labels taken at face value
    else:
        assert qc["dropped"] == {"palindromic_ambiguous": pal.sum()}
        assert qc["palindromic_kept_by_strand_consensus"] == 0 and qc["flipped_strand"] == (~pal).sum() == len(t)
        assert any(w.startswith("chr1: ") and f"100.0% of {(~pal).sum()} non-palindromic variants match only on "
                   "the opposite strand" in w for w in qc["warnings"])


def test_eqtl_catalogue(tmp_path):
    panel = make_panel([("1", 100, "A", "G", 0.2), ("1", 200, "C", "T", 0.3), ("2", 300, "A", "C", 0.4)])
    cols = ["molecular_trait_id", "chromosome", "position", "ref", "alt", "variant", "ma_samples", "maf", "pvalue",
            "beta", "se", "type", "ac", "an", "r2", "molecular_trait_object_id", "gene_id", "median_tpm", "rsid"]
    rows = [
        ["ENSG00000001.4", "1", 100, "A", "G", "chr1_100_A_G", 5, 0.2, 0.01, 0.5, 0.1, "SNP", 80, 400, "NA", "x",
         "ENSG00000001", 3.1, "rs1"],
        ["ENSG00000001.4", "1", 100, "A", "G", "chr1_100_A_G", 5, 0.2, 0.01, 0.5, 0.1, "SNP", 80, 400, "NA", "x",
         "ENSG00000001", 3.1, "rs1b"],  # same variant split by a second rsid
        ["ENSG00000001.4", "1", 200, "T", "C", "chr1_200_T_C", 5, 0.3, 0.01, 0.5, 0.1, "SNP", 280, 400, "NA", "x",
         "ENSG00000001", 3.1, "rs2"],
        ["ENSG00000002", "2", 300, "A", "CT", "chr2_300_A_CT", 5, 0.3, 0.01, 0.5, 0.1, "INDEL", 80, 400, "NA", "y",
         "ENSG00000002", 3.1, "rs3"],
    ]
    path = tmp_path / "e.tsv.gz"
    write_tsv(pd.DataFrame(rows, columns=cols), path, gz=True)
    qc = harmonize_xqtl(path, fmt="eqtl-catalogue", panel_variants=panel, out_dir=tmp_path / "x",
                        qc_out=tmp_path / "qc.json", dataset="d", tissue="Blood", qtl_type="eQTL", n=None)
    assert qc["n_input"] == 4 and qc["n_kept"] == 2 and qc["dropped"] == {"duplicate": 1, "indel": 1}
    t = pd.read_parquet(tmp_path / "x" / "1.parquet")
    assert t.variant_id.tolist() == ["1:100:A:G", "1:200:C:T"]
    assert t.z.tolist() == [5.0, -5.0] and (t.n == 200).all() and t.tss_distance.isna().all()
    assert t.gene_id.tolist() == ["ENSG00000001"] * 2
    assert pq.read_table(tmp_path / "x" / "2.parquet").num_rows == 0


def test_gene_id_of():
    assert gene_id_of("ENSG00000227232.5") == "ENSG00000227232"
    assert gene_id_of("chr1:15947:16607:clu_40980:ENSG00000227232.5") == "ENSG00000227232"
    assert gene_id_of("chr1:1:2:clu_1_+:ENSG00000000001.1") == "ENSG00000000001"
    assert gene_id_of("ILMN_12345") is None


@pytest.mark.parametrize("name,text", [
    ("aligned.txt", " CHR   BP  A1  A2   BETA   SE  P\n   1  100   G   A   0.1  0.05 0.04\n   1  200   C   T  -0.1  0.05 0.04\n"),
    ("comma.csv", "CHR,BP,A1,A2,BETA,SE,P\n1,100,G,A,0.1,0.05,0.04\n1,200,C,T,-0.1,0.05,0.04\n"),
    ("space.txt", "CHR BP A1 A2 BETA SE P\n1 100 G A 0.1 0.05 0.04\n1 200 C T -0.1 0.05 0.04\n"),
    ("tab.txt.gz", "CHR\tBP\tA1\tA2\tBETA\tSE\tP\n1\t100\tG\tA\t0.1\t0.05\t0.04\n1\t200\tC\tT\t-0.1\t0.05\t0.04\n"),
])
def test_table_delimiters(tmp_path, name, text):
    panel = make_panel([("1", 100, "A", "G", 0.2), ("1", 200, "C", "T", 0.3)])
    p = tmp_path / name
    if name.endswith(".gz"):
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text)
    cm = {"chrom": "CHR", "pos": "BP", "ea": "A1", "oa": "A2", "beta": "BETA", "se": "SE", "p": "P"}
    qc, out = run(tmp_path, p, panel, fmt="table", colmap=cm)
    assert qc["n_kept"] == 2 and out.z.tolist() == [2.0, 2.0] and out.variant_id.tolist() == ["1:100:A:G", "1:200:C:T"]


# ------------------------------------------------------------------------------------------------ streamed output


def test_streamed_output_equals_whole_file_write(tmp_path, monkeypatch):
    """Rows written block by block during the read give the same file as writing after the whole file."""
    import functools

    import twasflow.harmonize.gwas as hz  # the GWAS entry point's own names: the patches reach its calls

    monkeypatch.setattr(hz, "_ROW_GROUP", 700)
    monkeypatch.setattr(hz, "read_gwas_batches", functools.partial(hz.read_gwas_batches, block_size=32 << 10))
    finished = []
    orig_finish = hz._GwasStream.finish
    monkeypatch.setattr(hz._GwasStream, "finish", lambda self, fin: finished.append(orig_finish(self, fin))
                        or finished[-1])
    panel = random_panel(4000, seed=31)
    g = gwas_from_panel(panel, seed=32)
    qc_a, a = run(tmp_path, write_tsv(g, tmp_path / "g.tsv.gz", gz=True), panel, name="a")
    assert finished == [True] and qc_a["palindromic_aligned"] > 500
    md = pq.ParquetFile(tmp_path / "a.parquet").metadata
    assert md.num_row_groups == math.ceil(qc_a["n_kept"] / 700) > 3
    assert [md.row_group(i).num_rows for i in range(md.num_row_groups - 1)] == [700] * (md.num_row_groups - 1)
    # the same file written after the whole-file pass only: byte-identical
    monkeypatch.setattr(hz._GwasStream, "finish", lambda self, fin: (self.abort(), finished.append(False))[1] or False)
    qc_b, _ = run(tmp_path, tmp_path / "g.tsv.gz", panel, name="b")
    assert qc_b == qc_a and finished[-1] is False
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    # a shuffled file cannot be streamed in panel order: the whole-file pass sorts it, same result
    monkeypatch.setattr(hz._GwasStream, "finish", lambda self, fin: finished.append(orig_finish(self, fin))
                        or finished[-1])
    shuffled = g.sample(frac=1.0, random_state=3)
    qc_c, c = run(tmp_path, write_tsv(shuffled, tmp_path / "s.tsv", gz=False), panel, name="c")
    assert finished[-1] is False
    pd.testing.assert_frame_equal(a, c, check_exact=True)


def test_streamed_guess_wrong_for_flipped_file_without_frequency(tmp_path, monkeypatch):
    """A strand-flipped file: the block-by-block guess (labels at face value) is discarded."""
    import twasflow.harmonize.gwas as hz  # the GWAS entry point's own names: the patches reach its calls

    finished = []
    orig_finish = hz._GwasStream.finish
    monkeypatch.setattr(hz._GwasStream, "finish", lambda self, fin: finished.append(orig_finish(self, fin))
                        or finished[-1])
    panel = random_panel(600, seed=41)
    g = gwas_from_panel(panel, seed=42).drop(columns="effect_allele_frequency")
    pal = (panel.other_allele.map(COMP) == panel.counted_allele).to_numpy()
    qc, out = run(tmp_path, write_tsv(g, tmp_path / "g.tsv"), panel, name="fwd")
    assert finished == [True] and qc["palindromic_kept_by_strand_consensus"] == pal.sum() and qc["n_kept"] == 600
    g["effect_allele"] = g["effect_allele"].map(COMP)
    g["other_allele"] = g["other_allele"].map(COMP)
    qc, out = run(tmp_path, write_tsv(g, tmp_path / "f.tsv"), panel, name="flip")
    assert finished[-1] is False
    assert qc["dropped"] == {"palindromic_ambiguous": pal.sum()} and len(out) == qc["n_kept"] == (~pal).sum()
    assert qc["flipped_strand"] == (~pal).sum()


def test_match_to_panel_against_reference():
    """Vectorised matching vs a row-by-row reading of the rules, with multi-allelic sites and flips."""
    from twasflow.harmonize import PanelIndex, match_to_panel, REASONS

    rng = np.random.default_rng(5)
    rows = []
    for p in range(1, 400):
        for _ in range(rng.choice([1, 1, 1, 2, 3])):  # up to 3 panel rows at one position
            a, b = rng.choice(list("ACGT"), 2, replace=False)
            rows.append(("1" if p < 300 else "X", p * 10, a, b, 0.2))
    panel = make_panel(rows)
    index = PanelIndex.build(panel)
    m = 3000
    ea = rng.integers(1, 5, m).astype(np.uint8)
    oa = ((ea - 1 + rng.integers(1, 4, m)) % 4 + 1).astype(np.uint8)
    pos = rng.integers(1, 420, m) * 10 + (rng.random(m) < 0.05)
    ccode = np.where(pos < 3000, 1, np.where(rng.random(m) < 0.9, 23, 7)).astype(np.int16)
    got = match_to_panel(index, ccode, pos.astype(np.int64), ea, oa)
    pk = index.keys
    for i in range(m):
        cands = np.flatnonzero(pk == ((int(ccode[i]) << 32) | int(pos[i])))
        exp = (-1, 0, False, REASONS.index("not_in_panel") + 1)
        if not index.chrom_present[ccode[i]]:
            exp = (-1, 0, False, REASONS.index("chrom_not_in_panel") + 1)
        elif len(cands):
            exp = (-1, 0, False, REASONS.index("allele_mismatch") + 1)
            for flip in (False, True):
                if flip and ea[i] == 5 - oa[i]:
                    break
                e, o = (5 - ea[i], 5 - oa[i]) if flip else (ea[i], oa[i])
                hits = [(c, 1 if (e, o) == (index.counted[c], index.other[c]) else -1) for c in cands
                        if {e, o} == {index.counted[c], index.other[c]}]
                if hits:
                    exp = (hits[0][0], hits[0][1], flip, 0)
                    break
        assert (got.pidx[i], got.sign[i], got.flipped[i], got.status[i]) == exp, i
    ok = got.status == 0
    # the cases are all exercised: matches, flips, matches on a later row of a multi-allelic site
    assert ok.sum() > 1000 and got.flipped.sum() > 50
    later = got.pidx[ok][got.pidx[ok] > 0]
    assert (pk[later] == pk[later - 1]).sum() > 10
    assert got.palin.tolist() == [e == 5 - o for e, o in zip(ea, oa)]


def test_writer_failure_raises_and_leaves_no_file(tmp_path, monkeypatch):
    """An error in the writer thread reaches the caller (no hang) and no output file is left behind."""
    import twasflow.harmonize.gwas as hz  # the GWAS entry point's own names: the patches reach its calls

    monkeypatch.setattr(hz, "_GWAS_PARQUET", hz._GWAS_PARQUET | {"compression": "no-such-codec"})
    panel = random_panel(300, seed=51)
    path = write_tsv(gwas_from_panel(panel, seed=52), tmp_path / "g.tsv")
    with pytest.raises(pa.ArrowException, match="no-such-codec"):
        run(tmp_path, path, panel)
    assert not (tmp_path / "h.parquet").exists() and not (tmp_path / "h.qc.json").exists()
    assert not list(tmp_path.glob(".h.parquet*"))


def test_chrom_and_allele_codes_against_scalar_rules():
    from twasflow.harmonize import allele_codes, chrom_codes, normalize_chrom

    labels = ["1", "9", "10", "22", "23", "24", "25", "26", "27", "0", "00", "01", "X", "x", "Y", "M", "MT", "mt",
              "chr1", "chrX", "Chr22", "XY", "", None, "abc", "1 ", " 1", "99", "chrM", "6_random", "é", "1é"]
    arr = pa.array(labels * 3).slice(len(labels))  # a slice: non-zero offset into the buffers
    exp = [-1 if x is None else normalize_chrom(x) for x in labels * 2]
    assert chrom_codes(arr).tolist() == exp
    assert chrom_codes(pa.array(["1", "X", None], pa.large_string())).tolist() == [1, 23, -1]
    codes, kind = allele_codes(pa.array(["A", "c", "G", "t", "N", "AT", "-", "A,T", "", None, "I", "<DEL>", "*", "0"]))
    assert codes.tolist() == [1, 2, 3, 4] + [0] * 10
    assert kind.tolist() == [0, 0, 0, 0, 4, 2, 2, 3, 1, 1, 2, 2, 2, 4]
