"""Shared test fixtures: paths to the read-only reference data in ``../shared`` and tool availability."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ORACLE = SHARED / "oracle"
DATA = SHARED / "data"


def _have_r_susie() -> bool:
    if shutil.which("Rscript") is None:
        return False
    import subprocess

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
