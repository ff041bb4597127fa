"""twasflow.coloc: bad input, invariants, coloc-SuSiE pairing/trimming, sensitivity and coloc_locus."""

from __future__ import annotations

import itertools
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import block_diag

from twasflow.coloc import (
    OUTPUT_COLUMNS,
    PP_COLUMNS,
    ColocError,
    coloc_abf,
    coloc_bf_bf,
    coloc_locus,
    coloc_susie,
    colocalized,
    finemap_abf,
    parse_rule,
    sensitivity,
)
from twasflow.errors import InputError


def _ds(m: int = 30, seed: int = 0, causal: int | None = 5, shift: float = 6.0, prefix: str = "s") -> dict:
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.05, 0.1, m)
    z = rng.normal(size=m)
    if causal is not None:
        z[causal] += shift
    return {"beta": z * se, "varbeta": se**2, "snp": [f"{prefix}{i}" for i in range(m)],
            "position": np.arange(1, m + 1), "type": "quant", "sdY": 1.0, "N": 1000}


# -- bad input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("varbeta"), "dataset 1: column 'varbeta': 'beta' given without 'varbeta'"),
        (lambda d: d.pop("beta"), "dataset 1: column 'beta': 'varbeta' given without 'beta'"),
        (lambda d: d.update(beta=np.full(30, np.nan)), "dataset 1: column 'beta', row 1: is all missing "
                                                      "(found 30 of 30 values missing or non-finite"),
        (lambda d: d["varbeta"].__setitem__(3, np.nan), "dataset 1: column 'varbeta', row 4: contains missing or "
                                                        "non-finite values (found 1 of 30"),
        (lambda d: d.update(varbeta=d["varbeta"][:29]), "dataset 1: lengths of per-variant items do not match "
                                                        "(found snp: 30, beta: 30, varbeta: 29"),
        (lambda d: d.update(type="binary"), "dataset 1: column 'type': unknown trait type (found 'binary'; "
                                            "expected 'quant' or 'cc')"),
        (lambda d: d.pop("type"), "dataset 1: column 'type': missing required item 'type'"),
        (lambda d: d.pop("snp"), "dataset 1: column 'snp': missing required item 'snp'"),
        (lambda d: d["snp"].__setitem__(7, "s0"), "dataset 1: column 'snp', row 8: duplicated snp names"),
        (lambda d: d.update(MAF=np.r_[0.0, np.full(29, 0.2)]), "dataset 1: column 'MAF', row 1: MAF out of range"),
        (lambda d: d.update(varbeta=-d["varbeta"]), "dataset 1: column 'varbeta', row 1: varbeta must be positive"),
        (lambda d: d.pop("sdY"), "dataset 1: quantitative trait without sdY"),
        (lambda d: d.update(sdY=-1.0), "dataset 1: column 'sdY': trait sd must be positive"),
        (lambda d: d.update(N=0), "dataset 1: column 'N': sample size must be positive"),
        (lambda d: d.update(beta=["a"] * 30), "dataset 1: column 'beta': holds non-numeric values"),
    ],
)
def test_bad_dataset_messages(edit, message) -> None:
    d1, d2 = _ds(), _ds(seed=1)
    edit(d1)
    with pytest.raises(ColocError) as e:
        coloc_abf(d1, d2)
    assert isinstance(e.value, InputError)
    assert str(e.value).startswith(message), str(e.value)


def test_bad_pvalue_datasets() -> None:
    base = {"pvalues": np.full(10, 0.01), "MAF": np.full(10, 0.2), "N": 500, "snp": [f"s{i}" for i in range(10)]}
    good = {**base, "type": "quant"}
    with pytest.raises(ColocError, match=r"dataset 2: column 's': case-control p-values need the case fraction"):
        coloc_abf(good, {**base, "type": "cc"})
    with pytest.raises(ColocError, match=r"dataset 2: not enough items .* \(found missing N; expected beta"):
        coloc_abf(good, {k: v for k, v in good.items() if k != "N"})
    with pytest.raises(ColocError, match=r"dataset 2: column 'pvalues', row 1: p-value out of range \(found 0"):
        coloc_abf(good, {**good, "pvalues": np.r_[0.0, np.full(9, 0.5)]})
    with pytest.raises(ColocError, match=r"dataset 2: column 's': case fraction out of range \(found 1"):
        coloc_abf(good, {**good, "type": "cc", "s": 1.0})
    with pytest.raises(ColocError, match=r"dataset 1: column 'N': length of N does not match"):
        coloc_abf({**good, "N": [1, 2, 3]}, good)


