"""Per-locus inputs: the locus variant set, its LD, GWAS z and n, and xQTL z for every pair in the window.

The variant set follows the TGVIS paper's preprocessing (Methods, "Clumping and thresholding"): variants whose
minimum xQTL p over the locus's pairs is below ``xqtl_p``, pruned at ``xqtl_r2``, united with GWAS variants at
p < ``gwas_p`` pruned at ``gwas_r2``; candidates are the variants present in the GWAS, in at least one xQTL
dataset and in the panel. Pruning is greedy in ascending p (ties by position) with the panel's Pearson r² of
counted-allele dosages, the same r used as R downstream. A pair belongs to a locus when its TSS
(``pos - tss_distance``) lies in the window; when the TSS is unknown, when its smallest-p variant does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow.dataset as pds
import pyarrow.parquet as pq
from scipy.special import ndtr

from .chunks import run_loci, summarize
from .clump import greedy_clump
from .io.tables import write_json, write_npz, write_parquet

log = logging.getLogger(__name__)

PAIR_COLUMNS = ["pair_id", "gene_id", "gene_name", "tissue", "qtl_type", "n_tested"]


@dataclass
class LocusBundle:
    """Everything a fine-mapping method needs at one locus (shapes: M variants, P pairs)."""

    locus_id: str
    variant_ids: np.ndarray  # (M,) str
    pos: np.ndarray  # (M,) int64
    z: np.ndarray  # (M,) GWAS z of the counted allele
    n: np.ndarray  # () or (M,) GWAS sample size
    R: np.ndarray  # (M, M) panel correlation of counted-allele dosages
    freq: np.ndarray  # (M,) panel counted-allele frequency
    xqtl_z: np.ndarray  # (M, P) NaN where untested
    xqtl_n: np.ndarray  # (P,)
    pairs: pd.DataFrame  # P rows, PAIR_COLUMNS
    reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def M(self) -> int:
        return len(self.variant_ids)

    @property
    def P(self) -> int:
        return len(self.pairs)


def p_from_z(z: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value of z (accurate in the far tail)."""
    return 2.0 * ndtr(-np.abs(z))


