"""Shared test fixtures: paths to the read-only reference data in ``../shared`` and tool availability."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# the read-only reference data; TWASFLOW_SHARED points elsewhere (e.g. from a worktree one level deeper)
SHARED = Path(os.environ.get("TWASFLOW_SHARED", REPO.parent / "shared"))
ORACLE = SHARED / "oracle"
DATA = SHARED / "data"


def _have_r_susie() -> bool:
    if shutil.which("Rscript") is None:
        return False
    r = subprocess.run(["Rscript", "-e", "library(susieR)"], capture_output=True)
    return r.returncode == 0


HAVE_PLINK = shutil.which("plink1.9") is not None
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared reference data not present")
needs_plink = pytest.mark.skipif(not HAVE_PLINK, reason="plink1.9 not installed")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared reference data not present")
    return SHARED


@pytest.fixture(scope="session")
def have_r_susie() -> bool:
    return _have_r_susie()


def run_snakemake(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run Snakemake with this interpreter in ``cwd``."""
    import sys

    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=1200)


def copy_workflow(dst: Path) -> Path:
    """Copy what a user's checkout needs to run the workflow (no results) into ``dst``."""
    for d in ("workflow", "scripts", "config", "envs"):
        shutil.copytree(REPO / d, dst / d, symlinks=False)
    return dst


@pytest.fixture(scope="session")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's first command (snakemake on the default config) run once per session in a scratch copy."""
    root = copy_workflow(tmp_path_factory.mktemp("example"))
    r = run_snakemake("--cores", "2", cwd=root)
    assert r.returncode == 0, r.stderr[-5000:]
    return root
