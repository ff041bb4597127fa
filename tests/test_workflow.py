"""The workflow itself: dry run and lint are clean on the default config; bad config fails before any job."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from twasflow.tables_schema import table


def _snakemake(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    """A copy of the workflow, scripts and config (no results) to run Snakemake in."""
    for d in ("workflow", "scripts", "config", "envs"):
        shutil.copytree(REPO / d, tmp_path / d, symlinks=False)
    return tmp_path


def test_dry_run_is_clean(workdir: Path) -> None:
    r = _snakemake("-n", "--cores", "1", cwd=workdir)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    for rule in ("simulate_example", "panel", "harmonize_gwas", "harmonize_xqtl", "clump"):
        assert f"rule {rule}:" in out
    assert "checkpoint loci:" in out


def test_lint_is_clean(workdir: Path) -> None:
    r = _snakemake("--lint", cwd=workdir)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Congratulations, your workflow is in a good condition" in r.stdout + r.stderr


def test_bad_config_fails_before_any_job(workdir: Path) -> None:
    cfg = workdir / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("  r2: 0.01", "  r2: 0.01\n  r3: 1"))
    r = _snakemake("-n", "--cores", "1", cwd=workdir)
    assert r.returncode != 0
    assert "unknown key 'r3' under 'clump'" in r.stdout + r.stderr
    assert "rule simulate_example:" not in r.stdout


def test_example_produces_loci_and_bundles(example_run: Path) -> None:
    import json

    import numpy as np
    import pandas as pd

    for trait in ("LDL_sim", "BMI_sim"):
        loci = pd.read_csv(example_run / "results" / "loci" / f"{trait}.tsv", sep="\t")
        assert len(loci) >= 2, f"{trait}: expected the simulated GWAS loci"
        # the defined columns (twasflow.tables_schema "loci"), then the lead's rsID (issue 18 item 4)
        assert list(loci.columns) == [*table("loci").names, "lead_rsid"]
        assert loci["lead_rsid"].astype(str).str.fullmatch(r"rs\d+").all()  # the example panel names every variant
        assert (loci["lead_p"] < 5e-8).all()
        n_ok = 0
        for chunk in sorted(loci["chunk"].unique()):
            man = json.loads((example_run / "results" / "locus_inputs" / trait / chunk / "manifest.json").read_text())
            assert {r["locus_id"] for r in man["loci"]} == set(loci.loc[loci["chunk"] == chunk, "locus_id"])
            for rec in man["loci"]:
                assert rec["status"] in ("ok", "empty"), rec
                b = np.load(example_run / "results" / "locus_inputs" / trait / chunk / f"{rec['locus_id']}.npz")
                M, P = len(b["variant_ids"]), b["xqtl_z"].shape[1] if b["xqtl_z"].ndim == 2 else 0
                assert (M, P) == (rec["M"], rec["P"])
                if rec["status"] == "ok":
                    n_ok += 1
                    assert b["R"].shape == (M, M) and np.allclose(b["R"], b["R"].T)
                    assert np.allclose(np.diag(b["R"]), 1.0)
                    assert np.isfinite(b["z"]).all() and b["xqtl_z"].shape == (M, P)
        assert n_ok >= 1


def test_example_qc_accounts_for_every_row(example_run: Path) -> None:
    import json

    for qc in sorted((example_run / "results" / "harmonized").rglob("*.qc.json")):
        q = json.loads(qc.read_text())
        assert q["n_input"] == q["n_kept"] + sum(q["dropped"].values()), qc
        assert q["n_kept"] > 0, qc


def test_example_rerun_is_a_no_op(example_run: Path) -> None:
    r = _snakemake("-n", "--cores", "1", cwd=example_run)
    assert r.returncode == 0
    assert "Nothing to be done" in r.stdout + r.stderr


def _chunks(root: Path, *parts: str, suffix: str = ".parquet"):  # -> pandas.DataFrame
    import pandas as pd

    files = sorted((root / "results").joinpath(*parts).glob(f"*{suffix}"))
    assert files, f"no {suffix} under {parts}"
    return pd.concat((pd.read_parquet(f) for f in files), ignore_index=True)


def test_example_finemap_tables_follow_the_spec_and_find_planted_genes(example_run: Path) -> None:
    import pandas as pd

    from twasflow.methods.result import LOCI_COLUMNS, SET_COLUMNS, VARIABLE_COLUMNS

    for trait in ("LDL_sim", "BMI_sim"):
        v = _chunks(example_run, "finemap", "tgvis", trait, suffix=".variables.parquet")
        s = _chunks(example_run, "finemap", "tgvis", trait, suffix=".sets.parquet")
        loci = _chunks(example_run, "finemap", "tgvis", trait, suffix=".loci.parquet")
        assert list(v.columns[: len(VARIABLE_COLUMNS)]) == VARIABLE_COLUMNS
        assert list(s.columns[: len(SET_COLUMNS)]) == SET_COLUMNS
        assert list(loci.columns[: len(LOCI_COLUMNS)]) == LOCI_COLUMNS
        assert (loci["status"] == "ok").all()
        assert v["pip"].between(0, 1).all()
        # every credible set of the variables table is described once in the sets table
        assert set(zip(v.dropna(subset=["cs"])["locus_id"], v.dropna(subset=["cs"])["cs"])) == set(
            zip(s["locus_id"], s["cs"]))
        truth = pd.read_csv(example_run / "resources" / "example" / "gwas" / f"{trait}.truth.tsv", sep="\t")
        planted_genes = set(truth.loc[truth["kind"] == "pair", "gene_id"])
        called_genes = set(v.loc[v["causal"] & (v["type"] == "pair"), "gene_id"])
        assert len(planted_genes & called_genes) >= 2, (planted_genes, called_genes)
        plots = example_run / "results" / "finemap" / "tgvis" / trait / "c000.plots"
        for ext in ("png", "svg"):
            assert {p.stem for p in plots.glob(f"*.{ext}")} == set(loci["locus_id"])


def test_example_coloc_joins_finemap_on_pair_id(example_run: Path) -> None:
    from twasflow.coloc import COLOC_COLUMNS

    for trait in ("LDL_sim", "BMI_sim"):
        coloc = _chunks(example_run, "coloc", trait)
        v = _chunks(example_run, "finemap", "tgvis", trait, suffix=".variables.parquet")
        assert list(coloc.columns) == COLOC_COLUMNS
        causal_pairs = v.loc[v["causal"] & (v["type"] == "pair"), ["locus_id", "pair_id", "cs"]]
        # one coloc row per (method, locus, pair): TGVIS's rows join its causal pairs one to one
        tg = coloc[coloc["method"] == "tgvis"]
        joined = causal_pairs.merge(tg, on=["locus_id", "pair_id"], how="left", validate="one_to_one")
        assert len(joined) == len(tg) and joined["method"].eq("tgvis").all()
        assert (joined["cs_x"] == joined["cs_y"]).all()
        assert coloc["abf_PP.H4"].between(0, 1).all() and coloc["PP.H4"].dropna().between(0, 1).all()
        assert coloc["colocalized"].any()


@pytest.mark.slow
def test_second_run_is_byte_identical(example_run: Path, tmp_path: Path) -> None:
    """Same config and seed → the same bytes in every result file, fine-mapping `loci` tables included (no wall
    time in results: timings are in logs/ and benchmarks/rules/)."""
    import hashlib

    from tests.conftest import copy_workflow, run_snakemake

    root = copy_workflow(tmp_path)
    r = run_snakemake("--cores", "2", cwd=root)
    assert r.returncode == 0, r.stderr[-3000:]

    def digests(base: Path) -> dict[str, str]:
        return {str(f.relative_to(base)): hashlib.sha256(f.read_bytes()).hexdigest()
                for f in sorted((base / "results").rglob("*")) if f.is_file() and not f.name.startswith(".snakemake")}

    a, b = digests(example_run), digests(root)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_finemap_rerun_hashes_equal(example_run: Path, tmp_path: Path) -> None:
    """One locus fine-mapped twice by every method: the result files compare equal by hash (no timings in them)."""
    import hashlib

    import pandas as pd

    trait = "LDL_sim"
    lid = str(pd.read_csv(example_run / "results" / "loci" / f"{trait}.tsv", sep="\t")["locus_id"].iloc[0])
    for method in ("tgvis", "ctwas", "tgfm"):
        digests = []
        for k in ("a", "b"):
            prefix = tmp_path / f"{method}_{k}"
            r = subprocess.run([sys.executable, "-m", "twasflow", "finemap", "--trait", trait, "--locus", lid,
                                "--method", method, "--out", str(prefix)], cwd=example_run, capture_output=True,
                               text=True, timeout=600)
            assert r.returncode == 0, r.stderr[-2000:]
            digests.append({part: hashlib.sha256(Path(f"{prefix}.{part}.parquet").read_bytes()).hexdigest()
                            for part in ("variables", "sets", "loci")})
        assert digests[0] == digests[1], method
        assert "seconds" not in pd.read_parquet(f"{prefix}.loci.parquet").columns


def test_cli_runs_one_locus_like_the_rule(example_run: Path, tmp_path: Path) -> None:
    """`twasflow locus-inputs --locus ID` and `twasflow xqtl-weights --locus ID` write the same bytes as the
    workflow's chunk jobs for that locus (the rule scripts and the CLI call the same functions)."""
    import subprocess
    import sys

    import pandas as pd

    loci = pd.read_csv(example_run / "results" / "loci" / "LDL_sim.tsv", sep="\t")
    lid, chunk = loci["locus_id"].iloc[0], loci["chunk"].iloc[0]
    out = tmp_path / "one"
    r = subprocess.run([sys.executable, "-m", "twasflow", "locus-inputs", "--trait", "LDL_sim", "--locus", lid,
                        "--out-dir", str(out)], cwd=example_run, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"{lid}\tok" in r.stdout
    ref = example_run / "results" / "locus_inputs" / "LDL_sim" / chunk
    for suffix in (".npz", ".pairs.parquet"):
        assert (out / f"{lid}{suffix}").read_bytes() == (ref / f"{lid}{suffix}").read_bytes()


def test_changing_one_trait_reruns_only_that_trait(example_run: Path, tmp_path: Path) -> None:
    """Editing one row of config/gwas.tsv makes the dry run list that trait's jobs only."""
    import re

    root = tmp_path / "run"
    shutil.copytree(example_run, root, symlinks=True)
    sheet = root / "config" / "gwas.tsv"
    lines = sheet.read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("BMI_sim\t"))
    fields = lines[i].split("\t")
    fields[3] = "350000"  # the sheet's n column: a parameter of harmonize_gwas for BMI_sim only
    lines[i] = "\t".join(fields)
    sheet.write_text("\n".join(lines) + "\n")
    r = _snakemake("-n", "--cores", "1", cwd=root)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    wildcards = re.findall(r"wildcards: ([^\n]+)", out)
    assert wildcards, out[-2000:]
    assert all("trait=BMI_sim" in w for w in wildcards), wildcards
    assert "rule harmonize_gwas:" in out
