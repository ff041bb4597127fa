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

    # CS-Pratt is TGVIS's; methods without it (cTWAS, TGFM) get no CS-Pratt panel rather than an empty one
    has_pratt = bool(np.isfinite(pd.to_numeric(v["cs_pratt"], errors="coerce").to_numpy(np.float64)).any())
    ratios = [2.2, 1.0, 1.6] + ([1.6] if has_pratt else [])
    fig, axes = plt.subplots(len(ratios), 1, figsize=(10, 1.0 + 2.5 * sum(ratios) / 1.6 * 0.62), sharex=True,
                             gridspec_kw={"height_ratios": ratios})
    ax_p, ax_g, ax_pip = axes[:3]
    ax_pr = axes[3] if has_pratt else None
    # GWAS track
    ax_p.scatter(pos / mb, _neglog10p(z), s=8, c="#4c4c4c", linewidths=0)
    ax_p.axhline(-np.log10(5e-8), color="#d62728", lw=0.8, ls="--")
    ax_p.set_ylabel("GWAS -log10 p")
    ax_p.set_title(title)
    # gene track
    gene_track(ax_g, genes, lo, hi, fig_width_in=10.0, axes_frac=0.8)
    # PIP and CS-Pratt
    panels = [(ax_pip, "pip", "PIP")] + ([(ax_pr, "cs_pratt", "CS-Pratt")] if ax_pr is not None else [])
    for ax, col, lab in panels:
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
    if cs_pratt_min is not None and ax_pr is not None:
        ax_pr.axhline(cs_pratt_min, color="#555555", lw=0.8, ls=":")
    axes[-1].set_xlabel("position (Mb)")
    axes[-1].set_xlim(lo / mb - 0.01 * (hi - lo) / mb, hi / mb + 0.01 * (hi - lo) / mb)
    # legend: one entry per credible set (top variable and size), marker types
    handles = [plt.Line2D([], [], marker="D", ls="", color="#555555", label="gene-tissue pair"),
               plt.Line2D([], [], marker="o", ls="", color="#555555", label="variant"),
               plt.Line2D([], [], marker="o", ls="", mfc="white", mec="black", label="causal call")]
    cs_ids = sorted({int(c) for c in v["cs"].dropna()})
    for c in cs_ids:
        members = v[v["cs"] == c]
        top = members.sort_values("pip", ascending=False)["variable_id"].iloc[0]
        pr = float(pd.to_numeric(members["cs_pratt"], errors="coerce").iloc[0])
        size = f"n={len(members)}"
        n_groups = group_keys(members).nunique()  # members the data cannot tell apart count once
        if n_groups < len(members):
            size += f" in {n_groups} distinguishable group{'s' if n_groups > 1 else ''}"
        handles.append(plt.Line2D([], [], marker="s", ls="", color=_PALETTE[(c - 1) % len(_PALETTE)],
                                  label=f"CS{c}: {top} ({size}" + (f", CS-Pratt={pr:.2f})" if np.isfinite(pr) else ")")))
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

def draw_locus_plots(jobs: Sequence[tuple[str, pd.DataFrame, np.ndarray, Sequence[str], np.ndarray]],
                     genes: pd.DataFrame | None, plot_dir: Path, *, title: str = "{locus_id}",
                     cs_pratt_min: float | None = 0.15) -> list[Path]:
    """The finemap rule's locus plots, drawn after its tables are written.

    ``jobs``: ``(locus_id, variables, pos, variant_ids, z)`` per locus; ``genes``: the annotation
    (:func:`twasflow.io.annotation.read_gene_annotation`) or None; ``title`` is formatted with ``locus_id``.
    Every locus is tried; a failure is logged with its traceback and, after all, raised as one
    ``RuntimeError`` naming the loci (a plotting bug fails the job; it never discards a fit).
    """
    import logging

    from .io.annotation import genes_in_window

    log = logging.getLogger("twasflow")
    paths: list[Path] = []
    failed: list[tuple[str, BaseException]] = []
    for lid, v, pos, ids, z in jobs:
        chrom = lid.split(".")[-1].split("_")[0]
        pos = np.asarray(pos)
        g = genes_in_window(genes, chrom, float(pos.min()), float(pos.max())) if genes is not None and pos.size else None
        try:
            paths += locus_plot(v, pos, ids, z, g, plot_dir / lid, title=title.format(locus_id=lid),
                                cs_pratt_min=cs_pratt_min)
        except Exception as e:  # noqa: BLE001 - re-raised below, after every locus was tried
            log.exception("locus plot of %s failed", lid)
            failed.append((lid, e))
    if failed:
        lid, e = failed[0]
        raise RuntimeError(f"locus plots failed at {len(failed)} of {len(jobs)} loci (the fit tables are written): "
                           + "; ".join(f"{k}: {type(x).__name__}: {x}" for k, x in failed)) from e
    return paths


