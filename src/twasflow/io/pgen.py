"""PLINK 2 filesets (``.pgen`` + ``.pvar`` + ``.psam``) through ``pgenlib`` (the PLINK 2 authors' reader).

``.pvar`` (https://www.cog-genomics.org/plink/2.0/formats#pvar): optional ``##`` lines, then a header line
starting ``#CHROM`` naming at least ``POS ID REF ALT``; a file without that header has the ``.bim`` layout
(``CHROM ID CM POS ALT REF``). ``.psam``: a header ``#FID IID ...`` or ``#IID ...``; without one, ``.fam``
layout. Genotypes are read as ALT allele counts (0, 1, 2; missing -9) for the samples asked, so the *counted*
allele of a PLINK 2 panel is ALT and the other allele REF (as for a VCF panel; a fileset made by
``plink2 --bfile`` has ALT = the ``.bim`` A1, so bed- and pgen-built stores agree).

``pgenlib`` is imported when a pgen panel is used (optional dependency, ``pip install pgenlib``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import PanelError


def _pgenlib():  # noqa: ANN202
    try:
        import pgenlib
    except ImportError:
        raise PanelError.at("reading a PLINK 2 .pgen panel needs the 'pgenlib' package", column="panel.pgen",
                            expected="pip install pgenlib (or twasflow[formats])") from None
    return pgenlib


def _file(prefix: str | os.PathLike[str], ext: str) -> Path:
    p = Path(str(prefix) + ext)
    if not p.is_file():
        raise PanelError.at(f"PLINK 2 {ext} file not found", file=p, expected=f"{prefix}.pgen, .pvar and .psam")
    return p


def _header(path: Path) -> tuple[int, list[str] | None]:
    """(lines before the data, header names or None) of a .pvar/.psam."""
    skip = 0
    with open(path) as fh:
        for line in fh:
            if line.startswith("##"):
                skip += 1
                continue
            if line.startswith("#"):
                return skip + 1, line[1:].split()
            return skip, None
    return skip, None


def read_pvar(prefix: str | os.PathLike[str]) -> pd.DataFrame:
    """The variants of ``prefix.pvar``: ``chrom, pos, id, ref, alt`` (strings; pos int64), in file order."""
    path = _file(prefix, ".pvar")
    skip, names = _header(path)
    if names is None:
        names = ["CHROM", "ID", "CM", "POS", "ALT", "REF"]
    missing = [c for c in ("CHROM", "POS", "ID", "REF", "ALT") if c not in names]
    if missing:
        raise PanelError.at(".pvar header lacks a column", file=path, column=missing[0], found=" ".join(names),
                            expected="#CHROM POS ID REF ALT")
    try:
        df = pd.read_csv(path, sep=r"\s+", skiprows=skip, header=None, names=names, usecols=["CHROM", "POS", "ID", "REF", "ALT"],
                         dtype={"CHROM": str, "ID": str, "REF": str, "ALT": str}, engine="c", comment=None)
    except (ValueError, pd.errors.ParserError) as exc:
        raise PanelError.at("cannot parse the .pvar", file=path, found=str(exc), expected="whitespace-delimited text") from None
    pos = pd.to_numeric(df["POS"], errors="coerce")
    if pos.isna().any():
        i = int(np.flatnonzero(pos.isna().to_numpy())[0])
        raise PanelError.at("non-numeric position", file=path, column="POS", row=i + 1, found=repr(df["POS"].iloc[i]),
                            expected="an integer")
    from .plink import norm_chrom

    return pd.DataFrame({"chrom": norm_chrom(df["CHROM"]).astype(str).to_numpy(), "pos": pos.to_numpy(np.int64),
                         "id": df["ID"].to_numpy(), "ref": df["REF"].to_numpy(), "alt": df["ALT"].to_numpy()})


def read_psam(prefix: str | os.PathLike[str]) -> pd.DataFrame:
    """The samples of ``prefix.psam``: ``fid, iid`` (``fid`` = ``iid`` when the file has no FID column)."""
    path = _file(prefix, ".psam")
    skip, names = _header(path)
    if names is None:
        names = ["FID", "IID", "PAT", "MAT", "SEX", "PHENO1"]
    if "IID" not in names:
        raise PanelError.at(".psam header lacks IID", file=path, column="IID", found=" ".join(names),
                            expected="#FID IID ... or #IID ...")
    df = pd.read_csv(path, sep=r"\s+", skiprows=skip, header=None, names=names, dtype=str, engine="c",
                     usecols=[c for c in ("FID", "IID") if c in names])
    iid = df["IID"].to_numpy()
    fid = df["FID"].to_numpy() if "FID" in df.columns else iid
    return pd.DataFrame({"fid": fid, "iid": iid})


class PgenFile:
    """ALT allele counts of a ``.pgen`` for a subset of samples, by variant rows (file order)."""

    def __init__(self, prefix: str | os.PathLike[str], n_variants: int, n_samples: int,
                 sample_rows: np.ndarray | None = None) -> None:
        pgenlib = _pgenlib()
        path = _file(prefix, ".pgen")
        sub = None if sample_rows is None else np.sort(np.asarray(sample_rows, dtype=np.uint32))
        try:
            self._r = pgenlib.PgenReader(bytes(str(path), "utf8"), raw_sample_ct=n_samples, sample_subset=sub)
        except RuntimeError as exc:
            raise PanelError.at("cannot open the .pgen", file=path, found=str(exc),
                                expected=f"a PLINK 2 .pgen of {n_samples} samples") from None
        if self._r.get_variant_ct() != n_variants:
            raise PanelError.at(".pgen and .pvar disagree", file=path, found=f"{self._r.get_variant_ct()} variants",
                                expected=f"{n_variants} (the .pvar's rows)")
        self.n = n_samples if sub is None else len(sub)
        self.path = path

    def counts(self, rows: np.ndarray) -> np.ndarray:
        """int8 (len(rows), n): ALT allele counts, -1 missing."""
        rows = np.asarray(rows, dtype=np.uint32)
        out = np.empty((len(rows), self.n), dtype=np.int8)
        if len(rows):
            self._r.read_list(rows, out)
        out[out < 0] = -1
        return out

    def close(self) -> None:
        self._r.close()


def write_pgen(prefix: str | os.PathLike[str], variants: pd.DataFrame, samples: pd.DataFrame,
               alt_counts: np.ndarray) -> None:
    """Write a PLINK 2 fileset (for tests and fixtures): ``variants`` ``chrom, pos, id, ref, alt``, ``samples``
    ``fid, iid``, ``alt_counts`` int8 (M, N) with -1 (or -9) missing."""
    pgenlib = _pgenlib()
    g = np.ascontiguousarray(np.where(alt_counts < 0, -9, alt_counts).astype(np.int8))
    w = pgenlib.PgenWriter(bytes(str(prefix) + ".pgen", "utf8"), g.shape[1], g.shape[0], False)
    w.append_biallelic_batch(g)
    w.close()
    pv = pd.DataFrame({"#CHROM": variants["chrom"], "POS": variants["pos"], "ID": variants["id"],
                       "REF": variants["ref"], "ALT": variants["alt"]})
    pv.to_csv(str(prefix) + ".pvar", sep="\t", index=False)
    pd.DataFrame({"#FID": samples["fid"], "IID": samples["iid"]}).to_csv(str(prefix) + ".psam", sep="\t", index=False)


__all__ = ["PgenFile", "read_psam", "read_pvar", "write_pgen"]
