"""The bad-input matrix (issue #9): one row per (stage, how the input is broken, the exact message).

Every row builds a tiny broken input in ``tmp_path`` and asserts the complete message of the
:class:`~twasflow.errors.InputError` it raises (``{tmp}`` stands for ``tmp_path``), or, for recoverable row
problems, the exact ``dropped`` counts of the stage's QC JSON with ``n_input == n_kept + Σ dropped``. CLI rows
run ``twasflow.cli.main`` in process and assert its one-line ``twasflow <stage>: error: …`` on stderr and
exit status 1. Cases already covered elsewhere (tests/test_harmonize_badinput.py, test_config.py, test_panel.py,
test_clump.py, test_loci.py, test_predictdb.py, test_models_workflow.py, test_cli.py, test_coloc.py,
test_susie_errors.py, test_weights.py, test_tgvis.py) are not repeated here.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import REPO
from twasflow import cli, errors
from twasflow.errors import InputError

# ------------------------------------------------------------------------------------------------ tiny inputs

SSF_HEADER = "chromosome\tbase_pair_location\teffect_allele\tother_allele\tbeta\tstandard_error\tp_value\n"


def bed_bytes(dosage: np.ndarray) -> bytes:
    """SNP-major PLINK 1 .bed bytes of A1 dosages (M, n): 2 bits per sample, 00 = A1/A1, 10 = het, 11 = A2/A2."""
    code = np.array([0b11, 0b10, 0b00], dtype=np.uint8)[dosage]
    code = np.pad(code, ((0, 0), (0, (-code.shape[1]) % 4)))
    c = code.reshape(code.shape[0], -1, 4)
    return bytes([0x6C, 0x1B, 0x01]) + (c[..., 0] | c[..., 1] << 2 | c[..., 2] << 4 | c[..., 3] << 6).tobytes()


def write_bfile(tmp: Path, name: str = "pan", n_var: int = 6, n_samples: int = 8,
                bim_lines: list[str] | None = None, fam_lines: list[str] | None = None) -> Path:
    """A tiny PLINK fileset (chromosome 1, positions 100, 200, ...; A1 = G, A2 = A); returns the prefix."""
    prefix = tmp / name
    rng = np.random.default_rng(1)
    dos = rng.integers(0, 3, size=(n_var, n_samples))
    dos[:, 0], dos[:, 1] = 0, 2  # polymorphic everywhere
    prefix.with_suffix(".bed").write_bytes(bed_bytes(dos))
    bim = bim_lines or [f"1\trs{i}\t0\t{100 * (i + 1)}\tG\tA" for i in range(n_var)]
    prefix.with_suffix(".bim").write_text("\n".join(bim) + "\n")
    fam = fam_lines or [f"S{i}\tS{i}\t0\t0\t0\t-9" for i in range(n_samples)]
    prefix.with_suffix(".fam").write_text("\n".join(fam) + "\n")
    return prefix


def panel_store(tmp: Path) -> Path:
    from twasflow.io.panel import build_panel_store

    build_panel_store(tmp / "store", bfile=str(write_bfile(tmp)))
    return tmp / "store"


def panel_variants(tmp: Path) -> pd.DataFrame:
    return pd.read_parquet(panel_store(tmp) / "variants.parquet")


def config_dir(tmp: Path) -> Path:
    """A copy of the repository's config/ (the bundled example's) in ``tmp``."""
    shutil.copytree(REPO / "config", tmp / "config")
    return tmp


def load_config(tmp: Path, edit: Callable[[dict], Any]) -> Any:
    from twasflow.config import load_run_config

    root = config_dir(tmp)
    cfg = yaml.safe_load((root / "config" / "config.yaml").read_text())
    edit(cfg)
    return load_run_config(cfg, base_dir=root)


def edit_sheet(tmp: Path, sheet: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Any:
    from twasflow.config import load_run_config

    root = config_dir(tmp)
    p = root / "config" / f"{sheet}.tsv"
    edit(pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)).to_csv(p, sep="\t", index=False)
    return load_run_config(yaml.safe_load((root / "config" / "config.yaml").read_text()), base_dir=root)


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def gtex(tmp: Path, name: str, **cols: list) -> str:
    """A GTEx-layout parquet ``{name}.chr1.parquet``; returns the ``{chrom}`` pattern."""
    base = {"phenotype_id": ["ENSG1.1"], "variant_id": ["chr1_100_A_G_b38"], "tss_distance": [0], "maf": [0.2],
            "ma_samples": [3], "ma_count": [3], "pval_nominal": [0.01], "slope": [0.1], "slope_se": [0.05]}
    base.update(cols)
    pq.write_table(pa.table(base), tmp / f"{name}.chr1.parquet")
    return str(tmp / (name + ".chr{chrom}.parquet"))


def harmonize_xqtl(tmp: Path, path: str, fmt: str = "gtex-parquet", **kw: Any) -> dict:
    from twasflow.harmonize import harmonize_xqtl as hx

    kw.setdefault("n", 100)
    return hx(path, fmt=fmt, panel_variants=panel_variants(tmp), out_dir=tmp / "x", qc_out=tmp / "x.qc.json",
              dataset="d", tissue="Liver", qtl_type="eQTL", **kw)


def harmonize_gwas(tmp: Path, path: Path, **kw: Any) -> dict:
    from twasflow.harmonize import harmonize_gwas as hg

    kw.setdefault("fmt", "gwas-ssf")
    kw.setdefault("n", 1000)
    return hg(path, panel_variants=panel_variants(tmp), out=tmp / "g.parquet", qc_out=tmp / "g.qc.json", **kw)


def run_cli(args: list[str], capsys: pytest.CaptureFixture) -> str:
    rc = cli.main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and err, "expected exit status 1 and a message"
    assert "Traceback" not in "\n".join(err)
    return err[-1]


# ------------------------------------------------------------------------------------------------ the matrix


@dataclass(frozen=True)
class Raises:
    """A row of the matrix whose input is rejected with one exact message."""

    stage: str
    broken: str
    run: Callable[[Path], Any]
    message: str
    error: type[InputError] = InputError


CASES: list[Raises] = []


def case(stage: str, broken: str, message: str, error: type[InputError] = InputError):
    """Decorator: register ``fn(tmp)`` as a matrix row."""

    def deco(fn: Callable[[Path], Any]) -> Callable[[Path], Any]:
        CASES.append(Raises(stage, broken, fn, message, error))
        return fn

    return deco


CE, SE = errors.ConfigError, errors.ConfigError


# --- config (config/config.yaml)
@case("config", "chunking.loci_per_chunk = 0",
        "config: key 'chunking.loci_per_chunk': found 0; expected integer >= 1", CE)
def _(tmp):
    load_config(tmp, lambda c: c["chunking"].update(loci_per_chunk=0))


@case("config", "methods is an empty list",
        "config: key 'methods': found []; expected array of at least 1 item without repeats from 'tgvis', 'ctwas', 'tgfm'", CE)
def _(tmp):
    load_config(tmp, lambda c: c.update(methods=[]))


@case("config", "tgvis.inf_mode misspelt",
        "config: key 'tgvis.inf_mode': found 'REML'; expected one of 'reml', 'fixed', 'none'", CE)
def _(tmp):
    load_config(tmp, lambda c: c.update(tgvis={"inf_mode": "REML"}))


@case("config", "resources.finemap.mem_mb not a number",
        "config: key 'resources.finemap.mem_mb': found '4G'; expected integer >= 100", CE)
def _(tmp):
    load_config(tmp, lambda c: c["resources"].update(finemap={"mem_mb": "4G"}))


@case("config", "loci.ld_blocks names a missing BED file",
        "config key 'loci.ld_blocks': file 'blocks.bed' does not exist", CE)
def _(tmp):
    load_config(tmp, lambda c: c["loci"].update(ld_blocks="blocks.bed"))


@case("config", "enrichment.gene_annotation names a missing file",
        "config key 'enrichment.gene_annotation': file 'genes.tsv' does not exist", CE)
def _(tmp):
    load_config(tmp, lambda c: c.update(enrichment={"gene_annotation": "genes.tsv"}))


@case("config", "panel.keep names a missing file", "config key 'panel.keep': file 'keep.txt' does not exist", CE)
def _(tmp):
    load_config(tmp, lambda c: c["panel"].update(keep="keep.txt"))


@case("config", "panel.bfile {chrom} pattern matches nothing",
        "config key 'panel.bfile': no file matches 'panel/chr{chrom}.bed' (expected one file per chromosome)", CE)
def _(tmp):
    load_config(tmp, lambda c: (c["simulate"].update(enabled=False),
                                c["panel"].update(bfile="panel/chr{chrom}")))


# --- sample sheets (config/gwas.tsv, config/xqtl.tsv)
@case("sheets", "gwas sheet file missing",
        "gwas_sheet: file '{tmp}/config/traits.tsv' does not exist (expected a tab-separated sheet)", SE)
def _(tmp):
    load_config(tmp, lambda c: c.update(gwas_sheet="config/traits.tsv"))


@case("sheets", "gwas sheet has a header and no rows",
        '{tmp}/config/gwas.tsv: the sheet has no rows (expected one row per trait)', SE)
def _(tmp):
    edit_sheet(tmp, "gwas", lambda d: d.iloc[:0])


@case("sheets", "xqtl sheet: unknown format",
        "{tmp}/config/xqtl.tsv, row 2: column 'format': found 'gtex'; expected one of 'gtex-parquet', 'eqtl-catalogue', 'predictdb', 'weights-long', 'fusion', 'eqtlcat-susie'", SE)
def _(tmp):
    edit_sheet(tmp, "xqtl", lambda d: d.assign(format=["gtex-parquet"] + ["gtex"] * (len(d) - 1)))


@case("sheets", "xqtl sheet: duplicate dataset",
        "{tmp}/config/xqtl.tsv: column 'dataset': duplicate value 'Liver_eQTL' (expected one row per dataset)", SE)
def _(tmp):
    edit_sheet(tmp, "xqtl", lambda d: d.assign(dataset=["Liver_eQTL"] * len(d)))


@case("sheets", "xqtl sheet: n = 0",
        "{tmp}/config/xqtl.tsv, row 2: column 'n': found 0.0; expected number or null > 0", SE)
def _(tmp):
    edit_sheet(tmp, "xqtl", lambda d: d.assign(n=["300", "0"] + list(d["n"][2:])))


@case("sheets", "xqtl sheet: dataset name with a space",
        "{tmp}/config/xqtl.tsv, row 1: column 'dataset': found 'Liver eQTL'; expected string matching ^[A-Za-z0-9][A-Za-z0-9_.-]*$", SE)
def _(tmp):
    edit_sheet(tmp, "xqtl", lambda d: d.assign(dataset=["Liver eQTL"] + list(d["dataset"][1:])))


@case("sheets", "xqtl sheet: covariance file missing",
        "config/xqtl.tsv, row 2: column 'covariance': file '{tmp}/cov.txt.gz' does not exist", SE)
def _(tmp):
    edit_sheet(tmp, "xqtl", lambda d: d.assign(covariance=["", "cov.txt.gz"] + [""] * (len(d) - 2)))


# --- panel (PLINK fileset, keep file, genotype store)
@case("panel", ".bim with a non-integer position",
        "{tmp}/pan.bim: column 'pos', row 4: not a number in .bim (found '4e2x'; expected an integer base-pair position)", errors.PanelError)
def _(tmp):
    from twasflow.io.panel import build_panel_store

    bim = [f"1\trs{i}\t0\t{100 * (i + 1)}\tG\tA" for i in range(6)]
    bim[3] = "1\trs3\t0\t4e2x\tG\tA"
    build_panel_store(tmp / "s", bfile=str(write_bfile(tmp, bim_lines=bim)))


@case("panel", ".bim row with 5 fields",
        '{tmp}/pan.bim: row 3: missing field in .bim (expected 6 columns)', errors.PanelError)
def _(tmp):
    from twasflow.io.panel import build_panel_store

    bim = [f"1\trs{i}\t0\t{100 * (i + 1)}\tG\tA" for i in range(6)]
    bim[2] = "1\trs2\t0\t300\tG"
    build_panel_store(tmp / "s", bfile=str(write_bfile(tmp, bim_lines=bim)))


@case("panel", ".fam row with 5 fields",
        '{tmp}/pan.fam: row 5: missing field in .fam (found 5 fields; expected 6 columns)', errors.PanelError)
def _(tmp):
    from twasflow.io.panel import build_panel_store

    fam = [f"S{i}\tS{i}\t0\t0\t0\t-9" for i in range(8)]
    fam[4] = "S4\tS4\t0\t0\t0"
    build_panel_store(tmp / "s", bfile=str(write_bfile(tmp, fam_lines=fam)))


@case("panel", ".bed truncated",
        '{tmp}/pan.bed: .bed size does not match .bim/.fam (found 13 bytes; expected 15 bytes = 3 + 6 variants x 2 bytes (8 samples))', errors.PanelError)
def _(tmp):
    from twasflow.io.panel import build_panel_store

    prefix = write_bfile(tmp)
    bed = prefix.with_suffix(".bed")
    bed.write_bytes(bed.read_bytes()[:-2])
    build_panel_store(tmp / "s", bfile=str(prefix))


@case("panel", "keep file names no panel sample",
        '{tmp}/keep.txt: no panel sample is in the keep file (expected sample ids present in the panel)', errors.PanelError)
def _(tmp):
    from twasflow.io.panel import build_panel_store

    build_panel_store(tmp / "s", bfile=str(write_bfile(tmp)), keep=str(write(tmp, "keep.txt", "X1\nX2\n")))


@case("panel", "maf_min = 0.5",
        "column 'maf_min': invalid maf_min (found 0.5; expected 0 <= maf_min < 0.5)", errors.PanelError)
def _(tmp):
    from twasflow.io.panel import build_panel_store

    build_panel_store(tmp / "s", bfile=str(write_bfile(tmp)), maf_min=0.5)


@case("panel", "genotype store directory without panel.json",
        '{tmp}/store/panel.json: not a genotype store (panel.json missing)', errors.PanelError)
def _(tmp):
    from twasflow.io.panel import Panel

    (tmp / "store").mkdir()
    Panel(tmp / "store")


# --- GWAS summary statistics
@case("gwas", "GWAS-SSF with neither beta/se nor z",
        "{tmp}/nobeta.tsv: column 'beta': GWAS-SSF effect column is missing (found columns ['chromosome', 'base_pair_location', 'effect_allele', 'other_allele', 'p_value']; expected one of beta, odds_ratio, hazard_ratio, z)", errors.HarmonizeError)
def _(tmp):
    text = "chromosome\tbase_pair_location\teffect_allele\tother_allele\tp_value\n1\t100\tG\tA\t0.01\n"
    harmonize_gwas(tmp, write(tmp, "nobeta.tsv", text))


@case("gwas", "GWAS-SSF position column holds text in every row",
        "{tmp}/pos.tsv: column 'base_pair_location', row 1: column is not numeric (found 'pos0'; expected numbers)", errors.HarmonizeError)
def _(tmp):
    rows = "".join(f"1\tpos{i}\tG\tA\t0.1\t0.05\t0.04\n" for i in range(5))
    harmonize_gwas(tmp, write(tmp, "pos.tsv", SSF_HEADER + rows))


# --- xQTL summary statistics
@case("xqtl", "GTEx parquet file is not Parquet",
        '{tmp}/L.chr1.parquet: cannot read Parquet (found Parquet magic bytes not found in footer. Either the file is corrupted or this is not a parquet file.; expected a Parquet file)', errors.HarmonizeError)
def _(tmp):
    (tmp / "L.chr1.parquet").write_bytes(b"PAR1 this is not parquet")
    harmonize_xqtl(tmp, str(tmp / "L.chr{chrom}.parquet"))


@case("xqtl", "GTEx pattern matches no file",
        "{tmp}/nothing.chr{chrom}.parquet: column 'path': no per-chromosome file of the pattern exists (found none of nothing.chr1.parquet … nothing.chrX.parquet; expected one Parquet file per chromosome)", errors.HarmonizeError)
def _(tmp):
    harmonize_xqtl(tmp, str(tmp / "nothing.chr{chrom}.parquet"))


@case("xqtl", "gene map lacks the gene_id column",
        "{tmp}/gm.tsv: column 'gene_id': gene map lacks a column (found columns ['phenotype_id', 'gene']; expected columns phenotype_id, gene_id)", errors.HarmonizeError)
def _(tmp):
    gm = write(tmp, "gm.tsv", "phenotype_id\tgene\nENSG1.1\tENSG1\n")
    harmonize_xqtl(tmp, gtex(tmp, "L"), gene_map=gm)


@case("xqtl", "gene map file missing",
        "{tmp}/gm.tsv: column 'gene_map': gene map does not exist (expected a TSV with columns phenotype_id, gene_id)", errors.HarmonizeError)
def _(tmp):
    harmonize_xqtl(tmp, gtex(tmp, "L"), gene_map=tmp / "gm.tsv")


@case("xqtl", "eQTL Catalogue file without sample size",
        "{tmp}/e.tsv: column 'an': sample size missing everywhere (found no n in the sheet and no 'an' column; expected the sheet's n or an 'an' column)", errors.HarmonizeError)
def _(tmp):
    text = ("molecular_trait_id\tchromosome\tposition\tref\talt\tbeta\tse\tpvalue\n"
            "ENSG1\t1\t100\tA\tG\t0.1\t0.05\t0.04\n")
    harmonize_xqtl(tmp, str(write(tmp, "e.tsv", text)), fmt="eqtl-catalogue", n=None)


# --- prediction models (PredictDB, weights-long)
@case("models", "weights-long table without a weight column",
        "{tmp}/w.tsv: column 'weight': missing column (found ['model', 'variant_id', 'effect_allele', 'beta'])")
def _(tmp):
    from twasflow.io.predictdb import read_weights_long

    read_weights_long(write(tmp, "w.tsv", "model\tvariant_id\teffect_allele\tbeta\nG1\t1:100:A:G\tG\t0.1\n"))


@case("models", "weights-long variant_id not chrom:pos:other:effect",
        "{tmp}/w.tsv: column 'variant_id', row 1: variant_id is not chrom:pos:other:effect (found 'rs100')")
def _(tmp):
    from twasflow.io.predictdb import read_weights_long

    read_weights_long(write(tmp, "w.tsv", "model\tvariant_id\teffect_allele\tweight\nG1\trs100\tG\t0.1\n"))


@case("models", "PredictDB weights table lacks columns",
        "{tmp}/m.db: column 'ref_allele, eff_allele': the weights table lacks columns (found ['gene', 'rsid', 'weight']; expected gene, rsid, ref_allele, eff_allele, weight (and varID, optional))")
def _(tmp):
    from twasflow.io.predictdb import read_predictdb

    db = tmp / "m.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE weights (gene TEXT, rsid TEXT, weight REAL)")
    con.commit()
    con.close()
    read_predictdb(db)


@case("models", "PredictDB covariance VALUE not a number",
        "{tmp}/cov.txt.gz: column 'VALUE', row 2: non-numeric covariance (found 'high'; expected a number)")
def _(tmp):
    from twasflow.io.predictdb import read_predictdb_covariance

    p = tmp / "cov.txt.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("GENE RSID1 RSID2 VALUE\nG1 rs1 rs1 0.5\nG1 rs1 rs2 high\n")
    read_predictdb_covariance(p)


# --- clump
@case("clump", "association file lacks the P column",
        "{tmp}/a.assoc: column 'P': no p-value column (found SNP PVAL)", errors.ClumpError)
def _(tmp):
    from twasflow.clump import run_clump

    run_clump(write_bfile(tmp), write(tmp, "a.assoc", "SNP\tPVAL\nrs1\t1e-9\n"), tmp / "out")


@case("clump", "p2 below p1",
        "column 'p2': p2 smaller than p1 (found 1e-06; expected >= p1 = 0.0001)", errors.ClumpError)
def _(tmp):
    from twasflow.clump import run_clump

    run_clump(write_bfile(tmp), write(tmp, "a.assoc", "SNP\tP\nrs1\t1e-9\n"), tmp / "out", p1=1e-4, p2=1e-6)


@case("clump", "association file missing", '{tmp}/none.assoc: association file not found', errors.ClumpError)
def _(tmp):
    from twasflow.clump import run_clump

    run_clump(write_bfile(tmp), tmp / "none.assoc", tmp / "out")


# --- loci
@case("loci", "LD-block BED with a non-integer end",
        "{tmp}/b.bed: column 'end', row 2: not an integer (found '2k'; expected BED coordinates)")
def _(tmp):
    from twasflow.loci import read_blocks_bed

    read_blocks_bed(write(tmp, "b.bed", "1\t0\t1000\n1\t1000\t2k\n"))


@case("loci", ".clumped file without a BP column",
        "{tmp}/t.clumped: column 'BP': not a PLINK .clumped file (found CHR F SNP P; expected header with CHR F SNP BP P ...)")
def _(tmp):
    from twasflow.loci import read_clumped

    read_clumped(write(tmp, "t.clumped", " CHR    F   SNP    P\n 1 1 rs1 1e-9\n"))


@case("loci", "loci table lacks the checkpoint's columns",
        "{tmp}/loci.tsv: column 'lead_variant': not a loci table (found columns ['locus_id', 'chrom', 'start', 'end']; expected columns ['locus_id', 'chrom', 'start', 'end', 'lead_variant', 'lead_p', 'n_index_variants', 'chunk'])")
def _(tmp):
    from twasflow.loci import read_loci

    read_loci(write(tmp, "loci.tsv", "locus_id\tchrom\tstart\tend\nT.1_1_2\t1\t1\t2\n"))


# --- per-locus stages
@case("locus_inputs", "a locus id absent from the chunk manifest",
        "{tmp}/manifest.json: column 'locus_id': no such locus (found 'T.1_5_9')")
def _(tmp):
    from twasflow.chunks import chunk_loci

    chunk_loci(write(tmp, "manifest.json", json.dumps({"loci": [{"locus_id": "T.1_1_2"}]})), locus="T.1_5_9")


@case("loci", ".clumped file with a non-numeric BP",
        "{tmp}/t.clumped: column 'BP', row 1: not a number (found '12a'; expected an integer position)")
def _(tmp):
    from twasflow.loci import read_clumped

    read_clumped(write(tmp, "t.clumped", " CHR    F   SNP    BP    P\n 1 1 rs1 12a 1e-9\n"))


@case("loci", "loci table missing",
        "{tmp}/results/loci/T.tsv: loci table not found (expected the loci checkpoint's TSV)")
def _(tmp):
    from twasflow.loci import read_loci

    read_loci(tmp / "results" / "loci" / "T.tsv")


# ------------------------------------------------------------------------------------------------ counted drops


@dataclass(frozen=True)
class Counted:
    """A row of the matrix whose bad rows are dropped and counted in the stage's QC JSON."""

    stage: str
    broken: str
    run: Callable[[Path], tuple[dict, Path]]  # -> (returned QC dict, QC JSON path)
    n_input: int
    n_kept: int
    dropped: dict[str, int]


