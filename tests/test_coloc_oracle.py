"""twasflow.coloc against coloc 5.2.3 (``tests/data/oracle/expected/coloc_*``, see README-susie-coloc.md).

Tolerances (README "suggested tolerances", same-algorithm replays):
- PP.H0..H4, per-variant lABF, internal.sum.lABF, SNP.PP.H4 / SNP.PP: absolute 1e-6, and in addition a
  relative 1e-6 on every strictly positive probability (so tiny PPs such as 1e-18 are checked on the log
  scale rather than passing trivially under the absolute bound).
- coloc-SuSiE replay from the stored fits (lbf_variable rows at cs_index): the same pairs (hit1, hit2,
  idx1, idx2, nsnps) and PPs within 1e-6.
- coloc-SuSiE after refitting with ``twasflow.susie.susie_rss`` as coloc's ``runsusie`` calls it
  (z = beta/sqrt(varbeta), R = N3w_R, n = N, L = 10, max_iter = 100): the same pairs and PPs within 1e-5.

Run ``python tests/test_coloc_oracle.py`` to print the measured maximum errors per case (docs/coloc.md).
"""

from __future__ import annotations

import sys
import warnings
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import ORACLE, read_json, read_tsv_matrix  # noqa: E402

from twasflow.coloc import PP_COLUMNS, coloc_abf, coloc_susie, finemap_abf, run_susie  # noqa: E402

EXP = ORACLE / "expected"
ATOL = 1e-6
RTOL = 1e-6
REFIT_ATOL = 1e-5

ABF_CASES = {
    "coloc_01_abf_quant_sdY": {},
    "coloc_02_abf_quant_est_sdY": {},
    "coloc_03_abf_pvalues": {},
    "coloc_04_abf_cc": {},
    "coloc_05_abf_custom_priors": {"p1": 1e-3, "p2": 5e-4, "p12": 2e-5},
    "coloc_06_abf_partial_overlap": {},
}
SUSIE_CASES = ("coloc_08_susie_two_cs", "coloc_09_susie_no_cs")


def _load(case: str, name: str) -> dict[str, Any]:
    return read_json(EXP / case / name)


def _tsv(path) -> np.ndarray:
    return read_tsv_matrix(path)


