"""coloc-SuSiE: colocalisation of every credible set of one SuSiE fit with every credible set of another.

Each credible set contributes the single-effect log Bayes factors of its effect (one row of
``lbf_variable``); a pair of rows is combined exactly like two coloc-ABF datasets (coloc's
``coloc.bf_bf``), see ``docs/coloc.md`` for the pairing, overlap and trimming rules.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ._common import PP_COLUMNS, ColocError, check_prior, combine_log_bf, logsum

SUMMARY_COLUMNS = ("nsnps", "hit1", "hit2", *PP_COLUMNS, "idx1", "idx2")
DROPPED_COLUMNS = ("idx1", "idx2", "prop1", "prop2")


@dataclass
class ColocSusieResult:
    """Result of :func:`coloc_bf_bf` / :func:`coloc_susie`.

    ``summary``: one row per retained pair of signals, trait-1 signal varying fastest (coloc's order):
    ``nsnps`` (shared variants), ``hit1``/``hit2`` (shared variant with the largest log BF of each signal),
    ``PP.H0`` … ``PP.H4``, ``idx1``/``idx2`` (0-based row of the BF matrix for :func:`coloc_bf_bf`; 0-based
    SuSiE effect, i.e. ``CredibleSet.effect``, for :func:`coloc_susie`).
    ``results``: ``snp`` (shared variants) and ``SNP.PP.H4.row<k>`` for summary row k (1-based), the
    posterior that the variant is the shared causal one given H4.
    ``dropped``: pairs removed by the overlap rule (idx1, idx2, prop1, prop2).
    ``reason``: empty when ``summary`` has rows; otherwise why not ("no credible set in fit 1", …).
    """

    summary: pd.DataFrame
    results: pd.DataFrame
    priors: dict[str, float]
    reason: str = ""
    dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(DROPPED_COLUMNS)))

    @property
    def empty(self) -> bool:
        return len(self.summary) == 0

    def best(self) -> pd.Series | None:
        """The summary row with the largest PP.H4 (first on ties), or None when empty."""
        if self.empty:
            return None
        return self.summary.iloc[int(np.argmax(self.summary["PP.H4"].to_numpy()))]


def _empty(priors: dict[str, float], reason: str, snps: Sequence[str] = (),
           dropped: pd.DataFrame | None = None) -> ColocSusieResult:
    summary = pd.DataFrame({c: pd.Series(dtype=object if c in ("hit1", "hit2") else
                                         ("int64" if c in ("nsnps", "idx1", "idx2") else "float64"))
                            for c in SUMMARY_COLUMNS})
    res = ColocSusieResult(summary=summary, results=pd.DataFrame({"snp": pd.Series(list(snps), dtype=object)}),
                           priors=priors, reason=reason)
    if dropped is not None:
        res.dropped = dropped
    return res


def _bf_matrix(bf: Any, snps: Any, which: str) -> tuple[np.ndarray, np.ndarray]:
    B = np.asarray(bf, dtype=np.float64)
    if B.ndim == 1:
        B = B[None, :]
    if B.ndim != 2:
        raise ColocError.at(f"bf{which} must be a vector or a matrix (signals x variants)",
                            found=f"{B.ndim} dimensions", expected="1 or 2")
    if snps is None:
        names = np.arange(B.shape[1]).astype(str)
    else:
        names = np.asarray(snps, dtype=object).astype(str).ravel()
        if names.size != B.shape[1]:
            raise ColocError.at(f"snps{which} does not match the columns of bf{which}",
                                found=f"{names.size} names for {B.shape[1]} columns", expected="equal")
    dup = pd.Index(names).duplicated()
    if dup.any():
        raise ColocError.at(f"snps{which} has duplicated names", found=f"'{names[np.flatnonzero(dup)[0]]}'",
                            expected="unique names")
    if "null" in set(names):
        # coloc scales BFs so the null column is 0, then drops it
        k = int(np.flatnonzero(names == "null")[0])
        B = B - B[:, [k]]
        keep = np.arange(names.size) != k
        B, names = B[:, keep], names[keep]
    if B.shape[1] == 0:
        raise ColocError.at(f"bf{which} has no variant columns", expected="at least one variant")
    bad = np.argwhere(np.isnan(B))
    if bad.size:
        r, c = bad[0]
        raise ColocError.at(f"bf{which} contains missing values", row=int(r) + 1,
                            found=f"NaN at column '{names[c]}'", expected="finite log Bayes factors")
    return B, names


def coloc_bf_bf(
    bf1: Any,
    bf2: Any,
    snps1: Sequence[str] | None = None,
    snps2: Sequence[str] | None = None,
    p1: float = 1e-4,
    p2: float = 1e-4,
    p12: float = 5e-6,
    overlap_min: float = 0.5,
    trim_by_posterior: bool = True,
) -> ColocSusieResult:
    """Colocalise every signal (row) of ``bf1`` with every signal of ``bf2`` (coloc's ``coloc.bf_bf``).

    Parameters
    ----------
    bf1, bf2 : (K1, m1) and (K2, m2) log Bayes factors (natural log), one row per signal; a vector is one
        signal. A column named "null" (in ``snps``) is the no-effect model: rows are rescaled so it is 0 and
        it is dropped.
    snps1, snps2 : variant names of the columns; matched by name. Default: column numbers as strings
        (then the two matrices must describe the same variants in the same order).
    p1, p2, p12 : per-variant priors (trait 1 only, trait 2 only, both).
    overlap_min, trim_by_posterior : with trimming, a pair is skipped when either signal has less than
        ``overlap_min`` of its posterior mass (single-effect posterior over all of its own variants) on
        the shared variants.

    Returns
    -------
    ColocSusieResult. An empty summary (with ``reason``) when every pair was trimmed.

    Raises
    ------
    ColocError
        Malformed matrices, NaN log BFs, no shared variant names, priors outside (0, 1).
    """
    priors = {"p1": check_prior(p1, "p1"), "p2": check_prior(p2, "p2"), "p12": check_prior(p12, "p12")}
    B1, n1 = _bf_matrix(bf1, snps1, "1")
    B2, n2 = _bf_matrix(bf2, snps2, "2")
    j = pd.Index(n2).get_indexer(n1)
    c1 = np.flatnonzero(j >= 0)
    c2 = j[c1]
    if c1.size == 0:
        raise ColocError(
            f"the two sets of log Bayes factors share no variant names ({n1.size} variants, e.g. '{n1[0]}'; "
            f"{n2.size} variants, e.g. '{n2[0]}')", column="snp")
    shared = n1[c1]
    K1, K2 = B1.shape[0], B2.shape[0]
    # coloc's expand.grid order: signal of trait 1 varies fastest
    ii = np.tile(np.arange(K1), K2)
    jj = np.repeat(np.arange(K2), K1)

    if trim_by_posterior:
        prop1 = _shared_mass(B1, c1)
        prop2 = _shared_mass(B2, c2)
        drop = (prop1[ii] < overlap_min) | (prop2[jj] < overlap_min)
        dropped = pd.DataFrame({"idx1": ii[drop], "idx2": jj[drop], "prop1": prop1[ii[drop]],
                                "prop2": prop2[jj[drop]]})
        if drop.all():
            warnings.warn("snp overlap too small between datasets: too few variants with high posterior in one "
                          "trait are present in the other", stacklevel=2)
            return _empty(priors, f"overlap too small: no pair of signals has >= {overlap_min:g} of its "
                                  "posterior on shared variants", shared, dropped)
        ii, jj = ii[~drop], jj[~drop]
    else:
        dropped = pd.DataFrame(columns=list(DROPPED_COLUMNS))

    L1 = B1[:, c1]
    L2 = B2[:, c2]
    ls1 = logsum(L1, axis=1)  # (K1,)
    ls2 = logsum(L2, axis=1)  # (K2,)
    S = L1[ii] + L2[jj]  # (npairs, m)
    lsum = logsum(S, axis=1)
    pp = combine_log_bf(ls1[ii], ls2[jj], lsum, priors["p1"], priors["p2"], priors["p12"])
    snp_pp = np.exp(S - lsum[:, None])

    summary = pd.DataFrame({
        "nsnps": np.full(ii.size, shared.size, dtype=np.int64),
        "hit1": shared[np.argmax(L1, axis=1)][ii].astype(object),
        "hit2": shared[np.argmax(L2, axis=1)][jj].astype(object),
        **{c: pp[:, k] for k, c in enumerate(PP_COLUMNS)},
        "idx1": ii.astype(np.int64),
        "idx2": jj.astype(np.int64),
    })
    results = pd.DataFrame({"snp": shared.astype(object),
                            **{f"SNP.PP.H4.row{k + 1}": snp_pp[k] for k in range(ii.size)}})
    return ColocSusieResult(summary=summary, results=results, priors=priors, dropped=dropped)


def _shared_mass(B: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Fraction of each signal's single-effect posterior (uniform prior over its own variants) on ``cols``."""
    lse = logsum(B, axis=1)
    return np.exp(logsum(B[:, cols], axis=1) - lse)


def _fit_parts(fit: Any, which: str) -> tuple[np.ndarray, list[int]]:
    try:
        lbf = np.asarray(fit.lbf_variable, dtype=np.float64)
        sets = list(fit.sets)
    except AttributeError:
        raise ColocError.at(f"fit{which} is not a SuSiE fit", found=type(fit).__name__,
                            expected="an object with lbf_variable (L x p) and sets (credible sets)") from None
    if lbf.ndim != 2:
        raise ColocError.at(f"fit{which}.lbf_variable must be a matrix (effects x variants)",
                            found=f"{lbf.ndim} dimensions", expected="2")
    effects = [int(s.effect) for s in sets]
    null_index = getattr(fit, "null_index", None)
    if null_index is not None:
        lbf = np.delete(lbf - lbf[:, [int(null_index)]], int(null_index), axis=1)
    return lbf, effects


def coloc_susie(
    fit1: Any,
    fit2: Any,
    snps1: Sequence[str] | None = None,
    snps2: Sequence[str] | None = None,
    p1: float = 1e-4,
    p2: float = 1e-4,
    p12: float = 5e-6,
    overlap_min: float = 0.5,
    trim_by_posterior: bool = True,
) -> ColocSusieResult:
    """coloc-SuSiE (coloc's ``coloc.susie`` on two fitted models).

    Parameters
    ----------
    fit1, fit2 : :class:`twasflow.susie.SusieFit` (or any object with ``lbf_variable`` (L, p) and ``sets``,
        a list of objects with a 0-based ``effect``; an optional ``null_index`` column is removed after
        rescaling). Credible sets are taken in ``sets`` order.
    snps1, snps2 : (p,) variant names of each fit's columns (default: column numbers as strings).
    p1, p2, p12, overlap_min, trim_by_posterior : as in :func:`coloc_bf_bf`.

    Returns
    -------
    ColocSusieResult with ``idx1``/``idx2`` = 0-based SuSiE effects (rows of ``lbf_variable``). A fit without
    credible sets gives an empty summary and ``reason`` "no credible set in fit 1" (or 2) — never NaN.
    """
    priors = {"p1": check_prior(p1, "p1"), "p2": check_prior(p2, "p2"), "p12": check_prior(p12, "p12")}
    lbf1, e1 = _fit_parts(fit1, "1")
    lbf2, e2 = _fit_parts(fit2, "2")
    missing = [w for w, e in (("1", e1), ("2", e2)) if not e]
    if missing:
        return _empty(priors, "no credible set in fit " + " and fit ".join(missing))
    res = coloc_bf_bf(lbf1[e1], lbf2[e2], snps1, snps2, p1=p1, p2=p2, p12=p12, overlap_min=overlap_min,
                      trim_by_posterior=trim_by_posterior)
    map1, map2 = np.asarray(e1, dtype=np.int64), np.asarray(e2, dtype=np.int64)
    for frame in (res.summary, res.dropped):
        if len(frame):
            frame["idx1"] = map1[frame["idx1"].to_numpy(dtype=np.int64)]
            frame["idx2"] = map2[frame["idx2"].to_numpy(dtype=np.int64)]
    return res
