"""The per-run genotype store: the reference panel converted once, read by position range afterwards.

Layout of a store directory:

- ``variants.parquet``: ``variant_id, chrom, pos, other_allele, counted_allele, rsid, counted_freq,
  n_called, row`` sorted by chromosome then position; ``row`` is the row in that chromosome's genotype file.
- ``samples.tsv``: ``fid, iid`` of the people kept, in panel order.
- ``{chrom}.geno.npy``: uint8 (M_chrom, ceil(N/4)), one PLINK 2-bit packed row per variant with the
  *counted* allele in the PLINK "A1" role (code 0 = two counted copies, 1 = missing, 2 = het, 3 = none;
  padding bits zero). Opened with ``mmap_mode="r"`` so a read touches only the rows asked for.
- ``panel.json``: number of people, source, variants per chromosome, dropped variants by reason.
- ``maf_dropped.parquet``: ``chrom, pos`` of the variants dropped for ``maf_min`` (harmonization counts rows
  there as ``panel_maf_below_min`` instead of ``not_in_panel``).

A PLINK panel counts A1 (bim column 5; other = A2, column 6) as stored; a VCF or PLINK 2 (``.pgen``) panel
counts ALT (other = REF). Multi-allelic records and non-SNV alleles are dropped, as are repeated (chrom, pos, other,
counted) entries after the first and variants with minor allele frequency below ``maf_min``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from twasflow.errors import PanelError
from twasflow.io.plink import (
    CODE_LUT,
    decode_codes,
    norm_chrom,
    open_bed,
    pack_codes,
    read_bim,
    read_fam,
)
from twasflow.io.tables import atomic_path, read_json, write_json, write_parquet, write_tsv
from twasflow.tables_schema import table

VARIANT_COLUMNS = table("panel_variants").names  # defined in twasflow.tables_schema
DROP_REASONS = ("not_snv", "multiallelic", "duplicate_position_alleles", "maf_below_min")
_BASES = {"A", "C", "G", "T"}
# 2-bit code -> counted-allele dosage (NaN missing)
_CODE_DOSAGE = np.array([2.0, np.nan, 1.0, 0.0])
_CODE_COUNT = np.array([2, 0, 1, 0], dtype=np.int64)
_CODE_CALLED = np.array([1, 0, 1, 1], dtype=np.int64)
_CHUNK = 16384
MAF_DROPPED = "maf_dropped.parquet"


def chrom_sort_key(c: str) -> tuple[int, int, str]:
    """Natural chromosome order: 1..22, then X, Y, XY, MT, then anything else alphabetically."""
    if c.isdigit():
        return (0, int(c), "")
    special = {"X": 23, "Y": 24, "XY": 25, "MT": 26}
    if c in special:
        return (1, special[c], "")
    return (2, 0, c)


# ----------------------------------------------------------------------------------------------------
# building
# ----------------------------------------------------------------------------------------------------


def _read_keep(keep: str | os.PathLike[str]) -> tuple[set[tuple[str, str]], set[str]]:
    path = Path(keep)
    if not path.is_file():
        raise PanelError.at("keep file not found", file=path)
    pairs: set[tuple[str, str]] = set()
    iids: set[str] = set()
    with open(path) as fh:
        for n, line in enumerate(fh, start=1):
            tok = line.split()
            if not tok:
                continue
            if len(tok) == 1:
                iids.add(tok[0])
            else:
                pairs.add((tok[0], tok[1]))
    if not pairs and not iids:
        raise PanelError.at("keep file lists no sample", file=path, expected="one IID or 'FID IID' per line")
    return pairs, iids


def _keep_rows(fid: Sequence[str], iid: Sequence[str], keep, *, match_iid_only: bool) -> np.ndarray:
    if keep is None:
        return np.arange(len(iid))
    pairs, iids = _read_keep(keep)
    pair_iids = {i for _, i in pairs}
    sel = []
    for r, (f, i) in enumerate(zip(fid, iid)):
        if i in iids or (f, i) in pairs or (match_iid_only and i in pair_iids):
            sel.append(r)
    if not sel:
        raise PanelError.at("no panel sample is in the keep file", file=keep,
                            expected="sample ids present in the panel")
    return np.asarray(sel, dtype=np.int64)


class _StoreWriter:
    """Collects one chromosome's variants and packed genotypes, applies the filters, writes the files."""

    def __init__(self, out_dir: Path, n_samples: int, maf_min: float) -> None:
        self.out_dir = out_dir
        self.n = n_samples
        self.maf_min = maf_min
        self.dropped = {r: 0 for r in DROP_REASONS}
        self.tables: list[pd.DataFrame] = []
        self.low_maf: list[pd.DataFrame] = []
        self.counts: dict[str, int] = {}
        self.n_input = 0

    def add_chrom(self, chrom: str, meta: pd.DataFrame, packed_chunks: Iterable[np.ndarray]) -> None:
        """``meta``: pos, other_allele, counted_allele, rsid in record order (already SNV-filtered);
        ``packed_chunks``: the matching packed rows, chunk by chunk, same order."""
        packed = np.concatenate(list(packed_chunks), axis=0) if len(meta) else np.zeros((0, (self.n + 3) // 4), np.uint8)
        order = np.argsort(meta["pos"].to_numpy(), kind="stable")
        meta = meta.iloc[order].reset_index(drop=True)
        packed = packed[order]
        dup = meta.duplicated(subset=["pos", "other_allele", "counted_allele"], keep="first").to_numpy()
        self.dropped["duplicate_position_alleles"] += int(dup.sum())
        meta = meta.loc[~dup].reset_index(drop=True)
        packed = packed[~dup]
        codes = CODE_LUT[packed].reshape(packed.shape[0], -1)[:, : self.n]
        called = _CODE_CALLED[codes].sum(axis=1)
        cnt = _CODE_COUNT[codes].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            freq = np.where(called > 0, cnt / (2.0 * np.maximum(called, 1)), np.nan)
        maf = np.minimum(freq, 1.0 - freq)
        low = ~(maf >= self.maf_min) if self.maf_min > 0 else np.isnan(freq) & False
        self.dropped["maf_below_min"] += int(low.sum())
        if low.any():
            self.low_maf.append(pd.DataFrame({"chrom": chrom, "pos": meta.loc[low, "pos"].to_numpy(np.int64)}))
        keep = ~low
        meta = meta.loc[keep].reset_index(drop=True)
        # re-pack so padding bits are always zero: bed- and VCF-built stores are then byte-identical
        packed = pack_codes(codes[keep]) if keep.size else packed
        if len(meta) == 0:
            return
        meta.insert(0, "chrom", chrom)
        meta["counted_freq"] = freq[keep]
        meta["n_called"] = called[keep].astype(np.int64)
        meta["row"] = np.arange(len(meta), dtype=np.int64)
        meta["variant_id"] = (chrom + ":" + meta["pos"].astype(str) + ":" + meta["other_allele"]
                              + ":" + meta["counted_allele"])
        self.tables.append(meta[VARIANT_COLUMNS])
        self.counts[chrom] = len(meta)
        with atomic_path(self.out_dir / f"{chrom}.geno.npy") as tmp:
            with open(tmp, "wb") as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(packed, dtype=np.uint8), allow_pickle=False)

    def finish(self, samples: pd.DataFrame, source: dict) -> dict:
        if not self.tables:
            raise PanelError.at("no variant left in the panel after filtering", file=source.get("path"),
                                found=f"dropped {self.dropped}")
        variants = pd.concat(self.tables, ignore_index=True)
        variants["pos"] = variants["pos"].astype(np.int64)
        # stale genotype files of chromosomes not written this time would confuse readers
        for f in self.out_dir.glob("*.geno.npy"):
            if f.name[: -len(".geno.npy")] not in self.counts:
                f.unlink()
        write_parquet(variants, self.out_dir / "variants.parquet")
        low = (pd.concat(self.low_maf, ignore_index=True) if self.low_maf
               else pd.DataFrame({"chrom": pd.Series([], dtype=str), "pos": np.zeros(0, np.int64)}))
        write_parquet(low, self.out_dir / MAF_DROPPED)
        write_tsv(samples[["fid", "iid"]], self.out_dir / "samples.tsv")
        meta = {
            "format": "twasflow-genotype-store-1",
            "n_samples": int(len(samples)),
            "n_variants": int(len(variants)),
            "n_input": int(self.n_input),
            "chroms": {c: int(n) for c, n in self.counts.items()},
            "dropped": {k: int(v) for k, v in self.dropped.items()},
            "source": source,
            "encoding": "PLINK 2-bit, counted allele in the A1 role; rows sorted by position",
        }
        write_json(meta, self.out_dir / "panel.json")
        return meta


def _snv_mask(a: pd.Series, b: pd.Series) -> np.ndarray:
    return (a.str.upper().isin(_BASES) & b.str.upper().isin(_BASES)).to_numpy()


def build_panel_store(
    out_dir: str | os.PathLike[str],
    *,
    bfile: str | os.PathLike[str] | None = None,
    vcf: str | os.PathLike[str] | None = None,
    keep: str | os.PathLike[str] | None = None,
    maf_min: float = 0.0,
    chroms: Sequence[str] | None = None,
    pgen: str | os.PathLike[str] | None = None,
) -> dict:
    """Convert a PLINK fileset or (per-chromosome) bgzipped VCFs into a genotype store in ``out_dir``.

    Parameters
    ----------
    bfile : PLINK prefix, or a pattern containing ``{chrom}`` (one fileset per chromosome, same samples);
        exclusive with ``vcf``.
    vcf : a ``.vcf.gz`` path, or a pattern containing ``{chrom}`` (one file per chromosome), each with a
        ``.tbi`` or ``.csi`` index.
    pgen : a PLINK 2 prefix (``.pgen/.pvar/.psam``) or a ``{chrom}`` pattern; ALT is counted (needs pgenlib).
    keep : file of sample ids (one IID per line, or ``FID IID``).
    maf_min : variants with minor allele frequency below this (in the kept people) are dropped.
    chroms : chromosomes to include (``chr`` prefix optional); default all in the panel.

    Returns
    -------
    The ``panel.json`` content (dict).
    """
    if sum(x is not None for x in (bfile, vcf, pgen)) != 1:
        raise PanelError.at("give exactly one of bfile, pgen or vcf", column="panel",
                            found=f"bfile={bfile!r}, pgen={pgen!r}, vcf={vcf!r}", expected="one panel source")
    if not (0.0 <= maf_min < 0.5):
        raise PanelError.at("invalid maf_min", column="maf_min", found=maf_min, expected="0 <= maf_min < 0.5")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    want = None if chroms is None else [str(c) for c in norm_chrom(pd.Series(list(chroms), dtype=str))]
    if bfile is not None:
        return _build_from_bed(out, bfile, keep, maf_min, want)
    if pgen is not None:
        return _build_from_pgen(out, str(pgen), keep, maf_min, want)
    return _build_from_vcf(out, str(vcf), keep, maf_min, want)


def _bed_files(bfile: str, want: list[str] | None, ext: str = ".bed") -> list[str]:
    """PLINK prefixes to read: ``bfile`` itself, or one per chromosome when it contains ``{chrom}``
    (``ext`` = ``.bed`` or ``.pgen``, the file that must exist for a prefix)."""
    if "{chrom}" not in bfile:
        return [bfile]
    chroms = want if want is not None else [str(i) for i in range(1, 23)] + ["X"]
    found = []
    for c in chroms:
        for cand in (bfile.format(chrom=c), bfile.format(chrom="chr" + c)):
            if os.path.exists(cand + ext):
                found.append(cand)
                break
        else:
            if want is not None:
                raise PanelError.at("PLINK fileset for chromosome not found", file=bfile.format(chrom=c) + ext,
                                    expected=f"a fileset for chromosome {c}")
    if not found:
        raise PanelError.at("no PLINK fileset matches the pattern", file=bfile + ext,
                            expected="files with {chrom} = 1..22, X")
    return found


def _fileset_chroms(chrom: pd.Series, want: list[str] | None, n_filesets: int, done: set[str], file: str
                    ) -> list[str]:
    """The chromosomes of one fileset to convert (natural order): those asked for (all of them must be there when
    the panel is one fileset), none already read from another fileset."""
    present = sorted(chrom.unique(), key=chrom_sort_key)
    if want is not None and n_filesets == 1:
        missing = [c for c in want if c not in set(present)]
        if missing:
            raise PanelError.at("chromosome not in the panel", file=file, found=",".join(missing),
                                expected=",".join(present))
    if want is not None:
        present = [c for c in present if c in set(want)]
    again = [c for c in present if c in done]
    if again:
        raise PanelError.at("chromosome split across filesets", file=file, found=again[0],
                            expected="each chromosome in one fileset")
    return present


def _build_from_bed(out: Path, bfile, keep, maf_min: float, want: list[str] | None) -> dict:
    prefixes = _bed_files(str(bfile), want)
    fam = read_fam(prefixes[0])
    for other in prefixes[1:]:
        f2 = read_fam(other)
        if not (f2["fid"].tolist() == fam["fid"].tolist() and f2["iid"].tolist() == fam["iid"].tolist()):
            raise PanelError.at("per-chromosome filesets list different samples", file=str(other) + ".fam",
                                expected=f"the samples of {prefixes[0]}.fam in the same order")
    srows = _keep_rows(fam["fid"].tolist(), fam["iid"].tolist(), keep, match_iid_only=False)
    samples = fam.iloc[srows][["fid", "iid"]].reset_index(drop=True)
    w = _StoreWriter(out, len(srows), maf_min)
    full = srows.size == len(fam) and np.array_equal(srows, np.arange(len(fam)))
    done: set[str] = set()
    for prefix in prefixes:
        bim = read_bim(prefix)
        bed = open_bed(prefix, len(bim), len(fam))
        present = _fileset_chroms(bim["chrom"], want, len(prefixes), done, str(prefix) + ".bim")
        w.n_input += int(bim["chrom"].isin(present).sum())
        for c in present:
            rows = np.flatnonzero((bim["chrom"] == c).to_numpy())
            sub = bim.iloc[rows]
            snv = _snv_mask(sub["a1"], sub["a2"])
            w.dropped["not_snv"] += int((~snv).sum())
            rows = rows[snv]
            sub = sub.loc[snv]
            meta = pd.DataFrame({
                "pos": sub["pos"].to_numpy(np.int64),
                "other_allele": sub["a2"].str.upper().to_numpy(),
                "counted_allele": sub["a1"].str.upper().to_numpy(),
                "rsid": sub["id"].to_numpy(),
            })

            def chunks(rows=rows, bed=bed):
                for s in range(0, rows.size, _CHUNK):
                    r = rows[s: s + _CHUNK]
                    if full:
                        yield np.asarray(bed[r])
                    else:
                        yield pack_codes(decode_codes(bed[r], len(fam), srows))

            w.add_chrom(c, meta, chunks())
            done.add(c)
    return w.finish(samples, {"type": "plink", "path": str(bfile), "keep": None if keep is None else str(keep),
                              "maf_min": maf_min})


def _build_from_pgen(out: Path, pgen: str, keep, maf_min: float, want: list[str] | None) -> dict:
    """A PLINK 2 fileset (or one per chromosome): ALT counted, REF other (see :mod:`twasflow.io.pgen`)."""
    from .pgen import PgenFile, read_psam, read_pvar

    prefixes = _bed_files(str(pgen), want, ext=".pgen")
    psam = read_psam(prefixes[0])
    for other in prefixes[1:]:
        if not read_psam(other)[["fid", "iid"]].equals(psam[["fid", "iid"]]):
            raise PanelError.at("per-chromosome filesets list different samples", file=str(other) + ".psam",
                                expected=f"the samples of {prefixes[0]}.psam in the same order")
    srows = _keep_rows(psam["fid"].tolist(), psam["iid"].tolist(), keep, match_iid_only=True)
    samples = psam.iloc[srows][["fid", "iid"]].reset_index(drop=True)
    w = _StoreWriter(out, len(srows), maf_min)
    # pgenlib returns samples in file order whatever the subset's order; _keep_rows keeps file order too
    full = srows.size == len(psam)
    done: set[str] = set()
    for prefix in prefixes:
        pvar = read_pvar(prefix)
        reader = PgenFile(prefix, len(pvar), len(psam), None if full else srows)
        present = _fileset_chroms(pvar["chrom"], want, len(prefixes), done, str(prefix) + ".pvar")
        w.n_input += int(pvar["chrom"].isin(present).sum())
        for c in present:
            rows = np.flatnonzero((pvar["chrom"] == c).to_numpy())
            sub = pvar.iloc[rows]
            multi = sub["alt"].str.contains(",").to_numpy()
            snv = _snv_mask(sub["ref"], sub["alt"]) & ~multi
            w.dropped["multiallelic"] += int(multi.sum())
            w.dropped["not_snv"] += int((~snv & ~multi).sum())
            rows, sub = rows[snv], sub.loc[snv]
            meta = pd.DataFrame({"pos": sub["pos"].to_numpy(np.int64), "other_allele": sub["ref"].str.upper().to_numpy(),
                                 "counted_allele": sub["alt"].str.upper().to_numpy(),
                                 "rsid": sub["id"].where(sub["id"] != ".", None).to_numpy()})

            def chunks(rows=rows, reader=reader):
                for s0 in range(0, rows.size, _CHUNK):
                    yield pack_codes(_COUNT_TO_CODE[reader.counts(rows[s0: s0 + _CHUNK])])

            w.add_chrom(c, meta, chunks())
            done.add(c)
        reader.close()
    return w.finish(samples, {"type": "pgen", "path": str(pgen), "keep": None if keep is None else str(keep),
                              "maf_min": maf_min})


def _index_exists(path: str) -> bool:
    return os.path.exists(path + ".tbi") or os.path.exists(path + ".csi")


def _vcf_files(vcf: str, want: list[str] | None) -> list[tuple[str | None, str]]:
    """(chrom or None, path) pairs to read."""
    if "{chrom}" in vcf:
        chroms = want if want is not None else [str(i) for i in range(1, 23)] + ["X"]
        files = []
        for c in chroms:
            for cand in (vcf.format(chrom=c), vcf.format(chrom="chr" + c)):
                if os.path.exists(cand):
                    files.append((c, cand))
                    break
            else:
                if want is not None:
                    raise PanelError.at("VCF for chromosome not found", file=vcf.format(chrom=c), found="no file",
                                        expected=f"a file for chromosome {c}")
        if not files:
            raise PanelError.at("no VCF matches the pattern", file=vcf, expected="files with {chrom} = 1..22, X")
        return files
    if not os.path.exists(vcf):
        raise PanelError.at("VCF not found", file=vcf)
    return [(None, vcf)]


def _parse_gt_block(fields: list[list[str]], n_all: int) -> np.ndarray:
    """Counted (ALT) allele counts, -1 missing, int8 (k, n_all) from split VCF data lines."""
    out = np.empty((len(fields), n_all), dtype=np.int8)
    for i, f in enumerate(fields):
        fmt = f[8]
        gts = f[9:]
        if len(gts) != n_all:
            raise PanelError.at("VCF line has the wrong number of sample columns",
                                found=f"{len(gts)} at {f[0]}:{f[1]}", expected=str(n_all))
        if not fmt.startswith("GT"):
            raise PanelError.at("VCF FORMAT does not start with GT", found=fmt, expected="GT first")
        if fmt != "GT":
            gts = [g.split(":", 1)[0] for g in gts]
        s = "\t".join(gts) + "\t"
        if len(s) == 4 * n_all:
            b = np.frombuffer(s.encode(), dtype=np.uint8).reshape(n_all, 4)
            a0 = b[:, 0].astype(np.int16) - 48
            a1 = b[:, 2].astype(np.int16) - 48
            miss = (b[:, 0] == 46) | (b[:, 2] == 46)  # '.'
            bad = ~miss & ((a0 < 0) | (a0 > 1) | (a1 < 0) | (a1 > 1) | ~np.isin(b[:, 1], (47, 124)))
            if bad.any():
                j = int(np.flatnonzero(bad)[0])
                raise PanelError.at("unsupported genotype", found=f"{gts[j]!r} at {f[0]}:{f[1]}",
                                    expected="0, 1 or . alleles in a biallelic record")
            out[i] = np.where(miss, -1, a0 + a1)
        else:
            out[i] = [_gt_one(g, f) for g in gts]
    return out


def _gt_one(g: str, f: list[str]) -> int:
    al = re.split(r"[/|]", g)
    if any(a == "." for a in al):
        return -1
    if not all(a in ("0", "1") for a in al) or len(al) > 2:
        raise PanelError.at("unsupported genotype", found=f"{g!r} at {f[0]}:{f[1]}",
                            expected="0, 1 or . alleles, haploid or diploid")
    v = sum(int(a) for a in al)
    return 2 * v if len(al) == 1 else v  # haploid calls count as homozygous (PLINK convention)


_COUNT_TO_CODE = np.array([3, 2, 0, 1], dtype=np.uint8)  # index by count (0, 1, 2, -1 -> 3)


def _build_from_vcf(out: Path, vcf: str, keep, maf_min: float, want: list[str] | None) -> dict:
    import pysam

    files = _vcf_files(vcf, want)
    samples_ref: list[str] | None = None
    w: _StoreWriter | None = None
    srows = None
    per_chrom: dict[str, tuple[list[pd.DataFrame], list[np.ndarray]]] = {}
    n_input = 0
    dropped_pre = {"not_snv": 0, "multiallelic": 0}
    for fchrom, path in files:
        if not _index_exists(path):
            raise PanelError.at("VCF index not found", file=path, found="no .tbi or .csi",
                                expected="bgzipped VCF indexed with tabix -p vcf")
        try:
            tbx = pysam.TabixFile(path)
        except (OSError, ValueError) as e:
            raise PanelError.at("cannot open VCF with its index", file=path, found=str(e),
                                expected="bgzipped VCF (bgzip) with a tabix index") from e
        with tbx:
            header = [h for h in tbx.header]
            if not header or not header[-1].startswith("#CHROM"):
                raise PanelError.at("VCF header line #CHROM not found", file=path)
            names = header[-1].rstrip("\n").split("\t")[9:]
            if samples_ref is None:
                samples_ref = names
                srows = _keep_rows(names, names, keep, match_iid_only=True)
                w = _StoreWriter(out, srows.size, maf_min)
            elif names != samples_ref:
                raise PanelError.at("VCF files list different samples", file=path,
                                    expected=f"the samples of {files[0][1]}")
            contigs = list(tbx.contigs)
            for contig in contigs:
                c = str(norm_chrom(pd.Series([contig])).iloc[0])
                if fchrom is not None and c != fchrom:
                    continue
                if want is not None and c not in want:
                    continue
                metas, packs = per_chrom.setdefault(c, ([], []))
                buf: list[list[str]] = []

                def flush():
                    if not buf:
                        return
                    ref = pd.Series([f[3] for f in buf])
                    alt = pd.Series([f[4] for f in buf])
                    multi = alt.str.contains(",").to_numpy()
                    snv = _snv_mask(ref, alt) & ~multi
                    dropped_pre["multiallelic"] += int(multi.sum())
                    dropped_pre["not_snv"] += int((~snv & ~multi).sum())
                    keep_idx = np.flatnonzero(snv)
                    if keep_idx.size:
                        kept = [buf[i] for i in keep_idx]
                        cnt = _parse_gt_block(kept, len(samples_ref))[:, srows]
                        codes = _COUNT_TO_CODE[cnt]
                        packs.append(pack_codes(codes))
                        metas.append(pd.DataFrame({
                            "pos": np.array([int(f[1]) for f in kept], dtype=np.int64),
                            "other_allele": ref.iloc[keep_idx].str.upper().to_numpy(),
                            "counted_allele": alt.iloc[keep_idx].str.upper().to_numpy(),
                            "rsid": [None if f[2] == "." else f[2] for f in kept],
                        }))
                    buf.clear()

                for line in tbx.fetch(contig):
                    buf.append(line.split("\t"))
                    n_input += 1
                    if len(buf) >= 4096:
                        flush()
                flush()
    assert w is not None and samples_ref is not None and srows is not None
    if want is not None:
        absent = [c for c in want if c not in per_chrom]
        if absent:
            raise PanelError.at("chromosome not in the VCF", file=vcf, found=",".join(absent))
    w.n_input = n_input
    w.dropped.update(dropped_pre)
    for c in sorted(per_chrom, key=chrom_sort_key):
        metas, packs = per_chrom[c]
        meta = pd.concat(metas, ignore_index=True) if metas else pd.DataFrame(
            {"pos": np.zeros(0, np.int64), "other_allele": [], "counted_allele": [], "rsid": []})
        w.add_chrom(c, meta, packs)
    names = [samples_ref[i] for i in srows]
    samples = pd.DataFrame({"fid": names, "iid": names})
    return w.finish(samples, {"type": "vcf", "path": vcf, "keep": None if keep is None else str(keep),
                              "maf_min": maf_min})


# ----------------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------------


def build_variant_store(out_dir: str | os.PathLike[str], variants: str | os.PathLike[str]) -> dict:
    """A panel without genotypes (config ``panel.variants``): the variant table → ``variants.parquet`` (+ ``sd``
    when given) and ``panel.json`` with ``genotypes: false``, for a classic S-PrediXcan-only run.

    ``variants``: TSV (plain or gzip) with ``chrom, pos, other_allele, counted_allele`` and optional ``rsid``,
    ``counted_freq`` (the reference frequency of the counted allele; standardizes per-allele weights) or ``sd``
    (the reference SD of the counted-allele dosage itself, e.g. cTWAS's LD reference variance, which need not be
    2f(1-f)). Alleles may be indels. Rows are sorted by chromosome and position; a repeated
    (chrom, pos, other, counted) is an error.
    """
    src = Path(variants)
    if not src.is_file():
        raise PanelError.at("variant table not found", file=src, expected="a TSV with chrom, pos, other_allele, "
                            "counted_allele")
    df = pd.read_csv(src, sep="\t", dtype={"chrom": str, "other_allele": str, "counted_allele": str, "rsid": str})
    for c in ("chrom", "pos", "other_allele", "counted_allele"):
        if c not in df.columns:
            raise PanelError.at("variant table lacks a column", file=src, column=c, found=list(df.columns),
                                expected="chrom, pos, other_allele, counted_allele [, rsid, counted_freq | sd]")
    pos = pd.to_numeric(df["pos"], errors="coerce")
    if pos.isna().any() or (pos < 1).any():
        row = int(np.flatnonzero(pos.isna() | (pos < 1))[0]) + 1
        raise PanelError.at("not a position", file=src, column="pos", row=row, found=repr(df["pos"].iloc[row - 1]),
                            expected="an integer >= 1")
    return _write_variant_store(out_dir, df, pos, src, {"type": "variants", "path": str(src)})


def build_ld_store(out_dir: str | os.PathLike[str], ld: str | os.PathLike[str]) -> dict:
    """A panel of precomputed LD instead of genotypes (config ``panel.ld``): every variant of the LD windows
    (:class:`twasflow.io.ldmatrix.LDSource`; ``other_allele`` = allele1, ``counted_allele`` = allele2, as the LD
    files count) → ``variants.parquet`` and ``panel.json`` with ``genotypes: false`` and ``ld`` (path, format,
    windows). Per-locus LD then comes from the windows (:func:`twasflow.io.ldmatrix.ld_for_store`), oriented to
    these counted alleles; allele frequencies are unknown (NaN)."""
    from .ldmatrix import LDSource

    src = LDSource(ld)
    v = src.variants()
    df = pd.DataFrame({"chrom": v["chrom"], "pos": v["pos"], "other_allele": v["allele1"],
                       "counted_allele": v["allele2"], "rsid": v["rsid"]})
    meta = _write_variant_store(out_dir, df, df["pos"], Path(ld), {"type": "ld", "path": str(ld)})
    meta["ld"] = {"path": str(Path(ld).resolve()), "format": src.format, "windows": int(len(src.windows))}
    write_json(meta, Path(out_dir) / "panel.json")
    return meta


def _write_variant_store(out_dir: str | os.PathLike[str], df: pd.DataFrame, pos: pd.Series, src: Path,
                         source: dict) -> dict:
    """``variants.parquet`` (sorted, ids ``chrom:pos:other:counted``), an empty maf-dropped table and
    ``panel.json`` (``genotypes: false``) of a store without genotypes, from ``df`` (``chrom, pos, other_allele,
    counted_allele`` [, ``rsid``, ``counted_freq``, ``sd``])."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    v = pd.DataFrame({"chrom": df["chrom"].astype(str).str.replace("^chr", "", regex=True),
                      "pos": pos.astype(np.int64),
                      "other_allele": df["other_allele"].str.upper(), "counted_allele": df["counted_allele"].str.upper(),
                      "rsid": df["rsid"].where(df["rsid"] != ".") if "rsid" in df.columns else None,
                      "counted_freq": pd.to_numeric(df["counted_freq"]) if "counted_freq" in df.columns else np.nan,
                      "n_called": np.int64(0)})
    cats = sorted(v["chrom"].unique(), key=chrom_sort_key)
    v = v.iloc[np.lexsort((v["pos"].to_numpy(), v["chrom"].map({c: i for i, c in enumerate(cats)}).to_numpy()))]
    v["variant_id"] = v["chrom"] + ":" + v["pos"].astype(str) + ":" + v["other_allele"] + ":" + v["counted_allele"]
    dup = v["variant_id"].duplicated()
    if dup.any():
        raise PanelError.at("repeated variant", file=src, found=v.loc[dup, "variant_id"].iloc[0],
                            expected="each chrom, pos, other_allele, counted_allele once")
    v["row"] = v.groupby("chrom").cumcount().astype(np.int64)
    cols = VARIANT_COLUMNS + (["sd"] if "sd" in df.columns else [])
    if "sd" in df.columns:
        v["sd"] = pd.to_numeric(df["sd"]).reindex(v.index).to_numpy()
    v = v.reset_index(drop=True)[cols]
    write_parquet(v, out / "variants.parquet")
    write_parquet(pd.DataFrame({"chrom": pd.Series([], dtype=str), "pos": np.zeros(0, np.int64)}), out / MAF_DROPPED)
    meta = {"format": "twasflow-variant-table-1", "genotypes": False, "n_samples": 0, "n_variants": int(len(v)),
            "n_input": int(len(df)), "chroms": {c: int(n) for c, n in v["chrom"].value_counts(sort=False).items()},
            "dropped": {}, "source": source}
    write_json(meta, out / "panel.json")
    return meta


def read_panel_variants(store_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The store's ``variants.parquet``, with ``attrs['panel_dir']`` set so harmonization finds the positions
    dropped for ``maf_min`` (:func:`read_maf_dropped`)."""
    v = pd.read_parquet(Path(store_dir) / "variants.parquet")
    v.attrs["panel_dir"] = str(store_dir)
    return v


def read_maf_dropped(store_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """``chrom, pos`` of the variants the store dropped for ``maf_min`` (empty for a store written before
    the file existed)."""
    f = Path(store_dir) / MAF_DROPPED
    if not f.is_file():
        return pd.DataFrame({"chrom": pd.Series([], dtype=str), "pos": np.zeros(0, np.int64)})
    return pd.read_parquet(f)


class Panel:
    """Read access to a genotype store written by :func:`build_panel_store`."""

    def __init__(self, store_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(store_dir)
        meta_path = self.dir / "panel.json"
        if not meta_path.is_file():
            raise PanelError.at("not a genotype store (panel.json missing)", file=meta_path)
        self.meta = read_json(meta_path)
        self.n_samples: int = int(self.meta["n_samples"])
        self.variants: pd.DataFrame = pd.read_parquet(self.dir / "variants.parquet")
        self.chroms: list[str] = list(self.meta["chroms"].keys())
        self.chroms.sort(key=chrom_sort_key)
        ch = self.variants["chrom"].to_numpy()
        self._pos: dict[str, np.ndarray] = {}
        self._offset: dict[str, int] = {}
        for c in self.chroms:
            idx = np.flatnonzero(ch == c)
            self._offset[c] = int(idx[0]) if idx.size else 0
            self._pos[c] = self.variants["pos"].to_numpy()[idx]
        self._geno: dict[str, np.ndarray] = {}
        self._id_index: pd.Index | None = None
        self._ld_fn: Any = None

    @property
    def samples(self) -> pd.DataFrame:
        return pd.read_csv(self.dir / "samples.tsv", sep="\t", dtype=str)

    @property
    def ld_function(self) -> Any:
        """The store's per-locus LD, a callable ``(panel, variant_ids) -> R``: :func:`twasflow.ld.panel_ld` from
        the genotypes, or the precomputed LD the store was built from (:func:`twasflow.io.ldmatrix.ld_for_store`)."""
        if self._ld_fn is None:
            from .ldmatrix import ld_for_store

            self._ld_fn = ld_for_store(self.dir)
        return self._ld_fn

    def ld(self, variant_ids: Sequence[str]) -> np.ndarray:
        """Correlation matrix (k, k) of the counted alleles of ``variant_ids`` (one chromosome), from the genotypes
        or the precomputed LD (:attr:`ld_function`)."""
        return self.ld_function(self, list(variant_ids))

    def geno(self, chrom: str) -> np.ndarray:
        """Memory-mapped packed genotypes of a chromosome, uint8 (M_chrom, ceil(N/4))."""
        if self.meta.get("genotypes") is False:
            raise PanelError.at("the panel has no genotypes", file=self.dir / "panel.json",
                                found=f"a store built from {self.meta.get('source', {}).get('type', '?')}",
                                expected="a bed/pgen/VCF panel for this step (precomputed LD gives correlations only)")
        if chrom not in self._geno:
            if chrom not in self._pos:
                raise PanelError.at("chromosome not in the panel", file=self.dir, found=chrom,
                                    expected=",".join(self.chroms))
            self._geno[chrom] = np.load(self.dir / f"{chrom}.geno.npy", mmap_mode="r")
        return self._geno[chrom]

    def rows_in_range(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Rows (in the chromosome's genotype file) of variants with ``start <= pos <= end``."""
        pos = self._pos.get(str(chrom))
        if pos is None:
            return np.zeros(0, dtype=np.int64)
        lo = np.searchsorted(pos, start, "left")
        hi = np.searchsorted(pos, end, "right")
        return np.arange(lo, hi, dtype=np.int64)

    def variants_in_range(self, chrom: str, start: int, end: int) -> pd.DataFrame:
        rows = self.rows_in_range(chrom, start, end)
        return self.variants.iloc[self._offset.get(str(chrom), 0) + rows]

    def index_of(self, variant_ids: Sequence[str]) -> tuple[str, np.ndarray]:
        """(chrom, rows) of ``variant_ids`` (order kept). Raises if an id is absent or ids span chromosomes."""
        if self._id_index is None:
            self._id_index = pd.Index(self.variants["variant_id"])
        ids = list(variant_ids)
        if not ids:
            raise PanelError.at("no variant ids given", file=self.dir)
        loc = self._id_index.get_indexer(ids)
        if (loc < 0).any():
            bad = ids[int(np.flatnonzero(loc < 0)[0])]
            raise PanelError.at("variant not in the panel", file=self.dir / "variants.parquet",
                                column="variant_id", found=bad, expected="a panel variant id")
        ch = self.variants["chrom"].to_numpy()[loc]
        if (ch != ch[0]).any():
            raise PanelError.at("variant ids span several chromosomes", file=self.dir,
                                found=",".join(sorted(set(ch.tolist()))), expected="one chromosome")
        return str(ch[0]), self.variants["row"].to_numpy()[loc].astype(np.int64)

    def codes(self, chrom: str, rows: np.ndarray) -> np.ndarray:
        """Raw 2-bit codes uint8 (k, N) of ``rows`` (counted allele in the A1 role)."""
        g = self.geno(chrom)
        rows = np.asarray(rows, dtype=np.int64)
        return decode_codes(g[rows], self.n_samples)

    def dosages(self, chrom: str, rows: np.ndarray) -> np.ndarray:
        """Counted-allele dosages float64 (N, k), NaN where missing."""
        return np.ascontiguousarray(_CODE_DOSAGE[self.codes(chrom, rows)].T)

    def standardized(self, chrom: str, rows: np.ndarray) -> np.ndarray:
        """Dosages centred and scaled to unit variance per variant (N, k); missing calls set to 0 (the mean)."""
        X = self.dosages(chrom, rows)
        mu = np.nanmean(X, axis=0)
        sd = np.nanstd(X, axis=0)
        Z = (X - mu) / np.where(sd > 0, sd, 1.0)
        Z[np.isnan(Z)] = 0.0
        Z[:, ~(sd > 0)] = 0.0
        return Z