def _err(got: np.ndarray, want: np.ndarray) -> tuple[float, float]:
    """(max absolute error, max relative error over strictly positive expected values)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    ab = float(np.max(np.abs(got - want))) if got.size else 0.0
    pos = want > 0
    rel = float(np.max(np.abs(got[pos] / want[pos] - 1.0))) if pos.any() else 0.0
    return ab, rel


def _assert_close(got: np.ndarray, want: np.ndarray, what: str, *, relative: bool = True,
                  atol: float = ATOL) -> None:
    ab, rel = _err(got, want)
    assert ab <= atol, f"{what}: max abs error {ab:.3g} > {atol:g}"
    if relative:
        assert rel <= RTOL, f"{what}: max rel error {rel:.3g} > {RTOL:g}"


def abf_errors(case: str) -> dict[str, float]:
    args = ABF_CASES[case]
    inp, exp = _load(case, "inputs.json"), _load(case, "expected.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = coloc_abf(inp["dataset1"], inp["dataset2"], **args)
    s = exp["summary"]
    pp_got = res.pp
    pp_want = np.array([s[f"{c}.abf"] for c in PP_COLUMNS])
    want = pd.DataFrame(exp["results"]).set_index("snp")
    got = res.results.set_index("snp")
    assert sorted(got.index) == sorted(want.index)
    got = got.loc[want.index]
    out = {"nsnps_ok": float(res.summary["nsnps"] == s["nsnps"])}
    out["pp_abs"], out["pp_rel"] = _err(pp_got, pp_want)
    cols = ["lABF.df1", "lABF.df2", "internal.sum.lABF"]
    out["labf_abs"] = max(_err(got[c].to_numpy(), want[c].to_numpy())[0] for c in cols)
    out["snp_pp_abs"], out["snp_pp_rel"] = _err(got["SNP.PP.H4"].to_numpy(), want["SNP.PP.H4"].to_numpy())
    return out


@pytest.mark.parametrize("case", list(ABF_CASES))
def test_coloc_abf_oracle(case: str) -> None:
    inp, exp = _load(case, "inputs.json"), _load(case, "expected.json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = coloc_abf(inp["dataset1"], inp["dataset2"], **ABF_CASES[case])
    s = exp["summary"]
    assert res.summary["nsnps"] == s["nsnps"]
    assert res.priors == pytest.approx(exp["priors"], rel=1e-15)
    _assert_close(res.pp, [s[f"{c}.abf"] for c in PP_COLUMNS], f"{case} PP")
    want = pd.DataFrame(exp["results"]).set_index("snp")
    got = res.results.set_index("snp")
    assert set(got.index) == set(want.index)
    got = got.loc[want.index]
    # every intermediate column coloc reports (V, z, r, lABF per dataset, p-value path extras)
    for c in want.columns:
        if c in ("position",) or want[c].dtype == object:
            continue
        _assert_close(got[c].to_numpy(), want[c].to_numpy(), f"{case} {c}", relative=c.startswith("SNP.PP"))
    if "position" in want.columns:
        np.testing.assert_array_equal(got["position"].to_numpy(), want["position"].to_numpy())
    if case == "coloc_02_abf_quant_est_sdY":
        ex = exp["extra"]
        assert res.sdY["1"] == pytest.approx(ex["sdY_est_dataset1"], rel=1e-12)
        assert res.sdY["2"] == pytest.approx(ex["sdY_est_dataset2"], rel=1e-12)
        assert sum("estimating sdY" in str(w.message) for w in caught) == 2  # coloc warns once per dataset


def finemap_errors() -> dict[str, float]:
    case = "coloc_07_finemap_abf"
    inp, exp = _load(case, "inputs.json"), _load(case, "expected.json")
    res = finemap_abf(inp["dataset"], p1=1e-4)
    want = exp["results"]
    lab_w = np.array([np.nan if v is None else v for v in want["lABF."]], dtype=np.float64)
    out = {"labf_abs": float(np.nanmax(np.abs(res["lABF"].to_numpy() - lab_w)))}
    out["snp_pp_abs"], out["snp_pp_rel"] = _err(res["SNP.PP"].to_numpy(), want["SNP.PP"])
    return out


def test_finemap_abf_oracle() -> None:
    case = "coloc_07_finemap_abf"
    inp, exp = _load(case, "inputs.json"), _load(case, "expected.json")
    res = finemap_abf(inp["dataset"], p1=1e-4)
    want = exp["results"]
    assert list(res["snp"]) == want["snp"]  # input order, final row "null"
    assert res["snp"].iloc[-1] == "null" and res["lABF"].iloc[-1] == 0.0
    assert np.isnan(res[["V", "z", "r"]].iloc[-1].to_numpy(dtype=float)).all()
    _assert_close(res["prior"].to_numpy(), want["prior"], "prior")
    for got_c, want_c in (("V", "V."), ("z", "z."), ("r", "r."), ("lABF", "lABF.")):
        w = np.array([np.nan if v is None else v for v in want[want_c]], dtype=np.float64)
        g = res[got_c].to_numpy(dtype=np.float64)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        _assert_close(g[~np.isnan(w)], w[~np.isnan(w)], got_c, relative=False)
    _assert_close(res["SNP.PP"].to_numpy(), want["SNP.PP"], "SNP.PP")
    assert res["SNP.PP"].sum() == pytest.approx(1.0, abs=1e-12)


# -- coloc-SuSiE ------------------------------------------------------------------------------------


def _stored_fit(f: dict[str, Any]) -> SimpleNamespace:
    sets = [SimpleNamespace(effect=k - 1) for k in f["cs_index"]]  # cs_index is 1-based, in susieR's set order
    return SimpleNamespace(lbf_variable=np.array(f["lbf_variable"], dtype=np.float64), sets=sets, null_index=None)


def _expected_summary(exp: dict[str, Any]) -> pd.DataFrame:
    s = pd.DataFrame(exp["summary"])
    s = s.rename(columns={f"{c}.abf": c for c in PP_COLUMNS})
    s["idx1"] -= 1  # coloc reports 1-based SuSiE effects
    s["idx2"] -= 1
    return s


def _compare_susie(res: Any, exp: dict[str, Any], atol: float, what: str) -> dict[str, float]:
    want = _expected_summary(exp)
    got = res.summary
    assert len(got) == len(want), what
    for c in ("nsnps", "hit1", "hit2", "idx1", "idx2"):
        assert list(got[c]) == list(want[c]), f"{what}: {c}"
    pp_abs, pp_rel = _err(got[list(PP_COLUMNS)].to_numpy(), want[list(PP_COLUMNS)].to_numpy())
    assert pp_abs <= atol, f"{what}: PP max abs error {pp_abs:.3g}"
    wr = pd.DataFrame(exp["results"])
    assert list(res.results["snp"]) == list(wr["snp"])
    cols = [f"SNP.PP.H4.row{k + 1}" for k in range(len(want))]
    assert list(res.results.columns[1:]) == cols
    snp_abs, snp_rel = _err(res.results[cols].to_numpy(), wr[cols].to_numpy())
    assert snp_abs <= atol, f"{what}: SNP.PP.H4 max abs error {snp_abs:.3g}"
    return {"pp_abs": pp_abs, "pp_rel": pp_rel, "snp_pp_abs": snp_abs, "snp_pp_rel": snp_rel}


@lru_cache(maxsize=None)
def _refit(case: str, which: str) -> Any:
    """runsusie equivalent on the case's data: beta/varbeta recomputed from N3w_X and the phenotype."""
    X = _tsv(EXP / "_inputs" / "N3w_X.tsv.gz")
    R = _tsv(EXP / "_inputs" / "N3w_R.tsv.gz")
    y = _tsv(EXP / case / f"y{which}.tsv.gz").ravel()
    # susieR::univariate_regression: per-column OLS with intercept
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    xtx = np.einsum("ij,ij->j", Xc, Xc)
    beta = Xc.T @ yc / xtx
    rss = np.einsum("ij,ij->j", yc[:, None] - Xc * beta, yc[:, None] - Xc * beta)
    varbeta = rss / (y.size - 2) / xtx
    stored = _load(case, "inputs.json")[f"dataset{which}"]
    np.testing.assert_allclose(beta, stored["beta"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(varbeta, stored["varbeta"], rtol=1e-10)
    return run_susie(beta / np.sqrt(varbeta), R, float(stored["N"]), L=10, max_iter=100)


def susie_errors(case: str, refit: bool) -> dict[str, float]:
    inp, exp = _load(case, "inputs.json"), _load(case, "expected.json")
    if refit:
        f1, f2 = _refit(case, "1"), _refit(case, "2")
    else:
        f1, f2 = _stored_fit(exp["fit1"]), _stored_fit(exp["fit2"])
    res = coloc_susie(f1, f2, inp["dataset1"]["snp"], inp["dataset2"]["snp"])
    if exp["summary"]["nsnps"] == [None]:
        return {"empty_ok": float(res.empty and res.reason != "")}
    return _compare_susie(res, exp, REFIT_ATOL if refit else ATOL, case)


def test_coloc_susie_replay_two_cs() -> None:
    case = "coloc_08_susie_two_cs"
    inp, exp = _load(case, "inputs.json"), _load(case, "expected.json")
    res = coloc_susie(_stored_fit(exp["fit1"]), _stored_fit(exp["fit2"]), inp["dataset1"]["snp"],
                      inp["dataset2"]["snp"])
    assert res.reason == "" and len(res.summary) == 9
    assert res.priors == {"p1": 1e-4, "p2": 1e-4, "p12": 5e-6}
    _compare_susie(res, exp, ATOL, case)
    # relative check on the small PPs (log scale), beyond the absolute bound
    want = _expected_summary(exp)
    _assert_close(res.summary[list(PP_COLUMNS)].to_numpy(), want[list(PP_COLUMNS)].to_numpy(), "PP")


def test_coloc_bf_bf_replay_order() -> None:
    """coloc.bf_bf on the stored rows keeps the row numbers (1..K) that coloc.susie renumbers to effects."""
    from twasflow.coloc import coloc_bf_bf

    case = "coloc_08_susie_two_cs"
    inp, exp = _load(case, "inputs.json"), _load(case, "expected.json")
    f1, f2 = exp["fit1"], exp["fit2"]
    bf1 = np.array(f1["lbf_variable"])[np.array(f1["cs_index"]) - 1]
    bf2 = np.array(f2["lbf_variable"])[np.array(f2["cs_index"]) - 1]
    res = coloc_bf_bf(bf1, bf2, inp["dataset1"]["snp"], inp["dataset2"]["snp"])
    want = pd.DataFrame(exp["coloc_bf_bf_replay_summary"])
    assert list(res.summary["idx1"] + 1) == list(want["idx1"])
    assert list(res.summary["idx2"] + 1) == list(want["idx2"])
    assert list(res.summary["hit1"]) == list(want["hit1"])
    _assert_close(res.summary[list(PP_COLUMNS)].to_numpy(), want[[f"{c}.abf" for c in PP_COLUMNS]].to_numpy(),
                  "bf_bf PP")


def test_coloc_susie_replay_no_cs() -> None:
    case = "coloc_09_susie_no_cs"
    inp, exp = _load(case, "inputs.json"), _load(case, "expected.json")
    assert exp["summary"]["nsnps"] == [None]  # coloc: data.table(nsnps=NA)
    res = coloc_susie(_stored_fit(exp["fit1"]), _stored_fit(exp["fit2"]), inp["dataset1"]["snp"],
                      inp["dataset2"]["snp"])
    assert res.empty and res.reason == "no credible set in fit 2"
    assert list(res.summary.columns) == ["nsnps", "hit1", "hit2", *PP_COLUMNS, "idx1", "idx2"]
    assert not res.summary.isna().any().any()


def test_coloc_susie_refit_two_cs() -> None:
    case = "coloc_08_susie_two_cs"
    exp = _load(case, "expected.json")
    f1, f2 = _refit(case, "1"), _refit(case, "2")
    assert f1.converged and f2.converged
    # same credible sets in the same (susieR) order as the stored fits
    for fit, stored in ((f1, exp["fit1"]), (f2, exp["fit2"])):
        assert [s.effect + 1 for s in fit.sets] == stored["cs_index"]
        assert [sorted(s.variables + 1) for s in fit.sets] == stored["cs_1based"]
    errs = susie_errors(case, refit=True)
    assert errs["pp_abs"] <= REFIT_ATOL


def test_coloc_susie_refit_no_cs() -> None:
    case = "coloc_09_susie_no_cs"
    inp = _load(case, "inputs.json")
    f1, f2 = _refit(case, "1"), _refit(case, "2")
    assert len(f1.sets) == 3 and len(f2.sets) == 0
    res = coloc_susie(f1, f2, inp["dataset1"]["snp"], inp["dataset2"]["snp"])
    assert res.empty and res.reason == "no credible set in fit 2"


def main() -> None:
    rows = []
    for case in ABF_CASES:
        rows.append((case, "coloc_abf", abf_errors(case)))
    rows.append(("coloc_07_finemap_abf", "finemap_abf", finemap_errors()))
    for case in SUSIE_CASES:
        rows.append((case, "coloc_susie (stored fits)", susie_errors(case, refit=False)))
        rows.append((case, "coloc_susie (refit twasflow.susie)", susie_errors(case, refit=True)))
    print("| case | function | max abs err PP | max rel err PP | max abs err lABF | max abs err SNP.PP | "
          "max rel err SNP.PP |")
    print("|---|---|---|---|---|---|---|")
    for case, fun, e in rows:
        def f(k: str) -> str:
            return f"{e[k]:.1e}" if k in e else "–"
        note = " (empty, reason set)" if "empty_ok" in e else ""
        print(f"| {case} | {fun}{note} | {f('pp_abs')} | {f('pp_rel')} | {f('labf_abs')} | {f('snp_pp_abs')} | "
              f"{f('snp_pp_rel')} |")


if __name__ == "__main__":
    main()
