"""The xQTL track written at ingest and the locus paths that use it (issue 17 items 2-3).

The track holds, per (variant, TSS), the largest |z| and the row count over the pairs with that TSS; a locus
selects its variants from it and picks the selected variants' rows row group by row group. These tests require
the same bundles with the track as without it (the full scan), the track's content to equal a direct
computation from the written rows, no track where a pair has two TSS values, and the row-wise clumping to
choose the variants the dense-matrix clumping chooses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from twasflow.ld import greedy_clump
from twasflow.harmonize import harmonize_xqtl
from twasflow.harmonize.xqtl import TRACK_SUFFIX
from twasflow.locus import build_locus

from test_locus_window import LET, _oracle, _setup, panel_frame


class _Panel:
    def __init__(self, pv):
        self.variants = pv


def _bundle(pv, dirs, gwas, start, end):
    return build_locus({"locus_id": "L", "chrom": "1", "start": start, "end": end}, gwas_path=gwas, xqtl_dirs=dirs,
                       panel=_Panel(pv), ld=lambda _p, ids: np.eye(len(ids)), xqtl_p=1e-5, gwas_p=5e-8)


def _same(a, b):
    for k in ("variant_ids", "pos", "z", "R", "freq", "xqtl_z", "xqtl_n", "model_W"):
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), k
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    assert a.stats == b.stats


def test_track_and_full_scan_give_the_same_bundle(tmp_path):
    pv, dirs, gwas = _setup(tmp_path, seed=7)
    assert all((d / f"1{TRACK_SUFFIX}").is_file() for d in dirs.values())
    windows = ((1, 2_000_000), (1_200_000, 3_100_000), (2_500_000, 4_000_000))
    with_track = [_bundle(pv, dirs, gwas, s, e) for s, e in windows]
    for d in dirs.values():
        (d / f"1{TRACK_SUFFIX}").rename(d / "hidden.parquet")
    for (s, e), b in zip(windows, with_track):
        _same(b, _bundle(pv, dirs, gwas, s, e))
        assert b.M > 5 and b.P > 5


def test_a_stale_track_is_ignored(tmp_path):
    """A track whose footer row count is not its data file's (another run's) is not used."""
    pv, dirs, gwas = _setup(tmp_path, seed=8)
    ref = _bundle(pv, dirs, gwas, 1, 2_000_000)
    d = dirs["Liver"]
    t = pq.read_table(d / "1.parquet")
    pq.write_table(t.slice(0, t.num_rows - 50), d / "1.parquet")  # the data changed after the track was written
    got = _bundle(pv, dirs, gwas, 1, 2_000_000)
    vids, pairs, xz, n, _ = _oracle(pv, dirs, gwas, 1, 2_000_000, 1e-5, 5e-8)
    np.testing.assert_array_equal(got.variant_ids, vids)
    np.testing.assert_array_equal(got.xqtl_z, xz)
    assert got.stats["xqtl_rows_in_window"] == ref.stats["xqtl_rows_in_window"] - int(
        ((t.column("pos").to_numpy()[-50:] >= 1) & (t.column("pos").to_numpy()[-50:] <= 2_000_000)).sum())


def test_track_content_equals_a_direct_computation(tmp_path):
    pv, dirs, _ = _setup(tmp_path, seed=9)
    for d in dirs.values():
        x = pd.read_parquet(d / "1.parquet")
        x["tss"] = x["pos"] - x["tss_distance"]
        want = x.assign(a=x["z"].abs()).groupby(["pos", "variant_id", "tss"], sort=True).agg(
            maxabs=("a", "max"), rows=("a", "size")).reset_index()
        got = pd.read_parquet(d / f"1{TRACK_SUFFIX}")
        assert pq.ParquetFile(d / f"1{TRACK_SUFFIX}").metadata.metadata[b"rows"] == str(len(x)).encode()
        got = got.sort_values(["pos", "variant_id", "tss"]).reset_index(drop=True)
        np.testing.assert_array_equal(got["variant_id"].astype(str), want["variant_id"].astype(str))
        np.testing.assert_array_equal(got["tss"].to_numpy(), want["tss"].to_numpy())
        np.testing.assert_array_equal(got["maxabs"].to_numpy(), want["maxabs"].to_numpy())
        np.testing.assert_array_equal(got["rows"].to_numpy(), want["rows"].to_numpy())


def test_no_track_when_a_pair_has_two_tss_and_the_scan_is_exact(tmp_path):
    """A pair whose rows disagree on its TSS: no track is written and the locus scans the rows, membership by
    every row (the pair is out when any of its rows puts the TSS outside the window)."""
    rng = np.random.default_rng(4)
    m = 300
    pv, pos, a, b = panel_frame(rng, m, 3_000_000)
    rows = []
    for g, tss in enumerate((500_000, 1_400_000, 1_950_000)):
        for i in np.flatnonzero(np.abs(pos - tss) <= 1_000_000):
            zz = rng.normal() + (rng.random() < 0.05) * 9
            td = int(pos[i] - tss) + (200_000 if g == 2 and i % 2 else 0)  # gene 2: half its rows another TSS
            rows.append((f"ENSG{g:011d}.1", f"chr1_{pos[i]}_{LET[a[i]]}_{LET[b[i]]}_b38", td, zz * 0.05, 0.05))
    t = pd.DataFrame(rows, columns=["phenotype_id", "variant_id", "tss_distance", "slope", "slope_se"])
    pq.write_table(pa.Table.from_pandas(t, preserve_index=False), tmp_path / "X.chr1.parquet")
    d = tmp_path / "h" / "X"
    harmonize_xqtl(str(tmp_path / "X.chr{chrom}.parquet"), fmt="gtex-parquet", panel_variants=pv, out_dir=d,
                   qc_out=tmp_path / "X.qc.json", dataset="X", tissue="T", qtl_type="eQTL", n=300, chroms=["1"])
    assert not (d / f"1{TRACK_SUFFIX}").exists()
    gz = rng.normal(0, 1, m)
    gw = pv[["variant_id", "chrom", "pos"]].assign(z=gz, n=1e5, p=1.0)
    gw.to_parquet(tmp_path / "gwas.parquet", index=False)
    for start, end in ((1, 1_800_000), (900_000, 2_900_000)):
        bnd = _bundle(pv, {"X": d}, tmp_path / "gwas.parquet", start, end)
        vids, pairs, xz, _, _ = _oracle(pv, {"X": d}, tmp_path / "gwas.parquet", start, end, 1e-5, 5e-8)
        np.testing.assert_array_equal(bnd.variant_ids, vids)
        np.testing.assert_array_equal(bnd.pairs["pair_id"].to_numpy(str), pairs)
        np.testing.assert_array_equal(bnd.xqtl_z, xz)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rowwise_clumping_equals_the_dense_matrix(seed):
    rng = np.random.default_rng(seed)
    N, M = 300, 400
    G = (np.cumsum(rng.normal(size=(N, M)), axis=1) > 0.5).astype(float) + (rng.random((N, M)) < 0.2)
    G[:, 7] = 1.0  # a monomorphic variant: NaN r, never absorbs, never absorbed
    X = G - G.mean(0)
    ss = (X * X).sum(0)
    Xs = X / np.where(ss > 0, np.sqrt(ss), np.inf)
    R = Xs.T @ Xs
    R[:, 7] = R[7, :] = np.nan
    p = rng.uniform(0, 1e-4, M)
    p[7] = 1e-9
    for r2, p_max in ((0.5, 1e-5), (0.1, 1e-4), (0.8, 1.0)):
        ref = greedy_clump(p, R=R, r2=r2, p_max=p_max)
        got = greedy_clump(p, rows=lambda i: R[i], r2=r2, p_max=p_max)
        np.testing.assert_array_equal(ref[0], got[0])
        np.testing.assert_array_equal(ref[1], got[1])
