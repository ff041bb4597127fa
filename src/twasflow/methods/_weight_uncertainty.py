"""Stage-1 weight uncertainty carried into the joint pair + variant system (issue 22, third bullet).

Model. Stage 2 (TGVIS, cTWAS) treats the stage-1 weights of pair j as fixed, ``w_j = B_j``. They are a
posterior mean: under the stage-1 SuSiE posterior q the (kept part of the) weight vector is random,
``w_j = D_j b_j`` with ``b_j ~ q_j`` (D_j keeps the selected variants S_j), mean ``B_j`` and covariance
``Sigma_j``. The stage-2 log-likelihood is quadratic in the design, so its expectation under q — the same
step SuSiE's own ELBO takes for the effects (the expected residual sum of squares uses E[b^2], not E[b]^2) —
replaces the fixed weights' sufficient statistics by

    E[W' z] = B' z,            E[W' R W] = B' R B + diag(t),      t_j = tr(R_{S_j S_j} Sigma_j[S_j, S_j])

(pairs' posteriors are independent in the paper's stage 1, so the off-diagonal of E[W'RW] is B'RB; pair-
variant products E[W' R] = B' R). In the standardized joint system of ``twasflow.methods.joint`` that is one
change: pair j's column is scaled by ``1 / sqrt(d_j + t_j)`` instead of ``1 / sqrt(d_j)`` (d_j = B_j'RB_j),
and its diagonal stays 1 — the joint operator already carries the diagonal correction ``1 - w_j'Rw_j``, which
becomes ``t_j / (d_j + t_j)``. Its z-score ``B_j'z / sqrt(d_j + t_j)`` and its correlation with every other
column shrink by ``sqrt(d_j / (d_j + t_j))``: a pair whose weights are uncertain (an eQTL with PIP 0.6 split
with an LD neighbour) is no longer an exact copy of a variant or of another pair with the same kept eQTL; a
confident single eQTL (t_j ≈ 0) is unchanged.

SuSiE posterior of one pair: its L single effects are independent; effect l puts ``b = e_m beta`` with
probability alpha_lm, beta ~ N(mu_lm, mu2_lm - mu_lm^2), so

    Sigma_j = sum_l [diag(alpha_l * mu2_l) - (alpha_l mu_l)(alpha_l mu_l)'],

    t_j = sum_l [ sum_{m in S_j} R_mm alpha_lm mu2_lm - a_l' R_SS a_l ],  a_l = (alpha_l mu_l) on S_j.

Limits: the shared stage 1 (``weights_shared``) couples the pairs of a gene through shared effects; their
cross-pair covariance is left out (the diagonal term is exact for each pair's marginal posterior). Effects
that stage 1 dropped (prior variance 0) carry no variance: eQTLs that SuSiE missed altogether are not
represented (see docs/stage1_shared.md, "Weight uncertainty").

Numerical module: no I/O.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp

from twasflow.errors import ConfigError, InputError

__all__ = ["pair_weight_variance", "fits_weight_variance", "inflate", "weight_var_for", "WEIGHT_UNCERTAINTY"]


def pair_weight_variance(effects: Mapping[str, np.ndarray], kept: np.ndarray, R: np.ndarray) -> np.ndarray:
    """(P,) ``t_j = tr(R Sigma_j)`` on each pair's kept variants, from its stage-1 single effects.

    Parameters
    ----------
    effects : ``effect_pair`` (K,) pair index of each effect; ``alpha``, ``mu``, ``mu2`` (K, M) the effect's
        inclusion probabilities, conditional posterior mean and second moment per variant, on the weights'
        scale (per SD of genotype; divide SuSiE's column-scaled values by the scale factors first, as
        :func:`fits_weight_variance` does).
    kept : (M, P) bool, the variants of each pair's weights (B_j's support).
    R : (M, M) LD the joint system uses.

    Returns
    -------
    (P,) float64, >= 0 (pairs without effects: 0), same units as ``B_j' R B_j``.
    """
    kept = np.asarray(kept, dtype=bool)
    M, P = kept.shape
    pair = np.asarray(effects["effect_pair"], dtype=np.int64)
    alpha, mu, mu2 = (np.asarray(effects[k], dtype=np.float64) for k in ("alpha", "mu", "mu2"))
    if alpha.shape != (pair.size, M) or mu.shape != alpha.shape or mu2.shape != alpha.shape:
        raise InputError.at("effect arrays do not match the locus", column="alpha/mu/mu2", found=alpha.shape,
                            expected=(pair.size, M))
    if pair.size and (pair.min() < 0 or pair.max() >= P):
        raise InputError.at("effect_pair out of range", column="effect_pair", found=int(pair.max()),
                            expected=f"0..{P - 1}")
    t = np.zeros(P)
    if pair.size == 0:
        return t
    on = kept[:, pair].T  # (K, M): the effect's pair's kept variants
    a = np.where(on, alpha * mu, 0.0)
    second = np.einsum("km,km,m->k", np.where(on, alpha, 0.0), mu2, np.diag(R))
    quad = np.einsum("km,km->k", a, a @ R)  # R symmetric; a is (K, M) with few non-zeros per row
    np.add.at(t, pair, second - quad)
    return np.maximum(t, 0.0)  # rounding; each term is a variance


def fits_weight_variance(fits: Any, R: np.ndarray) -> np.ndarray:
    """(P,) :func:`pair_weight_variance` of stage-1 fits (``twasflow.weights.Stage1Fits`` or
    ``twasflow.weights_shared.SharedStage1Fits``): their ``effects()``, ``kept`` and column scale ``csd``."""
    eff = dict(fits.effects())
    csd = np.asarray(getattr(fits, "csd", np.ones(R.shape[0])), dtype=np.float64)
    eff["mu"] = eff["mu"] / csd
    eff["mu2"] = eff["mu2"] / csd**2
    return pair_weight_variance(eff, fits.kept, R)


def inflate(Ws: Any, d: np.ndarray, t: np.ndarray, active: np.ndarray) -> tuple[Any, np.ndarray]:
    """Standardize pair rows by the expected Gram diagonal ``d + t`` instead of ``d``.

    Parameters
    ----------
    Ws : (P, M) rows scaled to ``w'Rw = 1`` (``LocusLD.standardize``; CSR or dense). d : (P,) ``B'RB``.
    t : (P,) weight variances (:func:`pair_weight_variance`). active : (P,) modelled pairs.

    Returns
    -------
    ``(Ws', sd)``: rows times ``sqrt(d / (d + t))`` (so ``w'Rw = d / (d + t)``), and (P,) ``sqrt(d + t)`` — the
    scale from the standardized pair effect back to theta per unit of B's column.
    """
    t = np.asarray(t, dtype=np.float64)
    if t.shape != d.shape or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InputError.at("weight variances must be finite, >= 0, one per pair", column="weight_var",
                            found=t.shape, expected=d.shape)
    s = np.ones(d.size)
    s[active] = np.sqrt(d[active] / (d[active] + t[active]))
    Wi = sp.csr_matrix(sp.diags(s) @ Ws) if sp.issparse(Ws) else Ws * s[:, None]
    return Wi, np.sqrt(d + t)


WEIGHT_UNCERTAINTY = ("none", "expected_gram")  # config tgvis.weight_uncertainty


def weight_var_for(mode: str, weights: Any, R: np.ndarray) -> np.ndarray | None:
    """The ``weight_var`` a method passes to its joint system for config value ``mode``: None for ``none``,
    :func:`fits_weight_variance` of ``weights`` (stage-1 fits or a ``twasflow.locus_weights.LocusWeights``)
    for ``expected_gram``."""
    if mode == "none":
        return None
    if mode == "expected_gram":
        return fits_weight_variance(weights, np.asarray(R, dtype=np.float64))
    raise ConfigError.at("invalid weight_uncertainty", column="tgvis.weight_uncertainty", found=mode,
                         expected=WEIGHT_UNCERTAINTY)
