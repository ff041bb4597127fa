"""Gene-based tests with heterogeneous annotations (GAMBIT; Quick et al.) and S-MultiXcan.

Numerics on arrays (one concern per module) and the stage that feeds them:

========================  ===================================================================================
module                    what
========================  ===================================================================================
:mod:`.combine`           HMP with its Landau null (:func:`hmp`, :func:`landau_sf`), ACAT (reused from
                          :func:`twasflow.twas.acat`), :func:`combine`
:mod:`.forms`             L-type and Q-type tests with GAMBIT's LD-mismatch safeguard (:func:`l_test`,
                          :func:`q_test`, Liu's approximation :func:`liu_quadform_p`)
:mod:`.dtss`              distance-to-TSS weighted HMP/ACAT across α (:func:`dtss_test`)
:mod:`.crosstissue`       CT-TWAS (:func:`ct_pcomb`, :func:`ct_max`, :func:`ct_q`) and :func:`smultixcan`
:mod:`.gene`              all tests of one gene and its omnibus (:func:`run_gene`)
:mod:`.inputs`            annotation readers: consequences (table/VEP/ANNOVAR), TSS, element BED
:mod:`.stage`             rule ``gene_tests``: one chunk of loci → stratified and per-gene tables
========================  ===================================================================================
"""

from .combine import combine, hmp, landau_sf
from .crosstissue import SMultiXcan, ct_max, ct_pcomb, ct_q, smultixcan, tissue_correlation
from .dtss import dtss_test, dtss_weights
from .forms import LD_MISMATCH, OK, TestResult, imhof_quadform_p, l_test, liu_quadform_p, q_test, single_p
from .gene import TEST_COLUMNS, GeneInputs, GeneTestOptions, run_gene

__all__ = [
    "combine", "hmp", "landau_sf", "SMultiXcan", "ct_max", "ct_pcomb", "ct_q", "smultixcan",
    "tissue_correlation", "dtss_test", "dtss_weights", "LD_MISMATCH", "OK", "TestResult", "l_test",
    "imhof_quadform_p", "liu_quadform_p", "q_test", "single_p", "TEST_COLUMNS", "GeneInputs", "GeneTestOptions", "run_gene",
]
