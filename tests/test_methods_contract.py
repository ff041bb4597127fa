"""One contract for every registered fine-mapping method (twasflow.methods.registry), in the spirit of
scikit-learn's sklearn/tests/test_common.py: a new method gets these checks by its registry line alone.

Checked for each method: the output tables' schema and column order (docs/outputs.md "finemap"), an empty
bundle, invariance to the order of the pairs and of the variants, and the failure record. The locus is small
and simulated with a known causal pair; stage-1 weights are fixed (no SuSiE effects), so every method —
TGFM's draws included — is deterministic and a permutation may only reorder rows (tolerance 1e-8 on PIPs:
summation order).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from twasflow.locus import LocusBundle
from twasflow.locus_weights import LocusWeights
from twasflow.methods.registry import get_method, method_names
from twasflow.methods.result import LOCI_COLUMNS, SET_COLUMNS, VARIABLE_COLUMNS, failed_result

M, P, N = 40, 4, 20_000
TRAIT, LOCUS = "T", "T.1_1000_40000"
OPTIONS: dict[str, dict[str, Any]] = {  # small, valid option blocks (the config schema fills the rest in a run)
    "tgvis": {"L_grid": [1, 2]},
    "ctwas": {"L": 3},
    "tgfm": {"n_draws": 3, "L": 3, "tissue_prior": False},
}


def _inputs(method: str) -> dict[str, Any]:
    """The per-trait inputs a method's preparation reads (as the stage passes them: parsed JSON)."""
    if method == "ctwas":
        groups = {"Liver|eQTL": 0.05, "Blood|eQTL": 0.05, "SNP": 1e-3}
        return {"ctwas_params": {"group_prior": groups, "group_prior_var": {g: 20.0 for g in groups}}}
    return {}


@pytest.fixture(scope="module")
def locus() -> tuple[LocusBundle, LocusWeights]:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((600, M))
    X[:, 1:] += 0.6 * X[:, :-1]  # local LD
    R = np.corrcoef(X, rowvar=False)
    B = np.zeros((M, P))
    for j, vs in enumerate([(3, 4), (10,), (20, 22), (30,)]):
        B[list(vs), j] = rng.uniform(0.3, 0.6, len(vs))
    z = R @ B[:, 0] * 0.08 * np.sqrt(N) + rng.standard_normal(M) @ np.linalg.cholesky(R + 1e-9 * np.eye(M)).T
    ids = [f"G{j}|{'Liver' if j % 2 == 0 else 'Blood'}|eQTL" for j in range(P)]
    pairs = pd.DataFrame({"pair_id": ids, "gene_id": [f"G{j}" for j in range(P)],
                          "gene_name": [f"g{j}" for j in range(P)],
                          "tissue": ["Liver" if j % 2 == 0 else "Blood" for j in range(P)], "qtl_type": "eQTL",
                          "n_tested": M, "source": "sumstats", "n_model": M})
    bundle = LocusBundle(LOCUS, np.array([f"1:{1000 * (i + 1)}:A:G" for i in range(M)]),
                         np.arange(1, M + 1) * 1000, z, np.array(float(N)), R, np.full(M, 0.3),
                         np.zeros((M, P)), np.full(P, 500.0), pairs)
    weights = LocusWeights(B=B, pair_ids=np.array(ids), kept=B != 0, pair_status=np.full(P, "ok"),
                           pip=np.zeros((M, P)), **LocusWeights.no_effects(M))
    return bundle, weights


def _fit(method: str, bundle: LocusBundle, weights: LocusWeights) -> tuple[pd.DataFrame, ...]:
    fitter = get_method(method).prepare(TRAIT, OPTIONS[method], _inputs(method), seed=1)
    return fitter.fit_locus(bundle, weights).tables(TRAIT, bundle.locus_id)


