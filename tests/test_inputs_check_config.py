"""`twasflow check-config` opens every xQTL sheet file (issue 18 item 3): its header must have what its format
needs, else an InputError naming the sheet row, the file, the column, what was found and what was expected."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from tests.test_wrong_inputs import _cli, _user_project
from twasflow.errors import InputError
from twasflow.io.headers import check_xqtl_header

FIX = Path(__file__).parent / "data" / "inputs"


def _gtex(path: Path, cols: list[str]) -> Path:
    pd.DataFrame({c: ["x"] if c in ("phenotype_id", "variant_id") else [0.1] for c in cols}).to_parquet(path)
    return path


def test_good_headers_of_every_format(tmp_path: Path) -> None:
    for c in ("1", "2"):
        _gtex(tmp_path / f"Liver.chr{c}.parquet", ["phenotype_id", "variant_id", "tss_distance", "slope", "slope_se"])
    assert check_xqtl_header(tmp_path / "Liver.chr{chrom}.parquet", "gtex-parquet").startswith("2 Parquet file(s)")
    assert "varID" in check_xqtl_header(FIX / "predictdb_liver_varid.db", "predictdb",
                                        covariance=FIX / "predictdb_liver_varid.txt.gz")
    assert "no varID" in check_xqtl_header(FIX / "predictdb_liver_rsid.db", "predictdb")
    assert "WGT, ID" in check_xqtl_header(FIX / "fusion_weights.pos", "fusion")
    (tmp_path / "w.tsv").write_text("model\tvariant_id\tweight\nG\t1:10:A:C\t0.5\n")
    assert "variant_id" in check_xqtl_header(tmp_path / "w.tsv", "weights-long")


@pytest.mark.parametrize("fmt,make,column,found", [
    ("gtex-parquet", lambda t: _gtex(t / "L.chr{chrom}.parquet".replace("{chrom}", "1"),
                                     ["phenotype_id", "variant_id", "slope"]).parent / "L.chr{chrom}.parquet",
     "slope_se", "columns ['phenotype_id', 'variant_id', 'slope']"),
    ("eqtl-catalogue", lambda t: _write(t / "e.tsv.gz", "molecular_trait_id\tchromosome\tposition\tref\talt\tbeta\n"),
     "se", "columns ['molecular_trait_id', 'chromosome', 'position', 'ref', 'alt', 'beta']"),
    ("weights-long", lambda t: _write(t / "w.tsv", "gene\tvariant_id\tweight\n"), "model", "columns ['gene'"),
    ("weights-long", lambda t: _write(t / "w.tsv", "model\tweight\teffect_allele\n"), "variant_id", "columns ['model'"),
    ("fusion", lambda t: _write(t / "f.pos", "PANEL\tWGT\tCHR\n"), "ID", "columns ['PANEL', 'WGT', 'CHR']"),
    ("predictdb", lambda t: _db(t / "m.db", "gene TEXT, rsid TEXT, ref_allele TEXT, weight REAL"), "eff_allele",
     "columns ['gene', 'rsid', 'ref_allele', 'weight']"),
])
def test_bad_header_is_an_error_naming_file_column_found_expected(tmp_path, fmt, make, column, found) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError) as e:
        check_xqtl_header(path, fmt)
    assert e.value.column == column and found in str(e.value.found)
    msg = str(e.value)
    assert str(path).replace("{chrom}", "1") in msg or str(path) in msg
    assert f"column '{column}'" in msg and "expected" in msg


def test_bad_covariance_header(tmp_path: Path) -> None:
    cov = _write(tmp_path / "c.txt", "GENE A B VALUE\n")
    with pytest.raises(InputError, match=r"c.txt.*covariance file has an unexpected header.*found GENE A B VALUE"):
        check_xqtl_header(FIX / "predictdb_liver_varid.db", "predictdb", covariance=cov)


def test_check_config_opens_the_xqtl_files(tmp_path: Path) -> None:
    """Through the command: the good project passes naming the columns it checked; an eQTL Catalogue file without
    `se` fails, naming the sheet row, the file and the column."""
    ok = _user_project(tmp_path / "ok")
    r = _cli("check-config", cwd=ok)
    assert r.returncode == 0, r.stderr
    assert "xqtl.tsv, row 1 (L)" in r.stdout and "columns molecular_trait_id" in r.stdout
    bad = _user_project(tmp_path / "bad")
    (bad / "data" / "e.tsv").write_text("molecular_trait_id\tchromosome\tposition\tref\talt\tbeta\n")
    r = _cli("check-config", cwd=bad)
    assert r.returncode == 1
    assert "xqtl.tsv, row 1 (L)" in r.stderr and "e.tsv" in r.stderr and "column 'se'" in r.stderr, r.stderr


def _write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        import gzip
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def _db(path: Path, cols: str) -> Path:
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE weights ({cols})")
    con.commit()
    con.close()
    return path


def test_fusion_weight_files_are_rule_inputs() -> None:
    """Rule harmonize_xqtl lists a FUSION .pos file's .wgt.RDat files as inputs (editing one reruns it)."""
    from twasflow.workflow_helpers import fusion_files

    files = fusion_files({"format": "fusion", "path": str(FIX / "fusion_weights.pos")})
    assert [Path(f).name for f in files] == ["fusion_g1.wgt.RDat", "fusion_g2.wgt.RDat", "fusion_g3.wgt.RDat"]
    assert all(Path(f).is_file() for f in files)
    assert fusion_files({"format": "predictdb", "path": "x.db"}) == []