COUNTED: list[Counted] = []


def counted(stage: str, broken: str, n_input: int, n_kept: int, dropped: dict[str, int]):
    def deco(fn):
        COUNTED.append(Counted(stage, broken, fn, n_input, n_kept, dropped))
        return fn

    return deco


@counted("panel", "a variant listed twice and one monomorphic", 8, 6,
         {"duplicate_position_alleles": 1, "maf_below_min": 1, "multiallelic": 0, "not_snv": 0})
def _(tmp):
    from twasflow.io.panel import build_panel_store

    prefix = write_bfile(tmp, n_var=8)
    bim = [f"1\trs{i}\t0\t{100 * (i + 1)}\tG\tA" for i in range(8)]
    bim[5] = "1\trs5\t0\t500\tG\tA"  # same position and alleles as rs4
    prefix.with_suffix(".bim").write_text("\n".join(bim) + "\n")
    dos = np.random.default_rng(1).integers(0, 3, size=(8, 8))
    dos[:, 0], dos[:, 1] = 0, 2
    dos[7] = 0  # monomorphic
    prefix.with_suffix(".bed").write_bytes(bed_bytes(dos))
    meta = build_panel_store(tmp / "s", bfile=str(prefix), maf_min=0.01)
    return meta, tmp / "s" / "panel.json"


