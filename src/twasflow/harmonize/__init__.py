"""Harmonization of GWAS and xQTL summary statistics to the reference panel.

Every effect is re-oriented to the panel's **counted** allele (variant id ``chrom:pos:other:counted``).
Rows are matched on (chromosome, position) and then on the allele pair, so multi-allelic panel sites
are matched allele by allele. The rules, the reason names of dropped rows and the build check are
documented in ``docs/harmonization.md``; every input row ends up kept or counted under one reason.

Everything is vectorised: alleles become small integer codes (A=1, C=2, G=3, T=4, so the complement of
``c`` is ``5 - c``), a variant's position becomes one int64 key ``chrom_code * 2**32 + pos``, and the
panel is searched with ``np.searchsorted`` on its sorted keys.

Modules, in the order of the data: ``codes`` (reason names, columns, chromosome/allele codes), ``match`` (the panel
index and the allele-by-allele match), ``rows`` (row QC, z/beta/se/n), ``accumulate`` (a file's batches,
palindromes and strand, duplicates, the build check, the QC record), ``gwas`` and ``xqtl`` (the two entry points).
"""

from .codes import (CODE_CHROM, GWAS_COLUMNS, PANEL_COLUMNS, REASONS, STRAND_CONSENSUS_MAX_FLIP,
                    STRAND_CONSENSUS_MIN_VARIANTS, XQTL_COLUMNS, Settings, allele_codes, chrom_codes, normalize_build,
                    normalize_chrom)
from .match import Match, PanelIndex, match_indels, match_rows, match_to_panel
from .rows import Rows, row_qc
from .gwas import harmonize_gwas, read_harmonized_gwas
from .xqtl import gene_id_of, harmonize_xqtl, read_gene_map

__all__ = [
    "CODE_CHROM",
    "GWAS_COLUMNS",
    "Match",
    "PANEL_COLUMNS",
    "PanelIndex",
    "REASONS",
    "Rows",
    "STRAND_CONSENSUS_MAX_FLIP",
    "STRAND_CONSENSUS_MIN_VARIANTS",
    "Settings",
    "XQTL_COLUMNS",
    "allele_codes",
    "chrom_codes",
    "gene_id_of",
    "harmonize_gwas",
    "harmonize_xqtl",
    "match_indels",
    "match_rows",
    "match_to_panel",
    "normalize_build",
    "normalize_chrom",
    "read_gene_map",
    "read_harmonized_gwas",
    "row_qc",
]
