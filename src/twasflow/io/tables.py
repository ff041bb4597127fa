"""Atomic writers for every file a stage produces.

Every output is first written to a temporary file in the destination directory and then renamed over
the final name, so a crash never leaves a file that looks complete. Writers are deterministic: Parquet
without timestamps in metadata, JSON with sorted keys, ``.npz`` with fixed member order.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator, Mapping

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas and pyarrow are imported where used: light commands never load them
    import pandas as pd
    import pyarrow as pa

PathLike = str | os.PathLike[str]


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a writer killed by SIGKILL leaves its temporary file; every output has one writing job, so any such
    # leftover beside this path is stale (Snakemake only removes a rerun job's declared outputs)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600; outputs get the usual permissions (0666 less the umask)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_parquet(df: pd.DataFrame | pa.Table, path: PathLike, *, row_group_size: int | None = None) -> None:
    """Write a table as zstd Parquet, atomically, without the pandas index."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    # pandas metadata holds nothing we need and makes files depend on the pandas version
    table = table.replace_schema_metadata(None)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=row_group_size)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def write_json(obj: Mapping[str, Any], path: PathLike) -> None:
    """Write JSON with sorted keys and a trailing newline, atomically."""
    text = json.dumps(obj, sort_keys=True, indent=2, default=_json_default) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_tsv(df: pd.DataFrame, path: PathLike) -> None:
    """Write a human-facing tab-separated table (gzip when the name ends in .gz), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".gz":
            # mtime=0 keeps the gzip header, and so the file, byte-identical across reruns
            with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
                gz.write(df.to_csv(sep="\t", index=False, na_rep="NA").encode())
        else:
            df.to_csv(tmp, sep="\t", index=False, na_rep="NA")


def write_text(text: str, path: PathLike) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_npz(path: PathLike, **arrays: Any) -> None:
    """Write arrays to a compressed ``.npz`` atomically and deterministically (fixed member timestamps)."""
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in arrays:
                arr = np.asanyarray(arrays[name])
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, arr, allow_pickle=False)


def read_json(path: PathLike) -> dict[str, Any]:
    """Read a JSON file."""
    with open(path) as fh:
        return json.load(fh)


class ParquetStream:
    """A zstd Parquet file written one table (row group) at a time, atomically: the file appears under its
    name only at :meth:`close`; :meth:`abort` (or an exception inside ``with``) leaves nothing.

    Tables may carry dictionary-encoded string columns (cheap to build from integer codes); the Arrow schema is
    not stored, so readers see plain strings, as from :func:`write_parquet`.
    """

    def __init__(self, path: PathLike, schema: pa.Schema, *, row_group_size: int | None = None,
                 **options: Any) -> None:
        """``options`` go to :class:`pyarrow.parquet.ParquetWriter` (e.g. ``use_dictionary``, ``write_statistics``)."""
        import pyarrow.parquet as pq

        self._ctx = atomic_path(path)
        tmp = self._ctx.__enter__()
        self.rows = 0
        self._row_group_size = row_group_size
        self._w = pq.ParquetWriter(tmp, schema.remove_metadata(), compression="zstd", store_schema=False,
                                    **options)

    def write(self, table: pa.Table) -> None:
        self._w.write_table(table.replace_schema_metadata(None), row_group_size=self._row_group_size)
        self.rows += table.num_rows

    def close(self, metadata: Mapping[str, str] | None = None) -> None:
        """Finish the file; ``metadata`` (str → str) goes into the Parquet footer's key-value metadata."""
        if metadata:
            self._w.add_key_value_metadata(dict(metadata))
        self._w.close()
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        import contextlib

        with contextlib.suppress(Exception):
            self._w.close()
        with contextlib.suppress(RuntimeError, Exception):
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> "ParquetStream":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
