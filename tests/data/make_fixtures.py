"""Rebuild the test fixtures carried in this folder from the project's reference data (``../shared``).

The test suite must run on a clean clone without ``../shared``; these are the subsets of it that the tests read,
in the same layout (``oracle/``, ``genotypes/``, ``ctwas_LDL_chr16/``, ``gene_annotation/``, ``gene_lists/``),
shrunk where a test does not need the whole file. Every step is deterministic; rerunning it reproduces the files
byte for byte (gzip without a timestamp).

Usage (from the repository root; needs ``../shared`` or ``TWASFLOW_SHARED=/path/to/shared``):

    python tests/data/make_fixtures.py
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import sqlite3  # noqa: F401  (documents that expression_Liver.db is an SQLite file, copied as is)
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
SRC = Path(os.environ.get("TWASFLOW_SHARED", HERE.parents[2] / "shared"))


def gz_write(path: Path, data: bytes) -> None:
    """gzip -9 without file name or timestamp (byte-identical reruns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as fh:
        fh.write(data)
    path.write_bytes(buf.getvalue())


def copy(rel: str, dst: str | None = None) -> None:
    d = HERE / (dst or rel)
    d.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SRC / rel, d)


def link(target_rel: str, at: str) -> None:
    """A relative symlink (the oracle's PLINK windows are byte-identical copies of the genotype windows)."""
    p = HERE / at
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.is_symlink() or p.exists():
        p.unlink()
    p.symlink_to(os.path.relpath(HERE / target_rel, p.parent))


def genotypes() -> None:
    g = "data/genotypes"
    for c in (2, 12, 18, 22):
        for ext in ("bed", "bim", "fam"):
            copy(f"{g}/1000G.EUR.hg19.chr{c}_20-21Mb.{ext}", f"genotypes/1000G.EUR.hg19.chr{c}_20-21Mb.{ext}")
    for ext in ("vcf.gz", "vcf.gz.tbi"):  # only chr22's VCF is read (test_panel)
        copy(f"{g}/1000G.EUR.hg19.chr22_20-21Mb.{ext}", f"genotypes/1000G.EUR.hg19.chr22_20-21Mb.{ext}")
    # BOLT-LMM file: every row, only the columns a test or a PLINK oracle run reads
    cols = ["SNP", "CHR", "BP", "ALLELE1", "ALLELE0", "A1FREQ", "BETA", "SE", "P_BOLT_LMM"]
    with gzip.open(SRC / g / "polypred_1000G_EUR" / "bolt.sumstats.txt.gz", "rt") as fh:
        lines = fh.read().splitlines()
    head = lines[0].split("\t")
    idx = [head.index(c) for c in cols]
    out = "\n".join("\t".join(f[i] for i in idx) for f in (ln.split("\t") for ln in lines)) + "\n"
    gz_write(HERE / "genotypes" / "polypred_1000G_EUR" / "bolt.sumstats.txt.gz", out.encode())


def oracle_plink() -> None:
    p = "oracle/plink"
    for c in (18, 22):
        for ext in ("bed", "bim", "fam"):
            link(f"genotypes/1000G.EUR.hg19.chr{c}_20-21Mb.{ext}", f"{p}/chr{c}_window.{ext}")
    for f in ("chr22_window_miss3pct.bed", "chr22_window_miss3pct.bim", "chr22_window_miss3pct.fam",
              "chr18_assoc_plink.assoc", "chr22_assoc_plink.assoc", "chr22_bolt_custom.txt", "ld_keep_100.txt",
              "ld_variants_300.txt"):
        copy(f"{p}/{f}")
    for f in sorted((SRC / p / "expected").iterdir()):
        if f.name != "ld_r_square.ld.gz":
            copy(f"{p}/expected/{f.name}")
    # the 2000 x 2000 --r square run (11 MB) shrunk to every 4th variant: PLINK's r of a pair does not depend on
    # the other extracted variants (no missing calls in this window), so the sub-matrix is what
    # `plink1.9 --r square --extract ld_variants_500.txt` prints
    ids = (SRC / p / "ld_variants_2000.txt").read_text().split()
    keep = list(range(0, len(ids), 4))
    (HERE / p / "ld_variants_500.txt").write_text("".join(ids[i] + "\n" for i in keep))
    with gzip.open(SRC / p / "expected" / "ld_r_square.ld.gz", "rt") as fh:
        rows = fh.read().splitlines()
    sub = "".join("\t".join(rows[i].split("\t")[j] for j in keep) + "\n" for i in keep)
    gz_write(HERE / p / "expected" / "ld_r_square_500.ld.gz", sub.encode())
    copy("oracle/README.md")


