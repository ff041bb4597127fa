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
