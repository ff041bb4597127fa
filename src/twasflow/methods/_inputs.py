"""Validation of one locus's inputs shared by the fine-mapping methods (TGVIS, cTWAS, TGFM).

Numerical module: no I/O; bad input raises :class:`twasflow.errors.InputError` naming the argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twasflow.errors import InputError


def locus_arrays(z: Any, R: Any, n: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """Checked ``z`` (M,) float64, ``R`` (M, M) C-contiguous float64 and the GWAS sample size.

    ``n`` may be a scalar or per variant; the median is used and must exceed 2.
    """
    zz = np.asarray(z, dtype=np.float64).reshape(-1)
    M = zz.size
    bad = np.flatnonzero(~np.isfinite(zz))
    if bad.size:
        raise InputError.at("GWAS z must be finite", column="z", row=int(bad[0]) + 1, found=zz[bad[0]],
                            expected="a finite number")
    RR = np.ascontiguousarray(np.asarray(R, dtype=np.float64))
    if RR.shape != (M, M):
        raise InputError.at("LD matrix has the wrong shape", column="R", found=RR.shape, expected=(M, M))
    if not np.all(np.isfinite(RR)):
        i, k = np.argwhere(~np.isfinite(RR))[0]
        raise InputError.at(f"LD matrix has a non-finite entry at [{i}, {k}] (0-based)", column="R",
                            found=RR[i, k], expected="finite correlations")
    nn = np.asarray(n, dtype=np.float64).reshape(-1)
    if nn.size == 0 or not np.all(np.isfinite(nn)):
        raise InputError.at("GWAS sample size must be finite", column="n", found=n)
    n_eff = float(np.median(nn))
    if not n_eff > 2:
        raise InputError.at("GWAS sample size must exceed 2", column="n", found=n_eff, expected="> 2")
    return zz, RR, n_eff


def weight_matrix(B: Any, M: int) -> np.ndarray:
    """Checked stage-1 weights (M, P) float64 (a vector is one pair); non-finite entries become 0 (no weight)."""
    BB = np.asarray(B, dtype=np.float64)
    if BB.ndim == 1:
        BB = BB[:, None]
    if BB.ndim != 2 or BB.shape[0] != M:
        raise InputError.at("weight matrix B must be M x P", column="B", found=BB.shape, expected=f"({M}, P)")
    return np.where(np.isfinite(BB), BB, 0.0)
