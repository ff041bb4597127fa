"""Which pairs rule ``coloc`` tests at each locus: those in a causal credible set of every fine-mapping method,
or (under the name ``prescreen``) those the prescreen kept. Tables in, tables out: no I/O."""

from __future__ import annotations

from typing import Mapping

import pandas as pd

#: the per-pair columns of rule coloc's table (docs/outputs.md "coloc")
COLOC_COLUMNS = ["trait", "locus_id", "method", "cs", "pair_id", "nsnps", "susie_hit1", "susie_hit2", "PP.H0",
                 "PP.H1", "PP.H2", "PP.H3", "PP.H4", "abf_PP.H0", "abf_PP.H1", "abf_PP.H2", "abf_PP.H3",
                 "abf_PP.H4", "colocalized", "reason"]


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
