"""Gene tests as the prescreen statistic (issue #21: "selectable as the prescreen statistic"): config
``prescreen.statistic: gene_test`` -> StageArgs -> ``stages.prescreen`` keeps the pairs of genes whose gene-test
p-value is at most ``prescreen.p_max`` (twasflow.genetests.select)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from twasflow.genetests.select import GENE_TEST_ABOVE_MAX, select_by_gene_test


def _pre(n_used: list[int], p: list[float], p_max: float = 0.05) -> pd.DataFrame:
    p_arr = np.array(p)
    has = np.array(n_used) > 0
    kept = has & (p_arr <= p_max)
    return pd.DataFrame({"locus_id": "L", "pair_id": [f"q{i}" for i in range(len(p))], "twas_z": 1.0,
                         "twas_p": p_arr, "n_weights_used": n_used, "n_weights_model": n_used, "kept": kept,
                         "reason": np.where(kept, "", np.where(has, "p_above_max", "no_weights")).astype(object),
                         "acat_p": 0.5})


def test_select_by_gene_test_decides_per_gene() -> None:
    # pairs: two of gene A (tested, p 1e-4), one of B (tested, p 0.2), one of C (not tested), one without weights
    pre = _pre([3, 2, 4, 1, 0], [0.3, 0.01, 0.001, 0.02, np.nan])
    genes = pd.DataFrame({"gene_id": ["ENSGA", "ENSGB"], "omnibus_p": [1e-4, 0.2], "ct_twas_p": [0.5, 0.01]})
    out, n_untested = select_by_gene_test(pre, ["ENSGA.3", "ENSGA", "ENSGB.1", "ENSGC", "ENSGA"], genes,
                                          p_max=0.05)
    # every pair of A enters, whatever its own S-PrediXcan p; B's strong pair is dropped by its gene's test
    assert out["kept"].tolist() == [True, True, False, True, False]
    assert out["reason"].tolist() == ["", "", GENE_TEST_ABOVE_MAX, "", "no_weights"]
    assert n_untested == 1  # C keeps its S-PrediXcan decision (kept at 0.02)
    out2, _ = select_by_gene_test(pre, ["ENSGA", "ENSGA", "ENSGB", "ENSGC", "ENSGA"], genes, p_max=0.05,
                                  column="ct_twas_p")
    assert out2["kept"].tolist() == [False, False, True, True, False]
    with pytest.raises(ValueError, match="gene_test_column"):
        select_by_gene_test(pre, ["ENSGA"] * 5, genes, p_max=0.05, column="p")


def test_prescreen_by_gene_test_through_the_config(example_run: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The example run's config with ``prescreen.statistic: gene_test``: StageArgs hands the chunk's gene-test
    table to the stage, and the kept pairs are exactly those of genes with omnibus p <= p_max (genes without a
    gene test keep the S-PrediXcan decision); the default config leaves the S-PrediXcan table as it was."""
    from twasflow import stages
    from twasflow.config import load_run_config
    from twasflow.locus import read_bundle
    from twasflow.stage_args import StageArgs

    monkeypatch.chdir(example_run)
    raw = yaml.safe_load((example_run / "config" / "config.yaml").read_text())
    trait = "LDL_sim"
    loci = pd.read_csv(example_run / "results" / "loci" / f"{trait}.tsv", sep="\t")
    chunk = str(loci["chunk"].iloc[0])
    default = StageArgs.of(load_run_config(raw, base_dir=".")).prescreen(trait, chunk)
    assert default["statistic"] == "spredixcan" and default["gene_tests"] is None
    raw = {**raw, "prescreen": {**raw.get("prescreen", {}), "statistic": "gene_test", "p_max": 1e-6}}
    kw = StageArgs.of(load_run_config(raw, base_dir=".")).prescreen(trait, chunk, out=str(tmp_path / "pre.parquet"))
    assert kw["gene_tests"] and Path(kw["gene_tests"]).is_file() and kw["gene_test_column"] == "omnibus_p"
    got = stages.prescreen(**kw)
    ref = pd.read_parquet(example_run / "results" / "prescreen" / trait / f"{chunk}.parquet")
    genes = pd.read_parquet(kw["gene_tests"])
    assert got[["locus_id", "pair_id", "twas_z", "twas_p"]].equals(ref[["locus_id", "pair_id", "twas_z", "twas_p"]])
    bdir = Path(kw["bundles_manifest"]).parent
    n_checked = 0
    for lid, t in got.groupby("locus_id", sort=False):
        pg = read_bundle(bdir, lid).pairs.set_index("pair_id")["gene_id"].astype(str).str.replace(r"\.\d+$", "",
                                                                                                  regex=True)
        gp = genes[genes["locus_id"] == lid].set_index("gene_id")["omnibus_p"]
        r = ref.set_index("pair_id").loc[t["pair_id"]]
        for pid, kept, used, reason in zip(t["pair_id"], t["kept"], t["n_weights_used"], t["reason"]):
            g = pg[pid]
            if used == 0:
                assert not kept
            elif g in gp.index:
                assert kept == (gp[g] <= 1e-6) and reason == ("" if kept else GENE_TEST_ABOVE_MAX)
                n_checked += 1
            else:  # no gene test: the S-PrediXcan decision at the same p_max
                assert kept == (r.loc[pid, "twas_p"] <= 1e-6)
    assert n_checked > 0 and got["kept"].any() and (got["reason"] == GENE_TEST_ABOVE_MAX).any()