def _permuted(bundle: LocusBundle, weights: LocusWeights, pair_order: np.ndarray, variant_order: np.ndarray
              ) -> tuple[LocusBundle, LocusWeights]:
    v = variant_order
    b = LocusBundle(bundle.locus_id, bundle.variant_ids[v], bundle.pos[v], bundle.z[v], bundle.n,
                    bundle.R[np.ix_(v, v)], bundle.freq[v], bundle.xqtl_z[v], bundle.xqtl_n, bundle.pairs)
    w = LocusWeights(B=weights.B[v], pair_ids=weights.pair_ids, kept=weights.kept[v], pair_status=weights.pair_status,
                     pip=weights.pip[v], **LocusWeights.no_effects(len(v)))
    return b, w.select([str(weights.pair_ids[j]) for j in pair_order])


def test_every_configurable_method_is_registered() -> None:
    from twasflow.config import load_schema

    schema = load_schema("config")["properties"]
    assert sorted(schema["methods"]["items"]["enum"]) == sorted(method_names())
    for m in method_names():
        assert m in schema, f"config block for method {m}"


@pytest.mark.parametrize("method", method_names())
def test_output_schema_and_column_order(method: str, locus: tuple[LocusBundle, LocusWeights]) -> None:
    v, s, lo = _fit(method, *locus)
    assert list(v.columns[: len(VARIABLE_COLUMNS)]) == VARIABLE_COLUMNS
    assert list(s.columns[: len(SET_COLUMNS)]) == SET_COLUMNS
    assert list(lo.columns) == LOCI_COLUMNS
    assert len(lo) == 1 and lo["status"].iloc[0] == "ok" and lo["method"].iloc[0] == method
    assert str(v["cs"].dtype) == "Int64" and v["causal"].dtype == bool and v["pip"].dtype == np.float64
    n_pairs = int((v["type"] == "pair").sum())
    assert 0 < n_pairs <= P and (v["type"] == "variant").sum() == M
    assert ((v["pip"] >= 0) & (v["pip"] <= 1 + 1e-12)).all()
    pairs = v[v["type"] == "pair"]
    assert pairs["gene_id"].notna().all() and pairs["variant_id"].isna().all()


@pytest.mark.parametrize("method", method_names())
def test_empty_bundle_gives_an_empty_record(method: str, locus: tuple[LocusBundle, LocusWeights]) -> None:
    bundle, weights = locus
    empty = LocusBundle(LOCUS, np.array([], dtype=str), np.zeros(0, np.int64), np.zeros(0), bundle.n,
                        np.zeros((0, 0)), np.zeros(0), np.zeros((0, P)), bundle.xqtl_n, bundle.pairs,
                        reason="no variants")
    w = LocusWeights.empty(0, weights.pair_ids, np.full(P, "no_tested_variant"))
    v, s, lo = _fit(method, empty, w)
    assert v.empty and s.empty and lo["status"].iloc[0] == "empty" and lo["reason"].iloc[0] == "no variants"
    assert list(lo.columns) == LOCI_COLUMNS


@pytest.mark.parametrize("method", method_names())
def test_invariant_to_the_order_of_pairs_and_variants(method: str, locus: tuple[LocusBundle, LocusWeights]) -> None:
    bundle, weights = locus
    v0 = _fit(method, bundle, weights)[0].set_index("variable_id")
    rng = np.random.default_rng(3)
    b1, w1 = _permuted(bundle, weights, rng.permutation(P), rng.permutation(M))
    v1 = _fit(method, b1, w1)[0].set_index("variable_id")
    assert set(v1.index) == set(v0.index)
    np.testing.assert_allclose(v1.loc[v0.index, "pip"].to_numpy(), v0["pip"].to_numpy(), atol=1e-8)
    assert (v1.loc[v0.index, "causal"].to_numpy() == v0["causal"].to_numpy()).all()


@pytest.mark.parametrize("method", method_names())
def test_failure_record(method: str) -> None:
    v, s, lo = failed_result(method, "boom", log="logs/x.log").tables(TRAIT, LOCUS)
    assert v.empty and s.empty and list(lo.columns) == LOCI_COLUMNS
    assert lo[["status", "reason", "log", "method"]].iloc[0].tolist() == ["failed", "boom", "logs/x.log", method]
