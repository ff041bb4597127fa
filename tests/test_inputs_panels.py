"""Reference panels users hold (issue 19): PLINK 2 .pgen beside PLINK 1 .bed and VCF.

Fixture: 1000G EUR chr22:20.0-20.1 Mb (392 variants, 489 people) as bed (plink1.9), VCF (plink1.9 --recode
vcf-iid bgz) and pgen (pgenlib's writer); tests/data/inputs/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pgenlib")

from twasflow.errors import PanelError  # noqa: E402
from twasflow.io.panel import Panel, build_panel_store  # noqa: E402
from twasflow.io.pgen import read_psam, read_pvar  # noqa: E402
from twasflow.ld import panel_ld  # noqa: E402

FIX = Path(__file__).parent / "data" / "inputs"
PREFIX = FIX / "chr22_20.0-20.1Mb"


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for kind, kw in (("bed", dict(bfile=PREFIX)), ("pgen", dict(pgen=PREFIX)),
                     ("vcf", dict(vcf=str(PREFIX) + ".vcf.gz"))):
        d = tmp_path_factory.mktemp(kind)
        build_panel_store(d, maf_min=0.01, **kw)
        out[kind] = d
    return out


def test_pvar_psam_readers():
    pv = read_pvar(PREFIX)
    assert len(pv) == 392 and list(pv.columns) == ["chrom", "pos", "id", "ref", "alt"]
    assert pv["chrom"].unique().tolist() == ["22"] and pv["pos"].is_monotonic_increasing
    ps = read_psam(PREFIX)
    assert len(ps) == 489 and ps["iid"].iloc[0] == "HG00096"


def test_pgen_store_identical_to_bed_and_vcf(stores):
    """The genotype store does not depend on the panel's format: variants and packed genotypes byte-identical."""
    v = {k: pd.read_parquet(d / "variants.parquet") for k, d in stores.items()}
    pd.testing.assert_frame_equal(v["pgen"], v["bed"])
    pd.testing.assert_frame_equal(v["pgen"], v["vcf"])
    for k in ("bed", "vcf"):
        assert (stores["pgen"] / "22.geno.npy").read_bytes() == (stores[k] / "22.geno.npy").read_bytes()
    meta = json.loads((stores["pgen"] / "panel.json").read_text())
    assert meta["source"]["type"] == "pgen" and meta["n_samples"] == 489


