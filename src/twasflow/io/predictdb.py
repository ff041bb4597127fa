"""Prediction models as a weight source: PredictDB SQLite + covariance files, simple long weight tables, and
harmonization of model weights to the panel's counted alleles with a per-gene account of every variant.

PredictDB (``weights`` table: ``gene, rsid, varID, ref_allele, eff_allele, weight``; ``extra`` table:
``gene, genename, ..., n.snps.in.model, pred.perf.*``) stores per-allele weights of ``eff_allele``; the
covariance file (``GENE RSID1 RSID2 VALUE``, space-separated, each variant pair once) is the genotype
covariance of the model variants in the same (eff_allele dosage) coding, keyed by whatever id the model
uses (varID or rsid).

Harmonization (:func:`harmonize_model_weights`) matches each model variant to the target variants (the
panel, or a locus's variant set) by chromosome + position when both sides have them, else by rsid, then by
alleles: effect = counted → sign kept, effect = other → sign flipped, the same after complementing both
alleles (strand flip; not for palindromic A/T, C/G pairs, which are matched as stated). Every model variant
ends up used or dropped under one reason, per gene: ``not_in_panel`` (no variant at that position / rsid),
``allele_mismatch`` (alleles differ even after strand flip), ``bad_weight`` (missing or non-finite weight),
``duplicate`` (the same target variant twice in one model). The common S-PrediXcan complaint "0% of model
SNPs used" then comes with the reason.
"""

from __future__ import annotations

import gzip
import os
import sqlite3
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from twasflow.errors import InputError

WEIGHT_COLUMNS = ["gene", "rsid", "varID", "ref_allele", "eff_allele", "weight"]
REASONS = ["not_in_panel", "allele_mismatch", "bad_weight", "duplicate"]
_COMP = str.maketrans("ACGTacgt", "TGCAtgca")
_PALINDROMIC = {("A", "T"), ("T", "A"), ("C", "G"), ("G", "C")}


