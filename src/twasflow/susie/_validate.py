"""Input checks shared by the SuSiE entry points. Every failure is a :class:`SusieError` naming the
argument, and for non-finite values the first offending (0-based) index."""

from __future__ import annotations

import numpy as np

from twasflow.errors import SusieError

SYMMETRY_TOL = 1e-8  # max |R_ij - R_ji| allowed, relative to max(1, max |diag R|)
_BLOCK = 512  # rows per block in matrix scans (bounds temporary memory to _BLOCK x p)


def as_vector(x, name: str, p: int | None = None, allow_nan: bool = False) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise SusieError.at(f"{name} must be a vector", column=name, found=f"shape {a.shape}",
                            expected="1-D array")
    if p is not None and a.size != p:
        raise SusieError.at(f"{name} has the wrong length", column=name, found=a.size, expected=p)
    bad = ~np.isfinite(a) if not allow_nan else np.isinf(a)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SusieError.at(f"{name} contains a non-finite value at index {i} (0-based)", column=name,
                            found=a[i], expected="finite numbers")
    return a


def as_square_matrix(M, name: str, p: int | None = None) -> np.ndarray:
    """float64 C-contiguous view (copy only when needed) of a finite square matrix."""
    a = np.asarray(M, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise SusieError.at(f"{name} must be a square matrix", column=name, found=f"shape {a.shape}",
                            expected="(p, p)" if p is None else f"({p}, {p})")
    if p is not None and a.shape[0] != p:
        raise SusieError.at(f"the dimension of {name} does not agree with the number of variables",
                            column=name, found=f"{a.shape[0]} x {a.shape[1]}", expected=f"{p} x {p}")
    if not a.flags.c_contiguous and not a.flags.f_contiguous:
        a = np.ascontiguousarray(a)
    if np.isfinite(a.sum()):  # one fast pass; locate the culprit only when something is off
        return a
    for i0 in range(0, a.shape[0], _BLOCK):
        blk = a[i0:i0 + _BLOCK]
        fin = np.isfinite(blk)
        if not fin.all():
            r, c = np.argwhere(~fin)[0]
            raise SusieError.at(f"{name} contains a non-finite value at [{i0 + r}, {c}] (0-based)",
                                column=name, found=blk[r, c], expected="finite numbers")
    return a


def max_asymmetry(a: np.ndarray) -> float:
    """max |a_ij - a_ji|, compared tile by tile (cache-friendly; one tile-sized buffer)."""
    p = a.shape[0]
    t = 128
    buf = np.empty((t, t))
    m = 0.0
    for i0 in range(0, p, t):
        for j0 in range(i0, p, t):
            A = a[i0:i0 + t, j0:j0 + t]
            o = buf[: A.shape[0], : A.shape[1]]
            np.subtract(A, a[j0:j0 + t, i0:i0 + t].T, out=o)
            np.abs(o, out=o)
            m = max(m, float(o.max()))
    return m


def check_symmetric(a: np.ndarray, name: str) -> None:
    scale = max(1.0, float(np.abs(np.diag(a)).max(initial=0.0)))
    asym = max_asymmetry(a)
    if asym > SYMMETRY_TOL * scale:
        raise SusieError.at(f"{name} is not symmetric", column=name, found=f"max |{name}_ij - {name}_ji| = {asym:.3g}",
                            expected=f"<= {SYMMETRY_TOL * scale:.3g}")


def check_int(x, name: str, lo: int) -> int:
    if isinstance(x, bool) or not float(x).is_integer() or int(x) < lo:
        raise SusieError.at(f"{name} must be an integer >= {lo}", column=name, found=x)
    return int(x)


def check_method(method: str) -> str:
    if method not in ("optim", "EM", "simple"):
        raise SusieError.at("unknown estimate_prior_method", column="estimate_prior_method", found=method,
                            expected="'optim', 'EM' or 'simple'")
    return method


def prior_weights_with_null(prior_weights, null_weight: float, p: int) -> tuple[np.ndarray, bool]:
    """Normalised prior weights (length p, or p + 1 with a null column) and whether a null column is used."""
    nw = float(null_weight or 0.0)
    if not 0.0 <= nw < 1.0:
        raise SusieError.at("null_weight must be in [0, 1)", column="null_weight", found=nw)
    if prior_weights is not None:
        pw = as_vector(prior_weights, "prior_weights", p)
        if np.any(pw < 0):
            raise SusieError.at("prior_weights must be non-negative", column="prior_weights")
    if nw > 0:
        pw = np.append((np.full(p, 1.0 / p) if prior_weights is None else pw) * (1 - nw), nw)
    elif prior_weights is None:
        return np.full(p, 1.0 / p), False
    if np.all(pw == 0):
        raise SusieError.at("prior weights must be > 0 for at least one variable", column="prior_weights")
    return pw / pw.sum(), nw > 0
