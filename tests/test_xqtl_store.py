"""The variant-major side of the harmonized xQTL store (twasflow.io.xqtl_store, issue 17 items 2-3).

Beside each ``{chrom}.parquet`` ingest writes a track (per variant and TSS, with the variant's first data row), a
rows file (pair code and z per data row, same order) and a pairs table. These tests hold the three to a direct
computation from the data file, and require a locus read through them to give the bundle of the row-group read
(rows file hidden: the layout of the previous session) and of the full scan (track hidden too), for GTEx-layout
data and for eQTL Catalogue data whose n varies within a pair (then the rows file carries n).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from twasflow.harmonize import harmonize_xqtl
from twasflow.io import xqtl_store as xs
from twasflow.tables_schema import table

from test_locus_track import _bundle, _same
from test_locus_window import LET, _setup, panel_frame


def _read_rows(d, chrom="1"):
    with pa.OSFile(str(d / f"{chrom}{xs.ROWS_SUFFIX}")) as src:  # read into memory (not mapped)
        return pa.ipc.open_file(src).read_all()


def _check_store(d, chrom="1"):
    """Track, rows file and pairs table of ``d`` against its data file."""
    x = pq.read_table(d / f"{chrom}.parquet").to_pandas()
    rows = _read_rows(d, chrom)
    pairs = pq.read_table(d / f"{chrom}{xs.PAIRS_SUFFIX}").to_pandas()
    n_rows = str(len(x)).encode()
    assert pq.read_metadata(d / f"{chrom}{xs.PAIRS_SUFFIX}").metadata[b"rows"] == n_rows
    assert rows.num_rows == len(x)
    assert rows.schema.names[:2] == table("xqtl_rows").names
    assert list(pairs.columns) == table("xqtl_pairs").names
    code = rows.column("pair").to_numpy()
    # the rows file is the data file's rows, in its order: same pair, same z (bit for bit)
    np.testing.assert_array_equal(pairs["pair_id"].to_numpy(str)[code], x["pair_id"].to_numpy(str))
    np.testing.assert_array_equal(rows.column("z").to_numpy(), x["z"].to_numpy())
    np.testing.assert_array_equal(pairs["gene_id"].to_numpy(str)[code], x["gene_id"].to_numpy(str))
    # n: from the rows file when stored, else the pair's
    n = rows.column("n").to_numpy() if "n" in rows.schema.names else pairs["n"].to_numpy()[code]
    np.testing.assert_array_equal(n, x["n"].to_numpy())
    # the pair's TSS is every row's pos - tss_distance (or unknown on every row)
    tss = (x["pos"] - x["tss_distance"]).to_numpy(float)
    ptss = pairs["tss"].astype("float64").to_numpy()[code]
    np.testing.assert_array_equal(np.nan_to_num(ptss, nan=-1), np.nan_to_num(tss, nan=-1))
    # the track's row is the variant's first data row, and its rows sum to the variant's row count
    tr = pd.read_parquet(d / f"{chrom}{xs.TRACK_SUFFIX}")
    assert list(tr.columns) == table("xqtl_track").names
    first = x.reset_index().groupby("variant_id", sort=False)["index"].agg(["min", "size"])
    per = tr.groupby("variant_id", sort=False).agg(row=("row", "first"), rows=("rows", "sum"), k=("row", "nunique"))
    assert (per["k"] == 1).all()
    np.testing.assert_array_equal(per["row"].to_numpy(), first.loc[per.index, "min"].to_numpy())
    np.testing.assert_array_equal(per["rows"].to_numpy(), first.loc[per.index, "size"].to_numpy())


def _hide(dirs, suffix):
    for d in dirs.values():
        (d / f"1{suffix}").rename(d / f"hidden{suffix}")


def test_store_content_equals_the_data_file(tmp_path):
    _, dirs, _ = _setup(tmp_path, seed=21)
    for d in dirs.values():
        _check_store(d)


@pytest.mark.parametrize("seed", [7, 31])
def test_store_read_equals_row_group_read_and_full_scan(tmp_path, seed):
    pv, dirs, gwas = _setup(tmp_path, seed=seed)
    windows = ((1, 2_000_000), (1_200_000, 3_100_000), (2_500_000, 4_000_000))
    store = [_bundle(pv, dirs, gwas, s, e) for s, e in windows]
    _hide(dirs, xs.ROWS_SUFFIX)  # a store of the previous layout: track, no rows file
    old = [_bundle(pv, dirs, gwas, s, e) for s, e in windows]
    _hide(dirs, xs.TRACK_SUFFIX)  # no track at all: the full scan
    scan = [_bundle(pv, dirs, gwas, s, e) for s, e in windows]
    for a, b, c in zip(store, old, scan):
        _same(a, b)
        _same(a, c)
        assert a.M > 5 and a.P > 2


def test_a_stale_rows_file_is_ignored(tmp_path):
    """A rows file or pairs table of another version of the data file is not used (the row-group read is)."""
    pv, dirs, gwas = _setup(tmp_path, seed=22)
    ref = _bundle(pv, dirs, gwas, 1, 2_000_000)
    d = dirs["Liver"]
    rows = _read_rows(d)
    with pa.OSFile(str(d / f"1{xs.ROWS_SUFFIX}"), "wb") as sink, pa.ipc.new_file(sink, rows.schema) as w:
        w.write_table(rows.slice(0, rows.num_rows - 10))
    _same(ref, _bundle(pv, dirs, gwas, 1, 2_000_000))
    assert xs.RowsStore.open(d / "1.parquet", pq.read_metadata(d / "1.parquet").num_rows) is None


def test_eqtl_catalogue_with_n_varying_within_a_pair(tmp_path):
    """eQTL Catalogue without a sheet n: n = an / 2 per row, so the rows file carries n; bundles as the scan."""
    rng = np.random.default_rng(3)
    m = 400
    pv, pos, a, b = panel_frame(rng, m, 3_000_000)
    rows = []
    for g in range(6):
        tss = int(rng.integers(0, 3_000_000))
        for i in np.flatnonzero(np.abs(pos - tss) <= 1_000_000):
            zz = rng.normal() + (rng.random() < 0.05) * 9
            an = 400 + 20 * g + int(rng.choice([0, 2, 4]))  # varies within a pair and between pairs
            rows.append([f"ENSG{g:011d}", "1", int(pos[i]), LET[a[i]], LET[b[i]], zz * 0.05, 0.05, 40, an,
                         f"ENSG{g:011d}"])
    cols = ["molecular_trait_id", "chromosome", "position", "ref", "alt", "beta", "se", "ac", "an", "gene_id"]
    pd.DataFrame(rows, columns=cols).to_csv(tmp_path / "e.tsv.gz", sep="\t", index=False)
    d = tmp_path / "h" / "E"
    harmonize_xqtl(tmp_path / "e.tsv.gz", fmt="eqtl-catalogue", panel_variants=pv, out_dir=d,
                   qc_out=tmp_path / "e.qc.json", dataset="E", tissue="Blood", qtl_type="eQTL", n=None, chroms=["1"])
    assert "n" in _read_rows(d).schema.names
    _check_store(d)
    gz = rng.normal(0, 1, m) + (rng.random(m) < 0.03) * 7
    from scipy.special import ndtr

    pv[["variant_id", "chrom", "pos"]].assign(z=gz, n=1e5, p=2 * ndtr(-np.abs(gz))).to_parquet(
        tmp_path / "gwas.parquet", index=False)
    windows = ((1, 1_800_000), (900_000, 2_900_000))
    store = [_bundle(pv, {"E": d}, tmp_path / "gwas.parquet", s, e) for s, e in windows]
    _hide({"E": d}, xs.TRACK_SUFFIX)
    for (s, e), a in zip(windows, store):
        _same(a, _bundle(pv, {"E": d}, tmp_path / "gwas.parquet", s, e))
        assert a.P > 0 and len(np.unique(a.xqtl_n)) > 1
