"""Locus plot (twasflow.plots): PNG and SVG written atomically from a TGVIS result."""

from __future__ import annotations

import numpy as np
import pandas as pd

from twasflow.methods import tgvis
from twasflow.plots import _neglog10p, locus_plot


def test_neglog10p_no_underflow():
    assert _neglog10p(np.array([0.0]))[0] == 0.0
    assert np.isclose(_neglog10p(np.array([1.959963984540054]))[0], -np.log10(0.05))
    assert np.isfinite(_neglog10p(np.array([60.0]))[0]) and _neglog10p(np.array([60.0]))[0] > 700


def test_locus_plot_writes_png_and_svg(tmp_path):
    rng = np.random.default_rng(0)
    M, P, n = 40, 4, 100_000
    X = rng.standard_normal((500, M))
    R = np.corrcoef(X, rowvar=False)
    B = np.zeros((M, P))
    for j in range(P):
        B[5 + 8 * j, j] = 0.4
    z = np.sqrt(n) * R @ (0.03 * B[:, 0] / 0.4) + rng.standard_normal(M)
    pos = 1_000_000 + 5_000 * np.arange(M)
    vids = [f"1:{p}:A:G" for p in pos]
    pids = [f"G{j}|Liver|eQTL" for j in range(P)]
    res = tgvis.fit(z, R, n, B, pair_names=pids, variant_names=vids, L_grid=[2])
    v, _, _ = res.tables("T", "T.1_1_2")
    genes = pd.DataFrame({"gene_id": [f"G{j}" for j in range(P)], "gene_name": [f"GENE{j}" for j in range(P)],
                          "start": pos[5 + 8 * np.arange(P)], "end": pos[5 + 8 * np.arange(P)] + 20_000})
    paths = locus_plot(v, pos, vids, z, genes, tmp_path / "sub" / "locus", title="T locus",
                       pair_gene_id={p: f"G{j}" for j, p in enumerate(pids)})
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths[1].read_text()
    assert svg.lstrip().startswith("<?xml") and "CS1" in svg
    # pair G0's only xQTL is a variant of its set: the legend says the two members are one group
    assert v.loc[v["variable_id"] == pids[0], "collinear_group"].notna().all()
    assert "n=2 in 1 distinguishable group" in svg
    assert not list((tmp_path / "sub").glob(".*tmp"))  # no temporary files left
    # no gene table, no credible sets: still draws
    v0 = v.assign(cs=pd.array([pd.NA] * len(v), dtype="Int64"), causal=False)
    assert len(locus_plot(v0, pos, vids, z, None, tmp_path / "empty")) == 2
