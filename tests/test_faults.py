"""Faults cost nothing but time: a killed run resumes to the same bytes, a failing locus stays contained.

Each test works on a copy of the session's example run (fixture ``example_run``) and reruns only a few jobs,
so the default suite stays fast. Bit-identical reruns of the whole example: tests/test_workflow.py
(test_second_run_is_byte_identical, slow) and tests/test_slurm.py (the SLURM run against the local one).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO

TRAIT, CHUNK = "LDL_sim", "c000"
FINEMAP = Path("results") / "finemap" / "tgvis" / TRAIT
LOCI_TABLE = str(FINEMAP / f"{CHUNK}.loci.parquet")
PLOTS = FINEMAP / f"{CHUNK}.plots"


def _compare():
    spec = importlib.util.spec_from_file_location("compare_runs", REPO / ".ci" / "slurm" / "compare_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _copy_run(example_run: Path, dst: Path) -> Path:
    shutil.copytree(example_run, dst, symlinks=True)
    return dst


def _snakemake(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Snakemake on one core; put targets before ``--forcerun`` (it takes every following word as a rule)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _differences(a: Path, b: Path) -> list[dict]:
    return [r for r in _compare().compare_runs(a, b) if not r["equal"]]


@pytest.mark.parametrize("sig", [pytest.param(signal.SIGKILL, id="SIGKILL"),
                                 pytest.param(signal.SIGTERM, id="SIGTERM", marks=pytest.mark.slow)])
def test_killed_mid_chunk_then_rerun_incomplete_gives_the_uninterrupted_results(
        example_run: Path, tmp_path: Path, sig: signal.Signals) -> None:
    """Kill Snakemake and its job (whole process group) while the finemap chunk job is drawing its plots — its
    tables written (they come first: a plot failure never loses a fit), its plot directory half written — then
    resume: same files, same bytes, nothing left over."""
    root = _copy_run(example_run, tmp_path / "run")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1", LOCI_TABLE, "--forcerun",
                             "finemap"], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    plots, table = root / PLOTS, root / LOCI_TABLE
    deadline = time.monotonic() + 300
    try:
        # Snakemake first removes the old outputs; the job then writes its tables, then one plot per locus.
        while time.monotonic() < deadline and proc.poll() is None:
            if table.exists() and plots.is_dir() and len(list(plots.glob("*.png"))) == 1:  # 1 of the chunk's 3
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the job finished before it could be killed mid-chunk"
        assert table.exists() and any(plots.glob("*.png")), "no mid-chunk state reached within 300 s"
        os.killpg(proc.pid, sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    if sig == signal.SIGKILL:
        # Nothing ran Snakemake's cleanup: the half-written outputs are marked incomplete, so a plain rerun
        # refuses to trust them, and the killed run's lock stays until `--unlock`.
        plain = _snakemake(root, LOCI_TABLE)
        assert plain.returncode != 0, "a killed job's outputs must not be trusted without --rerun-incomplete"
        assert "IncompleteFilesException" in plain.stdout + plain.stderr, plain.stderr[-2000:]
        locked = _snakemake(root, "--rerun-incomplete", LOCI_TABLE)
        assert locked.returncode != 0 and "cannot be locked" in locked.stdout + locked.stderr
        assert _snakemake(root, "--unlock").returncode == 0

    r = _snakemake(root, "--rerun-incomplete", LOCI_TABLE)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not list((root / "results").rglob("*.tmp")), "temporary files left behind"
    # every file of the run (plots included: no stray ones) equals the uninterrupted run's
    assert _differences(example_run, root) == []
    done = _snakemake(root, "-n", LOCI_TABLE)
    assert done.returncode == 0 and "Nothing to be done" in done.stdout + done.stderr, done.stdout[-2000:]


def _corrupt_one_bundle(example_run: Path, dst: Path) -> tuple[Path, str, list[str]]:
    """A copy of the example run whose first locus bundle of the chunk is garbage: (root, bad id, good ids)."""
    root = _copy_run(example_run, dst)
    manifest = json.loads((root / "results" / "locus_inputs" / TRAIT / CHUNK / "manifest.json").read_text())
    ids = [r["locus_id"] for r in manifest["loci"] if r["status"] == "ok"]
    assert len(ids) >= 2, "the example chunk needs two loci for this test"
    (root / "results" / "locus_inputs" / TRAIT / CHUNK / f"{ids[0]}.npz").write_bytes(b"not a zip archive\n" * 10)
    return root, ids[0], ids[1:]


def test_a_failing_locus_is_reported_with_its_log_and_spares_the_other_loci(example_run: Path,
                                                                            tmp_path: Path) -> None:
    """Corrupt one locus bundle, rerun the chunk from stage-1 weights to TGVIS fine-mapping: that locus is
    `failed` with a log holding its traceback in each stage; the other loci come out exactly as before."""
    root, bad, good = _corrupt_one_bundle(example_run, tmp_path / "run")
    r = _snakemake(root, LOCI_TABLE, "--forcerun", "xqtl_weights")
    assert r.returncode == 0, r.stderr[-3000:]

    # stage-1 weights: the chunk manifest records the failure and where its traceback is
    wman = json.loads((root / "results" / "weights" / TRAIT / CHUNK / "manifest.json").read_text())
    rec = {x["locus_id"]: x for x in wman["loci"]}
    assert rec[bad]["status"] == "failed" and rec[bad]["reason"], rec[bad]
    wlog = root / rec[bad]["log"]
    assert "Traceback" in wlog.read_text() and bad in str(wlog)
    assert all(rec[g]["status"] == "ok" for g in good)
    rule_log = (root / "logs" / "xqtl_weights" / TRAIT / f"{CHUNK}.log").read_text()
    assert f"{bad} FAILED" in rule_log and str(rec[bad]["log"]) in rule_log
    for g in good:
        name = Path("results") / "weights" / TRAIT / CHUNK / f"{g}.weights.npz"
        assert (root / name).read_bytes() == (example_run / name).read_bytes(), g

    # prescreen: the other loci's rows unchanged
    name = Path("results") / "prescreen" / TRAIT / f"{CHUNK}.parquet"
    new, old = pd.read_parquet(root / name), pd.read_parquet(example_run / name)
    pd.testing.assert_frame_equal(new[new["locus_id"].isin(good)].reset_index(drop=True),
                                  old[old["locus_id"].isin(good)].reset_index(drop=True))

    # fine-mapping: a failed row with its own log for the bad locus; the other loci's rows unchanged
    loci = pd.read_parquet(root / LOCI_TABLE).set_index("locus_id")
    ref = pd.read_parquet(example_run / LOCI_TABLE).set_index("locus_id")
    assert loci.loc[bad, "status"] == "failed" and "Traceback" in (root / loci.loc[bad, "log"]).read_text()
    pd.testing.assert_frame_equal(loci.loc[good], ref.loc[good])
    for part in ("variables", "sets"):
        name = FINEMAP / f"{CHUNK}.{part}.parquet"
        new, old = pd.read_parquet(root / name), pd.read_parquet(example_run / name)
        assert not (new["locus_id"] == bad).any()
        pd.testing.assert_frame_equal(new.reset_index(drop=True),
                                      old[old["locus_id"].isin(good)].reset_index(drop=True))
    assert sorted(p.stem for p in (root / PLOTS).glob("*.png")) == sorted(good)
    # the other trait was not touched at all
    assert [d for d in _differences(example_run, root) if "BMI_sim" in d["path"]] == []


def test_a_failing_locus_does_not_stop_ctwas(example_run: Path, tmp_path: Path) -> None:
    """cTWAS estimates its priors over all loci of a trait (rule ctwas_params): a locus whose stage 1 failed
    must be left out of that estimate (counted), not crash it, and get its own `failed` row."""
    root, bad, good = _corrupt_one_bundle(example_run, tmp_path / "run")
    table = str(Path("results") / "finemap" / "ctwas" / TRAIT / f"{CHUNK}.loci.parquet")
    r = _snakemake(root, table, "--forcerun", "xqtl_weights")
    assert r.returncode == 0, r.stderr[-3000:]
    loci = pd.read_parquet(root / table).set_index("locus_id")
    assert loci.loc[bad, "status"] == "failed"
    assert (loci.loc[good, "status"] == "ok").all()


def test_a_failing_locus_does_not_stop_the_tgfm_tissue_prior(example_run: Path, tmp_path: Path) -> None:
    """TGFM's tissue prior is learned over all loci of a trait (rule tgfm_prior): a locus whose stage 1 failed is
    listed as left out of the prior, and TGFM still fine-maps the other loci with it."""
    root, bad, good = _corrupt_one_bundle(example_run, tmp_path / "run")
    (root / "prior.yaml").write_text("tgfm:\n  tissue_prior: true\n")
    table = str(Path("results") / "finemap" / "tgfm" / TRAIT / f"{CHUNK}.loci.parquet")
    r = _snakemake(root, table, "--configfile", "config/config.yaml", "prior.yaml", "--forcerun", "xqtl_weights")
    assert r.returncode == 0, r.stderr[-3000:]
    prior = json.loads((root / "results" / "tgfm" / TRAIT / "tissue_prior.json").read_text())
    assert bad in prior["loci_left_out"] and prior["loci_left_out"][bad].startswith("failed")
    assert bad not in prior["loci_used"]
    loci = pd.read_parquet(root / table).set_index("locus_id")
    assert loci.loc[bad, "status"] == "failed"
    assert (loci.loc[good, "status"] == "ok").all()


def test_temporary_files_of_a_killed_writer_are_gone_after_the_chunk_reruns(example_run: Path,
                                                                           tmp_path: Path) -> None:
    """A job killed inside an atomic write leaves its temporary file (no Python cleanup runs on SIGKILL or on
    an unhandled SIGTERM). Snakemake deletes a rerun job's declared outputs only, so the per-locus files next to
    a chunk manifest must be cleaned by the writer itself."""
    root = _copy_run(example_run, tmp_path / "run")
    wdir = root / "results" / "weights" / TRAIT / CHUNK
    lid = json.loads((wdir / "manifest.json").read_text())["loci"][0]["locus_id"]
    stale = wdir / f".{lid}.weights.npz.k1ll3d.tmp"  # the name atomic_path's mkstemp gives
    stale.write_bytes(b"PK\x03\x04 half an archive")
    r = _snakemake(root, str((wdir / "manifest.json").relative_to(root)), "--forcerun", "xqtl_weights")
    assert r.returncode == 0, r.stderr[-3000:]
    assert not stale.exists()
    assert _differences(example_run, root) == []
