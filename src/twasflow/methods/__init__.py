"""Fine-mapping methods over gene–tissue pairs and variants, with one result schema (SPEC §4).

- :mod:`twasflow.methods.tgvis` — TGVIS (joint SuSiE + infinitesimal effects + Pratt index);
- :mod:`twasflow.methods.ctwas` — cTWAS (genome-wide EM of group priors, then SuSiE per locus);
- :mod:`twasflow.methods.tgfm` — TGFM (SuSiE averaged over draws of the stage-1 xQTL posteriors);
- :mod:`twasflow.methods.joint` — the joint pair + variant system all three share, in factored form (products
  through the sparse weights W and R; the (P + M)^2 matrix is never formed);
- :mod:`twasflow.methods.result` — :class:`FinemapResult` and the ``variables`` / ``sets`` / ``loci`` tables.
"""

from .result import FinemapResult, compare_to_truth, credible_set_tables, empty_result, failed_result

__all__ = ["FinemapResult", "compare_to_truth", "credible_set_tables", "empty_result", "failed_result"]
