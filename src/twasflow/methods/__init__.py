"""Fine-mapping methods over gene–tissue pairs and variants, with one result schema (docs/outputs.md "Finemap").

- :mod:`twasflow.methods.tgvis` — TGVIS (joint SuSiE + infinitesimal effects + Pratt index);
- :mod:`twasflow.methods.ctwas` — cTWAS (genome-wide EM of group priors, then SuSiE per locus);
- :mod:`twasflow.methods.tgfm` — TGFM (SuSiE averaged over draws of the stage-1 xQTL posteriors);
- :mod:`twasflow.methods.joint` — the joint pair + variant system all three share, in factored form (products
  through the sparse weights W and R; the (P + M)^2 matrix is never formed);
- :mod:`twasflow.methods.result` — :class:`FinemapResult` and the ``variables`` / ``sets`` / ``loci`` tables.
"""

from typing import Any

__all__ = ["FinemapResult", "compare_to_truth", "credible_set_tables", "empty_result", "failed_result"]


def __getattr__(name: str) -> Any:
    # the result names load on first use: the registry (imported by the CLI parser and the Snakefile) must not
    # pull in pandas with them
    if name in __all__:
        from . import result

        return getattr(result, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
