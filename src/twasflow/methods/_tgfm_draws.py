"""TGFM's posterior draws of xQTL effects and the joint pair + variant system of one draw.

For every pair TGFM draws effect vectors from the stage-1 SuSiE posterior: per single effect l it picks
one variable with probability ``alpha[l]`` and a size from the conditional normal posterior
``N(mu[l, j], mu2[l, j] - mu[l, j]^2)`` (susie's ``mu`` is the mean *given* inclusion), and sums the
effects (two effects on the same variable add). Each drawn vector is standardized to unit predicted-
expression variance, ``w' R w = 1``, before it becomes a column of the joint SuSiE-RSS system
``[[W'RW, W'R], [RW, R]]`` with z ``[W'z; z]`` (``twasflow.methods.joint``, in factored form).

A drawn vector has at most L non-zeros, so a draw's standardization costs O(sum of nnz_j^2) and each
product with its joint system O(M^2 + nnz(W)); R and its PSD check are shared by all draws.

Numerical module: no I/O.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from twasflow.errors import InputError

from .joint import JointOperator, LocusLD

_ALPHA_SUM_TOL = 1e-6  # stage-1 alpha rows must sum to 1 within this


@dataclass(frozen=True)
class EffectPosterior:
    """Stage-1 posteriors of one locus's pairs, as TGFM samples them.

    Attributes
    ----------
    P : number of pairs (columns of the joint system before dropping unmodelled ones).
    effect_pair : (K,) pair index (0..P-1) of each single effect.
    alpha : (K, M) inclusion probabilities of each effect, rows normalized to sum 1.
    mu : (K, M) posterior mean of the effect size given inclusion (standardized genotype scale).
    sd : (K, M) posterior SD given inclusion, ``sqrt(max(mu2 - mu^2, 0))``.
    fixed : (M, P) weights of pairs without effects (prediction models): used unchanged in every draw;
        zero columns for sampled pairs.
    """

    P: int
    effect_pair: np.ndarray
    alpha: np.ndarray
    mu: np.ndarray
    sd: np.ndarray
    fixed: np.ndarray

    @property
    def K(self) -> int:
        return int(self.effect_pair.size)

    @property
    def M(self) -> int:
        return int(self.fixed.shape[0])

    @property
    def sampled(self) -> np.ndarray:
        """(P,) pairs with at least one single effect."""
        out = np.zeros(self.P, dtype=bool)
        out[self.effect_pair] = True
        return out

    @property
    def modelled(self) -> np.ndarray:
        """(P,) pairs with effects or non-zero fixed weights (the others are not fitted)."""
        return self.sampled | np.any(self.fixed != 0, axis=0)

    def point_mass(self) -> bool:
        """True when every draw is the same vector (alpha one-hot, zero posterior SD)."""
        return bool(np.all((self.alpha == 0) | (self.alpha == 1)) and not np.any(self.sd[self.alpha > 0]))


def _arr(x: Any, name: str, ndim: int, dtype: Any = np.float64) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError):
        raise InputError.at(f"stage-1 {name} is not numeric", column=name, found=type(x).__name__)
    if a.ndim != ndim:
        raise InputError.at(f"stage-1 {name} has the wrong number of dimensions", column=name,
                            found=f"shape {a.shape}", expected=f"{ndim}-D")
    return a


def posterior_from(stage1_fits: Any, M: int, P: int | None = None) -> EffectPosterior:
    """Read stage-1 posteriors from a :class:`twasflow.weights.Stage1Fits` or a mapping.

    Parameters
    ----------
    stage1_fits : ``Stage1Fits`` (its ``.effects()``: included effects of pairs with a kept variant; mu on
        the standardized scale via the fits' column scale factors), or a mapping with ``effect_pair``
        (K,) int indices into the pairs, ``alpha``, ``mu``, ``mu2`` (K, M) and optionally ``V`` (K,)
        (effects with V = 0 are dropped), ``pair_ids`` (P,) or ``P``, and ``B`` (M, P) fixed weights used
        for pairs that have no effect (e.g. prediction models).
    M : number of locus variants. P : number of pairs when the mapping names neither pair_ids nor B.
    """
    if hasattr(stage1_fits, "effects") and callable(stage1_fits.effects):
        eff = dict(stage1_fits.effects())
        csd = np.asarray(getattr(stage1_fits, "csd", np.ones(M)), dtype=np.float64)
        if csd.shape == (M,) and np.any(csd != 1.0):  # back from susie's internal column scaling
            eff["mu"] = eff["mu"] / csd
            eff["mu2"] = eff["mu2"] / csd**2
        eff["P"] = len(stage1_fits)
    elif isinstance(stage1_fits, Mapping):
        eff = dict(stage1_fits)
    else:
        raise InputError.at("stage1_fits must be a Stage1Fits or a mapping of effect arrays", column="stage1_fits",
                            found=type(stage1_fits).__name__,
                            expected="Stage1Fits or {effect_pair, alpha, mu, mu2[, V, pair_ids, B]}")
    missing = [k for k in ("effect_pair", "alpha", "mu", "mu2") if k not in eff]
    if missing:
        raise InputError.at("stage-1 effects are missing arrays", column=missing[0], found=sorted(eff),
                            expected="effect_pair, alpha, mu, mu2")
    pair = _arr(eff["effect_pair"], "effect_pair", 1, np.float64)
    K = pair.size
    alpha, mu, mu2 = (_arr(eff[k], k, 2) for k in ("alpha", "mu", "mu2"))
    for name, a in (("alpha", alpha), ("mu", mu), ("mu2", mu2)):
        if a.shape != (K, M):
            raise InputError.at(f"stage-1 {name} has the wrong shape", column=name, found=a.shape, expected=(K, M))
        if not np.all(np.isfinite(a)):
            k = int(np.flatnonzero(~np.isfinite(a).all(axis=1))[0])
            raise InputError.at(f"stage-1 {name} must be finite", column=name, row=k + 1, found="NaN/Inf",
                                expected="finite numbers")
    if K and (not np.all(pair == np.round(pair)) or pair.min() < 0):
        raise InputError.at("effect_pair must hold non-negative integers", column="effect_pair",
                            found=pair[(pair != np.round(pair)) | (pair < 0)][0], expected="pair indices >= 0")
    pair = pair.astype(np.int64)
    B = None
    if eff.get("B") is not None:
        B = _arr(eff["B"], "B", 2)
        if B.shape[0] != M:
            raise InputError.at("fixed weights B must be M x P", column="B", found=B.shape, expected=f"({M}, P)")
        B = np.where(np.isfinite(B), B, 0.0)
    if "pair_ids" in eff and eff["pair_ids"] is not None:
        nP = len(eff["pair_ids"])
    elif "P" in eff:
        nP = int(eff["P"])
    elif B is not None:
        nP = B.shape[1]
    elif P is not None:
        nP = int(P)
    else:
        nP = int(pair.max()) + 1 if K else 0
    if P is not None and nP != P:
        raise InputError.at("stage-1 effects describe a different number of pairs", column="pair_ids", found=nP,
                            expected=P)
    if K and pair.max() >= nP:
        raise InputError.at("effect_pair indexes a pair that does not exist", column="effect_pair",
                            row=int(np.argmax(pair)) + 1, found=int(pair.max()), expected=f"< {nP}")
    if B is not None and B.shape[1] != nP:
        raise InputError.at("fixed weights B have the wrong number of columns", column="B", found=B.shape[1],
                            expected=nP)
    if "V" in eff and eff["V"] is not None:
        V = _arr(eff["V"], "V", 1)
        if V.shape != (K,):
            raise InputError.at("stage-1 V has the wrong length", column="V", found=V.size, expected=K)
        keep = V > 0
        pair, alpha, mu, mu2 = pair[keep], alpha[keep], mu[keep], mu2[keep]
    if np.any(alpha < 0):
        k = int(np.flatnonzero((alpha < 0).any(axis=1))[0])
        raise InputError.at("stage-1 alpha must be non-negative", column="alpha", row=k + 1,
                            found=float(alpha[k].min()), expected=">= 0")
    s = alpha.sum(axis=1)
    bad = np.abs(s - 1.0) > _ALPHA_SUM_TOL
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise InputError.at("stage-1 alpha rows must sum to 1", column="alpha", row=k + 1, found=float(s[k]),
                            expected="1 (a SuSiE single effect)")
    var = mu2 - mu * mu
    # mu2 = mu^2 up to rounding for a point mass; a clearly negative variance is a malformed posterior
    if np.any(var < -1e-8 * np.maximum(mu2, 1e-300)):
        k = int(np.flatnonzero((var < -1e-8 * np.maximum(mu2, 1e-300)).any(axis=1))[0])
        raise InputError.at("stage-1 mu2 is below mu^2 (negative posterior variance)", column="mu2", row=k + 1,
                            found=float(var[k].min()), expected=">= 0")
    fixed = np.zeros((M, nP)) if B is None else B.copy()
    fixed[:, np.unique(pair)] = 0.0  # a pair with a posterior is always sampled, never fixed
    return EffectPosterior(P=nP, effect_pair=pair, alpha=alpha / s[:, None] if alpha.size else alpha,
                           mu=mu, sd=np.sqrt(np.maximum(var, 0.0)), fixed=fixed)


@dataclass(frozen=True)
class Draws:
    """D draws of every single effect: the chosen variable ``idx`` (D, K) and its size ``size`` (D, K)."""

    idx: np.ndarray
    size: np.ndarray

    @property
    def D(self) -> int:
        return int(self.idx.shape[0])


def effect_keys(post: EffectPosterior, pair_names: Sequence[str]) -> np.ndarray:
    """(K, 2) stream keys of the single effects: crc32 of the pair's name and the effect's rank within its
    pair. Keyed streams make a pair's draws independent of where the pair sits in the locus."""
    rank = np.zeros(post.K, dtype=np.int64)
    seen: dict[int, int] = {}
    for k, j in enumerate(post.effect_pair.tolist()):
        rank[k] = seen.get(j, 0)
        seen[j] = rank[k] + 1
    crc = np.array([zlib.crc32(str(pair_names[j]).encode()) for j in post.effect_pair.tolist()], dtype=np.int64)
    return np.stack([crc, rank], axis=1) if post.K else np.zeros((0, 2), dtype=np.int64)


def draw_effects(post: EffectPosterior, seed: int | Sequence[int], n_draws: int,
                 keys: np.ndarray | None = None) -> Draws:
    """Draw every single effect ``n_draws`` times.

    Randomness: without ``keys``, ``default_rng(seed)`` gives ``random((n_draws, K))`` then
    ``standard_normal((n_draws, K))``; with ``keys`` (K, 2) (see :func:`effect_keys`), effect k's
    ``n_draws`` uniforms and normals come from ``default_rng([*seed, *keys[k]])``. The variable is drawn by
    inverting row k's cumulative alpha (offset by k, the arithmetic of one search over all rows laid end to
    end; one short search per row is faster than one over the K x M sequence).
    """
    K, M = post.K, post.M
    base = [int(x) for x in np.atleast_1d(np.asarray(seed, dtype=np.int64))]
    if K == 0:
        return Draws(np.zeros((n_draws, 0), dtype=np.int64), np.zeros((n_draws, 0)))
    cum = np.cumsum(post.alpha, axis=1)
    cum /= cum[:, -1:]
    cum[:, -1] = 1.0
    if keys is None:
        rng = np.random.default_rng(base)
        u = rng.random((n_draws, K))
        e = rng.standard_normal((n_draws, K))
    else:
        u = np.empty((n_draws, K))
        e = np.empty((n_draws, K))
    idx = np.empty((n_draws, K), dtype=np.int64)
    for k in range(K):
        if keys is not None:
            g = np.random.default_rng(base + [int(x) for x in keys[k]])
            u[:, k] = g.random(n_draws)
            e[:, k] = g.standard_normal(n_draws)
        # row k offset by k (the rows as one increasing sequence, as one flat search would see them)
        idx[:, k] = np.searchsorted(cum[k] + k, u[:, k] + k, side="right")
    np.clip(idx, 0, M - 1, out=idx)
    rows = np.broadcast_to(np.arange(K)[None, :], idx.shape)
    size = post.mu[rows, idx] + post.sd[rows, idx] * e
    return Draws(idx=idx, size=size)


class JointBuilder:
    """Builds the joint SuSiE-RSS inputs of one draw over the modelled pairs.

    Every draw shares one :class:`twasflow.methods.joint.LocusLD` (R, its product and its PSD check); a
    draw only changes the sparse weights W, so its system is a :class:`twasflow.methods.joint.JointOperator`
    built in O(nnz(W)) — the (Pm + M)^2 joint matrix is never formed.

    Parameters
    ----------
    z : (M,) GWAS z. R : (M, M) LD. post : the stage-1 posteriors. pairs : (Pm,) indices of the modelled
    pairs (columns of the joint system, in this order). ld : an existing LocusLD of R to share.
    """

    def __init__(self, z: np.ndarray, R: np.ndarray, post: EffectPosterior, pairs: np.ndarray,
                 ld: LocusLD | None = None) -> None:
        self.z, self.R, self.post = z, R, post
        self.ld = ld if ld is not None else LocusLD(R)
        self.pairs = pairs
        self.Pm, self.M = pairs.size, z.size
        col = np.full(post.P, -1, dtype=np.int64)
        col[pairs] = np.arange(self.Pm)
        self.eff_col = col[post.effect_pair]  # joint column of each single effect (all >= 0)
        fx = post.fixed[:, pairs]
        self.fixed_t = sp.csr_matrix(fx.T) if np.any(fx) else None

    def weights_t(self, idx: np.ndarray, size: np.ndarray) -> sp.csr_matrix:
        """(Pm, M) sparse drawn (unstandardized) weights of one draw; duplicate variables add."""
        Wt = sp.csr_matrix((size, (self.eff_col, idx)), shape=(self.Pm, self.M))
        Wt.sum_duplicates()
        if self.fixed_t is not None:
            Wt = Wt + self.fixed_t
        return Wt

    def standardized(self, Wt: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """``Ws`` (Pm, M) the rows scaled to ``w'Rw = 1`` (inactive rows zero), ``active`` (Pm,) (w'Rw > 0
        relative to the largest) and ``s = sqrt(w'Rw)`` (1 when inactive) of the weights ``Wt``."""
        Ws, d, active = self.ld.standardize(Wt)
        return Ws, active, np.where(active, np.sqrt(np.where(active, d, 1.0)), 1.0)

    def system(self, Wt: sp.csr_matrix) -> tuple[np.ndarray, JointOperator, np.ndarray, np.ndarray]:
        """Joint (z, J) of the weights ``Wt`` (Pm, M), standardized to ``w'Rw = 1``.

        Returns ``zj`` (Pm + M,), ``J`` (a :class:`JointOperator`), ``active`` (Pm,) pairs whose drawn vector
        predicts something, and ``s`` (Pm,) = sqrt(w'Rw) (1 when inactive). Inactive pairs are zero columns
        with unit diagonal and z = 0; the caller gives them prior 0.
        """
        Ws, active, s = self.standardized(Wt)
        J = JointOperator(self.ld, Ws)
        return J.joint_z(self.z), J, active, s

    def draw_system(self, draws: Draws, d: int) -> tuple[np.ndarray, JointOperator, np.ndarray, np.ndarray]:
        """:meth:`system` of draw ``d``."""
        return self.system(self.weights_t(draws.idx[d], draws.size[d]))
