"""Results of other tools in the docs/outputs.md ``variables`` layout, so the summaries (e.g. silver-standard precision)
run on them unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .genes import gene_key

CTWAS_COLUMNS = ("id", "type", "context", "region_id", "susie_pip", "mu", "cs")


def ctwas_finemap_variables(path: str | Path, trait: str, *, pip_min: float = 0.8) -> pd.DataFrame:
    """cTWAS fine-mapping output (``finemap_res`` written as TSV) → docs/outputs.md ``variables`` rows.

    cTWAS calls a gene when its PIP exceeds ``pip_min`` (0.8 in the cTWAS paper); ``causal`` follows that rule
    for genes and SNPs. Gene rows (``type`` other than ``SNP``) become pairs: ``gene_id`` = the Ensembl id of
    ``id`` without version, ``tissue`` = ``context``, ``qtl_type`` = ``type``; ``locus_id`` = ``region_id``;
    ``cs`` = the number in cTWAS's ``L<k>`` label (null outside credible sets); ``estimate`` = ``mu``.
    """
    p = Path(path)
    df = pd.read_csv(p, sep="\t", dtype={"cs": str}, keep_default_na=True)
    for c in CTWAS_COLUMNS:
        if c not in df.columns:
            raise InputError.at("not a cTWAS finemap_res table", file=p, column=c,
                                found=f"columns {list(df.columns)}", expected=", ".join(CTWAS_COLUMNS))
    is_pair = (df["type"].astype(str) != "SNP").to_numpy()
    mol = df["molecular_id"] if "molecular_id" in df.columns else df["id"].astype(str).str.split("|").str[0]
    cs = pd.to_numeric(df["cs"].astype(str).str.extract(r"L(\d+)", expand=False), errors="coerce").astype("Int64")
    pip = df["susie_pip"].to_numpy(np.float64)
    out = pd.DataFrame({
        "trait": trait, "locus_id": df["region_id"].astype(object), "method": "ctwas",
        "variable_id": df["id"].astype(object), "type": np.where(is_pair, "pair", "variant"),
        "pair_id": np.where(is_pair, df["id"].astype(str), None),
        "gene_id": np.where(is_pair, [gene_key(m) for m in mol.astype(str)], None),
        "gene_name": None,
        "tissue": np.where(is_pair, df["context"].astype(str), None),
        "qtl_type": np.where(is_pair, df["type"].astype(str), None),
        "variant_id": np.where(is_pair, None, df["id"].astype(str)),
        "pip": pip, "cs": cs, "cs_pip": np.nan, "cs_pratt": np.nan, "estimate": df["mu"].to_numpy(np.float64),
        "se": np.nan, "pratt": np.nan, "causal": pip > pip_min,
    })
    return out
