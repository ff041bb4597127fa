"""TGVIS when REML's root for tau2 lies above its bound (issue 17): the optional warm start across L at the
bound (off by default: docs/tgvis.md) and the shared eigen-coordinates of the profile step. Loci come from the project's own generators (tests/synth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import twasflow.methods.tgvis as T
from twasflow.errors import ConfigError
from twasflow.methods import _inf, tgvis

from tests.synth import ar1_genotypes, gwas_z, ld_of, sparse_weights


def _inf_locus(seed: int = 4):
    """M = 150, P = 10: one causal pair plus infinitesimal effects (2e-6 of the trait per variant)."""
    rng = np.random.default_rng(seed)
    M, P, n = 150, 10, 200_000
    R = ld_of(ar1_genotypes(rng, M, 2000, 0.5))
    B = sparse_weights(rng, M, P)
    beta = 0.03 / np.sqrt(B[:, 0] @ R @ B[:, 0]) * B[:, 0] + rng.normal(0, np.sqrt(2e-6), M)
    return gwas_z(rng, R, beta, n), R, float(n), B


def _traced(monkeypatch):
    """Record every L's profile fit (L, iterations, at_bound, start given)."""
    rec: list[tuple[int, int, bool, bool]] = []
    orig = T._profile

    def prof(*a, **k):
        lf = orig(*a, **k)
        rec.append((lf.L, lf.niter, lf.at_bound, k.get("start") is not None))
        return lf

    monkeypatch.setattr(T, "_profile", prof)
    return rec


def test_interior_tau2_is_unchanged_by_the_bound_warm_start(monkeypatch):
    """tau2 inside its bound at every L: the fit is the same, bit for bit, with and without the option (the
    default, off, is checked too)."""
    z, R, n, B = _inf_locus()
    rec = _traced(monkeypatch)
    a = tgvis.fit(z, R, n, B, L_grid=[2, 3, 4], bound_warm_start=True)
    assert a.inf_test_p < 0.05 and a.sigma2_inf > 0
    assert not any(r[2] for r in rec) and not any(r[3] for r in rec)
    b = tgvis.fit(z, R, n, B, L_grid=[2, 3, 4], bound_warm_start=False)
    pd.testing.assert_frame_equal(a.variables, b.variables)
    assert a.bic_grid == b.bic_grid
    c = tgvis.fit(z, R, n, B, L_grid=[2, 3, 4])
    pd.testing.assert_frame_equal(b.variables, c.variables)


def test_at_the_bound_later_L_start_from_the_first_bound_upsilon(monkeypatch):
    """A bound far below REML's root (tau2_cap 1e-3) binds at every L: L >= 3 start from L = 2's upsilon and
    need no more profile iterations; the credible sets and PIPs are those of the restart-from-0 loop."""
    z, R, n, B = _inf_locus()
    rec = _traced(monkeypatch)
    a = tgvis.fit(z, R, n, B, L_grid=[2, 3, 4], tau2_cap=1e-3, bound_warm_start=True)
    warm = list(rec)
    rec.clear()
    b = tgvis.fit(z, R, n, B, L_grid=[2, 3, 4], tau2_cap=1e-3, bound_warm_start=False)
    cold = list(rec)
    assert all(r[2] for r in warm) and all(r[2] for r in cold)
    assert [r[3] for r in warm] == [False, True, True] and not any(r[3] for r in cold)
    assert sum(r[1] for r in warm) <= sum(r[1] for r in cold)
    sa = a.variables.loc[a.variables.cs.notna(), "name"].tolist()
    sb = b.variables.loc[b.variables.cs.notna(), "name"].tolist()
    assert sa == sb
    np.testing.assert_allclose(a.variables["pip"], b.variables["pip"], atol=1e-3)


def test_shared_coordinates_give_the_same_steps():
    """pql_upsilon / reml_fit / score_test with the caller's U' products equal their own computation."""
    z, R, n, B = _inf_locus()
    E = _inf.LDEigen.of(R)
    resid = z - 0.5 * (R @ B[:, 0]) * np.sqrt(n)
    c = E.coords(resid)
    for t2 in (0.1, 3.0):
        u0, r0 = _inf.pql_upsilon(E, resid, t2)
        u1, r1 = _inf.pql_upsilon(E, resid, t2, coords=c)
        np.testing.assert_array_equal(u0, u1)
        np.testing.assert_array_equal(r0, r1)
        np.testing.assert_allclose(r0, R @ u0, rtol=1e-9, atol=1e-9)
    tmax = E.pinv_quad(z) / E.rank
    assert _inf.reml_fit(E, resid, tau2_max=tmax) == _inf.reml_fit(E, resid, tau2_max=tmax, coords=c)
    UtC = E.coords(B[:, :2])
    s0 = _inf.score_test(E, z, UtC)
    s1 = _inf.score_test(E, z, UtC, z_coords=E.coords(z))
    assert s0 == s1


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_tau2_cap_must_be_positive(bad):
    z, R, n, B = _inf_locus()
    with pytest.raises(ConfigError):
        tgvis.fit(z, R, n, B, L_grid=[2], tau2_cap=bad)