def test_non_overlapping_variants() -> None:
    with pytest.raises(ColocError, match=r"dataset 1 and dataset 2 share no variant names \(dataset 1: 30 "
                                         r"variants, e.g. 's0'; dataset 2: 30 variants, e.g. 'x0'\)"):
        coloc_abf(_ds(), _ds(prefix="x"))


def test_position_disagreement_and_priors() -> None:
    d2 = _ds(seed=1)
    d2["position"] = d2["position"] + 1
    with pytest.raises(ColocError, match=r"disagree on the position of 30 shared variant\(s\), e.g. 's0'"):
        coloc_abf(_ds(), d2)
    with pytest.raises(ColocError, match=r"prior p12 out of range \(found 2.0"):
        coloc_abf(_ds(), _ds(seed=1), p12=2.0)
    with pytest.raises(ColocError, match=r"dataset 1: is not a dict or a DataFrame"):
        coloc_abf([1, 2], _ds())


# -- coloc-ABF invariants --------------------------------------------------------------------------------------


def _brute_force_pp(l1: np.ndarray, l2: np.ndarray, p1: float, p2: float, p12: float) -> np.ndarray:
    """Enumerate every configuration (no causal, one per trait, distinct pair, shared) explicitly."""
    e1, e2 = np.exp(l1), np.exp(l2)
    h = [1.0, p1 * e1.sum(), p2 * e2.sum(),
         p1 * p2 * sum(e1[i] * e2[j] for i, j in itertools.permutations(range(l1.size), 2)),
         p12 * (e1 * e2).sum()]
    return np.array(h) / sum(h)


def test_abf_matches_enumeration_and_is_symmetric() -> None:
    d1, d2 = _ds(m=12, seed=3, shift=3.0), _ds(m=12, seed=4, causal=8, shift=3.0)
    res = coloc_abf(d1, d2, p1=1e-3, p2=2e-3, p12=1e-4)
    r = res.results
    want = _brute_force_pp(r["lABF.df1"].to_numpy(), r["lABF.df2"].to_numpy(), 1e-3, 2e-3, 1e-4)
    np.testing.assert_allclose(res.pp, want, rtol=1e-10, atol=1e-14)
    assert res.pp.sum() == pytest.approx(1.0, abs=1e-14)
    swapped = coloc_abf(d2, d1, p1=2e-3, p2=1e-3, p12=1e-4)
    np.testing.assert_allclose(swapped.pp[[0, 2, 1, 3, 4]], res.pp, rtol=1e-12, atol=1e-15)
    assert r["SNP.PP.H4"].sum() == pytest.approx(1.0, abs=1e-12)


def test_abf_dataframe_input_and_order() -> None:
    d1, d2 = _ds(seed=5), _ds(seed=6)
    a = coloc_abf(d1, d2)
    df1 = pd.DataFrame({k: v for k, v in d1.items()})  # scalars broadcast to columns
    rev = {k: (v[::-1] if isinstance(v, (list, np.ndarray)) else v) for k, v in d2.items()}
    b = coloc_abf(df1, rev)
    assert a.summary == pytest.approx(b.summary, rel=1e-12)
    assert list(b.results["snp"]) == d1["snp"]  # dataset 1's order
    with pytest.raises(ColocError, match=r"dataset 1: column 'sdY': a per-dataset item varies between rows"):
        coloc_abf(df1.assign(sdY=np.linspace(1, 2, 30)), d2)


