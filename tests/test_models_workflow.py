"""Prediction models (PredictDB / long weight tables) as an xQTL source of the workflow (issue 5).

(a) harmonization of a tiny PredictDB made here, with exact counts per reason; (b) the real GTEx v8 Liver mashr
model against the chr16 variants of the cTWAS LDL set; (c) a ``weights-long`` dataset built from the bundled
example's planted eQTL effects, run through Snakemake up to the prescreen (reusing the session's example run).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import DATA, copy_workflow, run_snakemake
from twasflow.errors import HarmonizeError
from twasflow.models import MODEL_COLUMNS, MODEL_REASONS, harmonize_models, read_model_covariance
from twasflow.twas import spredixcan_z

D = DATA / "ctwas_LDL_chr16"


# ------------------------------------------------------------------------------------------------ (a) unit
def _panel() -> pd.DataFrame:
    rows = [  # chrom, pos, other, counted, freq
        ("1", 100, "A", "G", 0.2), ("1", 200, "C", "T", 0.3), ("1", 300, "A", "G", 0.4),
        ("1", 400, "G", "T", 0.1), ("1", 500, "A", "C", 0.25), ("1", 600, "C", "G", 0.5),
    ]
    df = pd.DataFrame(rows, columns=["chrom", "pos", "other_allele", "counted_allele", "counted_freq"])
    df.insert(0, "variant_id", [f"{c}:{p}:{o}:{a}" for c, p, o, a, _ in rows])
    df["rsid"] = [f"rs{p}" for p in df["pos"]]
    return df


def _write_db(path: Path, rows: list[tuple], suffix: str = "b38") -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE weights (gene TEXT, rsid TEXT, varID TEXT, ref_allele TEXT, eff_allele TEXT, "
                "weight DOUBLE)")
    con.execute('CREATE TABLE extra (gene TEXT, genename TEXT, "n.snps.in.model" INTEGER)')
    for gene, pos, ref, eff, w in rows:
        con.execute("INSERT INTO weights VALUES (?, ?, ?, ?, ?, ?)",
                    (gene, f"rs{pos}", f"chr1_{pos}_{ref}_{eff}_{suffix}", ref, eff, w))
    genes = sorted({r[0] for r in rows})
    for g in genes:
        con.execute("INSERT INTO extra VALUES (?, ?, ?)", (g, g[-1], sum(r[0] == g for r in rows)))
    con.commit()
    con.close()


G1, G2, G3 = "ENSG00000000001.5", "ENSG00000000002.1", "ENSG00000000003.2"
TINY = [
    (G1, 100, "A", "G", 0.5),     # same alleles: kept as is
    (G1, 200, "T", "C", 0.8),     # swapped: sign flips
    (G1, 300, "A", "C", 0.3),     # A/C against the panel's A/G: allele_mismatch
    (G1, 999, "A", "G", 0.1),     # no panel variant there: not_in_panel
    (G1, 600, "C", "G", None),    # missing weight: bad_weight
    (G2, 400, "G", "T", 0.0),     # weight exactly 0: zero_weight
    (G2, 500, "T", "G", -0.4),    # complement of the panel's A/C: strand flip, sign kept
    (G2, 500, "A", "C", -0.4),    # the same panel variant twice in one model: duplicate
    (G3, 777, "A", "G", 0.2),     # not_in_panel: a model with no usable variant
]


@pytest.fixture()
def tiny(tmp_path: Path) -> dict:
    db = tmp_path / "m.db"
    _write_db(db, TINY)
    cov = tmp_path / "cov.txt"
    cov.write_text("GENE RSID1 RSID2 VALUE\n"
                   f"{G1} chr1_100_A_G_b38 chr1_100_A_G_b38 0.32\n"
                   f"{G1} chr1_100_A_G_b38 chr1_200_T_C_b38 0.05\n"
                   f"{G1} chr1_200_T_C_b38 chr1_200_T_C_b38 0.42\n"
                   f"{G2} chr1_500_T_G_b38 chr1_500_T_G_b38 0.375\n")
    out = tmp_path / "out"
    qc = harmonize_models(db, fmt="predictdb", panel_variants=_panel(), out_dir=out, qc_out=tmp_path / "qc.json",
                          dataset="tiny", tissue="Liver_model", qtl_type="eQTL", covariance=cov,
                          declared_build="GRCh38", panel_build="GRCh38")
    return {"qc": qc, "out": out, "db": db, "tmp": tmp_path}


def test_tiny_predictdb_counts_every_row(tiny):
    qc = tiny["qc"]
    assert qc["n_input"] == 9 and qc["n_kept"] == 3
    assert qc["dropped"] == {"allele_mismatch": 1, "bad_weight": 1, "duplicate": 1, "not_in_panel": 2,
                             "zero_weight": 1}
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values())
    assert qc["swapped_alleles"] == 1 and qc["flipped_strand"] == 1
    assert qc["n_models"] == 3 and qc["n_pairs"] == 2 and qc["n_pairs_covariance"] == 2
    assert json.loads((tiny["tmp"] / "qc.json").read_text())["dropped"] == qc["dropped"]


def test_tiny_predictdb_weights_oriented_and_standardized(tiny):
    m = pd.read_parquet(tiny["out"] / "models.parquet")
    assert list(m.columns) == MODEL_COLUMNS
    assert m["variant_id"].tolist() == ["1:100:A:G", "1:200:C:T", "1:500:A:C"]  # sorted by chrom, pos
    assert m["pair_id"].tolist() == [f"{G1}|Liver_model|eQTL"] * 2 + [f"{G2}|Liver_model|eQTL"]
    assert m["gene_id"].tolist() == ["ENSG00000000001"] * 2 + ["ENSG00000000002"]
    sd = np.sqrt(2 * np.array([0.2, 0.3, 0.25]) * (1 - np.array([0.2, 0.3, 0.25])))
    # per-allele weights of the counted allele: +0.5 (same), -0.8 (swap), -0.4 (strand flip keeps the sign)
    np.testing.assert_allclose(m["weight_allele"], [0.5, -0.8, -0.4], rtol=0, atol=0)
    np.testing.assert_allclose(m["weight"], np.array([0.5, -0.8, -0.4]) * sd, rtol=1e-15, atol=0)
    assert m["flipped"].tolist() == [False, True, False]
    assert m["n_model"].tolist() == [5, 5, 3]


def test_tiny_predictdb_report_and_covariance(tiny):
    rep = pd.read_csv(tiny["out"] / "models_report.tsv", sep="\t", keep_default_na=False).set_index("phenotype_id")
    assert (rep["n_model"] == rep["n_used"] + rep[MODEL_REASONS].sum(axis=1)).all()
    assert rep.loc[G1, ["n_model", "n_used", "n_flipped", "not_in_panel", "allele_mismatch", "bad_weight"]
                   ].tolist() == [5, 2, 1, 1, 1, 1]
    assert rep.loc[G2, ["n_model", "n_used", "zero_weight", "duplicate"]].tolist() == [3, 1, 1, 1]
    assert rep.loc[G3, "n_used"] == 0 and rep.loc[G3, "reasons"] == "not_in_panel=1"
    cov = read_model_covariance(tiny["out"] / "covariance.npz")
    ids, C = cov[f"{G1}|Liver_model|eQTL"]
    assert ids.tolist() == ["1:100:A:G", "1:200:C:T"]
    # the swapped variant's row and column change sign; the diagonal does not
    np.testing.assert_array_equal(C, [[0.32, -0.05], [-0.05, 0.42]])
    np.testing.assert_array_equal(cov[f"{G2}|Liver_model|eQTL"][1], [[0.375]])


def test_build_mismatch_and_no_overlap_are_errors(tmp_path):
    db = tmp_path / "b37.db"
    _write_db(db, TINY[:2], suffix="b37")
    with pytest.raises(HarmonizeError,
                       match=r"b37\.db: column 'varID': model variant ids are in another genome build"):
        harmonize_models(db, fmt="predictdb", panel_variants=_panel(), out_dir=tmp_path / "o", qc_out=tmp_path / "q",
                         dataset="x", tissue="T", qtl_type="eQTL", panel_build="GRCh38")
    db2 = tmp_path / "none.db"
    _write_db(db2, [(G3, 777, "A", "G", 0.2)])
    with pytest.raises(HarmonizeError, match=r"no model variant matches the panel.*not_in_panel"):
        harmonize_models(db2, fmt="predictdb", panel_variants=_panel(), out_dir=tmp_path / "o", qc_out=tmp_path / "q",
                         dataset="x", tissue="T", qtl_type="eQTL", panel_build="GRCh38")


def test_weights_long_pair_ids_take_the_sheet_tissue(tmp_path):
    t = tmp_path / "w.tsv"
    pd.DataFrame({"model": ["GENE1|Liver|eQTL", "GENE1|Liver|eQTL", "GENE2"],
                  "variant_id": ["1:100:A:G", "1:200:T:C", "1:400:T:G"],  # chrom:pos:other:effect
                  "weight": [1.0, 2.0, 3.0]}).to_csv(t, sep="\t", index=False)
    qc = harmonize_models(t, fmt="weights-long", panel_variants=_panel(), out_dir=tmp_path / "o",
                          qc_out=tmp_path / "q.json", dataset="w", tissue="Liver_model", qtl_type="eQTL")
    m = pd.read_parquet(tmp_path / "o" / "models.parquet")
    assert qc["n_kept"] == 3 and qc["swapped_alleles"] == 2
    assert m["pair_id"].tolist() == ["GENE1|Liver_model|eQTL"] * 2 + ["GENE2|Liver_model|eQTL"]
    np.testing.assert_array_equal(m["weight_allele"], [1.0, -2.0, -3.0])


def test_read_bundle_without_model_weights(tmp_path):
    """Bundles written before prediction models existed read as having no model pairs."""
    from twasflow.io.tables import write_npz, write_parquet
    from twasflow.locus import read_bundle

    M = 3
    write_npz(tmp_path / "L.npz", variant_ids=np.array(["1:1:A:G", "1:2:A:G", "1:3:A:G"]), pos=np.arange(1, 4),
              z=np.ones(M),
              n=np.array(1e4), R=np.eye(M), freq=np.full(M, 0.3), xqtl_z=np.ones((M, 2)), xqtl_n=np.full(2, 100.0),
              reason=np.array(""))
    write_parquet(pd.DataFrame({"pair_id": ["a|T|eQTL", "b|T|eQTL"], "gene_id": ["a", "b"], "gene_name": "",
                                "tissue": "T", "qtl_type": "eQTL", "n_tested": [3, 2]}), tmp_path / "L.pairs.parquet")
    b = read_bundle(tmp_path, "L")
    assert b.model_W.shape == (M, 0) and b.Q == 0 and b.P == b.P_sumstats == 2
    assert b.pairs["source"].tolist() == ["sumstats"] * 2 and b.pairs["n_model"].tolist() == [3, 2]


# ------------------------------------------------------------------------------------------------ (b) real
def test_real_liver_predictdb_against_chr16_panel(tmp_path):
    info = pd.read_csv(D / "raw" / "LDL_chr16.weight_variants_info.tsv.gz", sep="\t").dropna(subset=["pos"])
    v = info["implied_ref_variance"].to_numpy()
    f = (1 - np.sqrt(np.clip(1 - 2 * v, 0, None))) / 2  # 2f(1-f) = the UKB reference variance cTWAS used
    panel = pd.DataFrame({
        "variant_id": "16:" + info["pos"].astype(np.int64).astype(str) + ":" + info["A2"] + ":" + info["A1"],
        "chrom": info["chrom"].astype(str), "pos": info["pos"].astype(np.int64), "other_allele": info["A2"],
        "counted_allele": info["A1"], "rsid": info["variant_id"], "counted_freq": f})
    out = tmp_path / "liver"
    qc = harmonize_models(D / "raw" / "expression_Liver.db", fmt="predictdb", panel_variants=panel, out_dir=out,
                          qc_out=tmp_path / "liver.qc.json", dataset="Liver_pdb", tissue="Liver", qtl_type="eQTL",
                          covariance=D / "raw" / "expression_Liver.txt.gz", declared_build="GRCh38",
                          panel_build="GRCh38")
    rep = pd.read_csv(out / "models_report.tsv", sep="\t", keep_default_na=False)
    # every model row of the genome-wide model is accounted for, per gene and in total
    assert qc["n_input"] == 918 == rep["n_model"].sum() and len(rep) == 610
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values())
    assert (rep["n_model"] == rep["n_used"] + rep[MODEL_REASONS].sum(axis=1)).all()
    # the panel frame holds only the variants cTWAS kept (no multi-allelic / ambiguous ones): the rest is not_in_panel
    assert qc["n_kept"] == 549 and qc["dropped"] == {"not_in_panel": 319, "indel": 50}  # the panel store holds SNVs
    assert qc["swapped_alleles"] == 549 and qc["n_pairs"] == 413 and qc["n_pairs_covariance"] == 413
    assert rep.loc[rep["n_used"] == 0, "reasons"].str.fullmatch(r"(indel=\d+, )?not_in_panel=\d+|indel=\d+").all()
    # standardized weights equal cTWAS's (PredictDB weight x UKB reference SD, signed to A1) where 2f(1-f) = variance
    m = pd.read_parquet(out / "models.parquet")
    ct = pd.read_csv(D / "derived" / "LDL_chr16.weights.long.tsv.gz", sep="\t")
    ct = ct[ct["group"] == "liver|expression"].merge(panel[["variant_id", "rsid"]], left_on="variant_id",
                                                     right_on="rsid", suffixes=("_rs", ""))
    j = ct.merge(m, left_on=["molecular_id", "variant_id"], right_on=["phenotype_id", "variant_id"],
                 suffixes=("_ctwas", ""))
    ok = j["implied_ref_sd"] ** 2 <= 0.5
    assert len(j) == 546 and ok.sum() > 500
    np.testing.assert_allclose(j.loc[ok, "weight"], j.loc[ok, "weight_ctwas"], rtol=1e-10, atol=0)
    # S-PrediXcan with the written (oriented) model covariance reproduces cTWAS's z for one-variant genes
    cov = read_model_covariance(out / "covariance.npz")
    zs = pd.read_csv(D / "raw" / "LDL_chr16.z_snp.tsv.gz", sep="\t").set_index("id")["z"]
    z_of = pd.Series(zs.reindex(panel["rsid"]).to_numpy(), index=panel["variant_id"])
    zg = pd.read_csv(D / "derived" / "LDL_chr16.z_gene.tsv", sep="\t")
    zg = zg[(zg["group"] == "liver|expression") & (zg["n_wgt"] == 1)].set_index("molecular_id")
    n = 0
    for pair, sub in m[m["phenotype_id"].isin(zg.index)].groupby("pair_id"):
        ids, C = cov[pair]
        assert ids.tolist() == sub["variant_id"].tolist()
        zz = spredixcan_z(z_of[sub["variant_id"]].to_numpy(), sub["weight_allele"].to_numpy(), C)
        assert abs(zz - zg.loc[pair.split("|")[0], "z"]) < 1e-10
        n += 1
    assert n > 250


# ------------------------------------------------------------------------------------------------ (c) workflow
LIVER_CAUSAL = {"ENSG90000000002.11", "ENSG90000000018.11"}  # the planted LDL_sim causal Liver eQTL genes


@pytest.fixture(scope="module")
def model_run(example_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plus a ``weights-long`` dataset of the planted Liver eQTL effects (tissue ``Liver_model``), with
    a diagonal covariance file and ``prescreen.covariance: model``; Snakemake up to the prescreen, reusing the
    example run's panel, harmonized files, clumps and loci (copied with their times, so only the new dataset and
    the per-locus stages run)."""
    root = copy_workflow(tmp_path_factory.mktemp("models"))
    shutil.copytree(example_run / "resources" / "example", root / "resources" / "example")
    for d in ("panel", "harmonized", "clump", "loci"):
        shutil.copytree(example_run / "results" / d, root / "results" / d)
    truth = pd.read_csv(root / "resources" / "example" / "truth_xqtl.tsv", sep="\t")
    truth = truth[(truth["tissue"] == "Liver") & (truth["qtl_type"] == "eQTL")]
    pv = pd.read_parquet(root / "results" / "panel" / "variants.parquet")
    f = pd.Series(pv["counted_freq"].to_numpy(), index=pv["variant_id"].str.rsplit(":", n=2).str[0])
    f = f.reindex(truth["variant_id"].str.rsplit(":", n=2).str[0]).to_numpy()
    sd = np.sqrt(2 * f * (1 - f))
    # per-allele weights of ALT whose standardized version is the planted per-SD effect
    pd.DataFrame({"model": truth["pair_id"], "variant_id": truth["variant_id"], "weight": truth["effect"] / sd}
                 ).to_csv(root / "resources" / "liver_model.tsv", sep="\t", index=False)
    # a covariance file without LD (variances only): S-PrediXcan then differs from the panel-LD z where a model
    # has several variants, which shows which covariance the prescreen used
    cov = pd.DataFrame({"GENE": truth["pair_id"].str.split("|").str[0], "RSID1": truth["variant_id"],
                        "RSID2": truth["variant_id"], "VALUE": sd ** 2})
    cov.to_csv(root / "resources" / "liver_model.cov.txt", sep=" ", index=False)
    sheet = pd.read_csv(root / "config" / "xqtl.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet = pd.concat([sheet, pd.DataFrame([{"dataset": "Liver_model", "tissue": "Liver_model", "qtl_type": "eQTL",
                                             "path": "resources/liver_model.tsv", "format": "weights-long", "n": "",
                                             "build": "GRCh38", "covariance": "resources/liver_model.cov.txt"}])])
    sheet.fillna("").to_csv(root / "config" / "xqtl.tsv", sep="\t", index=False)
    cfg = root / "config" / "config.yaml"
    cfg.write_text(cfg.read_text() + "\nprescreen:\n  p_max: 0.05\n  covariance: model\n")
    targets = [f"results/prescreen/{t}/{c}.parquet" for t in ("LDL_sim", "BMI_sim")
               for c in sorted(pd.read_csv(root / "results" / "loci" / f"{t}.tsv", sep="\t")["chunk"].unique())]
    r = run_snakemake(*targets, "--cores", "2", "--rerun-triggers", "mtime", cwd=root)
    assert r.returncode == 0, r.stderr[-5000:]
    assert "rule simulate_example" not in r.stdout + r.stderr and "rule panel:" not in r.stdout + r.stderr
    return root


