"""Published fine-mapped xQTL (eQTL Catalogue SuSiE ``lbf_variable`` + ``credible_sets``) as stage-1 weights.

What a SuSiE fit's published files determine (docs/weights.md, "Published fine-mapped xQTL"):

* **α exactly.** Effect l's single-effect posterior is ``α_l = softmax(lbf_l + log π)``; susieR's and the eQTL
  Catalogue's prior π is uniform, so ``α_l = softmax(lbf_l)`` over the variants of the region.
* **|μ| exactly given the prior-variance ratio.** In susieR's single-effect regression on a standardized
  genotype column, ``s² = σ²/(n−1)`` is the same for every variant and, with ``r_l = V_l/s²``,
  ``lbf_lj = −½ log(1 + r_l) + ½ z_lj² r_l/(1 + r_l)`` where ``z_lj`` is the variant's z in the residual of
  the other effects. Its posterior mean is ``μ_lj = r_l/(1 + r_l) · z_lj · s``, hence

      |μ_lj| = s · sqrt( r_l/(1 + r_l) · (2 lbf_lj + log(1 + r_l)) ).

* **r_l from the lbf alone, to ~z²_min.** ``lbf_lj ≥ −½ log(1 + r_l)`` with equality at z = 0, so
  ``r̂_l = exp(−2 min_j lbf_lj) − 1`` underestimates ``log(1 + r_l)`` by ``z²_min · r_l/(1 + r_l)``, z_min the
  smallest residual |z| of the region (~1e-7 with thousands of variants). A known prior variance (our own
  fits) can be given instead (``ratio``).
* **The sign is not in the lbf.** It is taken from the variant's marginal z (the credible-set file's ``z``);
  exact where the residual and the marginal z agree in sign, which holds for the variants that carry an
  effect's posterior mass unless two effects in LD have opposite signs.
* **s needs σ².** ``s = σ/√(n−1)``; susie_rss fixes σ² = 1, the eQTL Catalogue estimates it (its y is
  a rank-normalized, covariate-residualized expression, variance ≤ 1); we use σ² = 1 (``sigma2``), a common
  factor of every weight of a pair that leaves TWAS z-scores and PIPs unchanged.

Only variants with a sign (those in some credible set) get a weight: the posterior mass of an effect outside
them is reported per pair (``alpha_outside``), at most 1 − coverage for an effect with a credible set.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .tables_schema import table


def alpha_from_lbf(lbf: np.ndarray, log_prior: np.ndarray | None = None) -> np.ndarray:
    """(L, p) single-effect posteriors ``softmax(lbf + log π)`` per row (π uniform when None)."""
    a = np.asarray(lbf, dtype=np.float64)
    if log_prior is not None:
        a = a + np.asarray(log_prior, dtype=np.float64)
    a = a - a.max(axis=1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


def ratio_from_lbf(lbf: np.ndarray) -> np.ndarray:
    """(L,) prior-variance ratios ``r̂_l = exp(−2 min_j lbf_lj) − 1`` (0 for a row whose lbf are all ≥ 0,
    e.g. an effect susieR set to V = 0, whose lbf are all 0)."""
    m = np.minimum(np.asarray(lbf, dtype=np.float64).min(axis=1), 0.0)
    return np.expm1(-2.0 * m)


def effect_means(lbf: np.ndarray, sign: np.ndarray, ratio: np.ndarray, s: float) -> np.ndarray:
    """(L, p) single-effect posterior means μ_lj (per standardized genotype, in units of y).

    lbf : (L, p) log Bayes factors (natural log); sign : (p,) or (L, p) signs of z (±1, 0 = unknown → μ 0);
    ratio : (L,) r_l = V_l/s²; s : the SER's standard error √(σ²/(n−1)).
    """
    lbf = np.asarray(lbf, dtype=np.float64)
    r = np.asarray(ratio, dtype=np.float64)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.where(r > 0, r / (1.0 + r), 0.0)
        # the bracket is ½ z² r/(1+r) ≥ 0 times 2; rounding can make it slightly negative at z ≈ 0
        inner = np.maximum(2.0 * lbf + np.log1p(r), 0.0)
    return np.sign(sign) * s * np.sqrt(shrink * inner)


def posterior_mean(lbf: np.ndarray, sign: np.ndarray, s: float, ratio: np.ndarray | None = None,
                   log_prior: np.ndarray | None = None) -> np.ndarray:
    """(p,) SuSiE posterior mean ``Σ_l α_lj μ_lj`` from published lbf (see the module docstring).

    ``ratio`` None: r̂ from :func:`ratio_from_lbf`. Variants with sign 0 get 0.
    """
    lbf = np.asarray(lbf, dtype=np.float64)
    r = ratio_from_lbf(lbf) if ratio is None else np.asarray(ratio, dtype=np.float64)
    return (alpha_from_lbf(lbf, log_prior) * effect_means(lbf, sign, r, s)).sum(axis=0)


#: per-trait report of :func:`susie_weights_long` (``susie_report.tsv``, defined in twasflow.tables_schema)
REPORT_COLUMNS = table("susie_report").names


def susie_weights_long(lbf: pd.DataFrame, cs: pd.DataFrame, *, n: float, sigma2: float = 1.0,
                       ratio: dict[str, np.ndarray] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Posterior-mean weights of every molecular trait with a credible set, as a long model table.

    Parameters
    ----------
    lbf : :func:`twasflow.io.susie_xqtl.read_lbf_variable` (all variants of each trait's region).
    cs : :func:`twasflow.io.susie_xqtl.read_credible_sets` (gives the sign: the marginal z, ALT allele).
    n : the xQTL sample size (s = √(σ²/(n−1))). sigma2 : SuSiE's residual variance σ² (1 = susie_rss's).
    ratio : optional {trait: (L,) r_l = V_l (n−1)/σ²} (known prior variances); default r̂ from the lbf.

    Returns
    -------
    (long, report): ``long`` has the columns of :func:`twasflow.io.predictdb.read_weights_long` (``model`` =
    molecular_trait_id, ``effect_allele`` = ALT, ``weight`` per SD of the ALT dosage, ``weight_scale`` = ``sd``)
    for the credible-set variants of each trait; ``report`` (:data:`REPORT_COLUMNS`) one row per trait of
    either file: region size, effects with a credible set, weights written, the largest posterior mass of a
    credible-set effect outside the weighted variants, and a ``reason`` when no weight was written.
    """
    from .io.susie_xqtl import lbf_columns, split_variant

    if not np.isfinite(n) or n <= 1:
        raise ValueError(f"n must be > 1, got {n}")
    s = float(np.sqrt(sigma2 / (n - 1.0)))
    cols = lbf_columns(lbf.columns)
    zs = cs.drop_duplicates(["molecular_trait_id", "variant"]).set_index(["molecular_trait_id", "variant"])["z"]
    rs = (cs.drop_duplicates(["molecular_trait_id", "variant"]).set_index(["molecular_trait_id", "variant"])["rsid"]
          if "rsid" in cs.columns else None)
    cs_effects = cs.groupby("molecular_trait_id")["effect"].agg(lambda e: sorted(set(e)))
    parts: list[pd.DataFrame] = []
    report: list[dict[str, Any]] = []
    traits = pd.unique(pd.concat([lbf["molecular_trait_id"], cs["molecular_trait_id"]], ignore_index=True))
    rows_of = lbf.groupby("molecular_trait_id", sort=False).indices  # row positions per trait, no copies
    for t in traits:
        idx = rows_of.get(t)
        g = None if idx is None else lbf.iloc[idx]
        eff = cs_effects.get(t, [])
        rec = {"phenotype_id": t, "n_region": 0 if g is None else len(g), "n_effects_cs": len(eff), "n_weights": 0,
               "alpha_outside": np.nan, "reason": ""}
        report.append(rec)
        if g is None:
            rec["reason"] = "credible sets but no lbf_variable rows"
            continue
        if not eff:
            rec["reason"] = "no credible set"
            continue
        B = g[cols].to_numpy(dtype=np.float64).T  # (L, p)
        if max(eff) >= B.shape[0]:
            rec["reason"] = f"credible set of effect {max(eff) + 1} but only {B.shape[0]} lbf columns"
            continue
        z = zs.reindex(pd.MultiIndex.from_arrays([np.full(len(g), t, dtype=object), g["variant"].to_numpy()]))
        sign = np.sign(np.nan_to_num(z.to_numpy(dtype=np.float64), nan=0.0))
        r = None if ratio is None else ratio.get(t)
        w = posterior_mean(B, sign, s, ratio=r)
        a = alpha_from_lbf(B[eff])
        rec["alpha_outside"] = float((1.0 - a[:, sign != 0].sum(axis=1)).max())
        keep = (sign != 0) & (w != 0)
        rec["n_weights"] = int(keep.sum())
        if not keep.any():
            rec["reason"] = "no credible-set variant with a non-zero posterior mean"
            continue
        v = g["variant"].to_numpy()[keep]
        sp = split_variant(pd.Series(v))
        parts.append(pd.DataFrame({
            "model": t, "rsid": (rs.reindex(pd.MultiIndex.from_arrays([np.full(len(v), t, dtype=object), v]))
                                 .to_numpy() if rs is not None else np.nan),
            "chrom": sp["chrom"].to_numpy(), "pos": sp["pos"].to_numpy(), "effect_allele": sp["alt"].to_numpy(),
            "other_allele": sp["ref"].to_numpy(), "weight": w[keep], "model_variant": v, "weight_scale": "sd"}))
    cols_out = ["model", "rsid", "chrom", "pos", "effect_allele", "other_allele", "weight", "model_variant",
                "weight_scale"]
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols_out)
    return long[cols_out], pd.DataFrame(report, columns=REPORT_COLUMNS)


