"""Prediction models (PredictDB SQLite, long weight tables) as an xQTL source of the workflow.

:func:`harmonize_models` is what rule ``harmonize_xqtl`` runs for a sheet row with ``format: predictdb`` or
``weights-long``: it reads the models, orients every weight to the panel's counted allele
(:func:`twasflow.harmonize.models.harmonize_model_weights`), puts it on the standardized genotype scale with the
panel SD ``sqrt(2 f (1 - f))`` and writes

* ``{out_dir}/models.parquet`` — :data:`MODEL_COLUMNS`, one row per used (pair, variant), sorted by chrom, pos,
  pair_id;
* ``{out_dir}/models_report.tsv`` — per pair ``n_model, n_used, n_flipped`` and one count per reason in
  :data:`MODEL_REASONS` (``n_model == n_used + Σ reasons``), plus a readable ``reasons`` summary;
* ``{out_dir}/covariance.npz`` — with a covariance file: per pair the model covariance of its used variants,
  oriented to the counted alleles (:func:`write_model_covariance` / :func:`read_model_covariance`);
* the usual QC JSON, whose ``n_input == n_kept + Σ dropped`` counts model rows.

The per-locus side (which pairs and variants a locus gets) lives in :mod:`twasflow.locus`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .errors import HarmonizeError, InputError
from .harmonize import Settings, read_gene_map
from .harmonize.accumulate import _settings
from .harmonize.models import REASONS, harmonize_model_weights, oriented_covariance
from .io.predictdb import predictdb_to_long, read_predictdb, read_predictdb_covariance, read_weights_long
from .io.tables import write_json, write_npz, write_parquet, write_tsv
from .tables_schema import table

log = logging.getLogger(__name__)

MODEL_FORMATS = ("predictdb", "weights-long", "fusion", "eqtlcat-susie")  # eqtlcat-susie: twasflow.finemapped_xqtl
# after weight: per-allele weight of the counted allele, the model's size, the model's own variant key
MODEL_COLUMNS = table("models").names  # defined in twasflow.tables_schema
# ``zero_weight``: matched, but the weight is exactly 0 (it would add nothing and not count as used)
MODEL_REASONS = REASONS + ["zero_weight"]
REPORT_COLUMNS = ["pair_id", "phenotype_id", "gene_id", "n_model", "n_used", "n_flipped"] + MODEL_REASONS + ["reasons"]
_BUILD_SUFFIX = {"b37": "GRCh37", "b38": "GRCh38"}


def is_model_format(fmt: str | None) -> bool:
    """True for the xQTL sheet formats that are prediction models rather than summary statistics."""
    return fmt in MODEL_FORMATS


def _gene_id(pheno: str, gene_map: Mapping[str, str]) -> str:
    from .harmonize import gene_id_of

    g = gene_map.get(pheno, pheno)
    return gene_id_of(g) or g


def read_models(path: str | Path, fmt: str, fusion_model: str | None = None, *,
                credible_sets: str | Path | None = None, n: float | None = None) -> pd.DataFrame:
    """The long model table of a ``predictdb`` (.db), ``weights-long`` (TSV) or ``fusion`` (.pos list or one
    .wgt.RDat; weights per standardized genotype, ``weight_scale`` = ``sd``) source, with ``rsid`` kept;
    ``eqtlcat-susie``: SuSiE posterior means from ``path`` (lbf_variable), ``credible_sets`` and ``n``."""
    if fmt == "fusion":
        from .io.fusion import read_fusion

        return read_fusion(path, fusion_model)[0].assign(weight_scale="sd")
    if fmt == "predictdb":
        w, _ = read_predictdb(path)
        return predictdb_to_long(w)
    if fmt == "weights-long":
        return read_weights_long(path)
    if fmt == "eqtlcat-susie":
        from .finemapped_xqtl import SusieSource

        return SusieSource(path, credible_sets, n=n).long
    raise HarmonizeError.at("not a prediction-model format", file=path, column="format", found=repr(fmt),
                            expected=" or ".join(MODEL_FORMATS))


def _declared_suffix_build(models: pd.DataFrame) -> str | None:
    """The build a PredictDB varID suffix states (``..._b38``), when the ids carry one."""
    mv = models["model_variant"].dropna().astype(str)
    if mv.empty:
        return None
    suf = mv.str.extract(r"_(b3[78])$", expand=False).dropna()
    if suf.empty:
        return None
    return _BUILD_SUFFIX[suf.value_counts().index[0]]


def _restrict_target(models: pd.DataFrame, panel: pd.DataFrame, use_pos: bool) -> pd.DataFrame:
    # only panel rows that can match: keeps the string keys of harmonize_model_weights small on a genome-wide panel
    if use_pos:
        pos = pd.to_numeric(models["pos"], errors="coerce").dropna().astype(np.int64).unique()
        t = panel[panel["pos"].isin(pos)]
    else:
        t = panel[panel["rsid"].isin(set(models["rsid"].dropna().astype(str)))]
    return t.reset_index(drop=True)


def harmonize_model_table(models: pd.DataFrame, panel: pd.DataFrame, *, tissue: str, qtl_type: str,
                          gene_map: Mapping[str, str] | None = None, match_on: str = "auto",
                          settings: Settings | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Harmonize a long model table to the panel (no I/O).

    Parameters
    ----------
    models : long model table (:func:`read_models`); ``model`` is the phenotype id (a model id of the form
        ``phenotype|tissue|qtl_type`` is reduced to its phenotype: the sheet row's tissue and QTL type name the pair).
    panel : the panel's ``variants.parquet`` (``variant_id, chrom, pos, other_allele, counted_allele, rsid,
        counted_freq``).
    tissue, qtl_type : of the sheet row; ``pair_id = "{phenotype}|{tissue}|{qtl_type}"``.
    gene_map : phenotype id → gene id (default: the Ensembl id in the phenotype id, version stripped).
    match_on : ``auto`` | ``position`` | ``rsid`` (see :func:`~twasflow.harmonize.models.harmonize_model_weights`).
    settings : the ``harmonize`` config block (palindromic variants, strand consensus); default its defaults.

    Returns
    -------
    (table, report, counts): ``table`` with :data:`MODEL_COLUMNS` sorted by chrom, pos, pair_id (``weight`` =
    per-SD weight of the counted allele = per-allele weight × panel SD); ``report`` with :data:`REPORT_COLUMNS`
    (one row per pair, every model row counted once); ``counts`` = ``n_input, n_kept, dropped, swapped_alleles,
    flipped_strand, used`` (``used`` = the harmonized rows with ``model_variant`` and ``flipped`` for
    :func:`oriented_covariance`).
    """
    from .io.panel import chrom_sort_key

    m = models.reset_index(drop=True).copy()
    m["model"] = m["model"].astype(str).str.split("|", n=1).str[0]
    have_pos = m["pos"].notna().any()
    use_pos = match_on == "position" or (match_on == "auto" and have_pos)
    target = _restrict_target(m, panel, use_pos)
    used, rep = harmonize_model_weights(m, target, match_on="position" if use_pos else "rsid", settings=settings)
    # a weight of exactly 0 is matched but useless: count it instead of carrying a zero "used" weight
    zero = used["weight"].to_numpy() == 0.0
    rep = rep.set_index("model")
    rep["zero_weight"] = used.loc[zero].groupby("model").size().reindex(rep.index, fill_value=0).astype(np.int64)
    rep["n_used"] -= rep["zero_weight"]
    rep["n_flipped"] -= used.loc[zero & used["flipped"]].groupby("model").size().reindex(rep.index, fill_value=0)
    used = used.loc[~zero].reset_index(drop=True)
    trow = used["target_row"].to_numpy()
    if "sd" in target.columns:  # a variant table without genotypes may carry the reference SDs themselves
        sd = target["sd"].to_numpy(np.float64)[trow]
    else:
        sd = np.sqrt(2.0 * target["counted_freq"].to_numpy(np.float64)[trow]
                     * (1.0 - target["counted_freq"].to_numpy(np.float64)[trow]))
    w_allele = used["weight"].to_numpy(np.float64)
    w_sd = w_allele * sd
    if "weight_scale" in m.columns and bool((m["weight_scale"] == "sd").all()):
        # FUSION / cTWAS weights are per standardized genotype already; per allele = weight / SD (NaN without one)
        w_sd, w_allele = w_allele, w_allele / np.where(sd > 0, sd, np.nan)
    gmap = dict(gene_map or {})
    phen = rep.index.to_numpy(str)
    gene_of = {p: _gene_id(p, gmap) for p in phen}
    pair_of = {p: f"{p}|{tissue}|{qtl_type}" for p in phen}
    n_model = rep["n_model"]
    table = pd.DataFrame({
        "pair_id": used["model"].map(pair_of).to_numpy(object),
        "phenotype_id": used["model"].to_numpy(object),
        "gene_id": used["model"].map(gene_of).to_numpy(object),
        "tissue": tissue,
        "qtl_type": qtl_type,
        "variant_id": used["variant_id"].to_numpy(object),
        "chrom": target["chrom"].astype(str).to_numpy(object)[trow],
        "pos": target["pos"].to_numpy(np.int64)[trow],
        "weight": w_sd,
        "weight_allele": w_allele,
        "n_model": used["model"].map(n_model).to_numpy(np.int64),
        "model_variant": used["model_variant"].astype(str).to_numpy(object),
        "flipped": used["flipped"].to_numpy(bool),
    })
    if len(table):
        ckey = table["chrom"].map({c: i for i, c in enumerate(sorted(table["chrom"].unique(), key=chrom_sort_key))})
        order = np.lexsort((table["pair_id"].to_numpy(str), table["pos"].to_numpy(), ckey.to_numpy()))
        table = table.iloc[order].reset_index(drop=True)
    table = table[MODEL_COLUMNS]
    rep = rep.reset_index().rename(columns={"model": "phenotype_id"})
    rep.insert(0, "pair_id", rep["phenotype_id"].map(pair_of))
    rep.insert(2, "gene_id", rep["phenotype_id"].map(gene_of))
    counts = rep[MODEL_REASONS].to_numpy()
    rep["reasons"] = [", ".join(f"{r}={int(c)}" for r, c in zip(MODEL_REASONS, row) if c) for row in counts]
    rep = rep[REPORT_COLUMNS].sort_values("pair_id", kind="stable").reset_index(drop=True)
    dropped = {r: int(rep[r].sum()) for r in MODEL_REASONS if rep[r].sum()}
    info = {
        "n_input": int(len(m)),
        "n_kept": int(len(table)),
        "dropped": dict(sorted(dropped.items())),
        "swapped_alleles": int(used["flipped"].sum()),
        "flipped_strand": int(used["strand_flipped"].sum()),
        "matched_on": "position" if use_pos else "rsid",
        "used": used.assign(model=used["model"].map(pair_of)),
    }
    assert info["n_input"] == info["n_kept"] + sum(dropped.values()), info
    return table, rep, info


