"""The joint pair + variant system of TGVIS, cTWAS and TGFM, in factored form.

At a locus with M variants (LD ``R``, GWAS ``z``) and P gene–tissue pairs with stage-1 weights ``B`` (M, P),
pair j's column is the standardized predicted expression ``w_j = B_j / sqrt(B_j' R B_j)``; the joint
variables are the P pairs then the M variants, with z ``[W'z; z]`` and correlation

    J = [[W'RW, W'R], [RW, R]] = A' R A,   A = [W, I]   (pair diagonal exactly 1).

``J`` is never formed (it is (P + M)^2 and P >> M at real loci: ~10,000 pairs on ~1,000 variants). Every
product goes through W and R: ``J x = [W'u + c x_p; u]`` with ``u = R (W x_p + x_v)`` and ``c = 1 - w_j'Rw_j``
(rounding: the pair diagonal is 1 exactly, as a dense build sets it); W is held as a sparse CSR matrix of
its rows when it is sparse (stage-1 weights keep a few variants per pair) and dense otherwise. ``R @ y``
is one symmetric product (:class:`twasflow.susie.operator.SymMatvec`: BLAS dsymv, or only the rows of R
where y is non-zero). Per product that is O(M^2 + nnz(W)) instead of O((P + M)^2).

Everything fixed at a locus lives in :class:`LocusLD` (R, its product, its PSD check and the one
eigendecomposition of R, ``twasflow.methods._inf.LDEigen``, computed on first use and shared with the
infinitesimal model); a :class:`JointOperator` adds only W, so TGFM's posterior draws share one
``LocusLD`` and each draw costs the O(nnz(W)) standardization.

Pairs whose weights predict nothing (``B_j' R B_j <= D_TOL * max_k B_k' R B_k``) are inactive: TGVIS and
cTWAS leave them out, TGFM keeps them as zero columns with unit diagonal and prior weight 0.

Numerical module: no I/O.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from twasflow.susie import PreparedR
from twasflow.susie.ibss import corr_from_matrix
from twasflow.susie.operator import SymMatvec

from . import _inf, _weight_uncertainty

D_TOL = 1e-12  # a pair whose B'RB is below this (relative to the largest) predicts nothing
SPARSE_DENSITY = 0.2  # weights with at most this fraction of non-zeros are held sparse
_PAIRWISE_MAX = 4_000_000  # row quadratic forms by within-row index pairs up to this many terms

Weights = Any  # (P, M) rows of W: a numpy array or a scipy CSR matrix


def as_rows(B: np.ndarray | sp.spmatrix) -> Weights:
    """The (P, M) rows of weights given as (M, P) columns ``B``: CSR when at most ``SPARSE_DENSITY`` of the
    entries are non-zero, else a C-contiguous array."""
    if sp.issparse(B):
        Bt = sp.csr_matrix(B.T)
        return Bt if Bt.nnz <= SPARSE_DENSITY * max(Bt.shape[0] * Bt.shape[1], 1) else Bt.toarray()
    B = np.asarray(B, dtype=np.float64)
    if np.count_nonzero(B) <= SPARSE_DENSITY * B.size:
        return sp.csr_matrix(B.T)
    return np.ascontiguousarray(B.T)


class LocusLD:
    """What every joint system at one locus shares: R, its symmetric product, its PSD check and (on first
    use) its eigendecomposition.

    Parameters
    ----------
    R : (M, M) symmetric LD (not copied). eig_tol : relative eigenvalue threshold of R's column space.
    """

    def __init__(self, R: np.ndarray, eig_tol: float = _inf.EIG_TOL) -> None:
        self.R = R
        self.M = R.shape[0]
        self.eig_tol = eig_tol
        self.mv = SymMatvec(R)
        self._prepared: PreparedR | None = None

    @cached_property
    def E(self) -> _inf.LDEigen:
        """:class:`twasflow.methods._inf.LDEigen` of R (one O(M^3) eigendecomposition per locus)."""
        return _inf.LDEigen.of(self.R, self.eig_tol)

    @property
    def prepared(self) -> PreparedR:
        """R as a :class:`twasflow.susie.PreparedR` (its PSD check; J = A'RA is PSD exactly when R is)."""
        if self._prepared is None:
            self._prepared = PreparedR(self.R)
        return self._prepared

    def row_quads(self, Wt: Weights) -> np.ndarray:
        """(P,) ``w_j' R w_j`` of the rows of ``Wt`` (P, M).

        Sparse rows with few non-zeros: the sum over each row's index pairs ``w_a w_b R_ab`` (sum of nnz_j^2
        terms); otherwise ``rowsum(Wt * (Wt R))`` (nnz x M, or a BLAS-3 product for dense rows)."""
        if not sp.issparse(Wt):
            return np.einsum("pm,pm->p", Wt, Wt @ self.R)
        Wt = sp.csr_matrix(Wt)
        cnt = np.diff(Wt.indptr)
        n_pairs = int(np.sum(cnt.astype(np.int64) ** 2))
        if n_pairs > min(_PAIRWISE_MAX, Wt.nnz * self.M // 4):
            return np.asarray(Wt.multiply(Wt @ self.R).sum(axis=1)).ravel()
        row_of = np.repeat(np.arange(cnt.size), cnt)
        reps = cnt[row_of]
        e = np.repeat(np.arange(Wt.nnz), reps)
        start = np.repeat(np.cumsum(reps) - reps, reps)
        f = Wt.indptr[row_of[e]] + (np.arange(e.size) - start)
        vals = Wt.data[e] * Wt.data[f] * self.R[Wt.indices[e], Wt.indices[f]]
        return np.bincount(row_of[e], weights=vals, minlength=cnt.size)

    def standardize(self, Wt: Weights) -> tuple[Weights, np.ndarray, np.ndarray]:
        """Rows scaled to ``w'Rw = 1``.

        Returns ``(Ws, d, active)``: Ws (P, M) with inactive rows zero (same format as ``Wt``), d (P,)
        ``w'Rw`` of the given rows, active (P,) bool ``d > D_TOL * max d``."""
        d = self.row_quads(Wt)
        top = float(d.max()) if d.size else 0.0
        active = d > D_TOL * top if top > 0 else np.zeros(d.shape, dtype=bool)
        inv = np.zeros(d.size)
        inv[active] = 1.0 / np.sqrt(d[active])
        Ws = sp.csr_matrix(sp.diags(inv) @ Wt) if sp.issparse(Wt) else Wt * inv[:, None]
        if sp.issparse(Ws):
            Ws.eliminate_zeros()
        return Ws, d, active


class JointOperator:
    """``J = [[W'RW, W'R], [RW, R]]`` (pair diagonal 1) as a :class:`twasflow.susie.SymOperator`.

    Parameters
    ----------
    ld : the locus's :class:`LocusLD`. Ws : (Pa, M) standardized rows of W (``w'Rw = 1``; an all-zero row
        is an inactive pair: a zero column of J with unit diagonal). Sparse CSR or dense.
    """

    def __init__(self, ld: LocusLD, Ws: Weights) -> None:
        self.ld = ld
        self.Ws = Ws
        self.sparse = sp.issparse(Ws)
        self.WsT = Ws.T.tocsr() if self.sparse else None  # for W x_p (a CSR product is the fast one)
        self.Pa = Ws.shape[0]
        self.M = ld.M
        # rounding of w'Rw: the product uses the unit diagonal exactly, as a dense build does
        self._fix = 1.0 - ld.row_quads(Ws)
        self._diag = np.concatenate([np.ones(self.Pa), np.diag(ld.R)])

    @property
    def p(self) -> int:
        return self.Pa + self.M

    def diag(self) -> np.ndarray:
        return self._diag.copy()

    def weights_times(self, x_p: np.ndarray) -> np.ndarray:
        """(M,) ``W x_p`` for (Pa,) pair coefficients."""
        if self.sparse:
            return self.WsT @ x_p
        return x_p @ self.Ws

    def weights_t_times(self, u: np.ndarray) -> np.ndarray:
        """(Pa,) or (Pa, k) ``W' u`` for (M,) or (M, k) ``u``."""
        return self.Ws @ u

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """``J x`` for x (Pa + M,)."""
        Pa = self.Pa
        xp, xv = x[:Pa], x[Pa:]
        y = xv + self.weights_times(xp) if np.any(xp) else xv
        u = self.ld.mv(y)
        out = np.empty(Pa + self.M)
        out[:Pa] = self.weights_t_times(u)
        out[:Pa] += self._fix * xp
        out[Pa:] = u
        return out

    def columns(self, idx: np.ndarray) -> np.ndarray:
        """(M, k) columns of ``A = [W, I]`` for joint indices ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        C = np.zeros((self.M, idx.size))
        pair = idx < self.Pa
        if pair.any():
            rows = self.Ws[idx[pair]]
            C[:, pair] = (rows.toarray() if self.sparse else rows).T
        var = np.flatnonzero(~pair)
        C[idx[var] - self.Pa, var] = 1.0
        return C

    def block(self, idx: np.ndarray) -> np.ndarray:
        """``J[idx, idx]`` (pair diagonal 1): ``C' R C`` on the rows where the columns C are non-zero."""
        idx = np.asarray(idx, dtype=np.int64)
        C = self.columns(idx)
        rows = np.flatnonzero(np.any(C != 0, axis=1))
        Cr = C[rows]
        G = Cr.T @ (self.ld.R[np.ix_(rows, rows)] @ Cr)
        G = 0.5 * (G + G.T)
        pair = np.flatnonzero(idx < self.Pa)
        G[pair, pair] = 1.0
        return G

    def corr(self, idx: np.ndarray) -> np.ndarray:
        """Correlation submatrix on ``idx`` (credible-set purity)."""
        return corr_from_matrix(self.block(idx))(np.arange(np.asarray(idx).size))

    def is_psd(self, exact: bool = False) -> bool:
        return self.ld.prepared.is_psd(exact)

    @property
    def min_eigenvalue(self) -> float:
        return self.ld.prepared.min_eigenvalue

    def dense(self) -> np.ndarray:
        """The (Pa + M, Pa + M) matrix (small loci only: tests and checks; never used by the fits)."""
        return self.block(np.arange(self.p))

    @cached_property
    def R(self) -> np.ndarray:
        """:meth:`dense`, cached (the attribute name of :class:`twasflow.susie.PreparedR`)."""
        return self.dense()

    def joint_z(self, r: np.ndarray) -> np.ndarray:
        """``[W' r; r]`` for an (M,) z-scale vector r."""
        return np.concatenate([self.weights_t_times(r), r])

    def eta(self, b: np.ndarray) -> np.ndarray:
        """(M,) ``R (W b_p + b_v)`` for joint coefficients b (Pa + M,)."""
        return self.ld.mv(b[self.Pa:] + self.weights_times(b[: self.Pa]))


class JointSystem:
    """The joint system of one locus for fixed weights (TGVIS, cTWAS): the active pairs only.

    Parameters
    ----------
    z : (M,) GWAS z. R : (M, M) LD. B : (M, P) weights (array or sparse). eig_tol : R's column space.
    ld : an existing :class:`LocusLD` of R to share (its eigendecomposition is reused).
    weight_var : (P,) stage-1 weight variances ``tr(R Sigma_j)``: the pairs' Gram diagonal becomes
        ``d + weight_var`` (:mod:`twasflow.methods._weight_uncertainty`); None = fixed weights.

    Attributes
    ----------
    active : (P,) bool, pairs with ``d_j = B_j' R B_j > D_TOL * max d`` (modelled).
    d : (P,) ``B' R B`` diagonal.
    sd : (Pa,) ``sqrt(d)`` (``sqrt(d + weight_var)``) of the active pairs.
    joint : :class:`JointOperator` over the Pa active pairs then the M variants.
    Pa, M : sizes. ld : the :class:`LocusLD`; ``E`` its eigendecomposition (computed on first use).
    """

    def __init__(self, z: np.ndarray, R: np.ndarray, B: np.ndarray | sp.spmatrix, eig_tol: float = _inf.EIG_TOL,
                 ld: LocusLD | None = None, weight_var: np.ndarray | None = None) -> None:
        self.z, self.R = z, R
        self.ld = ld if ld is not None else LocusLD(R, eig_tol)
        Ws, d, active = self.ld.standardize(as_rows(B))
        self.d, self.active = d, active
        self.sd = np.sqrt(d[active])
        if weight_var is not None:  # expected Gram B'RB + diag(weight_var) (issue 22; _weight_uncertainty)
            Ws, sd = _weight_uncertainty.inflate(Ws, d, weight_var, active)
            self.sd = sd[active]
        self.joint = JointOperator(self.ld, Ws[np.flatnonzero(active)])
        self.Pa, self.M = self.joint.Pa, self.ld.M

    @property
    def E(self) -> _inf.LDEigen:
        return self.ld.E

    @cached_property
    def zPz(self) -> float:
        """``z' R^+ z`` (TGVIS eq. 16-21 denominators)."""
        return self.E.pinv_quad(self.z)

    @cached_property
    def Piz(self) -> np.ndarray:
        """z projected on R's column space."""
        return self.E.project(self.z)

    def joint_z(self, resid: np.ndarray) -> np.ndarray:
        """TGVIS eq. 7: ``(w_j' r)_j`` then ``r``."""
        return self.joint.joint_z(resid)

    def eta(self, b: np.ndarray, scale: float) -> np.ndarray:
        """``R (B theta + gamma)`` on the z scale from joint standardized effects b (Pa + M,)."""
        return scale * self.joint.eta(b)

    def UtC(self, sel: np.ndarray) -> np.ndarray:
        """``U' C`` for the selected joint variables (pair columns w_j, variant unit vectors)."""
        sel = np.asarray(sel, dtype=np.int64)
        if sel.size == 0:
            return np.zeros((self.M, 0))
        order = np.concatenate([sel[sel < self.Pa], sel[sel >= self.Pa]])
        C = self.joint.columns(order)
        rows = np.flatnonzero(np.any(C != 0, axis=1))  # C is sparse: only those rows of U are needed
        return self.E.U[rows].T @ C[rows]