def cs_lbf_long(lbf: pd.DataFrame, cs: pd.DataFrame) -> pd.DataFrame:
    """The lbf rows of the effects with a credible set, long: ``model, effect`` (0-based), ``chrom, pos,
    effect_allele`` (ALT), ``other_allele``, ``model_variant``, ``lbf`` (the xQTL side of coloc from lbf,
    :func:`twasflow.coloc.coloc_bf_bf`)."""
    from .io.susie_xqtl import lbf_columns, split_variant

    cols = lbf_columns(lbf.columns)
    eff = cs[["molecular_trait_id", "effect"]].drop_duplicates()
    eff = eff[eff["effect"] < len(cols)]
    parts = []
    for k, sub in eff.groupby("effect"):
        g = lbf[lbf["molecular_trait_id"].isin(set(sub["molecular_trait_id"]))]
        parts.append(pd.DataFrame({"model": g["molecular_trait_id"].to_numpy(), "effect": int(k),
                                   "model_variant": g["variant"].to_numpy(),
                                   "lbf": g[cols[int(k)]].to_numpy(dtype=np.float64)}))
    out = (pd.concat(parts, ignore_index=True) if parts else
           pd.DataFrame({"model": [], "effect": [], "model_variant": [], "lbf": []}))
    sp = split_variant(out["model_variant"])
    out["chrom"], out["pos"] = sp["chrom"].to_numpy(), sp["pos"].to_numpy()
    out["effect_allele"], out["other_allele"] = sp["alt"].to_numpy(), sp["ref"].to_numpy()
    return out.sort_values(["model", "effect"], kind="stable").reset_index(drop=True)


