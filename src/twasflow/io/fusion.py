"""FUSION / TWAS weights (``.wgt.RDat``, Gusev et al. 2016) as prediction models.

A FUSION weight file is an R ``save()`` image holding ``wgt.matrix`` (SNPs × models: ``top1, blup, lasso,
enet, bslmm``, rows named by SNP id), ``snps`` (the PLINK ``.bim`` rows of those SNPs: chrom, id, cM, pos, A1,
A2), ``cv.performance`` (rows ``rsq``, ``pval`` × models), ``hsq``, ``hsq.pv`` and ``N.tot``. Weights are per
*standardized* genotype of A1 (FUSION scales the genotypes before fitting and uses the correlation matrix in
the test), so they are already on twasflow's per-SD scale.

The model is chosen as ``FUSION.assoc_test.R`` does: a named model (``--force_model``), else the best
cross-validated one (largest ``cv.performance["rsq", ]``), and when that is ``top1`` the best other one; NA
weights are 0. A FUSION weights list (``.pos``: ``WGT ID CHR P0 P1`` [+ ``PANEL``, ``N``], WGT relative to the
``.pos`` file's directory) names one weight file per gene.

Reading RData needs the pure-Python ``rdata`` package (optional dependency, imported only here).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError


def _load_rdata(path: Path) -> dict[str, Any]:
    try:
        import rdata
    except ImportError:
        raise InputError.at("reading FUSION .wgt.RDat needs the 'rdata' package", file=path,
                            expected="pip install rdata (or twasflow[formats])") from None
    try:
        return rdata.conversion.convert(rdata.parser.parse_file(path))
    except Exception as exc:  # rdata raises many types on a damaged file
        raise InputError.at("cannot read as an R data image", file=path, found=f"{type(exc).__name__}: {exc}",
                            expected="a FUSION .wgt.RDat written by R's save()") from None


def _matrix(obj: Any, path: Path, name: str) -> pd.DataFrame:
    """An R matrix with dimnames (rdata gives an xarray DataArray) as a DataFrame."""
    try:
        rows, cols = obj.coords[obj.dims[0]].values, obj.coords[obj.dims[1]].values
        return pd.DataFrame(np.asarray(obj.values, dtype=np.float64), index=[str(r) for r in rows],
                            columns=[str(c) for c in cols])
    except (AttributeError, IndexError, KeyError, ValueError, TypeError):
        raise InputError.at("not a matrix with row and column names", file=path, column=name,
                            found=type(obj).__name__, expected="an R matrix with dimnames") from None


def choose_model(cv: pd.DataFrame, model: str | None = None, *, path: Path | None = None) -> str:
    """The FUSION model of a weight file: ``model`` if given, else the best CV r² (never ``top1`` unless alone).

    ``cv``: rows ``rsq`` and ``pval`` (the first two rows when unnamed) × models."""
    names = list(cv.columns)
    if model is not None:
        if model not in names:
            raise InputError.at("FUSION model not in the weight file", file=path, column="model", found=names,
                                expected=f"one of them (asked {model!r})")
        return model
    rsq = cv.iloc[0].to_numpy(dtype=np.float64)
    best = names[int(np.nanargmax(rsq))] if np.isfinite(rsq).any() else names[0]
    if best == "top1" and len(names) > 1:
        others = [i for i, n in enumerate(names) if n != "top1"]
        best = names[others[int(np.nanargmax(rsq[others]))]]
    return best


def read_fusion_wgt(path: str | os.PathLike[str], model: str | None = None, gene: str | None = None
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One ``.wgt.RDat`` → (long model rows, info).

    Rows (one per SNP of the file, zero weights included so they are counted): ``model`` (= ``gene``, default the
    file name without ``.wgt.RDat``), ``rsid, chrom, pos, effect_allele`` (A1), ``other_allele`` (A2), ``weight``
    (per standardized genotype), ``model_variant`` (the SNP id). ``info``: chosen ``fusion_model``, its
    ``cv_rsq`` and ``cv_pval``, ``hsq``, ``n``.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError.at("FUSION weight file not found", file=p, expected="a .wgt.RDat file")
    obj = _load_rdata(p)
    for need in ("wgt.matrix", "snps", "cv.performance"):
        if need not in obj:
            raise InputError.at("FUSION object missing", file=p, column=need, found=sorted(obj),
                                expected="wgt.matrix, snps, cv.performance")
    W = _matrix(obj["wgt.matrix"], p, "wgt.matrix").fillna(0.0)  # FUSION: NA weights are 0
    cv = _matrix(obj["cv.performance"], p, "cv.performance")
    snps = obj["snps"]
    if not isinstance(snps, pd.DataFrame) or snps.shape[1] < 6 or len(snps) != len(W):
        raise InputError.at("snps is not the weight SNPs' .bim table", file=p, column="snps",
                            found=getattr(snps, "shape", type(snps).__name__),
                            expected=f"a data.frame of {len(W)} rows x 6 columns (chr, id, cM, pos, A1, A2)")
    mod = choose_model(cv, model, path=p)
    name = gene or p.name.removesuffix(".wgt.RDat")
    chrom = pd.Series(snps.iloc[:, 0]).map(lambda c: str(int(c)) if isinstance(c, float) and c == int(c) else str(c))
    rows = pd.DataFrame({
        "model": name,
        "rsid": snps.iloc[:, 1].astype(str).to_numpy(),
        "chrom": chrom.str.replace(r"^chr", "", regex=True).to_numpy(),
        "pos": pd.to_numeric(snps.iloc[:, 3], errors="coerce").to_numpy(),
        "effect_allele": snps.iloc[:, 4].astype(str).str.upper().to_numpy(),
        "other_allele": snps.iloc[:, 5].astype(str).str.upper().to_numpy(),
        "weight": W[mod].to_numpy(),
        "model_variant": snps.iloc[:, 1].astype(str).to_numpy(),
    })
    hsq = np.atleast_1d(np.asarray(obj.get("hsq", [np.nan]), dtype=np.float64))
    n = np.atleast_1d(np.asarray(obj.get("N.tot", [np.nan]), dtype=np.float64))
    info = {"model": name, "fusion_model": mod, "cv_rsq": float(cv.loc[:, mod].iloc[0]),
            "cv_pval": float(cv.loc[:, mod].iloc[1]) if len(cv) > 1 else float("nan"),
            "hsq": float(hsq[0]), "n": float(n[0])}
    return rows, info


def read_fusion(path: str | os.PathLike[str], model: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A FUSION weights list (``.pos``) or one ``.wgt.RDat`` → (long model table of every gene, per-gene info).

    Genes are named by the ``.pos`` file's ``ID`` column (the file name for a single weight file)."""
    p = Path(path)
    if not p.is_file():
        raise InputError.at("FUSION weights not found", file=p, expected="a .pos weights list or a .wgt.RDat")
    if p.name.endswith(".RDat") or p.name.endswith(".rdat"):
        rows, info = read_fusion_wgt(p, model)
        return rows, pd.DataFrame([info])
    pos = pd.read_csv(p, sep=r"\s+", dtype=str)
    for need in ("WGT", "ID"):
        if need not in pos.columns:
            raise InputError.at("FUSION .pos column missing", file=p, column=need, found=list(pos.columns),
                                expected="WGT ID CHR P0 P1")
    parts, infos = [], []
    for wgt, gid in zip(pos["WGT"], pos["ID"]):
        rows, info = read_fusion_wgt(_wgt_path(p, wgt), model, gene=str(gid))
        parts.append(rows)
        infos.append(info)
    return pd.concat(parts, ignore_index=True), pd.DataFrame(infos)


def _wgt_path(pos: Path, wgt: str) -> Path:
    """A ``.pos`` file's ``WGT`` entry: absolute, or relative to the ``.pos`` file's folder (as FUSION reads it)."""
    return Path(wgt) if Path(wgt).is_absolute() else pos.parent / wgt


def fusion_weight_files(path: str | os.PathLike[str]) -> list[str]:
    """The files a FUSION source reads: a ``.pos`` list and every ``.wgt.RDat`` it names (the workflow's inputs of
    rule ``harmonize_xqtl``, so editing a weight file reruns it), or the one ``.wgt.RDat``. A missing or unreadable
    ``.pos`` gives just itself (the rule's reader then says what is wrong)."""
    p = Path(path)
    if p.name.lower().endswith(".rdat") or not p.is_file():
        return [str(p)]
    with open(p) as fh:
        rows = [ln.split() for ln in fh if ln.strip()]
    if not rows or "WGT" not in rows[0]:
        return [str(p)]
    k = rows[0].index("WGT")
    return [str(p)] + [str(_wgt_path(p, r[k])) for r in rows[1:] if len(r) > k]


__all__ = ["choose_model", "fusion_weight_files", "read_fusion", "read_fusion_wgt"]
