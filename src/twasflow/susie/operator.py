"""The symmetric matrix of a sufficient-statistics SuSiE fit as an operator.

IBSS needs only four things of X'X (or of R for SuSiE-RSS): its diagonal, products ``M @ x``, correlation
submatrices for credible-set purity, and a PSD check. Any object with those (:class:`SymOperator`) can
stand in for the dense matrix, e.g. a factored joint pair + variant system
(``twasflow.methods.joint.JointOperator``) that is never formed as a (p, p) array.

Numerical module: no I/O.
"""

from __future__ import annotations

import inspect
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.linalg.blas import dsymv as _dsymv

SPARSE_REL_TOL = 1e-14  # entries of b below this fraction of max|b| are left out of M @ b
_RUN_GAP = 8  # merge column runs separated by fewer zero columns (one 64-byte cache line)


class SymMatvec:
    """y = M x for a symmetric matrix M (not copied).

    Dense x: BLAS dsymv on one triangle (half the memory traffic of gemv; the product is memory-bound).
    x concentrated on a few variables (typical for alpha * mu once an effect has settled on an LD block):
    only the rows of M where |x_j| > SPARSE_REL_TOL * max|x|, in contiguous row runs (M symmetric, so
    M x = sum_j M[j, :] x_j). The neglected terms change (M x)_i by at most p * 1e-14 * max|x| * max|M|,
    far below the optimiser tolerances.
    """

    def __init__(self, M: np.ndarray) -> None:
        self.rows = M if M.flags.c_contiguous else M.T  # C-contiguous view (rows of M = columns)
        self.fort = self.rows.T  # Fortran-ordered view for BLAS (no copy)
        self.p = M.shape[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        ax = np.abs(x)
        mx = float(ax.max(initial=0.0))
        if mx == 0.0:
            return np.zeros(self.p)
        keep = ax > SPARSE_REL_TOL * mx
        if int(np.count_nonzero(keep)) > 0.5 * self.p:
            return _dsymv(1.0, self.fort, x, lower=1)
        edges = np.flatnonzero(np.diff(np.concatenate(([False], keep, [False])).astype(np.int8)))
        starts, ends = edges[0::2], edges[1::2]
        if starts.size > 1:
            join = (starts[1:] - ends[:-1]) < _RUN_GAP
            starts = np.concatenate(([starts[0]], starts[1:][~join]))
            ends = np.concatenate((ends[:-1][~join], [ends[-1]]))
        if 2 * int(np.sum(ends - starts)) > self.p:  # dsymv reads half the matrix
            return _dsymv(1.0, self.fort, x, lower=1)
        a, b = int(starts[0]), int(ends[0])
        y = x[a:b] @ self.rows[a:b]
        for a, b in zip(starts[1:].tolist(), ends[1:].tolist()):
            y += x[a:b] @ self.rows[a:b]
        return y


@runtime_checkable
class SymOperator(Protocol):
    """A symmetric PSD-like (p, p) matrix known through products.

    ``p``: size. ``diag()``: (p,) diagonal. ``matvec(x)``: (p,) ``M @ x``. ``corr(idx)``: the correlation
    (cov2cor) submatrix on ``idx`` with unit diagonal. ``is_psd(exact)``: as :meth:`PreparedR.is_psd`.
    ``min_eigenvalue``: the smallest eigenvalue of the matrix that decides ``is_psd`` (for messages).
    """

    @property
    def p(self) -> int: ...

    def diag(self) -> np.ndarray: ...

    def matvec(self, x: np.ndarray) -> np.ndarray: ...

    def corr(self, idx: np.ndarray) -> np.ndarray: ...

    def is_psd(self, exact: bool = False) -> bool: ...

    @property
    def min_eigenvalue(self) -> float: ...


_MEMBERS = ("p", "diag", "matvec", "corr", "is_psd", "min_eigenvalue")


def is_operator(R: object) -> bool:
    """True for a :class:`SymOperator` that is not a plain array (members looked up statically: no property
    is evaluated)."""
    if isinstance(R, np.ndarray):
        return False
    return all(inspect.getattr_static(R, m, None) is not None for m in _MEMBERS)


class DenseSym:
    """A dense symmetric matrix as a :class:`SymOperator` (not copied; products by :class:`SymMatvec`)."""

    def __init__(self, M: np.ndarray) -> None:
        self.M = M
        self.matvec = SymMatvec(M)

    @property
    def p(self) -> int:
        return self.M.shape[0]

    def diag(self) -> np.ndarray:
        return np.diag(self.M).copy()

    def corr(self, idx: np.ndarray) -> np.ndarray:
        from .ibss import corr_from_matrix

        return corr_from_matrix(self.M)(idx)

    def is_psd(self, exact: bool = False) -> bool:
        return self._prepared().is_psd(exact)

    @property
    def min_eigenvalue(self) -> float:
        return self._prepared().min_eigenvalue

    def _prepared(self):
        if not hasattr(self, "_P"):
            from .rss import PreparedR

            self._P = PreparedR(self.M)
        return self._P


def as_operator(M: np.ndarray | SymOperator) -> SymOperator:
    """``M`` itself when it is an operator, else a :class:`DenseSym` view of the array."""
    return M if is_operator(M) else DenseSym(np.asarray(M, dtype=np.float64))
