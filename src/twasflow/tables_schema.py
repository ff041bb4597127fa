"""One definition of each on-disk result table: its file, its columns in order and their types.

Every writer takes its column names (and, where it builds an empty table, its types) from :data:`TABLES`, and
``docs/outputs.md`` carries the same definitions in its "Table definitions" block, which
``python -m twasflow.tables_schema`` prints and ``tests/test_tables_schema.py`` holds equal to this module
(and checks every table the bundled example writes against it).

Types are logical names, one per column:

========  ======================  =====================================
type      Parquet (Arrow)         pandas (read back)
========  ======================  =====================================
str       string (or dictionary)  object
int       int64                   int64
Int       int64, nullable         Int64 (Parquet) / float64 (TSV, NA)
float     double                  float64
bool      bool                    bool
========  ======================  =====================================

A table's columns come first, in this order; a writer may append extra columns at the end (``extras``: the
method-specific columns of the fine-mapping tables, for instance). Imports nothing from twasflow and no pandas
at import time, so any module can use it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    import pandas as pd

#: logical type -> pandas dtype of an empty column
PANDAS_DTYPES = {"str": "object", "int": "int64", "Int": "Int64", "float": "float64", "bool": "bool"}


@dataclass(frozen=True)
class TableDef:
    """One on-disk table.

    Attributes
    ----------
    name : key in :data:`TABLES`.
    path : where it lives (``twasflow.layout.Layout`` method or file pattern).
    fmt : ``parquet``, ``tsv`` or ``arrow`` (Arrow IPC file).
    columns : ``(name, type)`` pairs in file order; types from :data:`PANDAS_DTYPES`.
    extras : whether writers may append further columns after these.
    doc : one line: what a row is.
    """

    name: str
    path: str
    fmt: str
    columns: tuple[tuple[str, str], ...]
    extras: bool = False
    doc: str = ""

    @property
    def names(self) -> list[str]:
        """Column names in file order (a new list each call: callers may extend it)."""
        return [c for c, _ in self.columns]

    @property
    def types(self) -> dict[str, str]:
        """Column name -> logical type."""
        return dict(self.columns)

    def pandas_dtypes(self) -> dict[str, str]:
        """Column name -> pandas dtype (``object`` for strings, ``Int64`` for nullable integers)."""
        return {c: PANDAS_DTYPES[t] for c, t in self.columns}

    def empty(self) -> "pd.DataFrame":
        """The table without rows, every column typed."""
        import pandas as pd

        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in self.pandas_dtypes().items()})

    def problems(self, columns: Iterable[str], types: dict[str, str] | None = None) -> list[str]:
        """What a written table breaks of this definition: missing, misplaced or unexpected columns and, given
        ``types`` (column -> logical type as read back, see :func:`arrow_logical_type`), wrong types."""
        cols = list(columns)
        head = cols[: len(self.columns)]
        out = []
        if head != self.names:
            out.append(f"{self.name}: columns {head} instead of {self.names}")
        if not self.extras and len(cols) > len(self.columns):
            out.append(f"{self.name}: unexpected extra columns {cols[len(self.columns):]}")
        for c, t in (types or {}).items():
            want = {"Int": "int"}.get(self.types.get(c, ""), self.types.get(c))  # int64 on disk either way
            if want is not None and t != want and t != "null":  # an all-null column has no type to check
                out.append(f"{self.name}: column {c} is {t}, expected {want}")
        return out


def arrow_logical_type(arrow_type: Any) -> str:
    """The logical type (:data:`PANDAS_DTYPES` key) of an Arrow column type; ``int`` and ``Int`` are both int64
    on disk (nullability is a property of the values), so int64 maps to ``int``."""
    import pyarrow as pa

    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "str"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_null(t):
        return "null"
    return str(t)


def _t(name: str, path: str, fmt: str, spec: str, *, extras: bool = False, doc: str = "") -> TableDef:
    """A :class:`TableDef` from ``"col:type col:type ..."`` (type ``str`` when omitted)."""
    cols = []
    for item in spec.split():
        c, _, t = item.partition(":")
        cols.append((c, t or "str"))
    for _, t in cols:
        if t not in PANDAS_DTYPES:
            raise ValueError(f"table {name}: unknown column type {t!r}")
    return TableDef(name, path, fmt, tuple(cols), extras, doc)


_PP = " ".join(f"PP.H{i}:float" for i in range(5))
_ABF = " ".join(f"abf_PP.H{i}:float" for i in range(5))

_TRAIT, _ACROSS = "summary/{trait}", "summary/across_traits"
_OVERVIEW = ("trait method n_loci:int n_loci_ok:int n_loci_failed:int n_loci_ld_mismatch:int n_ld_flagged_variants:int "
             "n_causal_sets:int n_sets_with_pairs:int n_causal_pairs:int n_causal_genes:int n_direct_variants:int")
_TISSUES = "trait method tissue count:float share:float n_sets:int"
_COLOC = ("trait method n_sets:int n_coloc_any:int n_coloc_majority:int prop_coloc_any:float "
          "prop_coloc_majority:float")
_MISSED = ("trait method n_loci:int n_causal_pairs:int n_twas_significant:int n_missed:int n_no_twas:int "
           "prop_missed:float pairs_per_locus:float missed_per_locus:float")
_PRATT = "trait method component n_loci:int mean:float median:float q25:float q75:float share:float"
_SILVER = "trait method n_sets:int n_silver:int n_nearby:int n_other:int precision:float"
_DRUG = "trait method n_genes:int n_drug_genes:int ratio:float n_sets:int n_sets_drug:int drug_genes"
#: the across-trait medians (summary_across_medians: ``median_{column}``)
_MEDIANS = ("n_causal_pairs", "n_direct_variants", "ratio", "prop_coloc_any", "prop_coloc_majority", "prop_missed")

#: every result table, by name (docs/outputs.md "Table definitions")
TABLES: dict[str, TableDef] = {t.name: t for t in [
    _t("gwas", "harmonized/gwas/{trait}.parquet (Layout.gwas)", "parquet",
       "variant_id chrom pos:int other_allele counted_allele z:float n:float p:float beta:float se:float "
       "counted_freq:float rsid", doc="one harmonized GWAS variant, sorted by chrom, pos"),
    _t("xqtl", "harmonized/xqtl/{dataset}/{chrom}.parquet (Layout.xqtl_dir)", "parquet",
       "pair_id phenotype_id gene_id tissue qtl_type variant_id pos:int z:float n:float beta:float se:float "
       "tss_distance:int", doc="one harmonized xQTL test, sorted by pos"),
    _t("xqtl_track", "harmonized/xqtl/{dataset}/{chrom}.track.parquet (Layout.xqtl_dir)", "parquet",
       "variant_id pos:int tss:Int maxabs:float rows:int row:int",
       doc="one (variant, TSS) of an xqtl file: largest |z| and rows over its pairs with that TSS, the variant's "
           "first row"),
    _t("xqtl_rows", "harmonized/xqtl/{dataset}/{chrom}.rows.arrow (Layout.xqtl_dir)", "arrow",
       "pair:int z:float", extras=True,
       doc="one row of the xqtl file, same order: its pair (row of xqtl_pairs) and z (then n when it varies within "
           "a pair); Arrow IPC, uncompressed"),
    _t("xqtl_pairs", "harmonized/xqtl/{dataset}/{chrom}.pairs.parquet (Layout.xqtl_dir)", "parquet",
       "pair_id phenotype_id gene_id tissue qtl_type tss:Int n:float",
       doc="one pair (phenotype) of an xqtl file's input stream; n NaN when it varies within the pair"),
    _t("models", "harmonized/xqtl/{dataset}/models.parquet (Layout.xqtl_dir)", "parquet",
       "pair_id phenotype_id gene_id tissue qtl_type variant_id chrom pos:int weight:float weight_allele:float "
       "n_model:int model_variant flipped:bool", extras=True,
       doc="one prediction-model weight on a panel variant (then phi, PredictDB's calibration factor, when the model has it)"),
    _t("susie_lbf", "harmonized/xqtl/{dataset}/lbf.parquet (Layout.xqtl_dir)", "parquet",
       "pair_id phenotype_id effect:int variant_id lbf:float",
       doc="eqtlcat-susie: one published single-effect log Bayes factor of a credible-set effect on a panel variant"),
    _t("susie_report", "harmonized/xqtl/{dataset}/susie_report.tsv (Layout.xqtl_dir)", "tsv",
       "phenotype_id n_region:int n_effects_cs:int n_weights:int alpha_outside:float reason",
       doc="eqtlcat-susie: one molecular trait of the published fine-mapping and the weights written for it"),
    _t("panel_variants", "panel/variants.parquet (Layout.panel_variants)", "parquet",
       "variant_id chrom pos:int other_allele counted_allele rsid counted_freq:float n_called:int row:int",
       extras=True, doc="one variant of the genotype store (a variant table without genotypes may add sd)"),
    _t("loci", "loci/{trait}.tsv (Layout.loci)", "tsv",
       "locus_id chrom start:int end:int lead_variant lead_p:float n_index_variants:int chunk", extras=True,
       doc="one locus: merged windows around index variants, with its chunk (then lead_rsid)"),
    _t("bundle_pairs", "locus_inputs/{trait}/{chunk}/{locus_id}.pairs.parquet (Layout.bundles)", "parquet",
       "pair_id gene_id gene_name tissue qtl_type n_tested:int source n_model:int",
       doc="one pair (column of xqtl_z / model_W) of a locus bundle"),
    _t("prescreen", "prescreen/{trait}/{chunk}.parquet (Layout.prescreen)", "parquet",
       "locus_id pair_id twas_z:float twas_p:float n_weights_used:int n_weights_model:int kept:bool reason "
       "acat_p:float", doc="one pair of a locus with weights: its S-PrediXcan test"),
    _t("finemap_variables", "finemap/{method}/{trait}/{chunk}.variables.parquet (Layout.finemap)", "parquet",
       "trait locus_id method variable_id type pair_id gene_id gene_name tissue qtl_type variant_id pip:float "
       "cs:Int cs_pip:float cs_pratt:float estimate:float se:float pratt:float causal:bool", extras=True,
       doc="one variable (pair or variant) of a locus fine-mapped by a method"),
    _t("finemap_sets", "finemap/{method}/{trait}/{chunk}.sets.parquet (Layout.finemap)", "parquet",
       "trait locus_id method cs:int size:int coverage:float purity_min:float purity_mean:float cs_pip:float "
       "cs_pratt:float n_pairs:int n_variants:int top_variable causal:bool", extras=True,
       doc="one credible set"),
    _t("finemap_loci", "finemap/{method}/{trait}/{chunk}.loci.parquet (Layout.finemap)", "parquet",
       "trait locus_id method status reason M:int P:int L:int bic:float sigma2_alpha:float sigma2_inf:float "
       "inf_test_p:float pratt_pairs:float pratt_variants:float pratt_inf:float niter:int converged:bool "
       "ld_s:float ld_n_flagged:int ld_action ld_flagged log", doc="one locus: the fit's status and locus-level numbers"),
    _t("coloc", "coloc/{trait}/{chunk}.parquet (Layout.coloc)", "parquet",
       f"trait locus_id method cs:Int pair_id nsnps:Int susie_hit1 susie_hit2 {_PP} {_ABF} colocalized:bool "
       "reason", doc="one (method, credible set, pair) tested by coloc-SuSiE and coloc-ABF"),
    _t("spredixcan", "spredixcan/{trait}.tsv (Layout.spredixcan)", "tsv",
       "dataset pair_id phenotype_id gene_id n_weights_model:int n_weights_used:int twas_z:float twas_p:float "
       "spredixcan_z:float spredixcan_p:float reason", extras=True,
       doc="one prediction-model pair: S-PrediXcan with the model's own covariance (then the phi-calibrated z)"),
    _t("failed_loci", "failed_loci.tsv (Layout.failed_loci)", "tsv",
       "trait locus_id stage error log", doc="one locus that failed, at the first stage it failed"),
    _t("gene_tests", "gene_tests/{trait}/{chunk}.tests.parquet, {trait}.tests.parquet (Layout.gene_tests)", "parquet",
       "locus_id gene_id gene_name class subclass n_variants:int stat:float p:float flag omnibus:bool info",
       doc="one gene-level test of one gene"),
    _t("gene_tests_genes", "gene_tests/{trait}/{chunk}.genes.parquet, {trait}.genes.parquet (Layout.gene_tests)", "parquet",
       "gene_id gene_name chrom tss:int locus_id n_tests:int top_class top_subclass min_p:float "
       "bonferroni_p:float omnibus_p:float significant:bool ct_twas_p:float dtss_p:float smultixcan_chi2:float "
       "smultixcan_df:int smultixcan_z:float smultixcan_p:float n_tissues:int flags ld_s:float locus_rank:float",
       doc="one gene: its gene tests combined"),
    # per-trait summaries (twasflow.summary.pipeline.summarize; the writer puts trait first)
    _t("summary_truth", f"{_TRAIT}/truth.tsv (Layout.summary_dir)", "tsv",
       "trait locus_id method variable_id type planted:bool causal:bool pip:float cs:float cs_pratt:float outcome "
       "collinear_with_planted:bool", doc="one planted or called variable of a method: TP, FN or FP (simulated data)"),
    _t("summary_causal_variables", f"{_TRAIT}/causal_variables.tsv (Layout.summary_dir)", "tsv",
       "trait method locus_id set_id cs:float type variable_id pair_id gene_id gene_name tissue qtl_type variant_id "
       "pip:float cs_pip:float cs_pratt:float estimate:float se:float pratt:float coloc_pp_h4:float colocalized "
       "twas_z:float twas_p:float twas_significant collinear_group",
       doc="one causal variable of a method (colocalized, twas_significant: True, False or NA)"),
    _t("summary_causal_sets", f"{_TRAIT}/causal_sets.tsv (Layout.summary_dir)", "tsv",
       "trait method locus_id set_id cs:float n_pairs:int n_variants:int cs_pip:float cs_pratt:float top_variable "
       "genes tissues n_pairs_colocalized:int coloc_any:bool coloc_majority:bool n_groups:int",
       doc="one causal credible set (or causal variable outside a set) of a method"),
    _t("summary_genes", f"{_TRAIT}/genes.tsv (Layout.summary_dir)", "tsv", "trait locus_id gene gene_id",
       extras=True, doc="one gene with a causal pair (then its pairs, per-method and evidence columns)"),
    _t("summary_overview", f"{_TRAIT}/overview.tsv (Layout.summary_dir)", "tsv", _OVERVIEW,
       doc="one method: loci fitted and causal calls"),
    _t("summary_tissues", f"{_TRAIT}/tissues.tsv (Layout.summary_dir)", "tsv", _TISSUES,
       doc="one (method, tissue): its share of causal pairs"),
    _t("summary_coloc", f"{_TRAIT}/coloc.tsv (Layout.summary_dir)", "tsv", _COLOC,
       doc="one method: its credible sets with colocalized pairs"),
    _t("summary_missed_by_twas", f"{_TRAIT}/missed_by_twas.tsv (Layout.summary_dir)", "tsv", _MISSED,
       doc="one method: causal pairs not significant in S-PrediXcan"),
    _t("summary_pratt_loci", f"{_TRAIT}/pratt_loci.tsv (Layout.summary_dir)", "tsv",
       "trait method locus_id component pratt:float", doc="one (method, fitted locus, Pratt component)"),
    _t("summary_pratt", f"{_TRAIT}/pratt.tsv (Layout.summary_dir)", "tsv", _PRATT,
       doc="one (method, Pratt component): its distribution across loci"),
    _t("summary_agreement", f"{_TRAIT}/agreement.tsv (Layout.summary_dir)", "tsv",
       "trait method_a method_b n_a:int n_b:int n_shared:int jaccard:float",
       doc="one ordered pair of methods (S-PrediXcan included): shared causal pairs"),
    _t("summary_silver", f"{_TRAIT}/silver.tsv (Layout.summary_dir)", "tsv", _SILVER,
       doc="one method: silver-standard precision of its causal sets"),
    _t("summary_silver_sets", f"{_TRAIT}/silver_sets.tsv (Layout.summary_dir)", "tsv",
       "trait method locus_id set_id cls silver_genes nearby_genes", doc="one causal set with pairs: its class"),
    _t("summary_drug_targets", f"{_TRAIT}/drug_targets.tsv (Layout.summary_dir)", "tsv", _DRUG,
       doc="one method: drug-target genes among its causal genes"),
    # across-trait summaries (twasflow.summary.pipeline.enrichment); the gathered ones repeat the per-trait tables
    _t("summary_across_overview", f"{_ACROSS}/overview.tsv (Layout.across_dir)", "tsv",
       f"{_OVERVIEW} ratio:float prop_coloc_any:float prop_coloc_majority:float prop_missed:float",
       doc="one (trait, method): overview with drug-target ratio, coloc and missed proportions"),
    _t("summary_across_tissue_matrix", f"{_ACROSS}/tissue_matrix.tsv (Layout.across_dir)", "tsv",
       "method trait tissue share:float trait_order:int tissue_order:int",
       doc="one (method, trait, tissue) cell of the Ward-clustered heatmap"),
    _t("summary_across_drug_targets", f"{_ACROSS}/drug_targets.tsv (Layout.across_dir)", "tsv", _DRUG,
       doc="every trait's summary_drug_targets"),
    _t("summary_across_drug_ttest", f"{_ACROSS}/drug_ttest.tsv (Layout.across_dir)", "tsv",
       "method_a method_b n_traits:int mean_a:float mean_b:float mean_diff:float t:float p:float",
       doc="one pair of methods: paired t-test of drug-target ratios across traits"),
    _t("summary_across_silver", f"{_ACROSS}/silver.tsv (Layout.across_dir)", "tsv", _SILVER,
       doc="every trait's summary_silver"),
    _t("summary_across_coloc", f"{_ACROSS}/coloc.tsv (Layout.across_dir)", "tsv", _COLOC,
       doc="every trait's summary_coloc"),
    _t("summary_across_missed_by_twas", f"{_ACROSS}/missed_by_twas.tsv (Layout.across_dir)", "tsv", _MISSED,
       doc="every trait's summary_missed_by_twas"),
    _t("summary_across_pratt", f"{_ACROSS}/pratt.tsv (Layout.across_dir)", "tsv", _PRATT,
       doc="every trait's summary_pratt"),
    _t("summary_across_medians", f"{_ACROSS}/medians.tsv (Layout.across_dir)", "tsv",
       " ".join(["method"] + [f"median_{c}:float" for c in _MEDIANS]),
       doc="one method: medians across traits"),
]}


def table(name: str) -> TableDef:
    """The definition of table ``name``; KeyError names the known tables."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no table {name!r}; known: {', '.join(TABLES)}") from None


def markdown() -> str:
    """The docs/outputs.md "Table definitions" block (between its ``tables:begin`` / ``tables:end`` markers)."""
    lines = []
    for t in TABLES.values():
        cols = ", ".join(f"`{c}` {ty}" for c, ty in t.columns)
        more = "; extra columns may follow" if t.extras else ""
        path, _, where = t.path.partition(" (")
        lines.append(f"- **`{t.name}`** `results/{path}` (`{where.rstrip(')')}`; {t.fmt}; {t.doc}{more}): {cols}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m twasflow.tables_schema: the docs block
    sys.stdout.write(markdown())
