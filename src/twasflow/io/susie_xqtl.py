"""Readers of published SuSiE fine-mapping of xQTL: the eQTL Catalogue ``lbf_variable`` and ``credible_sets``
files (TSV(.gz) or Parquet, ``QTD*.lbf_variable.*``, ``QTD*.credible_sets.*``).

Layouts (eQTL Catalogue ``docs/Columns_parquet.md`` and its SuSiE workflow, ``qtlmap/bin/run_susie.R``):

* ``lbf_variable``: one row per (molecular trait, variant of the fine-mapped region): ``molecular_trait_id,
  region, variant, chromosome, position, lbf_variable1 … lbf_variable10`` (natural-log single-effect Bayes
  factors of SuSiE's L = 10 effects; written for every trait with at least one credible set).
* ``credible_sets``: one row per (trait, credible-set variant): ``molecular_trait_id, chromosome, position, ref,
  alt, variant, … pvalue, beta, se, …, gene_id, …, rsid, cs_id, cs_size, pip, z, cs_min_r2, region``;
  ``cs_id`` = ``<trait>_L<effect>``; ``z`` is the variant's marginal z for ALT.

``variant`` is ``chr<chrom>_<pos>_<ref>_<alt>`` (GRCh38), ALT the effect allele.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .eqtlcatalogue import is_parquet

LBF_REQUIRED = ("molecular_trait_id", "variant")
LBF_PREFIX = "lbf_variable"
CS_REQUIRED = ("molecular_trait_id", "variant", "cs_id", "z")
_CS_EFFECT = re.compile(r"_L(\d+)$")


def _read_table(path: str | os.PathLike[str], what: str) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise InputError.at(f"{what} file not found", file=p, expected="an existing file")
    try:
        if is_parquet(p):
            return pd.read_parquet(p)
        return pd.read_csv(p, sep="\t", dtype={"chromosome": str, "molecular_trait_id": str, "variant": str},
                           na_values=["NA", ""], keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InputError.at(f"cannot read the {what} file ({exc})", file=p,
                            expected="a tab-separated text (optionally gzip) or Parquet table") from None


def _need(df: pd.DataFrame, path: str | os.PathLike[str], required: tuple[str, ...], what: str) -> None:
    for c in required:
        if c not in df.columns:
            raise InputError.at(f"{what} file lacks a required column", file=path, column=c,
                                found=f"columns {list(df.columns)}", expected=f"columns {list(required)}")


def lbf_columns(columns: list[str] | pd.Index) -> list[str]:
    """The ``lbf_variable<k>`` columns in effect order (k = 1, 2, …)."""
    cols = [c for c in columns if re.fullmatch(LBF_PREFIX + r"\d+", str(c))]
    return sorted(cols, key=lambda c: int(str(c)[len(LBF_PREFIX):]))


def read_lbf_variable(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The lbf_variable table with ``lbf_variable<k>`` as float64; raises InputError naming file, column, row
    for a missing column, no ``lbf_variable<k>`` column, a non-numeric or infinite lbf, or a repeated
    (trait, variant)."""
    df = _read_table(path, "lbf_variable")
    _need(df, path, LBF_REQUIRED, "lbf_variable")
    cols = lbf_columns(df.columns)
    if not cols:
        raise InputError.at("lbf_variable file has no lbf_variable<k> column", file=path, column="lbf_variable1",
                            found=f"columns {list(df.columns)}", expected="lbf_variable1 … lbf_variable10")
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError.at("log Bayes factor is not a finite number", file=path, column=c, row=i + 1,
                                found=repr(df[c].iloc[i]), expected="a finite natural-log Bayes factor")
        df[c] = v
    df["molecular_trait_id"] = df["molecular_trait_id"].astype(str)
    df["variant"] = df["variant"].astype(str)
    dup = df.duplicated(["molecular_trait_id", "variant"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError.at("a variant is listed twice for one molecular trait", file=path, column="variant",
                            row=i + 1, found=f"{df['molecular_trait_id'].iloc[i]} {df['variant'].iloc[i]}",
                            expected="one row per (molecular_trait_id, variant)")
    return df


def read_credible_sets(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The credible_sets table with an added 0-based ``effect`` (from ``cs_id`` ``…_L<k>``) and ``z`` as
    float64; rows repeated per rsid are kept once per (trait, cs_id, variant)."""
    df = _read_table(path, "credible_sets")
    _need(df, path, CS_REQUIRED, "credible_sets")
    eff = df["cs_id"].astype(str).str.extract(_CS_EFFECT, expand=False)
    if eff.isna().any():
        i = int(np.flatnonzero(eff.isna().to_numpy())[0])
        raise InputError.at("cs_id does not end in _L<effect>", file=path, column="cs_id", row=i + 1,
                            found=repr(df["cs_id"].iloc[i]), expected="e.g. ENSG00000187583_L1")
    df["effect"] = eff.astype(np.int64) - 1
    z = pd.to_numeric(df["z"], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(z).all():
        i = int(np.flatnonzero(~np.isfinite(z))[0])
        raise InputError.at("z is not a finite number", file=path, column="z", row=i + 1,
                            found=repr(df["z"].iloc[i]), expected="the variant's marginal z")
    df["z"] = z
    df["molecular_trait_id"] = df["molecular_trait_id"].astype(str)
    df["variant"] = df["variant"].astype(str)
    return df.drop_duplicates(["molecular_trait_id", "cs_id", "variant"]).reset_index(drop=True)


def split_variant(variant: pd.Series) -> pd.DataFrame:
    """``chr1_123_A_G`` → chrom ``1``, pos 123, ref, alt (NaN parts for a malformed id)."""
    parts = variant.astype(str).str.split("_", n=3, expand=True).reindex(columns=range(4))
    return pd.DataFrame({"chrom": parts[0].str.replace(r"^chr", "", regex=True),
                         "pos": pd.to_numeric(parts[1], errors="coerce"),
                         "ref": parts[2].str.upper(), "alt": parts[3].str.upper()})


__all__ = ["CS_REQUIRED", "LBF_PREFIX", "LBF_REQUIRED", "lbf_columns", "read_credible_sets", "read_lbf_variable",
           "split_variant"]