SYMMETRIC = ("oracle/expected/_inputs/N3w_R.tsv.gz", "oracle/expected/_inputs/N3w_R_nonpsd.tsv.gz",
             "oracle/expected/susie_05_suff_stat/XtX.tsv.gz")


def oracle_expected() -> None:
    e = "oracle/expected"
    for f in sorted((SRC / e).rglob("*")):
        if f.is_dir():
            continue
        rel = f.relative_to(SRC).as_posix()
        if f.suffix == ".json" and f.name != "call.json":  # expected/inputs/kriging JSON: gzip (7.5 MB -> 2 MB)
            gz_write(HERE / (rel + ".gz"), f.read_bytes())
        elif rel in SYMMETRIC:  # exactly symmetric 410 x 410: the lower triangle, text unchanged (4.3 -> 2.2 MB)
            with gzip.open(f, "rt") as fh:
                rows = fh.read().splitlines()
            low = "".join("\t".join(r.split("\t")[: i + 1]) + "\n" for i, r in enumerate(rows))
            gz_write(HERE / rel.replace(".tsv.gz", ".lower.tsv.gz"), low.encode())
        else:
            copy(rel)
    copy("oracle/README-susie-coloc.md")


def ctwas() -> None:
    c = "data/ctwas_LDL_chr16"
    for f in ("LDL_chr16.R_wgt.npz", "LDL_chr16.boundary_genes.tsv", "LDL_chr16.ctwas_parameters.json",
              "LDL_chr16.noLD.finemap_res.tsv.gz", "LDL_chr16.noLD.region_genes.tsv",
              "LDL_chr16.noLD.region_z_snp.tsv.gz", "LDL_chr16.noLD.screen_summary.tsv",
              "LDL_chr16.noLD.screened_regions_z_snp.tsv.gz", "LDL_chr16.regions.tsv",
              "LDL_chr16.weights.long.tsv.gz", "LDL_chr16.z_gene.tsv"):
        copy(f"{c}/derived/{f}", f"ctwas_LDL_chr16/derived/{f}")
    for f in ("expression_Liver.db", "expression_Liver.txt.gz", "LDL_chr16.weight_variants_info.tsv.gz"):
        copy(f"{c}/raw/{f}", f"ctwas_LDL_chr16/raw/{f}")
    # GWAS z of chr16 (226,208 rows, 3.4 MB): only rows of variants some weight refers to are ever looked up
    # (PredictDB Liver model rsids, cTWAS's long weights, the weight-variant info); the others cannot match
    con = sqlite3.connect(SRC / c / "raw" / "expression_Liver.db")
    ids = set(r[0] for r in con.execute("SELECT rsid FROM weights"))
    con.close()
    ids |= set(pd.read_csv(SRC / c / "derived" / "LDL_chr16.weights.long.tsv.gz", sep="\t")["variant_id"])
    ids |= set(pd.read_csv(SRC / c / "raw" / "LDL_chr16.weight_variants_info.tsv.gz", sep="\t")["variant_id"])
    with gzip.open(SRC / c / "raw" / "LDL_chr16.z_snp.tsv.gz", "rt") as fh:
        lines = fh.read().splitlines()
    out = [lines[0]] + [ln for ln in lines[1:] if ln.split("\t", 1)[0] in ids]
    gz_write(HERE / "ctwas_LDL_chr16" / "raw" / "LDL_chr16.z_snp.tsv.gz", ("\n".join(out) + "\n").encode())


def genes() -> None:
    # gene positions: the documented layout's columns (+ strand, biotype); drops entrez ids and long names
    src = SRC / "data/gene_annotation/genes_hg38_orgHsEgDb_3.16.tsv.gz"
    df = pd.read_csv(src, sep="\t", dtype=str, keep_default_na=False)
    df = df[["ensembl_gene_id", "symbol", "chrom", "start", "end", "strand", "biotype"]]
    gz_write(HERE / "gene_annotation" / "genes_hg38_orgHsEgDb_3.16.tsv.gz",
             df.to_csv(sep="\t", index=False, lineterminator="\n").encode())
    copy("data/gene_lists/ctwas_paper/LDL_silver_standard_69.tsv", "gene_lists/ctwas_paper/LDL_silver_standard_69.tsv")