def test_abf_shared_and_distinct_signals() -> None:
    shared = coloc_abf(_ds(seed=1, causal=5, shift=8), _ds(seed=2, causal=5, shift=8))
    assert shared.summary["PP.H4"] > 0.99
    assert shared.results["snp"].iloc[int(np.argmax(shared.results["SNP.PP.H4"]))] == "s5"
    distinct = coloc_abf(_ds(seed=1, causal=5, shift=8), _ds(seed=2, causal=20, shift=8))
    assert distinct.summary["PP.H3"] > 0.99
    only1 = coloc_abf(_ds(seed=1, causal=5, shift=8), _ds(seed=2, causal=None))
    assert only1.summary["PP.H1"] > 0.9


def test_adjust_prior_for_large_regions() -> None:
    with pytest.warns(UserWarning, match=r"p1 \* nsnps >= 1"):
        res = coloc_abf(_ds(), _ds(seed=1), p1=0.05)
    assert res.priors["p1"] == pytest.approx(1 / 31)


def test_finemap_abf_null_row() -> None:
    fm = finemap_abf(_ds(seed=2, causal=7, shift=9))
    assert len(fm) == 31 and fm["snp"].iloc[-1] == "null"
    assert fm["prior"].iloc[-1] == pytest.approx(1 - 30 * 1e-4)
    assert fm["SNP.PP"].sum() == pytest.approx(1.0, abs=1e-12)
    assert fm["snp"].iloc[int(np.argmax(fm["SNP.PP"]))] == "s7"
    null = finemap_abf(_ds(seed=2, causal=None))
    assert null["SNP.PP"].iloc[-1] > 0.9


# -- coloc-SuSiE / bf_bf ---------------------------------------------------------------------------------------


