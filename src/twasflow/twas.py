"""S-PrediXcan / TWAS z-scores, the cross-tissue Cauchy combination (ACAT) and the prescreen table.

Numerical code only (numpy / scipy / pandas); readers and the workflow live elsewhere.

Scales. With weights ``W`` on the standardized genotype scale (per-SD effects) and the LD correlation ``R``
of the same variants, the TWAS z of a column ``w`` is ``wᵀz / sqrt(wᵀ R w)``. S-PrediXcan's form with
per-allele weights ``w``, genotype covariance ``Γ`` and SDs ``σ_l = sqrt(Γ_ll)`` is
``Σ_l w_l σ_l z_l / sqrt(wᵀ Γ w)``; it is the same number with ``W = w σ`` and ``R = cov2cor(Γ)``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .pvalues import p_from_z
from .tables_schema import table

#: columns and dtype of each prescreen column (docs/outputs.md "Prescreen"; defined in twasflow.tables_schema)
PRESCREEN_COLUMNS = table("prescreen").names
PRESCREEN_DTYPES = table("prescreen").pandas_dtypes()


def empty_prescreen_table() -> pd.DataFrame:
    """The prescreen table without rows (the columns and dtypes of a chunk whose loci have no weights)."""
    return table("prescreen").empty()


# Below this p the Cauchy quantile tan((0.5 - p) pi) loses precision; 1 / (p pi) is exact to O(p^2) there.
_ACAT_SMALL_P = 1e-15


def twas_z(z: Any, R: Any, W: Any) -> np.ndarray:
    """TWAS z-score of every column of ``W``: ``wᵀz / sqrt(wᵀ R w)``.

    Parameters
    ----------
    z : (M,) GWAS z-scores of the counted alleles. Entries where every column of W is 0 may be NaN.
    R : (M, M) LD correlation of the same variants (counted-allele dosages).
    W : (M,) or (M, P) weights on the standardized genotype scale (per-SD effects), oriented to the counted
        allele.

    Returns
    -------
    (P,) float64 TWAS z (a scalar array for 1-d W). A column with ``wᵀRw <= 0`` (e.g. all zero) gives NaN.
    """
    zz = np.asarray(z, dtype=np.float64)
    RR = np.asarray(R, dtype=np.float64)
    Wm = np.asarray(W, dtype=np.float64)
    one = Wm.ndim == 1
    if one:
        Wm = Wm[:, None]
    if zz.ndim != 1 or RR.shape != (zz.size, zz.size) or Wm.shape[0] != zz.size:
        raise ValueError(f"twas_z: shapes z {zz.shape}, R {RR.shape}, W {Wm.shape} do not agree (expected (M,), "
                         "(M, M), (M, P))")
    used = np.any(Wm != 0, axis=1)
    if not used.all():  # variants with no weight anywhere: leave them (and any NaN z there) out
        zz, RR, Wm = zz[used], RR[np.ix_(used, used)], Wm[used]
    num = Wm.T @ zz
    var = np.einsum("mp,mp->p", Wm, RR @ Wm)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(var > 0, num / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
    return out[0] if one else out


def spredixcan_z(z: Any, w: Any, cov: Any) -> float:
    """S-PrediXcan z of one model: ``Σ w_l σ_l z_l / sqrt(wᵀ Γ w)`` with ``σ_l = sqrt(Γ_ll)``.

    Parameters
    ----------
    z : (m,) GWAS z-scores oriented to the same alleles as ``w``.
    w : (m,) per-allele weights.
    cov : (m, m) genotype covariance Γ of the model variants in the same orientation (e.g. a PredictDB
        covariance file, or the panel's covariance of counted-allele dosages).
    """
    ww = np.asarray(w, dtype=np.float64)
    G = np.asarray(cov, dtype=np.float64)
    sd = np.sqrt(np.clip(np.diag(G), 0.0, None))
    var = float(ww @ G @ ww)
    if not var > 0:
        return float("nan")
    return float(np.sum(ww * sd * np.asarray(z, dtype=np.float64)) / np.sqrt(var))


def model_covariance_z(variant_ids: np.ndarray, z: np.ndarray, freq: np.ndarray, B: np.ndarray,
                       pair_ids: Sequence[str], is_model: np.ndarray,
                       model_cov: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, int]:
    """S-PrediXcan z of a locus's prediction-model pairs with each model's own covariance.

    Parameters
    ----------
    variant_ids, z, freq : (M,) the locus variants, GWAS z and panel frequency of the counted alleles.
    B : (M, P) standardized weights of every pair; pair_ids : (P,); is_model : (P,) bool, model pairs.
    model_cov : ``{pair_id: (variant_ids (k,), cov (k, k))}`` (``twasflow.models.read_model_covariance``).

    Returns
    -------
    ``z_given`` (P,): the z of every model pair whose weighted variants all have a covariance entry, NaN
    elsewhere (those pairs use the panel LD); and the number of pairs given a z.
    """
    z_given = np.full(len(pair_ids), np.nan)
    sd = np.sqrt(2.0 * freq * (1.0 - freq))
    n = 0
    for j in np.flatnonzero(is_model):
        entry = model_cov.get(str(pair_ids[j]))
        idx = np.flatnonzero(B[:, j])
        if entry is None or idx.size == 0:
            continue
        k = pd.Index(entry[0]).get_indexer(variant_ids[idx])
        if (k < 0).any():
            continue
        # per-allele weights of the counted alleles, the model covariance of the same variants
        z_given[j] = spredixcan_z(z[idx], B[idx, j] / sd[idx], entry[1][np.ix_(k, k)])
        n += 1
    return z_given, n


def calibrate_phi(z: Any, phi: Any, n: float, h2: float) -> np.ndarray:
    """S-PrediXcan's polygenicity calibration (MetaXcan ``correct_inf_phi``): ``z / sqrt(1 + φ N h²)``.

    ``phi`` (per model, from a PredictDB ``extra.phi`` column; negative values count as 0, NaN gives NaN),
    ``n`` the GWAS sample size, ``h2`` its SNP heritability. Returns calibrated z (same shape as ``z``)."""
    return np.asarray(z, dtype=np.float64) / phi_scale(phi, n, h2)


def phi_scale(phi: Any, n: float, h2: float) -> np.ndarray:
    """The divisor ``sqrt(1 + max(φ, 0) N h²)`` of :func:`calibrate_phi` (NaN where φ is NaN)."""
    if not (n > 0 and 0 <= h2 <= 1):
        raise ValueError(f"calibrate_phi: need n > 0 and 0 <= h2 <= 1 (found n={n}, h2={h2})")
    ph = np.maximum(np.asarray(phi, dtype=np.float64), 0.0)
    return np.sqrt(1.0 + ph * float(n) * float(h2))


def z_to_p(z: Any) -> np.ndarray:
    """Two-sided normal p-value of z (NaN stays NaN): :func:`twasflow.pvalues.p_from_z`."""
    return p_from_z(z)


def acat(p: Any, weights: Any = None) -> float:
    """Cauchy combination (ACAT; Liu & Xie 2020) of p-values: ``T = Σ w_i tan((0.5 - p_i) π)``,
    ``p = 0.5 - arctan(T / Σ w_i) / π``.

    NaN p-values are ignored; with none left the result is NaN. Equal weights by default. A p-value of 0
    gives 0; p-values of exactly 1 contribute a large negative term (the combined p is then driven by the
    other p-values).
    """
    pp = np.asarray(p, dtype=np.float64).ravel()
    ww = np.ones_like(pp) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    ok = ~np.isnan(pp)
    pp, ww = pp[ok], ww[ok]
    if pp.size == 0:
        return float("nan")
    if np.any(pp == 0):
        return 0.0
    ww = ww / ww.sum()
    pp = np.minimum(pp, 1.0 - 1e-16)
    small = pp < _ACAT_SMALL_P
    t = np.where(small, 1.0 / (np.where(small, pp, 1.0) * np.pi), np.tan((0.5 - pp) * np.pi))
    T = float(np.sum(ww * t))
    if T > 1e15:
        return float(1.0 / (T * np.pi))
    return float(0.5 - np.arctan(T) / np.pi)


def acat_by_group(p: Any, groups: Sequence[Any]) -> np.ndarray:
    """ACAT of ``p`` within each group (e.g. the pairs of one gene across tissues); one value per row."""
    s = pd.Series(np.asarray(p, dtype=np.float64))
    g = pd.Series(np.asarray(groups, dtype=object))
    comb = s.groupby(g, sort=False).agg(lambda x: acat(x.to_numpy()))
    return g.map(comb).to_numpy(dtype=np.float64)


def prescreen_table(
    locus_id: str,
    pairs: pd.DataFrame,
    z: Any,
    R: Any,
    B: Any,
    *,
    p_max: float = 0.05,
    n_weights_model: Any = None,
    drop_reason: Sequence[str] | None = None,
    z_given: Any = None,
    z_scale: Any = None,
) -> pd.DataFrame:
    """S-PrediXcan prescreen of every pair of one locus.

    Parameters
    ----------
    locus_id : the locus.
    pairs : P rows with ``pair_id`` and ``gene_id`` (the bundle's pairs table).
    z, R : (M,) GWAS z and (M, M) LD of the locus.
    B : (M, P) standardized weights (zeros for unselected variants).
    p_max : keep pairs with ``twas_p <= p_max``.
    n_weights_model : (P,) number of variants in each pair's model (default: non-zero weights in B).
    drop_reason : (P,) reason a pair has no weights ("" when it has), used instead of ``no_weights``.
    z_given : (P,) TWAS z to use instead of ``wᵀz / √(wᵀRw)`` where finite (e.g. S-PrediXcan with a prediction
        model's own covariance, :func:`spredixcan_z`); NaN entries are computed from ``B`` and ``R``.
    z_scale : (P,) divisor of each pair's z (S-PrediXcan's polygenicity calibration, :func:`phi_scale`; 1 or
        NaN = none), applied before p and the threshold.

    Returns
    -------
    DataFrame with :data:`PRESCREEN_COLUMNS`: ``reason`` is "" for kept pairs, otherwise ``no_weights``
    (or the given drop reason) or ``p_above_max``; ``acat_p`` is the Cauchy combination of the pair
    p-values of the same ``gene_id`` (all tissues and QTL types with weights).
    """
    Bm = np.asarray(B, dtype=np.float64)
    P = len(pairs)
    if Bm.shape[1] != P:
        raise ValueError(f"prescreen_table: B has {Bm.shape[1]} columns for {P} pairs")
    used = np.count_nonzero(Bm, axis=0)
    zt = twas_z(z, R, Bm) if P else np.zeros(0)
    if z_given is not None:
        zg = np.asarray(z_given, dtype=np.float64)
        zt = np.where(np.isfinite(zg), zg, zt)
    if z_scale is not None:
        sc = np.asarray(z_scale, dtype=np.float64)
        zt = np.where(np.isfinite(sc), zt / np.where(np.isfinite(sc), sc, 1.0), zt)
    pt = z_to_p(zt)
    has = used > 0
    zt = np.where(has, zt, np.nan)
    pt = np.where(has, pt, np.nan)
    kept = has & (pt <= p_max)
    reason = np.where(kept, "", np.where(has, "p_above_max", "no_weights")).astype(object)
    if drop_reason is not None:
        dr = np.asarray(drop_reason, dtype=object)
        sel = ~has & (dr != "")
        reason[sel] = dr[sel]
    nmod = used if n_weights_model is None else np.asarray(n_weights_model, dtype=np.int64)
    out = pd.DataFrame({
        "locus_id": np.full(P, locus_id, dtype=object),
        "pair_id": pairs["pair_id"].to_numpy(dtype=object),
        "twas_z": zt,
        "twas_p": pt,
        "n_weights_used": used.astype(np.int64),
        "n_weights_model": nmod.astype(np.int64),
        "kept": kept,
        "reason": reason,
        "acat_p": acat_by_group(pt, pairs["gene_id"].to_numpy(dtype=object)) if P else np.zeros(0),
    })
    return out[PRESCREEN_COLUMNS]


def spredixcan_models(used: pd.DataFrame, z: pd.Series, cov_of: Any) -> pd.DataFrame:
    """S-PrediXcan for every model of a harmonized weight table, with each model's own covariance.

    Parameters
    ----------
    used : harmonized rows (``model, variant_id, weight`` per counted allele, ...), e.g. from
        ``twasflow.harmonize.models.harmonize_model_weights``.
    z : GWAS z-scores of the counted alleles indexed by ``variant_id``.
    cov_of : ``cov_of(model, rows) -> (m, m)`` covariance of the model's used variants in row order,
        oriented to the counted alleles (e.g. from the PredictDB covariance file, or the panel).

    Returns
    -------
    DataFrame ``model, twas_z, twas_p, n_weights_used`` (one row per model with a used variant).
    """
    out = []
    for model, sub in used.groupby("model", sort=False):
        zz = z.reindex(sub["variant_id"]).to_numpy(dtype=np.float64)
        zt = spredixcan_z(zz, sub["weight"].to_numpy(dtype=np.float64), cov_of(model, sub))
        out.append((model, zt, len(sub)))
    df = pd.DataFrame(out, columns=["model", "twas_z", "n_weights_used"])
    df.insert(2, "twas_p", z_to_p(df["twas_z"].to_numpy()))
    return df


SPREDIXCAN_COLUMNS = table("spredixcan").names  # defined in twasflow.tables_schema


def spredixcan_dataset(z: pd.Series, models: pd.DataFrame, cov: Mapping[str, tuple[np.ndarray, np.ndarray]],
                       dataset: str) -> pd.DataFrame:
    """S-PrediXcan of every model of one harmonized prediction-model dataset, LD from the models' own covariance
    (a classic S-PrediXcan-only run: no genotypes needed).

    Parameters
    ----------
    z : GWAS z of the counted alleles indexed by ``variant_id`` (the harmonized GWAS).
    models : the dataset's ``models.parquet`` (:data:`twasflow.models.MODEL_COLUMNS`: ``weight`` per SD,
        ``weight_allele`` per counted allele).
    cov : ``{pair_id: (variant_ids (k,), cov (k, k))}`` (:func:`twasflow.models.read_model_covariance`).

    Returns
    -------
    :data:`SPREDIXCAN_COLUMNS`, one row per pair. ``twas_z`` = Σ w z / √(wᵀ C w) with the standardized weights
    and C the correlation of the model covariance (cTWAS's convention; the weights' SDs are the panel's or the
    variant table's ``sd``); ``spredixcan_z`` = MetaXcan's Σ w σ z / √(wᵀ Γ w) with per-allele weights and σ, Γ
    from the model covariance. Weighted variants without a GWAS z are left out of both (``n_weights_used``);
    ``reason`` says why a pair has no z (``no_covariance``, ``no_gwas_variant``).
    """
    rows = []
    for pair, m in models.groupby("pair_id", sort=True):
        vid = m["variant_id"].to_numpy(str)
        zz = z.reindex(vid).to_numpy(np.float64)
        have = np.isfinite(zz)
        rec = {"dataset": dataset, "pair_id": pair, "phenotype_id": m["phenotype_id"].iloc[0],
               "gene_id": m["gene_id"].iloc[0], "n_weights_model": int(m["n_model"].iloc[0]),
               "n_weights_used": int(have.sum()), "twas_z": np.nan, "spredixcan_z": np.nan, "reason": ""}
        entry = cov.get(str(pair))
        k = pd.Index(entry[0]).get_indexer(vid[have]) if entry is not None else np.zeros(0, np.int64)
        if not have.any():
            rec["reason"] = "no_gwas_variant"
        elif entry is None or (k < 0).any():
            rec["reason"] = "no_covariance"
        else:
            C = entry[1][np.ix_(k, k)]
            sd = np.sqrt(np.diag(C))
            with np.errstate(invalid="ignore", divide="ignore"):
                rec["twas_z"] = float(twas_z(zz[have], C / np.outer(sd, sd), m["weight"].to_numpy(np.float64)[have]))
            rec["spredixcan_z"] = float(spredixcan_z(zz[have], m["weight_allele"].to_numpy(np.float64)[have], C))
        rows.append(rec)
    out = pd.DataFrame(rows, columns=[c for c in SPREDIXCAN_COLUMNS if c not in ("twas_p", "spredixcan_p")])
    out["twas_p"] = z_to_p(out["twas_z"].to_numpy(np.float64))
    out["spredixcan_p"] = z_to_p(out["spredixcan_z"].to_numpy(np.float64))
    return out[SPREDIXCAN_COLUMNS]