# ---------------------------------------------------------------------------------------------- regional plots
#: LocusZoom's LD colour bins: (lower r² bound, colour, label), highest first; r² unknown -> :data:`LD_NA_COLOUR`.
LD_BINS = ((0.8, "#d43f3a", "0.8–1"), (0.6, "#eea236", "0.6–0.8"), (0.4, "#5cb85c", "0.4–0.6"),
           (0.2, "#46b8da", "0.2–0.4"), (0.0, "#357ebd", "0–0.2"))
LD_NA_COLOUR = "#b8b8b8"
LEAD_COLOUR = "#9632b8"
LD_FLAG_COLOUR = "#000000"  # variants flagged by the LD-mismatch gate (twasflow.ldcheck)


def ld_bin(r2: Sequence[float] | np.ndarray) -> np.ndarray:
    """Index into :data:`LD_BINS` per variant (0 = r² >= 0.8 ... 4 = r² < 0.2), -1 when r² is unknown (NaN)."""
    r2 = np.asarray(r2, dtype=np.float64)
    out = np.full(r2.shape, -1, dtype=np.int64)
    known = np.isfinite(r2)
    lows = np.array([b[0] for b in LD_BINS])
    # first bin whose lower bound the value reaches (bins are ordered high to low)
    out[known] = np.argmax(r2[known][:, None] >= lows[None, :], axis=1)
    return out


def ld_colours(r2: Sequence[float] | np.ndarray) -> list[str]:
    """LocusZoom colour of each r² (grey when unknown)."""
    return [LD_BINS[b][1] if b >= 0 else LD_NA_COLOUR for b in ld_bin(r2)]


