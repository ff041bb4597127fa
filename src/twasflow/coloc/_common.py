"""Shared pieces of the coloc module: the error type, log-space sums and the five-hypothesis combination."""

from __future__ import annotations

import warnings

import numpy as np

from twasflow.errors import InputError

HYPOTHESES = ("H0", "H1", "H2", "H3", "H4")
PP_COLUMNS = tuple(f"PP.{h}" for h in HYPOTHESES)


class ColocError(InputError):
    """Invalid input to a colocalisation function (missing or inconsistent dataset items, no shared variants…)."""


def logsum(x: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """log(sum(exp(x))) with the maximum taken out, so large log Bayes factors do not overflow.

    ``-inf`` entries contribute nothing; an all ``-inf`` input gives ``-inf``.
    """
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return float(out) if out.ndim == 0 else out


def logdiff(x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray | float:
    """log(exp(x) - exp(y)), clamped at log(0) = -inf when rounding makes the difference negative."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    m = np.maximum(x, y)
    d = np.maximum(np.exp(x - m) - np.exp(y - m), 0.0)
    with np.errstate(divide="ignore"):
        out = m + np.log(d)
    return float(out) if out.ndim == 0 else out


def combine_log_bf(
    ls1: np.ndarray,
    ls2: np.ndarray,
    lsum: np.ndarray,
    p1: float,
    p2: float,
    p12: float,
) -> np.ndarray:
    """Posterior probabilities of H0..H4 from per-trait and joint log-sums of per-variant log BFs.

    With l1, l2 the per-variant log ABFs over the same variants: ``ls1 = logsum(l1)``,
    ``ls2 = logsum(l2)``, ``lsum = logsum(l1 + l2)``. The unnormalised log posteriors are (coloc's
    ``combine.abf``) H0: 0; H1: log p1 + ls1; H2: log p2 + ls2; H3: log p1 + log p2 +
    log(exp(ls1 + ls2) - exp(lsum)) (all ordered pairs of distinct variants); H4: log p12 + lsum.

    Inputs broadcast; the result has a trailing axis of length 5 (PP.H0..PP.H4).
    """
    ls1, ls2, lsum = np.broadcast_arrays(
        np.asarray(ls1, dtype=np.float64), np.asarray(ls2, dtype=np.float64), np.asarray(lsum, dtype=np.float64)
    )
    lp1, lp2, lp12 = np.log(p1), np.log(p2), np.log(p12)
    lh = np.stack(
        [
            np.zeros_like(ls1),
            lp1 + ls1,
            lp2 + ls2,
            lp1 + lp2 + logdiff(ls1 + ls2, lsum),
            lp12 + lsum,
        ],
        axis=-1,
    )
    denom = logsum(lh, axis=-1)
    return np.exp(lh - np.expand_dims(denom, -1))


def adjust_prior(p: float, nsnps: int, name: str) -> float:
    """coloc's guard for very large regions: when ``nsnps * p >= 1`` use ``1 / (nsnps + 1)`` (with a warning)."""
    if nsnps * p >= 1:
        warnings.warn(f"{name} * nsnps >= 1 ({name}={p:g}, nsnps={nsnps}); using {name}=1/(nsnps+1)", stacklevel=3)
        return 1.0 / (nsnps + 1)
    return float(p)


def check_prior(value: float, name: str) -> float:
    """A prior probability must be a finite number in (0, 1)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ColocError.at(f"prior {name} is not a number", found=repr(value),
                            expected="a probability in (0, 1)") from None
    if not (0.0 < v < 1.0):
        raise ColocError.at(f"prior {name} out of range", found=v, expected="a probability in (0, 1)")
    return v
