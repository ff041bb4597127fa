"""The streamed xQTL ingest: the result does not depend on how rows are binned or batched.

``harmonize_xqtl`` spills matched rows to position bins and resolves them bin by bin; these tests run the same
GTEx-layout file with bins of 16 kb, 1 Mb and 1 Gb (one bin per chromosome = the whole-file decision) and with
read batches of 1,000 rows and 1e6 rows, and require identical tables and QC records. The file has several
bins' worth of positions, palindromic variants, swapped alleles, duplicated rows (the first must win), indels,
variants outside the panel, rows without a phenotype and rows of another chromosome inside the chr1 file.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from twasflow.harmonize import harmonize_xqtl
from twasflow.harmonize import xqtl as hx
from twasflow.io import xqtl as xio

LET = np.array(["A", "C", "G", "T"])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return _data(tmp_path_factory.mktemp("gtex"))


def _data(tmp_path, seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    panel = []
    for chrom, m, span in (("1", 1500, 3_000_000), ("2", 200, 500_000)):
        pos = np.sort(rng.choice(np.arange(1000, span), m, replace=False))
        a = rng.integers(0, 4, m)
        b = (a + rng.integers(1, 4, m)) % 4
        for p, x, y in zip(pos, a, b):
            panel.append((f"{chrom}:{p}:{LET[x]}:{LET[y]}", chrom, int(p), LET[x], LET[y], f"rs{p}",
                          float(rng.uniform(0.05, 0.95))))
    pv = pd.DataFrame(panel, columns=["variant_id", "chrom", "pos", "other_allele", "counted_allele", "rsid",
                                      "counted_freq"])
    p1 = pv[pv["chrom"] == "1"]
    for g in range(12):
        tss = int(rng.integers(0, 3_000_000))
        ph = f"chr1:{tss}:{tss + 500}:clu_{g}:ENSG{g:011d}.1"
        sub = p1[(p1["pos"] - tss).abs() <= 1_000_000]
        for _, v in sub.iterrows():
            swap = rng.random() < 0.5
            ref, alt = (v.counted_allele, v.other_allele) if swap else (v.other_allele, v.counted_allele)
            rows.append((ph, f"chr1_{v.pos}_{ref}_{alt}_b38", int(v.pos - tss), float(rng.normal(0, 0.1)),
                         float(rng.uniform(0.02, 0.2))))
    extra = [("chr1:5:9:clu_x:ENSG00000000099.1", f"chr1_{p1.pos.iloc[5]}_AT_A_b38", 5, 0.1, 0.05),  # indel
             ("chr1:5:9:clu_x:ENSG00000000099.1", "chr1_77_A_C_b38", 5, 0.1, 0.05),  # not in the panel
             (None, f"chr1_{p1.pos.iloc[7]}_{p1.other_allele.iloc[7]}_{p1.counted_allele.iloc[7]}_b38", 1, 0.1,
              0.05),  # no phenotype
             ("chr1:5:9:clu_x:ENSG00000000099.1", "garbage", 1, 0.1, 0.05)]  # malformed id
    p2 = pv[pv["chrom"] == "2"].head(30)
    extra += [("chr2:1:2:clu_y:ENSG00000000098.1", f"chr2_{v.pos}_{v.other_allele}_{v.counted_allele}_b38", 10,
               0.2, 0.05) for _, v in p2.iterrows()]  # another chromosome inside the chr1 file
    rows += extra
    rows += [rows[i] for i in rng.choice(len(rows) - len(extra), 40, replace=False)]  # duplicates (later rows)
    t = pd.DataFrame(rows, columns=["phenotype_id", "variant_id", "tss_distance", "slope", "slope_se"])
    t["pval_nominal"] = 0.5
    pq.write_table(pa.Table.from_pandas(t, preserve_index=False), tmp_path / "x.chr1.parquet", row_group_size=700)
    return pv, str(tmp_path / "x.chr{chrom}.parquet")


def _run(pv, path, out, monkeypatch, shift, batch):
    monkeypatch.setattr(hx, "_BIN_SHIFT", shift)
    real = xio.read_gtex_blocks
    monkeypatch.setattr(xio, "read_gtex_blocks", lambda p, c, batch_rows=batch: real(p, c, batch_rows=batch_rows))
    qc = harmonize_xqtl(path, fmt="gtex-parquet", panel_variants=pv, out_dir=out, qc_out=out / "qc.json",
                        dataset="d", tissue="T", qtl_type="sQTL", n=300, chroms=["1", "2"])
    qc.pop("input")
    return qc, {c: pd.read_parquet(out / f"{c}.parquet") for c in ("1", "2")}


def test_bins_and_batches_do_not_change_the_result(tmp_path, monkeypatch, data):
    pv, path = data
    ref_qc, ref = _run(pv, path, tmp_path / "whole", monkeypatch, 30, 1_000_000)
    assert ref_qc["n_input"] == ref_qc["n_kept"] + sum(ref_qc["dropped"].values())
    for k in ("duplicate", "indel", "not_in_panel", "missing_value", "invalid_variant_id"):
        assert ref_qc["dropped"].get(k, 0) > 0, k
    assert len(ref["2"]) == 30 and len(ref["1"]) > 5_000
    for shift, batch in ((20, 1_000_000), (14, 1000), (20, 777)):
        qc, got = _run(pv, path, tmp_path / f"s{shift}_{batch}", monkeypatch, shift, batch)
        assert qc == ref_qc
        for c in ("1", "2"):
            pd.testing.assert_frame_equal(got[c], ref[c])


def test_first_row_of_a_duplicate_wins_and_order(tmp_path, monkeypatch, data):
    pv, path = data
    qc, got = _run(pv, path, tmp_path / "o", monkeypatch, 20, 1000)
    t = got["1"]
    # position, then phenotype id
    assert (np.diff(t["pos"].to_numpy()) >= 0).all()
    same = t["pos"].to_numpy()[1:] == t["pos"].to_numpy()[:-1]
    ph = t["phenotype_id"].to_numpy()
    assert all(a < b for a, b in zip(ph[:-1][same], ph[1:][same]))
    assert not t.duplicated(["variant_id", "phenotype_id"]).any()
    # the kept row of a duplicated (variant, phenotype) is its first row in the file: the duplicates were
    # appended with the same values, so a kept value equals the file's first value
    src = pq.read_table(path.replace("{chrom}", "1")).to_pandas()
    first = src.drop_duplicates(["phenotype_id", "variant_id"], keep="first")
    assert qc["dropped"]["duplicate"] == len(src) - len(first)


def test_spill_removed_and_row_group_per_bin(tmp_path, data):
    """The spill directory is removed and the output has row groups within 1 Mb bins; chromosome 1 gets its
    track, chromosome 2 (rows only from inside the chr1 file, merged at the end) does not."""
    pv, path = data
    out = tmp_path / "m"
    harmonize_xqtl(path, fmt="gtex-parquet", panel_variants=pv, out_dir=out, qc_out=out / "qc.json",
                   dataset="d", tissue="T", qtl_type="sQTL", n=300, chroms=["1", "2"])
    assert sorted(p.name for p in out.iterdir()) == ["1.pairs.parquet", "1.parquet", "1.rows.arrow",
                                                     "1.track.parquet", "2.parquet", "qc.json"]
    md = pq.ParquetFile(out / "1.parquet").metadata
    assert md.num_row_groups >= 3  # row groups never span two 1 Mb bins
    assert json.loads((out / "qc.json").read_text())["n_pairs"] == 13


def test_reader_blocks_code_every_row(data):
    pv, path = data
    n = 0
    for b in xio.read_gtex_blocks(path, "1", batch_rows=500):
        assert len(b.vidx) == len(b.fidx) == len(b.row)
        assert b.variants[len(b.variants) - 1].as_py() == ""
        n += len(b)
    assert n == pq.ParquetFile(path.replace("{chrom}", "1")).metadata.num_rows
