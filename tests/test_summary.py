"""Summary functions on hand-made tables with answers worked out by hand (or by scipy / a direct computation)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sst

from twasflow.errors import InputError
from twasflow.summary import evidence
from twasflow.summary.enrich import (compare_methods, drug_targets, gene_level_precision, paired_t, silver_classes,
                                     silver_precision, ward_order)
from twasflow.summary.genes import annotate, nearby_genes, read_gene_annotation, read_gene_list
from twasflow.summary.tables import TWAS_P_MAX, causal_sets, causal_variables


def var_rows(rows: list[tuple]) -> pd.DataFrame:
    """(method, locus, cs, type, id, gene_id, gene_name, tissue, pip, causal) -> docs/outputs.md-like variables table."""
    recs = []
    for m, lid, cs, typ, vid, gid, gname, tissue, pip, causal in rows:
        recs.append({"trait": "T", "locus_id": lid, "method": m, "variable_id": vid, "type": typ,
                     "pair_id": vid if typ == "pair" else None, "gene_id": gid, "gene_name": gname, "tissue": tissue,
                     "qtl_type": "eQTL" if typ == "pair" else None, "variant_id": vid if typ == "variant" else None,
                     "pip": pip, "cs": cs, "cs_pip": 0.97, "cs_pratt": 0.3, "estimate": 0.1, "se": 0.01,
                     "pratt": 0.1, "causal": causal})
    t = pd.DataFrame(recs)
    t["cs"] = t["cs"].astype("Int64")
    return t


# ------------------------------------------------------------------------------------------------ tissues
def test_tissue_counts_split_a_multi_pair_set_fractionally() -> None:
    v = var_rows([
        ("m", "L1", 1, "pair", "g1|Liver|eQTL", "G1", "A", "Liver", 0.4, True),
        ("m", "L1", 1, "pair", "g2|Liver|eQTL", "G2", "B", "Liver", 0.3, True),
        ("m", "L1", 1, "pair", "g1|Adipose|eQTL", "G1", "A", "Adipose", 0.3, True),
        ("m", "L1", 1, "variant", "1:5:A:G", None, None, None, 0.01, True),   # variants do not count
        ("m", "L2", 1, "pair", "g3|Adipose|eQTL", "G3", "C", "Adipose", 0.9, True),
        ("m", "L2", 2, "pair", "g4|Blood|eQTL", "G4", "D", "Blood", 0.9, False),  # not causal
    ])
    t = evidence.tissue_counts(causal_variables(v)).set_index("tissue")
    # set L1:cs1 has 3 causal pairs: Liver 2/3, Adipose 1/3; set L2:cs1: Adipose 1
    assert t.loc["Liver", "count"] == pytest.approx(2 / 3, abs=1e-15)
    assert t.loc["Adipose", "count"] == pytest.approx(4 / 3, abs=1e-15)
    assert "Blood" not in t.index
    assert (t["n_sets"] == 2).all()
    assert t["share"].sum() == pytest.approx(1.0, abs=1e-15)
    assert list(t.index) == ["Adipose", "Liver"]  # decreasing count


# ------------------------------------------------------------------------------------------------ Ward
def _naive_ward_heights(x: np.ndarray) -> list[float]:
    """Greedy agglomeration with the Ward.D2 merge height sqrt(2 n_a n_b / (n_a + n_b)) * |c_a - c_b| (direct)."""
    clusters = [[i] for i in range(len(x))]
    heights = []
    while len(clusters) > 1:
        best = None
        for a, b in itertools.combinations(range(len(clusters)), 2):
            ca, cb = x[clusters[a]].mean(axis=0), x[clusters[b]].mean(axis=0)
            na, nb = len(clusters[a]), len(clusters[b])
            h = np.sqrt(2.0 * na * nb / (na + nb)) * np.linalg.norm(ca - cb)
            if best is None or h < best[0]:
                best = (h, a, b)
        h, a, b = best
        heights.append(h)
        clusters = [c for k, c in enumerate(clusters) if k not in (a, b)] + [clusters[a] + clusters[b]]
    return heights


def test_ward_order_groups_similar_traits_and_matches_direct_ward() -> None:
    # traits 0, 2, 4 share a liver profile, 1 and 3 an adipose profile
    x = np.array([[0.8, 0.1, 0.1], [0.1, 0.85, 0.05], [0.75, 0.15, 0.1], [0.05, 0.9, 0.05], [0.7, 0.2, 0.1]])
    order, z = ward_order(x)
    pos = {int(i): k for k, i in enumerate(order)}
    liver = sorted(pos[i] for i in (0, 2, 4))
    adipose = sorted(pos[i] for i in (1, 3))
    assert liver == list(range(liver[0], liver[0] + 3)) and adipose == list(range(adipose[0], adipose[0] + 2))
    np.testing.assert_allclose(np.sort(z[:, 2]), np.sort(_naive_ward_heights(x)), rtol=1e-12)
    rng = np.random.default_rng(3)
    y = rng.random((7, 4))
    _, zy = ward_order(y)
    np.testing.assert_allclose(np.sort(zy[:, 2]), np.sort(_naive_ward_heights(y)), rtol=1e-12)
    assert list(ward_order(x[:1])[0]) == [0]


# ------------------------------------------------------------------------------------------------ paired t
def test_paired_t_matches_scipy_and_drops_incomplete_pairs() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.random(12), rng.random(12)
    t, p, n = paired_t(a, b)
    ref = sst.ttest_rel(a, b)
    assert n == 12
    assert t == pytest.approx(ref.statistic, rel=1e-12) and p == pytest.approx(ref.pvalue, rel=1e-10)
    a2 = np.append(a, np.nan)
    b2 = np.append(b, 0.3)
    assert paired_t(a2, b2)[:2] == pytest.approx((t, p), rel=1e-12)
    assert np.isnan(paired_t([0.1], [0.2])[0])
    assert np.isnan(paired_t([0.1, 0.2], [0.0, 0.1])[0])  # every difference equal: undefined


def test_compare_methods_pairs_traits() -> None:
    per = pd.DataFrame({"trait": ["a", "b", "c", "a", "b", "c"], "method": ["x"] * 3 + ["y"] * 3,
                        "ratio": [0.5, 0.4, 0.3, 0.2, 0.3, 0.1]})
    r = compare_methods(per).iloc[0]
    ref = sst.ttest_rel([0.5, 0.4, 0.3], [0.2, 0.3, 0.1])
    assert (r["method_a"], r["method_b"], r["n_traits"]) == ("x", "y", 3)
    assert r["t"] == pytest.approx(ref.statistic, rel=1e-12) and r["p"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert r["mean_diff"] == pytest.approx(0.2, abs=1e-15)
    assert compare_methods(per[per["method"] == "x"]).empty


# ------------------------------------------------------------------------------------------------ coloc
def test_coloc_proportions_any_and_majority() -> None:
    v = var_rows([
        ("m", "L1", 1, "pair", "p1", "G1", "A", "Liver", 0.3, True),
        ("m", "L1", 1, "pair", "p2", "G1", "A", "Adipose", 0.3, True),
        ("m", "L1", 1, "pair", "p3", "G2", "B", "Liver", 0.3, True),
        ("m", "L2", 1, "pair", "p4", "G3", "C", "Liver", 0.5, True),
        ("m", "L2", 1, "pair", "p5", "G3", "C", "Blood", 0.5, True),
        ("m", "L3", 1, "pair", "p6", "G4", "D", "Liver", 0.9, True),
        ("m", "L4", 1, "variant", "1:9:A:C", None, None, None, 1.0, True),
    ])
    co = pd.DataFrame({"method": "m", "locus_id": ["L1", "L1", "L1", "L2", "L2", "L3"],
                       "pair_id": ["p1", "p2", "p3", "p4", "p5", "p6"],
                       "PP.H4": [0.9, 0.8, 0.1, 0.7, 0.2, np.nan],
                       "colocalized": [True, True, False, True, False, None]})
    sets = causal_sets(causal_variables(v, co))
    r = evidence.coloc_proportions(sets, ["m", "other"]).set_index("method")
    # L1: 2 of 3 -> any, majority; L2: 1 of 2 -> any, not majority (not > 50%); L3 untested -> neither
    assert r.loc["m", ["n_sets", "n_coloc_any", "n_coloc_majority"]].tolist() == [3, 2, 1]
    assert r.loc["m", "prop_coloc_any"] == pytest.approx(2 / 3) and r.loc["m", "prop_coloc_majority"] == pytest.approx(1 / 3)
    assert r.loc["other", "n_sets"] == 0 and np.isnan(r.loc["other", "prop_coloc_any"])
    # without collinear groups every member is its own group; with them, grouped members count once
    assert sets.set_index("set_id")["n_groups"].to_dict() == {"L1:cs1": 3, "L2:cs1": 2, "L3:cs1": 1, "L4:cs1": 1}
    v["collinear_group"] = ["p1", "p1", None, "p4", "p4", None, None]
    g = causal_sets(causal_variables(v, co)).set_index("set_id")["n_groups"]
    assert g.to_dict() == {"L1:cs1": 2, "L2:cs1": 1, "L3:cs1": 1, "L4:cs1": 1}


# ------------------------------------------------------------------------------------------------ TWAS
def test_missed_by_twas_uses_p_below_0_05_over_20000() -> None:
    assert TWAS_P_MAX == pytest.approx(2.5e-6, rel=1e-15)
    v = var_rows([("m", "L1", 1, "pair", f"p{i}", f"G{i}", "", "Liver", 0.9, True) for i in range(5)])
    pre = pd.DataFrame({"locus_id": "L1", "pair_id": ["p0", "p1", "p2", "p3"],
                        "twas_z": 0.0, "twas_p": [2.4e-6, 2.5e-6, 1e-3, 1e-30]})
    cv = causal_variables(v, None, pre)
    sig = cv.set_index("pair_id")["twas_significant"]
    assert sig[["p0", "p1", "p2", "p3"]].tolist() == [True, False, False, True] and pd.isna(sig["p4"])
    r = evidence.missed_by_twas(cv, {"m": 2}, twas_p_max=TWAS_P_MAX).iloc[0]
    assert (r["n_causal_pairs"], r["n_twas_significant"], r["n_missed"], r["n_no_twas"]) == (5, 2, 2, 1)
    assert r["prop_missed"] == pytest.approx(0.5) and r["pairs_per_locus"] == pytest.approx(2.5)
    assert r["missed_per_locus"] == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------------ Pratt
def test_pratt_split_per_locus_and_overall_share() -> None:
    loci = pd.DataFrame({"trait": "T", "method": ["m", "m", "m", "c"], "locus_id": ["L1", "L2", "L3", "L1"],
                         "status": ["ok", "ok", "failed", "ok"],
                         "pratt_pairs": [0.4, 0.2, 0.9, np.nan], "pratt_variants": [0.1, 0.3, 0.0, np.nan],
                         "pratt_inf": [0.2, 0.0, 0.0, np.nan]})
    # method c leaves the locus fields empty: pair/variant parts come from its variables' pratt
    v = var_rows([("c", "L1", 1, "pair", "p1", "G1", "A", "Liver", 0.9, True),
                  ("c", "L1", 1, "pair", "p2", "G1", "A", "Blood", 0.9, True),
                  ("c", "L1", None, "variant", "1:3:A:G", None, None, None, 0.1, False)])
    v["pratt"] = [0.25, 0.05, 0.02]
    pl = evidence.pratt_per_locus(loci, v)
    assert set(pl["locus_id"][pl["method"] == "m"]) == {"L1", "L2"}  # failed locus left out
    s = evidence.pratt_split(pl).set_index(["method", "component"])
    assert s.loc[("m", "pairs"), "median"] == pytest.approx(0.3)
    assert s.loc[("m", "variants"), "mean"] == pytest.approx(0.2)
    assert s.loc[("m", "pairs"), "share"] == pytest.approx(0.6 / 1.2)
    assert s.loc[("m", "infinitesimal"), "share"] == pytest.approx(0.2 / 1.2)
    assert s.loc[("c", "pairs"), "median"] == pytest.approx(0.30)
    assert s.loc[("c", "variants"), "median"] == pytest.approx(0.02)
    assert s.loc[("c", "infinitesimal"), "n_loci"] == 0


# ------------------------------------------------------------------------------------------------ silver
@pytest.fixture()
def annotation(tmp_path):
    p = tmp_path / "genes.tsv"
    pd.DataFrame({
        "ensembl_gene_id": ["ENSG01", "ENSG02", "ENSG03;ENSG33", "ENSG04", "ENSG05", "ENSG06", "ENSG07"],
        "symbol": ["SIL1", "NEAR1", "FAR1", "SIL2", "NEAR2", "EDGE", "SIL3"],
        "chrom": ["1", "1", "1", "2", "2", "1", "chr3"],
        "start": [10_000_000, 10_600_000, 13_000_000, 5_000_000, 5_900_000, 11_050_000, -800_000],
        "end": [10_050_000, 10_650_000, 13_100_000, 5_010_000, 5_950_000, 11_060_000, -700_000],
    }).to_csv(p, sep="\t", index=False)
    return read_gene_annotation(p)


def test_read_gene_annotation_explodes_ids_and_orders_coordinates(annotation) -> None:
    a = annotation.set_index("gene_id")
    assert a.loc["ENSG33", "gene_name"] == "FAR1" and a.loc["ENSG03", "start"] == 13_000_000
    assert (a.loc["ENSG07", ["chrom", "start", "end"]].tolist()) == ["3", 700_000, 800_000]


def test_nearby_genes_within_1mb_of_a_tested_silver_gene(annotation) -> None:
    silver = frozenset({"SIL1", "SIL2"})
    near = nearby_genes(annotation, silver)
    # NEAR1 starts 0.55 Mb after SIL1 ends; EDGE starts exactly 1 Mb after it (inclusive); FAR1 is 2.95 Mb away
    assert {"NEAR1", "ENSG02", "EDGE", "NEAR2"} <= near and not near & {"FAR1", "SIL1", "SIL2", "ENSG01"}
    # silver genes without a model do not define nearby genes (cTWAS used imputed silver genes only)
    assert not nearby_genes(annotation, silver, tested=frozenset({"ENSG04"})) & {"NEAR1", "EDGE"}
    assert "NEAR2" in nearby_genes(annotation, silver, tested=frozenset({"ENSG04"}))
    assert "EDGE" not in nearby_genes(annotation, silver, radius_bp=999_999)


def test_silver_precision_counts_each_credible_set_once(annotation) -> None:
    v = var_rows([
        # set 1: a silver and a nearby gene in three tissues -> one silver set
        ("m", "L1", 1, "pair", "s1|Liver", "ENSG01", "", "Liver", 0.3, True),
        ("m", "L1", 1, "pair", "s1|Blood", "ENSG01", "", "Blood", 0.3, True),
        ("m", "L1", 1, "pair", "n1|Liver", "ENSG02", "", "Liver", 0.3, True),
        # set 2: only nearby genes (two of them) -> one nearby set
        ("m", "L1", 2, "pair", "n1|Blood", "ENSG02", "", "Blood", 0.5, True),
        ("m", "L1", 2, "pair", "e|Blood", "ENSG06", "", "Blood", 0.5, True),
        # set 3: a far gene -> other, not counted
        ("m", "L2", 1, "pair", "f|Liver", "ENSG33", "", "Liver", 0.9, True),
        # set 4: silver by symbol (the result names the gene, no id)
        ("m", "L3", 1, "pair", "s2|Liver", None, "sil2", "Liver", 0.9, True),
        # not causal: ignored
        ("m", "L3", 2, "pair", "n2|Liver", "ENSG05", "", "Liver", 0.2, False),
        # a variant-only set: not a gene set
        ("m", "L4", 1, "variant", "1:2:A:G", None, None, None, 1.0, True),
    ])
    silver = frozenset({"SIL1", "SIL2"})
    cv = annotate(causal_variables(v), annotation)
    cls = silver_classes(cv, silver, nearby_genes(annotation, silver))
    assert cls.set_index("set_id")["cls"].to_dict() == {"L1:cs1": "silver", "L1:cs2": "nearby", "L2:cs1": "other",
                                                         "L3:cs1": "silver"}
    r = silver_precision(cls, ["m", "none"]).set_index("method")
    assert r.loc["m", ["n_sets", "n_silver", "n_nearby", "n_other"]].tolist() == [4, 2, 1, 1]
    assert r.loc["m", "precision"] == pytest.approx(2 / 3, abs=1e-15)
    assert np.isnan(r.loc["none", "precision"])
    g = gene_level_precision(cv, silver, nearby_genes(annotation, silver)).iloc[0]
    # distinct genes among silver ∪ nearby: SIL1, SIL2 (silver), NEAR1, EDGE (nearby)
    assert (g["n_genes"], g["n_silver_genes"], g["precision"]) == (4, 2, 0.5)


def test_drug_targets_count_genes_once(annotation) -> None:
    v = var_rows([
        ("m", "L1", 1, "pair", "a|Liver", "ENSG01", "", "Liver", 0.5, True),
        ("m", "L1", 1, "pair", "a|Blood", "ENSG01", "", "Blood", 0.5, True),
        ("m", "L2", 1, "pair", "b|Liver", "ENSG02", "", "Liver", 0.9, True),
        ("m", "L3", 1, "pair", "c|Liver", "ENSG05", "", "Liver", 0.9, True),
        ("m", "L3", 2, "variant", "1:2:A:G", None, None, None, 1.0, True),
    ])
    cv = annotate(causal_variables(v), annotation)
    r = drug_targets(cv, frozenset({"SIL1", "ENSG05", "UNRELATED"})).iloc[0]
    assert (r["n_genes"], r["n_drug_genes"], r["n_sets"], r["n_sets_drug"]) == (3, 2, 3, 2)
    assert r["ratio"] == pytest.approx(2 / 3)


# ------------------------------------------------------------------------------------------------ lists
def test_read_gene_list_trait_column_and_errors(tmp_path) -> None:
    p = tmp_path / "silver.tsv"
    p.write_text("gene_symbol\tgene_id\ttrait\nAPOB\t\tldl\n\tENSG00000130164.3\tLDL\nPCSK9\t\t*\nFTO\t\tbmi\n")
    assert read_gene_list(p, "LDL") == frozenset({"APOB", "ENSG00000130164", "PCSK9"})
    assert read_gene_list(p, "bmi") == frozenset({"FTO", "PCSK9"})
    assert "FTO" in read_gene_list(p)
    bad = tmp_path / "bad.tsv"
    bad.write_text("name\tscore\nAPOB\t1\n")
    with pytest.raises(InputError) as e:
        read_gene_list(bad, "LDL")
    assert "bad.tsv" in str(e.value) and "gene_symbol" in str(e.value)
    blank = tmp_path / "blank.tsv"
    blank.write_text("gene_symbol\ttrait\nAPOB\tldl\n\tldl\n")
    with pytest.raises(InputError) as e:
        read_gene_list(blank, "LDL")
    assert e.value.row == 2 and e.value.column == "gene_symbol"
    with pytest.raises(InputError):
        read_gene_list(tmp_path / "missing.tsv")


# ------------------------------------------------------------------------------------------------ tables
def test_causal_variables_join_coloc_prescreen_and_names() -> None:
    v = var_rows([("m", "L1", 1, "pair", "p1", "G1", "", "Liver", 0.6, True),
                  ("m", "L1", 1, "variant", "1:5:A:G", None, None, None, 0.3, True),
                  ("m", "L1", None, "pair", "p9", "G9", "NINE", "Liver", 0.95, True),
                  ("m", "L1", 2, "pair", "p2", "G2", "", "Liver", 0.2, False)])
    co = pd.DataFrame({"method": ["m", "other"], "locus_id": "L1", "pair_id": ["p1", "p1"], "PP.H4": [0.8, 0.1],
                       "colocalized": [True, False]})
    pre = pd.DataFrame({"locus_id": "L1", "pair_id": ["p1", "p2"], "twas_z": [5.0, 1.0], "twas_p": [5.7e-7, 0.3]})
    cv = causal_variables(v, co, pre, gene_names={"G1": "ONE"})
    assert cv["variable_id"].tolist() == ["p1", "1:5:A:G", "p9"]
    p1 = cv.iloc[0]
    assert (p1["gene_name"], p1["coloc_pp_h4"], bool(p1["colocalized"]), p1["twas_z"]) == ("ONE", 0.8, True, 5.0)
    assert cv.iloc[2]["set_id"] == "L1:p9"  # causal outside a credible set: its own set
    s = causal_sets(cv).set_index("set_id")
    assert s.loc["L1:cs1", ["n_pairs", "n_variants", "genes", "top_variable"]].tolist() == [1, 1, "ONE", "p1"]
    assert bool(s.loc["L1:cs1", "coloc_any"]) and bool(s.loc["L1:cs1", "coloc_majority"])
    assert causal_variables(v.iloc[:0]).empty


# ------------------------------------------------------------------------------------------------ figures
def test_figures_are_valid_png_and_reproducible_svg(tmp_path) -> None:
    from twasflow.summary import figures

    counts = pd.DataFrame({"method": "m", "tissue": ["Liver", "Blood"], "count": [1.5, 0.5], "share": [0.75, 0.25],
                           "n_sets": 2})
    a = figures.tissue_bars(counts, ["m"], tmp_path / "a", title="t")
    b = figures.tissue_bars(counts, ["m"], tmp_path / "b", title="t")
    assert a[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert a[1].read_bytes() == b[1].read_bytes()
    assert ET.parse(a[1]).getroot().tag.endswith("svg")
    m = pd.DataFrame([[0.7, 0.3, 0.0], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1]], index=["T1", "T2", "T3"],
                     columns=["Liver", "Adipose", "Blood"])
    h = figures.tissue_heatmap(m, tmp_path / "h", title="h")
    img = __import__("matplotlib.image", fromlist=["imread"]).imread(h[0])
    assert img.shape[0] > 100 and float(img[..., :3].std()) > 0.05
    e = figures.tissue_heatmap(m.iloc[:0], tmp_path / "e")  # nothing to draw: still a figure saying so
    assert e[0].stat().st_size > 1000
