"""Loci from clumping: windows of ± radius around index variants, merged, MHC removed, snapped to LD blocks,
and assigned to chunks (the unit of one per-locus job).

Rules (docs/stages.md):
- every index variant of the ``.clumped`` file opens a window [pos − radius, pos + radius] (clipped at 1);
- index variants inside the MHC are dropped when ``exclude_mhc``; windows are clipped at the MHC boundary so
  no locus reaches into it;
- with LD blocks, a window's start moves down to the start of the block that holds it and its end up to the end
  of its block (outward snapping); positions outside every block keep their value;
- windows that overlap or touch after that are merged; the lead variant is the merged window's smallest p;
- loci are numbered in genome order and dealt to ``ceil(n / loci_per_chunk)`` chunks (at most ``max_chunks``)
  as contiguous, equally sized runs, so a chunk's loci sit near each other.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .tables_schema import table

LOCI_COLUMNS = table("loci").names  # docs/outputs.md "Loci"


def chrom_order(chrom: pd.Series) -> pd.Series:
    """Sort key for chromosome names 1..22, X, Y, MT (others after, alphabetically)."""
    special = {"X": 23, "Y": 24, "XY": 25, "MT": 26, "M": 26}
    return chrom.map(lambda c: (int(c), "") if str(c).isdigit() else (special.get(str(c), 100), str(c)))


def read_clumped(path: str | Path) -> pd.DataFrame:
    """Index variants of a PLINK ``.clumped`` file: columns ``chrom, pos, variant_id, p`` (+ ``rsid`` when the
    file has twasflow's ``RSID`` column).

    An empty file (PLINK writes none when nothing clumps; twasflow writes an empty one) gives an empty table.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError.at(".clumped file not found", file=path, expected="the clump rule's output")
    text = path.read_text()
    rows = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not rows:
        return pd.DataFrame({"chrom": pd.Series(dtype=str), "pos": pd.Series(dtype="int64"),
                             "variant_id": pd.Series(dtype=str), "p": pd.Series(dtype=float)})
    header = rows[0]
    need = ("CHR", "SNP", "BP", "P")
    missing = [c for c in need if c not in header]
    if missing:
        raise InputError.at("not a PLINK .clumped file", file=path, column=missing[0], found=" ".join(header),
                            expected="header with CHR F SNP BP P ...")
    idx = {c: header.index(c) for c in need}
    body = rows[1:]
    for i, r in enumerate(body, start=1):
        if len(r) <= max(idx.values()):
            raise InputError.at("row too short", file=path, row=i, found=f"{len(r)} fields",
                                expected=f"at least {max(idx.values()) + 1} (header: {' '.join(header)})")
        for col, conv, what in (("BP", int, "an integer position"), ("P", float, "a p-value")):
            try:
                conv(r[idx[col]])
            except ValueError:
                raise InputError.at("not a number", file=path, column=col, row=i, found=repr(r[idx[col]]),
                                    expected=what) from None
    out = pd.DataFrame({
        "chrom": [r[idx["CHR"]] for r in body],
        "pos": np.array([int(r[idx["BP"]]) for r in body], dtype=np.int64),
        "variant_id": [r[idx["SNP"]] for r in body],
        "p": np.array([float(r[idx["P"]]) for r in body], dtype=float),
    })
    if "RSID" in header:  # twasflow's .clumped: the index variants' rsIDs in a last column
        k = header.index("RSID")
        out["rsid"] = [r[k] if len(r) > k and r[k] != "." else None for r in body]
    return out


def read_blocks_bed(path: str | Path) -> pd.DataFrame:
    """LD blocks from a BED file (0-based half-open starts, as BED) → ``chrom, start, end`` 1-based inclusive."""
    path = Path(path)
    try:
        df = pd.read_csv(path, sep=r"\s+", header=None, comment="#", usecols=[0, 1, 2], dtype={0: str})
    except Exception as exc:
        raise InputError.at(f"cannot read LD blocks BED ({exc})", file=path) from None
    df.columns = ["chrom", "start", "end"]
    if df.iloc[0]["chrom"] in ("chr", "chrom", "chromosome"):
        df = df.iloc[1:]
    df["chrom"] = df["chrom"].astype(str).str.replace("^chr", "", regex=True)
    for c in ("start", "end"):
        bad = pd.to_numeric(df[c], errors="coerce").isna()
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise InputError.at("not an integer", file=path, column=c, row=row, found=repr(df[c].iloc[row - 1]),
                                expected="BED coordinates")
        df[c] = df[c].astype(np.int64)
    df["start"] = df["start"] + 1
    return df.reset_index(drop=True)


def _snap(starts: np.ndarray, ends: np.ndarray, blocks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    b = blocks.sort_values("start")
    bs, be = b["start"].to_numpy(), b["end"].to_numpy()
    i = np.searchsorted(bs, starts, side="right") - 1
    inside = (i >= 0) & (starts <= be[np.clip(i, 0, None)])
    starts = np.where(inside, bs[np.clip(i, 0, None)], starts)
    j = np.searchsorted(bs, ends, side="right") - 1
    inside = (j >= 0) & (ends <= be[np.clip(j, 0, None)])
    ends = np.where(inside, be[np.clip(j, 0, None)], ends)
    return starts, ends


def define_loci(
    index: pd.DataFrame,
    trait: str,
    *,
    radius_kb: float = 1000,
    mhc: tuple[str, int, int] | None = None,
    exclude_mhc: bool = True,
    blocks: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Merge windows around index variants into loci.

    Parameters
    ----------
    index : DataFrame with ``chrom, pos, variant_id, p`` (one row per index variant).
    radius_kb : half-width of a window, kilobases.
    mhc : (chrom, start, end) of the MHC, 1-based inclusive.
    blocks : optional ``chrom, start, end`` LD blocks to snap window edges to.

    Returns
    -------
    loci : DataFrame with ``LOCI_COLUMNS`` except ``chunk``, in genome order.
    counts : ``{"index_variants", "dropped_mhc", "loci"}``.
    """
    radius = int(round(radius_kb * 1000))
    idx = index.copy()
    idx["chrom"] = idx["chrom"].astype(str).str.replace("^chr", "", regex=True)
    counts = {"index_variants": len(idx), "dropped_mhc": 0}
    if exclude_mhc and mhc is not None:
        in_mhc = (idx["chrom"] == mhc[0]) & idx["pos"].between(mhc[1], mhc[2])
        counts["dropped_mhc"] = int(in_mhc.sum())
        idx = idx[~in_mhc]
    out = []
    for chrom, g in idx.groupby("chrom", sort=False):
        g = g.sort_values("pos")
        pos = g["pos"].to_numpy(np.int64)
        starts = np.maximum(pos - radius, 1)
        ends = pos + radius
        if blocks is not None and len(blocks):
            cb = blocks[blocks["chrom"] == chrom]
            if len(cb):
                starts, ends = _snap(starts, ends, cb)
        if exclude_mhc and mhc is not None and chrom == mhc[0]:
            left = pos < mhc[1]
            ends = np.where(left, np.minimum(ends, mhc[1] - 1), ends)
            starts = np.where(~left, np.maximum(starts, mhc[2] + 1), starts)
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
        gs = g.iloc[order]
        # a new locus starts where a window begins after every earlier window ended
        run_end = np.maximum.accumulate(ends)
        new = np.ones(len(starts), dtype=bool)
        new[1:] = starts[1:] > run_end[:-1] + 1
        lid = np.cumsum(new) - 1
        for k in range(lid[-1] + 1 if len(lid) else 0):
            sel = lid == k
            members = gs[sel]
            lead = members.sort_values(["p", "pos"], kind="stable").iloc[0]
            s, e = int(starts[sel].min()), int(ends[sel].max())
            out.append({
                "locus_id": f"{trait}.{chrom}_{s}_{e}", "chrom": chrom, "start": s, "end": e,
                "lead_variant": lead["variant_id"], "lead_p": float(lead["p"]), "n_index_variants": int(sel.sum()),
            })
    loci = pd.DataFrame(out, columns=LOCI_COLUMNS[:-1])
    if len(loci):
        loci = loci.assign(_k=chrom_order(loci["chrom"])).sort_values(["_k", "start"]).drop(columns="_k")
    counts["loci"] = len(loci)
    return loci.reset_index(drop=True), counts


def assign_chunks(loci: pd.DataFrame, loci_per_chunk: int = 25, max_chunks: int = 200) -> pd.DataFrame:
    """Add a ``chunk`` column (``c000``…): contiguous runs of loci, at most ``max_chunks`` chunks."""
    n = len(loci)
    loci = loci.copy()
    if n == 0:
        loci["chunk"] = pd.Series(dtype=str)
        return loci
    n_chunks = min(max_chunks, math.ceil(n / loci_per_chunk))
    k = (np.arange(n) * n_chunks) // n
    width = max(3, len(str(n_chunks - 1)))
    loci["chunk"] = [f"c{int(i):0{width}d}" for i in k]
    return loci


def read_loci(path: str | Path) -> pd.DataFrame:
    """Read a loci table written by the `loci` checkpoint (columns :data:`LOCI_COLUMNS`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError.at("loci table not found", file=path, expected="the loci checkpoint's TSV")
    df = pd.read_csv(path, sep="\t", dtype={"chrom": str, "chunk": str, "locus_id": str})
    missing = [c for c in LOCI_COLUMNS if c not in df.columns]
    if missing:
        raise InputError.at("not a loci table", file=path, column=missing[0], found=f"columns {list(df.columns)}",
                            expected=f"columns {LOCI_COLUMNS}")
    return df


def select_loci(table: pd.DataFrame, loci_tsv: str | Path, *, chunk: str | None = None,
                locus: str | None = None) -> pd.DataFrame:
    """The rows of a loci table a per-chunk job works on: the one ``locus``, else every locus of ``chunk``, else
    all; a locus or chunk not in the table is an InputError naming ``loci_tsv``."""
    if locus is not None:
        table = table[table["locus_id"] == locus]
        if table.empty:
            raise InputError.at("no such locus", file=loci_tsv, column="locus_id", found=repr(locus))
    elif chunk is not None:
        chunks = sorted(set(table["chunk"].astype(str)))
        table = table[table["chunk"] == chunk]
        if table.empty:
            raise InputError.at("no such chunk", file=loci_tsv, column="chunk", found=repr(chunk),
                                expected=f"one of {chunks}" if chunks else "no chunk: the trait has no loci")
    return table
