"""TGFM's lockstep IBSS (twasflow.methods._tgfm_ibss) piece by piece against the generic computations.

- the closed-form EM single-effect regression for one precision (``_ser_em_unit``) against the general
  per-variable SER (``_ser``): every output to 1e-12 relative, the null decision identical, on rows that
  exercise the certified and the full null check, zero prior weights and V = 0;
- the block-diagonal W products of a subset of the draws (``_diag_blocks``) against the dense blocks, exactly;
- whole fits in lockstep against ``susie_rss`` draw by draw on a unit-diagonal R (the closed-form path) and
  on an R whose diagonal is not exactly 1 (the general path), 1e-8 as tests/test_joint.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from twasflow.methods import _tgfm_ibss as ib
from twasflow.methods import tgfm

from tests.synth import diffuse_effects, sparse_weights


def _rows(seed: int, k: int = 12, p: int = 300) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    zeta = rng.normal(0, 1, (k, p)) * 3e2
    zeta[0] *= 1e-4  # no signal: the null check must be done in full and sets V = 0
    zeta[1, 7] = 5e4  # one strong variable: the largest term certifies the check
    pi = rng.uniform(0.5, 1.5, (k, p))
    pi[2, :40] = 0.0  # inactive pairs of a draw
    pi[3, np.argmax(np.abs(zeta[3]))] = 0.0  # the largest term has no prior weight
    pi /= pi.sum(axis=1, keepdims=True)
    V = rng.uniform(0.0, 50.0, k)
    V[4] = 0.0
    return zeta, pi, V


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unit_precision_em_ser_equals_general_ser(seed):
    zeta, pi, V = _rows(seed)
    c = 49_999.0
    p = zeta.shape[1]
    lsp = np.log(pi.sum(axis=1))
    with np.errstate(divide="ignore"):
        log_pi = np.log(pi)
    a1, m1, b1, V1, kl1, s21 = ib._ser_em_unit(zeta, c, V, pi, log_pi, lsp)
    a0, m0, m20, V0, kl0 = ib._ser(zeta, np.full(p, c), V, pi, lsp, "EM")
    np.testing.assert_allclose(a1, a0, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(m1, m0, rtol=1e-12, atol=0)
    np.testing.assert_allclose(b1, a0 * m0, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(V1 == 0, V0 == 0)
    assert (V0 == 0).any() and (V0 > 0).any()  # both decisions are exercised
    np.testing.assert_allclose(V1, V0, rtol=1e-12, atol=0)
    np.testing.assert_allclose(kl1, kl0, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(s21, np.einsum("p,kp->k", np.full(p, c), a0 * m20), rtol=1e-12, atol=0)


def test_diag_blocks_are_the_dense_blocks():
    rng = np.random.default_rng(3)
    D, nr, nc = 6, 7, 5
    blocks = [sp.random(nr, nc, density=0.3, random_state=int(rng.integers(1 << 30)), format="csr") for _ in range(D)]
    A = sp.block_diag(blocks, format="csr")
    for sub in (np.array([0, 2, 5]), np.array([4]), np.arange(D)):
        got = ib._diag_blocks(A, sub, nr, nc)
        want = sp.block_diag([blocks[i] for i in sub], format="csr")
        np.testing.assert_array_equal(got.toarray(), want.toarray())


def _ld(rng, M, n=400):
    G = np.cumsum(rng.standard_normal((n, M)) * 0.6, axis=1) + rng.standard_normal((n, M))
    G -= G.mean(axis=0)
    G /= np.sqrt((G * G).sum(axis=0))
    R = G.T @ G
    R = 0.5 * (R + R.T)
    np.fill_diagonal(R, 1.0)
    return R


@pytest.mark.parametrize("diag", ["unit", "not_unit"])
@pytest.mark.parametrize("method", ["EM", "simple"])
def test_lockstep_fits_equal_one_at_a_time(diag, method, monkeypatch):
    """The whole TGFM fit with the batched engine against susie_rss per draw (variant-only start forced)."""
    rng = np.random.default_rng(11)
    M, P = 50, 20
    R = _ld(rng, M)
    if diag == "not_unit":
        R[np.arange(M), np.arange(M)] = 1.0 + 1e-9 * rng.uniform(size=M)
    B = sparse_weights(rng, M, P, kmax=3, sd=0.4)
    beta = 0.03 * B[:, 0] + 0.02 * B[:, 3]
    beta[30] += 0.02
    z = np.sqrt(20_000) * R @ beta + np.linalg.cholesky(R + 1e-9 * np.eye(M)) @ rng.standard_normal(M)
    eff = diffuse_effects(4, M, P, 0.5)
    kw = dict(n_draws=10, L=5, estimate_prior_method=method, pip_init_threshold=0.0, seed=3)
    fits = [tgfm.fit(z, R, 20_000, eff, **kw)]
    monkeypatch.setattr(tgfm, "BATCH_METHODS", ())  # susie_rss draw by draw
    fits.append(tgfm.fit(z, R, 20_000, eff, **kw))
    got, want = ({"draw_pip": f.draw_pip, **{c: f.variables[c].to_numpy(float) for c in
                  ("pip", "posterior_mean", "posterior_sd", "pip_draw_sd")}} for f in fits)
    for key, value in got.items():
        np.testing.assert_allclose(value, want[key], atol=1e-8, err_msg=key)
    assert [(f.variant_init.tolist(), f.locus["niter"], f.warnings) for f in fits[:1]] == \
        [(f.variant_init.tolist(), f.locus["niter"], f.warnings) for f in fits[1:]]


def test_rerun_is_bit_identical():
    rng = np.random.default_rng(2)
    M, P = 40, 12
    R = _ld(rng, M)
    B = sparse_weights(rng, M, P, kmax=3, sd=0.4)
    z = np.sqrt(20_000) * R @ (0.03 * B[:, 1]) + rng.standard_normal(M)
    eff = diffuse_effects(5, M, P, 0.5)
    a = tgfm.fit(z, R, 20_000, eff, n_draws=8, seed=[4, 5])
    b = tgfm.fit(z, R, 20_000, eff, n_draws=8, seed=[4, 5])
    assert np.array_equal(a.draw_pip, b.draw_pip)
    assert a.variables.equals(b.variables)
