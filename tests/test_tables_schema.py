"""One definition of each on-disk table (twasflow.tables_schema): docs/outputs.md carries the same definitions,
the writers' constants are those definitions, and every table the bundled example writes follows them."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO
from twasflow import tables_schema
from twasflow.tables_schema import TABLES, arrow_logical_type, table

#: where each table lives under results/ (globs; the xQTL chromosome files exclude the models table and tracks)
RESULT_GLOBS = {
    "gwas": ["harmonized/gwas/*.parquet"],
    "xqtl": ["harmonized/xqtl/*/*.parquet"],
    "models": ["harmonized/xqtl/*/models.parquet"],
    "xqtl_track": ["harmonized/xqtl/*/*.track.parquet"],
    "xqtl_rows": ["harmonized/xqtl/*/*.rows.arrow"],
    "xqtl_pairs": ["harmonized/xqtl/*/*.pairs.parquet"],
    "susie_lbf": ["harmonized/xqtl/*/lbf.parquet"],
    "susie_report": ["harmonized/xqtl/*/susie_report.tsv"],
    "panel_variants": ["panel/variants.parquet"],
    "loci": ["loci/*.tsv"],
    "bundle_pairs": ["locus_inputs/*/*/*.pairs.parquet"],
    "prescreen": ["prescreen/*/*.parquet"],
    "finemap_variables": ["finemap/*/*/*.variables.parquet"],
    "finemap_sets": ["finemap/*/*/*.sets.parquet"],
    "finemap_loci": ["finemap/*/*/*.loci.parquet"],
    "coloc": ["coloc/*/*.parquet"],
    "failed_loci": ["failed_loci.tsv"],
    "spredixcan": ["spredixcan/*.tsv"],
    "gene_tests": ["gene_tests/*/*.tests.parquet", "gene_tests/*.tests.parquet"],
    "gene_tests_genes": ["gene_tests/*/*.genes.parquet", "gene_tests/*.genes.parquet"],
    # summaries: summary/{trait}/{file}.tsv (summary_{file}) and summary/across_traits/{file}.tsv (summary_across_{file})
    **{n: [f"summary/*/{n.removeprefix('summary_')}.tsv"] for n in TABLES
       if n.startswith("summary_") and not n.startswith("summary_across_")},
    **{n: [f"summary/across_traits/{n.removeprefix('summary_across_')}.tsv"] for n in TABLES
       if n.startswith("summary_across_")},
}
#: across-trait tables that gather the per-trait table of the same file
GATHERED = {f"summary_across_{f}": f"summary_{f}" for f in ("drug_targets", "silver", "coloc", "missed_by_twas", "pratt")}


def table_files(results: Path, name: str) -> list[Path]:
    files = sorted({p for g in RESULT_GLOBS[name] for p in results.glob(g)})
    if name == "xqtl":  # not the models table nor the per-chromosome sidecars (tables of their own)
        files = [p for p in files if p.name not in ("models.parquet", "lbf.parquet")
                 and not p.name.endswith((".track.parquet", ".pairs.parquet"))]
    if name.startswith("summary_") and not name.startswith("summary_across_"):
        files = [p for p in files if p.parent.name != "across_traits"]
    return files


def file_problems(name: str, path: Path) -> list[str]:
    """How one written file breaks its table's definition (empty list: it follows it)."""
    t = table(name)
    if t.fmt in ("parquet", "arrow"):
        schema = pq.read_schema(path) if t.fmt == "parquet" else pa.ipc.open_file(pa.OSFile(str(path))).schema
        types = {f.name: arrow_logical_type(f.type) for f in schema}
        return [f"{path}: {p}" for p in t.problems(schema.names, types)]
    head = pd.read_csv(path, sep="\t", nrows=0).columns
    probs = [f"{path}: {p}" for p in t.problems(head)]
    if not probs:
        try:  # every value parses as its column's type (an int column with NA or text fails)
            pd.read_csv(path, sep="\t", dtype=t.pandas_dtypes(), keep_default_na=True)
        except (ValueError, TypeError) as exc:
            probs.append(f"{path}: values do not parse as {t.pandas_dtypes()}: {exc}")
    return probs


def test_docs_outputs_carries_the_definitions() -> None:
    text = (REPO / "docs" / "outputs.md").read_text()
    m = re.search(r"<!-- tables:begin -->\n(.*)<!-- tables:end -->", text, re.S)
    assert m, "docs/outputs.md lacks its tables:begin/end block"
    assert m.group(1) == tables_schema.markdown(), (
        "docs/outputs.md's table definitions differ from twasflow.tables_schema: paste the output of "
        "`python -m twasflow.tables_schema` between the markers")
    for name in TABLES:  # and the prose names every table
        assert f"`{name}`" in text.split("<!-- tables:begin -->")[0], name


