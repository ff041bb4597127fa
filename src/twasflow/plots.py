"""Figures. The locus plot: GWAS -log10 p, a gene track, and the PIP and CS-Pratt of pairs and variants
coloured by credible set (matplotlib, Agg backend; PNG and SVG).

Inputs are plain tables (the docs/outputs.md ``variables`` table of one method at one locus, variant positions, GWAS
z, gene coordinates), so any method's result can be drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.special import log_ndtr  # noqa: E402

from .io.tables import atomic_path  # noqa: E402
from .methods.result import group_keys  # noqa: E402

_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
_GREY = "#b0b0b0"


def _neglog10p(z: np.ndarray) -> np.ndarray:
    """-log10 of the two-sided normal p of z, accurate for large |z| (no underflow)."""
    return -(np.log(2.0) + log_ndtr(-np.abs(z))) / np.log(10.0)


def _cs_colour(cs: pd.Series) -> list[str]:
    return [(_PALETTE[(int(c) - 1) % len(_PALETTE)] if pd.notna(c) else _GREY) for c in cs]


def locus_plot(
    variables: pd.DataFrame,
    variant_pos: Sequence[int] | np.ndarray,
    variant_ids: Sequence[str],
    gwas_z: Sequence[float] | np.ndarray,
    genes: pd.DataFrame | None,
    out_prefix: str | Path,
    *,
    title: str = "",
    pair_gene_id: dict[str, str] | None = None,
    cs_pratt_min: float | None = 0.15,
) -> list[Path]:
    """Draw the locus plot and write ``{out_prefix}.png`` and ``{out_prefix}.svg``.

    Parameters
    ----------
    variables : docs/outputs.md ``variables`` rows of one method at one locus (``variable_id, type, gene_id,
        gene_name, tissue, pip, cs, cs_pratt, causal``; pair rows may lack gene columns).
    variant_pos, variant_ids, gwas_z : (M,) positions (bp), ids and GWAS z of the locus variants.
    genes : ``gene_id, gene_name, start, end`` (optional ``strand``) of genes in the window, or None.
        A pair is drawn at its gene's TSS-side midpoint (``start``..``end`` centre); pairs whose gene is
        unknown are spread evenly along the window.
    out_prefix : path without extension.
    title : figure title (e.g. the locus id and trait).
    pair_gene_id : optional pair_id -> gene_id map when ``variables`` has no ``gene_id`` column.
    cs_pratt_min : draw the causal threshold on the CS-Pratt panels (None: no line).

    Returns
    -------
    The two written paths (PNG, SVG).
    """
    pos = np.asarray(variant_pos, dtype=np.float64)
    z = np.asarray(gwas_z, dtype=np.float64)
    vid = [str(x) for x in variant_ids]
    v = variables.copy()
    lo = float(pos.min()) if pos.size else 0.0
    hi = float(pos.max()) if pos.size else 1.0
    if hi <= lo:
        hi = lo + 1.0
    mb = 1e6

    pairs = v[v["type"] == "pair"].copy()
    var = v[v["type"] == "variant"].copy()
    where = dict(zip(vid, pos))
    var["x"] = [where.get(str(i), np.nan) for i in var["variable_id"]]
    gene_mid: dict[str, float] = {}
    if genes is not None and len(genes):
        gene_mid = dict(zip(genes["gene_id"].astype(str), 0.5 * (genes["start"] + genes["end"]).astype(float)))
    if "gene_id" not in pairs.columns or pairs["gene_id"].isna().all():
        gmap = pair_gene_id or {}
        pairs["gene_id"] = [gmap.get(str(p)) for p in pairs["variable_id"]]
    px = np.array([gene_mid.get(str(g), np.nan) for g in pairs["gene_id"]], dtype=np.float64)
    miss = np.isnan(px)
    if miss.any():
        px[miss] = np.linspace(lo, hi, int(miss.sum()) + 2)[1:-1]
    # spread the pairs of one gene a little so their tissues do not overlap
    if len(pairs):
        key = pd.Series(px).round(0)
        rank = key.groupby(key).cumcount().to_numpy()
        px = px + (rank - 0.5 * (key.map(key.value_counts()).to_numpy() - 1)) * 0.004 * (hi - lo)
    pairs["x"] = px

    fig, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True, gridspec_kw={"height_ratios": [2.2, 1.0, 1.6, 1.6]})
    ax_p, ax_g, ax_pip, ax_pr = axes
    # GWAS track
    ax_p.scatter(pos / mb, _neglog10p(z), s=8, c="#4c4c4c", linewidths=0)
    ax_p.axhline(-np.log10(5e-8), color="#d62728", lw=0.8, ls="--")
    ax_p.set_ylabel("GWAS -log10 p")
    ax_p.set_title(title)
    # gene track
    if genes is not None and len(genes):
        gg = genes.sort_values("start").reset_index(drop=True)
        for i, g in gg.iterrows():
            y = i % 3
            ax_g.plot([g["start"] / mb, g["end"] / mb], [y, y], color="#333333", lw=3, solid_capstyle="butt")
            ax_g.text(0.5 * (g["start"] + g["end"]) / mb, y + 0.35, str(g.get("gene_name", g["gene_id"])),
                      ha="center", va="bottom", fontsize=7)
        ax_g.set_ylim(-0.6, 3.2)
    ax_g.set_yticks([])
    ax_g.set_ylabel("genes")
    # PIP and CS-Pratt
    for ax, col, lab in ((ax_pip, "pip", "PIP"), (ax_pr, "cs_pratt", "CS-Pratt")):
        for df, marker, name in ((var, "o", "variant"), (pairs, "D", "pair")):
            if not len(df):
                continue
            yv = df[col].to_numpy(dtype=np.float64)
            yv = np.where(np.isfinite(yv), yv, 0.0)
            edge = np.where(df["causal"].to_numpy(dtype=bool), "black", "none")
            ax.scatter(df["x"] / mb, yv, c=_cs_colour(df["cs"]), marker=marker, s=26 if name == "pair" else 12,
                       edgecolors=edge, linewidths=0.8, label=name, zorder=3 if name == "pair" else 2)
        ax.set_ylabel(lab)
        ax.set_ylim(-0.03, 1.05)
    if cs_pratt_min is not None:
        ax_pr.axhline(cs_pratt_min, color="#555555", lw=0.8, ls=":")
    ax_pr.set_xlabel("position (Mb)")
    ax_pr.set_xlim(lo / mb - 0.01 * (hi - lo) / mb, hi / mb + 0.01 * (hi - lo) / mb)
    # legend: one entry per credible set (top variable and size), marker types
    handles = [plt.Line2D([], [], marker="D", ls="", color="#555555", label="gene-tissue pair"),
               plt.Line2D([], [], marker="o", ls="", color="#555555", label="variant"),
               plt.Line2D([], [], marker="o", ls="", mfc="white", mec="black", label="causal call")]
    cs_ids = sorted({int(c) for c in v["cs"].dropna()})
    for c in cs_ids:
        members = v[v["cs"] == c]
        top = members.sort_values("pip", ascending=False)["variable_id"].iloc[0]
        pr = members["cs_pratt"].iloc[0]
        size = f"n={len(members)}"
        n_groups = group_keys(members).nunique()  # members the data cannot tell apart count once
        if n_groups < len(members):
            size += f" in {n_groups} distinguishable group{'s' if n_groups > 1 else ''}"
        handles.append(plt.Line2D([], [], marker="s", ls="", color=_PALETTE[(c - 1) % len(_PALETTE)],
                                  label=f"CS{c}: {top} ({size}, CS-Pratt={pr:.2f})"))
    fig.legend(handles=handles, loc="lower left", ncol=2, fontsize=8, frameon=False, bbox_to_anchor=(0.06, 0.0))
    fig.tight_layout(rect=(0, 0.03 + 0.018 * (len(handles) + 1) // 2, 1, 1))
    Path(out_prefix).parent.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, out_prefix)


def save_figure(fig: plt.Figure, out_prefix: str | Path) -> list[Path]:
    """Write ``{out_prefix}.png`` (110 dpi) and ``.svg`` atomically, byte-identical across runs; close the figure."""
    out = Path(out_prefix)
    paths = []
    for ext, kw in (("png", {"dpi": 110}), ("svg", {"metadata": {"Date": None}})):
        p = out.with_name(out.name + f".{ext}")
        # a fixed hash salt keeps the SVG's generated element ids, and so the file, identical across runs
        with atomic_path(p) as tmp, plt.rc_context({"svg.hashsalt": "twasflow"}):
            fig.savefig(tmp, format=ext, **kw)
        paths.append(p)
    plt.close(fig)
    return paths


def coloc_sensitivity_plot(table: pd.DataFrame, path: str | Path, *, title: str | None = None) -> list[Path]:
    """A :func:`twasflow.coloc.sensitivity` table drawn as two panels (prior and posterior probabilities of
    H0..H4 against p12, log x axis), the region where the rule passes shaded green and the result's own p12
    (``table.attrs["p12"]``) marked; written as ``<path>.png`` and ``<path>.svg`` (a suffix on ``path`` is
    replaced). Returns the paths."""
    from .coloc._common import HYPOTHESES

    p12 = float(table.attrs["p12"])
    base = Path(path)
    base = base.with_suffix("") if base.suffix.lower() in (".png", ".svg") else base
    x = table["p12"].to_numpy()
    colours = ["#bbbbbb", "#3b528b", "#21908c", "#5dc863", "#fde725"]
    rule = str(table.attrs.get("rule", ""))
    with plt.rc_context({"svg.hashsalt": "twasflow", "svg.fonttype": "none"}):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
        for ax, prefix, name in zip(axes, ("prior.", "PP."), ("Prior probabilities", "Posterior probabilities")):
            for k, h in enumerate(HYPOTHESES):
                ax.plot(x, table[f"{prefix}{h}"], marker="o", ms=3, lw=1, color=colours[k], label=h)
            w = np.flatnonzero(table["pass"].to_numpy())
            if w.size:
                ax.axvspan(x[w.min()], x[w.max()], color="green", alpha=0.1, ec="green")
            ax.axvline(p12, ls="--", color="grey")
            ax.set_xscale("log")
            ax.set_ylim(0, 1.02 if prefix == "PP." else None)
            ax.set_xlabel("p12")
            ax.set_ylabel("probability")
            ax.set_title(name, loc="left", fontsize=10)
            ax.grid(axis="y", color="0.85")
        axes[0].legend(loc="center left", fontsize=8)
        fig.suptitle(title or f"shaded: {rule}", fontsize=10)
        out = []
        for ext, meta in ((".png", {"Software": None}), (".svg", {"Date": None, "Creator": None})):
            target = base.with_suffix(ext)
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=ext[1:], metadata=meta, dpi=100)
            out.append(target)
        plt.close(fig)
    return out
