"""Which pairs rule ``coloc`` tests at each locus: those in a causal credible set of every fine-mapping method,
or (under the name ``prescreen``) those the prescreen kept. Tables in, tables out: no I/O."""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from ..tables_schema import table

#: the per-pair columns of rule coloc's table (docs/outputs.md "coloc"; defined in twasflow.tables_schema)
COLOC_COLUMNS = table("coloc").names


def select_pairs(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The pairs to test, one row per (method, locus, pair): ``locus_id, pair_id, cs, method``.

    ``tables`` maps a method name to its fine-mapping ``variables`` table (pairs with ``causal``, with their
    ``cs``) or, under ``prescreen``, the prescreen table (pairs with ``kept``; ``cs`` null). Methods in name order.
    """
    sels = []
    for method, t in sorted(tables.items()):
        if method == "prescreen":
            t = t.loc[t["kept"], ["locus_id", "pair_id"]].assign(cs=pd.NA)
        elif len(t):
            t = t.loc[(t["type"] == "pair") & t["causal"], ["locus_id", "pair_id", "cs"]]
        else:
            t = pd.DataFrame(columns=["locus_id", "pair_id", "cs"])
        sels.append(t.assign(method=method))
    return pd.concat(sels, ignore_index=True)