def _bundles(root: Path, trait: str):
    from twasflow.locus import read_bundle

    for man in sorted((root / "results" / "locus_inputs" / trait).glob("*/manifest.json")):
        for rec in json.loads(man.read_text())["loci"]:
            yield man.parent.name, rec, read_bundle(man.parent, rec["locus_id"])


def test_workflow_harmonizes_the_model_dataset(model_run):
    qc = json.loads((model_run / "results" / "harmonized" / "xqtl" / "Liver_model.qc.json").read_text())
    truth = pd.read_csv(model_run / "resources" / "example" / "truth_xqtl.tsv", sep="\t")
    truth = truth[(truth["tissue"] == "Liver") & (truth["qtl_type"] == "eQTL")]
    assert qc["n_input"] == len(truth) == qc["n_kept"] and qc["dropped"] == {}
    assert qc["n_pairs"] == truth["pair_id"].nunique() == qc["n_pairs_covariance"]
    m = pd.read_parquet(model_run / "results" / "harmonized" / "xqtl" / "Liver_model" / "models.parquet")
    j = m.merge(truth.assign(phenotype_id=truth["pair_id"].str.split("|").str[0]), on="phenotype_id",
                suffixes=("", "_truth"))
    j = j[j["variant_id"].str.rsplit(":", n=2).str[0] == j["variant_id_truth"].str.rsplit(":", n=2).str[0]]
    assert len(j) == len(truth)
    sign = np.where(j["variant_id"] == j["variant_id_truth"], 1.0, -1.0)  # panel counted allele vs ALT
    np.testing.assert_allclose(j["weight"], sign * j["effect"], rtol=1e-12, atol=0)


