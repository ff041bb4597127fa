"""TGFM's tissue prior in the workflow (rule tgfm_prior → finemap): learned from the example run's loci,
seeded, wired into the per-draw prior weights of the finemap stage, and in the DAG when switched on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from conftest import run_snakemake
from twasflow import stages

TRAIT = "LDL_sim"


def _chunks(res: Path) -> list[dict[str, Path]]:
    return [{"bundles": res / "locus_inputs" / TRAIT / c.name / "manifest.json",
             "weights": res / "weights" / TRAIT / c.name / "manifest.json",
             "prescreen": res / "prescreen" / TRAIT / f"{c.name}.parquet"}
            for c in sorted((res / "locus_inputs" / TRAIT).iterdir()) if c.is_dir()]


def test_tgfm_prior_is_learned_seeded_and_used(example_run: Path, tmp_path: Path) -> None:
    res = example_run / "results"
    chunks = _chunks(res)
    opts = {"n_draws": 6, "L": 10, "tissue_prior": True}
    d = stages.tgfm_prior(TRAIT, chunks, tmp_path / "a.json", opts, seed=3)
    stages.tgfm_prior(TRAIT, chunks, tmp_path / "b.json", opts, seed=3)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()  # seeded: byte-identical
    probs = np.asarray(d["probs"])
    assert d["classes"][0] == "variant" and probs.shape == (len(d["classes"]), 6)
    assert np.all((probs >= 0) & (probs <= 1)) and d["loci_used"]
    n_loci = sum(len(json.loads(Path(c["weights"]).read_text())["loci"]) for c in chunks)
    assert len(d["loci_used"]) + len(d["loci_without_credible_set"]) + len(d["loci_left_out"]) <= n_loci

    # wiring: a prior that gives every tissue probability 0 (floored to 1e-100) leaves no PIP on any pair
    zero = dict(d, probs=[[0.1] * 6] + [[0.0] * 6] * (len(d["classes"]) - 1))
    (tmp_path / "zero.json").write_text(json.dumps(zero))
    c = chunks[0]
    lid = json.loads(Path(c["weights"]).read_text())["loci"][0]["locus_id"]
    common = dict(trait=TRAIT, method="tgfm", bundles_manifest=c["bundles"], weights_manifest=c["weights"],
                  prescreen_table=c["prescreen"], log_dir=tmp_path / "logs", locus=lid, seed=1, plot_mode="none")
    out0 = stages.finemap(out_prefix=tmp_path / "zero", options=opts, trait_inputs={"tgfm_prior": tmp_path / "zero.json"},
                          **common)
    outu = stages.finemap(out_prefix=tmp_path / "unif", options=dict(opts, tissue_prior=False), **common)
    pairs0 = out0["variables"][out0["variables"]["type"] == "pair"]
    pairsu = outu["variables"][outu["variables"]["type"] == "pair"]
    assert len(pairs0) == len(pairsu) > 0
    assert np.nanmax(pairs0["pip"].to_numpy(dtype=float)) < 1e-6
    assert np.nanmax(pairsu["pip"].to_numpy(dtype=float)) > 0.01  # the uniform prior does give pairs weight


def test_tissue_prior_switch_puts_the_rule_in_the_dag(example_run: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "prior.yaml"
    cfg.write_text("tgfm:\n  tissue_prior: true\n")
    r = run_snakemake("-n", "--configfile", "config/config.yaml", str(cfg), cwd=example_run)
    assert r.returncode == 0, r.stderr[-3000:]
    text = r.stdout + r.stderr
    counts = dict(re.findall(r"^(tgfm_prior|finemap)\s+(\d+)\s*$", text, flags=re.M))
    # one prior per trait, and TGFM's finemap jobs (which now depend on it) rerun
    assert counts.get("tgfm_prior") == "2", text[-2000:]
    assert int(counts.get("finemap", 0)) >= 2
