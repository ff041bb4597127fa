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
