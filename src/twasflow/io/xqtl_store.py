"""The variant-major side of the harmonized xQTL store: what a locus reads instead of the pairs' Parquet rows.

Beside each ``{chrom}.parquet`` (table ``xqtl``: one row per test, every column, for people and tools),
``harmonize_xqtl`` writes, when every pair of the chromosome has one TSS (or none known):

``{chrom}.track.parquet`` (table ``xqtl_track``)
    one row per (variant, TSS): the largest |z| and the number of rows over the pairs with that TSS, and
    ``row``, the variant's first row in the data file. A locus picks its variants from it (xQTL min-p over the
    pairs whose TSS is in the window) and learns where each variant's rows are.
``{chrom}.rows.arrow`` (table ``xqtl_rows``)
    the data file's rows in the same order (by position, then phenotype id), only the numbers a locus needs:
    ``pair`` (int32, row of the pairs table), ``z`` (float64, the same value as the data file's) and, only when
    the sample size varies within a pair (eQTL Catalogue ``an / 2``), ``n``. Arrow IPC, uncompressed, one record
    batch per 1 Mb bin: memory-mapped, a variant's rows are a slice, so a locus reads only its selected variants'
    rows (12 bytes each) and nothing of their neighbours.
``{chrom}.pairs.parquet`` (table ``xqtl_pairs``)
    one row per phenotype of the input stream (row index = ``pair`` code): ids, gene, tissue, type, TSS and the
    pair's sample size (when it is one value for all its rows; NaN otherwise, then ``n`` is in the rows file).

All three carry the data file's row count (footer/schema key ``rows``); a locus uses them only when all three
agree with the data file, and otherwise reads the data file itself (stores written before this layout too, at
the old speed).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..tables_schema import table
from .tables import atomic_path

TRACK_SUFFIX = ".track.parquet"
ROWS_SUFFIX = ".rows.arrow"
PAIRS_SUFFIX = ".pairs.parquet"



def _schema(name: str, overrides: dict[str, pa.DataType]) -> pa.Schema:
    """The Arrow schema of table ``name`` of :mod:`twasflow.tables_schema` (its one definition); string columns
    dictionary-coded unless ``overrides`` says otherwise."""
    base = {"str": pa.dictionary(pa.int32(), pa.string()), "int": pa.int64(), "Int": pa.int64(),
            "float": pa.float64(), "bool": pa.bool_()}
    return pa.schema([(c, overrides.get(c, base[t])) for c, t in table(name).columns])


TRACK_SCHEMA = _schema("xqtl_track", {})
TRACK_PARQUET = dict(use_dictionary=["variant_id"], write_statistics=["pos"],
                     column_encoding={"pos": "DELTA_BINARY_PACKED", "tss": "DELTA_BINARY_PACKED",
                                      "maxabs": "BYTE_STREAM_SPLIT", "rows": "DELTA_BINARY_PACKED",
                                      "row": "DELTA_BINARY_PACKED"})
PAIRS_SCHEMA = _schema("xqtl_pairs", {"pair_id": pa.string(), "phenotype_id": pa.string()})


def rows_schema(with_n: bool) -> pa.Schema:
    """Columns of a rows file: ``pair, z`` (+ ``n`` when the sample size varies within a pair)."""
    base = _schema("xqtl_rows", {"pair": pa.int32()})
    return base.append(pa.field("n", pa.float64())) if with_n else base


def sidecar(data_file: Path, suffix: str) -> Path:
    """``{chrom}.parquet`` → ``{chrom}{suffix}``."""
    return data_file.with_name(data_file.name[: -len(".parquet")] + suffix)


class ArrowStream:
    """An uncompressed Arrow IPC file written one record batch at a time, atomically (as
    :class:`~twasflow.io.tables.ParquetStream`): it appears under its name only at :meth:`close`."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._ctx = atomic_path(path)
        tmp = self._ctx.__enter__()
        self.schema = schema
        self.rows = 0
        self.batch_rows: list[int] = []
        self._sink = pa.OSFile(str(tmp), "wb")
        self._w = pa.ipc.new_file(self._sink, schema)

    def write(self, columns: list[np.ndarray]) -> None:
        self._w.write_batch(pa.record_batch([pa.array(c, type=f.type) for c, f in zip(columns, self.schema)],
                                            schema=self.schema))
        self.rows += len(columns[0])
        self.batch_rows.append(len(columns[0]))

    def close(self) -> None:
        self._w.close()
        self._sink.close()
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._w.close()
            self._sink.close()
        with contextlib.suppress(RuntimeError, Exception):
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)


def track_file(data_file: Path, data_rows: int) -> pq.ParquetFile | None:
    """The valid track of ``data_file`` (footer ``rows`` equal to its row count), else None."""
    tf = sidecar(data_file, TRACK_SUFFIX)
    if not tf.is_file():
        return None
    pt = pq.ParquetFile(tf, read_dictionary=["variant_id"])
    kv = pt.metadata.metadata or {}
    return pt if kv.get(b"rows") == str(data_rows).encode() else None


