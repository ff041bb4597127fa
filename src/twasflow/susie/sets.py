"""Credible sets, purity and PIPs from a SuSiE fit (susieR ``susie_get_cs`` / ``get_purity`` /
``susie_get_pip`` semantics, 0-based indices)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

# correlation submatrix for a list of variable indices (|r| is taken by the caller)
CorrFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class CredibleSet:
    """One credible set.

    ``variables`` are 0-based variable indices in increasing order; ``effect`` is the 0-based row of
    ``alpha`` the set comes from; purity is the min / mean / median absolute correlation over pairs of
    variables in the set (1 for a single variable; -9 when the set holds the null column);
    ``log10bf`` is the effect's log10 Bayes factor.
    """

    variables: np.ndarray
    coverage: float
    purity_min: float
    purity_mean: float
    purity_median: float
    effect: int
    log10bf: float

    @property
    def name(self) -> str:
        """susieR's name for the set ("L<1-based effect>")."""
        return f"L{self.effect + 1}"


def in_cs(alpha_row: np.ndarray, coverage: float) -> np.ndarray:
    """Smallest set of variables (0-based, sorted) whose alpha sums to at least ``coverage``.

    Ties keep the lower index first, like R's stable ``order(decreasing = TRUE)``.
    """
    order = np.argsort(-alpha_row, kind="stable")
    csum = np.cumsum(alpha_row[order])
    n = min(int(np.sum(csum < coverage)) + 1, alpha_row.size)
    return np.sort(order[:n])


def purity(idx: np.ndarray, corr: CorrFn, n_purity: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """(min, mean, median) |r| over the pairs of ``idx``; at most ``n_purity`` variables are used
    (sampled without replacement when the set is larger, as susieR does, but with numpy's RNG)."""
    if idx.size == 1:
        return 1.0, 1.0, 1.0
    if idx.size > n_purity:
        idx = rng.choice(idx, size=n_purity, replace=False)
    c = np.abs(corr(idx))
    iu = np.triu_indices(idx.size, k=1)
    v = c[iu]
    return float(v.min()), float(v.sum() / v.size), float(np.median(v))


def get_cs(
    alpha: np.ndarray,
    V: np.ndarray | None,
    lbf: np.ndarray,
    *,
    coverage: float = 0.95,
    min_abs_corr: float = 0.5,
    corr: CorrFn | None = None,
    null_index: int | None = None,
    dedup: bool = True,
    n_purity: int = 100,
    seed: int = 0,
) -> list[CredibleSet]:
    """Credible sets of a fit, ordered by decreasing purity (stable), as ``susie_get_cs``.

    Effects with ``V <= 1e-9`` and duplicated sets are dropped. Without ``corr`` no purity filter is
    applied (purity fields are NaN) and sets stay in effect order.

    Note: susieR 0.12.35 reports ``coverage`` re-ordered with the purity ordering but not subset to the
    pure sets, so its coverage values are misaligned when an impure set is dropped; we report each
    set's own coverage.
    """
    L = alpha.shape[0]
    include = np.ones(L, dtype=bool) if V is None else (np.asarray(V) > 1e-9)
    sets = [in_cs(alpha[i], coverage) for i in range(L)]
    seen: set[bytes] = set()
    keep = []
    for i, s in enumerate(sets):
        key = s.tobytes()
        dup = key in seen
        seen.add(key)
        if include[i] and s.size > 0 and not (dedup and dup):
            keep.append(i)
    rng = np.random.default_rng(seed)
    out: list[CredibleSet] = []
    for i in keep:
        s = sets[i]
        cov = float(alpha[i, s].sum())
        l10 = float(lbf[i] / np.log(10.0)) if lbf is not None else float("nan")
        if corr is None:
            out.append(CredibleSet(s, cov, np.nan, np.nan, np.nan, i, l10))
            continue
        if null_index is not None and null_index in s:
            pur = (-9.0, -9.0, -9.0)
        else:
            pur = purity(s, corr, n_purity, rng)
        if pur[0] >= min_abs_corr:
            out.append(CredibleSet(s, cov, pur[0], pur[1], pur[2], i, l10))
    if corr is not None:
        order = np.argsort(-np.array([c.purity_min for c in out]), kind="stable")
        out = [out[k] for k in order]
    return out


def get_pip(
    alpha: np.ndarray,
    V: np.ndarray | None,
    *,
    prior_tol: float = 1e-9,
    null_index: int | None = None,
    cs_effects: list[int] | None = None,
    prune_by_cs: bool = False,
) -> np.ndarray:
    """PIP_j = 1 - prod_l (1 - alpha_lj) over effects with ``V > prior_tol`` (and, with
    ``prune_by_cs``, only effects that gave a credible set). The null column is dropped."""
    a = alpha
    if null_index is not None:
        a = np.delete(a, null_index, axis=1)
    inc = np.arange(a.shape[0]) if V is None else np.flatnonzero(np.asarray(V) > prior_tol)
    if prune_by_cs:
        inc = np.intersect1d(inc, np.asarray(cs_effects if cs_effects else [], dtype=int))
    if inc.size == 0:
        return np.zeros(a.shape[1])
    return 1.0 - np.prod(1.0 - a[inc], axis=0)
