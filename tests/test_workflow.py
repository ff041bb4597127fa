"""The workflow itself: dry run and lint are clean on the default config; bad config fails before any job."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


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
        assert list(loci.columns) == ["locus_id", "chrom", "start", "end", "lead_variant", "lead_p",
                                      "n_index_variants", "chunk"]
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


def test_example_coloc_tests_prescreened_pairs_and_colocalizes_planted_pairs(example_run: Path) -> None:
    import pandas as pd

    from twasflow.stages import COLOC_COLUMNS

    ex = example_run / "resources" / "example" / "gwas"
    for trait in ("LDL_sim", "BMI_sim"):
        coloc = pd.concat(pd.read_parquet(f) for f in sorted((example_run / "results" / "coloc" / trait).glob("*.parquet")))
        pre = pd.concat(pd.read_parquet(f) for f in sorted((example_run / "results" / "prescreen" / trait).glob("*.parquet")))
        assert list(coloc.columns) == COLOC_COLUMNS
        assert set(zip(coloc["locus_id"], coloc["pair_id"])) == set(zip(*pre.loc[pre["kept"], ["locus_id", "pair_id"]].T.values))
        assert coloc["PP.H4"].dropna().between(0, 1).all() and coloc["abf_PP.H4"].between(0, 1).all()
        truth = pd.read_csv(ex / f"{trait}.truth.tsv", sep="\t")
        planted = set(truth.loc[truth["kind"] == "pair", "pair_id"])
        hit = coloc[coloc["pair_id"].isin(planted)]
        assert set(hit["pair_id"]) == planted and hit["colocalized"].all(), hit
