"""Per-locus colocalisation of the GWAS with each gene–tissue pair (TGVIS paper, "Colocalization of
credible sets"): GWAS variants with p < ``gwas_p`` pruned at r² < ``prune_r2``, intersected with the pair's
tested variants; SuSiE-RSS on both traits, coloc-SuSiE between their credible sets, and coloc-ABF on the
same variants from z-scores.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from twasflow.ld import greedy_clump
from twasflow.errors import InputError
from twasflow.pvalues import p_from_z

from ._common import PP_COLUMNS, ColocError
from .abf import coloc_abf
from .susie import coloc_susie

DEFAULTS: dict[str, float] = {"gwas_p": 5e-5, "prune_r2": 0.81, "p1": 1e-4, "p2": 1e-4, "h4_min": 0.5}
ABF_P12 = 1e-5  # coloc.abf's default p12 when the config gives none
SUSIE_P12 = 5e-6  # coloc.susie's default
ABF_COLUMNS = tuple(f"abf_{c}" for c in PP_COLUMNS)
OUTPUT_COLUMNS = ("pair_id", "nsnps", "susie_hit1", "susie_hit2", *PP_COLUMNS, *ABF_COLUMNS, "colocalized",
                  "reason")


def _config(config: Mapping[str, Any] | None) -> dict[str, float | None]:
    cfg: dict[str, Any] = dict(DEFAULTS)
    cfg["p12"] = None
    for k, v in (config or {}).items():
        if k not in cfg:
            raise ColocError.at("unknown coloc config key", column=k,
                                expected="one of " + ", ".join(sorted(cfg)))
        if v is None:
            continue
        try:
            cfg[k] = float(v)
        except (TypeError, ValueError):
            raise ColocError.at("coloc config value is not a number", column=k, found=repr(v)) from None
    for k in ("gwas_p", "p1", "p2", "h4_min"):
        if not 0.0 < cfg[k] <= 1.0:
            raise ColocError.at("coloc config value out of range", column=k, found=cfg[k], expected="in (0, 1]")
    if not 0.0 <= cfg["prune_r2"] <= 1.0:
        raise ColocError.at("coloc config value out of range", column="prune_r2", found=cfg["prune_r2"],
                            expected="in [0, 1]")
    return cfg


def _check_shapes(z: np.ndarray, R: np.ndarray, xz: np.ndarray, xn: np.ndarray, pair_ids: np.ndarray,
                  variant_ids: np.ndarray, n: np.ndarray) -> None:
    M = z.shape[0]
    checks = [
        ("gwas_z", z.ndim == 1, "(M,)", z.shape),
        ("R", R.shape == (M, M), f"({M}, {M})", R.shape),
        ("xqtl_z", xz.ndim == 2 and xz.shape[0] == M, f"({M}, P)", xz.shape),
        ("variant_ids", variant_ids.shape == (M,), f"({M},)", variant_ids.shape),
        ("gwas_n", n.ndim == 0 or n.shape == (M,), f"scalar or ({M},)", n.shape),
    ]
    for name, ok, want, got in checks:
        if not ok:
            raise ColocError.at("wrong shape", column=name, found=got, expected=want)
    P = xz.shape[1]
    for name, a in (("xqtl_n", xn), ("pair_ids", pair_ids)):
        if a.shape != (P,):
            raise ColocError.at("wrong shape", column=name, found=a.shape, expected=f"({P},)")
    if not np.all(np.isfinite(z)):
        i = int(np.flatnonzero(~np.isfinite(z))[0])
        raise ColocError.at("GWAS z must be finite", column="gwas_z", row=i + 1, found=z[i])
    if np.any(~np.isfinite(n)) or np.any(n <= 0):
        raise ColocError.at("GWAS sample size must be positive", column="gwas_n", expected="n > 0")
    if np.any(~np.isfinite(xn)) or np.any(xn <= 0):
        i = int(np.flatnonzero(~(np.isfinite(xn) & (xn > 0)))[0])
        raise ColocError.at("xQTL sample size must be positive", column="xqtl_n", row=i + 1, found=xn[i],
                            expected="n > 0")


def colocalized(susie_h4: float, abf_h4: float, h4_min: float) -> bool:
    """The colocalisation call: coloc-SuSiE's best PP.H4 > h4_min (TGVIS); when coloc-SuSiE produced no
    pair of credible sets (NaN), coloc-ABF's PP.H4 > h4_min instead (the single-causal-variant analysis
    for signals SuSiE cannot resolve). False when neither is available."""
    if np.isfinite(susie_h4):
        return bool(susie_h4 > h4_min)
    return bool(np.isfinite(abf_h4) and abf_h4 > h4_min)


def run_susie(z: np.ndarray, R: np.ndarray, n: float, L: int = 10, max_iter: int = 100) -> Any:
    """SuSiE-RSS as coloc's ``runsusie`` calls it: ``susie_rss(z, R, n, L, max_iter=100)``, rerun with
    ``max_iter * 100`` until it reports convergence (at most twice more)."""
    from twasflow.susie import susie_rss

    L = int(min(L, z.shape[0]))
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-PSD / n notices: the caller records a reason instead
            fit = susie_rss(z=z, R=R, n=n, L=L, max_iter=max_iter)
        if fit.converged:
            return fit
        max_iter *= 100
    return fit


def coloc_locus(
    gwas_z: Any,
    gwas_n: Any,
    R: Any,
    xqtl_z: Any,
    xqtl_n: Any,
    pair_ids: Sequence[str],
    variant_ids: Sequence[str],
    config: Mapping[str, Any] | None = None,
    *,
    L: int = 10,
    overlap_min: float = 0.5,
) -> pd.DataFrame:
    """Colocalise the GWAS with every gene–tissue pair of one locus (coloc-SuSiE and coloc-ABF).

    Parameters
    ----------
    gwas_z : (M,) GWAS z-scores (counted allele); gwas_n : scalar or (M,) GWAS sample size (SuSiE gets the
        median over the variants used).
    R : (M, M) LD correlation of the locus variants.
    xqtl_z : (M, P) xQTL z-scores, NaN where a pair was not tested; xqtl_n : (P,) xQTL sample sizes.
    pair_ids : (P,) pair ids; variant_ids : (M,) variant ids.
    config : ``{gwas_p [5e-5], prune_r2 [0.81], p1 [1e-4], p2 [1e-4], p12, h4_min [0.5]}``. Without p12,
        coloc-SuSiE uses 5e-6 and coloc-ABF 1e-5 (the coloc defaults); with p12 both use it.
    L : SuSiE effects per trait (coloc's runsusie default, 10). overlap_min : coloc-SuSiE trimming.

    Returns
    -------
    DataFrame, one row per pair (input order): ``pair_id, nsnps`` (variants used),
    ``susie_hit1, susie_hit2, PP.H0 … PP.H4`` (the coloc-SuSiE credible-set pair with the largest PP.H4;
    NaN when coloc-SuSiE gave no pair), ``abf_PP.H0 … abf_PP.H4`` (coloc-ABF on the same variants, from
    z-scores: beta = z/√n, varbeta = 1/n, sdY = 1, prior SD 0.15), ``colocalized`` (see
    :func:`colocalized`: coloc-SuSiE PP.H4 > h4_min, coloc-ABF's when SuSiE gave no pair) and ``reason`` ("" when coloc-SuSiE produced a pair; otherwise why not, e.g.
    "no GWAS variant with p < 5e-05", "no shared variants", "no credible set in fit 2 (xQTL)").

    Raises
    ------
    ColocError
        Shape mismatches, non-finite GWAS z, non-positive sample sizes, bad config values.
    """
    cfg = _config(config)
    z = np.asarray(gwas_z, dtype=np.float64)
    n = np.asarray(gwas_n, dtype=np.float64)
    Rm = np.asarray(R, dtype=np.float64)
    xz = np.asarray(xqtl_z, dtype=np.float64)
    xn = np.asarray(xqtl_n, dtype=np.float64).reshape(-1)
    pids = np.asarray(pair_ids, dtype=object).reshape(-1)
    vids = np.asarray(variant_ids, dtype=object).astype(str).reshape(-1)
    _check_shapes(z, Rm, xz, xn, pids, vids, n)
    p12_susie = cfg["p12"] if cfg["p12"] is not None else SUSIE_P12
    p12_abf = cfg["p12"] if cfg["p12"] is not None else ABF_P12

    p = p_from_z(z)
    index, _ = greedy_clump(p, R=Rm, r2=float(cfg["prune_r2"]), p_max=float(cfg["gwas_p"]))
    selected = np.sort(np.asarray(index, dtype=np.int64))

    rows: list[dict[str, Any]] = []
    gwas_fits: dict[bytes, Any] = {}
    for k, pid in enumerate(pids):
        row: dict[str, Any] = {"pair_id": pid, "nsnps": 0, "susie_hit1": None, "susie_hit2": None,
                               **{c: np.nan for c in PP_COLUMNS}, **{c: np.nan for c in ABF_COLUMNS},
                               "colocalized": False, "reason": ""}
        rows.append(row)
        if selected.size == 0:
            row["reason"] = f"no GWAS variant with p < {cfg['gwas_p']:g}"
            continue
        use = selected[np.isfinite(xz[selected, k])]
        row["nsnps"] = int(use.size)
        if use.size == 0:
            row["reason"] = "no shared variants"
            continue
        zg, zx = z[use], xz[use, k]
        ng = float(np.median(n[use])) if n.ndim else float(n)
        nx = float(xn[k])
        snps = vids[use]

        abf = coloc_abf(
            {"beta": zg / np.sqrt(ng), "varbeta": np.full(use.size, 1.0 / ng), "sdY": 1.0, "type": "quant",
             "snp": snps},
            {"beta": zx / np.sqrt(nx), "varbeta": np.full(use.size, 1.0 / nx), "sdY": 1.0, "type": "quant",
             "snp": snps},
            p1=float(cfg["p1"]), p2=float(cfg["p2"]), p12=float(p12_abf),
        )
        for c, a in zip(PP_COLUMNS, ABF_COLUMNS):
            row[a] = abf.summary[c]

        Rs = Rm[np.ix_(use, use)]
        try:
            key = use.tobytes() + np.float64(ng).tobytes()
            if key not in gwas_fits:
                gwas_fits[key] = run_susie(zg, Rs, ng, L=L)
            fit1 = gwas_fits[key]
            fit2 = run_susie(zx, Rs, nx, L=L)
        except InputError as e:
            row["reason"] = f"SuSiE failed: {e}"
        else:
            cs = coloc_susie(fit1, fit2, snps, snps, p1=float(cfg["p1"]), p2=float(cfg["p2"]),
                             p12=float(p12_susie), overlap_min=overlap_min)
            best = cs.best()
            if best is None:
                row["reason"] = cs.reason.replace("fit 1", "fit 1 (GWAS)").replace("fit 2", "fit 2 (xQTL)")
            else:
                row["susie_hit1"], row["susie_hit2"] = best["hit1"], best["hit2"]
                for c in PP_COLUMNS:
                    row[c] = float(best[c])
        row["colocalized"] = colocalized(row["PP.H4"], row["abf_PP.H4"], float(cfg["h4_min"]))

    out = pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))
    out["nsnps"] = out["nsnps"].astype(np.int64)
    out["colocalized"] = out["colocalized"].astype(bool)
    return out