def _exists(path: str | os.PathLike[str], what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise InputError.at(f"{what} not found", file=p, expected="an existing file")
    return p


def read_predictdb(db: str | os.PathLike[str], genes: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a PredictDB model database with the standard library's sqlite3.

    Parameters
    ----------
    db : path of the ``.db`` file.
    genes : only these genes (ids as in the ``gene`` column), default all.

    Returns
    -------
    (weights, extra): ``weights`` with :data:`WEIGHT_COLUMNS` (one row per gene and variant; ``varID`` all
    None for a model keyed by rsid only, as GTEx v6p/v7 PredictDB models are), ``extra`` as stored (``gene,
    genename, ...``; empty with a ``gene`` column when the table is absent).
    """
    path = _exists(db, "PredictDB database")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise InputError.at(f"cannot open as SQLite: {exc}", file=path) from None
    try:
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise InputError.at(f"not a SQLite database ({exc})", file=path) from None
        if "weights" not in tables:
            raise InputError.at("no 'weights' table", file=path, found=sorted(tables), expected="weights, extra")
        cols = [r[1] for r in con.execute("PRAGMA table_info(weights)")]
        # GTEx v6p/v7 elastic-net models have no varID: their variants are keyed by rsid alone
        missing = [c for c in WEIGHT_COLUMNS if c not in cols and c != "varID"]
        if missing:
            raise InputError.at("the weights table lacks columns", file=path, column=", ".join(missing), found=cols,
                                expected="gene, rsid, ref_allele, eff_allele, weight (and varID, optional)")
        sel = ", ".join(f'"{c}"' if c in cols else f"NULL AS {c}" for c in WEIGHT_COLUMNS)
        where, args = "", ()
        if genes is not None:
            where = f" WHERE gene IN ({', '.join('?' * len(genes))})"
            args = tuple(genes)
        w = pd.read_sql_query(f"SELECT {sel} FROM weights{where}", con, params=args)
        extra = (pd.read_sql_query(f"SELECT * FROM extra{where}", con, params=args) if "extra" in tables
                 else pd.DataFrame({"gene": pd.Series(dtype=object)}))
    finally:
        con.close()
    w["weight"] = pd.to_numeric(w["weight"], errors="coerce")
    return w, extra


def read_predictdb_phi(db: str | os.PathLike[str]) -> pd.Series:
    """The per-gene inflation factor φ of a PredictDB database (``extra.phi``, written by the newer PredictDB
    pipelines for S-PrediXcan's calibration, :func:`twasflow.twas.calibrate_phi`), indexed by gene; genes
    without a value are left out. Raises InputError naming the file when the column is absent."""
    path = _exists(db, "PredictDB database")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        cols = [r[1] for r in con.execute("PRAGMA table_info(extra)")]
    except sqlite3.Error as exc:
        raise InputError.at(f"cannot read as SQLite: {exc}", file=path) from None
    try:
        if "phi" not in cols:
            raise InputError.at("the extra table has no phi column (a model without S-PrediXcan calibration)",
                                file=path, column="phi", found=cols, expected="extra.phi (newer PredictDB models)")
        phi = pd.read_sql_query("SELECT gene, phi FROM extra", con)
    finally:
        con.close()
    phi = phi.dropna(subset=["phi"])
    return pd.Series(pd.to_numeric(phi["phi"], errors="coerce").to_numpy(), index=phi["gene"].astype(str), name="phi")


def read_predictdb_covariance(path: str | os.PathLike[str], genes: list[str] | None = None
                              ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read a PredictDB covariance file (``GENE RSID1 RSID2 VALUE``, space-separated, gzip or plain).

    Each unordered variant pair is listed once (either order); the matrix is symmetrised. Returns
    ``{gene: (ids (m,), cov (m, m))}`` with ids in order of first appearance in the file.
    """
    p = _exists(path, "PredictDB covariance file")
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt") as fh:
        head = fh.readline().split()
    if [h.upper() for h in head[:4]] != ["GENE", "RSID1", "RSID2", "VALUE"]:
        raise InputError.at("unexpected header", file=p, row=0, found=" ".join(head),
                            expected="GENE RSID1 RSID2 VALUE")
    df = pd.read_csv(p, sep=r"\s+", dtype={0: str, 1: str, 2: str}, engine="c")
    df.columns = ["gene", "id1", "id2", "value"]
    if genes is not None:
        df = df[df["gene"].isin(set(genes))]
    val = pd.to_numeric(df["value"], errors="coerce")
    if val.isna().any():
        i = int(np.flatnonzero(val.isna().to_numpy())[0])
        raise InputError.at("non-numeric covariance", file=p, column="VALUE", row=int(df.index[i]) + 1,
                            found=repr(df["value"].iloc[i]), expected="a number")
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for gene, sub in df.assign(value=val).groupby("gene", sort=False):
        ids = pd.unique(np.concatenate([sub["id1"].to_numpy(), sub["id2"].to_numpy()]))
        pos = {v: i for i, v in enumerate(ids)}
        a = sub["id1"].map(pos).to_numpy()
        b = sub["id2"].map(pos).to_numpy()
        C = np.zeros((ids.size, ids.size))
        C[a, b] = sub["value"].to_numpy()
        C[b, a] = sub["value"].to_numpy()
        out[str(gene)] = (np.asarray(ids, dtype=object), C)
    return out


def parse_varid(varid: pd.Series) -> pd.DataFrame:
    """Split PredictDB / GTEx variant ids ``chr16_76589_A_C_b38`` into ``chrom`` ("16"), ``pos``, ``ref``,
    ``alt`` (NaN where the id does not have that shape)."""
    parts = varid.astype(str).str.split("_", expand=True)
    if parts.shape[1] < 4:
        return pd.DataFrame({"chrom": np.nan, "pos": np.nan, "ref": np.nan, "alt": np.nan}, index=varid.index)
    chrom = parts[0].str.replace(r"^chr", "", regex=True)
    pos = pd.to_numeric(parts[1], errors="coerce")
    return pd.DataFrame({"chrom": chrom, "pos": pos, "ref": parts[2], "alt": parts[3]}, index=varid.index)


def predictdb_to_long(weights: pd.DataFrame) -> pd.DataFrame:
    """PredictDB ``weights`` rows → the long model table :func:`harmonize_model_weights` takes:
    ``model, rsid, chrom, pos, effect_allele, other_allele, weight, model_variant`` (``model_variant`` = varID,
    or the rsid for a model without varIDs, whose covariance file is then keyed by rsid; chrom/pos NaN, so the
    variants are matched by rsid)."""
    if weights["varID"].isna().all():
        weights = weights.assign(varID=weights["rsid"])
        v = pd.DataFrame({"chrom": np.nan, "pos": np.nan}, index=weights.index)
    else:
        v = parse_varid(weights["varID"])
    return pd.DataFrame({
        "model": weights["gene"].astype(str).to_numpy(),
        "rsid": weights["rsid"].astype(object).to_numpy(),
        "chrom": v["chrom"].to_numpy(object),
        "pos": v["pos"].to_numpy(),
        "effect_allele": weights["eff_allele"].astype(str).str.upper().to_numpy(),
        "other_allele": weights["ref_allele"].astype(str).str.upper().to_numpy(),
        "weight": pd.to_numeric(weights["weight"], errors="coerce").to_numpy(),
        "model_variant": weights["varID"].astype(str).to_numpy(),
    })


def read_weights_long(path: str | os.PathLike[str], columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read a long weight table (tab-separated, optionally gzip): one row per (model, variant).

    Required columns (rename with ``columns={our_name: file_name}``): ``model`` (the pair or gene id),
    ``effect_allele``, ``weight`` (per copy of ``effect_allele``), and a variant given either as
    ``variant_id`` ("chrom:pos:other:effect", twasflow's own layout), or ``chrom`` + ``pos`` (+
    ``other_allele``), or ``rsid``. Optional: ``other_allele``, ``rsid``, ``weight_scale`` (``sd`` when the
    weights are per standardized genotype, as cTWAS's and FUSION's are; default per allele).

    Returns the table with columns ``model, rsid, chrom, pos, effect_allele, other_allele, weight,
    model_variant`` (missing ones NaN) ready for :func:`harmonize_model_weights`.
    """
    p = _exists(path, "weights table")
    df = pd.read_csv(p, sep="\t", dtype=str)
    ren = {v: k for k, v in (columns or {}).items()}
    df = df.rename(columns=ren)
    for need in ("model", "weight"):
        if need not in df.columns:
            raise InputError.at("missing column", file=p, column=need, found=list(df.columns))
    if "variant_id" in df.columns:
        parts = df["variant_id"].str.split(":", expand=True)
        if parts.shape[1] != 4:
            raise InputError.at("variant_id is not chrom:pos:other:effect", file=p, column="variant_id",
                                row=1, found=repr(df["variant_id"].iloc[0]))
        df["chrom"], df["pos"] = parts[0], parts[1]
        df["other_allele"], df.loc[:, "effect_allele"] = parts[2], parts[3]
    if "effect_allele" not in df.columns:
        raise InputError.at("missing column", file=p, column="effect_allele", found=list(df.columns))
    if not ({"chrom", "pos"} <= set(df.columns) or "rsid" in df.columns):
        raise InputError.at("no variant columns", file=p, column="variant_id | chrom+pos | rsid",
                            found=list(df.columns))
    w = pd.to_numeric(df["weight"], errors="coerce")
    out = pd.DataFrame({
        "model": df["model"].astype(str),
        "rsid": df["rsid"] if "rsid" in df.columns else np.nan,
        "chrom": df["chrom"].str.replace(r"^chr", "", regex=True) if "chrom" in df.columns else np.nan,
        "pos": pd.to_numeric(df["pos"], errors="coerce") if "pos" in df.columns else np.nan,
        "effect_allele": df["effect_allele"].str.upper(),
        "other_allele": df["other_allele"].str.upper() if "other_allele" in df.columns else np.nan,
        "weight": w,
        "model_variant": df["variant_id"] if "variant_id" in df.columns else
        (df["rsid"] if "rsid" in df.columns else df["chrom"] + ":" + df["pos"].astype(str)),
    })
    if "weight_scale" in df.columns:  # "sd": weights per standardized genotype (cTWAS, FUSION), else per allele
        out["weight_scale"] = df["weight_scale"].fillna("allele").to_numpy()
    return out


def harmonize_model_weights(models: pd.DataFrame, target: pd.DataFrame, *, match_on: str = "auto"
                            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orient model weights to the target's counted alleles and account for every model variant.

    Parameters
    ----------
    models : long model table (:func:`predictdb_to_long` / :func:`read_weights_long`).
    target : the variants weights may use, with ``variant_id, other_allele, counted_allele`` and ``chrom,
        pos`` and/or ``rsid`` (e.g. a panel's ``variants.parquet``, or a GWAS table); optional
        ``counted_freq`` or ``sd`` for standardization.
    match_on : ``position`` (chrom + pos), ``rsid``, or ``auto`` (position when both sides have it, else rsid).

    Returns
    -------
    (used, report). ``used``: one row per model variant used — ``model, model_variant, variant_id,
    target_row, weight`` (per counted allele), ``flipped`` (sign changed), ``strand_flipped``, and
    ``weight_std`` = weight × SD of the counted allele (``sd`` column, else sqrt(2 f (1 - f)); NaN when
    the target has neither). ``report``: per model ``model, n_model, n_used, n_flipped`` and one count
    column per reason in :data:`REASONS`; ``n_model == n_used + Σ reasons``.
    """
    m = models.reset_index(drop=True)
    t = target.reset_index(drop=True)
    if match_on not in ("auto", "position", "rsid"):
        raise InputError.at("unknown match_on", column="match_on", found=repr(match_on),
                            expected="auto, position or rsid")
    have_pos = {"chrom", "pos"} <= set(t.columns) and m["pos"].notna().any()
    use_pos = match_on == "position" or (match_on == "auto" and have_pos)
    reason = np.full(len(m), "", dtype=object)
    bad_w = ~np.isfinite(m["weight"].to_numpy(dtype=np.float64))
    reason[bad_w] = "bad_weight"
    # candidate target rows per model row (all target variants at that position / rsid)
    if use_pos:
        tk = t["chrom"].astype(str) + ":" + t["pos"].astype("Int64").astype(str)
        mk = m["chrom"].astype(str) + ":" + m["pos"].astype("Int64").astype(str)
    else:
        if "rsid" not in t.columns:
            raise InputError.at("target has neither chrom+pos nor rsid", column="rsid", found=list(t.columns))
        tk, mk = t["rsid"].astype(str), m["rsid"].astype(str)
    cand = pd.DataFrame({"mrow": np.arange(len(m)), "key": mk.to_numpy()}).merge(
        pd.DataFrame({"trow": np.arange(len(t)), "key": tk.to_numpy()}), on="key", how="inner")
    ea = m["effect_allele"].to_numpy(object)[cand["mrow"]]
    oa = m["other_allele"].to_numpy(object)[cand["mrow"]]
    cnt = t["counted_allele"].to_numpy(object)[cand["trow"]]
    oth = t["other_allele"].to_numpy(object)[cand["trow"]]
    known_oa = pd.notna(oa)
    same = (ea == cnt) & (~known_oa | (oa == oth))
    swap = (ea == oth) & (~known_oa | (oa == cnt))
    pal = np.array([(str(a), str(b)) in _PALINDROMIC for a, b in zip(cnt, oth)], dtype=bool)
    eac = np.array([str(x).translate(_COMP) for x in ea], dtype=object)
    oac = np.array([str(x).translate(_COMP) if pd.notna(x) else x for x in oa], dtype=object)
    s_same = ~pal & ~same & ~swap & (eac == cnt) & (~known_oa | (oac == oth))
    s_swap = ~pal & ~same & ~swap & (eac == oth) & (~known_oa | (oac == cnt))
    ok = same | swap | s_same | s_swap
    cand = cand.assign(ok=ok, sign=np.where(swap | s_swap, -1.0, 1.0), strand=s_same | s_swap)
    found = np.zeros(len(m), dtype=bool)
    found[cand["mrow"].to_numpy()] = True
    hit = cand[cand["ok"]].drop_duplicates("mrow", keep="first")
    matched = np.zeros(len(m), dtype=bool)
    matched[hit["mrow"].to_numpy()] = True
    reason[(reason == "") & ~found] = "not_in_panel"
    reason[(reason == "") & found & ~matched] = "allele_mismatch"
    hit = hit[reason[hit["mrow"].to_numpy()] == ""]
    # the same target variant twice in one model: keep the first
    dup = pd.Series(m["model"].to_numpy(object)[hit["mrow"]]).astype(str) + "\x00" + hit["trow"].astype(str).to_numpy()
    d = dup.duplicated().to_numpy()
    reason[hit["mrow"].to_numpy()[d]] = "duplicate"
    hit = hit[~d]
    mr, tr = hit["mrow"].to_numpy(), hit["trow"].to_numpy()
    w = m["weight"].to_numpy(dtype=np.float64)[mr] * hit["sign"].to_numpy()
    if "sd" in t.columns:
        sd = t["sd"].to_numpy(dtype=np.float64)[tr]
    elif "counted_freq" in t.columns:
        f = t["counted_freq"].to_numpy(dtype=np.float64)[tr]
        sd = np.sqrt(2.0 * f * (1.0 - f))
    else:
        sd = np.full(tr.size, np.nan)
    used = pd.DataFrame({
        "model": m["model"].to_numpy(object)[mr],
        "model_variant": m["model_variant"].to_numpy(object)[mr],
        "variant_id": t["variant_id"].to_numpy(object)[tr],
        "target_row": tr.astype(np.int64),
        "weight": w,
        "flipped": hit["sign"].to_numpy() < 0,
        "strand_flipped": hit["strand"].to_numpy(bool),
        "weight_std": w * sd,
    }).sort_values(["model", "target_row"], kind="stable").reset_index(drop=True)
    rep = pd.DataFrame({"model": m["model"].astype(str), "reason": reason})
    report = pd.crosstab(rep["model"], rep["reason"]).reindex(columns=[""] + REASONS, fill_value=0)
    report = report.rename(columns={"": "n_used"})
    report.insert(0, "n_model", report.sum(axis=1))
    nflip = used.groupby("model")["flipped"].sum()
    report["n_flipped"] = nflip.reindex(report.index, fill_value=0).astype(np.int64)
    report = report.reset_index()[["model", "n_model", "n_used", "n_flipped"] + REASONS]
    return used, report


def oriented_covariance(cov: tuple[np.ndarray, np.ndarray], used: pd.DataFrame) -> np.ndarray:
    """The model covariance of the used variants of one model (rows of ``used`` for that model, in order),
    oriented to the counted alleles (rows/columns of flipped variants change sign).

    Raises InputError when a used variant is absent from the covariance file."""
    ids, C = cov
    pos = {v: i for i, v in enumerate(ids)}
    mv = used["model_variant"].to_numpy(object)
    missing = [v for v in mv if v not in pos]
    if missing:
        raise InputError.at("model variant missing from the covariance file", column="RSID1/RSID2",
                            found=missing[0], expected=f"one of the {len(ids)} ids of the model")
    k = np.array([pos[v] for v in mv], dtype=np.int64)
    s = np.where(used["flipped"].to_numpy(bool), -1.0, 1.0)
    return C[np.ix_(k, k)] * np.outer(s, s)
