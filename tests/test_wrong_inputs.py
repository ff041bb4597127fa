"""Wrong inputs must not pass (issue 18 item 3): an all-dropped GWAS is an error, not an empty success; numbers
written like 5e-8 in YAML are numbers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.test_harmonize_badinput import HEADER, run, write
from twasflow.config import load_run_config
from twasflow.errors import HarmonizeError


def test_gwas_with_every_row_dropped_is_an_error(tmp_path: Path) -> None:
    lines = [f"1\t{100 * (i + 1)}\tG\tA\tNA\tNA\t0.2\tNA\n" for i in range(10)]  # every value missing
    p = write(tmp_path, "allna.tsv", HEADER + "".join(lines))
    with pytest.raises(HarmonizeError, match=r"allna.tsv: every row was dropped.*found 10 rows dropped: "):
        run(tmp_path, p)
    assert not (tmp_path / "o.parquet").exists()


def test_yaml_exponent_without_dot_is_a_number(tmp_path: Path) -> None:
    shutil.copytree(REPO / "config", tmp_path / "config")
    text = (tmp_path / "config" / "config.yaml").read_text().replace("p1: 5.0e-8", "p1: 5e-8")
    assert "p1: 5e-8" in text
    raw = yaml.safe_load(text)
    assert raw["clump"]["p1"] == "5e-8"  # PyYAML (YAML 1.1), as Snakemake loads it: a string
    run_cfg = load_run_config(raw, base_dir=tmp_path)
    assert run_cfg.config["clump"]["p1"] == 5e-8 and isinstance(run_cfg.config["clump"]["p1"], float)
    raw["clump"]["p2"] = "5e-x"  # not a number: still an error naming the key
    with pytest.raises(Exception, match=r"clump.p2"):
        load_run_config(raw, base_dir=tmp_path)


def _cli(*args: str, cwd: Path):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "twasflow", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def _user_project(root: Path, col_p: str = "P", n: str = "10000") -> Path:
    """A user's project: config + sheets + a GWAS table + the real chr22 panel window (tests/data)."""
    (root / "config").mkdir(parents=True)
    geno = REPO / "tests" / "data" / "genotypes" / "1000G.EUR.hg19.chr22_20-21Mb"
    (root / "config" / "config.yaml").write_text(
        f"genome_build: GRCh37\nsimulate: {{enabled: false}}\npanel: {{bfile: '{geno}'}}\nclump: {{p1: 5e-8}}\n")
    (root / "data").mkdir()
    (root / "data" / "g.tsv").write_text("CHR\tBP\tA1\tA2\tBETA\tSE\tP\n22\t20000428\tA\tG\t0.1\t0.05\t0.04\n")
    (root / "config" / "gwas.tsv").write_text(
        "trait\tpath\tformat\tn\tbuild\tcol_chrom\tcol_pos\tcol_ea\tcol_oa\tcol_beta\tcol_se\tcol_p\n"
        f"T\tdata/g.tsv\ttable\t{n}\tGRCh37\tCHR\tBP\tA1\tA2\tBETA\tSE\t{col_p}\n")
    (root / "data" / "e.tsv").write_text("molecular_trait_id\tchromosome\tposition\tref\talt\tbeta\tse\n"
                                         "ENSG1\t22\t20000428\tG\tA\t0.1\t0.05\n")
    (root / "config" / "xqtl.tsv").write_text("dataset\ttissue\tqtl_type\tpath\tformat\tn\tbuild\n"
                                              "L\tLiver\teQTL\tdata/e.tsv\teqtl-catalogue\t200\tGRCh37\n")
    return root


def test_check_config_reads_headers_mapped_columns_and_n(tmp_path: Path) -> None:
    ok = _user_project(tmp_path / "ok")
    r = _cli("check-config", cwd=ok)
    assert r.returncode == 0, r.stderr
    assert "data/g.tsv: columns" in r.stdout and "p=P" in r.stdout
    bad = _user_project(tmp_path / "bad", col_p="PVAL")
    r = _cli("check-config", cwd=bad)
    assert r.returncode == 1 and "gwas.tsv, row 1 (T)" in r.stderr and "PVAL" in r.stderr
    non = _user_project(tmp_path / "non", n="")
    r = _cli("check-config", cwd=non)
    assert r.returncode == 1 and "column 'n': no sample size" in r.stderr


def test_config_from_another_directory_resolves_against_the_working_directory(tmp_path: Path) -> None:
    """`--config other/dir/config/config.yaml` from elsewhere: relative paths are the working directory's (as in
    snakemake), identically; the command says so and names the sheets it did not use."""
    proj = _user_project(tmp_path / "other" / "dir")
    here = tmp_path / "here"
    here.mkdir()
    r = _cli("check-config", "--config", str(proj / "config" / "config.yaml"), cwd=here)
    assert r.returncode == 1 and str(here / "config" / "gwas.tsv") in r.stderr  # the working directory's sheet
    r = _cli("check-config", "--config", "config/config.yaml", cwd=proj)
    assert r.returncode == 0 and f"relative paths from {proj}" in r.stdout
    shutil.copytree(REPO / "config", here / "config")  # the example's sheets in the working directory
    r = _cli("check-config", "--config", str(proj / "config" / "config.yaml"), cwd=here)
    assert f"not {proj / 'config' / 'gwas.tsv'}" in r.stderr and f"run from {proj}" in r.stderr


def test_p_disagreeing_with_beta_se_is_reported_in_the_qc(tmp_path: Path) -> None:
    import json

    good = [f"1\t{100 * (i + 1)}\tG\tA\t0.1\t0.05\t0.2\t0.0455\n" for i in range(8)]
    bad = [f"1\t{100 * (i + 9)}\tG\tA\t0.5\t0.05\t0.2\t0.5\n" for i in range(2)]  # z = 10 but p = 0.5
    p = write(tmp_path, "mixed.tsv", HEADER + "".join(good + bad))
    qc = run(tmp_path, p)
    chk = json.loads((tmp_path / "o.qc.json").read_text())["p_vs_beta_se"]
    assert chk["n_compared"] == 10 and chk["n_disagree"] == 2 and qc["p_vs_beta_se"] == chk
    assert any("p_vs_beta_se" in w for w in qc["warnings"])
