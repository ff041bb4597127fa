"""Summary figures (matplotlib, Agg; each written as PNG and SVG, atomically, byte-identical across runs):
per-trait tissue bars, Pratt split and method agreement; the across-trait tissue heatmap (Ward-clustered
both ways) and the enrichment overview. Inputs are the summary tables; an empty table gives a figure that
says so rather than no file.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.cluster import hierarchy  # noqa: E402

from ..plots import save_figure  # noqa: E402
from .enrich import ward_order  # noqa: E402

_COLOURS = {"pairs": "#1f77b4", "variants": "#ff7f0e", "infinitesimal": "#2ca02c"}
_METHOD_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b"]


def save(fig: plt.Figure, out_prefix: str | Path) -> list[Path]:
    """Write ``{out_prefix}.png`` and ``.svg`` and close the figure (:func:`twasflow.plots.save_figure`)."""
    return save_figure(fig, out_prefix)


def _empty(ax: plt.Axes, msg: str) -> None:
    ax.text(0.5, 0.5, msg, ha="center", va="center", fontsize=11, color="#555555", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def tissue_bars(counts: pd.DataFrame, methods: list[str], out_prefix: str | Path, *, title: str = "") -> list[Path]:
    """Fractional number of causal pairs per tissue, one panel per method (``counts`` from
    :func:`twasflow.summary.evidence.tissue_counts`)."""
    n = max(1, len(methods))
    tissues = sorted(set(counts["tissue"])) if len(counts) else []
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n + 1.5, 0.35 * max(4, len(tissues)) + 1.6), squeeze=False)
    for ax, m in zip(axes[0], methods or [""]):
        t = counts.loc[counts["method"] == m].sort_values("count")
        if not len(t):
            _empty(ax, "no causal gene-tissue pair")
        else:
            ax.barh(t["tissue"].astype(str), t["count"].to_numpy(np.float64), color="#4c72b0")
            for y, (c, s) in enumerate(zip(t["count"], t["share"])):
                ax.text(c, y, f" {c:.2f} ({100 * s:.0f}%)", va="center", fontsize=8)
            ax.set_xlim(0, float(t["count"].max()) * 1.35)
            ax.set_xlabel("causal pairs (fractional count)")
        ax.set_title(m)
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, out_prefix)


def pratt_plot(per_locus: pd.DataFrame, methods: list[str], out_prefix: str | Path, *, title: str = "") -> list[Path]:
    """Per-locus Pratt contributions of pairs, direct variants and infinitesimal effects (box + points)."""
    n = max(1, len(methods))
    fig, axes = plt.subplots(1, n, figsize=(3.8 * n + 1, 4.2), squeeze=False, sharey=True)
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure is reproducible
    for ax, m in zip(axes[0], methods or [""]):
        t = per_locus.loc[per_locus["method"] == m]
        data = [t.loc[t["component"] == c, "pratt"].dropna().to_numpy(np.float64) for c in _COLOURS]
        if not any(d.size for d in data):
            _empty(ax, "no fitted locus")
        else:
            ax.boxplot([d if d.size else np.array([np.nan]) for d in data], widths=0.5, showfliers=False)
            ax.set_xticks([1, 2, 3], list(_COLOURS))
            for i, (c, d) in enumerate(zip(_COLOURS, data), start=1):
                ax.scatter(i + rng.uniform(-0.12, 0.12, d.size), d, s=14, color=_COLOURS[c], zorder=3)
            ax.set_ylabel("Pratt index per locus")
        ax.set_title(m)
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, out_prefix)


def agreement_plot(agree: pd.DataFrame, out_prefix: str | Path, *, title: str = "") -> list[Path]:
    """Shared causal pairs between methods (diagonal: each method's count), as an annotated heatmap."""
    names = list(dict.fromkeys(agree["method_a"])) if len(agree) else []
    fig, ax = plt.subplots(figsize=(1.3 * max(2, len(names)) + 2.5, 1.1 * max(2, len(names)) + 1.5))
    if not names:
        _empty(ax, "no method")
    else:
        mat = agree.pivot(index="method_a", columns="method_b", values="n_shared").reindex(index=names, columns=names)
        v = mat.to_numpy(np.float64)
        ax.imshow(v, cmap="Blues", vmin=0, vmax=max(1.0, float(np.nanmax(v))))
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, f"{int(v[i, j])}", ha="center", va="center", fontsize=10,
                        color="white" if v[i, j] > 0.6 * np.nanmax(v) else "black")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_yticks(range(len(names)), names)
    ax.set_title(title or "shared causal gene-tissue pairs")
    fig.tight_layout()
    return save(fig, out_prefix)


