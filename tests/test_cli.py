"""The `twasflow` command: PLINK-compatible drop-ins and clean errors (no traceback, exit 1)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DATA, ORACLE

PL = ORACLE / "plink"


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "twasflow", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_clump_is_a_plink_drop_in(tmp_path: Path) -> None:
    out = tmp_path / "B"
    r = _run("clump", "--bfile", str(PL / "chr22_window"), "--clump", str(PL / "chr22_assoc_plink.assoc"),
             "--clump-p1", "5e-8", "--clump-p2", "1e-5", "--clump-r2", "0.1", "--clump-kb", "500", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert Path(f"{out}.clumped").read_bytes() == (PL / "expected" / "chr22_B_strict.clumped").read_bytes()


def test_ld_square_like_plink(tmp_path: Path) -> None:
    out = tmp_path / "ld"
    r = _run("ld", "--bfile", str(PL / "chr22_window"), "--extract", str(PL / "ld_variants_300.txt"),
             "--r2", "square", "gz", "--out", str(out))
    assert r.returncode == 0, r.stderr
    ours = np.loadtxt(gzip.open(f"{out}.ld.gz"))
    ref = np.loadtxt(gzip.open(PL / "expected" / "ld_r2_square_300.ld.gz"))
    np.testing.assert_allclose(ours, ref, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (["clump", "--bfile", "/nonexistent/panel", "--clump", "x.assoc"], "/nonexistent/panel"),
        (["ld", "--bfile", "/nonexistent/panel", "--r", "triangle"], "only the 'square' matrix shape"),
        (["check-config", "--config", "config/config.yaml"], "config_sheet"),
        (["finemap", "--trait", "T", "--locus", "x", "--method", "tgvis", "--config", "no.yaml"],
         "no.yaml: config file not found"),
    ],
)
def test_errors_are_one_clean_line(tmp_path: Path, args: list[str], message: str) -> None:
    if args[0] == "check-config":
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "config.yaml").write_text("genome_build: GRCh38\nconfig_sheet: x\n")
    r = _run(*args, cwd=tmp_path)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert message in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith(f"twasflow {args[0]}: error:")


def test_panel_and_harmonize_gwas_subcommands(tmp_path: Path) -> None:
    import json

    geno = DATA / "genotypes"
    r = _run("panel", "--bfile", str(geno / "1000G.EUR.hg19.chr22_20-21Mb"), "--maf-min", "0", "--out",
             str(tmp_path / "panel"))
    assert r.returncode == 0, r.stderr
    r = _run("harmonize-gwas", "--input", str(geno / "polypred_1000G_EUR" / "bolt.sumstats.txt.gz"), "--format",
             "table", "--col-chrom", "CHR", "--col-pos", "BP", "--col-ea", "ALLELE1", "--col-oa", "ALLELE0",
             "--col-beta", "BETA", "--col-se", "SE", "--col-p", "P_BOLT_LMM", "--col-eaf", "A1FREQ", "--col-rsid",
             "SNP", "--n", "337000", "--panel", str(tmp_path / "panel"), "--build", "GRCh37", "--out",
             str(tmp_path / "bolt.parquet"), "--qc", str(tmp_path / "bolt.qc.json"))
    assert r.returncode == 0, r.stderr
    qc = json.loads((tmp_path / "bolt.qc.json").read_text())
    assert qc["n_input"] == 82448 == qc["n_kept"] + sum(qc["dropped"].values())
    # chr22: 2608 rows in the window, all matching a panel variant (README facts); swaps fixed, none flipped
    assert qc["swapped_alleles"] > 2000 and qc["flipped_strand"] == 0


def test_finemap_cli_is_the_rule_on_one_locus(example_run: Path, tmp_path: Path) -> None:
    """`twasflow finemap --locus` runs the rule's function on one locus: the same rows as the workflow's chunk."""
    import pandas as pd

    trait = "LDL_sim"
    loci = pd.read_csv(example_run / "results" / "loci" / f"{trait}.tsv", sep="\t")
    lid = str(loci["locus_id"].iloc[0])
    for method in ("tgvis", "ctwas"):
        prefix = tmp_path / method
        r = _run("finemap", "--trait", trait, "--locus", lid, "--method", method, "--out", str(prefix),
                 cwd=example_run)
        assert r.returncode == 0, r.stderr[-2000:]
        got = pd.read_parquet(f"{prefix}.variables.parquet")
        chunk = str(loci["chunk"].iloc[0])
        ref = pd.read_parquet(example_run / "results" / "finemap" / method / trait / f"{chunk}.variables.parquet")
        ref = ref[ref["locus_id"] == lid].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, ref)
        assert (Path(f"{prefix}.plots") / f"{lid}.png").is_file()
        # one line per credible set on stdout, members bracketed by collinear group
        sets = pd.read_parquet(f"{prefix}.sets.parquet")
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith(f"{lid} CS")]
        assert len(lines) == len(sets)
        for line, (_, s) in zip(lines, sets.iterrows()):
            assert f"{s['size']} member{'s' if s['size'] > 1 else ''} in {s['n_groups']} distinguishable group" in line
            assert line.count("[") == s["n_groups"] and ("(causal)" in line) == bool(s["causal"])
    r = _run("tgfm-prior", "--trait", trait, "--out", str(tmp_path / "tp.json"), cwd=example_run)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "loci used" in r.stdout


def test_show_lists_every_method_at_a_locus(example_run: Path) -> None:
    """`twasflow show`: per method a status line and one line per credible set, then the agreement of causal pairs."""
    import pandas as pd

    trait = "LDL_sim"
    loci = pd.read_csv(example_run / "results" / "loci" / f"{trait}.tsv", sep="\t")
    lid, chunk = str(loci["locus_id"].iloc[0]), str(loci["chunk"].iloc[0])
    r = _run("show", "--trait", trait, "--locus", lid, cwd=example_run)
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout.splitlines()
    called = {}
    for method in ("tgvis", "ctwas", "tgfm"):
        res = example_run / "results" / "finemap" / method / trait
        sets = pd.read_parquet(res / f"{chunk}.sets.parquet")
        v = pd.read_parquet(res / f"{chunk}.variables.parquet")
        v = v[v["locus_id"] == lid]
        head = [ln for ln in out if ln.startswith(f"{method}: ok")]
        assert len(head) == 1 and f"{int((sets['locus_id'] == lid).sum())} credible set" in head[0]
        called[method] = set(v.loc[v["causal"] & (v["type"] == "pair"), "variable_id"])
    every = set.intersection(*called.values())
    agree = [ln for ln in out if ln.startswith("pairs called causal by every method")]
    assert len(agree) == 1 and all(p in agree[0] for p in every) and (bool(every) or agree[0].endswith("none"))
    assert len([ln for ln in out if ln.startswith(f"  {lid} CS")]) == sum(
        int((pd.read_parquet(example_run / "results" / "finemap" / m / trait / f"{chunk}.sets.parquet")["locus_id"]
             == lid).sum()) for m in called)
    bad = _run("show", "--trait", trait, "--locus", "nope", cwd=example_run)
    assert bad.returncode == 1 and "no such locus" in bad.stderr and "Traceback" not in bad.stderr


def test_summarize_cli_writes_the_rule_tables(example_run: Path, tmp_path: Path) -> None:
    r = _run("summarize", "--trait", "LDL_sim", "--out-dir", str(tmp_path / "s"), cwd=example_run)
    assert r.returncode == 0, r.stderr[-2000:]
    ref = example_run / "results" / "summary" / "LDL_sim"
    for name in ("causal_sets.tsv", "causal_variables.tsv", "truth.tsv", "overview.tsv", "tissues.tsv"):
        assert (tmp_path / "s" / name).read_bytes() == (ref / name).read_bytes(), name
