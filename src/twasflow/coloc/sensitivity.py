"""Prior sensitivity of a colocalisation result: PP.H0..H4 over a grid of p12 (coloc's ``sensitivity``).

The per-hypothesis priors for nsnps variants are (coloc's ``prior.snp2hyp``) H1: n·p1, H2: n·p2,
H3: n(n-1)·p1·p2, H4: n·p12, H0: 1 - their sum. A posterior at a new p12 is the old posterior times the
ratio of new to old hypothesis priors, renormalised (coloc's ``prior.adjust``).
"""

from __future__ import annotations

import operator
import re
from typing import Any, Callable

import numpy as np
import pandas as pd

from ._common import HYPOTHESES, PP_COLUMNS, ColocError
from .abf import ColocAbfResult
from .susie import ColocSusieResult

PRIOR_COLUMNS = tuple(f"prior.{h}" for h in HYPOTHESES)
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}
_CLAUSE = re.compile(r"^\s*(H[0-4])\s*(?:/\s*(H[0-4]))?\s*(>=|<=|>|<)\s*([0-9.eE+-]+)\s*$")


def hypothesis_priors(nsnps: int, p1: float, p2: float, p12: np.ndarray | float) -> np.ndarray:
    """(k, 5) prior probabilities of H0..H4 for each p12 (coloc's ``prior.snp2hyp``)."""
    p12 = np.atleast_1d(np.asarray(p12, dtype=np.float64))
    n = float(nsnps)
    h = np.column_stack([
        np.full_like(p12, n * p1), np.full_like(p12, n * p2), np.full_like(p12, n * (n - 1) * p1 * p2), n * p12,
    ])
    return np.column_stack([1.0 - h.sum(axis=1), h])


def parse_rule(rule: str | Callable[[pd.DataFrame], Any]) -> Callable[[pd.DataFrame], np.ndarray]:
    """A decision rule over a table with columns PP.H0..PP.H4 → boolean array.

    ``rule`` is a callable, or a string of clauses joined by ``&`` (or ``and``), each ``Hk OP x`` or
    ``Hk/Hj OP x`` with OP one of ``> >= < <=`` — e.g. ``"H4 > 0.5"``, ``"H4 > 0.9 & H4/H3 > 3"``
    (coloc's rule language, without arbitrary R expressions).
    """
    if callable(rule):
        return lambda t: np.asarray(rule(t), dtype=bool)
    if not isinstance(rule, str) or not rule.strip():
        raise ColocError.at("sensitivity rule is empty", found=repr(rule), expected="e.g. 'H4 > 0.5'")
    clauses = []
    for part in re.split(r"&|\band\b", rule):
        m = _CLAUSE.match(part)
        if m is None:
            raise ColocError.at("cannot parse sensitivity rule clause", found=repr(part.strip()),
                                expected="'Hk OP x' or 'Hk/Hj OP x', clauses joined by '&'")
        try:
            thr = float(m.group(4))
        except ValueError:
            raise ColocError.at("threshold is not a number", found=repr(m.group(4))) from None
        clauses.append((m.group(1), m.group(2), _OPS[m.group(3)], thr))

    def check(t: pd.DataFrame) -> np.ndarray:
        ok = np.ones(len(t), dtype=bool)
        for num, den, op, thr in clauses:
            v = t[f"PP.{num}"].to_numpy(dtype=np.float64)
            if den is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    v = v / t[f"PP.{den}"].to_numpy(dtype=np.float64)
            ok &= op(v, thr)
        return ok

    return check


def _summary_row(obj: Any, row: int) -> tuple[int, np.ndarray, dict[str, float]]:
    if isinstance(obj, ColocAbfResult):
        return int(obj.summary["nsnps"]), obj.pp, obj.priors
    if isinstance(obj, ColocSusieResult):
        if obj.empty:
            raise ColocError(f"no colocalisation rows to assess ({obj.reason})")
        if not 0 <= row < len(obj.summary):
            raise ColocError.at("row out of range", found=row, expected=f"0..{len(obj.summary) - 1}")
        r = obj.summary.iloc[row]
        return int(r["nsnps"]), r[list(PP_COLUMNS)].to_numpy(dtype=np.float64), obj.priors
    raise ColocError.at("sensitivity needs a coloc_abf or coloc_susie result", found=type(obj).__name__)


def sensitivity(
    obj: ColocAbfResult | ColocSusieResult,
    rule: str | Callable[[pd.DataFrame], Any] = "H4 > 0.5",
    *,
    row: int = 0,
    npoints: int = 100,
) -> pd.DataFrame:
    """PP.H0..H4 as a function of p12 (coloc's ``sensitivity``).

    Parameters
    ----------
    obj : a :func:`coloc_abf` result, or a :func:`coloc_susie` / :func:`coloc_bf_bf` result with ``row``
        the 0-based summary row.
    rule : decision rule (see :func:`parse_rule`); default "H4 > 0.5".
    npoints : grid size; p12 runs log-uniformly from p1·p2 to min(p1, p2), the logical limits.
    Draw it with :func:`twasflow.plots.coloc_sensitivity_plot` (this module writes no files).

    Returns
    -------
    DataFrame with ``npoints`` rows: ``p12``, ``prior.H0`` … ``prior.H4``, ``PP.H0`` … ``PP.H4``, ``pass``.
    The attribute ``attrs["pass_at_p12"]`` tells whether the rule passes at the result's own p12.
    """
    if int(npoints) < 2:
        raise ColocError.at("npoints too small", found=npoints, expected=">= 2")
    nsnps, pp, priors = _summary_row(obj, row)
    p1, p2, p12_0 = priors["p1"], priors["p2"], priors["p12"]
    check = parse_rule(rule)
    lo, hi = np.log10(p1 * p2), np.log10(min(p1, p2))
    grid = 10.0 ** np.linspace(lo, hi, int(npoints))
    grid[0], grid[-1] = p1 * p2, min(p1, p2)  # exact ends: 10**log10(x) can stray below p1*p2
    H = hypothesis_priors(nsnps, p1, p2, grid)
    H0 = hypothesis_priors(nsnps, p1, p2, p12_0)
    with np.errstate(divide="ignore", invalid="ignore"):
        post = pp[None, :] * H / H0
        post = post / post.sum(axis=1, keepdims=True)
    table = pd.DataFrame({"p12": grid, **{c: H[:, k] for k, c in enumerate(PRIOR_COLUMNS)},
                          **{c: post[:, k] for k, c in enumerate(PP_COLUMNS)}})
    table["pass"] = check(table)
    table.attrs["pass_at_p12"] = bool(check(pd.DataFrame([dict(zip(PP_COLUMNS, pp))]))[0])
    table.attrs["rule"] = rule if isinstance(rule, str) else getattr(rule, "__name__", "callable")
    table.attrs["p12"] = p12_0
    return table
