"""All tests of one gene and its omnibus p-value (GAMBIT's per-gene summary).

The tests entering the omnibus, as GAMBIT v0.2 combines them: every annotation-subclass Q-type test of the
gene (coding, UTR, promoter … subclasses), every regulatory-element test attributed to the gene, the dTSS test,
and one cross-tissue TWAS test (the configured CT form; single-tissue TWAS tests do not enter separately). The
omnibus is their unweighted HMP (Landau null) or ACAT. ``min_p`` is the smallest p-value of all tests of the
gene including the single-tissue TWAS, ``bonferroni_p = min(1, n_all · min_p)`` (GAMBIT's "naive" p).
S-MultiXcan is reported beside them and does not enter the omnibus.

Numerical module: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..tables_schema import table
from .combine import combine
from .crosstissue import ct_max, ct_pcomb, ct_q, smultixcan, tissue_correlation
from .dtss import DEFAULT_ALPHAS, dtss_test
from .forms import OK, TestResult, l_test

TEST_COLUMNS = table("gene_tests").names[1:]  # the gene_tests table without its locus_id
CT_FORMS = ("pcomb", "max", "q")


@dataclass(frozen=True)
class GeneTestOptions:
    """Settings of the gene tests (config block ``gene_tests``; defaults live in the config schema)."""

    combine: str = "hmp"
    ct_twas: str = "pcomb"
    tss_alphas: Sequence[float] = DEFAULT_ALPHAS
    tss_window: int = 500_000
    ld_safeguard: bool = True
    smultixcan_condition_number: float = 30.0
    q_pvalue: str = "liu"


@dataclass
class GeneInputs:
    """What one gene is tested on.

    Attributes
    ----------
    dtss_z, dtss_d : (m,) z and position − TSS (bp) of the variants within the TSS window.
    classes : (class, subclass, TestResult) of the gene's annotation-subclass tests (computed by the caller
        with :func:`twasflow.genetests.forms.q_test`, one LD per locus).
    elements : (element_id, score, TestResult) of the regulatory elements targeting the gene.
    tissue_labels : (T,) labels of the gene's predictions (``tissue|qtl_type`` or pair ids).
    tissue_W : (M, T) standardized weights of those predictions on the locus variants; ``tissue_z``,
        ``tissue_R``: the locus GWAS z (M,) and LD (M, M).
    """

    gene_id: str
    gene_name: str
    dtss_z: np.ndarray | None = None
    dtss_d: np.ndarray | None = None
    classes: list[tuple[str, str, TestResult]] = field(default_factory=list)
    elements: list[tuple[str, float, TestResult]] = field(default_factory=list)
    tissue_labels: list[str] = field(default_factory=list)
    tissue_W: np.ndarray | None = None
    tissue_z: np.ndarray | None = None
    tissue_R: np.ndarray | None = None


def _row(g: GeneInputs, cls: str, sub: str, r: TestResult, omnibus: bool, info: str = "") -> dict[str, Any]:
    return {"gene_id": g.gene_id, "gene_name": g.gene_name, "class": cls, "subclass": sub,
            "n_variants": int(r.n_variants), "stat": float(r.stat), "p": float(r.p), "flag": r.flag,
            "omnibus": bool(omnibus), "info": info}


def run_gene(g: GeneInputs, opts: GeneTestOptions = GeneTestOptions()) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every test of one gene, then its summary.

    Returns
    -------
    rows : one dict per test (:data:`TEST_COLUMNS`).
    summary : ``gene_id, gene_name, n_tests, top_class, top_subclass, min_p, bonferroni_p, omnibus_p,
        ct_twas_p, dtss_p, smultixcan_chi2, smultixcan_df, smultixcan_z, smultixcan_p, n_tissues, flags``.
    """
    if opts.ct_twas not in CT_FORMS:
        raise ValueError(f"unknown ct_twas form {opts.ct_twas!r}; expected one of {CT_FORMS}")
    rows: list[dict[str, Any]] = []
    summ: dict[str, Any] = {"ct_twas_p": np.nan, "dtss_p": np.nan, "smultixcan_chi2": np.nan,
                            "smultixcan_df": 0, "smultixcan_z": np.nan, "smultixcan_p": np.nan, "n_tissues": 0}
    if g.dtss_z is not None and np.size(g.dtss_z):
        r, per_alpha = dtss_test(g.dtss_z, g.dtss_d, alphas=opts.tss_alphas, method=opts.combine)
        info = ",".join(f"{a:g}:{p:.3g}" for a, p in zip(opts.tss_alphas, per_alpha))
        rows.append(_row(g, "dTSS", "dTSS", r, True, info))
        summ["dtss_p"] = r.p
    for cls, sub, r in g.classes:
        rows.append(_row(g, cls, sub, r, np.isfinite(r.p)))
    for eid, score, r in g.elements:
        rows.append(_row(g, "Enhancer", eid, r, np.isfinite(r.p), f"score={score:g}"))
    T = len(g.tissue_labels)
    if T:
        W = np.asarray(g.tissue_W, dtype=np.float64)
        R = np.asarray(g.tissue_R, dtype=np.float64)
        single = [l_test(g.tissue_z, R, W[:, t], safeguard=opts.ld_safeguard) for t in range(T)]
        s = np.array([r.stat for r in single])
        ok = np.isfinite(s)
        for lab, r in zip(g.tissue_labels, single):
            rows.append(_row(g, "TWAS", lab, r, False))
        if ok.any():
            rho = tissue_correlation(W[:, ok], R)
            forms = {"pcomb": ct_pcomb(s[ok], opts.combine), "max": ct_max(s[ok], rho), "q": ct_q(s[ok], rho)}
            names = {"pcomb": f"CT-{opts.combine.upper()}", "max": "CT-M", "q": "CT-Q"}
            for k in CT_FORMS:
                rows.append(_row(g, "CT-TWAS", names[k], forms[k], k == opts.ct_twas))
            summ["ct_twas_p"] = forms[opts.ct_twas].p
            mx = smultixcan(s[ok], rho, opts.smultixcan_condition_number)
            rows.append(_row(g, "S-MultiXcan", "S-MultiXcan", TestResult(mx.chi2, mx.p, int(ok.sum())), False,
                             f"n_indep={mx.n_indep}"))
            summ.update(smultixcan_chi2=mx.chi2, smultixcan_df=mx.n_indep, smultixcan_z=mx.z, smultixcan_p=mx.p,
                        n_tissues=int(ok.sum()))
    omni = [r for r in rows if r["omnibus"]]
    ranked = [r for r in rows if r["class"] not in ("CT-TWAS", "S-MultiXcan") and np.isfinite(r["p"])]
    if ranked:
        top = min(ranked, key=lambda r: r["p"])  # first of equal p-values: rows are in a fixed order
        min_p = float(top["p"])
        top_class, top_sub = top["class"], top["subclass"]
    else:
        min_p, top_class, top_sub = np.nan, "", ""
    omnibus_p = combine(np.array([r["p"] for r in omni]), None, opts.combine) if omni else np.nan
    flags = sorted({r["flag"] for r in rows if r["flag"] != OK})
    summ.update({
        "gene_id": g.gene_id, "gene_name": g.gene_name, "n_tests": len(omni), "top_class": top_class,
        "top_subclass": top_sub, "min_p": min_p,
        "bonferroni_p": min(1.0, len(ranked) * min_p) if ranked else np.nan,
        "omnibus_p": float(omnibus_p), "flags": ",".join(flags),
    })
    return rows, summ