#: the xQTL sheet format of published SuSiE fine-mapping (path = lbf_variable, credible_sets = its credible sets)
SUSIE_FORMAT = "eqtlcat-susie"
#: ``lbf.parquet`` in a harmonized eqtlcat-susie dataset: the credible-set effects' lbf on panel variants
LBF_COLUMNS = table("susie_lbf").names
LBF_FILE = "lbf.parquet"
SUSIE_REPORT_FILE = "susie_report.tsv"


class SusieSource:
    """One eqtlcat-susie sheet row read: the long weight table, the per-trait report and the credible-set
    effects' lbf (long), from one read of each file."""

    def __init__(self, lbf_path: str | Any, cs_path: str | Any, *, n: float | None, sigma2: float = 1.0) -> None:
        from .errors import InputError
        from .io.susie_xqtl import read_credible_sets, read_lbf_variable

        if not cs_path:
            raise InputError.at("eqtlcat-susie needs the credible sets file", file=lbf_path, column="credible_sets",
                                found="no credible_sets in the xQTL sheet row",
                                expected="credible_sets = the QTD*.credible_sets file of the same dataset")
        if n is None or not np.isfinite(n) or n <= 1:
            raise InputError.at("eqtlcat-susie needs the sample size", file=lbf_path, column="n", found=repr(n),
                                expected="the xQTL sheet's n (> 1): it scales the posterior means")
        lbf = read_lbf_variable(lbf_path)
        cs = read_credible_sets(cs_path)
        self.long, self.report = susie_weights_long(lbf, cs, n=float(n), sigma2=sigma2)
        self.lbf = cs_lbf_long(lbf, cs)

    def write(self, out_dir: Any, panel: pd.DataFrame, *, tissue: str, qtl_type: str, settings: Any) -> dict[str, Any]:
        """Write ``susie_report.tsv`` and ``lbf.parquet`` (:data:`LBF_COLUMNS`, the lbf variants matched to the
        panel by the model matcher) into ``out_dir``; returns the QC entry ``susie``."""
        from pathlib import Path

        from .io.tables import write_parquet, write_tsv
        from .models import harmonize_model_table

        out_dir = Path(out_dir)
        write_tsv(self.report, out_dir / SUSIE_REPORT_FILE)
        uniq = self.lbf.drop_duplicates("model_variant")
        probe = pd.DataFrame({"model": "lbf", "rsid": np.nan, "chrom": uniq["chrom"].to_numpy(),
                              "pos": uniq["pos"].to_numpy(), "effect_allele": uniq["effect_allele"].to_numpy(),
                              "other_allele": uniq["other_allele"].to_numpy(), "weight": 1.0,
                              "model_variant": uniq["model_variant"].to_numpy()})
        matched, _, info = harmonize_model_table(probe, panel, tissue=tissue, qtl_type=qtl_type, settings=settings)
        vid = dict(zip(matched["model_variant"], matched["variant_id"]))
        out = self.lbf.assign(variant_id=self.lbf["model_variant"].map(vid)).dropna(subset=["variant_id"])
        out = pd.DataFrame({"pair_id": (out["model"] + f"|{tissue}|{qtl_type}").to_numpy(object),
                            "phenotype_id": out["model"].to_numpy(object),
                            "effect": out["effect"].to_numpy(np.int64),
                            "variant_id": out["variant_id"].to_numpy(object),
                            "lbf": out["lbf"].to_numpy(np.float64)}, columns=LBF_COLUMNS)
        write_parquet(out, out_dir / LBF_FILE)
        rep = self.report
        return {"n_traits": int(len(rep)), "n_traits_weighted": int((rep["n_weights"] > 0).sum()),
                "no_weight": dict(rep.loc[rep["reason"] != "", "reason"].value_counts().sort_index()),
                "max_alpha_outside": float(np.nanmax(rep["alpha_outside"])) if rep["alpha_outside"].notna().any()
                else None,
                "lbf_variants": {"n_input": info["n_input"], "n_kept": info["n_kept"], "dropped": info["dropped"]},
                "lbf_rows": int(len(out))}


__all__ = ["LBF_COLUMNS", "LBF_FILE", "REPORT_COLUMNS", "SUSIE_FORMAT", "SUSIE_REPORT_FILE", "SusieSource", "alpha_from_lbf", "cs_lbf_long", "effect_means", "posterior_mean", "ratio_from_lbf",
           "susie_weights_long"]