def tissue_heatmap(matrix: pd.DataFrame, out_prefix: str | Path, *, title: str = "") -> list[Path]:
    """Trait × tissue shares with both axes ordered by Ward clustering (Euclidean) and their dendrograms."""
    nr, nc = matrix.shape
    if nr == 0 or nc == 0:
        fig, ax = plt.subplots(figsize=(6, 3))
        _empty(ax, "no causal gene-tissue pair in any trait")
        fig.suptitle(title)
        return save(fig, out_prefix)
    x = matrix.to_numpy(np.float64)
    ro, rz = ward_order(x)
    co, cz = ward_order(x.T)
    # layout in inches: [row dendrogram | heatmap | row labels | colour bar], [title; column dendrogram; heatmap;
    # column labels]; the dendrograms share the heatmap's cell grid (scipy puts leaf k at 10 k + 5)
    cw, ch = 0.55, 0.42
    left, dend, lab, cbar, gap = 0.2, 1.0, 1.3, 0.25, 0.1
    top, bottom = 0.6, 1.6
    W = left + dend + nc * cw + lab + cbar + 1.0
    H = top + dend + nr * ch + bottom
    fig = plt.figure(figsize=(W, H))

    def box(x0: float, y0: float, w: float, h: float) -> plt.Axes:
        return fig.add_axes((x0 / W, y0 / H, w / W, h / H))

    hx, hy = left + dend, bottom
    ax = box(hx, hy, nc * cw, nr * ch)
    im = ax.imshow(x[np.ix_(ro, co)], aspect="auto", cmap="viridis", vmin=0, vmax=max(1e-12, float(x.max())),
                   extent=(0, nc, nr, 0), interpolation="nearest")
    ax.set_xticks(np.arange(nc) + 0.5, [str(matrix.columns[j]) for j in co], rotation=45, ha="right", fontsize=8)
    ax.yaxis.tick_right()
    ax.set_yticks(np.arange(nr) + 0.5, [str(matrix.index[i]) for i in ro], fontsize=8)
    rax = box(left, hy, dend - gap, nr * ch)
    cax_d = box(hx, hy + nr * ch + gap, nc * cw, dend - gap)
    for z, dax, orient, n in ((rz, rax, "left", nr), (cz, cax_d, "top", nc)):
        if z is not None:
            hierarchy.dendrogram(z, ax=dax, orientation=orient, no_labels=True, color_threshold=0,
                                 above_threshold_color="#444444")
        if orient == "left":
            dax.set_ylim(10 * n, 0)
        else:
            dax.set_xlim(0, 10 * n)
        dax.set_axis_off()
    cb = box(hx + nc * cw + lab, hy, cbar, nr * ch)
    fig.colorbar(im, cax=cb, label="share of causal pairs")
    fig.suptitle(title, y=1 - 0.15 / H, va="top")
    return save(fig, out_prefix)


def overview_plot(table: pd.DataFrame, out_prefix: str | Path, *, title: str = "") -> list[Path]:
    """Per trait and method: drug-target ratio, colocalized-set proportions, share missed by TWAS.

    ``table``: ``trait, method`` and the columns ``ratio, prop_coloc_any, prop_coloc_majority, prop_missed``.
    """
    panels = [("ratio", "drug-target genes / causal genes"), ("prop_coloc_any", "sets with ≥1 colocalized pair"),
              ("prop_coloc_majority", "sets with >50% colocalized"), ("prop_missed", "causal pairs missed by TWAS")]
    traits = sorted(set(table["trait"])) if len(table) else []
    methods = sorted(set(table["method"])) if len(table) else []
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 0.4 * max(3, len(traits)) + 1.8),
                             squeeze=False, sharey=True)
    for ax, (col, lab) in zip(axes[0], panels):
        if not traits:
            _empty(ax, "no trait")
            continue
        for k, m in enumerate(methods):
            t = table.loc[table["method"] == m].set_index("trait").reindex(traits)
            y = np.arange(len(traits)) + (k - 0.5 * (len(methods) - 1)) * 0.15
            ax.scatter(t[col].to_numpy(np.float64), y, s=30, label=m, color=_METHOD_COLOURS[k % len(_METHOD_COLOURS)])
        ax.set_yticks(range(len(traits)), traits)
        ax.set_xlim(-0.05, 1.05)
        ax.set_xlabel(lab, fontsize=9)
    if methods:
        axes[0][0].legend(fontsize=8, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, out_prefix)
