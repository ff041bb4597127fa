"""Colocalisation: coloc-ABF, single-trait ABF fine-mapping, coloc-SuSiE and prior sensitivity, matching
coloc 5.2.3 (``coloc.abf``, ``finemap.abf``, ``coloc.bf_bf``, ``coloc.susie``, ``sensitivity``), plus the
per-locus driver used by the workflow's ``coloc`` rule. See ``docs/coloc.md``.

Public API
----------
coloc_abf(d1, d2, p1=1e-4, p2=1e-4, p12=1e-5) -> ColocAbfResult
finemap_abf(d, p1=1e-4) -> pandas.DataFrame (last row: the null model)
coloc_bf_bf(bf1, bf2, snps1=None, snps2=None, p1=1e-4, p2=1e-4, p12=5e-6, overlap_min=0.5,
            trim_by_posterior=True) -> ColocSusieResult
coloc_susie(fit1, fit2, snps1=None, snps2=None, p1=1e-4, p2=1e-4, p12=5e-6, overlap_min=0.5,
            trim_by_posterior=True) -> ColocSusieResult
sensitivity(result, rule="H4 > 0.5", *, row=0, npoints=100) -> pandas.DataFrame (twasflow.plots.coloc_sensitivity_plot draws it)
coloc_locus(gwas_z, gwas_n, R, xqtl_z, xqtl_n, pair_ids, variant_ids, config=None, *, L=10) -> DataFrame
select_pairs(tables) -> DataFrame (the pairs rule coloc tests; COLOC_COLUMNS its output)
ColocError (an InputError)
"""

from ._common import PP_COLUMNS, ColocError, combine_log_bf, logsum
from .abf import ColocAbfResult, Dataset, coloc_abf, finemap_abf, parse_dataset, sdY_est
from .locus import OUTPUT_COLUMNS, coloc_locus, colocalized, run_susie
from .select import COLOC_COLUMNS, select_pairs
from .sensitivity import hypothesis_priors, parse_rule, sensitivity
from .susie import ColocSusieResult, coloc_bf_bf, coloc_susie

__all__ = [
    "COLOC_COLUMNS",
    "OUTPUT_COLUMNS",
    "PP_COLUMNS",
    "ColocAbfResult",
    "ColocError",
    "ColocSusieResult",
    "Dataset",
    "coloc_abf",
    "coloc_bf_bf",
    "coloc_locus",
    "coloc_susie",
    "colocalized",
    "combine_log_bf",
    "finemap_abf",
    "hypothesis_priors",
    "logsum",
    "parse_dataset",
    "parse_rule",
    "run_susie",
    "sdY_est",
    "select_pairs",
    "sensitivity",
]