def read_range(path: str | Path, chrom: str | None, start: int, end: int, columns: list[str] | None = None
               ) -> pd.DataFrame:
    """Rows of a position-sorted Parquet file within [start, end] (and ``chrom`` if given), reading only the
    row groups whose statistics overlap the range."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=columns or [])
    dataset = pds.dataset(str(path), format="parquet")
    flt = (pds.field("pos") >= start) & (pds.field("pos") <= end)
    if chrom is not None:
        flt = flt & (pds.field("chrom") == chrom)
    df = dataset.to_table(columns=columns, filter=flt).to_pandas()
    # numpy object strings: pandas' Arrow-backed strings are slow to iterate and hash element by element
    for c in df.columns:
        if df[c].dtype == "str" or df[c].dtype == "string":
            df[c] = df[c].astype(object)
    return df


def _xqtl_rows(xqtl_dirs: Mapping[str, str | Path], chrom: str, start: int, end: int, radius: int) -> pd.DataFrame:
    cols = ["pair_id", "phenotype_id", "gene_id", "tissue", "qtl_type", "variant_id", "pos", "z", "n",
            "tss_distance"]
    frames = []
    for d in sorted(xqtl_dirs):
        f = Path(xqtl_dirs[d]) / f"{chrom}.parquet"
        if f.exists() and pq.ParquetFile(f).metadata.num_rows:
            frames.append(read_range(f, None, start, end, cols))
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)


def _empty_bundle(locus_id: str, reason: str, stats_: dict[str, Any]) -> LocusBundle:
    return LocusBundle(
        locus_id=locus_id, variant_ids=np.array([], dtype=str), pos=np.array([], dtype=np.int64),
        z=np.array([]), n=np.array(np.nan), R=np.zeros((0, 0)), freq=np.array([]), xqtl_z=np.zeros((0, 0)),
        xqtl_n=np.array([]), pairs=pd.DataFrame({c: pd.Series(dtype=object) for c in PAIR_COLUMNS}),
        reason=reason, stats=stats_,
    )


def build_locus(
    locus: Mapping[str, Any],
    *,
    gwas_path: str | Path,
    xqtl_dirs: Mapping[str, str | Path],
    panel: Any,
    ld: Any,
    xqtl_p: float = 1e-5,
    xqtl_r2: float = 0.5,
    gwas_p: float = 5e-8,
    gwas_r2: float = 0.5,
    max_variants: int = 3000,
    gene_names: Mapping[str, str] | None = None,
) -> LocusBundle:
    """Assemble one locus bundle.

    ``panel`` is a :class:`twasflow.io.panel.Panel`; ``ld`` a callable ``(panel, variant_ids) -> R``.
    """
    locus_id, chrom = str(locus["locus_id"]), str(locus["chrom"])
    start, end = int(locus["start"]), int(locus["end"])
    st: dict[str, Any] = {}
    gw = read_range(gwas_path, chrom, start, end, ["variant_id", "pos", "z", "n", "p"])
    st["gwas_in_window"] = len(gw)
    xq = _xqtl_rows(xqtl_dirs, chrom, start, end, 0)
    st["xqtl_rows_in_window"] = len(xq)
    if xq.empty:
        return _empty_bundle(locus_id, "no xQTL rows in the locus window", st)
    # pairs of the locus: TSS inside the window (or, TSS unknown, the pair's best variant inside it)
    tss = xq["pos"] - xq["tss_distance"]
    known = xq["tss_distance"].notna()
    in_win = np.where(known, tss.between(start, end), True)
    pair_in = pd.Series(in_win, index=xq.index).groupby(xq["pair_id"]).all()
    xq = xq[xq["pair_id"].isin(pair_in.index[pair_in])]
    pv = panel.variants
    in_panel = set(pv.loc[(pv["chrom"] == chrom) & pv["pos"].between(start, end), "variant_id"])
    cand = gw[gw["variant_id"].isin(in_panel) & gw["variant_id"].isin(set(xq["variant_id"]))]
    cand = cand.drop_duplicates("variant_id").sort_values("pos", kind="stable").reset_index(drop=True)
    st["candidates"] = len(cand)
    if cand.empty or xq.empty:
        return _empty_bundle(locus_id, "no variant present in GWAS, xQTL and panel", st)
    xq = xq[xq["variant_id"].isin(set(cand["variant_id"]))]
    xq_minp = p_from_z(xq["z"].to_numpy(float))
    minp = pd.Series(xq_minp).groupby(xq["variant_id"].to_numpy()).min()
    cand["xqtl_minp"] = cand["variant_id"].map(minp).to_numpy(float)
    sel = set()
    for col, thr, r2 in (("xqtl_minp", xqtl_p, xqtl_r2), ("p", gwas_p, gwas_r2)):
        sub = cand[cand[col] < thr]
        if len(sub):
            R = ld(panel, sub["variant_id"].tolist())
            kept, _ = greedy_clump(sub[col].to_numpy(float), R=R, r2=r2, p_max=thr)
            sel |= set(sub["variant_id"].iloc[kept])
        st[f"selected_{'xqtl' if col == 'xqtl_minp' else 'gwas'}"] = int(len(sub))
    chosen = cand[cand["variant_id"].isin(sel)]
    if len(chosen) > max_variants:
        best = np.minimum(chosen["p"].to_numpy(float), chosen["xqtl_minp"].to_numpy(float))
        keep = np.sort(np.lexsort((chosen["pos"].to_numpy(), best))[:max_variants])
        st["dropped_max_variants"] = len(chosen) - max_variants
        chosen = chosen.iloc[keep]
    chosen = chosen.reset_index(drop=True)
    if chosen.empty:
        return _empty_bundle(locus_id, "no variant passes the xQTL or GWAS thresholds", st)
    vids = chosen["variant_id"].to_numpy(str)
    R = ld(panel, vids.tolist())
    xq = xq[xq["variant_id"].isin(set(vids))]
    pair_ids, pcode = np.unique(xq["pair_id"].to_numpy(str), return_inverse=True)
    vpos = pd.Series(np.arange(len(vids)), index=vids)
    xz = np.full((len(vids), len(pair_ids)), np.nan)
    xz[vpos[xq["variant_id"]].to_numpy(), pcode] = xq["z"].to_numpy(float)
    meta = xq.groupby("pair_id", sort=True).agg(
        gene_id=("gene_id", "first"), tissue=("tissue", "first"), qtl_type=("qtl_type", "first"),
        n=("n", "median"), n_tested=("variant_id", "size"),
    ).reindex(pair_ids)
    names = gene_names or {}
    pairs = pd.DataFrame({
        "pair_id": pair_ids, "gene_id": meta["gene_id"].to_numpy(str),
        "gene_name": [names.get(g, "") for g in meta["gene_id"]], "tissue": meta["tissue"].to_numpy(str),
        "qtl_type": meta["qtl_type"].to_numpy(str), "n_tested": meta["n_tested"].to_numpy(np.int64),
    })
    n = chosen["n"].to_numpy(float)
    n_out = np.array(n[0]) if np.all(n == n[0]) else n
    freq = pv.set_index("variant_id").loc[vids, "counted_freq"].to_numpy(float)
    st.update(M=len(vids), P=len(pair_ids))
    return LocusBundle(locus_id, vids, chosen["pos"].to_numpy(np.int64), chosen["z"].to_numpy(float), n_out, R,
                       freq, xz, meta["n"].to_numpy(float), pairs, reason="", stats=st)


def write_bundle(b: LocusBundle, out_dir: str | Path) -> None:
    """Write ``{locus_id}.npz`` and ``{locus_id}.pairs.parquet`` (SPEC §4, locus bundle)."""
    out_dir = Path(out_dir)
    write_npz(out_dir / f"{b.locus_id}.npz", variant_ids=b.variant_ids.astype(str), pos=b.pos, z=b.z, n=b.n,
              R=b.R, freq=b.freq, xqtl_z=b.xqtl_z, xqtl_n=b.xqtl_n, reason=np.array(b.reason))
    write_parquet(b.pairs, out_dir / f"{b.locus_id}.pairs.parquet")


def read_bundle(out_dir: str | Path, locus_id: str) -> LocusBundle:
    """Read a bundle written by :func:`write_bundle`."""
    out_dir = Path(out_dir)
    with np.load(out_dir / f"{locus_id}.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    pairs = pd.read_parquet(out_dir / f"{locus_id}.pairs.parquet")
    return LocusBundle(locus_id, arrays["variant_ids"], arrays["pos"], arrays["z"], arrays["n"], arrays["R"],
                       arrays["freq"], arrays["xqtl_z"], arrays["xqtl_n"], pairs, reason=str(arrays["reason"]))


def run_chunk(loci: pd.DataFrame, out_dir: str | Path, log_dir: str | Path, manifest: str | Path,
              **kwargs: Any) -> dict[str, Any]:
    """Build and write every locus of a chunk; a failing locus is recorded (error + log path), others go on.

    Writes ``manifest`` (JSON) last: ``{"loci": [{locus_id, status, reason, M, P, stats, log}]}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def one(locus: dict[str, Any]) -> dict[str, Any]:
        b = build_locus(locus, **kwargs)
        write_bundle(b, out_dir)
        if b.reason:
            log.info("  %s: %s", locus["locus_id"], b.reason)
        return {"status": "ok" if b.M and b.P else "empty", "reason": b.reason, "M": b.M, "P": b.P, "stats": b.stats}

    records = run_loci(loci.to_dict("records"), log_dir, one)
    for r in records:
        r.setdefault("M", 0)
        r.setdefault("P", 0)
    summary = summarize(records)
    write_json(summary, manifest)
    return summary