@counted("gwas", "a duplicated row, an NA p with no beta, a row off the panel", 6, 3,
         {"duplicate": 1, "missing_value": 1, "not_in_panel": 1})
def _(tmp):
    rows = ["1\t100\tG\tA\t0.1\t0.05\t0.04", "1\t200\tG\tA\t0.1\t0.05\t0.04",
            "1\t200\tG\tA\t0.1\t0.05\t0.04", "1\t300\tG\tA\tNA\tNA\tNA",
            "1\t350\tG\tA\t0.1\t0.05\t0.04", "1\t400\tA\tG\t-0.1\t0.05\t0.04"]
    qc = harmonize_gwas(tmp, write(tmp, "g.tsv", SSF_HEADER + "\n".join(rows) + "\n"))
    return qc, tmp / "g.qc.json"


@counted("xqtl", "GTEx rows: a duplicate pair, se = 0, a variant off the panel", 5, 2,
         {"duplicate": 1, "invalid_se": 1, "not_in_panel": 1})
def _(tmp):
    pattern = gtex(tmp, "L", phenotype_id=["ENSG1.1"] * 5,
                   variant_id=["chr1_100_A_G_b38", "chr1_100_A_G_b38", "chr1_200_A_G_b38", "chr1_250_A_G_b38",
                               "chr1_300_A_G_b38"],
                   tss_distance=[0] * 5, maf=[0.2] * 5, ma_samples=[3] * 5, ma_count=[3] * 5,
                   pval_nominal=[0.01] * 5, slope=[0.1] * 5, slope_se=[0.05, 0.05, 0.0, 0.05, 0.05])
    return harmonize_xqtl(tmp, pattern), tmp / "x.qc.json"