def test_workflow_model_pairs_in_bundles_weights_and_prescreen(model_run):
    from twasflow.twas import twas_z

    m = pd.read_parquet(model_run / "results" / "harmonized" / "xqtl" / "Liver_model" / "models.parquet")
    cov = read_model_covariance(model_run / "results" / "harmonized" / "xqtl" / "Liver_model" / "covariance.npz")
    n_multi = 0
    for trait in ("LDL_sim", "BMI_sim"):
        loci = pd.read_csv(model_run / "results" / "loci" / f"{trait}.tsv", sep="\t", dtype={"chrom": str})
        res = model_run / "results"
        gw = pd.read_parquet(res / "harmonized" / "gwas" / f"{trait}.parquet", columns=["variant_id"])
        pre = pd.concat(pd.read_parquet(f) for f in sorted((res / "prescreen" / trait).glob("*.parquet")))
        med = m.groupby("pair_id").agg(chrom=("chrom", "first"), pos=("pos", "median"))
        seen = set()
        for chunk, rec, b in _bundles(model_run, trait):
            lid = rec["locus_id"]
            loc = loci.set_index("locus_id").loc[lid]
            # model pairs of a locus: median weight-variant position inside the window
            want = set(med.index[(med["chrom"] == loc["chrom"]) & med["pos"].between(loc["start"], loc["end"])])
            got = b.pairs.loc[b.pairs["source"] == "model", "pair_id"]
            assert set(got) == want and b.Q == len(want)
            assert b.pairs["source"].iloc[:b.P_sumstats].eq("sumstats").all()
            seen |= want
            w = np.load(model_run / "results" / "weights" / trait / chunk / f"{lid}.weights.npz")
            assert w["pair_ids"].tolist() == b.pairs["pair_id"].tolist()
            np.testing.assert_array_equal(w["B"][:, b.P_sumstats:], b.model_W)
            p = pre[pre["locus_id"] == lid].set_index("pair_id")
            for q, pid in enumerate(got):
                mw = m[m["pair_id"] == pid]
                in_gwas = mw["variant_id"].isin(set(gw["variant_id"]))
                used = np.flatnonzero(b.model_W[:, q])
                # every model variant present in the GWAS is in the bundle, with its weight
                assert sorted(b.variant_ids[used]) == sorted(mw.loc[in_gwas, "variant_id"])
                w_exp = mw.set_index("variant_id").loc[b.variant_ids[used], "weight"]
                np.testing.assert_allclose(b.model_W[used, q], w_exp, rtol=0, atol=0)
                assert p.loc[pid, "n_weights_used"] == in_gwas.sum() and p.loc[pid, "n_weights_model"] == len(mw)
                assert w["pair_status"][b.P_sumstats + q] == ("ok" if in_gwas.any() else "no_weight_in_locus")
                # prescreen.covariance = model: S-PrediXcan with the model's (LD-free) covariance
                ids, C = cov[pid]
                k = pd.Index(ids).get_indexer(b.variant_ids[used])
                sd = np.sqrt(2 * b.freq[used] * (1 - b.freq[used]))
                z_model = spredixcan_z(b.z[used], b.model_W[used, q] / sd, C[np.ix_(k, k)])
                assert abs(p.loc[pid, "twas_z"] - z_model) < 1e-10
                z_panel = float(twas_z(b.z, b.R, b.model_W[:, q]))
                if used.size == 1:
                    assert abs(z_model - z_panel) < 1e-10
                else:
                    n_multi += 1
                    assert abs(z_model - z_panel) > 1e-6
        assert seen, trait
        if trait == "LDL_sim":
            causal = pre[pre["pair_id"].isin({f"{g}|Liver_model|eQTL" for g in LIVER_CAUSAL})]
            assert len(causal) == 2 and causal["kept"].all() and (causal["twas_p"] < 1e-10).all(), causal
    assert n_multi > 0


