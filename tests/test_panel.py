"""Genotype store: PLINK and VCF give the same store; range reads; keep; MAF filter; readers' errors."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import DATA
from twasflow.errors import PanelError
from twasflow.io.panel import Panel, build_panel_store
from twasflow.io.plink import pack_codes, read_bed, read_bim, read_fam

W = DATA / "genotypes" / "1000G.EUR.hg19.chr22_20-21Mb"


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("stores")
    build_panel_store(d / "bed", bfile=W)
    build_panel_store(d / "vcf", vcf=str(W) + ".vcf.gz")
    return Panel(d / "bed"), Panel(d / "vcf"), d


def test_bed_and_vcf_stores_identical(stores):
    a, b, d = stores
    assert a.variants["variant_id"].tolist() == b.variants["variant_id"].tolist()
    assert len(a.variants) == 2608 and a.n_samples == b.n_samples == 489
    assert (d / "bed" / "22.geno.npy").read_bytes() == (d / "vcf" / "22.geno.npy").read_bytes()
    r = a.rows_in_range("22", 20_000_000, 20_100_000)
    assert np.array_equal(a.dosages("22", r), b.dosages("22", r))
    # counted = bim A1 (col 5), other = A2 (col 6)
    bim = read_bim(W)
    assert a.variants["variant_id"].iloc[0] == f"22:{bim.pos[0]}:{bim.a2[0]}:{bim.a1[0]}"


def test_store_dosages_equal_bed_and_ranges(stores):
    a, _, _ = stores
    G = read_bed(W)
    rows = a.rows_in_range("22", 20_300_000, 20_400_000)
    pos = a.variants["pos"].to_numpy()
    assert np.all((pos[rows] >= 20_300_000) & (pos[rows] <= 20_400_000))
    assert rows.size == np.sum((pos >= 20_300_000) & (pos <= 20_400_000))
    assert np.array_equal(a.dosages("22", rows), G[:, rows].astype(float))
    chrom, r2 = a.index_of(a.variants["variant_id"].iloc[[5, 2, 9]])
    assert chrom == "22" and r2.tolist() == [5, 2, 9]
    f = a.variants["counted_freq"].to_numpy()
    assert np.allclose(f, G.mean(axis=0) / 2)
    Z = a.standardized("22", rows[:10])
    assert np.allclose(Z.mean(axis=0), 0) and np.allclose(Z.std(axis=0), 1)
    with pytest.raises(PanelError, match="not in the panel"):
        a.index_of(["22:1:A:C"])
    assert a.rows_in_range("7", 0, 10**9).size == 0


def test_store_is_deterministic(stores, tmp_path):
    _, _, d = stores
    build_panel_store(tmp_path / "again", bfile=W)
    for f in ("variants.parquet", "samples.tsv", "22.geno.npy", "panel.json"):
        assert (tmp_path / "again" / f).read_bytes() == (d / "bed" / f).read_bytes(), f


def test_keep_and_maf(tmp_path):
    fam = read_fam(W)
    keep = tmp_path / "keep.txt"
    keep.write_text("".join(f"{f} {i}\n" for f, i in zip(fam.fid[:100], fam.iid[:100])))
    meta = build_panel_store(tmp_path / "k", bfile=W, keep=keep, maf_min=0.05)
    p = Panel(tmp_path / "k")
    assert p.n_samples == 100
    G = read_bed(W, sample_rows=np.arange(100)).astype(float)
    f = G.mean(axis=0) / 2
    maf = np.minimum(f, 1 - f)
    assert meta["dropped"]["maf_below_min"] == int((maf < 0.05).sum()) > 0
    assert len(p.variants) == int((maf >= 0.05).sum())
    assert np.array_equal(p.dosages("22", np.arange(len(p.variants))), G[:, maf >= 0.05])
    # keep with IIDs only, on the VCF
    keep2 = tmp_path / "keep2.txt"
    keep2.write_text("\n".join(fam.iid[:100]) + "\n")
    build_panel_store(tmp_path / "kv", vcf=str(W) + ".vcf.gz", keep=keep2, maf_min=0.05)
    q = Panel(tmp_path / "kv")
    assert q.variants["variant_id"].tolist() == p.variants["variant_id"].tolist()


def test_vcf_pattern_missing_multiallelic_and_index(tmp_path):
    pysam = pytest.importorskip("pysam")
    body = (
        "##fileformat=VCFv4.2\n##contig=<ID=chr3>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\ts3\ts4\ts5\n"
        "chr3\t100\trs1\tA\tG\t.\t.\t.\tGT\t0|1\t1|1\t./.\t0/0\t1|0\n"
        "chr3\t150\trs2\tA\tC,T\t.\t.\t.\tGT\t0|1\t1|2\t0/0\t0/0\t1|0\n"
        "chr3\t160\trs3\tAT\tA\t.\t.\t.\tGT\t0|1\t1|1\t0/0\t0/0\t1|0\n"
        "chr3\t200\t.\tC\tT\t.\t.\t.\tGT:DS\t0/1:1\t0/0:0\t0/1:1\t1/1:2\t./.:.\n"
    )
    plain = tmp_path / "p.chr3.vcf"
    plain.write_text(body)
    gz = str(tmp_path / "p.chr3.vcf.gz")
    pysam.tabix_compress(str(plain), gz)
    with pytest.raises(PanelError, match="index not found"):
        build_panel_store(tmp_path / "s", vcf=gz)
    pysam.tabix_index(gz, preset="vcf")
    meta = build_panel_store(tmp_path / "s", vcf=str(tmp_path / "p.{chrom}.vcf.gz"), chroms=["3"])
    assert meta["dropped"]["multiallelic"] == 1 and meta["dropped"]["not_snv"] == 1
    p = Panel(tmp_path / "s")
    assert p.variants["variant_id"].tolist() == ["3:100:A:G", "3:200:C:T"]
    assert p.variants["rsid"].tolist()[0] == "rs1" and pd.isna(p.variants["rsid"].iloc[1])
    D = p.dosages("3", np.array([0, 1]))
    expected = np.array([[1, 2, np.nan, 0, 1], [1, 0, 1, 2, np.nan]]).T
    assert np.array_equal(np.isnan(D), np.isnan(expected)) and np.allclose(np.nan_to_num(D), np.nan_to_num(expected))
    assert p.variants["n_called"].tolist() == [4, 4]


def _copy_fileset(tmp_path, name="w"):
    for ext in (".bed", ".bim", ".fam"):
        shutil.copy(str(W) + ext, tmp_path / (name + ext))
    return tmp_path / name


def test_reader_errors(tmp_path):
    pre = _copy_fileset(tmp_path)
    data = (tmp_path / "w.bed").read_bytes()
    (tmp_path / "w.bed").write_bytes(data[:-10])
    with pytest.raises(PanelError, match=r"size does not match.*found \d+ bytes.*expected \d+ bytes"):
        read_bed(pre)
    (tmp_path / "w.bed").write_bytes(b"\x00\x00\x01" + data[3:])
    with pytest.raises(PanelError, match="wrong magic"):
        read_bed(pre)
    (tmp_path / "w.bed").unlink()
    with pytest.raises(PanelError, match="not found"):
        build_panel_store(tmp_path / "s", bfile=pre)
    with pytest.raises(PanelError, match="exactly one"):
        build_panel_store(tmp_path / "s")


def test_pack_roundtrip():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (7, 13)).astype(np.uint8)
    from twasflow.io.plink import decode_codes

    assert np.array_equal(decode_codes(pack_codes(codes), 13), codes)
