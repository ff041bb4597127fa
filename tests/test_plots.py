"""Locus plot (twasflow.plots): PNG and SVG written atomically from a TGVIS result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twasflow.errors import InputError
from twasflow.io.annotation import ANNOTATION_COLUMNS, annotation_build, genes_in_window, read_gene_annotation
from twasflow.methods import tgvis
from twasflow.plots import _neglog10p, draw_locus_plots, locus_plot


def test_neglog10p_no_underflow():
    assert _neglog10p(np.array([0.0]))[0] == 0.0
    assert np.isclose(_neglog10p(np.array([1.959963984540054]))[0], -np.log10(0.05))
    assert np.isfinite(_neglog10p(np.array([60.0]))[0]) and _neglog10p(np.array([60.0]))[0] > 700


def _fit(pos0: int, pids: list[str], lid: str):
    """A TGVIS fit of 4 pairs (pair j's only xQTL is variant 5 + 8 j; pair 0 causal) on 40 variants from pos0."""
    rng = np.random.default_rng(0)
    M, P, n = 40, len(pids), 100_000
    X = rng.standard_normal((500, M))
    R = np.corrcoef(X, rowvar=False)
    B = np.zeros((M, P))
    for j in range(P):
        B[5 + 8 * j, j] = 0.4
    z = np.sqrt(n) * R @ (0.03 * B[:, 0] / 0.4) + rng.standard_normal(M)
    pos = pos0 + 5_000 * np.arange(M)
    vids = [f"1:{p}:A:G" for p in pos]
    res = tgvis.fit(z, R, n, B, pair_names=pids, variant_names=vids, L_grid=[2])
    v, _, _ = res.tables("T", lid)
    return v, pos, vids, z


def test_locus_plot_writes_png_and_svg(tmp_path):
    P = 4
    pids = [f"G{j}|Liver|eQTL" for j in range(P)]
    v, pos, vids, z = _fit(1_000_000, pids, "T.1_1_2")
    genes = pd.DataFrame({"gene_id": [f"G{j}" for j in range(P)], "gene_name": [f"GENE{j}" for j in range(P)],
                          "start": pos[5 + 8 * np.arange(P)], "end": pos[5 + 8 * np.arange(P)] + 20_000})
    paths = locus_plot(v, pos, vids, z, genes, tmp_path / "sub" / "locus", title="T locus",
                       pair_gene_id={p: f"G{j}" for j, p in enumerate(pids)})
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths[1].read_text()
    assert svg.lstrip().startswith("<?xml") and "CS1" in svg
    # pair G0's only xQTL is a variant of its set: the legend says the two members are one group
    assert v.loc[v["variable_id"] == pids[0], "collinear_group"].notna().all()
    assert "n=2 in 1 distinguishable group" in svg
    assert not list((tmp_path / "sub").glob(".*tmp"))  # no temporary files left
    # no gene table, no credible sets: still draws
    v0 = v.assign(cs=pd.array([pd.NA] * len(v), dtype="Int64"), causal=False)
    assert len(locus_plot(v0, pos, vids, z, None, tmp_path / "empty")) == 2


# ------------------------------------------------------------------------------------------ gene annotations
DATA = Path(__file__).parent / "data" / "gene_annotation"


def test_one_reader_takes_the_documented_layout_and_checks_the_build(tmp_path):
    a = read_gene_annotation(DATA / "orgHsEgDb_head_hg38.tsv", "GRCh38")
    assert list(a.columns) == ANNOTATION_COLUMNS
    assert set(a.loc[a["gene_name"] == "MIR6859-3", "gene_id"]) == {"ENSG00000275449", "ENSG00000288355"}
    assert a.loc[a["gene_name"] == "WASH7P", "gene_id"].tolist() == [""]  # no Ensembl id: kept, matched by symbol
    assert annotation_build(DATA / "orgHsEgDb_head_hg38.tsv") == "GRCh38"
    with pytest.raises(InputError, match="another genome build.*found GRCh38; expected GRCh37"):
        read_gene_annotation(DATA / "orgHsEgDb_head_hg38.tsv", "GRCh37")
    # a build column wins over the name; one without any declaration is not checked
    t = pd.read_csv(DATA / "orgHsEgDb_head_hg38.tsv", sep="\t", dtype=str).assign(genome_build="hg19")
    t.to_csv(tmp_path / "genes.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match="found GRCh37; expected GRCh38"):
        read_gene_annotation(tmp_path / "genes.tsv", "GRCh38")
    t.drop(columns="genome_build").to_csv(tmp_path / "genes.tsv", sep="\t", index=False)
    assert len(read_gene_annotation(tmp_path / "genes.tsv", "GRCh37")) == len(a)
    # minus-strand genes with negative coordinates (org.Hs.eg.db) come out ordered, strand kept
    e = read_gene_annotation(DATA / "example_genes_hg38.tsv", "GRCh38")
    assert (e["start"] < e["end"]).all() and set(e["strand"]) == {"+", "-"}
    w = genes_in_window(e, "1", 108_000_000, 108_400_000)
    assert len(w) and (w["chrom"] == "1").all() and w["start"].is_monotonic_increasing


def _small_fit():
    e = read_gene_annotation(DATA / "example_genes_hg38.tsv")
    gids = e.loc[e["chrom"] == "1", "gene_id"].head(4).tolist()
    v, pos, vids, z = _fit(108_000_000, [f"{g}.1|Liver|eQTL" for g in gids], "T.1_108000000_108195000")
    v["gene_id"] = [p.split(".")[0] if t == "pair" else None for p, t in zip(v["variable_id"], v["type"])]
    return v, pos, vids, z, e


def test_documented_annotation_layout_draws_the_locus_plot(tmp_path):
    """Issue #18's crash replayed: the documented layout (ensembl_gene_id, symbol, ...) gave KeyError 'gene_id'
    in locus_plot; through the one reader it draws, and a cTWAS/TGFM fit (no CS-Pratt) gets no CS-Pratt panel."""
    v, pos, vids, z, e = _small_fit()
    paths = draw_locus_plots([("T.1_108000000_108195000", v, pos, vids, z)], e, tmp_path, title="T {locus_id}")
    assert [p.name for p in paths] == ["T.1_108000000_108195000.png", "T.1_108000000_108195000.svg"]
    assert "SIMG" in paths[1].read_text()  # gene symbols from the annotation on the gene track
    v2 = v.assign(cs_pratt=np.nan)
    svg = draw_locus_plots([("T.1_108000000_108195000", v2, pos, vids, z)], e, tmp_path / "nopratt")[1].read_text()
    assert "CS-Pratt" not in svg and "nan" not in svg.lower().replace("nanos", "")


def test_a_plot_failure_is_raised_after_every_locus_was_tried(tmp_path, monkeypatch):
    import twasflow.plots as plots

    v, pos, vids, z, e = _small_fit()
    calls = []

    def boom(v, pos, ids, z, g, out, **kw):
        calls.append(out)
        raise KeyError("gene_id")

    monkeypatch.setattr(plots, "locus_plot", boom)
    jobs = [("T.1_108000000_108195000", v, pos, vids, z), ("T.1_108000000_108195001", v, pos, vids, z)]
    with pytest.raises(RuntimeError, match="failed at 2 of 2 loci.*KeyError"):
        plots.draw_locus_plots(jobs, e, tmp_path)
    assert len(calls) == 2


def test_finemap_writes_its_tables_before_a_plot_fails(example_run: Path, tmp_path, monkeypatch):
    """A plotting bug fails the finemap job, but only after the fit tables of every locus are written."""
    import twasflow.plots as plots
    from twasflow import stages

    res = example_run / "results"
    c = "c000"

    def common(prefix):
        return dict(trait="LDL_sim", method="tgvis", bundles_manifest=res / "locus_inputs" / "LDL_sim" / c / "manifest.json",
                    weights_manifest=res / "weights" / "LDL_sim" / c / "manifest.json",
                    prescreen_table=res / "prescreen" / "LDL_sim" / f"{c}.parquet", out_prefix=prefix,
                    log_dir=tmp_path / "logs", options={}, genes=DATA / "example_genes_hg38.tsv",
                    plot_dir=tmp_path / f"{prefix.name}.plots", genome_build="GRCh38", seed=1, plot_mode="all")

    out = stages.finemap(**common(tmp_path / "ok"))
    n_loci = len(out["loci"])
    assert n_loci == 3 and (out["loci"]["status"] == "ok").all()
    assert len(list((tmp_path / "ok.plots").glob("*.png"))) == n_loci

    def boom(*a, **k):
        raise KeyError("gene_id")

    monkeypatch.setattr(plots, "locus_plot", boom)
    with pytest.raises(RuntimeError, match="locus plots failed at 3 of 3 loci"):
        stages.finemap(**common(tmp_path / "bad"))
    written = pd.read_parquet(tmp_path / "bad.loci.parquet")
    assert len(written) == n_loci and (written["status"] == "ok").all()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "bad.variables.parquet"),
                                  pd.read_parquet(tmp_path / "ok.variables.parquet"))
    with pytest.raises(InputError, match="another genome build"):
        stages.finemap(**dict(common(tmp_path / "b37"), genome_build="GRCh37"))