def test_build_locus_adds_model_pairs_and_keeps_model_variants_first(tmp_path):
    """Model pairs join by the median position of their weight variants; their GWAS variants are added (also
    outside the window) and kept first under ``max_variants``."""
    from types import SimpleNamespace

    from twasflow.io.tables import write_parquet
    from twasflow.locus import build_locus

    pos = np.array([900, 1100, 1200, 1300, 1400, 1500, 1600, 2100, 2500])
    vid = [f"1:{p}:A:G" for p in pos]
    panel = SimpleNamespace(variants=pd.DataFrame({"variant_id": vid, "chrom": "1", "pos": pos,
                                                   "counted_freq": 0.3}))
    in_gwas = pos != 1600
    z = np.linspace(-2, 2, pos.size)
    write_parquet(pd.DataFrame({"variant_id": np.array(vid)[in_gwas], "chrom": "1", "pos": pos[in_gwas],
                                "z": z[in_gwas], "n": 1e4, "p": 2 * (1 - 0.9772)}), tmp_path / "gwas.parquet")
    ss = tmp_path / "ss"
    tested = [1, 2, 3, 4, 5]  # 1100..1500, all strong: all selected (identity LD)
    write_parquet(pd.DataFrame({"pair_id": "g1|T|eQTL", "phenotype_id": "g1", "gene_id": "g1", "tissue": "T",
                                "qtl_type": "eQTL", "variant_id": np.array(vid)[tested], "pos": pos[tested],
                                "z": 8.0, "n": 300.0, "tss_distance": pos[tested] - 1300}), ss / "1.parquet")
    md = tmp_path / "md"
    rows = [("m1", 900, 0.1, 3), ("m1", 1200, 0.2, 3), ("m1", 1400, 0.3, 3),   # median 1200: in
            ("m3", 1500, 0.4, 2), ("m3", 1600, 0.5, 2),                      # 1600 not in the GWAS
            ("m2", 2100, 0.6, 2), ("m2", 2500, 0.7, 2)]                      # median 2300: out
    write_parquet(pd.DataFrame({"pair_id": [f"{g}|T_model|eQTL" for g, *_ in rows], "gene_id": [r[0] for r in rows],
                                "tissue": "T_model", "qtl_type": "eQTL", "variant_id": [f"1:{r[1]}:A:G" for r in rows],
                                "chrom": "1", "pos": [r[1] for r in rows], "weight": [r[2] for r in rows],
                                "n_model": [r[3] for r in rows]}), md / "models.parquet")
    b = build_locus({"locus_id": "T.1_1000_2000", "chrom": "1", "start": 1000, "end": 2000},
                    gwas_path=tmp_path / "gwas.parquet", xqtl_dirs={"ss": ss, "md": md}, panel=panel,
                    ld=lambda _p, ids: np.eye(len(ids)), xqtl_p=1e-5, gwas_p=5e-8, max_variants=4)
    # 4 model variants in the GWAS fill max_variants; the C+T-only variants 1100 and 1300 are dropped
    assert b.variant_ids.tolist() == ["1:900:A:G", "1:1200:A:G", "1:1400:A:G", "1:1500:A:G"]
    assert b.pairs["pair_id"].tolist() == ["g1|T|eQTL", "m1|T_model|eQTL", "m3|T_model|eQTL"]
    assert b.pairs["source"].tolist() == ["sumstats", "model", "model"]
    assert b.pairs["n_tested"].tolist() == [3, 3, 1] and b.pairs["n_model"].tolist() == [3, 3, 2]
    np.testing.assert_array_equal(b.model_W, [[0.1, 0], [0.2, 0], [0.3, 0], [0, 0.4]])
    assert b.xqtl_z.shape == (4, 1) and np.isnan(b.xqtl_z[0, 0]) and (b.xqtl_z[1:, 0] == 8.0).all()
    assert (b.P, b.P_sumstats, b.Q) == (3, 1, 2)
    assert b.stats["model_variants_outside_window"] == 1 and b.stats["model_variants_not_in_gwas"] == 1
    assert b.stats["dropped_max_variants"] == 2 and b.stats["model_variants_added"] == 1
