"""The coloc stage on a hand-made chunk: a summary-statistic pair is colocalized, a prediction-model pair (no
xQTL z) gets a row with its reason, and the output joins the fine-mapping variables on (locus_id, pair_id)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from twasflow import stages
from twasflow.coloc import COLOC_COLUMNS
from twasflow.io.tables import write_json, write_parquet
from twasflow.locus import LocusBundle, write_bundle


def test_coloc_stage_sumstats_and_model_pairs(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    M, n_gwas, n_eqtl = 40, 100_000, 500
    # AR(1) LD; one causal variant shared by the GWAS and the eQTL
    R = 0.6 ** np.abs(np.subtract.outer(np.arange(M), np.arange(M)))
    L = np.linalg.cholesky(R)
    causal = 20
    z_gwas = np.sqrt(n_gwas) * 0.03 * R[:, causal] + L @ rng.normal(size=M)
    z_eqtl = np.sqrt(n_eqtl) * 0.4 * R[:, causal] + L @ rng.normal(size=M)
    vids = np.array([f"1:{1000 + i}:A:G" for i in range(M)])
    pairs = pd.DataFrame({"pair_id": ["G1|Liver|eQTL", "G2|Liver_model|eQTL"], "gene_id": ["G1", "G2"],
                          "gene_name": ["", ""], "tissue": ["Liver", "Liver_model"], "qtl_type": ["eQTL", "eQTL"],
                          "n_tested": [M, 3], "source": ["sumstats", "model"], "n_model": [M, 3]})
    W = np.zeros((M, 1))
    W[[19, 20, 21], 0] = [0.1, 0.5, 0.1]
    b = LocusBundle("T.1_1000_1039", vids, np.arange(1000, 1000 + M), z_gwas, np.array(float(n_gwas)), R,
                    np.full(M, 0.3), z_eqtl[:, None], np.array([float(n_eqtl)]), pairs, model_W=W)
    chunk = tmp_path / "locus_inputs"
    write_bundle(b, chunk)
    write_json({"loci": [{"locus_id": b.locus_id, "status": "ok", "reason": ""}]}, chunk / "manifest.json")
    variables = pd.DataFrame({"locus_id": [b.locus_id] * 2, "type": ["pair", "pair"],
                              "pair_id": pairs["pair_id"], "cs": pd.array([1, 1], dtype="Int64"),
                              "causal": [True, True]})
    write_parquet(variables, tmp_path / "v.parquet")
    out = stages.coloc("T", chunk / "manifest.json", {"tgvis": tmp_path / "v.parquet"}, tmp_path / "c.parquet",
                       tmp_path / "logs", {"gwas_p": 5e-5, "prune_r2": 0.81, "p1": 1e-4, "p2": 1e-4, "p12": 5e-6,
                                           "h4_min": 0.5})
    assert list(out.columns) == COLOC_COLUMNS
    got = out.set_index("pair_id")
    assert got.loc["G1|Liver|eQTL", "PP.H4"] > 0.8 and got.loc["G1|Liver|eQTL", "colocalized"]
    assert not got.loc["G2|Liver_model|eQTL", "colocalized"]
    assert got.loc["G2|Liver_model|eQTL", "reason"].startswith("prediction model")
    assert (out["method"] == "tgvis").all() and (out["cs"] == 1).all()
    joined = variables.merge(out, on=["locus_id", "pair_id"], validate="one_to_one")
    assert len(joined) == 2
