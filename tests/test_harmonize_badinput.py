"""Bad input to harmonization: each case raises HarmonizeError naming file/column/row, or drops and counts rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from twasflow.errors import HarmonizeError, InputError
from twasflow.harmonize import harmonize_gwas, harmonize_xqtl

HEADER = "chromosome\tbase_pair_location\teffect_allele\tother_allele\tbeta\tstandard_error\teffect_allele_frequency\tp_value\n"


def panel() -> pd.DataFrame:
    rows = [("1", 100 * (i + 1), "A", "G", 0.2) for i in range(10)]
    df = pd.DataFrame(rows, columns=["chrom", "pos", "other_allele", "counted_allele", "counted_freq"])
    df["pos"] = df["pos"].astype(np.int64)
    df["rsid"] = [f"rs{i}" for i in range(len(df))]
    df["variant_id"] = df.chrom + ":" + df.pos.astype(str) + ":" + df.other_allele + ":" + df.counted_allele
    df["n_called"] = 10
    df["row"] = np.arange(len(df))
    return df


def good_lines(k: int = 10) -> list[str]:
    return [f"1\t{100 * (i + 1)}\tG\tA\t0.1\t0.05\t0.2\t0.04\n" for i in range(k)]


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def run(tmp: Path, path: Path, **kw) -> dict:
    kw.setdefault("fmt", "gwas-ssf")
    kw.setdefault("n", 1000)
    return harmonize_gwas(path, panel_variants=kw.pop("panel", panel()), out=tmp / "o.parquet",
                          qc_out=tmp / "o.qc.json", **kw)


def check_qc(tmp: Path, qc: dict) -> None:
    assert json.loads((tmp / "o.qc.json").read_text()) == qc
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values())
    assert pq.read_metadata(tmp / "o.parquet").num_rows == qc["n_kept"]


# ------------------------------------------------------------------------------------------------ errors


def test_missing_required_column_lists_found(tmp_path):
    p = write(tmp_path, "nocol.tsv", HEADER.replace("\teffect_allele", "\tEA") + "".join(good_lines()))
    with pytest.raises(HarmonizeError) as ei:
        run(tmp_path, p)
    msg = str(ei.value)
    assert "nocol.tsv" in msg and "column 'effect_allele'" in msg and "'EA'" in msg and "base_pair_location" in msg
    assert ei.value.column == "effect_allele"


def test_non_numeric_column(tmp_path):
    lines = [ln.replace("\t0.1\t0.05", "\tbig\t0.05") for ln in good_lines()]
    p = write(tmp_path, "nonnum.tsv", HEADER + "".join(lines))
    with pytest.raises(HarmonizeError) as ei:
        run(tmp_path, p)
    msg = str(ei.value)
    assert "nonnum.tsv" in msg and "column 'beta', row 1" in msg and "found 'big'" in msg and "not numeric" in msg
    assert ei.value.row == 1 and isinstance(ei.value, InputError)


def test_isolated_non_numeric_value_dropped(tmp_path):
    lines = good_lines()
    lines[6] = lines[6].replace("\t0.05\t", "\t0,05\t")  # decimal comma in one row
    qc = run(tmp_path, write(tmp_path, "one.tsv", HEADER + "".join(lines)))
    check_qc(tmp_path, qc)
    assert qc["dropped"] == {"non_numeric": 1} and qc["n_kept"] == 9


def test_empty_file(tmp_path):
    p = write(tmp_path, "empty.tsv", "")
    with pytest.raises(HarmonizeError, match=r"empty\.tsv: empty file"):
        run(tmp_path, p)


def test_empty_gzip(tmp_path):
    p = tmp_path / "empty.tsv.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("\n\n")
    with pytest.raises(HarmonizeError, match=r"empty\.tsv\.gz: empty file"):
        run(tmp_path, p)


def test_header_only(tmp_path):
    p = write(tmp_path, "hdr.tsv", HEADER)
    with pytest.raises(HarmonizeError) as ei:
        run(tmp_path, p)
    assert "hdr.tsv" in str(ei.value) and "header only" in str(ei.value)


@pytest.fixture(params=["isal", "zlib"])
def inflate(request, monkeypatch):
    """Run a test with the ISA-L decompressor (skipped if isal is absent) and with the zlib fallback."""
    from twasflow.io import gwas as gio

    if request.param == "isal":
        if gio._igzip is None:
            pytest.skip("isal not installed")
    else:
        monkeypatch.setattr(gio, "_igzip", None)
    return request.param


def test_truncated_gzip(tmp_path, inflate):
    # cut past the first MiB of text (sniffed separately), so the streaming reader meets the truncation
    text = HEADER + "".join(good_lines()) * 8000
    full = gzip.compress(text.encode(), compresslevel=1)
    for name, cut in (("trunc.tsv.gz", len(full) * 3 // 4), ("trunc_head.tsv.gz", 200)):
        p = tmp_path / name
        p.write_bytes(full[:cut])
        with pytest.raises(HarmonizeError) as ei:
            run(tmp_path, p)
        msg = str(ei.value)
        assert name in msg and "truncated or corrupt" in msg
        assert not (tmp_path / "o.parquet").exists()


def test_corrupt_gzip_and_multimember(tmp_path, inflate):
    text = HEADER + "".join(good_lines()) * 8000
    full = bytearray(gzip.compress(text.encode(), compresslevel=1))
    full[len(full) // 2: len(full) // 2 + 64] = b"\x00" * 64  # garbage in the middle of the deflate stream
    p = tmp_path / "corrupt.tsv.gz"
    p.write_bytes(bytes(full))
    with pytest.raises(HarmonizeError, match="truncated or corrupt"):
        run(tmp_path, p)
    # bgzip-style: several concatenated gzip members read as one stream
    lines = good_lines() * 20000
    members = gzip.compress((HEADER + "".join(lines[:70000])).encode()) + gzip.compress("".join(lines[70000:]).encode())
    p = tmp_path / "multi.tsv.gz"
    p.write_bytes(members)
    qc = run(tmp_path, p)
    check_qc(tmp_path, qc)
    assert qc["n_input"] == 200_000 and qc["n_kept"] == 10 and qc["dropped"] == {"duplicate": 199_990}


def test_wrong_delimiter_single_column(tmp_path):
    p = write(tmp_path, "semi.txt", HEADER.replace("\t", ";") + "".join(ln.replace("\t", ";") for ln in good_lines()))
    with pytest.raises(HarmonizeError) as ei:
        run(tmp_path, p)
    msg = str(ei.value)
    assert "semi.txt" in msg and "single column" in msg and "chromosome;base_pair_location" in msg


def test_header_and_data_delimiters_disagree(tmp_path):
    p = write(tmp_path, "mixed.tsv", HEADER + "".join(ln.replace("\t", " ") for ln in good_lines()))
    with pytest.raises(HarmonizeError) as ei:
        run(tmp_path, p)
    assert "mixed.tsv" in str(ei.value) and "row 1" in str(ei.value) and "expected 8 tab-delimited fields" in str(
        ei.value)


def test_vcf_without_index(tmp_path):
    p = tmp_path / "g.vcf.gz"
    p.write_bytes(gzip.compress(b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"))
    with pytest.raises(HarmonizeError) as ei:
        run(tmp_path, p, fmt="gwas-vcf")
    msg = str(ei.value)
    assert "g.vcf.gz" in msg and "no index" in msg and "tabix" in msg


def test_colmap_names_absent_column(tmp_path):
    p = write(tmp_path, "t.tsv", HEADER + "".join(good_lines()))
    cm = {"chrom": "chromosome", "pos": "base_pair_location", "ea": "effect_allele", "oa": "other_allele",
          "beta": "BETA", "se": "standard_error", "z": None, "p": None, "n": None, "eaf": None, "rsid": None}
    with pytest.raises(HarmonizeError) as ei:
        run(tmp_path, p, fmt="table", colmap=cm)
    msg = str(ei.value)
    assert "t.tsv" in msg and "column 'BETA'" in msg and "'beta'" in msg and "standard_error" in msg


def test_colmap_lacks_required_key(tmp_path):
    p = write(tmp_path, "t.tsv", HEADER + "".join(good_lines()))
    with pytest.raises(HarmonizeError, match=r"t\.tsv: column 'pos': column map lacks a required key"):
        run(tmp_path, p, fmt="table", colmap={"chrom": "chromosome", "ea": "effect_allele", "oa": "other_allele",
                                              "z": "beta"})


def test_colmap_unknown_key(tmp_path):
    p = write(tmp_path, "t.tsv", HEADER + "".join(good_lines()))
    with pytest.raises(HarmonizeError, match=r"column 'effect': unknown column-map key"):
        run(tmp_path, p, fmt="table", colmap={"chrom": "chromosome", "effect": "beta"})


def test_n_missing_everywhere(tmp_path):
    p = write(tmp_path, "non.tsv", HEADER + "".join(good_lines()))
    with pytest.raises(HarmonizeError) as ei:
        run(tmp_path, p, n=None)
    assert "non.tsv" in str(ei.value) and "column 'n'" in str(ei.value) and "missing everywhere" in str(ei.value)


def test_sheet_n_not_a_number(tmp_path):
    p = write(tmp_path, "g.tsv", HEADER + "".join(good_lines()))
    with pytest.raises(HarmonizeError, match=r"column 'n': sample size from the sheet is not a number \(found 'abc'"):
        run(tmp_path, p, n="abc")


def test_duplicated_column_names(tmp_path):
    p = write(tmp_path, "dup.tsv", HEADER.replace("effect_allele_frequency", "beta") + "".join(good_lines()))
    with pytest.raises(HarmonizeError) as ei:
        run(tmp_path, p)
    assert "dup.tsv" in str(ei.value) and "column 'beta'" in str(ei.value) and "duplicated" in str(ei.value)


def test_file_does_not_exist(tmp_path):
    with pytest.raises(HarmonizeError, match=r"nowhere\.tsv: file does not exist"):
        run(tmp_path, tmp_path / "nowhere.tsv")


def test_unknown_format(tmp_path):
    p = write(tmp_path, "g.tsv", HEADER + "".join(good_lines()))
    with pytest.raises(HarmonizeError, match=r"g\.tsv: column 'format': unknown GWAS format \(found 'csv'"):
        run(tmp_path, p, fmt="csv")


def test_no_variant_on_panel_chromosomes(tmp_path):
    lines = [ln.replace("1\t", "NC_000007.14\t", 1) for ln in good_lines()]
    with pytest.raises(HarmonizeError) as ei:
        run(tmp_path, write(tmp_path, "g.tsv", HEADER + "".join(lines)))
    assert "column 'chrom'" in str(ei.value) and "NC_000007.14" in str(ei.value) and "['1']" in str(ei.value)


def test_wrong_build_raises_with_rate(tmp_path):
    big = pd.concat([panel().assign(pos=lambda d, k=k: d.pos + 1000 * k) for k in range(8)], ignore_index=True)
    big["variant_id"] = big.chrom + ":" + big.pos.astype(str) + ":A:G"
    lines = [f"1\t{p + 7}\tG\tA\t0.1\t0.05\t0.2\t0.04\n" for p in big.pos]  # every position shifted by 7 bp
    with pytest.raises(HarmonizeError) as ei:
        run(tmp_path, write(tmp_path, "b.tsv", HEADER + "".join(lines)), panel=big, declared_build="hg38",
            panel_build="GRCh37")
    msg = str(ei.value)
    assert "b.tsv" in msg and "build check failed" in msg and "declared GRCh38 but the panel is GRCh37" in msg
    assert "found match rate 0.000" in msg


def test_bad_palindromic_option(tmp_path):
    p = write(tmp_path, "g.tsv", HEADER + "".join(good_lines()))
    with pytest.raises(HarmonizeError, match=r"column 'palindromic': unknown palindromic mode"):
        run(tmp_path, p, palindromic="keep")


# ------------------------------------------------------------------------------------------------ counted rows


def test_row_level_problems_counted(tmp_path):
    rows = [
        "1\t100\tG\tA\t0.1\t0.05\t0.2\t0.04",      # kept
        "1\t200\tG\tA\tNA\t0.05\t0.2\tNA",         # no effect at all -> missing_value
        "NA\t300\tG\tA\t0.1\t0.05\t0.2\t0.04",     # missing chromosome -> missing_value
        "1\t400\tG\tA\t0.1\t0.05\t0.2\t1.5",       # invalid_p
        "1\t500\tG\tA\t0.1\t0\t0.2\t0.04",         # invalid_se (0)
        "1\t600\tG\tA\t0.1\t-1\t0.2\t0.04",        # invalid_se (negative)
        "1\t700\tGA\tA\t0.1\t0.05\t0.2\t0.04",     # indel
        "1\t800\tG,T\tA\t0.1\t0.05\t0.2\t0.04",    # multiallelic
        "1\t900\tN\tA\t0.1\t0.05\t0.2\t0.04",      # invalid_allele
        "1\t1000\tA\tA\t0.1\t0.05\t0.2\t0.04",     # invalid_allele (same allele twice)
        "1\t0\tG\tA\t0.1\t0.05\t0.2\t0.04",        # invalid_pos
        "1\t100.5\tG\tA\t0.1\t0.05\t0.2\t0.04",    # invalid_pos
        "1\t300\tG\tA\t0.1\t0.05\t1.2\t0.04",      # invalid_freq
        "1\t300\tG\tA\tinf\t0.05\t0.2\t0.04",      # invalid_effect
        "1\t300\tG\tA\t0.1\t0.05\t0.2\t0",         # p = 0 with beta/se: kept, p from z
        "1\t300\tG\tA\t0.1\t0.05\t0.2\t0.04",      # duplicate of the row above
    ]
    qc = run(tmp_path, write(tmp_path, "rows.tsv", HEADER + "\n".join(rows) + "\n"))
    check_qc(tmp_path, qc)
    assert qc["n_input"] == 16 and qc["n_kept"] == 2
    assert qc["dropped"] == {"missing_value": 2, "invalid_p": 1, "invalid_se": 2, "indel": 1, "multiallelic": 1,
                             "invalid_allele": 2, "invalid_pos": 2, "invalid_freq": 1, "invalid_effect": 1,
                             "duplicate": 1}
    out = pd.read_parquet(tmp_path / "o.parquet")
    assert out.p.iloc[1] == pytest.approx(2 * 0.02275013194817921, rel=1e-9)  # from z = 2
    assert any("p = 0" in w for w in qc["warnings"])


def test_malformed_row_counted(tmp_path):
    lines = good_lines()
    lines[3] = "1\t400\tG\tA\t0.1\n"  # fields missing in the middle of the file
    qc = run(tmp_path, write(tmp_path, "short.tsv", HEADER + "".join(lines)))
    check_qc(tmp_path, qc)
    assert qc["dropped"] == {"malformed_row": 1} and qc["n_kept"] == 9


def _nofreq_file(tmp: Path, k: int, pal: tuple[int, ...], flip: tuple[int, ...] = ()) -> tuple[pd.DataFrame, Path]:
    """A panel of k sites A/G (A/T at ``pal``) and a GWAS-SSF without frequency; rows ``flip`` complemented."""
    pan = pd.DataFrame({"chrom": "1", "pos": np.arange(1, k + 1, dtype=np.int64) * 100, "other_allele": "A",
                        "counted_allele": ["T" if i in pal else "G" for i in range(k)], "counted_freq": 0.2})
    pan["rsid"] = [f"rs{i}" for i in range(k)]
    pan["variant_id"] = pan.chrom + ":" + pan.pos.astype(str) + ":" + pan.other_allele + ":" + pan.counted_allele
    comp = {"A": "T", "G": "C", "T": "A"}
    lines = []
    for i in range(k):
        ea, oa = ("T" if i in pal else "G"), "A"  # effect = counted
        if i in flip:
            ea, oa = comp[ea], comp[oa]
        lines.append(f"1\t{100 * (i + 1)}\t{ea}\t{oa}\t0.1\t0.05\t0.04\n")
    return pan, write(tmp, "nofreq.tsv", HEADER.replace("\teffect_allele_frequency", "") + "".join(lines))


def test_palindromic_without_frequency_too_few_variants_is_ambiguous(tmp_path):
    # 8 non-palindromic matches are fewer than STRAND_CONSENSUS_MIN_VARIANTS: no strand evidence
    pan, path = _nofreq_file(tmp_path, 10, pal=(2, 5))
    qc = run(tmp_path, path, panel=pan)
    check_qc(tmp_path, qc)
    assert qc["dropped"] == {"palindromic_ambiguous": 2} and qc["n_kept"] == 8
    assert qc["palindromic_kept_by_strand_consensus"] == 0
    assert any("no effect-allele frequency" in w for w in qc["warnings"])
    assert any("only 8 non-palindromic variants matched" in w for w in qc["warnings"])


def test_palindromic_without_frequency_kept_on_panel_strand(tmp_path):
    pan, path = _nofreq_file(tmp_path, 40, pal=(2, 5, 17))
    qc = run(tmp_path, path, panel=pan)
    check_qc(tmp_path, qc)
    assert qc["dropped"] == {} and qc["n_kept"] == 40
    assert qc["palindromic_kept_by_strand_consensus"] == 3 and qc["palindromic_aligned"] == 0
    out = pd.read_parquet(tmp_path / "o.parquet").set_index("variant_id")
    # labels at face value: effect allele T = counted, so z = +beta/se; no frequency to carry
    assert out.loc[["1:300:A:T", "1:600:A:T", "1:1800:A:T"], "z"].tolist() == [2.0, 2.0, 2.0]
    assert out.loc["1:300:A:T", "counted_freq"] != out.loc["1:300:A:T", "counted_freq"]  # NaN
    # one flipped non-palindromic row in 37 (2.7 %) is above the 1 % threshold ...
    pan, path = _nofreq_file(tmp_path, 40, pal=(2, 5, 17), flip=(30,))
    qc = run(tmp_path, path, panel=pan)
    check_qc(tmp_path, qc)
    assert qc["dropped"] == {"palindromic_ambiguous": 3} and qc["flipped_strand"] == 1
    assert any("2.7% of 37 non-palindromic variants match only on the opposite strand" in w for w in qc["warnings"])
    # ... unless the threshold is raised; "drop" still drops them all
    qc = run(tmp_path, path, panel=pan, strand_consensus_max_flip=0.05)
    assert qc["dropped"] == {} and qc["palindromic_kept_by_strand_consensus"] == 3
    qc = run(tmp_path, path, panel=pan, palindromic="drop")
    assert qc["dropped"] == {"palindromic_dropped": 3} and qc["palindromic_kept_by_strand_consensus"] == 0


def test_palindromic_with_frequency_unchanged_on_panel_strand(tmp_path):
    # a usable frequency still decides: MAF above maf_palindromic_max stays ambiguous, a clash inconsistent
    pan, _ = _nofreq_file(tmp_path, 30, pal=(2, 5, 8))
    pan.loc[5, "counted_freq"] = 0.45
    freq = ["0.2"] * 30
    freq[5], freq[8] = "0.45", "0.8"  # row 8: counted T has 0.2 in the panel, the file says effect T 0.8
    freq[2] = "NA"  # no frequency on this row: kept by the strand consensus
    text = HEADER + "".join(f"1\t{100 * (i + 1)}\t{'T' if i in (2, 5, 8) else 'G'}\tA\t0.1\t0.05\t{freq[i]}\t0.04\n"
                            for i in range(30))
    qc = run(tmp_path, write(tmp_path, "f.tsv", text), panel=pan)
    check_qc(tmp_path, qc)
    assert qc["dropped"] == {"palindromic_ambiguous": 1, "strand_inconsistent": 1}
    assert qc["palindromic_kept_by_strand_consensus"] == 1 and qc["palindromic_aligned"] == 0


def test_bad_strand_consensus_option(tmp_path):
    p = write(tmp_path, "g.tsv", HEADER + "".join(good_lines()))
    with pytest.raises(HarmonizeError, match=r"column 'strand_consensus_max_flip'"):
        run(tmp_path, p, strand_consensus_max_flip=0.7)


def test_not_in_panel_and_allele_mismatch_counted(tmp_path):
    lines = good_lines()
    lines[0] = "1\t150\tG\tA\t0.1\t0.05\t0.2\t0.04\n"   # position not in panel
    lines[1] = "1\t200\tC\tA\t0.1\t0.05\t0.2\t0.04\n"   # alleles C/A vs panel A/G
    lines[2] = "2\t300\tG\tA\t0.1\t0.05\t0.2\t0.04\n"   # chromosome not in panel
    qc = run(tmp_path, write(tmp_path, "np.tsv", HEADER + "".join(lines)))
    check_qc(tmp_path, qc)
    assert qc["dropped"] == {"not_in_panel": 1, "allele_mismatch": 1, "chrom_not_in_panel": 1}


# ------------------------------------------------------------------------------------------------ xQTL


def test_gtex_pattern_without_chrom(tmp_path):
    with pytest.raises(HarmonizeError) as ei:
        harmonize_xqtl(tmp_path / "Liver.parquet", fmt="gtex-parquet", panel_variants=panel(), out_dir=tmp_path / "x",
                       qc_out=tmp_path / "q.json", dataset="d", tissue="Liver", qtl_type="eQTL", n=100)
    assert "Liver.parquet" in str(ei.value) and "{chrom}" in str(ei.value) and "column 'path'" in str(ei.value)


def test_gtex_missing_column(tmp_path):
    t = pa.table({"phenotype_id": ["ENSG1.1"], "variant_id": ["chr1_100_A_G_b38"], "slope": [0.1]})
    pq.write_table(t, tmp_path / "L.chr1.parquet")
    with pytest.raises(HarmonizeError) as ei:
        harmonize_xqtl(str(tmp_path / "L.chr{chrom}.parquet"), fmt="gtex-parquet", panel_variants=panel(),
                       out_dir=tmp_path / "x", qc_out=tmp_path / "q.json", dataset="d", tissue="Liver",
                       qtl_type="eQTL", n=100)
    assert "L.chr1.parquet" in str(ei.value) and "column 'slope_se'" in str(ei.value)


def test_gtex_bad_rows_counted(tmp_path):
    t = pa.table({"phenotype_id": ["ENSG1.1", "ENSG1.1", "ENSG1.1", None],
                  "variant_id": ["chr1_100_A_G_b38", "chr1_x_A_G_b38", "chr1_200", "chr1_300_A_G_b38"],
                  "slope": [0.1, 0.1, 0.1, 0.1], "slope_se": [0.05, 0.05, 0.05, 0.05]})
    pq.write_table(t, tmp_path / "L.chr1.parquet")
    qc = harmonize_xqtl(str(tmp_path / "L.chr{chrom}.parquet"), fmt="gtex-parquet", panel_variants=panel(),
                        out_dir=tmp_path / "x", qc_out=tmp_path / "q.json", dataset="d", tissue="Liver",
                        qtl_type="eQTL", n=100)
    assert qc["n_input"] == 4 and qc["n_kept"] == 1
    assert qc["dropped"] == {"invalid_variant_id": 2, "missing_value": 1}
    assert pd.read_parquet(tmp_path / "x" / "1.parquet").z.tolist() == [2.0]


def test_eqtl_catalogue_missing_column(tmp_path):
    p = write(tmp_path, "e.tsv", "molecular_trait_id\tchromosome\tposition\tref\talt\tbeta\n"
                                 "ENSG1\t1\t100\tA\tG\t0.1\n")
    with pytest.raises(HarmonizeError) as ei:
        harmonize_xqtl(p, fmt="eqtl-catalogue", panel_variants=panel(), out_dir=tmp_path / "x",
                       qc_out=tmp_path / "q.json", dataset="d", tissue="t", qtl_type="eQTL", n=100)
    assert "e.tsv" in str(ei.value) and "column 'se'" in str(ei.value)


def test_xqtl_n_missing(tmp_path):
    t = pa.table({"phenotype_id": ["ENSG1.1"], "variant_id": ["chr1_100_A_G_b38"], "slope": [0.1],
                  "slope_se": [0.05]})
    pq.write_table(t, tmp_path / "L.chr1.parquet")
    with pytest.raises(HarmonizeError, match=r"column 'n': sample size missing everywhere"):
        harmonize_xqtl(str(tmp_path / "L.chr{chrom}.parquet"), fmt="gtex-parquet", panel_variants=panel(),
                       out_dir=tmp_path / "x", qc_out=tmp_path / "q.json", dataset="d", tissue="Liver",
                       qtl_type="eQTL", n=None)
