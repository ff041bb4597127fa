"""Issue 19 acceptance through `snakemake`, without a genotype panel: the real UK Biobank LDL chr16 z-scores
(cTWAS's rsID-only `id, A1, A2, z, n`, GRCh38) with the GTEx v8 PredictDB Liver model (.db + covariance) and the
Adipose weights (cTWAS's per-SD long table + the Adipose PredictDB covariance keyed by rsid). The panel is a
variant table (`panel.variants`: positions from the models' varIDs / cTWAS's table, cTWAS's UKB reference SDs);
LD among a model's variants comes from its covariance (`prescreen.covariance: model`). Target `spredixcan_all`:
harmonization + rule `spredixcan`; the summary JSON names the stages skipped for lack of LD.

Fixtures: tests/data/ctwas_LDL_chr16 (README there; the z file keeps only rows some weight refers to, so the
gene z are those of the full file).
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import copy_workflow, run_snakemake

D = Path(__file__).parent / "data" / "ctwas_LDL_chr16"

#: The two Adipose-only weight variants the fixture's variant info leaves without a position (gene
#: ENSG00000153786.12), placed from the Adipose PredictDB covariance varIDs of that gene by their alleles, the only
#: varID with each allele pair: rs35894736 C/CA = chr16_85001918_CA_C_b38, rs9938595 G/A = chr16_85011055_G_A_b38
#: (``tests/test_inputs_acceptance.py`` derives them from the covariance file and checks these values).
UNPOSITIONED = {"rs35894736": 85001918, "rs9938595": 85011055}


def variant_info() -> pd.DataFrame:
    """The weight-variant info with the two unpositioned variants placed (:data:`UNPOSITIONED`)."""
    info = pd.read_csv(D / "raw" / "LDL_chr16.weight_variants_info.tsv.gz", sep="\t")
    fill = info["variant_id"].map(UNPOSITIONED)
    info["pos"] = info["pos"].fillna(fill)
    return info


def _project(root: Path) -> Path:
    data = root / "data"
    data.mkdir()
    info = variant_info()
    v = info[info["pos"].notna()]
    # the variant table: positions from the models, counted = A1, cTWAS's UKB reference SD
    pd.DataFrame({"chrom": v["chrom"].astype(str), "pos": v["pos"].astype(np.int64), "other_allele": v["A2"],
                  "counted_allele": v["A1"], "rsid": v["variant_id"],
                  "sd": np.sqrt(v["implied_ref_variance"])}).to_csv(data / "variants.tsv", sep="\t", index=False)
    info[["variant_id", "chrom", "pos"]].dropna().rename(columns={"variant_id": "rsid"}).astype(
        {"pos": np.int64}).to_csv(data / "rsid_map.tsv", sep="\t", index=False)
    shutil.copy(D / "raw" / "LDL_chr16.z_snp.tsv.gz", data / "z_snp.tsv.gz")
    shutil.copy(D / "raw" / "expression_Liver.db", data / "liver.db")
    shutil.copy(D / "raw" / "expression_Liver.txt.gz", data / "liver_cov.txt.gz")
    wl = pd.read_csv(D / "derived" / "LDL_chr16.weights.long.tsv.gz", sep="\t")
    ad = wl[wl["group"] == "adipose|expression"]
    pd.DataFrame({"model": ad["molecular_id"], "rsid": ad["variant_id"], "effect_allele": ad["A1"],
                  "other_allele": ad["A2"], "weight": ad["weight"], "weight_scale": "sd"}).to_csv(
        data / "adipose.tsv", sep="\t", index=False)
    # the Adipose PredictDB covariance is not carried (no .db): cTWAS's R_wgt gives it as a correlation, which
    # is all the standardized-weight z needs (a covariance with unit variances)
    Rw = np.load(D / "derived" / "LDL_chr16.R_wgt.npz")
    with gzip.open(data / "adipose_cov.txt.gz", "wt") as fh:
        fh.write("GENE RSID1 RSID2 VALUE\n")
        for gid in sorted(ad["molecular_id"].unique()):
            ids, R = Rw[gid + "|adipose_expression__variants"], Rw[gid + "|adipose_expression"]
            for i in range(len(ids)):
                for j in range(i, len(ids)):
                    fh.write(f"{gid} {ids[i]} {ids[j]} {float(R[i, j])!r}\n")
    cfg = root / "config"
    (cfg / "config.yaml").write_text(
        "genome_build: GRCh38\nsimulate: {enabled: false}\npanel: {variants: data/variants.tsv}\n"
        "prescreen: {covariance: model}\n")
    (cfg / "gwas.tsv").write_text("trait\tpath\tformat\tn\tbuild\tcol_rsid\tcol_ea\tcol_oa\tcol_z\tcol_n\trsid_map\n"
                                  "LDL\tdata/z_snp.tsv.gz\ttable\t\tGRCh38\tid\tA1\tA2\tz\tn\tdata/rsid_map.tsv\n")
    (cfg / "xqtl.tsv").write_text(
        "dataset\ttissue\tqtl_type\tpath\tformat\tn\tbuild\tcovariance\n"
        "liver\tLiver_model\teQTL\tdata/liver.db\tpredictdb\t\tGRCh38\tdata/liver_cov.txt.gz\n"
        "adipose\tAdipose_model\teQTL\tdata/adipose.tsv\tweights-long\t\tGRCh38\tdata/adipose_cov.txt.gz\n")
    return root


@pytest.mark.slow
def test_spredixcan_only_run_through_snakemake(tmp_path: Path) -> None:
    root = _project(copy_workflow(tmp_path))
    r = run_snakemake("--cores", "2", "spredixcan_all", cwd=root)
    assert r.returncode == 0, r.stderr[-4000:]
    res = root / "results"
    gqc = json.loads((res / "harmonized" / "gwas" / "LDL.qc.json").read_text())
    assert gqc["n_input"] == gqc["n_kept"] + sum(gqc["dropped"].values())
    for ds in ("liver", "adipose"):
        q = json.loads((res / "harmonized" / "xqtl" / f"{ds}.qc.json").read_text())
        assert q["n_input"] == q["n_kept"] + sum(q["dropped"].values())
    summ = json.loads((res / "spredixcan" / "LDL.json").read_text())
    assert summ["genotypes"] is False and "finemap (tgvis, ctwas, tgfm)" in summ["skipped"] and "clump" in summ["skipped"]
    got = pd.read_csv(res / "spredixcan" / "LDL.tsv", sep="\t")
    group = {"liver": "liver|expression", "adipose": "adipose|expression"}
    got["molecular_id"] = got["phenotype_id"]
    got["group"] = got["dataset"].map(group)
    zg = pd.read_csv(D / "derived" / "LDL_chr16.z_gene.tsv", sep="\t").merge(
        got, on=["molecular_id", "group"], how="left")
    assert len(zg) == 894
    ok = (zg["twas_z"] - zg["z"]).abs() <= 1e-8
    print(f"{int(ok.sum())} of {len(zg)} genes within 1e-8; max |z - cTWAS| = {(zg['twas_z'] - zg['z']).abs().max():.3g}")
    # every gene, the 23 with a weight on an indel or a formerly unpositioned variant included
    assert ok.all(), zg.loc[~ok, ["id", "z", "twas_z", "n_wgt", "n_weights_used"]].head(30)
    assert (zg["n_weights_used"] == zg["n_wgt"]).all()
    # the GWAS QC: every z row kept or counted; the model variants' indels are kept, none dropped as indel
    # (the fixture's z file: 1,101 rows, the 46 without a weight variant are not in the rsID table)
    assert (gqc["n_input"], gqc["n_kept"], gqc["dropped"]) == (1_101, 1_055, {"rsid_not_found": 46})
    assert "indel" not in gqc["dropped"] and gqc["rsid_positions"]["n_resolved"] == 1_055
    r = run_snakemake("-n", "spredixcan_all", cwd=root)
    assert r.returncode == 0, r.stderr[-3000:]
