"""The genome-wide simulator (``twasflow.simulate.genome``): slot layout, files, determinism, planted truth."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps

from tests.conftest import REPO
from twasflow.config import read_sheet
from twasflow.errors import ConfigError
from twasflow.simulate.genome import GRCH38_AUTOSOME_LENGTHS, GenomeParams, make_genome, slot_offsets

TISSUES = {"Liver": 120, "Whole_Blood": 150, "Lung": 90}
SMALL = dict(chroms=("21", "22"), n_slots=4, variants_per_segment=200, segment_length=600_000, n_panel=150,
             n_donors=150, n_gwas_ld=300, xqtl_n=TISSUES, sqtl_tissues=("Liver",), genes_per_segment=4)
MHC = (28_510_120, 33_480_577)
# a null slot's largest |z| over ~200 variants: far below the genome-wide threshold (|z| 5.45)
NULL_MAX_Z = 5.0
# a planted signal's expected peak |z| is >= 7 (z_range); with unit-variance noise the observed peak is above
SIGNAL_MIN_Z = 5.45


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    out = tmp_path_factory.mktemp("genome")
    return out, make_genome(out, seed=11, **SMALL)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_default_slots_cover_22_autosomes_away_from_mhc_and_ends() -> None:
    p = GenomeParams()
    offs = slot_offsets(p)
    assert list(offs) == [str(c) for c in range(1, 23)]
    assert sum(o.size for o in offs.values()) == p.n_slots == 200
    for c, o in offs.items():
        assert (np.diff(o) >= p.min_slot_spacing).all(), c
        assert o.min() >= 3_000_000 and o.max() + p.segment_length <= GRCH38_AUTOSOME_LENGTHS[c] - 3_000_000
    six = offs["6"]
    # no segment within 2.5 Mb of the MHC (a ±1 Mb locus window around it stays outside)
    assert not ((six + p.segment_length > MHC[0] - 2_500_000) & (six < MHC[1] + 2_500_000)).any()
    # slots follow chromosome length: chromosome 1 holds the most, 21/22 the fewest
    n = {c: o.size for c, o in offs.items()}
    assert n["1"] == max(n.values()) and min(n.values()) == min(n["21"], n["22"]) >= 2


def test_bad_parameters_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"column 'n_slot': unknown genome parameter"):
        make_genome(tmp_path, n_slot=3)
    with pytest.raises(ConfigError, match=r"column 'n_slots': slots too dense"):
        slot_offsets(GenomeParams(chroms=("21",), n_slots=40))
    with pytest.raises(ConfigError, match=r"column 'xqtl_n': tissue sample size out of range"):
        make_genome(tmp_path, xqtl_n={"Liver": 900})
    with pytest.raises(ConfigError, match=r"column 'chroms': not an autosome \(found \['X'\]"):
        make_genome(tmp_path, chroms=("X",))


def test_layout_sheets_and_manifest(small) -> None:
    out, written = small
    tissues_q = [(t, "eQTL") for t in TISSUES] + [("Liver", "sQTL")]
    expected = {"panel/genome.bed", "panel/genome.bim", "panel/genome.fam", "genes.tsv", "truth_xqtl.tsv",
                "gwas.tsv", "xqtl.tsv", "manifest.json",
                *[f"gwas/{t}.{x}" for t in ("LDL_gw", "BMI_gw") for x in ("tsv.gz", "truth.tsv")],
                *[f"xqtl/{t}.{q}.chr{c}.parquet" for t, q in tissues_q for c in ("21", "22")]}
    assert set(written) == expected
    man = json.loads((out / "manifest.json").read_text())
    for rel, meta in man["files"].items():
        assert meta["sha256"] == _sha(out / rel), rel
    assert man["counts"]["slots"] == {"21": 2, "22": 2}
    # the sheets pass the workflow's own sheet validation
    g = read_sheet(out / "gwas.tsv", "gwas")
    x = read_sheet(out / "xqtl.tsv", "xqtl")
    assert list(g["trait"]) == ["LDL_gw", "BMI_gw"]
    assert list(x["dataset"]) == [f"{t}_{q}" for t, q in tissues_q]
    assert list(x["n"]) == [120.0, 150.0, 90.0, 120.0]


def test_same_seed_byte_identical(small, tmp_path: Path) -> None:
    out, written = small
    again = make_genome(tmp_path / "a", seed=11, **SMALL)
    assert sorted(again) == sorted(written)
    for rel in written:
        assert _sha(again[rel]) == _sha(written[rel]), rel
    other = make_genome(tmp_path / "b", seed=12, **SMALL)
    assert _sha(other["gwas/LDL_gw.tsv.gz"]) != _sha(written["gwas/LDL_gw.tsv.gz"])


def _bim(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "panel/genome.bim", sep="\t", header=None, dtype={0: str},
                       names=["chrom", "rsid", "cm", "pos", "a1", "a2"])


def test_panel_files_are_consistent(small) -> None:
    out, _ = small
    bim = _bim(out)
    fam = pd.read_csv(out / "panel/genome.fam", sep="\t", header=None)
    assert len(fam) == SMALL["n_panel"]
    assert (out / "panel/genome.bed").stat().st_size == 3 + len(bim) * ((len(fam) + 3) // 4)
    man = json.loads((out / "manifest.json").read_text())
    assert len(bim) == man["counts"]["panel_variants"]
    for c, offs in man["counts"]["slot_offsets"].items():
        pos = bim.loc[bim["chrom"] == c, "pos"].to_numpy()
        assert (np.diff(pos) > 0).all()
        # every panel variant lies inside one of its chromosome's slots
        seg = np.searchsorted(np.asarray(offs), pos, side="left") - 1
        assert (seg >= 0).all() and (pos - np.asarray(offs)[seg] <= SMALL["segment_length"]).all()


def _gwas(out: Path, trait: str) -> pd.DataFrame:
    return pd.read_csv(out / f"gwas/{trait}.tsv.gz", sep="\t", dtype={"chromosome": str})


def test_planted_signals_reach_genome_wide_significance_and_null_slots_do_not(small) -> None:
    out, _ = small
    man = json.loads((out / "manifest.json").read_text())
    slots = [(c, o) for c, offs in man["counts"]["slot_offsets"].items() for o in offs]
    seen = 0
    for trait in ("LDL_gw", "BMI_gw"):
        df = _gwas(out, trait)
        z = np.abs(df["beta"] / df["standard_error"])
        truth = pd.read_csv(out / f"gwas/{trait}.truth.tsv", sep="\t", dtype=str)
        hinted = set(truth["locus_hint"])
        for c, o in slots:
            in_slot = (df["chromosome"] == c) & (df["base_pair_location"] > o) & (
                df["base_pair_location"] <= o + SMALL["segment_length"])
            peak = float(z[in_slot].max())
            if f"{c}:{o + 1}-{o + SMALL['segment_length']}" in hinted:
                assert peak > SIGNAL_MIN_Z, (trait, c, o, peak)
                seen += 1
            else:
                assert peak < NULL_MAX_Z, (trait, c, o, peak)
    assert seen == sum(len(pd.read_csv(out / f"gwas/{t}.truth.tsv", sep="\t")) for t in ("LDL_gw", "BMI_gw"))
    # every slot carries at least one trait's signal
    hints = set()
    for t in ("LDL_gw", "BMI_gw"):
        hints |= set(pd.read_csv(out / f"gwas/{t}.truth.tsv", sep="\t", dtype=str)["locus_hint"])
    assert len(hints) == len(slots)


def test_gwas_rows_consistent_and_swapped_share(small) -> None:
    out, _ = small
    man = json.loads((out / "manifest.json").read_text())
    bim = _bim(out).set_index(["chrom", "pos"])
    for trait, n in (("LDL_gw", 300_000), ("BMI_gw", 400_000)):
        df = _gwas(out, trait)
        assert (df["n"] == n).all() and len(df) == man["counts"]["gwas"][trait]["rows"]
        # p is the two-sided normal p of beta / se; compared on the z scale, where writing beta, se and p with
        # 6 significant digits moves |z| by at most ~1e-6 relative (plus ~1e-6 absolute near p = 1)
        z = df["beta"] / df["standard_error"]
        np.testing.assert_allclose(sps.norm.isf(df["p_value"] / 2), np.abs(z), rtol=1e-5, atol=1e-5)
        # rows on the panel: effect allele = ALT (bim A1) unless swapped; the swapped share is ~ frac_swapped
        key = list(zip(df["chromosome"], df["base_pair_location"]))
        on = np.array([k in bim.index for k in key])
        a1 = bim.loc[[k for k, o in zip(key, on) if o], "a1"].to_numpy()
        swapped = df.loc[on, "effect_allele"].to_numpy() != a1
        assert 0.25 < swapped.mean() < 0.35
        assert swapped.sum() <= man["counts"]["gwas"][trait]["swapped"]


def test_xqtl_statistics_and_planted_effects(small) -> None:
    out, _ = small
    truth = pd.read_csv(out / "truth_xqtl.tsv", sep="\t")
    genes = pd.read_csv(out / "genes.tsv", sep="\t", dtype={"chrom": str}).set_index("gene_id")
    t_causal, t_all = [], []
    for (tissue, q), n in [((t, "eQTL"), n) for t, n in TISSUES.items()] + [(("Liver", "sQTL"), TISSUES["Liver"])]:
        for c in ("21", "22"):
            df = pq.read_table(out / f"xqtl/{tissue}.{q}.chr{c}.parquet").to_pandas()
            t = (df["slope"] / df["slope_se"]).to_numpy()
            # GTEx p: two-sided t with n - 2 degrees of freedom (float32 slope/se)
            np.testing.assert_allclose(df["pval_nominal"], 2 * sps.t.sf(np.abs(t), n - 2), rtol=2e-3)
            assert (df["maf"] >= 0.01).all()
            pos = df["variant_id"].str.split("_").str[1].astype(np.int64)
            gene = df["phenotype_id"].str.extract(r"(ENSG8\d{10})\.\d+$")[0]
            assert gene.notna().all()
            assert np.array_equal(df["tss_distance"].to_numpy(), pos.to_numpy() - genes.loc[gene, "tss"].to_numpy())
            vid = (c + ":" + pos.astype(str) + ":" + df["variant_id"].str.split("_").str[2] + ":"
                   + df["variant_id"].str.split("_").str[3])
            pid = df["phenotype_id"] + f"|{tissue}|{q}"
            sub = truth[(truth["tissue"] == tissue) & (truth["qtl_type"] == q)]
            hit = pd.MultiIndex.from_arrays([pid, vid]).isin(pd.MultiIndex.from_frame(sub[["pair_id", "variant_id"]]))
            t_causal.append(np.abs(t[hit]))
            t_all.append(np.abs(t))
    tc, ta = np.concatenate(t_causal), np.concatenate(t_all)
    assert tc.size > 20
    # planted cis-effects (h2 0.05-0.3 over 1-3 variants, n 90-150) stand far above the bulk
    assert np.median(tc) > np.median(ta) + 2.0


@pytest.mark.slow
def test_bench_scale_small_run_finds_every_planted_locus(tmp_path: Path) -> None:
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_scale.py"), "--run-dir", str(run),
                        "--chroms", "21", "22", "--n-slots", "4"], capture_output=True, text=True, timeout=3000)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads((run / "scale_summary.json").read_text())
    data = run / "resources" / "genome"
    for trait in ("LDL_gw", "BMI_gw"):
        truth = pd.read_csv(data / "gwas" / f"{trait}.truth.tsv", sep="\t", dtype=str)
        assert summary["loci"][trait] == len(truth)
    assert all(k.endswith(":ok") for k in summary["status"])


def test_harmonization_accounts_for_the_planted_defects(small, tmp_path: Path) -> None:
    """The workflow's harmonizers read the data: every GWAS row off the panel is dropped as such, the swapped
    rows are counted, and a data set's chromosome without any phenotype (an empty file) is accepted."""
    from twasflow.harmonize import harmonize_gwas, harmonize_xqtl
    from twasflow.io.panel import build_panel_store

    out, _ = small
    build_panel_store(tmp_path / "panel", bfile=str(out / "panel/genome"), maf_min=0.01)
    variants = pd.read_parquet(tmp_path / "panel" / "variants.parquet")
    bim = _bim(out).set_index(["chrom", "pos"])
    df = _gwas(out, "LDL_gw")
    key = list(zip(df["chromosome"], df["base_pair_location"]))
    on = np.array([k in bim.index for k in key])
    qc = harmonize_gwas(out / "gwas/LDL_gw.tsv.gz", fmt="gwas-ssf", panel_variants=variants,
                        out=tmp_path / "g.parquet", qc_out=tmp_path / "g.qc.json", declared_build="GRCh38",
                        panel_build="GRCh38")
    assert qc["n_input"] == len(df) == qc["n_kept"] + sum(qc["dropped"].values())
    assert qc["dropped"].get("not_in_panel", 0) == int((~on).sum()) > 0
    a1 = bim.loc[[k for k, o in zip(key, on) if o], "a1"].to_numpy()
    swapped = int((df.loc[on, "effect_allele"].to_numpy() != a1).sum())
    pal = sum(qc["dropped"].get(r, 0) for r in ("palindromic_ambiguous", "strand_inconsistent"))
    assert swapped - pal <= qc["swapped_alleles"] <= swapped
    for c in ("21", "22"):
        assert (out / f"xqtl/Liver.sQTL.chr{c}.parquet").exists()
    qx = harmonize_xqtl(str(out / "xqtl/Liver.sQTL.chr{chrom}.parquet"), fmt="gtex-parquet", panel_variants=variants,
                        out_dir=tmp_path / "x", qc_out=tmp_path / "x.qc.json", dataset="Liver_sQTL", tissue="Liver",
                        qtl_type="sQTL", n=120, declared_build="GRCh38", panel_build="GRCh38")
    assert qx["n_input"] == qx["n_kept"] + sum(qx["dropped"].values()) > 0
