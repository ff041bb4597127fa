"""Gene tests as the prescreen statistic (config ``prescreen.statistic: gene_test``).

By default the prescreen keeps a gene–tissue pair for fine-mapping when the pair's own S-PrediXcan p is at most
``prescreen.p_max``. With ``statistic: gene_test`` the decision is made per gene instead: every pair (all
tissues and QTL types) of a gene whose gene-test p-value (``prescreen.gene_test_column`` of the gene table,
default the GAMBIT omnibus ``omnibus_p``; or ``ct_twas_p``, ``smultixcan_p``, ``dtss_p``, ``min_p``) is at most
``p_max`` enters fine-mapping, the others are dropped with reason ``gene_test_above_max``. A pair whose gene
has no gene test at the locus (its TSS is outside the locus window, or the gene is not in the TSS table) keeps
the S-PrediXcan decision; their number is returned so the stage can log it.

Pure table logic, no I/O.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

#: gene-table columns that can drive the prescreen
GENE_TEST_COLUMNS = ("omnibus_p", "ct_twas_p", "smultixcan_p", "dtss_p", "min_p")
#: prescreen ``reason`` of a pair dropped because its gene's test p-value is above ``p_max``
GENE_TEST_ABOVE_MAX = "gene_test_above_max"


def _unversioned(ids: Sequence[object]) -> np.ndarray:
    return pd.Series(ids, dtype=object).astype(str).str.replace(r"\.\d+$", "", regex=True).to_numpy(str)


def select_by_gene_test(prescreen: pd.DataFrame, pair_genes: Sequence[object], genes: pd.DataFrame, *,
                        p_max: float, column: str = "omnibus_p") -> tuple[pd.DataFrame, int]:
    """Re-decide ``kept`` / ``reason`` of one locus's prescreen rows from its genes' gene-test p-values.

    Parameters
    ----------
    prescreen : the locus's rows of the prescreen table (:func:`twasflow.twas.prescreen_table`), one per pair.
    pair_genes : (P,) gene id of each row's pair (the bundle's ``pairs.gene_id``; an Ensembl version is ignored).
    genes : the gene-test gene table rows of the same locus (``gene_id`` unversioned, ``column``).
    p_max : keep a pair when its gene's p is at most this.
    column : the gene-table p-value used (:data:`GENE_TEST_COLUMNS`).

    Returns
    -------
    (table with ``kept`` and ``reason`` replaced for pairs with weights whose gene was tested, number of pairs
    with weights whose gene has no gene test and keep the S-PrediXcan decision).
    """
    if column not in GENE_TEST_COLUMNS:
        raise ValueError(f"prescreen.gene_test_column: found {column!r}; expected one of {GENE_TEST_COLUMNS}")
    if len(pair_genes) != len(prescreen):
        raise ValueError(f"select_by_gene_test: {len(pair_genes)} gene ids for {len(prescreen)} prescreen rows")
    out = prescreen.copy()
    gp = pd.to_numeric(genes[column], errors="coerce") if len(genes) else pd.Series(dtype=np.float64)
    # one p per gene at the locus (a gene appears once per locus in the gene table; keep the smallest if not)
    by_gene = pd.Series(gp.to_numpy(np.float64), index=_unversioned(genes["gene_id"]) if len(genes) else []
                        ).groupby(level=0).min()
    p = by_gene.reindex(_unversioned(list(pair_genes))).to_numpy(np.float64)
    has = out["n_weights_used"].to_numpy(np.int64) > 0
    tested = has & np.isfinite(p)
    keep = tested & (p <= p_max)
    kept = out["kept"].to_numpy(bool).copy()
    reason = out["reason"].to_numpy(object).copy()
    kept[tested] = keep[tested]
    reason[tested] = np.where(keep[tested], "", GENE_TEST_ABOVE_MAX)
    out["kept"] = kept
    out["reason"] = reason
    return out, int(np.count_nonzero(has & ~tested))