@dataclass
class RowsStore:
    """The memory-mapped rows file and the pairs table of one dataset's chromosome (see the module docstring)."""

    reader: Any  # pyarrow.ipc.RecordBatchFileReader over the memory-mapped file
    starts: np.ndarray  # int64 (B + 1,): first global row of each batch, then the total
    pairs_path: Path
    has_n: bool
    _batches: dict[int, pa.RecordBatch] = field(default_factory=dict)

    def batch(self, i: int) -> pa.RecordBatch:
        """Batch ``i``, fetched on first use (a locus touches the few bins of its window, not the chromosome)."""
        b = self._batches.get(i)
        if b is None:
            b = self._batches[i] = self.reader.get_batch(i)
            if b.num_rows != self.starts[i + 1] - self.starts[i]:
                from ..errors import InputError

                raise InputError.at("xQTL rows file does not match its pairs table", file=self.pairs_path,
                                    found=f"batch {i} of {b.num_rows} rows",
                                    expected=f"{self.starts[i + 1] - self.starts[i]} rows (re-run harmonize_xqtl)")
        return b

    @classmethod
    def open(cls, data_file: Path, data_rows: int) -> "RowsStore | None":
        """The store beside ``data_file`` when its rows file and pairs table both describe ``data_rows`` rows."""
        rf, pf = sidecar(data_file, ROWS_SUFFIX), sidecar(data_file, PAIRS_SUFFIX)
        if not (rf.is_file() and pf.is_file()):
            return None
        kv = pq.read_metadata(pf).metadata or {}
        if kv.get(b"rows") != str(data_rows).encode():
            return None
        reader = pa.ipc.open_file(pa.memory_map(str(rf), "r"))
        sizes = kv.get(b"batch_rows")  # written at ingest: no pass over the batches to find them
        if sizes is not None:
            lens = np.array([int(x) for x in sizes.split(b",") if x], dtype=np.int64)
        else:
            lens = np.array([reader.get_batch(i).num_rows for i in range(reader.num_record_batches)], np.int64)
        starts = np.r_[0, np.cumsum(lens)].astype(np.int64)
        if len(lens) != reader.num_record_batches or int(starts[-1]) != data_rows or (
                len(lens) and reader.get_batch(len(lens) - 1).num_rows != lens[-1]):
            return None
        return cls(reader, starts, pf, "n" in reader.schema.names)

    def gather(self, row0: np.ndarray, count: np.ndarray) -> dict[str, np.ndarray]:
        """Columns (``pair``, ``z``, and ``n`` if stored) of the rows ``[row0[i], row0[i] + count[i])`` for every
        i, in that order; ``row0`` ascending. A variant's rows lie in one batch (bins hold whole variants)."""
        names = ["pair", "z"] + (["n"] if self.has_n else [])
        parts: dict[str, list[np.ndarray]] = {k: [] for k in names}
        b = np.searchsorted(self.starts, row0, "right") - 1
        cuts = np.r_[0, np.flatnonzero(b[1:] != b[:-1]) + 1, len(b)]
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            if hi <= lo:
                continue
            batch = self.batch(int(b[lo]))
            idx = _ranges(row0[lo:hi] - self.starts[b[lo]], count[lo:hi])
            for k in names:
                parts[k].append(batch.column(k).to_numpy()[idx])
        return {k: np.concatenate(v) if v else np.zeros(0, np.int32 if k == "pair" else np.float64)
                for k, v in parts.items()}

    def pairs(self, columns: list[str]) -> pa.Table:
        return pq.read_table(self.pairs_path, columns=columns, use_threads=False)


def _ranges(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start[i], start[i] + count[i])`` (int64)."""
    count = count.astype(np.int64)
    total = int(count.sum())
    if not total:
        return np.zeros(0, np.int64)
    off = np.repeat(start.astype(np.int64) - np.r_[0, np.cumsum(count)[:-1]], count)
    return off + np.arange(total, dtype=np.int64)


def pairs_table(pair: pa.Array, pheno: pa.Array, gene_codes: np.ndarray, genes: pa.Array, tissue: str,
                qtl_type: str, tss: np.ndarray, n: np.ndarray) -> pa.Table:
    """The pairs table of a stream (one row per phenotype code): ``tss`` float (NaN/inf: unknown), ``n`` float."""
    const = pa.array(np.zeros(len(pair), dtype=np.int32))
    bad = ~np.isfinite(tss)
    return pa.Table.from_arrays([
        pair, pheno, pa.DictionaryArray.from_arrays(pa.array(gene_codes.astype(np.int32)), genes),
        pa.DictionaryArray.from_arrays(const, pa.array([tissue], pa.string())),
        pa.DictionaryArray.from_arrays(const, pa.array([qtl_type], pa.string())),
        pa.array(np.where(bad, 0, tss).astype(np.int64), mask=bad), pa.array(n, pa.float64())],
        schema=PAIRS_SCHEMA)


def write_pairs(table: pa.Table, path: Path, rows: int, batch_rows: list[int]) -> None:
    """Write a pairs table with, in its footer, the data file's row count and the rows file's batch sizes."""
    with atomic_path(path) as tmp:
        w = pq.ParquetWriter(tmp, PAIRS_SCHEMA, compression="zstd", store_schema=False)
        w.write_table(table)
        w.add_key_value_metadata({"rows": str(rows), "batch_rows": ",".join(map(str, batch_rows))})
        w.close()


__all__: list[Any] = ["TRACK_SUFFIX", "ROWS_SUFFIX", "PAIRS_SUFFIX", "ArrowStream", "RowsStore", "track_file",
                      "pairs_table", "write_pairs", "rows_schema", "sidecar"]