def test_same_locus_same_R_from_bed_pgen_vcf(stores):
    """The same locus from bed, pgen and VCF gives the same R to 1e-6 (it is in fact identical)."""
    ids = pd.read_parquet(stores["bed"] / "variants.parquet")["variant_id"].iloc[40:160].tolist()
    R = {k: panel_ld(Panel(d), ids) for k, d in stores.items()}
    assert R["bed"].shape == (120, 120) and np.isfinite(R["bed"]).all()
    np.testing.assert_allclose(R["pgen"], R["bed"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(R["vcf"], R["bed"], rtol=0, atol=1e-6)
    # and the LD is the Pearson correlation of the dosages, computed here directly from the pgen
    import pgenlib

    r = pgenlib.PgenReader(bytes(str(PREFIX) + ".pgen", "utf8"))
    pv = read_pvar(PREFIX)
    vid = pv["chrom"] + ":" + pv["pos"].astype(str) + ":" + pv["ref"] + ":" + pv["alt"]
    rows = np.array([np.flatnonzero(vid.to_numpy() == i)[0] for i in ids], dtype=np.uint32)
    g = np.empty((len(rows), 489), dtype=np.int8)
    r.read_list(rows, g)
    np.testing.assert_allclose(np.corrcoef(g.astype(float)), R["pgen"], rtol=0, atol=1e-12)


def test_pgen_keep_subset(tmp_path, stores):
    keep = tmp_path / "keep.txt"
    iids = read_psam(PREFIX)["iid"].iloc[::3]
    keep.write_text("\n".join(iids) + "\n")
    a, b = tmp_path / "a", tmp_path / "b"
    build_panel_store(a, pgen=PREFIX, keep=keep)
    build_panel_store(b, bfile=PREFIX, keep=keep)
    assert (a / "22.geno.npy").read_bytes() == (b / "22.geno.npy").read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(a / "variants.parquet"), pd.read_parquet(b / "variants.parquet"))


def test_pgen_errors_named(tmp_path):
    with pytest.raises(PanelError, match=r"PLINK 2 .psam file not found"):
        build_panel_store(tmp_path / "s", pgen=tmp_path / "nope")
    with pytest.raises(PanelError, match="exactly one of bfile, pgen or vcf"):
        build_panel_store(tmp_path / "s", pgen=PREFIX, bfile=PREFIX)
    # a .pgen that does not match its .pvar
    for ext in (".pgen", ".psam"):
        (tmp_path / f"x{ext}").write_bytes((FIX / f"chr22_20.0-20.1Mb{ext}").read_bytes())
    (tmp_path / "x.pvar").write_text("\n".join((FIX / "chr22_20.0-20.1Mb.pvar").read_text().splitlines()[:50]) + "\n")
    with pytest.raises(PanelError, match=r".pgen and .pvar disagree.*392 variants"):
        build_panel_store(tmp_path / "s", pgen=tmp_path / "x")


# ---------------------------------------------------------------------------------------------- precomputed LD
from twasflow.errors import InputError  # noqa: E402
from twasflow.io.ldmatrix import (read_bcor, read_polyfun_npz, ukb_windows, window_for_locus,  # noqa: E402
                                  write_bcor)

LD_DIR = FIX / "ld"


def _locus(stores, lo: int, hi: int) -> tuple[pd.DataFrame, np.ndarray]:
    v = pd.read_parquet(stores["bed"] / "variants.parquet")
    v = v[(v["pos"] >= lo) & (v["pos"] <= hi)].reset_index(drop=True)
    return v, panel_ld(Panel(stores["bed"]), v["variant_id"].tolist())


def test_polyfun_npz_is_one_triangle_with_half_diagonal():
    """The stored matrix is one triangle with 0.5 on the diagonal (polyfun#205); the reader adds its transpose."""
    from scipy import sparse

    M = sparse.load_npz(LD_DIR / "chr22_20000001_20050001.npz").toarray()
    assert np.allclose(np.diag(M), 0.5) and np.count_nonzero(np.triu(M, 1)) == 0
    ld = read_polyfun_npz(LD_DIR / "chr22_20000001_20050001")
    assert np.array_equal(ld.R, ld.R.T) and np.all(np.diag(ld.R) == 1.0)


@pytest.mark.parametrize("source", ["npz", "bcor"])
def test_same_locus_same_R_from_precomputed_ld(stores, source):
    """A locus from the genotypes (bed store) and from precomputed LD (alleles of every 4th variant stored
    swapped): the same R to 1e-6 once oriented to the panel's counted alleles."""
    lo, hi = 20_005_000, 20_040_000
    v, R = _locus(stores, lo, hi)
    if source == "npz":
        windows = ukb_windows(LD_DIR)
        ld = read_polyfun_npz(window_for_locus(windows, "22", lo, hi))
    else:
        ld = read_bcor(FIX / "ld_chr22.bcor")
        assert ld.n_samples == 489
        v = v[v["pos"] <= ld.variants["pos"].max()].reset_index(drop=True)
        R = R[np.ix_(v.index, v.index)]
    Rl, ok = ld.oriented("22", v["pos"].to_numpy(), v["other_allele"].to_numpy(), v["counted_allele"].to_numpy())
    assert ok.all() and len(v) > 60
    np.testing.assert_allclose(Rl, R, rtol=0, atol=1e-6)
    assert np.abs(Rl - R).max() < (1e-12 if source == "npz" else 2.0 ** -29)  # float64 / 4-byte bcor rounding


def test_locus_across_windows_refused_clearly():
    windows = ukb_windows(LD_DIR)
    # inside both windows: the one centred closest wins
    assert window_for_locus(windows, "22", 20_035_000, 20_049_000).endswith("chr22_20030001_20080001")
    assert window_for_locus(windows, "22", 20_005_000, 20_030_500).endswith("chr22_20000001_20050001")
    with pytest.raises(InputError, match=r"spans several LD windows.*chr22_20000001_20050001, chr22_20030001_20080001"):
        window_for_locus(windows, "22", 20_010_000, 20_070_000)
    with pytest.raises(InputError, match="overlaps none"):
        window_for_locus(windows, "5", 1, 100)


def test_bcor_two_byte_resolution_and_bad_files(tmp_path):
    ld = read_bcor(FIX / "ld_chr22.bcor")
    p = tmp_path / "x.bcor"
    write_bcor(p, ld.variants, ld.R, 489, compression=0)
    r2 = read_bcor(p)
    assert np.abs(r2.R - ld.R).max() <= 2.0 ** -14  # LDstore's default 2-byte values resolve r to 6e-5
    p.write_bytes(b"bcor1.0" + b"\0" * 40)
    with pytest.raises(InputError, match="not an LDstore bcor 1.1 file"):
        read_bcor(p)
    with pytest.raises(InputError, match="LD matrix file not found"):
        read_polyfun_npz(tmp_path / "nope")
