"""coloc-ABF: approximate Bayes factors per variant, single-trait fine-mapping and two-trait colocalisation.

Semantics follow coloc 5.2.3 (``coloc.abf``, ``finemap.abf``, ``process.dataset``, ``check_dataset``,
``approx.bf.estimates``, ``approx.bf.p``, ``sdY.est``), see ``docs/coloc.md``. A dataset is a mapping (or a
DataFrame) with coloc's item names:

========  ==========================================================================================
item      meaning
========  ==========================================================================================
snp       variant names (required; used to match the two datasets)
type      "quant" or "cc" (required)
beta      effect estimates; with ``varbeta`` (their variances, se^2) the preferred input
pvalues   two-sided p-values; used with MAF and N when beta/varbeta are absent
MAF       minor allele frequency, strictly in (0, 1)
N         sample size (scalar, or one per variant)
s         fraction of cases (case-control; required with p-values)
sdY       trait standard deviation (quant); estimated from varbeta, MAF and N when absent
position  optional positions, carried into the results
========  ==========================================================================================
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ._common import PP_COLUMNS, ColocError, adjust_prior, check_prior, combine_log_bf, logsum

VECTOR_ITEMS = ("beta", "varbeta", "pvalues", "MAF", "position")
SCALAR_ITEMS = ("type", "s", "sdY")
RECOGNISED = ("snp", "N", *VECTOR_ITEMS, *SCALAR_ITEMS)

SD_PRIOR_QUANT = 0.15  # prior SD of a per-allele effect, in units of sdY
SD_PRIOR_CC = 0.2  # prior SD of a per-allele log odds ratio


@dataclass
class Dataset:
    """A validated coloc dataset (arrays of length m, float64; ``N`` scalar or (m,))."""

    label: str
    type: str
    snp: np.ndarray
    beta: np.ndarray | None = None
    varbeta: np.ndarray | None = None
    pvalues: np.ndarray | None = None
    MAF: np.ndarray | None = None
    N: np.ndarray | float | None = None
    s: float | None = None
    sdY: float | None = None
    position: np.ndarray | None = None

    @property
    def uses_estimates(self) -> bool:
        return self.beta is not None and self.varbeta is not None

    def __len__(self) -> int:
        return int(self.snp.shape[0])


@dataclass
class ColocAbfResult:
    """Result of :func:`coloc_abf`.

    ``summary``: ``nsnps`` and ``PP.H0`` … ``PP.H4``. ``results``: one row per shared variant, in dataset 1's
    order: ``snp``, [``position``], then per dataset ``V``, ``z``, ``r``, ``lABF`` (suffix ``.df1`` / ``.df2``;
    also ``pvalues``, ``MAF``, ``N`` for a dataset given by p-values), ``internal.sum.lABF`` and
    ``SNP.PP.H4`` (posterior that the variant is the shared causal one, given H4). ``priors``: p1, p2, p12
    as used (after coloc's large-region adjustment). ``sdY``: the sdY each dataset used (given or estimated;
    None for case-control or p-value input).
    """

    summary: dict[str, float]
    results: pd.DataFrame
    priors: dict[str, float]
    sdY: dict[str, float | None] = field(default_factory=dict)

    @property
    def pp(self) -> np.ndarray:
        """(5,) PP.H0..PP.H4."""
        return np.array([self.summary[c] for c in PP_COLUMNS])


# -- dataset validation ------------------------------------------------------------------------------


def _err(label: str, what: str, *, column: str | None = None, row: int | None = None,
         found: Any = None, expected: Any = None) -> ColocError:
    e = ColocError.at(what, column=column, row=row, found=found, expected=expected)
    return ColocError(f"dataset {label}: {e}", column=column, row=row, found=found, expected=expected)


def _items(d: Any, label: str) -> dict[str, Any]:
    if isinstance(d, pd.DataFrame):
        out: dict[str, Any] = {}
        for c in d.columns:
            if c in SCALAR_ITEMS:
                u = pd.unique(d[c].dropna())
                if len(u) > 1:
                    raise _err(label, "a per-dataset item varies between rows", column=str(c),
                               found=f"{len(u)} distinct values", expected="one value")
                out[c] = u[0] if len(u) else None
            else:
                out[c] = d[c].to_numpy()
        return out
    if isinstance(d, Mapping):
        return dict(d)
    raise _err(label, "is not a dict or a DataFrame", found=type(d).__name__, expected="a mapping of coloc items")


def _as_vector(label: str, key: str, v: Any) -> np.ndarray:
    if np.isscalar(v) or v is None:
        v = [v]
    a = np.asarray(v)
    if a.dtype.kind in "biuf":
        return a.astype(np.float64, copy=False).ravel()
    try:  # lists from JSON (None for NA) or object columns
        return pd.to_numeric(pd.Series(a.astype(object).ravel()), errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise _err(label, "holds non-numeric values", column=key, expected="numbers") from None


def _check_missing(label: str, key: str, a: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        what = "is all missing" if bad.size == a.size else "contains missing or non-finite values"
        raise _err(label, what, column=key, row=int(bad[0]) + 1,
                   found=f"{bad.size} of {a.size} values missing or non-finite", expected="no missing values")


def parse_dataset(d: Any, label: str = "1") -> Dataset:
    """Validate one coloc dataset (coloc's ``check_dataset`` rules, with clearer messages).

    Raises
    ------
    ColocError
        Missing ``type``/``snp``; unknown type; vector items of different lengths; missing values;
        duplicated snp names; MAF outside (0, 1); ``s`` outside (0, 1); non-positive varbeta, N or sdY;
        p-values outside (0, 1]; no usable combination of items (beta + varbeta, or pvalues + MAF + N);
        ``s`` missing for case-control p-values; a quantitative trait with neither sdY nor MAF + N.
    """
    items = _items(d, label)
    for req in ("type", "snp"):
        if items.get(req) is None:
            raise _err(label, f"missing required item '{req}'", column=req,
                       expected="'type' ('quant' or 'cc') and 'snp' (variant names)")
    typ = items["type"]
    if isinstance(typ, (list, tuple, np.ndarray)):
        typ = typ[0] if len(typ) == 1 else typ
    if not isinstance(typ, str) or typ not in ("quant", "cc"):
        raise _err(label, "unknown trait type", column="type", found=repr(typ), expected="'quant' or 'cc'")

    snp_raw = np.asarray(items["snp"], dtype=object).ravel()
    if snp_raw.size == 0:
        raise _err(label, "has no variants", column="snp", expected="at least one variant")
    miss = np.flatnonzero(pd.isna(snp_raw))
    if miss.size:
        raise _err(label, "contains missing values", column="snp", row=int(miss[0]) + 1,
                   found=f"{miss.size} of {snp_raw.size} names missing", expected="no missing values")
    snp = snp_raw.astype(str)

    vec: dict[str, np.ndarray] = {}
    lengths = {"snp": snp.size}
    for key in VECTOR_ITEMS:
        if items.get(key) is not None:
            vec[key] = _as_vector(label, key, items[key])
            lengths[key] = vec[key].size
    if len(set(lengths.values())) > 1:
        raise _err(label, "lengths of per-variant items do not match",
                   found=", ".join(f"{k}: {n}" for k, n in lengths.items()), expected="equal lengths")
    for key, a in vec.items():
        _check_missing(label, key, a)

    dup = pd.Index(snp).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise _err(label, "duplicated snp names", column="snp", row=i + 1,
                   found=f"{int(dup.sum())} duplicates, first '{snp[i]}'", expected="unique names")

    N: np.ndarray | float | None = None
    if items.get("N") is not None:
        Nv = _as_vector(label, "N", items["N"])
        if Nv.size not in (1, snp.size):
            raise _err(label, "length of N does not match", column="N", found=Nv.size,
                       expected=f"1 or {snp.size}")
        _check_missing(label, "N", Nv)
        if np.any(Nv <= 0):
            raise _err(label, "sample size must be positive", column="N", found=float(Nv.min()), expected="N > 0")
        N = float(Nv[0]) if Nv.size == 1 else Nv

    s = _scalar(label, "s", items.get("s"))
    if s is not None and not (0.0 < s < 1.0):
        raise _err(label, "case fraction out of range", column="s", found=s, expected="0 < s < 1")
    sdY = _scalar(label, "sdY", items.get("sdY"))
    if sdY is not None and not sdY > 0:
        raise _err(label, "trait sd must be positive", column="sdY", found=sdY, expected="sdY > 0")

    maf = vec.get("MAF")
    if maf is not None and np.any((maf <= 0) | (maf >= 1)):
        i = int(np.flatnonzero((maf <= 0) | (maf >= 1))[0])
        raise _err(label, "MAF out of range", column="MAF", row=i + 1, found=float(maf[i]),
                   expected="0 < MAF < 1")

    ds = Dataset(label=label, type=typ, snp=snp, beta=vec.get("beta"), varbeta=vec.get("varbeta"),
                 pvalues=vec.get("pvalues"), MAF=maf, N=N, s=s, sdY=sdY, position=vec.get("position"))

    if ds.uses_estimates:
        vb = ds.varbeta
        assert vb is not None
        if np.any(vb <= 0):
            i = int(np.flatnonzero(vb <= 0)[0])
            raise _err(label, "varbeta must be positive", column="varbeta", row=i + 1, found=float(vb[i]),
                       expected="varbeta > 0 (the squared standard error)")
        if typ == "quant" and sdY is None and (maf is None or N is None):
            raise _err(label, "quantitative trait without sdY",
                       expected="sdY, or MAF and N so that sdY can be estimated")
        return ds

    # no beta/varbeta: the p-value path
    if ds.pvalues is None or maf is None or N is None:
        if (ds.beta is None) != (ds.varbeta is None):
            have, lack = ("beta", "varbeta") if ds.varbeta is None else ("varbeta", "beta")
            raise _err(label, f"'{have}' given without '{lack}'", column=lack,
                       expected="both beta and varbeta (se^2), or pvalues + MAF + N")
        missing = [k for k, v in (("pvalues", ds.pvalues), ("MAF", maf), ("N", N)) if v is None]
        raise _err(label, "not enough items to compute Bayes factors", found=f"missing {', '.join(missing)}",
                   expected="beta + varbeta (+ sdY or MAF + N for quant), or pvalues + MAF + N")
    p = ds.pvalues
    if np.any((p <= 0) | (p > 1)):
        i = int(np.flatnonzero((p <= 0) | (p > 1))[0])
        raise _err(label, "p-value out of range", column="pvalues", row=i + 1, found=float(p[i]),
                   expected="0 < p <= 1")
    if typ == "cc" and s is None:
        raise _err(label, "case-control p-values need the case fraction", column="s",
                   expected="s, the proportion of samples that are cases")
    return ds


def _scalar(label: str, key: str, v: Any) -> float | None:
    if v is None:
        return None
    a = np.asarray(v, dtype=object).ravel()
    if a.size != 1:
        raise _err(label, "must be a single number", column=key, found=f"{a.size} values", expected="one value")
    try:
        x = float(a[0])
    except (TypeError, ValueError):
        raise _err(label, "is not a number", column=key, found=repr(a[0])) from None
    if not np.isfinite(x):
        raise _err(label, "is missing or not finite", column=key, found=x, expected="a finite number")
    return x


# -- Bayes factors -----------------------------------------------------------------------------------


def sdY_est(varbeta: np.ndarray, maf: np.ndarray, n: np.ndarray | float, label: str = "1") -> float:
    """Trait SD from var(beta) ≈ var(Y) / (n · 2f(1-f)): least squares through the origin of
    ``2 n f (1-f)`` on ``1/varbeta``; the slope estimates var(Y) (coloc's ``sdY.est``)."""
    x = 1.0 / np.asarray(varbeta, dtype=np.float64)
    y = 2.0 * np.asarray(n, dtype=np.float64) * maf * (1.0 - maf)
    cf = float(np.dot(x, y) / np.dot(x, x))
    if cf < 0:
        raise _err(label, "estimated sdY is negative (small dataset or errors in varbeta/MAF)",
                   expected="give sdY directly")
    return float(np.sqrt(cf))


def labf_from_z(z: np.ndarray, V: np.ndarray | float, sd_prior: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wakefield's log approximate Bayes factor: with W = sd_prior^2 and shrinkage r = W / (W + V),
    lABF = (log(1 - r) + r z^2) / 2. Returns (r, lABF)."""
    W = np.asarray(sd_prior, dtype=np.float64) ** 2
    V = np.asarray(V, dtype=np.float64)
    r = W / (W + V)
    return r, 0.5 * (np.log1p(-r) + r * np.asarray(z, dtype=np.float64) ** 2)


def dataset_bf(ds: Dataset) -> tuple[dict[str, np.ndarray], float | None]:
    """Per-variant ``V, z, r, lABF`` for one dataset (plus ``pvalues, MAF, N`` on the p-value path).

    Returns the columns (input order) and the sdY used (None when not applicable).
    """
    if ds.uses_estimates:
        assert ds.beta is not None and ds.varbeta is not None
        sdY: float | None = None
        if ds.type == "quant":
            if ds.sdY is not None:
                sdY = ds.sdY
            else:
                warnings.warn(f"dataset {ds.label}: estimating sdY from MAF and varbeta; give sdY if known",
                              stacklevel=3)
                assert ds.MAF is not None and ds.N is not None
                sdY = sdY_est(ds.varbeta, ds.MAF, ds.N, ds.label)
            sd_prior = SD_PRIOR_QUANT * sdY
        else:
            sd_prior = SD_PRIOR_CC
        z = ds.beta / np.sqrt(ds.varbeta)
        r, labf = labf_from_z(z, ds.varbeta, sd_prior)
        return {"V": ds.varbeta, "z": z, "r": r, "lABF": labf}, sdY
    assert ds.pvalues is not None and ds.MAF is not None and ds.N is not None
    f, N = ds.MAF, np.broadcast_to(np.asarray(ds.N, dtype=np.float64), ds.MAF.shape)
    vx = 2.0 * N * f * (1.0 - f)
    if ds.type == "quant":
        V, sd_prior = 1.0 / vx, SD_PRIOR_QUANT
    else:
        assert ds.s is not None
        V, sd_prior = 1.0 / (vx * ds.s * (1.0 - ds.s)), SD_PRIOR_CC
    z = -ndtri(0.5 * ds.pvalues)  # upper-tail normal quantile of p/2
    r, labf = labf_from_z(z, V, sd_prior)
    return {"pvalues": ds.pvalues, "MAF": f, "N": np.array(N), "V": V, "z": z, "r": r, "lABF": labf}, None


# -- public API --------------------------------------------------------------------------------------


def coloc_abf(d1: Any, d2: Any, p1: float = 1e-4, p2: float = 1e-4, p12: float = 1e-5) -> ColocAbfResult:
    """Colocalisation of two traits under one causal variant per trait (coloc's ``coloc.abf``).

    Parameters
    ----------
    d1, d2 : coloc datasets (mappings or DataFrames; see the module docstring). Variants are matched by
        ``snp`` name; only shared variants enter the analysis (in dataset 1's order).
    p1, p2 : prior probability that a variant is causal for trait 1 / trait 2 only.
    p12 : prior probability that a variant is causal for both traits.

    Returns
    -------
    ColocAbfResult (``summary``: nsnps, PP.H0..PP.H4; ``results``: per-variant table; ``priors``; ``sdY``).

    Raises
    ------
    ColocError
        Invalid datasets (see :func:`parse_dataset`), no shared variant names, positions that disagree for
        a shared name, priors outside (0, 1).
    """
    p1, p2, p12 = check_prior(p1, "p1"), check_prior(p2, "p2"), check_prior(p12, "p12")
    ds1, ds2 = parse_dataset(d1, "1"), parse_dataset(d2, "2")
    f1, sd1 = dataset_bf(ds1)
    f2, sd2 = dataset_bf(ds2)
    p1 = adjust_prior(p1, len(ds1), "p1")
    p2 = adjust_prior(p2, len(ds2), "p2")

    j = pd.Index(ds2.snp).get_indexer(ds1.snp)
    i1 = np.flatnonzero(j >= 0)
    i2 = j[i1]
    if i1.size == 0:
        raise ColocError(
            f"dataset 1 and dataset 2 share no variant names (dataset 1: {len(ds1)} variants, e.g. "
            f"'{ds1.snp[0]}'; dataset 2: {len(ds2)} variants, e.g. '{ds2.snp[0]}'); variants are matched by 'snp'",
            column="snp",
        )
    p12 = adjust_prior(p12, i1.size, "p12")

    cols: dict[str, np.ndarray] = {"snp": ds1.snp[i1].astype(object)}
    if ds1.position is not None and ds2.position is not None:
        pa, pb = ds1.position[i1], ds2.position[i2]
        bad = np.flatnonzero(pa != pb)
        if bad.size:
            k = int(bad[0])
            raise ColocError(
                f"datasets disagree on the position of {bad.size} shared variant(s), e.g. '{ds1.snp[i1[k]]}' "
                f"(dataset 1 row {i1[k] + 1}: {pa[k]:g}; dataset 2 row {i2[k] + 1}: {pb[k]:g})",
                column="position",
            )
    if ds1.position is not None:
        cols["position"] = ds1.position[i1]
    elif ds2.position is not None:
        cols["position"] = ds2.position[i2]
    for f, idx, suf in ((f1, i1, "df1"), (f2, i2, "df2")):
        for c, v in f.items():
            cols[f"{c}.{suf}"] = v[idx]
    l1, l2 = cols["lABF.df1"], cols["lABF.df2"]
    lsum = l1 + l2
    cols["internal.sum.lABF"] = lsum
    ls12 = logsum(lsum)
    cols["SNP.PP.H4"] = np.exp(lsum - ls12)
    res = pd.DataFrame(cols)
    pp = combine_log_bf(logsum(l1), logsum(l2), ls12, p1, p2, p12)
    summary = {"nsnps": int(i1.size), **{c: float(v) for c, v in zip(PP_COLUMNS, pp)}}
    return ColocAbfResult(summary=summary, results=res, priors={"p1": p1, "p2": p2, "p12": p12},
                          sdY={"1": sd1, "2": sd2})


def finemap_abf(d: Any, p1: float = 1e-4) -> pd.DataFrame:
    """Single-trait fine-mapping under one causal variant (coloc's ``finemap.abf``).

    Returns one row per variant (input order) and a final row ``snp == "null"`` for "no causal variant":
    ``snp``, [``position``], ``V, z, r, lABF`` (NaN on the null row except ``lABF = 0``), ``prior``
    (p1 per variant, 1 - nsnps·p1 for the null) and ``SNP.PP`` (posterior; sums to 1 over all rows).
    """
    p1 = check_prior(p1, "p1")
    ds = parse_dataset(d, "1")
    f, _ = dataset_bf(ds)
    m = len(ds)
    p1 = adjust_prior(p1, m, "p1")
    cols: dict[str, np.ndarray] = {"snp": np.append(ds.snp, "null").astype(object)}
    if ds.position is not None:
        cols["position"] = np.append(ds.position, np.nan)
    for c, v in f.items():
        cols[c] = np.append(v.astype(np.float64), np.nan)
    cols["lABF"][m] = 0.0
    prior = np.append(np.full(m, p1), 1.0 - m * p1)
    cols["prior"] = prior
    lw = cols["lABF"] + np.log(prior)
    cols["SNP.PP"] = np.exp(lw - logsum(lw))
    return pd.DataFrame(cols)