@counted("xqtl", "eQTL Catalogue rows: an indel and a non-numeric beta", 3, 1, {"indel": 1, "non_numeric": 1})
def _(tmp):
    text = ("molecular_trait_id\tchromosome\tposition\tref\talt\tbeta\tse\tpvalue\tan\n"
            "ENSG1\t1\t100\tA\tG\t0.1\t0.05\t0.04\t200\n"
            "ENSG1\t1\t200\tA\tGT\t0.1\t0.05\t0.04\t200\n"
            "ENSG1\t1\t300\tA\tG\tx\t0.05\t0.04\t200\n")
    return harmonize_xqtl(tmp, str(write(tmp, "e.tsv", text)), fmt="eqtl-catalogue"), tmp / "x.qc.json"


# ------------------------------------------------------------------------------------------------ CLI


@dataclass(frozen=True)
class Cli:
    """A row of the matrix run through the ``twasflow`` command: exit 1 and this last stderr line."""

    broken: str
    setup: Callable[[Path], list[str]]  # writes inputs, returns the argument list (cwd = tmp)
    message: str


CLI: list[Cli] = [
    Cli("loci: .clumped file missing",
        lambda t: ["loci", "--trait", "T", "--clumped", "none.clumped", "--out", "T.tsv"],
        "twasflow loci: error: none.clumped: .clumped file not found (expected the clump rule's output)"),
    Cli("panel: PLINK fileset missing", lambda t: ["panel", "--bfile", "nowhere/pan", "--out", "store"],
        'twasflow panel: error: nowhere/pan.fam: PLINK .fam file not found'),
    Cli("harmonize-gwas: input missing",
        lambda t: ["harmonize-gwas", "--input", "gwas.tsv", "--format", "gwas-ssf", "--out", "o.parquet", "--qc",
                   "o.json", "--panel", str(panel_store(t)), "--build", "GRCh38", "--n", "1000"],
        'twasflow harmonize-gwas: error: gwas.tsv: file does not exist (expected a readable summary-statistics file)'),
    Cli("locus-inputs: trait not in the sheet",
        lambda t: (config_dir(t), ["locus-inputs", "--trait", "HDL_sim", "--chunk", "c000"])[1],
        "twasflow locus-inputs: error: --trait 'HDL_sim': not in config/gwas.tsv (have LDL_sim, BMI_sim)"),
    Cli("xqtl-weights: loci checkpoint not run yet",
        lambda t: (config_dir(t), ["xqtl-weights", "--trait", "LDL_sim", "--locus", "LDL_sim.1_1_2"])[1],
        "twasflow xqtl-weights: error: results/loci/LDL_sim.tsv: loci table not found (expected the loci checkpoint's TSV)"),
    Cli("check-config: config file is not a mapping",
        lambda t: (write(t, "config/config.yaml", "- a\n- b\n"), ["check-config"])[1],
        'twasflow check-config: error: config: the configuration is not a mapping of keys (found a YAML list; expected key: value pairs)'),
    Cli("check-config: config file is not valid YAML",
        lambda t: (write(t, "config/config.yaml", "outdir: [a\n"), ["check-config"])[1],
        "twasflow check-config: error: config/config.yaml: not valid YAML: while parsing a flow sequence   in "
        "\"config/config.yaml\", line 1, column 9 expected ',' or ']', but got '<stream end>'   in "
        "\"config/config.yaml\", line 2, column 1"),
]


