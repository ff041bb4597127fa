"""eqtlcat-susie through the workflow (issue 19 item 4): the bundled example plus a dataset of published SuSiE
fine-mapping made from the example's own Liver eQTL (susie_rss per pair on the panel LD, written in the eQTL
Catalogue layout), through check-config, harmonize_xqtl, stage 1 (model pairs), fine-mapping and coloc from lbf.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import copy_workflow, run_snakemake

pytestmark = pytest.mark.slow
LIVER_CAUSAL = {"ENSG90000000002.11", "ENSG90000000018.11"}  # the planted LDL_sim causal Liver eQTL genes


def _write_susie_dataset(root: Path) -> dict[str, np.ndarray]:
    """lbf_variable + credible_sets of susie_rss(z, R_panel, n) for every Liver eQTL pair with a credible set;
    returns {phenotype: posterior mean per SD of the counted allele, indexed like the pair's variants}."""
    from twasflow.io.panel import Panel
    from twasflow.io.tables import write_tsv
    from twasflow.susie import susie_rss

    panel = Panel(root / "results" / "panel")
    xdir = root / "results" / "harmonized" / "xqtl" / "Liver_eQTL"
    t = pd.concat(pd.read_parquet(f) for f in sorted(xdir.glob("*.parquet")) if "track" not in f.name)
    lbf_rows, cs_rows, means = [], [], {}
    for pid, g in t.groupby("pair_id", sort=True):
        g = g.sort_values("pos")
        chrom, rows = panel.index_of(g["variant_id"].tolist())
        X = panel.standardized(chrom, rows)
        R = np.corrcoef(X, rowvar=False)
        n = float(g["n"].iloc[0])
        fit = susie_rss(z=g["z"].to_numpy(), R=R, n=n, L=10)
        if not fit.sets:
            continue
        ph = pid.split("|")[0]
        parts = g["variant_id"].str.split(":", expand=True)
        var = ("chr" + parts[0] + "_" + parts[1] + "_" + parts[2] + "_" + parts[3]).to_numpy()  # ALT = counted
        lb = pd.DataFrame({"molecular_trait_id": ph, "region": "r", "variant": var, "chromosome": parts[0].to_numpy(),
                           "position": g["pos"].to_numpy()})
        for k in range(fit.lbf_variable.shape[0]):
            lb[f"lbf_variable{k + 1}"] = fit.lbf_variable[k]
        lbf_rows.append(lb)
        for cs in fit.sets:
            cs_rows.append(pd.DataFrame({"molecular_trait_id": ph, "variant": var[cs.variables],
                                         "cs_id": f"{ph}_{cs.name}", "z": g["z"].to_numpy()[cs.variables],
                                         "pip": fit.pip[cs.variables], "rsid": "NA"}))
        means[ph] = pd.Series(fit.posterior_mean(), index=g["variant_id"].to_numpy())
    write_tsv(pd.concat(lbf_rows, ignore_index=True), root / "resources" / "liver.lbf_variable.txt.gz")
    write_tsv(pd.concat(cs_rows, ignore_index=True), root / "resources" / "liver.credible_sets.tsv.gz")
    return means


@pytest.fixture(scope="module")
def susie_run(example_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = copy_workflow(tmp_path_factory.mktemp("susie"))
    shutil.copytree(example_run / "resources" / "example", root / "resources" / "example")
    for d in ("panel", "harmonized", "clump", "loci"):
        shutil.copytree(example_run / "results" / d, root / "results" / d)
    means = _write_susie_dataset(root)
    sheet = pd.read_csv(root / "config" / "xqtl.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet = pd.concat([sheet, pd.DataFrame([{"dataset": "Liver_susie", "tissue": "Liver_susie", "qtl_type": "eQTL",
                                             "path": "resources/liver.lbf_variable.txt.gz", "format": "eqtlcat-susie",
                                             "n": "300", "build": "GRCh38",
                                             "credible_sets": "resources/liver.credible_sets.tsv.gz"}])])
    sheet.fillna("").to_csv(root / "config" / "xqtl.tsv", sep="\t", index=False)
    chk = subprocess.run([sys.executable, "-m", "twasflow", "check-config"], cwd=root, capture_output=True,
                         text=True)
    assert chk.returncode == 0, chk.stderr[-3000:]
    assert "Liver_susie" in chk.stdout + chk.stderr and "lbf_variable with 10 effects" in chk.stdout + chk.stderr
    chunks = sorted(pd.read_csv(root / "results" / "loci" / "LDL_sim.tsv", sep="\t")["chunk"].unique())
    targets = [f"results/coloc/LDL_sim/{c}.parquet" for c in chunks]
    r = run_snakemake(*targets, "--cores", "2", "--rerun-triggers", "mtime", cwd=root)
    assert r.returncode == 0, r.stderr[-5000:]
    assert "rule panel:" not in r.stdout + r.stderr
    return root, means


def test_harmonized_weights_are_the_posterior_means(susie_run):
    root, means = susie_run
    d = root / "results" / "harmonized" / "xqtl" / "Liver_susie"
    qc = json.loads((d.parent / "Liver_susie.qc.json").read_text())
    assert qc["n_input"] == qc["n_kept"] and qc["dropped"] == {}
    assert qc["susie"]["n_traits_weighted"] == len(means) and qc["susie"]["lbf_variants"]["dropped"] == {}
    m = pd.read_parquet(d / "models.parquet")
    for ph, pm in means.items():
        g = m[m.phenotype_id == ph]
        assert len(g)
        got = g.set_index("variant_id")["weight"]
        # from the files alone: r from the smallest lbf (~1e-7 with ~1,200 variants), signs exact on the sets
        assert np.abs(got - pm.reindex(got.index)).max() <= 5e-5 * np.abs(pm).max(), ph
    assert LIVER_CAUSAL <= set(m.phenotype_id)


def test_coloc_from_lbf_for_the_planted_genes(susie_run):
    root, _ = susie_run
    col = pd.concat(pd.read_parquet(f) for f in sorted((root / "results" / "coloc" / "LDL_sim").glob("*.parquet")))
    s = col[col.pair_id.str.endswith("|Liver_susie|eQTL")]
    assert len(s), "no Liver_susie pair was selected by a fine-mapping method"
    assert not s.reason.str.startswith("prediction model").any()
    tested = s[s["PP.H4"].notna()]
    assert len(tested) and tested.reason.eq("").all()
    planted = tested[tested.pair_id.str.split("|").str[0].isin(LIVER_CAUSAL)]
    assert len(planted) and planted.colocalized.all(), planted[["pair_id", "PP.H4", "reason"]]
    # the same genes' summary-statistic pairs (coloc-SuSiE on z) agree on the call
    z = col[col.pair_id.str.split("|").str[0].isin(set(planted.pair_id.str.split("|").str[0]))
            & col.pair_id.str.endswith("|Liver|eQTL")]
    if len(z):
        assert z.colocalized.all()