NOTES = {
    "genotypes": ("data/genotypes/README.md",
                  "The four real 1000G EUR windows as PLINK filesets, byte-identical copies; of the VCFs only chr22's "
                  "(+ .tbi), the only one a test reads. `polypred_1000G_EUR/bolt.sumstats.txt.gz`: every one of the "
                  "82,448 rows, but only the columns tests and the PLINK oracle runs read (SNP CHR BP ALLELE1 ALLELE0 "
                  "A1FREQ BETA SE P_BOLT_LMM; values unchanged, re-gzipped), 3.9 -> 1.9 MB."),
    "genotypes/polypred_1000G_EUR": ("data/genotypes/polypred_1000G_EUR/README.md",
                                     "Columns kept: SNP CHR BP ALLELE1 ALLELE0 A1FREQ BETA SE P_BOLT_LMM (GENPOS INFO "
                                     "CHISQ_* P_LINREG P_BOLT_LMM_INF dropped; values and row order unchanged), so the "
                                     "md5 below no longer applies."),
    "oracle": ("oracle/README.md",
               "`plink/`: PLINK 1.9 oracle runs, copied unchanged except: `chr22_window.*`/`chr18_window.*` are "
               "symlinks to the identical genotype windows in `../genotypes/`; `ld_r_square.ld.gz` (2000 x 2000, "
               "11 MB) is replaced by `expected/ld_r_square_500.ld.gz`, its rows and columns of every 4th variant "
               "(`ld_variants_500.txt`; PLINK's r of a pair does not depend on the other extracted variants: no "
               "missing calls in this window). `expected/`: susieR 0.12.35 / coloc 5.2.3 cases "
               "(README-susie-coloc.md), unchanged except that every `expected.json`, `inputs.json`, "
               "`kriging.json` is gzip-compressed (`*.json.gz`, read by `tests/conftest.read_json`), and the three exactly symmetric 410 x 410 matrices (`_inputs/N3w_R`, `_inputs/N3w_R_nonpsd`, `susie_05_suff_stat/XtX`) are carried as their lower triangles (`*.lower.tsv.gz`, the text of each value unchanged; `tests/conftest.read_tsv_matrix` rebuilds the matrix exactly)."),
    "ctwas_LDL_chr16": ("data/ctwas_LDL_chr16/README.md",
                        "Only the files tests read: `derived/` (unchanged, without the make/ scripts' RDS inputs) and "
                        "`raw/expression_Liver.{db,txt.gz}`, `raw/LDL_chr16.weight_variants_info.tsv.gz` (unchanged). "
                        "`raw/LDL_chr16.z_snp.tsv.gz` keeps only the rows of variants that some weight refers to "
                        "(PredictDB Liver model rsids, cTWAS long weights, weight-variant info): the other rows can "
                        "never match a weight, so every count and z the tests check is unchanged."),
    "gene_annotation": ("data/gene_annotation/README.md",
                        "Columns kept: ensembl_gene_id symbol chrom start end strand biotype (entrez_id, gene_name, "
                        "n_locations dropped; rows unchanged)."),
    "gene_lists/ctwas_paper": ("data/gene_lists/ctwas_paper/README.md", "Copied unchanged."),
}


def readmes() -> None:
    for folder, (src, note) in NOTES.items():
        text = (f"# Test fixture: {folder}\n\nCopied from the project's reference data `../shared/{src.rsplit('/', 1)[0]}` "
                f"by `tests/data/make_fixtures.py` (rerun it to rebuild). {note}\n\n"
                f"The source's README follows.\n\n---\n\n" + (SRC / src).read_text())
        (HERE / folder / "README.md").write_text(text)


if __name__ == "__main__":
    if not SRC.is_dir():
        raise SystemExit(f"reference data not found at {SRC} (set TWASFLOW_SHARED)")
    genotypes()
    oracle_plink()
    oracle_expected()
    ctwas()
    genes()
    readmes()
    print("fixtures written under", HERE)
