"""Precomputed LD as the run's panel (issue 19 item 3, config ``panel.ld``): a store built from PolyFun/UKB
windows or LDstore ``.bcor`` files, per-locus LD from the one window holding the locus, clumping from the LD
matrix (Pearson r², PLINK's greedy rules), and the round trip: the same locus from bed, pgen, VCF and precomputed
LD gives the same R (to 1e-6) and the same fine-mapping.

Fixtures (tests/data/inputs, README there): the 1000G EUR chr22:20.0-20.1 Mb window as bed/pgen/VCF, its LD as
two overlapping PolyFun windows (``ld/``; every 4th variant stored with its alleles swapped) and as one bcor
file; the UK Biobank BOLT-LMM rows of that window. No ../shared at test time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twasflow.clump import clump_ld, clump_panel
from twasflow.errors import InputError
from twasflow.harmonize import harmonize_gwas, read_harmonized_gwas
from twasflow.io.ldmatrix import LDSource, ld_for_store
from twasflow.io.panel import Panel, build_ld_store, build_panel_store
from twasflow.ld import panel_ld
from twasflow.susie import susie_rss

FIX = Path(__file__).parent / "data" / "inputs"
PREFIX = FIX / "chr22_20.0-20.1Mb"
BOLT = FIX / "bolt_chr22_20.0-20.1Mb.tsv.gz"
POSMAP = dict(chrom="CHR", pos="BP", ea="ALLELE1", oa="ALLELE0", beta="BETA", se="SE", p="P_BOLT_LMM", eaf="A1FREQ",
              rsid="SNP")
N = 337_000.0
LOCUS = (20_005_000, 20_040_000)  # inside the first PolyFun window and the bcor file


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for kind, kw in (("bed", dict(bfile=PREFIX)), ("pgen", dict(pgen=PREFIX)), ("vcf", dict(vcf=str(PREFIX) + ".vcf.gz"))):
        d = tmp_path_factory.mktemp(kind)
        build_panel_store(d, maf_min=0.0, **kw)
        out[kind] = d
    for kind, src in (("npz", FIX / "ld"), ("bcor", FIX / "ld_chr22.bcor")):
        d = tmp_path_factory.mktemp(kind)
        build_ld_store(d, src)
        out[kind] = d
    return out


@pytest.fixture(scope="module")
def gwas(stores, tmp_path_factory) -> dict[str, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("gwas")
    out = {}
    for kind, d in stores.items():
        harmonize_gwas(BOLT, fmt="table", colmap=POSMAP, n=N, panel_variants=pd.read_parquet(d / "variants.parquet"),
                       out=tmp / f"{kind}.parquet", qc_out=tmp / f"{kind}.json", declared_build="GRCh37",
                       panel_build="GRCh37")
        out[kind] = read_harmonized_gwas(tmp / f"{kind}.parquet")
    return out


def _locus(kind: str, stores, gwas) -> tuple[pd.DataFrame, np.ndarray]:
    g = gwas[kind]
    g = g[(g["pos"] >= LOCUS[0]) & (g["pos"] <= LOCUS[1]) & (g["pos"] <= 20_039_000 if kind == "bcor" else True)]
    g = g.reset_index(drop=True)
    R = ld_for_store(stores[kind])(Panel(stores[kind]), g["variant_id"].tolist())
    return g, R


def test_the_store_says_where_its_ld_comes_from(stores):
    assert ld_for_store(stores["bed"]) is panel_ld
    src = ld_for_store(stores["npz"])
    assert isinstance(src, LDSource) and src.format == "polyfun" and len(src.windows) == 2
    assert ld_for_store(stores["bcor"]).format == "bcor"
    v = pd.read_parquet(stores["npz"] / "variants.parquet")
    assert v["variant_id"].is_unique and v["pos"].is_monotonic_increasing  # the windows' overlap listed once


@pytest.mark.parametrize("kind", ["pgen", "vcf", "npz", "bcor"])
def test_same_locus_same_R_and_same_finemapping(stores, gwas, kind):
    """bed is the reference; each other source, oriented back to bed's counted alleles, gives the same R to 1e-6
    and the same SuSiE-RSS fit (PIPs to 1e-6, the same credible sets)."""
    ref, R0 = _locus("bed", stores, gwas)
    g, R = _locus(kind, stores, gwas)
    # the variants both harmonizations keep (an LD store has no allele frequencies, so a palindromic variant
    # with MAF > 0.4 that the bed store's frequency calls ambiguous is kept there on the file's strand)
    k0, k = np.flatnonzero(ref["pos"].isin(g["pos"])), np.flatnonzero(g["pos"].isin(ref["pos"]))
    assert (ref["pos"] <= g["pos"].max()).sum() - len(k0) <= 1 and len(g) - len(k) <= 1
    ref, R0 = ref.iloc[k0].reset_index(drop=True), R0[np.ix_(k0, k0)]
    g, R = g.iloc[k].reset_index(drop=True), R[np.ix_(k, k)]
    assert len(g) == len(ref) > 50 and (g["pos"].to_numpy() == ref["pos"].to_numpy()).all()
    s = np.where(g["counted_allele"].to_numpy() == ref["counted_allele"].to_numpy(), 1.0, -1.0)
    if kind in ("npz", "bcor"):
        assert (s < 0).any()  # the LD files count the other allele at some variants: the orientation is exercised
    np.testing.assert_allclose(R * np.outer(s, s), R0, rtol=0, atol=1e-6)
    np.testing.assert_allclose(g["z"].to_numpy() * s, ref["z"].to_numpy(), rtol=0, atol=1e-12)
    # the BOLT z of this window carry no signal (min p 1e-3): fine-map them and, to compare credible sets, z of two
    # planted effects (bed orientation, z = R e), each source's z on its own counted alleles
    e = np.zeros(len(ref))
    e[[20, 90]] = [7.0, -6.0]
    for label, z0 in (("BOLT z", ref["z"].to_numpy()), ("planted z", R0 @ e)):
        f0 = susie_rss(z0, R0, n=N, L=5)
        f = susie_rss(z0 * s, R, n=N, L=5)
        np.testing.assert_allclose(f.pip, f0.pip, rtol=0, atol=1e-6)
        cs0, cs = f0.get_cs(), f.get_cs()
        assert [sorted(c.variables) for c in cs] == [sorted(c.variables) for c in cs0]
        assert label == "BOLT z" or len(cs) == 2
        print(f"{kind} ({label}): {len(g)} variants, {int((s < 0).sum())} counted alleles swapped vs bed, "
              f"max |R - R_bed| {np.abs(R * np.outer(s, s) - R0).max():.3g}, max |PIP - PIP_bed| "
              f"{np.abs(f.pip - f0.pip).max():.3g}, {len(cs)} credible sets")


def test_a_locus_no_window_holds_is_refused(stores, gwas):
    g = gwas["npz"]
    ids = g[(g["pos"] >= 20_010_000) & (g["pos"] <= 20_070_000)]["variant_id"].tolist()
    with pytest.raises(InputError, match=r"spans several LD windows.*chr22_20000001_20050001, chr22_20030001_20080001"):
        ld_for_store(stores["npz"])(None, ids)


@pytest.mark.parametrize("r2,kb", [(0.1, 5), (0.5, 10), (0.01, 8)])
def test_clumping_from_ld_is_plink_pearson_clumping(stores, gwas, r2, kb):
    """clump_ld on the precomputed LD = the PLINK --clump implementation with Pearson r² on the genotypes, the
    same index variants with the same members (compared by position: the stores count different alleles)."""
    hi = 20_080_000  # the windows end here; a clumping range must lie in one window
    p1, p2 = 1e-2, 5e-2
    common = set(gwas["bed"]["pos"]) & set(gwas["npz"]["pos"])  # see the round-trip test: one palindrome differs
    gb = gwas["bed"][(gwas["bed"]["pos"] <= hi - kb * 1000) & gwas["bed"]["pos"].isin(common)]
    recs0, uni0 = clump_panel(gb[["variant_id", "p"]], Panel(stores["bed"]), p1=p1, p2=p2, r2=r2, kb=kb,
                              r2_method="pearson")
    gl = gwas["npz"][(gwas["npz"]["pos"] <= hi - kb * 1000) & gwas["npz"]["pos"].isin(common)]
    v = Panel(stores["npz"]).variants
    recs, uni = clump_ld(gl[["variant_id", "p"]], v, ld_for_store(stores["npz"]), p1=p1, p2=p2, r2=r2, kb=kb)
    assert len(recs0) > 3
    pos0 = pd.read_parquet(stores["bed"] / "variants.parquet").set_index("variant_id")["pos"]
    pos1 = v.set_index("variant_id")["pos"]
    got = [(r.bp, r.p, r.bins, sorted(pos1[uni[r.members]].tolist()), len(r.sp2)) for r in recs]
    want = [(r.bp, r.p, r.bins, sorted(pos0[uni0[r.members]].tolist()), len(r.sp2)) for r in recs0]
    assert got == want


# ---------------------------------------------------------------------------------------------- config and workflow
def _ld_project(root: Path, extra: str = "") -> Path:
    import shutil

    data = root / "data"
    data.mkdir(parents=True)
    shutil.copytree(FIX / "ld", data / "ld")
    shutil.copy(BOLT, data / "bolt.tsv.gz")
    for f in FIX.glob("fusion_*"):
        shutil.copy(f, data / f.name)
    cfg = root / "config"
    cfg.mkdir(exist_ok=True)
    (cfg / "config.yaml").write_text(
        "genome_build: GRCh37\nsimulate: {enabled: false}\npanel: {ld: data/ld}\n"
        "clump: {p1: 1.0e-3, p2: 1.0e-2, r2: 0.1, kb: 5}\nloci: {radius_kb: 5}\n" + extra)
    pd.DataFrame([dict(trait="T", path="data/bolt.tsv.gz", format="table", n="337000", build="GRCh37",
                       col_chrom="CHR", col_pos="BP", col_ea="ALLELE1", col_oa="ALLELE0", col_beta="BETA",
                       col_se="SE", col_p="P_BOLT_LMM", col_eaf="A1FREQ", col_rsid="SNP")]).to_csv(
        cfg / "gwas.tsv", sep="\t", index=False)
    (cfg / "xqtl.tsv").write_text("dataset\ttissue\tqtl_type\tpath\tformat\tn\tbuild\n"
                                  "fus\tT_model\teQTL\tdata/fusion_weights.pos\tfusion\t465\tGRCh37\n")
    return root


def test_check_config_takes_panel_ld_and_refuses_what_needs_genotypes(tmp_path: Path) -> None:
    import yaml

    from twasflow.config import load_run_config
    from twasflow.errors import ConfigError

    root = _ld_project(tmp_path / "a")
    cfg = yaml.safe_load((root / "config" / "config.yaml").read_text())
    cfg |= {"gwas_sheet": "config/gwas.tsv", "xqtl_sheet": "config/xqtl.tsv"}
    load_run_config(cfg, base_dir=root)
    with pytest.raises(ConfigError, match=r"loci.ld_blocks.*found 'panel' with panel.ld"):
        load_run_config(cfg | {"loci": {"radius_kb": 5, "ld_blocks": "panel"}}, base_dir=root)
    with pytest.raises(ConfigError, match=r"panel.ld.*precomputed LD not found"):
        load_run_config(cfg | {"panel": {"ld": "data/nope"}}, base_dir=root)
    with pytest.raises(ConfigError, match="give exactly one of"):
        load_run_config(cfg | {"panel": {"ld": "data/ld", "bfile": "data/x"}}, base_dir=root)
    (root / "config" / "xqtl_pdb.tsv").write_text("dataset\ttissue\tqtl_type\tpath\tformat\tn\tbuild\n"
                                              "liv\tL_model\teQTL\tdata/fusion_weights.pos\tpredictdb\t\tGRCh37\n")
    with pytest.raises(ConfigError, match=r"found predictdb \(liv\) with panel.ld"):
        load_run_config(cfg | {"xqtl_sheet": "config/xqtl_pdb.tsv"}, base_dir=root)
    (root / "data" / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"panel.ld.*no LD window in the directory"):
        load_run_config(cfg | {"panel": {"ld": "data/empty"}}, base_dir=root)


@pytest.mark.slow
def test_panel_ld_through_snakemake_to_loci(tmp_path: Path) -> None:
    """panel → harmonize_gwas → clump (from the LD matrix) → loci through snakemake; the clumps are clump_ld's
    on the store, and the whole DAG plans."""
    from tests.conftest import copy_workflow, run_snakemake

    root = _ld_project(copy_workflow(tmp_path))
    r = run_snakemake("--cores", "2", "results/loci/T.tsv", cwd=root)
    assert r.returncode == 0, r.stderr[-4000:]
    res = root / "results"
    meta = json.loads((res / "panel" / "panel.json").read_text())
    assert meta["genotypes"] is False and meta["ld"]["format"] == "polyfun" and meta["ld"]["windows"] == 2
    qc = json.loads((res / "harmonized" / "gwas" / "T.qc.json").read_text())
    assert qc["n_input"] == 392 == qc["n_kept"] + sum(qc["dropped"].values())
    clumped = (res / "clump" / "T.clumped").read_text()
    g = read_harmonized_gwas(res / "harmonized" / "gwas" / "T.parquet")
    recs, _ = clump_ld(g[["variant_id", "p"]], Panel(res / "panel").variants, ld_for_store(res / "panel"),
                       p1=1e-3, p2=1e-2, r2=0.1, kb=5)
    assert len(recs) >= 2 and all(r.snp in clumped for r in recs)
    loci = pd.read_csv(res / "loci" / "T.tsv", sep="\t")
    assert len(loci) >= 1
    r = run_snakemake("-n", cwd=root)
    assert r.returncode == 0, r.stderr[-4000:]
    assert "locus_inputs" in r.stdout and "ld_blocks" not in r.stdout
