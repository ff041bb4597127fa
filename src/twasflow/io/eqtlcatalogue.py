"""eQTL Catalogue nominal summary statistics as Parquet (``QTD*.all.parquet``, ``QTD*.cc.parquet``).

The Parquet files carry the columns of the TSV release (eQTL Catalogue ``docs/Columns_parquet.md``):
``molecular_trait_id, chromosome, position, ref, alt, variant, ma_samples, maf, pvalue, beta, se, type, ac,
an, r2, molecular_trait_object_id, gene_id, median_tpm, rsid``; ALT is the effect allele. This reader yields
the same :class:`~twasflow.io.gwas.RawBatch` objects as the TSV reader
(:func:`twasflow.io.xqtl.read_eqtl_catalogue_batches`, which dispatches here), row group by row group and
only the needed columns, so both paths give the same harmonized store (``tests/test_eqtlcatalogue.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa

from .gwas import NUMERIC_ROLES, RawBatch, _as_string, _column_to_float, _numeric_from_strings

PARQUET_MAGIC = b"PAR1"


def is_parquet(path: str | Path) -> bool:
    """True when ``path`` is a file starting with Parquet's magic bytes (False for text, gzip, a missing file)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == PARQUET_MAGIC
    except OSError:
        return False


def read_eqtl_catalogue_parquet(path: str | Path, *, sheet_n: float | None,
                                batch_rows: int = 1_000_000) -> Iterator[RawBatch]:
    """Stream an eQTL Catalogue Parquet file as RawBatch objects (roles as the TSV reader's).

    Numeric columns stored as text are parsed per value; a value that is not a number is flagged in
    ``RawBatch.bad`` (dropped and counted by the harmonizer) as for a TSV.
    """
    from .xqtl import eqtl_catalogue_roles, finish_eqtl_catalogue_batch, iter_parquet, open_parquet

    pf = open_parquet(path)
    names = pf.schema_arrow.names
    roles = eqtl_catalogue_roles(names, sheet_n, path)
    extra = ["molecular_trait_id"] + (["gene_id"] if "gene_id" in names else [])
    cols = list(dict.fromkeys([*roles.values(), *extra]))

    def batch(rb: pa.RecordBatch, row: np.ndarray) -> RawBatch:
        strings: dict[str, pa.Array] = {}
        numbers: dict[str, np.ndarray] = {}
        bad: dict[str, np.ndarray] = {}
        for role, col in roles.items():
            arr = rb.column(col)
            if role not in NUMERIC_ROLES:
                strings[role] = _as_string(arr)
            elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
                vals, b = _numeric_from_strings(arr.cast(pa.string()))
                numbers[role], bad[role] = vals, b
            else:
                numbers[role] = _column_to_float(arr)
        ex = {c: _as_string(rb.column(c)) for c in extra}
        return finish_eqtl_catalogue_batch(RawBatch(strings=strings, numbers=numbers, bad=bad, row=row, extra=ex),
                                           sheet_n)

    yield from iter_parquet(pf, path, cols, batch_rows, batch)


__all__ = ["PARQUET_MAGIC", "is_parquet", "read_eqtl_catalogue_parquet"]
