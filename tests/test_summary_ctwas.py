"""Silver-standard precision of a cTWAS run on real data: cTWAS's own no-LD fine-mapping of LDL on chromosome 16
(tests/data/ctwas_LDL_chr16), the cTWAS paper's 69 LDL silver-standard genes and the org.Hs.eg.db GRCh38 gene
positions. The counting rule itself is checked on a hand-made case in test_summary.py."""

from __future__ import annotations

import pandas as pd

from conftest import DATA
from twasflow.summary.enrich import gene_level_precision, silver_classes, silver_precision
from twasflow.summary.external import ctwas_finemap_variables
from twasflow.summary.genes import annotate, nearby_genes, read_gene_annotation, read_gene_list
from twasflow.summary.tables import causal_variables



def test_silver_precision_of_the_ctwas_ldl_chr16_run() -> None:
    run = DATA / "ctwas_LDL_chr16" / "derived"
    v = ctwas_finemap_variables(run / "LDL_chr16.noLD.finemap_res.tsv.gz", "LDL", pip_min=0.8)
    ann = read_gene_annotation(DATA / "gene_annotation" / "genes_hg38_orgHsEgDb_3.16.tsv.gz")
    silver = read_gene_list(DATA / "gene_lists" / "ctwas_paper" / "LDL_silver_standard_69.tsv", "LDL")
    assert len(silver) == 69
    # cTWAS's bystanders are genes within 1 Mb of a silver gene that has an expression model (was imputed)
    imputed = frozenset(pd.read_csv(run / "LDL_chr16.z_gene.tsv", sep="\t")["molecular_id"].str.split(".").str[0])
    near = nearby_genes(ann, silver, radius_bp=1_000_000, tested=imputed)
    cv = annotate(causal_variables(v), ann)

    # cTWAS calls two genes at PIP > 0.8, each alone in its region's credible set
    pairs = cv[cv["type"] == "pair"].set_index("symbol")
    assert sorted(pairs.index) == ["CETP", "HPR"]
    assert pairs.loc["CETP", "tissue"] == "adipose" and pairs.loc["HPR", "tissue"] == "liver"

    cls = silver_classes(cv, silver, near).set_index("silver_genes", drop=False)
    # CETP is a silver gene; HPR (chr16:72.06 Mb) is 4.1 Mb from the nearest chr16 silver gene (LCAT, 67.94 Mb)
    assert cls["cls"].tolist().count("silver") == 1 and cls.loc["CETP", "cls"] == "silver"
    assert (cls["cls"] == "other").sum() == 1
    r = silver_precision(cls.reset_index(drop=True)).iloc[0]
    assert (r["n_sets"], r["n_silver"], r["n_nearby"], r["precision"]) == (2, 1, 0, 1.0)
    g = gene_level_precision(cv, silver, near).iloc[0]
    assert (g["n_genes"], g["n_silver_genes"], g["precision"]) == (1, 1, 1.0)

    # the denominator is not trivially empty: the screened regions hold silver and nearby candidates
    cand = annotate(v[v["type"] == "pair"].drop_duplicates("gene_id"), ann)
    n_silver = sum(bool(k & silver) for k in cand["keys"])
    n_near = sum(bool(k & near) for k in cand["keys"])
    assert n_silver >= 1 and n_near >= 10
