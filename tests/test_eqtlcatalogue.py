"""eQTL Catalogue Parquet nominal statistics (twasflow.io.eqtlcatalogue): the fixture in
tests/data/eqtl_catalogue (tests/eqtlcat_fixture.py, written from the eQTL Catalogue column specification)
gives the same harmonized store from its TSV and its Parquet copy; check-config reads the Parquet schema."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from twasflow.errors import InputError
from twasflow.harmonize import harmonize_xqtl
from twasflow.io.eqtlcatalogue import is_parquet
from twasflow.io.headers import check_xqtl_header

FIX = Path(__file__).resolve().parent / "data" / "eqtl_catalogue"


def fixture_panel() -> pd.DataFrame:
    """The panel the fixture's variants were drawn against (panel.tsv) in the harmonizer's layout."""
    p = pd.read_csv(FIX / "panel.tsv", sep="\t", dtype={"chrom": str})
    p["variant_id"] = p.chrom + ":" + p.pos.astype(str) + ":" + p.other_allele + ":" + p.counted_allele
    p["n_called"] = 500
    p["row"] = np.arange(len(p))
    return p[["variant_id", "chrom", "pos", "other_allele", "counted_allele", "rsid", "counted_freq", "n_called",
              "row"]]


def _run(path: Path, out: Path, n=None) -> dict:
    return harmonize_xqtl(path, fmt="eqtl-catalogue", panel_variants=fixture_panel(), out_dir=out / "x",
                          qc_out=out / "qc.json", dataset="d", tissue="Blood", qtl_type="eQTL", n=n)


@pytest.mark.parametrize("n", [None, 640.0])
def test_parquet_and_tsv_give_identical_stores(tmp_path, n):
    assert is_parquet(FIX / "QTD_test.all.parquet") and not is_parquet(FIX / "QTD_test.all.tsv.gz")
    qt = _run(FIX / "QTD_test.all.tsv.gz", tmp_path / "tsv", n)
    qp = _run(FIX / "QTD_test.all.parquet", tmp_path / "pq", n)
    assert {k: v for k, v in qt.items() if k != "input"} == {k: v for k, v in qp.items() if k != "input"}
    assert qt["n_input"] == 360 and qt["n_kept"] == 360 and qt["swapped_alleles"] > 0
    t = pd.read_parquet(tmp_path / "tsv" / "x" / "1.parquet")
    p = pd.read_parquet(tmp_path / "pq" / "x" / "1.parquet")
    pd.testing.assert_frame_equal(t, p)
    assert len(t) == 360 and (t.n == (600 if n is None else 640)).all()
    for f in ("1.track.parquet",):
        if (tmp_path / "tsv" / "x" / f).exists():
            pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "tsv" / "x" / f),
                                          pd.read_parquet(tmp_path / "pq" / "x" / f))
    # z refers to the panel's counted allele: sign flips exactly where ALT is the other allele
    src = pd.read_parquet(FIX / "QTD_test.all.parquet")
    m = t.merge(src.assign(pos=src.position.astype(np.int64)), left_on=["phenotype_id", "pos"],
                right_on=["molecular_trait_id", "pos"], suffixes=("", "_in"))
    assert len(m) == 360
    sign = np.where(m.variant_id.str.split(":").str[3] == m.alt, 1.0, -1.0)
    np.testing.assert_array_equal(m.z, sign * m.beta_in / m.se_in)
    assert (sign < 0).sum() == qt["swapped_alleles"]


def test_parquet_text_numbers_are_counted(tmp_path):
    """A numeric column stored as text: non-numbers are dropped and counted, as in a TSV."""
    df = pd.read_parquet(FIX / "QTD_test.all.parquet")
    df["beta"] = df["beta"].map(repr)
    df.loc[3, "beta"] = "oops"
    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    qc = _run(path, tmp_path)
    assert qc["n_input"] == 360 and qc["n_kept"] == 359 and sum(qc["dropped"].values()) == 1


def test_check_header_reads_the_parquet_schema(tmp_path):
    desc = check_xqtl_header(FIX / "QTD_test.all.parquet", "eqtl-catalogue")
    assert desc.startswith("Parquet with molecular_trait_id")
    df = pd.read_parquet(FIX / "QTD_test.all.parquet").drop(columns=["se"])
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), bad)
    with pytest.raises(InputError) as e:
        check_xqtl_header(bad, "eqtl-catalogue")
    assert e.value.column == "se" and str(bad) in str(e.value)
    with pytest.raises(Exception) as e2:
        _run(bad, tmp_path)
    assert "se" in str(e2.value)
