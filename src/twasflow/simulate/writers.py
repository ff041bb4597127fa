"""File writers of the bundled example: PLINK 1 binary, bgzipped VCF + tabix, GTEx parquet, GWAS-SSF.

Every writer is atomic (temporary name in the destination directory, then rename) and deterministic (no
timestamps, no temporary names inside compressed headers).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pysam

from twasflow.io.tables import atomic_path, write_parquet

# GRCh38 primary-assembly lengths of the contigs the example uses (declared in the VCF header).
GRCH38_LENGTHS = {"1": 248_956_422, "2": 242_193_529}

# GTEx v8 all-pairs parquet columns and types (tensorQTL map_nominal output).
GTEX_SCHEMA = pa.schema(
    [
        ("phenotype_id", pa.string()),
        ("variant_id", pa.string()),
        ("tss_distance", pa.int32()),
        ("maf", pa.float32()),
        ("ma_samples", pa.int32()),
        ("ma_count", pa.int32()),
        ("pval_nominal", pa.float64()),
        ("slope", pa.float32()),
        ("slope_se", pa.float32()),
    ]
)


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_gzip_text(text: str, path: Path) -> None:
    """Gzip ``text`` to ``path`` atomically with an empty name field and mtime 0 (byte-identical reruns)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write(text.encode())


def plink_bed_bytes(dosage: np.ndarray) -> bytes:
    """SNP-major PLINK 1 ``.bed`` content for ALT dosages with A1 = ALT.

    Parameters
    ----------
    dosage : ndarray, shape (M, n), integers in {0, 1, 2}
        ALT (A1) copies per variant and sample.

    Notes
    -----
    Each sample takes two bits, low bits first: 00 = two A1 copies, 10 = heterozygous, 11 = two A2 copies
    (01 = missing, unused). Rows are padded to whole bytes with zero bits.
    """
    m, n = dosage.shape
    code = np.array([0b11, 0b10, 0b00], dtype=np.uint8)[dosage.astype(np.intp)]
    pad = (-n) % 4
    if pad:
        code = np.concatenate([code, np.zeros((m, pad), np.uint8)], axis=1)
    c = code.reshape(m, -1, 4)
    packed = c[:, :, 0] | (c[:, :, 1] << 2) | (c[:, :, 2] << 4) | (c[:, :, 3] << 6)
    return bytes([0x6C, 0x1B, 0x01]) + packed.astype(np.uint8).tobytes()


def write_plink(prefix: Path, bim: pd.DataFrame, dosage: np.ndarray, samples: list[str]) -> list[Path]:
    """Write ``{prefix}.bed/.bim/.fam``.

    Parameters
    ----------
    bim : DataFrame with ``chrom, rsid, cm, pos, a1, a2`` (M rows, A1 = counted = ALT).
    dosage : ndarray, shape (M, n), A1 dosages.
    samples : n sample ids (FID = IID, no parents, sex 0, phenotype -9).
    """
    paths = [Path(f"{prefix}.bed"), Path(f"{prefix}.bim"), Path(f"{prefix}.fam")]
    with atomic_path(paths[0]) as tmp:
        tmp.write_bytes(plink_bed_bytes(dosage))
    cm = bim["cm"].map(lambda x: f"{x:.6f}")
    lines = (
        bim["chrom"].astype(str) + "\t" + bim["rsid"] + "\t" + cm + "\t" + bim["pos"].astype(str)
        + "\t" + bim["a1"] + "\t" + bim["a2"]
    )
    with atomic_path(paths[1]) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    with atomic_path(paths[2]) as tmp:
        tmp.write_text("".join(f"{s}\t{s}\t0\t0\t0\t-9\n" for s in samples))
    return paths


def write_vcf(
    path: Path,
    chrom: str,
    pos: np.ndarray,
    rsid: np.ndarray,
    ref: np.ndarray,
    alt: np.ndarray,
    hap: np.ndarray,
    samples: list[str],
    build: str = "GRCh38",
) -> list[Path]:
    """Write one chromosome as a phased, bgzipped, tabix-indexed VCF (contig names without ``chr``).

    Parameters
    ----------
    hap : ndarray, shape (M, 2 n), int8
        ALT indicators; sample ``i`` owns columns ``2 i`` (first GT allele) and ``2 i + 1``.
    """
    path = Path(path)
    header = [
        "##fileformat=VCFv4.2",
        "##source=twasflow.simulate.example",
        f"##reference={build}",
        f"##contig=<ID={chrom},length={GRCH38_LENGTHS.get(chrom, int(pos.max()) + 1)},assembly={build}>",
        '##INFO=<ID=AF,Number=A,Type=Float,Description="ALT allele frequency in the panel">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Phased genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]),
    ]
    gt = np.array(["0|0", "0|1", "1|0", "1|1"], dtype=object)[2 * hap[:, 0::2] + hap[:, 1::2]]
    af = hap.mean(axis=1)
    lines = [
        f"{chrom}\t{p}\t{r}\t{a1}\t{a2}\t.\tPASS\tAF={f:.4f}\tGT\t" + "\t".join(row)
        for p, r, a1, a2, f, row in zip(pos.tolist(), rsid, ref, alt, af.tolist(), gt)
    ]
    tbi = Path(f"{path}.tbi")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".vcf.") as td:
        plain = Path(td) / "x.vcf"
        plain.write_text("\n".join(header + lines) + "\n")
        bgz = Path(td) / "x.vcf.gz"
        pysam.tabix_compress(str(plain), str(bgz), force=True)
        pysam.tabix_index(str(bgz), preset="vcf", force=True)
        os.replace(bgz, path)
        os.replace(Path(f"{bgz}.tbi"), tbi)
    return [path, tbi]


def write_gtex_parquet(cols: dict[str, np.ndarray], path: Path) -> None:
    """Write GTEx v8 all-pairs columns (see :data:`GTEX_SCHEMA`) as zstd parquet."""
    arrays = [pa.array(cols[f.name], type=f.type) for f in GTEX_SCHEMA]
    write_parquet(pa.Table.from_arrays(arrays, schema=GTEX_SCHEMA), path)


def format_gwas_ssf(df: pd.DataFrame) -> str:
    """Render GWAS-SSF rows as tab-separated text with realistic precision (``NA`` for missing)."""

    def g6(x: pd.Series) -> list[str]:
        return ["NA" if not np.isfinite(v) else f"{v:.6g}" for v in x.to_numpy(dtype=float).tolist()]

    cols = {
        "chromosome": df["chromosome"].astype(str).tolist(),
        "base_pair_location": df["base_pair_location"].astype(str).tolist(),
        "effect_allele": df["effect_allele"].astype(str).tolist(),
        "other_allele": df["other_allele"].astype(str).tolist(),
        "beta": g6(df["beta"]),
        "standard_error": g6(df["standard_error"]),
        "effect_allele_frequency": [f"{v:.4f}" for v in df["effect_allele_frequency"].to_numpy(float).tolist()],
        "p_value": g6(df["p_value"]),
        "rsid": df["rsid"].astype(str).tolist(),
        "n": df["n"].astype(np.int64).astype(str).tolist(),
    }
    lines = ["\t".join(cols)] + ["\t".join(row) for row in zip(*cols.values())]
    return "\n".join(lines) + "\n"