def _fit(lbf: np.ndarray, effects: list[int], null_index: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(lbf_variable=np.asarray(lbf, dtype=float), sets=[SimpleNamespace(effect=e) for e in effects],
                           null_index=null_index)


def _lbf_rows(m: int, peaks: list[int], height: float = 15.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = rng.normal(0, 0.3, (len(peaks), m))
    for k, p in enumerate(peaks):
        out[k, p] += height
    return out


def test_coloc_susie_pairing_order_and_idx() -> None:
    snps = [f"v{i}" for i in range(40)]
    lbf1 = _lbf_rows(40, [3, 10, 25], seed=1)  # effects 0, 1, 2
    lbf2 = _lbf_rows(40, [25, 10], seed=2)
    res = coloc_susie(_fit(lbf1, [2, 0]), _fit(lbf2, [1, 0]), snps, snps)
    s = res.summary
    # trait-1 sets vary fastest; idx are the SuSiE effects of each set
    assert list(zip(s["idx1"], s["idx2"])) == [(2, 1), (0, 1), (2, 0), (0, 0)]
    assert list(s["hit1"]) == ["v25", "v3", "v25", "v3"] and list(s["hit2"]) == ["v10", "v10", "v25", "v25"]
    assert s.loc[2, "PP.H4"] > 0.99 and s.loc[0, "PP.H3"] > 0.99
    assert list(res.results.columns) == ["snp", "SNP.PP.H4.row1", "SNP.PP.H4.row2", "SNP.PP.H4.row3",
                                         "SNP.PP.H4.row4"]
    np.testing.assert_allclose(res.results.iloc[:, 1:].sum(axis=0), 1.0, atol=1e-12)
    assert res.best()["hit1"] == "v25"


def test_coloc_susie_no_credible_sets() -> None:
    lbf = _lbf_rows(10, [2])
    for f1, f2, reason in ((_fit(lbf, []), _fit(lbf, [0]), "no credible set in fit 1"),
                           (_fit(lbf, [0]), _fit(lbf, []), "no credible set in fit 2"),
                           (_fit(lbf, []), _fit(lbf, []), "no credible set in fit 1 and fit 2")):
        res = coloc_susie(f1, f2)
        assert res.empty and res.reason == reason and res.best() is None
        assert list(res.summary.columns) == ["nsnps", "hit1", "hit2", *PP_COLUMNS, "idx1", "idx2"]


def test_coloc_bf_bf_trimming() -> None:
    snps1 = [f"v{i}" for i in range(30)]
    snps2 = [f"v{i}" for i in range(10, 40)]  # shares v10..v29
    bf1 = _lbf_rows(30, [15, 2], seed=3)  # signal 2 sits on v2, not shared
    bf2 = _lbf_rows(30, [5], seed=4)  # v15
    res = coloc_bf_bf(bf1, bf2, snps1, snps2)
    assert list(res.summary["idx1"]) == [0] and res.summary["nsnps"].iloc[0] == 20
    assert res.summary["PP.H4"].iloc[0] > 0.99 and res.summary["hit1"].iloc[0] == "v15"
    assert list(res.dropped["idx1"]) == [1] and res.dropped["prop1"].iloc[0] < 1e-3
    assert list(res.results["snp"]) == snps1[10:]
    kept = coloc_bf_bf(bf1, bf2, snps1, snps2, trim_by_posterior=False)
    assert len(kept.summary) == 2
    with pytest.warns(UserWarning, match="overlap too small"):
        none = coloc_bf_bf(bf1[1:], bf2, snps1, snps2)
    assert none.empty and none.reason.startswith("overlap too small") and len(none.dropped) == 1


def test_coloc_bf_bf_null_column_and_vector() -> None:
    snps = [f"v{i}" for i in range(20)]
    bf1, bf2 = _lbf_rows(20, [4], seed=5)[0], _lbf_rows(20, [4], seed=6)[0]
    a = coloc_bf_bf(bf1, bf2, snps, snps)
    b = coloc_bf_bf(np.r_[bf1 + 3.0, 3.0], np.r_[bf2 - 1.0, -1.0], snps + ["null"], snps + ["null"])
    np.testing.assert_allclose(b.summary[list(PP_COLUMNS)].to_numpy(), a.summary[list(PP_COLUMNS)].to_numpy(),
                               rtol=1e-12)
    fit = _fit(np.c_[_lbf_rows(20, [4], seed=5) + 2.0, [[2.0]]], [0], null_index=20)
    c = coloc_susie(fit, _fit(bf2[None, :], [0]), snps, snps)
    np.testing.assert_allclose(c.summary[list(PP_COLUMNS)].to_numpy(), a.summary[list(PP_COLUMNS)].to_numpy(),
                               rtol=1e-12)


def test_coloc_susie_bad_input() -> None:
    lbf = _lbf_rows(10, [2])
    with pytest.raises(ColocError, match=r"fit1 is not a SuSiE fit \(found dict"):
        coloc_susie({"lbf_variable": lbf}, _fit(lbf, [0]))
    with pytest.raises(ColocError, match=r"snps2 does not match the columns of bf2 \(found 9 names for 10"):
        coloc_susie(_fit(lbf, [0]), _fit(lbf, [0]), [f"v{i}" for i in range(10)], [f"v{i}" for i in range(9)])
    with pytest.raises(ColocError, match=r"share no variant names"):
        coloc_susie(_fit(lbf, [0]), _fit(lbf, [0]), [f"a{i}" for i in range(10)], [f"b{i}" for i in range(10)])
    bad = lbf.copy()
    bad[0, 3] = np.nan
    with pytest.raises(ColocError, match=r"bf1 contains missing values: row 1: .*column '3'|row 1: bf1 contains"):
        coloc_bf_bf(bad, lbf)


# -- sensitivity -----------------------------------------------------------------------------------------------


def test_sensitivity_table_and_formula() -> None:
    d1, d2 = _ds(seed=1, causal=5, shift=5), _ds(seed=2, causal=5, shift=5)
    res = coloc_abf(d1, d2)
    t = sensitivity(res, "H4 > 0.5", npoints=25)
    assert len(t) == 25 and t["p12"].iloc[0] == pytest.approx(1e-8) and t["p12"].iloc[-1] == pytest.approx(1e-4)
    np.testing.assert_allclose(t[list(PP_COLUMNS)].sum(axis=1), 1.0, atol=1e-12)
    assert np.all(np.diff(t["PP.H4"]) > 0)  # H4 grows with p12
    np.testing.assert_array_equal(t["pass"], t["PP.H4"] > 0.5)
    # coloc's prior.adjust: the H1..H4 odds equal a rerun of coloc.abf at the new p12; only H0 is weighted by
    # the ratio of H0 hypothesis priors (1 - n(p1 + p2 + (n-1) p1 p2 + p12)) at the new and the old p12
    n = res.summary["nsnps"]
    for k in (0, 12, 24):
        p12 = t["p12"].iloc[k]
        rerun = coloc_abf(d1, d2, p12=p12).pp
        h0 = lambda q: 1 - n * (1e-4 + 1e-4 + (n - 1) * 1e-8 + q)  # noqa: E731
        u = rerun.copy()
        u[0] *= h0(p12) / h0(1e-5)
        np.testing.assert_allclose(t.loc[k, list(PP_COLUMNS)].to_numpy(dtype=float), u / u.sum(), rtol=1e-10)
    assert t.attrs["pass_at_p12"] == bool(res.summary["PP.H4"] > 0.5)


def test_sensitivity_rules_and_plot(tmp_path) -> None:
    from twasflow.plots import coloc_sensitivity_plot

    snps = [f"v{i}" for i in range(20)]
    res = coloc_bf_bf(_lbf_rows(20, [4, 9], seed=1), _lbf_rows(20, [4], seed=2), snps, snps)
    t = sensitivity(res, "H4 > 0.9 & H4/H3 > 3", row=0, npoints=10)
    coloc_sensitivity_plot(t, tmp_path / "sens.png")
    np.testing.assert_array_equal(t["pass"], (t["PP.H4"] > 0.9) & (t["PP.H4"] / t["PP.H3"] > 3))
    png, svg = tmp_path / "sens.png", tmp_path / "sens.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"<svg" in svg.read_bytes()[:500]
    first = svg.read_bytes()
    coloc_sensitivity_plot(sensitivity(res, "H4 > 0.9 & H4/H3 > 3", row=0, npoints=10), tmp_path / "sens")
    assert svg.read_bytes() == first  # deterministic SVG (no date, fixed hash salt)
    t2 = sensitivity(res, lambda tab: tab["PP.H4"] > 0.5, row=1, npoints=5)
    assert t2["pass"].dtype == bool
    for bad in ("H5 > 0.5", "H4 >> 1", ""):
        with pytest.raises(ColocError, match="rule"):
            parse_rule(bad)
    with pytest.raises(ColocError, match=r"row out of range \(found 7; expected 0..1\)"):
        sensitivity(res, row=7)
    with pytest.raises(ColocError, match="no colocalisation rows"):
        sensitivity(coloc_susie(_fit(_lbf_rows(5, [1]), []), _fit(_lbf_rows(5, [1]), [0])))


# -- coloc_locus -----------------------------------------------------------------------------------------------


def _locus(seed: int = 7, m_block: int = 20, rho: float = 0.92):
    """Three independent LD blocks with AR(1) correlation; z ~ N(R b, R)."""
    idx = np.arange(m_block)
    block = rho ** np.abs(idx[:, None] - idx[None, :])
    R = block_diag(block, block, block)
    C = np.linalg.cholesky(R)
    rng = np.random.default_rng(seed)

    def z(effects: dict[int, float]) -> np.ndarray:
        b = np.zeros(R.shape[0])
        for j, v in effects.items():
            b[j] = v
        return R @ b + C @ rng.normal(size=R.shape[0])

    return R, z


def test_coloc_locus_shared_and_distinct() -> None:
    R, z = _locus()
    M = R.shape[0]
    vids = [f"1:{1000 + i}:A:G" for i in range(M)]
    gz = z({10: 10.0, 45: 9.0})  # GWAS: causal in block 1 (v10) and block 3 (v45)
    xz = np.column_stack([
        z({10: 12.0}),  # pair A: shares v10
        z({45: 11.0}),  # pair B: shares v45
        z({}),  # pair C: no xQTL signal
        np.full(M, np.nan),  # pair D: not tested at any variant
    ])
    xz[:5, 0] = np.nan  # untested variants are simply left out
    out = coloc_locus(gz, 50_000, R, xz, [500, 600, 700, 800], ["A", "B", "C", "D"], vids, {"p12": 5e-6})
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    a, b, c, d = (out.iloc[k] for k in range(4))
    # A: coloc-SuSiE pairs the GWAS set at v10 with the xQTL set at v10 -> H4
    assert a["reason"] == "" and a["PP.H4"] > 0.9 and a["colocalized"]
    assert a["susie_hit1"] == a["susie_hit2"] and int(a["susie_hit1"].split(":")[1]) - 1000 in range(8, 13)
    # B: the best pair is the shared v45 signal (H4); single-variant ABF sees the stronger GWAS v10 signal and
    # the xQTL v45 signal as distinct (H3)
    assert b["PP.H4"] > 0.9 and b["abf_PP.H3"] > 0.9 and b["colocalized"]
    assert c["reason"] == "no credible set in fit 2 (xQTL)" and np.isnan(c["PP.H4"])
    assert c["abf_PP.H1"] > 0.9 and not c["colocalized"]
    assert d["reason"] == "no shared variants" and d["nsnps"] == 0 and not d["colocalized"]
    for col in [*PP_COLUMNS]:
        assert np.isfinite(a[col]) and np.isfinite(b[col])
    np.testing.assert_allclose(out.loc[:2, [f"abf_{c}" for c in PP_COLUMNS]].sum(axis=1), 1.0, atol=1e-12)


def test_coloc_locus_distinct_causal_low_ld() -> None:
    """GWAS causal in block 1, xQTL causal in block 2 (r = 0). The xQTL causal variant must be among the analysed
    variants, so the GWAS p threshold is opened (gwas_p = 1; pruning at r2 < 0.81 still applies)."""
    R, z = _locus(seed=11)
    M = R.shape[0]
    vids = [f"v{i}" for i in range(M)]
    gz = z({8: 10.0})
    xz = z({30: 12.0})[:, None]
    out = coloc_locus(gz, 50_000, R, xz, [500], ["P"], vids, {"gwas_p": 1.0, "prune_r2": 0.81})
    r = out.iloc[0]
    assert r["reason"] == "" and r["PP.H3"] > 0.9 and r["abf_PP.H3"] > 0.9 and not r["colocalized"]
    assert r["nsnps"] < M  # pruning removed variants in r2 >= 0.81 with a better one
    # with the default threshold, only GWAS-significant block-1 variants remain and the xQTL has no signal there
    default = coloc_locus(gz, 50_000, R, xz, [500], ["P"], vids).iloc[0]
    assert default["reason"] == "no credible set in fit 2 (xQTL)" and default["abf_PP.H1"] > 0.9


def test_coloc_locus_no_gwas_signal_and_bad_input() -> None:
    R, z = _locus(seed=3)
    M = R.shape[0]
    vids = [f"v{i}" for i in range(M)]
    out = coloc_locus(z({}), 1000, R, z({5: 10.0})[:, None], [500], ["P"], vids)
    assert out["reason"].iloc[0] == "no GWAS variant with p < 5e-05" and not out["colocalized"].iloc[0]
    xz = np.zeros((M, 2))
    with pytest.raises(ColocError, match=r"column 'R': wrong shape \(found \(59, 59\); expected \(60, 60\)\)"):
        coloc_locus(z({}), 1000, R[:-1, :-1], xz, [1, 1], ["a", "b"], vids)
    with pytest.raises(ColocError, match=r"column 'xqtl_n': wrong shape"):
        coloc_locus(z({}), 1000, R, xz, [1], ["a", "b"], vids)
    with pytest.raises(ColocError, match=r"column 'gwas_p2': unknown coloc config key"):
        coloc_locus(z({}), 1000, R, xz, [1, 1], ["a", "b"], vids, {"gwas_p2": 1})
    with pytest.raises(ColocError, match=r"column 'xqtl_n', row 2: xQTL sample size must be positive"):
        coloc_locus(z({}), 1000, R, xz, [1, 0], ["a", "b"], vids)
    gz = z({})
    gz[4] = np.nan
    with pytest.raises(ColocError, match=r"column 'gwas_z', row 5: GWAS z must be finite"):
        coloc_locus(gz, 1000, R, xz, [1, 1], ["a", "b"], vids)


def test_coloc_locus_permutation_invariant() -> None:
    R, z = _locus(seed=5)
    M = R.shape[0]
    vids = np.array([f"v{i}" for i in range(M)])
    gz = z({12: 9.0})
    xz = np.column_stack([z({12: 10.0}), z({50: 10.0})])
    base = coloc_locus(gz, 20_000, R, xz, [400, 400], ["A", "B"], vids)
    perm = np.random.default_rng(0).permutation(M)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = coloc_locus(gz[perm], 20_000, R[np.ix_(perm, perm)], xz[perm], [400, 400], ["A", "B"], vids[perm])
    cols = [*PP_COLUMNS, *[f"abf_{c}" for c in PP_COLUMNS]]
    np.testing.assert_allclose(other[cols].to_numpy(dtype=float), base[cols].to_numpy(dtype=float), atol=1e-6)
    assert list(other["susie_hit1"]) == list(base["susie_hit1"])


def test_colocalized_rule() -> None:
    assert colocalized(0.8, 0.1, 0.5) and not colocalized(0.3, 0.99, 0.5)  # SuSiE decides when it has a pair
    assert colocalized(np.nan, 0.7, 0.5) and not colocalized(np.nan, 0.4, 0.5)  # ABF only as the fallback
    assert not colocalized(np.nan, np.nan, 0.5) and not colocalized(0.5, np.nan, 0.5)  # strict ">"


@pytest.mark.parametrize("seed", [7, 21])
def test_coloc_locus_batched_xqtl_fits_match_one_at_a_time(seed, monkeypatch) -> None:
    """The xQTL fits batched through ``weights.fit_pairs`` give the same table as one ``susie_rss`` per pair
    (the path before batching, still taken by pairs that fail or do not converge): identical ABF columns,
    credible-set hits and reasons; coloc-SuSiE PPs within 1e-7 (the two prior-variance searches stop at
    ~1e-10 and ~1e-8 in log V)."""
    import twasflow.coloc.locus as cl

    R, z = _locus(seed=seed)
    M = R.shape[0]
    vids = [f"v{i}" for i in range(M)]
    gz = z({10: 9.0, 45: 8.0})
    xz = np.column_stack([z({10: 11.0}), z({45: 10.0}), z({}), z({11: 7.0, 30: 9.0}), z({46: 6.0})])
    xz[:4, 0] = np.nan
    xz[40:, 4] = np.nan
    xn = [500, 600, 700, 300, 150]
    cfg = {"gwas_p": 1e-3}
    batched = coloc_locus(gz, 50_000, R, xz, xn, list("ABCDE"), vids, cfg)
    monkeypatch.setattr(cl, "_xqtl_fits", lambda *a, **k: None)
    single = coloc_locus(gz, 50_000, R, xz, xn, list("ABCDE"), vids, cfg)
    exact = ["pair_id", "nsnps", "susie_hit1", "susie_hit2", "colocalized", "reason",
             *[f"abf_{c}" for c in PP_COLUMNS]]
    pd.testing.assert_frame_equal(batched[exact], single[exact])
    np.testing.assert_allclose(batched[list(PP_COLUMNS)].to_numpy(float), single[list(PP_COLUMNS)].to_numpy(float),
                               rtol=0, atol=1e-7)
    assert (batched["reason"] == "").sum() >= 2  # the comparison covers coloc-SuSiE results, not only reasons
