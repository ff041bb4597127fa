"""Gene tests on the bundled example, run by the workflow (the session's example run): the contract tables, the
planted coding and enhancer genes, the join with the summary's gene ids, and byte-identical reruns."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from twasflow.genetests.stage import GENES_COLUMNS, TESTS_COLUMNS

SIG = 2.5e-6


def test_gene_tables_contract_and_planted_genes(example_run: Path) -> None:
    truth = pd.read_csv(example_run / "resources" / "example" / "annotations" / "truth.tsv", sep="\t")
    assert set(truth["class"]) == {"Coding", "Enhancer"}
    for r in truth.itertuples():
        out = example_run / "results" / "gene_tests"
        genes = pd.read_parquet(out / f"{r.trait}.genes.parquet")
        tests = pd.read_parquet(out / f"{r.trait}.tests.parquet")
        assert list(genes.columns) == GENES_COLUMNS and list(tests.columns) == TESTS_COLUMNS
        assert genes["gene_id"].is_unique
        g = genes.set_index("gene_id").loc[r.gene_id]
        # the omnibus finds the planted gene at genome-wide significance, the TWAS-type tests do not
        assert g["omnibus_p"] <= SIG, (r.gene_name, g["omnibus_p"])
        assert g["ct_twas_p"] > 1e-3 and g["smultixcan_p"] > 1e-3
        t = tests[(tests["gene_id"] == r.gene_id) & (tests["class"] == r[4])]
        assert t["p"].min() <= SIG
        if r[4] == "Enhancer":
            assert r.element_id in set(t["subclass"])


def test_gene_table_joins_summary_gene_ids(example_run: Path) -> None:
    genes = pd.read_parquet(example_run / "results" / "gene_tests" / "LDL_sim.genes.parquet")
    causal = pd.read_csv(example_run / "results" / "summary" / "LDL_sim" / "causal_variables.tsv", sep="\t")
    gid = causal["gene_id"].dropna().astype(str).str.replace(r"\.\d+$", "", regex=True)
    assert set(gid) & set(genes["gene_id"])


def test_gene_tests_rerun_byte_identical(example_run: Path, tmp_path: Path) -> None:
    from conftest import run_snakemake

    out = example_run / "results" / "gene_tests"
    files = sorted(out.rglob("*.parquet"))
    before = {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    r = run_snakemake("--cores", "2", "--forcerun", "gene_tests", "gene_tests_trait", cwd=example_run)
    assert r.returncode == 0, r.stderr[-3000:]
    assert {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in files} == before


def test_cli_gene_tests_writes_the_rule_bytes(example_run: Path, tmp_path: Path) -> None:
    """`twasflow gene-tests --chunk C --out P` (StageArgs.gene_tests, like the rule) writes the chunk job's bytes."""
    import subprocess
    import sys

    import pandas as pd

    chunk = sorted(pd.read_csv(example_run / "results" / "loci" / "LDL_sim.tsv", sep="\t")["chunk"])[0]
    r = subprocess.run([sys.executable, "-m", "twasflow", "gene-tests", "--trait", "LDL_sim", "--chunk", chunk,
                        "--out", str(tmp_path / "one")], cwd=example_run, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for table in ("tests", "genes"):
        ref = example_run / "results" / "gene_tests" / "LDL_sim" / f"{chunk}.{table}.parquet"
        assert (tmp_path / f"one.{table}.parquet").read_bytes() == ref.read_bytes()