def harmonize_models(
    path: str | Path,
    *,
    fmt: str,
    panel_variants: pd.DataFrame,
    out_dir: str | Path,
    qc_out: str | Path,
    dataset: str,
    tissue: str,
    qtl_type: str,
    covariance: str | Path | None = None,
    gene_map: str | Path | None = None,
    declared_build: str | None = None,
    panel_build: str | None = None,
    match_on: str = "auto",
    fusion_model: str | None = None,
    credible_sets: str | Path | None = None,
    n: float | None = None,
    **_harmonize: Any,
) -> dict[str, Any]:
    """Rule ``harmonize_xqtl`` for a prediction-model source: write ``models.parquet``, ``models_report.tsv``,
    ``covariance.npz`` (with ``covariance``) into ``out_dir`` and the QC JSON ``qc_out``.

    Parameters
    ----------
    path : the PredictDB ``.db`` (``fmt="predictdb"``) or the long weight table (``fmt="weights-long"``).
    panel_variants : the panel's ``variants.parquet`` as a DataFrame.
    covariance : optional PredictDB covariance file (``GENE RSID1 RSID2 VALUE``) keyed by the model's varID
        or rsid.
    gene_map : optional TSV ``phenotype_id, gene_id``.
    declared_build, panel_build : the sheet's and the run's genome build; a PredictDB varID suffix (``_b37``,
        ``_b38``) that contradicts the run's build is an error (positions would not match).
    _harmonize : the ``harmonize:`` config block (``palindromic``, ``strand_consensus_max_flip``: models carry
        no allele frequency, so their palindromic variants are kept only on the file's strand consensus, as a
        GWAS without frequencies; :mod:`twasflow.harmonize.models`).

    Returns
    -------
    The QC dict (also written to ``qc_out``).

    Raises
    ------
    HarmonizeError
        Unreadable input, a build mismatch, or no model variant matching the panel.
    """
    out_dir = Path(out_dir)
    susie_src = None
    if fmt == "eqtlcat-susie":  # published SuSiE fine-mapping: posterior means + the effects' lbf for coloc
        from .finemapped_xqtl import SusieSource

        susie_src = SusieSource(path, credible_sets, n=n)
        models = susie_src.long
    else:
        models = read_models(path, fmt, fusion_model)
    if models.empty:
        raise HarmonizeError.at("no model rows", file=path, expected="at least one weight")
    suffix_build = _declared_suffix_build(models)
    if suffix_build and panel_build and suffix_build != panel_build and match_on != "rsid":
        raise HarmonizeError.at("model variant ids are in another genome build", file=path, column="varID",
                                found=f"ids ending _{'b37' if suffix_build == 'GRCh37' else 'b38'} ({suffix_build})",
                                expected=f"{panel_build} (the run's genome_build); use models for that build")
    panel = panel_variants if isinstance(panel_variants, pd.DataFrame) else panel_variants.to_pandas()
    settings = _settings(**(asdict(Settings()) | {k: v for k, v in _harmonize.items() if k in Settings.__dataclass_fields__}))
    table, report, info = harmonize_model_table(models, panel, tissue=tissue, qtl_type=qtl_type,
                                                gene_map=read_gene_map(gene_map) or {}, match_on=match_on,
                                                settings=settings)
    if info["n_kept"] == 0:
        raise HarmonizeError.at("no model variant matches the panel", file=path, column=info["matched_on"],
                                found=f"{info['n_input']} model rows; dropped {info['dropped']}",
                                expected="model variants present in the panel (same build, same chromosome names)")
    warnings: list[str] = []
    n_pairs_cov = 0
    if covariance:
        cov_pairs, missing = model_covariances(covariance, models, info["used"], tissue=tissue, qtl_type=qtl_type)
        write_model_covariance(out_dir / "covariance.npz", cov_pairs, table)
        n_pairs_cov = len(cov_pairs)
        if missing:
            warnings.append(f"{len(missing)} model(s) lack (some of) their used variants in the covariance file "
                            f"{covariance}, e.g. {missing[0]}: their S-PrediXcan uses the panel LD")
    n_pairs_used = int((report["n_used"] > 0).sum())
    if n_pairs_used < len(report):
        warnings.append(f"{len(report) - n_pairs_used} of {len(report)} models have no variant in the panel "
                        f"(see models_report.tsv)")
    if fmt == "predictdb":  # newer PredictDB models carry S-PrediXcan's calibration factor phi (extra.phi)
        from .io.predictdb import read_predictdb_phi

        try:
            phi = read_predictdb_phi(path)
        except InputError:
            phi = None
        if phi is not None:
            table["phi"] = table["phenotype_id"].map(phi).astype(np.float64)
    write_parquet(table, out_dir / "models.parquet")
    write_tsv(report, out_dir / "models_report.tsv")
    susie_qc = None if susie_src is None else susie_src.write(out_dir, panel, tissue=tissue, qtl_type=qtl_type,
                                                              settings=settings)
    qc = {
        "input": str(path),
        "n_input": info["n_input"],
        "n_kept": info["n_kept"],
        "dropped": info["dropped"],
        "flipped_strand": info["flipped_strand"],
        "swapped_alleles": info["swapped_alleles"],
        "palindromic_aligned": 0,
        "build": {"declared": declared_build, "match_rate": info["n_kept"] / info["n_input"],
                  "best_guess": suffix_build or declared_build},
        "warnings": warnings,
        "format": fmt,
        "dataset": dataset,
        "tissue": tissue,
        "qtl_type": qtl_type,
        "matched_on": info["matched_on"],
        "n_models": int(len(report)),
        "n_pairs": n_pairs_used,
        "n_pairs_covariance": n_pairs_cov,
        "covariance": None if not covariance else str(covariance),
    }
    if susie_qc is not None:
        qc["susie"] = susie_qc
    write_json(qc, qc_out)
    return qc


