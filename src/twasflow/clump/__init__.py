"""Clumping + thresholding identical to PLINK 1.9 ``--clump``, and a small greedy clumper for loci.

The rules (see ``docs/clump.md``): index variants are those with p <= p1, taken in order of ascending p
(ties by panel order); each absorbs the not-yet-clumped variants on its chromosome within
``kb*1000 - 1`` bp whose haplotype r2 with it (two-locus maximum-likelihood haplotype frequencies, people
called at both variants) is strictly above the threshold. Association rows with p <= max(0.05, p2) are
counted in the p-value bins; rows with p < p2 are listed in SP2.

The two-locus EM is solved in closed form (the ML frequency is a root of a cubic, as PLINK does) and
vectorised over all candidate partners of an index at once: the 3x3 genotype table of every pair comes
from one ``bincount`` over paired genotype codes.

Modules: ``em`` (two-locus haplotype r2, genotype bitsets and tables), ``core`` (the greedy clumping),
``plink_text`` (the ``.clumped`` text), ``command`` (``twasflow clump`` on a PLINK fileset: ``run_clump``) and
``pipeline`` (``clump_panel``/``clump_table`` against the genotype store; ``ldmatrix`` (``clump_ld``: the
same greedy rules with Pearson r² from precomputed LD, no genotypes); ``greedy_clump`` within loci is
``twasflow.ld``'s, re-exported). pandas is
imported only by the functions that take or return DataFrames: ``twasflow clump`` competes with plink1.9 on wall
time, and importing pandas costs about as much CPU as parsing a 1M-line .bim.
"""

from twasflow.errors import ClumpError

from .em import EM_BOUND_ITERATIONS, EM_ROOT_SLACK, EPSILON, R2Method, SMALLISH_EPSILON, SMALL_EPSILON, bit_counts, em_r2_bounds, em_r2_decide, em_r2_exceeds, genotype_bits, haplotype_r2, pair_tables, pearson_r2, r2_upper_bound, tables_from_bits
from .core import AssocEntries, ClumpRecord, bp_radius, build_entries, clump_plink, load_threshold
from .plink_text import format_clumped, format_p3, plink_maxsnp
from .command import read_assoc, run_clump
from .pipeline import CLUMP_TABLE_COLUMNS, clump_panel, clump_table
from .ldmatrix import clump_ld
from twasflow.ld import greedy_clump  # re-exported: its owner is twasflow.ld

__all__ = [
    "AssocEntries",
    "CLUMP_TABLE_COLUMNS",
    "ClumpError",
    "ClumpRecord",
    "EM_BOUND_ITERATIONS",
    "EM_ROOT_SLACK",
    "EPSILON",
    "R2Method",
    "SMALLISH_EPSILON",
    "SMALL_EPSILON",
    "bit_counts",
    "bp_radius",
    "build_entries",
    "clump_ld",
    "clump_panel",
    "clump_plink",
    "clump_table",
    "em_r2_bounds",
    "em_r2_decide",
    "em_r2_exceeds",
    "format_clumped",
    "format_p3",
    "genotype_bits",
    "greedy_clump",
    "haplotype_r2",
    "load_threshold",
    "pair_tables",
    "pearson_r2",
    "plink_maxsnp",
    "r2_upper_bound",
    "read_assoc",
    "run_clump",
    "tables_from_bits",
]
