"""Collinear groups in every method's output: variables whose fitted columns correlate |r| >= 0.99 (the same
xQTL weights in several tissues; a pair whose only xQTL is a variant) share ``collinear_group`` and count as
one group in the set's ``n_groups``; other set members stay apart."""

from __future__ import annotations

import numpy as np
import pytest

from twasflow.methods import ctwas, tgfm, tgvis


def _locus(seed: int = 3):
    rng = np.random.default_rng(seed)
    M, P, n = 60, 5, 200_000
    G = rng.standard_normal((3000, M))
    G[:, 1:] = 0.6 * G[:, :-1] + 0.8 * G[:, 1:]  # AR(1)-like LD
    R = np.corrcoef(G, rowvar=False)
    B = np.zeros((M, P))
    B[[10, 14], 0] = [0.5, 0.3]
    B[:, 1] = 2.0 * B[:, 0]  # pair 2 = pair 1 in another tissue (weights up to scale)
    B[40, 2] = 0.4  # pair 3's only xQTL is variant 41
    B[[25, 50], 3] = [0.4, -0.3]
    B[[5, 30], 4] = [0.3, 0.3]
    beta = 0.012 * B[:, 0] / np.sqrt(B[:, 0] @ R @ B[:, 0])
    beta[40] += 0.012
    z = np.sqrt(n) * R @ beta + np.linalg.cholesky(R + 1e-9 * np.eye(M)) @ rng.standard_normal(M)
    return z, R, n, B


def _point_mass(B: np.ndarray) -> dict[str, np.ndarray]:
    """Stage-1 posteriors that are exactly the weights (one effect per non-zero weight)."""
    rows, cols = np.nonzero(B)
    alpha = np.zeros((rows.size, B.shape[0]))
    alpha[np.arange(rows.size), rows] = 1.0
    mu = alpha * B[rows, cols][:, None]
    return {"effect_pair": cols, "alpha": alpha, "mu": mu, "mu2": mu**2, "P": B.shape[1]}


@pytest.mark.parametrize("method", ["tgvis", "ctwas", "tgfm"])
def test_identical_columns_form_one_group(method):
    z, R, n, B = _locus()
    names = [f"pair{j + 1}" for j in range(B.shape[1])]
    if method == "tgvis":
        res = tgvis.fit(z, R, n, B, pair_names=names, L_grid=[2, 3])
    elif method == "ctwas":
        res = ctwas.fit(z, R, n, B, groups=["Liver|eQTL"] * B.shape[1], pair_names=names)
    else:
        res = tgfm.fit(z, R, n, _point_mass(B), pair_names=names, n_draws=4, seed=1)
    v, s, _ = res.tables("T", "L")
    v = v.set_index("variable_id")
    for a, b in (("pair1", "pair2"), ("pair3", "variant41")):
        assert v.loc[a, "cs"] == v.loc[b, "cs"] and v.loc[a, "cs"] is not None, (method, a, b)
        assert v.loc[a, "collinear_group"] == v.loc[b, "collinear_group"] in (a, b)
    grouped = v[v["collinear_group"].notna()]
    assert set(grouped.index) == {"pair1", "pair2", "pair3", "variant41"}
    # n_groups = the number of distinct groups (singletons included) among each set's members
    for _, row in s.iterrows():
        mem = v[v["cs"] == row["cs"]]
        singles = int(mem["collinear_group"].isna().sum())
        assert row["n_groups"] == singles + mem["collinear_group"].dropna().nunique()
    assert v.loc[v["cs"].isna(), "collinear_group"].isna().all()


def test_group_labels_do_not_depend_on_variable_order():
    """Identical columns split PIP equally, so the label's tie-break (smallest name) must not follow the order."""
    z, R, n, B = _locus()
    names = [f"pair{j + 1}" for j in range(B.shape[1])]
    vnames = [f"variant{m + 1}" for m in range(R.shape[0])]
    res = tgvis.fit(z, R, n, B, pair_names=names, variant_names=vnames, L_grid=[2, 3])
    pp = np.array([1, 0, 4, 3, 2])  # pair2 before pair1
    pv = np.random.default_rng(0).permutation(R.shape[0])
    res2 = tgvis.fit(z[pv], R[np.ix_(pv, pv)], n, B[np.ix_(pv, pp)], pair_names=[names[j] for j in pp],
                     variant_names=[vnames[m] for m in pv], L_grid=[2, 3])
    a = res.variables.set_index("name").sort_index()
    b = res2.variables.set_index("name").sort_index()
    assert a.loc["pair1", "collinear_group"] == "pair1"  # tied with pair2: the smaller name
    assert a["collinear_group"].equals(b["collinear_group"])
    top = lambda r: sorted(r.sets["top_variable"])  # noqa: E731
    assert top(res) == top(res2)
