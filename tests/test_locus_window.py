"""``build_locus`` on integer codes against a direct pandas computation of the same definitions.

The pandas oracle follows docs/stages.md ("Per-locus inputs") row by row on strings: pairs whose TSS lies in the
window on every row, candidates = GWAS variants in the panel tested by such a pair, xQTL min-p per candidate
over those pairs, selection at p < xqtl_p or GWAS p < gwas_p (with R = I the pruning keeps every variant), then
z of every pair on the selected variants, pairs sorted by id with their median n and number of rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import ndtr

from twasflow.harmonize import harmonize_xqtl
from twasflow.locus import build_locus

LET = np.array(["A", "C", "G", "T"])


def panel_frame(rng: np.random.Generator, m: int, hi: int):
    """A panel variant table of ``m`` random SNPs on chromosome 1 in [1000, hi); returns (frame, pos, a, b)
    with ``a``/``b`` the other/counted allele codes into ``LET``."""
    pos = np.sort(rng.choice(np.arange(1000, hi), m, replace=False))
    a = rng.integers(0, 4, m)
    b = (a + rng.integers(1, 4, m)) % 4
    pv = pd.DataFrame({"variant_id": [f"1:{p}:{LET[x]}:{LET[y]}" for p, x, y in zip(pos, a, b)], "chrom": "1",
                       "pos": pos, "other_allele": LET[a], "counted_allele": LET[b],
                       "rsid": [f"rs{p}" for p in pos], "counted_freq": rng.uniform(0.05, 0.95, m)})
    return pv, pos, a, b


def _setup(tmp_path, seed=5):
    rng = np.random.default_rng(seed)
    m = 800
    pv, pos, a, b = panel_frame(rng, m, 4_000_000)
    dirs = {}
    for k, (tissue, n) in enumerate((("Liver", 208), ("Lung", 515))):
        rows = []
        for g in range(10):
            tss = int(rng.integers(0, 4_000_000))
            sub = pv[(pv["pos"] - tss).abs() <= 1_000_000]
            z = rng.normal(0, 1, len(sub)) + (rng.random(len(sub)) < 0.03) * 8
            for (_, v), zz in zip(sub.iterrows(), z):
                rows.append((f"ENSG{g:011d}.1", f"chr1_{v.pos}_{v.other_allele}_{v.counted_allele}_b38",
                             int(v.pos - tss), zz * 0.05, 0.05))
        t = pd.DataFrame(rows, columns=["phenotype_id", "variant_id", "tss_distance", "slope", "slope_se"])
        pq.write_table(pa.Table.from_pandas(t, preserve_index=False), tmp_path / f"{tissue}.chr1.parquet")
        d = tmp_path / "h" / tissue
        harmonize_xqtl(str(tmp_path / f"{tissue}.chr{{chrom}}.parquet"), fmt="gtex-parquet", panel_variants=pv,
                       out_dir=d, qc_out=tmp_path / f"{tissue}.qc.json", dataset=tissue, tissue=tissue,
                       qtl_type="eQTL", n=n, chroms=["1"])
        dirs[tissue] = d
    gz = rng.normal(0, 1, m) + (rng.random(m) < 0.02) * 7
    gw = pv[["variant_id", "chrom", "pos"]].assign(z=gz, n=1e5, p=2 * ndtr(-np.abs(gz)))
    gw = gw[rng.random(m) < 0.9]
    gw.to_parquet(tmp_path / "gwas.parquet", index=False)
    return pv, dirs, tmp_path / "gwas.parquet"


def _oracle(pv, dirs, gwas, start, end, xqtl_p, gwas_p):
    xq = pd.concat([pd.read_parquet(d / "1.parquet") for _, d in sorted(dirs.items())], ignore_index=True)
    xq = xq[(xq["pos"] >= start) & (xq["pos"] <= end)]
    tss = xq["pos"] - xq["tss_distance"]
    inwin = (tss >= start) & (tss <= end)
    good = inwin.groupby(xq["pair_id"]).all()
    xq = xq[xq["pair_id"].map(good)]
    gw = pd.read_parquet(gwas)
    gw = gw[(gw["pos"] >= start) & (gw["pos"] <= end)]
    cand = gw[gw["variant_id"].isin(pv["variant_id"]) & gw["variant_id"].isin(xq["variant_id"])]
    minp = (2 * ndtr(-xq["z"].abs())).groupby(xq["variant_id"]).min()
    cand = cand.assign(minp=cand["variant_id"].map(minp))
    sel = cand[(cand["minp"] < xqtl_p) | (cand["p"] < gwas_p)].sort_values("pos")
    vids = sel["variant_id"].to_numpy(str)
    xs = xq[xq["variant_id"].isin(vids)]
    pairs = np.unique(xs["pair_id"].to_numpy(str))
    xz = np.full((len(vids), len(pairs)), np.nan)
    xz[pd.Index(vids).get_indexer(xs["variant_id"]), pd.Index(pairs).get_indexer(xs["pair_id"])] = xs["z"]
    g = xs.groupby("pair_id")
    return vids, pairs, xz, g["n"].median().reindex(pairs).to_numpy(), g.size().reindex(pairs).to_numpy()


def test_build_locus_matches_a_direct_computation(tmp_path):
    pv, dirs, gwas = _setup(tmp_path)

    class Panel:
        variants = pv

    for start, end in ((1, 2_000_000), (1_200_000, 3_100_000)):
        b = build_locus({"locus_id": "L", "chrom": "1", "start": start, "end": end}, gwas_path=gwas, xqtl_dirs=dirs,
                        panel=Panel(), ld=lambda _p, ids: np.eye(len(ids)), xqtl_p=1e-5, gwas_p=5e-8)
        vids, pairs, xz, n, n_tested = _oracle(pv, dirs, gwas, start, end, 1e-5, 5e-8)
        assert len(vids) > 5 and len(pairs) > 5
        np.testing.assert_array_equal(b.variant_ids, vids)
        np.testing.assert_array_equal(b.pairs["pair_id"].to_numpy(str), pairs)
        np.testing.assert_array_equal(b.xqtl_z, xz)  # exact: the same stored doubles
        np.testing.assert_array_equal(b.xqtl_n, n)
        np.testing.assert_array_equal(b.pairs["n_tested"].to_numpy(), n_tested)
        np.testing.assert_array_equal(b.freq, pv.set_index("variant_id").loc[vids, "counted_freq"].to_numpy())
