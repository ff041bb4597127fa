"""Summaries of a run, per trait and across traits (TGVIS paper's evaluation): causal-variable tables,
tissue map, colocalized sets, pairs missed by univariable TWAS, Pratt split, silver-standard precision,
drug-target enrichment, figures and the report pages. See ``docs/summary.md``.

Modules: :mod:`.genes` (gene lists, positions), :mod:`.tables`, :mod:`.evidence`, :mod:`.enrich` (pure table
functions), :mod:`.figures`, :mod:`.html`, :mod:`.pipeline` (the two rule functions).
"""

from .pipeline import enrichment, summarize

__all__ = ["enrichment", "summarize"]