def _text_width_px(labels: Sequence[str], fontsize: float, dpi: float) -> np.ndarray:
    """Rendered width (pixels at ``dpi``) of each label in the default font."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    r = RendererAgg(10, 10, dpi)
    fp = FontProperties(size=fontsize)
    return np.array([r.get_text_width_height_descent(s, fp, ismath=False)[0] for s in labels], dtype=np.float64)


def pack_gene_rows(genes: pd.DataFrame, lo: float, hi: float, axes_width_in: float, *, fontsize: float = 7.0,
                   dpi: float = 100.0, gap_in: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """Rows and label x-positions of a gene track with no two labels (or a label and another gene's line)
    overlapping: greedy interval packing, in start order, of each gene's extent [min(start, label left),
    max(end, label right)] widened by ``gap_in``. Labels are centred on the gene and shifted inside the window.

    Returns (row per gene (int, 0 = top), label centre per gene (bp)), in ``genes``' order.
    """
    n = len(genes)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    bp_per_in = (hi - lo) / axes_width_in
    w = _text_width_px([_gene_label(g) for _, g in genes.iterrows()], fontsize, dpi) / dpi * bp_per_in
    s = np.clip(genes["start"].to_numpy(np.float64), lo, hi)
    e = np.clip(genes["end"].to_numpy(np.float64), lo, hi)
    mid = np.clip(0.5 * (s + e), lo + 0.5 * w, hi - 0.5 * w)
    left = np.minimum(s, mid - 0.5 * w) - 0.5 * gap_in * bp_per_in
    right = np.maximum(e, mid + 0.5 * w) + 0.5 * gap_in * bp_per_in
    rows = np.zeros(n, dtype=np.int64)
    ends: list[float] = []
    for i in np.argsort(left, kind="mergesort"):
        r = next((k for k, x in enumerate(ends) if x < left[i]), len(ends))
        if r == len(ends):
            ends.append(right[i])
        else:
            ends[r] = right[i]
        rows[i] = r
    return rows, mid


def _gene_label(g: pd.Series) -> str:
    name = str(g.get("gene_name") or "") or str(g.get("gene_id") or "")
    strand = str(g.get("strand") or "")
    return {"+": f"{name} →", "-": f"← {name}"}.get(strand, name)


def gene_track(ax: plt.Axes, genes: pd.DataFrame | None, lo: float, hi: float, *, fig_width_in: float,
               axes_frac: float, fontsize: float = 7.0, highlight: frozenset[str] = frozenset()) -> list:
    """Draw genes as bars with labels packed into rows (:func:`pack_gene_rows`); returns the label artists.

    ``lo, hi`` in bp (the axis is in Mb); ``fig_width_in * axes_frac`` is the axes' width in inches.
    ``highlight``: gene ids or names drawn in bold (genes of causal pairs).
    """
    ax.set_yticks([])
    ax.set_ylabel("genes")
    if genes is None or not len(genes):
        ax.set_ylim(-1, 1)
        ax.text(0.5, 0.0, "no gene in the window", transform=ax.get_yaxis_transform(), ha="center", va="center",
                fontsize=fontsize, color="#777777")
        return []
    g = genes.reset_index(drop=True)
    rows, mid = pack_gene_rows(g, lo, hi, fig_width_in * axes_frac, fontsize=fontsize, dpi=ax.figure.dpi)
    texts = []
    for i, r in g.iterrows():
        y = -float(rows[i])
        bold = bool({str(r["gene_id"]), str(r["gene_name"])} & highlight)
        ax.plot([max(r["start"], lo) / 1e6, min(r["end"], hi) / 1e6], [y, y], color="#1f3a93" if bold else "#333333",
                lw=4 if bold else 3, solid_capstyle="butt")
        texts.append(ax.text(mid[i] / 1e6, y + 0.18, _gene_label(r), ha="center", va="bottom", fontsize=fontsize,
                             fontweight="bold" if bold else "normal"))
    ax.set_ylim(-float(rows.max()) - 0.5, 0.75)
    return texts


def gene_track_rows(genes: pd.DataFrame | None, lo: float, hi: float, axes_width_in: float) -> int:
    """Number of rows :func:`gene_track` will use (to size the panel before drawing)."""
    if genes is None or not len(genes):
        return 1
    return int(pack_gene_rows(genes.reset_index(drop=True), lo, hi, axes_width_in)[0].max()) + 1


def regional_figure(variants: pd.DataFrame, lead: str, window: tuple[float, float], genes: pd.DataFrame | None,
                    fits: dict[str, pd.DataFrame], pair_x: dict[str, float], *, title: str = "",
                    pair_labels: dict[str, str] | None = None, highlight: frozenset[str] = frozenset(),
                    ld_flagged: frozenset[str] = frozenset(), width_in: float = 11.0) -> tuple[plt.Figure, list]:
    """A regional association plot of one locus (LocusZoom's layout) with each method's fit below it.

    Parameters
    ----------
    variants : every GWAS variant in the window: ``variant_id, pos`` (bp), ``p``, ``r2`` (with the lead, from
        the panel; NaN when a variant is not in it), optional ``rsid``.
    lead : the lead variant's id (purple diamond, labelled).
    window : (start, end) of the locus window, bp: the x-axis spans it.
    genes : annotation rows in the window (:func:`twasflow.io.annotation.genes_in_window`) or None.
    fits : method -> its ``variables`` rows at the locus (``variable_id, type, pip, cs, causal``).
    pair_x : pair id -> x position (bp; the gene's centre; pairs of one gene are spread a little).
    pair_labels : pair id -> label drawn beside pairs in a credible set (gene · tissue · QTL type).
    highlight : genes drawn in bold on the gene track.
    ld_flagged : variants the LD-mismatch gate flagged (``ld_flagged`` of the loci table, :mod:`twasflow.ldcheck`):
        drawn as red crosses over their points and counted in the legend.

    Returns
    -------
    (figure, gene label artists) — the artists let tests check labels do not overlap.
    """
    lo, hi = float(window[0]), float(window[1])
    mb = 1e6
    left_in, right_in = 0.9, 0.35
    ax_w = width_in - left_in - right_in
    n_rows = gene_track_rows(genes, lo, hi, ax_w)
    methods = list(fits)
    heights = [2.6, 0.3 * n_rows + 0.35] + [1.25] * len(methods)
    top_in, bottom_in, gap_in = 0.45, 0.55, 0.12
    H = top_in + bottom_in + sum(heights) + gap_in * (len(heights) - 1)
    fig = plt.figure(figsize=(width_in, H))
    axes = []
    y = H - top_in
    for h in heights:
        y -= h
        axes.append(fig.add_axes((left_in / width_in, y / H, ax_w / width_in, h / H),
                                 sharex=axes[0] if axes else None))
        y -= gap_in
    ax_p, ax_g = axes[0], axes[1]
    # GWAS: every variant in the window, coloured by r² with the lead (LocusZoom's bins)
    p = variants["p"].to_numpy(np.float64)
    lp = -np.log10(np.clip(p, 1e-300, 1.0))
    x = variants["pos"].to_numpy(np.float64) / mb
    r2 = variants["r2"].to_numpy(np.float64)
    b = ld_bin(r2)
    is_lead = (variants["variant_id"].astype(str) == str(lead)).to_numpy()
    in_cs = np.zeros(len(variants), dtype=bool)
    cs_vars = {str(i) for f in fits.values() for i in f.loc[(f["type"] == "variant") & f["cs"].notna(), "variable_id"]}
    if cs_vars:
        in_cs = variants["variant_id"].astype(str).isin(cs_vars).to_numpy()
    for k in [-1, 4, 3, 2, 1, 0]:  # strongest LD drawn last (on top)
        sel = (b == k) & ~is_lead
        col = LD_BINS[k][1] if k >= 0 else LD_NA_COLOUR
        lab = f"r² {LD_BINS[k][2]}" if k >= 0 else "not in LD panel"
        ax_p.scatter(x[sel], lp[sel], s=14, c=col, edgecolors="#555555", linewidths=0.25, label=lab, zorder=2)
    if in_cs.any():
        ax_p.scatter(x[in_cs], lp[in_cs], s=55, facecolors="none", edgecolors="black", linewidths=0.9,
                     label="in a credible set", zorder=3)
    flagged = variants["variant_id"].astype(str).isin(ld_flagged).to_numpy() if ld_flagged else in_cs & False
    if flagged.any():
        ax_p.scatter(x[flagged], lp[flagged], s=60, marker="x", c=LD_FLAG_COLOUR, linewidths=1.4,
                     label=f"LD mismatch ({int(flagged.sum())})", zorder=5)
    if is_lead.any():
        ax_p.scatter(x[is_lead], lp[is_lead], s=70, marker="D", c=LEAD_COLOUR, edgecolors="black", linewidths=0.6,
                     label="lead variant", zorder=4)
        j = int(np.flatnonzero(is_lead)[0])
        rs = variants["rsid"].iloc[j] if "rsid" in variants.columns else None
        ax_p.annotate(str(rs) if isinstance(rs, str) and rs else str(lead), (x[j], lp[j]), xytext=(6, 4),
                      textcoords="offset points", fontsize=8, fontweight="bold")
    # the top variant of each credible set (any method) labelled with its rsID where the GWAS has one
    tops: set[str] = set()
    for f in fits.values():
        fv = f[(f["type"] == "variant") & f["cs"].notna()].sort_values("pip", ascending=False, kind="mergesort")
        tops |= set(fv.drop_duplicates("cs")["variable_id"].astype(str))
    tops.discard(str(lead))
    for j in np.flatnonzero(variants["variant_id"].astype(str).isin(tops).to_numpy()):
        rs = variants["rsid"].iloc[j] if "rsid" in variants.columns else None
        ax_p.annotate(str(rs) if isinstance(rs, str) and rs else str(variants["variant_id"].iloc[j]), (x[j], lp[j]),
                      xytext=(6, -10), textcoords="offset points", fontsize=7)
    ax_p.axhline(-np.log10(5e-8), color="#888888", lw=0.8, ls="--")
    ax_p.set_ylabel("−log10 p (GWAS)")
    ax_p.set_ylim(0, max(8.5, float(np.nanmax(lp)) * 1.12 if lp.size else 8.5))
    ax_p.set_title(title, fontsize=10, loc="left")
    # legend in LocusZoom's order: lead, then r² bins from high to low, grey, credible-set ring
    h, lab = ax_p.get_legend_handles_labels()
    order = (["lead variant"] + [f"r² {b[2]}" for b in LD_BINS] + ["not in LD panel", "in a credible set"]
             + [x for x in lab if x.startswith("LD mismatch")])
    pick = [lab.index(x) for x in order if x in lab]
    ax_p.legend([h[i] for i in pick], [lab[i] for i in pick], loc="upper right", fontsize=7, ncol=2, frameon=True,
                framealpha=0.85)
    ax_p.tick_params(labelbottom=False)
    texts = gene_track(ax_g, genes, lo, hi, fig_width_in=width_in, axes_frac=ax_w / width_in, highlight=highlight)
    ax_g.tick_params(labelbottom=False)
    labels = pair_labels or {}
    for ax, m in zip(axes[2:], methods):
        f = fits[m]
        var = f[f["type"] == "variant"]
        pairs = f[f["type"] == "pair"]
        where = dict(zip(variants["variant_id"].astype(str), variants["pos"].to_numpy(np.float64)))
        vx = np.array([where.get(str(i), np.nan) for i in var["variable_id"]])
        px = np.array([pair_x.get(str(i), np.nan) for i in pairs["variable_id"]])
        for d, xx, marker, size in ((var, vx, "o", 14), (pairs, px, "D", 30)):
            if not len(d):
                continue
            ok = np.isfinite(xx)
            yv = np.nan_to_num(d["pip"].to_numpy(np.float64)[ok])
            edge = np.where(d["causal"].to_numpy(dtype=bool)[ok], "black", "none")
            ax.scatter(xx[ok] / mb, yv, c=_cs_colour(d["cs"][ok]), marker=marker, s=size, edgecolors=edge,
                       linewidths=0.8, zorder=3 if marker == "D" else 2)
        top = pairs[pairs["cs"].notna()].sort_values("pip", ascending=False).drop_duplicates("cs")
        for _, r in top.iterrows():
            xx = pair_x.get(str(r["variable_id"]))
            if xx is not None and np.isfinite(xx):
                ax.annotate(labels.get(str(r["variable_id"]), str(r["variable_id"])), (xx / mb, float(r["pip"])),
                            xytext=(5, -3), textcoords="offset points", fontsize=7, va="top")
        ax.set_ylim(-0.05, 1.12)
        ax.set_ylabel(f"PIP\n{m}", fontsize=8)
        if ax is not axes[-1]:
            ax.tick_params(labelbottom=False)
    axes[-1].set_xlim(lo / mb, hi / mb)
    axes[-1].set_xlabel("position on chromosome (Mb); ◆ gene–tissue pair at its gene, ● variant; colour = "
                        "credible set; black edge = causal call", fontsize=8)
    return fig, texts


def regional_plot(out_prefix: str | Path, *args: object, **kwargs: object) -> list[Path]:
    """:func:`regional_figure` written to ``{out_prefix}.png`` and ``.svg``."""
    fig, _ = regional_figure(*args, **kwargs)  # type: ignore[arg-type]
    Path(out_prefix).parent.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, out_prefix)
