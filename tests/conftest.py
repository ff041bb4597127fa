"""Shared test fixtures: paths to the reference data carried in ``tests/data`` and tool availability.

``tests/data`` holds the subsets of the project's reference data (``../shared``) that the tests read, in the same
layout (``oracle/``, ``genotypes/``, ``ctwas_LDL_chr16/``, ...), each folder with a README saying where it came
from; ``tests/data/make_fixtures.py`` rebuilds them. Nothing here reads outside the repository, so the suite runs
on a clean clone; only tests needing an optional external tool (plink1.9, R/susieR, chromium, SLURM) skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"  # the in-repository reference data every test reads (layout of ../shared)
# the full read-only reference set, for the few tests that need more than tests/data carries (they skip without it);
# TWASFLOW_SHARED points elsewhere (e.g. from a worktree one level deeper)
FULL_SHARED = Path(os.environ.get("TWASFLOW_SHARED", REPO.parent / "shared"))
ORACLE = DATA / "oracle"


def _have_r_susie() -> bool:
    if shutil.which("Rscript") is None:
        return False
    r = subprocess.run(["Rscript", "-e", "library(susieR)"], capture_output=True)
    return r.returncode == 0


HAVE_PLINK = shutil.which("plink1.9") is not None
needs_plink = pytest.mark.skipif(not HAVE_PLINK, reason="plink1.9 not installed")
needs_shared = pytest.mark.skipif(not FULL_SHARED.is_dir(),
                                  reason="needs the full reference set (../shared or TWASFLOW_SHARED), not in tests/data")


def read_tsv_matrix(path: Path) -> "numpy.ndarray":  # noqa: F821 - numpy is imported inside
    """A gzipped tab-separated numeric matrix (2-D, ``ndmin=2``). A symmetric matrix may be carried as its lower
    triangle, ``NAME.lower.tsv.gz`` (row i holds columns 0..i, the source's text unchanged): rebuilt exactly."""
    import gzip

    import numpy as np

    path = Path(path)
    if path.is_file():
        with gzip.open(path, "rt") as fh:
            return np.loadtxt(fh, delimiter="\t", ndmin=2)
    low = path.with_name(path.name.replace(".tsv.gz", ".lower.tsv.gz"))
    with gzip.open(low, "rt") as fh:
        rows = [np.array(line.split("\t"), dtype=np.float64) for line in fh.read().splitlines()]
    A = np.zeros((len(rows), len(rows)))
    for i, r in enumerate(rows):
        A[i, : i + 1] = r
    il = np.tril_indices(len(rows), -1)
    A[il[1], il[0]] = A[il]
    return A


def read_json(path: Path) -> object:
    """A JSON fixture, gzip-compressed (``name.json.gz``, as carried in tests/data) or plain."""
    import gzip
    import json

    path = Path(path)
    gz = path if path.suffix == ".gz" else path.with_name(path.name + ".gz")
    if gz.is_file():
        with gzip.open(gz, "rt") as fh:
            return json.load(fh)
    return json.loads(path.read_text())


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
    """The README's first command (snakemake on the default config) run once per session in a scratch copy.

    ``TWASFLOW_EXAMPLE_RUN=DIR``: use that finished run instead (a copy made by this fixture earlier, e.g. to
    rerun one test file on a busy machine without redoing the example)."""
    reuse = os.environ.get("TWASFLOW_EXAMPLE_RUN")
    if reuse:
        assert (Path(reuse) / "results" / "summary").is_dir(), f"TWASFLOW_EXAMPLE_RUN={reuse}: not a finished run"
        return Path(reuse)
    root = copy_workflow(tmp_path_factory.mktemp("example"))
    r = run_snakemake("--cores", "2", cwd=root)
    assert r.returncode == 0, r.stderr[-5000:]
    return root