def test_locus_inputs_names_a_chunk_that_does_not_exist(tmp_path: Path) -> None:
    from twasflow.stages import locus_inputs

    loci = tmp_path / "T.tsv"
    loci.write_text("locus_id\tchrom\tstart\tend\tlead_variant\tlead_p\tn_index_variants\tchunk\n"
                    "T.1_1_100\t1\t1\t100\t1:50:A:G\t1e-9\t1\tc000\n")
    with pytest.raises(InputError) as e:
        locus_inputs("T", loci, "c999", tmp_path / "g.parquet", {}, tmp_path / "panel", tmp_path / "out",
                     tmp_path / "m.json", tmp_path / "logs", {})
    assert str(e.value) == f"{loci}: column 'chunk': no such chunk (found 'c999'; expected one of ['c000'])"


# ------------------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("row", CASES, ids=[f"{c.stage}: {c.broken}" for c in CASES])
def test_bad_input_raises_the_exact_message(row: Raises, tmp_path: Path) -> None:
    with pytest.raises(InputError) as ei:
        row.run(tmp_path)
    assert type(ei.value) is row.error
    assert str(ei.value) == row.message.replace("{tmp}", str(tmp_path))


@pytest.mark.parametrize("row", COUNTED, ids=[f"{c.stage}: {c.broken}" for c in COUNTED])
def test_bad_rows_are_dropped_and_counted(row: Counted, tmp_path: Path) -> None:
    qc, path = row.run(tmp_path)
    assert json.loads(path.read_text()) == qc  # the QC JSON on disk is what the stage returned
    kept = qc["n_kept"] if "n_kept" in qc else qc["n_variants"]  # the panel's panel.json says n_variants
    assert (qc["n_input"], kept, qc["dropped"]) == (row.n_input, row.n_kept, row.dropped)
    assert qc["n_input"] == kept + sum(qc["dropped"].values())


@pytest.mark.parametrize("row", CLI, ids=[c.broken for c in CLI])
def test_cli_prints_one_line_and_exits_1(row: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    args = row.setup(tmp_path)
    capsys.readouterr()
    assert run_cli(args, capsys) == row.message.replace("{tmp}", str(tmp_path))


def test_matrix_size() -> None:
    """The issue asks for >= 30 cases across all stages (with the other test files' cases)."""
    stages = {c.stage for c in CASES} | {c.stage for c in COUNTED} | {"cli"}
    assert len(CASES) + len(COUNTED) + len(CLI) >= 30
    assert stages >= {"config", "sheets", "panel", "gwas", "xqtl", "models", "clump", "loci", "locus_inputs", "cli"}
