"""Config and sheet validation: every error names the key or column and what is expected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from twasflow.config import load_run_config, read_sheet
from twasflow.errors import ConfigError


@pytest.fixture()
def example(tmp_path: Path) -> Path:
    """A copy of the repository's config/ in a temporary working directory."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path


def _cfg(root: Path) -> dict:
    return yaml.safe_load((root / "config" / "config.yaml").read_text())


def test_example_config_is_valid_and_defaults_filled(example: Path) -> None:
    run = load_run_config(_cfg(example), base_dir=example)
    assert run.traits == ["LDL_sim", "BMI_sim"]
    assert len(run.datasets) == 5
    assert run.config["weights"]["L"] == 3  # a default from the schema
    assert run.config["clump"]["r2_method"] == "haplotype"
    assert run.mhc() == ("6", 28510120, 33480577)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.update(foo=1), "unknown key 'foo'"),
        (lambda c: c["clump"].update(r2="high"), "key 'clump.r2': found 'high'; expected number"),
        (lambda c: c["clump"].update(p1=2.0), "key 'clump.p1': found 2.0; expected number > 0 <= 1"),
        (lambda c: c["clump"].update(typo=1), "unknown key 'typo' under 'clump' (expected one of: kb, p1"),
        (lambda c: c.update(genome_build="hg19"), "key 'genome_build': found 'hg19'; expected one of 'GRCh37'"),
        (lambda c: c.pop("genome_build"), "missing required key 'genome_build'"),
        (lambda c: c["harmonize"].update(palindromic="keep"), "expected one of 'align_by_freq', 'drop'"),
        (lambda c: c.update(methods=["susie"]), "key 'methods.0': found 'susie'"),
        (lambda c: c["loci"].update(mhc="6:1-"), "key 'loci.mhc'"),
    ],
)
def test_config_errors_name_the_key(example: Path, edit, message: str) -> None:
    cfg = _cfg(example)
    edit(cfg)
    with pytest.raises(ConfigError) as exc:
        load_run_config(cfg, base_dir=example)
    assert message in str(exc.value)


def test_missing_panel_file_named(example: Path) -> None:
    cfg = _cfg(example)
    cfg["simulate"]["enabled"] = False
    with pytest.raises(ConfigError, match=r"config key 'panel.bfile': file '.*example.bed' does not exist"):
        load_run_config(cfg, base_dir=example)


def test_paths_checked_against_the_base_not_the_current_directory(example: Path, tmp_path_factory,
                                                                   monkeypatch) -> None:
    """The README's first command leaves resources/example/ in the checkout: a config whose base lacks the panel
    must still fail although the process's current directory has it (and pass from anywhere when the base has it)."""
    cwd = tmp_path_factory.mktemp("checkout")
    (cwd / "resources" / "example" / "panel").mkdir(parents=True)
    for ext in (".bed", ".bim", ".fam"):
        (cwd / "resources" / "example" / "panel" / f"example{ext}").write_bytes(b"")
    monkeypatch.chdir(cwd)
    cfg = _cfg(example)
    cfg["simulate"]["enabled"] = False
    with pytest.raises(ConfigError, match=r"config key 'panel.bfile': file '.*example.bed' does not exist"):
        load_run_config(cfg, base_dir=example)
    # from elsewhere, with the base holding the panel: the panel passes (the next check is the sheets' files)
    shutil.copytree(example / "config", cwd / "config")
    monkeypatch.chdir(example)
    with pytest.raises(ConfigError, match=r"gwas.tsv, row 1: column 'path'"):
        load_run_config(cfg, base_dir=cwd)


def test_both_panel_sources_rejected(example: Path) -> None:
    cfg = _cfg(example)
    cfg["panel"]["vcf"] = "x.vcf.gz"
    with pytest.raises(ConfigError, match="exactly one of 'bfile'"):
        load_run_config(cfg, base_dir=example)


def test_sheet_missing_column(example: Path) -> None:
    p = example / "config" / "gwas.tsv"
    p.write_text("trait\tpath\tbuild\nA\tx.tsv.gz\tGRCh38\n")
    with pytest.raises(ConfigError, match=r"gwas.tsv: missing column 'format' \(found columns: trait, path, build"):
        read_sheet(p, "gwas")


def test_sheet_unknown_column(example: Path) -> None:
    p = example / "config" / "xqtl.tsv"
    p.write_text(p.read_text().replace("build", "genome", 1))
    with pytest.raises(ConfigError, match=r"unknown column 'genome'"):
        read_sheet(p, "xqtl")


def test_sheet_bad_format_value(example: Path) -> None:
    p = example / "config" / "gwas.tsv"
    p.write_text(p.read_text().replace("gwas-ssf", "csv", 1))
    with pytest.raises(ConfigError, match=r"row 1: column 'format': found 'csv'; expected one of 'gwas-ssf'"):
        read_sheet(p, "gwas")


def test_sheet_duplicate_trait(example: Path) -> None:
    p = example / "config" / "gwas.tsv"
    p.write_text(p.read_text().replace("BMI_sim", "LDL_sim"))
    with pytest.raises(ConfigError, match=r"column 'trait': duplicate value 'LDL_sim'"):
        read_sheet(p, "gwas")


def test_sheet_non_numeric_n(example: Path) -> None:
    p = example / "config" / "xqtl.tsv"
    lines = p.read_text().splitlines()
    fields = lines[2].split("\t")
    fields[5] = "many"  # the n column
    lines[2] = "\t".join(fields)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=r"column 'n', row 2: not a number \(found 'many'"):
        read_sheet(p, "xqtl")


def test_sheet_build_mismatch(example: Path) -> None:
    p = example / "config" / "gwas.tsv"
    p.write_text(p.read_text().replace("GRCh38", "GRCh37", 1))
    with pytest.raises(ConfigError, match=r"row 1: column 'build': found GRCh37; expected GRCh38"):
        load_run_config(_cfg(example), base_dir=example)


def test_sheet_missing_data_file(example: Path) -> None:
    cfg = _cfg(example)
    cfg["simulate"]["enabled"] = False
    cfg["panel"] = {"vcf": str(REPO / "pyproject.toml")}  # exists; the GWAS path does not
    with pytest.raises(ConfigError, match=r"gwas.tsv, row 1: column 'path': file .*LDL_sim.tsv.gz' does not exist"):
        load_run_config(cfg, base_dir=example)


def test_table_format_needs_colmap(example: Path) -> None:
    p = example / "config" / "gwas.tsv"
    p.write_text(p.read_text().replace("gwas-ssf", "table", 1))
    with pytest.raises(ConfigError, match=r"row 1: format 'table' needs a column map.*col_chrom, col_pos"):
        load_run_config(_cfg(example), base_dir=example)
