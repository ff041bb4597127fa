"""LD matrices against PLINK 1.9 --r / --r2 square (oracle), pairwise-complete missing handling, format."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA, ORACLE
from twasflow.ld import format_plink_square, ld_matrix, run_ld

P = ORACLE / "plink"
TOL = 1e-6  # PLINK prints 6 significant digits


def _load(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        return np.loadtxt(fh, delimiter="\t", ndmin=2)


LD_RUNS = {
    # every 4th variant of PLINK's 2000-variant run (tests/data/oracle/README.md): r of a pair does not depend
    # on the other extracted variants, so the sub-matrix is PLINK's output for these 500
    "ld_r_square_500": dict(bfile="chr22_window", extract="ld_variants_500.txt"),
    "ld_r2_square_300": dict(bfile="chr22_window", extract="ld_variants_300.txt", r2=True),
    "ld_r_square_miss3pct_keep100": dict(bfile="chr22_window_miss3pct", extract="ld_variants_300.txt",
                                         keep="ld_keep_100.txt"),
    "ld_r2_square_miss3pct_keep100": dict(bfile="chr22_window_miss3pct", extract="ld_variants_300.txt",
                                          keep="ld_keep_100.txt", r2=True),
}


@pytest.mark.parametrize("name", list(LD_RUNS))
def test_run_ld_matches_plink(name, tmp_path):
    kw = dict(LD_RUNS[name])
    for k in ("bfile", "extract", "keep"):
        if k in kw:
            kw[k] = P / kw[k]
    gz = name != "ld_r_square_500"  # the largest run writes plain text
    out = run_ld(out=tmp_path / name, gz=gz, **kw)
    assert out.name == name + (".ld.gz" if gz else ".ld")
    got = _load(out)
    exp = _load(P / "expected" / f"{name}.ld.gz")
    assert got.shape == exp.shape
    assert np.array_equal(np.isnan(got), np.isnan(exp))
    assert np.nanmax(np.abs(got - exp)) <= TOL
    if "keep100" in name:
        assert np.isnan(np.diag(got)).sum() == 22  # monomorphic in the 100 people: whole row/col nan


def test_keep_allele_order_changes_only_signs(tmp_path):
    kw = dict(bfile=P / "chr22_window_miss3pct", extract=P / "ld_variants_300.txt", keep=P / "ld_keep_100.txt")
    a = _load(run_ld(out=tmp_path / "a", gz=True, **kw))
    b = _load(run_ld(out=tmp_path / "b", gz=True, keep_allele_order=True, **kw))
    assert np.allclose(np.abs(a), np.abs(b), equal_nan=True)
    assert np.nanmax(np.abs(a - b)) > 0.1  # some A1 became major after --keep, so PLINK flipped signs


def test_ld_matrix_fast_path_equals_corrcoef():
    rng = np.random.default_rng(0)
    G = rng.integers(0, 3, (300, 40)).astype(float)
    R = ld_matrix(G)
    assert np.allclose(R, np.corrcoef(G, rowvar=False), atol=1e-12)
    assert np.array_equal(R, R.T) and np.all(np.diag(R) == 1.0)


def test_ld_matrix_pairwise_complete_equals_brute_force():
    rng = np.random.default_rng(1)
    G = rng.integers(0, 3, (120, 25)).astype(float)
    G[rng.uniform(size=G.shape) < 0.1] = np.nan
    G[:, 3] = 1.0  # monomorphic
    R = ld_matrix(G)
    for i in range(25):
        for j in range(25):
            if i == 3 or j == 3:
                assert np.isnan(R[i, j])
                continue
            ok = ~np.isnan(G[:, i]) & ~np.isnan(G[:, j])
            ref = 1.0 if i == j else np.corrcoef(G[ok, i], G[ok, j])[0, 1]
            assert R[i, j] == pytest.approx(ref, abs=1e-10)
    Z = ld_matrix(G, monomorphic="zero")
    assert Z[3, 3] == 1.0 and np.all(Z[3, np.arange(25) != 3] == 0.0)
    assert not np.isnan(Z).any()


def test_plink_square_format():
    R = np.array([[1.0, -0.00714285714, np.nan], [5.10204082e-05, -0.0, 1e-20], [0.123456789, 2.0 / 3, 1.0]])
    txt = format_plink_square(R)
    assert txt == "1\t-0.00714286\tnan\n5.10204e-05\t0\t1e-20\n0.123457\t0.666667\t1\n"


@pytest.mark.skipif(shutil.which("plink1.9") is None, reason="plink1.9 not installed (apt-get install plink1.9)")
@pytest.mark.parametrize("chrom", ["2", "12", "18", "22"])
def test_ld_matches_plink_run_here_on_real_windows(chrom, tmp_path):
    """`--r square` on 400 variants spread over each real 1000G EUR window, against plink1.9 run now."""
    bfile = DATA / "genotypes" / f"1000G.EUR.hg19.chr{chrom}_20-21Mb"
    ids = [line.split()[1] for line in Path(f"{bfile}.bim").read_text().splitlines()]
    extract = tmp_path / "ids.txt"
    extract.write_text("\n".join(ids[:: max(1, len(ids) // 400)][:400]) + "\n")
    subprocess.run(["plink1.9", "--threads", "1", "--silent", "--bfile", str(bfile), "--extract", str(extract),
                    "--r", "square", "--out", str(tmp_path / "plink")], check=True, capture_output=True)
    exp = _load(tmp_path / "plink.ld")
    got = _load(run_ld(bfile, tmp_path / "ours", extract=extract))
    assert got.shape == exp.shape == (400, 400)
    assert np.array_equal(np.isnan(got), np.isnan(exp))
    assert np.nanmax(np.abs(got - exp)) <= TOL