def model_covariances(path: str | Path, models: pd.DataFrame, used: pd.DataFrame, *, tissue: str, qtl_type: str
                      ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """Per pair, the covariance-file block of its used variants oriented to the counted alleles.

    ``used`` has ``model`` = pair id, ``model_variant``, ``variant_id``, ``flipped`` (rows of one pair in
    table order). A model's variants are looked up by its own key (varID) and, failing that, by rsid.

    Returns
    -------
    ({pair_id: (variant_ids (k,), cov (k, k))}, [pair ids without a complete block]).
    """
    phen_of = {f"{p}|{tissue}|{qtl_type}": p for p in models["model"].astype(str).str.split("|", n=1).str[0]}
    cov = read_predictdb_covariance(path, genes=sorted(set(phen_of.values())))
    rs_of = dict(zip(models["model_variant"].astype(str), models["rsid"].astype(str)))
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    missing: list[str] = []
    for pair, rows in used.groupby("model", sort=True):
        entry = cov.get(phen_of.get(pair, ""))
        if entry is None:
            missing.append(pair)
            continue
        ids = set(entry[0])
        rows = rows.reset_index(drop=True)
        if not rows["model_variant"].isin(ids).all():
            rows = rows.assign(model_variant=rows["model_variant"].map(rs_of))
        try:
            C = oriented_covariance(entry, rows)
        except InputError:
            missing.append(pair)
            continue
        out[str(pair)] = (rows["variant_id"].to_numpy(str), C)
    return out, missing


def write_model_covariance(path: str | Path, cov: Mapping[str, tuple[np.ndarray, np.ndarray]],
                           table: pd.DataFrame) -> None:
    """Write per-pair covariance blocks as flat arrays: ``pair_id (Q,)``, ``offset (Q+1,)`` into
    ``variant_id (K,)``, and ``cov`` (Σ k², the row-major blocks one after another)."""
    pairs = [p for p in pd.unique(table["pair_id"]) if p in cov]
    pairs.sort()
    sizes = np.array([len(cov[p][0]) for p in pairs], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    vids = np.concatenate([cov[p][0] for p in pairs]).astype(str) if pairs else np.zeros(0, dtype=str)
    vals = np.concatenate([cov[p][1].ravel() for p in pairs]) if pairs else np.zeros(0)
    write_npz(path, pair_id=np.array(pairs, dtype=str), offset=offset, variant_id=vids, cov=vals.astype(np.float64))


def read_model_covariance(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read :func:`write_model_covariance` output → ``{pair_id: (variant_ids (k,), cov (k, k))}``."""
    with np.load(path, allow_pickle=False) as f:
        pairs, off, vids, vals = f["pair_id"], f["offset"], f["variant_id"], f["cov"]
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    c0 = 0
    for i, p in enumerate(pairs):
        k = int(off[i + 1] - off[i])
        out[str(p)] = (vids[off[i]:off[i + 1]], vals[c0:c0 + k * k].reshape(k, k))
        c0 += k * k
    return out