def test_writers_take_their_columns_from_the_definitions() -> None:
    from twasflow import chunks, finemapped_xqtl, loci, locus, models, twas
    from twasflow.coloc import COLOC_COLUMNS
    from twasflow.genetests import stage as gstage
    from twasflow.harmonize import codes
    from twasflow.io import panel
    from twasflow.io import xqtl_store as xstore
    from twasflow.methods import result
    from twasflow.summary import enrich, evidence
    from twasflow.summary import tables as stables
    from twasflow.summary.pipeline import ACROSS_TABLES, TRAIT_TABLES

    pairs = [(codes.GWAS_COLUMNS, "gwas"), (codes.XQTL_COLUMNS, "xqtl"), (models.MODEL_COLUMNS, "models"),
             (panel.VARIANT_COLUMNS, "panel_variants"), (loci.LOCI_COLUMNS, "loci"),
             (locus.PAIR_COLUMNS, "bundle_pairs"), (twas.PRESCREEN_COLUMNS, "prescreen"),
             (result.VARIABLE_COLUMNS, "finemap_variables"), (result.SET_COLUMNS, "finemap_sets"),
             (result.LOCI_COLUMNS, "finemap_loci"), (COLOC_COLUMNS, "coloc"), (chunks.FAILED_COLUMNS, "failed_loci"),
             (gstage.TESTS_COLUMNS, "gene_tests"), (gstage.GENES_COLUMNS, "gene_tests_genes"),
             (twas.SPREDIXCAN_COLUMNS, "spredixcan"), (xstore.TRACK_SCHEMA.names, "xqtl_track"),
             (xstore.rows_schema(False).names, "xqtl_rows"), (xstore.PAIRS_SCHEMA.names, "xqtl_pairs"),
             (finemapped_xqtl.LBF_COLUMNS, "susie_lbf"), (finemapped_xqtl.REPORT_COLUMNS, "susie_report"),
             (result.TRUTH_COLUMNS, "summary_truth"), (stables.VARIABLE_OUT, "summary_causal_variables"),
             (stables.SET_OUT, "summary_causal_sets"), (evidence.PRATT_LOCI_COLUMNS, "summary_pratt_loci"),
             (enrich.TTEST_COLUMNS, "summary_across_drug_ttest")]
    # the summary functions return their tables without trait; the writer puts it first
    trait_first = [(evidence.TISSUE_COLUMNS, "summary_tissues"), (evidence.MISSED_COLUMNS, "summary_missed_by_twas"),
                   (evidence.PRATT_COLUMNS, "summary_pratt"), (evidence.AGREEMENT_COLUMNS, "summary_agreement"),
                   (enrich.SILVER_COLUMNS, "summary_silver"), (enrich.SILVER_SETS_COLUMNS, "summary_silver_sets"),
                   (enrich.DRUG_COLUMNS, "summary_drug_targets")]
    built = {"summary_genes", "summary_overview", "summary_coloc", "summary_across_overview",
             "summary_across_tissue_matrix", "summary_across_medians"}  # column names from the rows' keys / merges
    assert {n for _, n in pairs + trait_first} | built | set(GATHERED) == set(TABLES)
    for cols, name in pairs:
        assert list(cols) == table(name).names, name
    for cols, name in trait_first:
        assert ["trait", *cols] == table(name).names, name
    for across, per_trait in GATHERED.items():
        assert table(across).columns == table(per_trait).columns, across
    # every summary file the pipeline writes has its definition
    assert {f"summary_{t}" for t in TRAIT_TABLES} | {f"summary_across_{t}" for t in ACROSS_TABLES} == {
        n for n in TABLES if n.startswith("summary_")}


@pytest.mark.parametrize("name", list(TABLES))
def test_empty_table_round_trips_with_its_types(name: str, tmp_path: Path) -> None:
    """An empty table written by the project's writers reads back with the defined columns and types."""
    from twasflow.io.tables import write_parquet, write_tsv

    t = table(name)
    empty = t.empty()
    assert list(empty.columns) == t.names
    assert {c: str(d) for c, d in empty.dtypes.items()} == t.pandas_dtypes()
    path = tmp_path / f"{name}.{t.fmt}"
    if t.fmt == "arrow":
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, pa.Table.from_pandas(empty).schema) as w:
            w.write_table(pa.Table.from_pandas(empty))
    else:
        (write_parquet if t.fmt == "parquet" else write_tsv)(empty, path)
    assert file_problems(name, path) == []


def test_problems_names_what_is_wrong() -> None:
    t = table("prescreen")
    assert t.problems(t.names) == []
    assert "columns" in t.problems(t.names[::-1])[0]
    assert "unexpected extra" in t.problems([*t.names, "x"])[0]
    assert table("finemap_variables").problems([*table("finemap_variables").names, "x"]) == []
    assert "kept is float" in t.problems(t.names, {"kept": "float"})[0]
    with pytest.raises(KeyError, match="known"):
        table("nope")


def test_example_outputs_follow_their_definitions(example_run: Path) -> None:
    results = example_run / "results"
    seen, problems = {}, []
    for name in TABLES:
        files = table_files(results, name)
        seen[name] = len(files)
        for f in files:
            problems += file_problems(name, f)
    assert problems == []
    # every table the default config produces was found (the example has no prediction models and no
    # published SuSiE fine-mapping, so neither models, the S-PrediXcan-only table nor the SuSiE tables)
    missing = [n for n, k in seen.items() if k == 0 and n not in ("models", "spredixcan", "susie_lbf", "susie_report")]
    assert missing == [], seen
