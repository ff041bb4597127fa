"""Per-locus isolation (twasflow.chunks): expected per-locus problems are recorded, programming errors fail the
job, and the run's last job lists every failed locus and fails unless the config tolerates them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twasflow.chunks import FailedLociError, check_run, run_loci
from twasflow.errors import InputError, NumericalError


def _fn(rec: dict) -> dict:
    kind = rec["kind"]
    if kind == "input":
        raise InputError.at("bad z", file="x.tsv", column="z", row=3)
    if kind == "numerical":
        raise NumericalError("R is singular at this locus")
    if kind == "linalg":
        np.linalg.cholesky(-np.eye(2))
    if kind == "bug":
        return {"x": {}["gene_id"]}  # the locus-plot crash: a KeyError from code, not data
    return {"status": "ok", "reason": ""}


def test_expected_problems_are_recorded_and_the_other_loci_proceed(tmp_path: Path) -> None:
    recs = [{"locus_id": f"L{i}", "kind": k} for i, k in enumerate(["ok", "input", "numerical", "linalg", "ok"])]
    out = run_loci(recs, tmp_path / "logs", _fn)
    assert [r["status"] for r in out] == ["ok", "failed", "failed", "failed", "ok"]
    assert out[1]["reason"].startswith("InputError: x.tsv: column 'z', row 3: bad z")
    assert out[2]["reason"].startswith("NumericalError") and out[3]["reason"].startswith("LinAlgError")
    for r in out[1:4]:
        assert "Traceback" in Path(r["log"]).read_text()


@pytest.mark.parametrize("exc", [KeyError, TypeError, AttributeError])
def test_a_programming_error_fails_the_job(tmp_path: Path, exc: type[Exception]) -> None:
    def fn(rec: dict) -> dict:
        if rec["locus_id"] == "L1":
            raise exc("gene_id")
        return {"status": "ok", "reason": ""}

    with pytest.raises(exc):
        run_loci([{"locus_id": "L0"}, {"locus_id": "L1"}, {"locus_id": "L2"}], tmp_path, fn)


def _manifest(path: Path, loci: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"loci": loci}))
    return path


def test_failed_loci_listed_once_where_they_failed_and_the_run_fails(tmp_path: Path) -> None:
    li = _manifest(tmp_path / "locus_inputs" / "T" / "c000" / "manifest.json", [
        {"locus_id": "A", "status": "ok"}, {"locus_id": "B", "status": "failed", "reason": "InputError: bad",
                                             "log": "logs/B.log"}])
    w = _manifest(tmp_path / "weights" / "T" / "c000" / "manifest.json", [
        {"locus_id": "A", "status": "ok"},
        {"locus_id": "B", "status": "failed", "reason": "locus_inputs failed: InputError: bad", "log": None}])
    fm = tmp_path / "tgvis.loci.parquet"
    pd.DataFrame({"trait": ["T", "T"], "locus_id": ["A", "B"], "method": "tgvis", "status": ["failed", "failed"],
                  "reason": ["LinAlgError: singular", "InputError: bad"], "log": ["logs/A.log", "logs/B.log"]}
                 ).to_parquet(fm)
    out = tmp_path / "failed_loci.tsv"
    with pytest.raises(FailedLociError, match="2 loci failed"):
        check_run(out, tolerate=False, locus_inputs=[li], weights=[w], finemap={"tgvis": [fm]})
    t = pd.read_csv(out, sep="\t")
    assert t.to_dict("records") == [
        {"trait": "T", "locus_id": "A", "stage": "finemap:tgvis", "error": "LinAlgError: singular", "log": "logs/A.log"},
        {"trait": "T", "locus_id": "B", "stage": "locus_inputs", "error": "InputError: bad", "log": "logs/B.log"}]
    # tolerated: the same list, no error
    assert len(check_run(out, tolerate=True, locus_inputs=[li], weights=[w], finemap={"tgvis": [fm]})) == 2
    # nothing failed: an empty list, no error
    ok = _manifest(tmp_path / "ok" / "T" / "c000" / "manifest.json", [{"locus_id": "A", "status": "ok"}])
    assert len(check_run(out, tolerate=False, locus_inputs=[ok])) == 0


def test_annotation_crash_replayed_fails_the_finemap_job_and_keeps_the_fits(example_run: Path, tmp_path: Path,
                                                                            monkeypatch) -> None:
    """The issue's crash style: a KeyError('gene_id') from code inside the per-locus stage (there: the locus plot;
    here: the method at the chunk's second locus). It must fail the job, not turn loci into silent 'failed' rows,
    and leave the chunk's existing fine-mapping tables as they were."""
    from twasflow import stages

    root = tmp_path / "run"
    shutil.copytree(example_run / "results", root / "results", symlinks=True)
    trait, method = "LDL_sim", "tgvis"
    chunk = str(pd.read_csv(root / "results" / "loci" / f"{trait}.tsv", sep="\t")["chunk"].iloc[0])
    prefix = root / "results" / "finemap" / method / trait / chunk
    before = {p: Path(f"{prefix}.{p}.parquet").read_bytes() for p in ("variables", "sets", "loci")}

    from twasflow.config import load_schema, validate
    from twasflow.methods.tgvis import TgvisMethod

    real = TgvisMethod.fit_locus
    calls = []

    def fit_locus(self, b, w):
        calls.append(b.locus_id)
        if len(calls) == 2:
            raise KeyError("gene_id")
        return real(self, b, w)

    monkeypatch.setattr(TgvisMethod, "fit_locus", fit_locus)
    import yaml

    cfg = validate(yaml.safe_load((example_run / "config" / "config.yaml").read_text()), load_schema("config"),
                   "config.yaml")
    with pytest.raises(KeyError, match="gene_id"):
        stages.finemap(trait, method, root / "results" / "locus_inputs" / trait / chunk / "manifest.json",
                       root / "results" / "weights" / trait / chunk / "manifest.json",
                       root / "results" / "prescreen" / trait / f"{chunk}.parquet", prefix, tmp_path / "logs",
                       options=cfg["tgvis"], seed=cfg["seed"], plot_mode="all", plot_dir=tmp_path / "plots")
    assert len(calls) == 2
    assert {p: Path(f"{prefix}.{p}.parquet").read_bytes() for p in before} == before
    # the run's last job over the example: nothing failed, an empty list
    t = pd.read_csv(example_run / "results" / "failed_loci.tsv", sep="\t")
    assert list(t.columns) == ["trait", "locus_id", "stage", "error", "log"] and len(t) == 0
