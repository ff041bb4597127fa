"""PLINK 1.9 --clump equivalence (oracle + real windows), EM haplotype r2, greedy_clump, clump_table."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import DATA, ORACLE, needs_plink
from twasflow.clump import (
    ClumpError,
    bp_radius,
    clump_table,
    format_p3,
    greedy_clump,
    haplotype_r2,
    pair_tables,
    pearson_r2,
    plink_maxsnp,
    run_clump,
)

PLINK_DIR = ORACLE / "plink"
REAL = Path(__file__).parent / "data" / "plink_real"
GENO = DATA / "genotypes"


def _oracle_runs() -> list[tuple[str, str, str, dict]]:
    runs = []
    cmd = PLINK_DIR / "expected" / "commands.sh"
    if not cmd.is_file():
        return runs
    for line in cmd.read_text().splitlines():
        if not line.startswith("$P") or "--clump " not in line:
            continue
        a = shlex.split(line)[1:]
        kw: dict = {}
        i = 0
        while i < len(a):
            k = a[i]
            if k == "--bfile":
                bfile = a[i + 1]
            elif k == "--clump":
                assoc = a[i + 1]
            elif k == "--out":
                out = a[i + 1].replace("$E/", "")
            elif k == "--clump-allow-overlap":
                kw["allow_overlap"] = True
                i += 1
                continue
            elif k == "--clump-snp-field":
                kw["snp_field"] = a[i + 1]
            elif k == "--clump-field":
                kw["field"] = a[i + 1]
            else:
                kw[k.replace("--clump-", "")] = float(a[i + 1])
            i += 2
        runs.append((out, bfile, assoc, kw))
    return runs


ORACLE_RUNS = _oracle_runs()


def test_oracle_has_ten_clump_runs():
    assert len(ORACLE_RUNS) == 10


@pytest.mark.parametrize("run", ORACLE_RUNS, ids=[r[0] for r in ORACLE_RUNS])
def test_clumped_byte_identical_to_plink_oracle(run, tmp_path):
    out, bfile, assoc, kw = run
    path = run_clump(PLINK_DIR / bfile, PLINK_DIR / assoc, tmp_path / out, **kw)
    expected = (PLINK_DIR / "expected" / f"{out}.clumped").read_bytes()
    assert path.read_bytes() == expected


REAL_SETTINGS = {
    "A_default": {},
    "B_pipeline": dict(p1=5e-8, p2=5e-8, r2=0.01, kb=1000),
    "C_overlap": dict(p1=5e-8, p2=1e-5, r2=0.1, kb=500, allow_overlap=True),
}


@pytest.mark.parametrize("chrom", ["2", "12", "18", "22"])
def test_clumped_identical_to_plink_on_real_windows(chrom, tmp_path):
    """Expected files made by plink1.9 with the commands in tests/data/plink_real/commands.sh."""
    bfile = GENO / f"1000G.EUR.hg19.chr{chrom}_20-21Mb"
    sumstats = GENO / "polypred_1000G_EUR" / "bolt.sumstats.txt.gz"
    for name, kw in REAL_SETTINGS.items():
        path = run_clump(bfile, sumstats, tmp_path / name, field="P_BOLT_LMM", **kw)
        assert path.read_bytes() == (REAL / f"chr{chrom}_{name}.clumped").read_bytes(), name


def test_missing_top_variants_logged(tmp_path):
    run_clump(PLINK_DIR / "chr22_window", PLINK_DIR / "chr22_assoc_plink.assoc", tmp_path / "a")
    log = (tmp_path / "a.log").read_text()
    assert "'rs_not_in_panel_1' is missing from the main dataset" in log
    assert "'22:20500002:A:G' is missing" in log
    assert "rs_not_in_panel_2" not in log  # p = 0.2 > p1: not a top variant


def test_em_r2_matches_closed_form_without_double_heterozygotes():
    # no het/het people: haplotypes are known, r2 is the plain haplotype r2
    t = np.array([[50, 10, 0, 10, 0, 5, 0, 5, 20]])
    r2 = haplotype_r2(t)[0]
    k11, k12, k21, k22 = 2 * 50 + 10 + 10, 2 * 0 + 10 + 5, 2 * 0 + 10 + 5, 2 * 20 + 5 + 5
    tot = k11 + k12 + k21 + k22
    pA, pB = (k11 + k12) / tot, (k11 + k21) / tot
    D = k11 / tot - pA * pB
    assert r2 == pytest.approx(D * D / (pA * (1 - pA) * pB * (1 - pB)), rel=1e-12)


def test_em_r2_known_values_and_monomorphic():
    # perfect LD with double hets: all hets pair up as 1-1/2-2, r2 = 1
    t = np.array([[30, 0, 0, 0, 40, 0, 0, 0, 30]])
    assert haplotype_r2(t)[0] == pytest.approx(1.0, abs=1e-12)
    # independence: table = outer product of marginals, r2 ~ 0
    m = np.array([25, 50, 25])
    assert abs(haplotype_r2(np.outer(m, m).reshape(1, 9))[0]) < 1e-9
    # locus 1 monomorphic -> NaN (never clumps)
    t = np.array([[30, 40, 30, 0, 0, 0, 0, 0, 0]])
    assert np.isnan(haplotype_r2(t)[0])
    assert np.isnan(pearson_r2(t)[0])


def test_em_r2_is_ml_by_brute_force():
    """The selected root maximises the two-locus likelihood over a fine grid of the het/het split."""
    rng = np.random.default_rng(7)
    for _ in range(30):
        t = rng.integers(0, 30, size=9)
        t[4] = rng.integers(5, 40)
        r2 = haplotype_r2(t[None])[0]
        k11 = 2 * t[0] + t[1] + t[3]
        k12 = 2 * t[2] + t[1] + t[5]
        k21 = 2 * t[6] + t[3] + t[7]
        k22 = 2 * t[8] + t[5] + t[7]
        c = t[4]
        tot = k11 + k12 + k21 + k22 + 2 * c
        h = c / tot
        x = np.linspace(0, h, 200001)
        f11, f12, f21, f22 = k11 / tot + x, k12 / tot + h - x, k21 / tot + h - x, k22 / tot + x
        with np.errstate(divide="ignore"):
            ll = (c * np.log(f11 * f22 + f12 * f21) + k11 * np.log(f11) + k12 * np.log(f12)
                  + k21 * np.log(f21) + k22 * np.log(f22))
        xb = x[np.argmax(ll)]
        pA = (k11 + k12 + c) / tot
        pB = (k11 + k21 + c) / tot
        D = k11 / tot + xb - pA * pB
        assert abs(r2) == pytest.approx(D * D / (pA * (1 - pA) * pB * (1 - pB)), abs=2e-4)


def test_pair_tables_counts_pairwise_complete():
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 4, 57).astype(np.uint8)
    part = rng.integers(0, 4, (5, 57)).astype(np.uint8)
    t = pair_tables(idx, part)
    for j in range(5):
        for a in range(3):
            for b in range(3):
                assert t[j, 3 * a + b] == np.sum((idx == a) & (part[j] == b))


def test_bp_radius_and_p_format_and_width():
    assert bp_radius(250) == 249999
    assert bp_radius(5.193) == 5192
    assert bp_radius(5.194) == 5193
    with pytest.raises(ClumpError):
        bp_radius(0.0001)
    cases = {1e-4: "0.0001", 1.9e-18: "1.9e-18", 2.6000000000000004e-18: "2.6e-18", 1.9e-223: "1.9e-223",
             0.05: "0.05", 1.0: "1", 0.123456: "0.123", 3e-06: "3e-06", 1.23456e-5: "1.23e-05"}
    for v, s in cases.items():
        assert format_p3(v, 10) == s.rjust(10), v
    assert plink_maxsnp(["rs1", "rs12345678", "rs123456789"]) == 12  # first long id sets 10 + 2
    assert plink_maxsnp(["rs123456789", "rs12"]) == 13


def test_bad_p_values_raise(tmp_path):
    f = tmp_path / "bad.assoc"
    f.write_text("SNP P\nrs55902548 -0.1\n")
    with pytest.raises(ClumpError, match="negative p-value"):
        run_clump(PLINK_DIR / "chr22_window", f, tmp_path / "x")
    f.write_text("SNP P\nrs55902548 1.5\n")
    with pytest.raises(ClumpError, match="p-value > 1"):
        run_clump(PLINK_DIR / "chr22_window", f, tmp_path / "x")
    f.write_text("MarkerName P\nrs55902548 0.1\n")
    with pytest.raises(ClumpError, match="no variant id column"):
        run_clump(PLINK_DIR / "chr22_window", f, tmp_path / "x")


def test_greedy_clump_small_example():
    # 0-1 in LD (r2 .81), 2 independent, 3 in LD with 2 but far away
    R = np.eye(4)
    R[0, 1] = R[1, 0] = 0.9
    R[2, 3] = R[3, 2] = -0.8
    p = np.array([1e-9, 1e-10, 1e-7, 1e-3])
    pos = np.array([100, 200, 300, 2_000_000])
    idx, cl = greedy_clump(p, R=R, positions=pos, r2=0.5, kb=1000, p_max=1e-5)
    assert idx.tolist() == [1, 2]
    assert cl.tolist() == [0, 0, 1, -1]  # 3 is > 1 Mb from 2 and p >= p_max
    idx, cl = greedy_clump(p, R=R, r2=0.5, p_max=1e-2)
    assert idx.tolist() == [1, 2] and cl.tolist() == [0, 0, 1, 1]
    # strict vs inclusive threshold
    assert greedy_clump(p, R=R, r2=0.5, p_max=1e-7)[0].tolist() == [1]
    assert greedy_clump(p, R=R, r2=0.5, p_max=1e-7, inclusive=True)[0].tolist() == [1, 2]


def test_greedy_clump_from_genotypes_matches_R():
    rng = np.random.default_rng(11)
    G = rng.integers(0, 3, (200, 30)).astype(float)
    G[:, 5] = G[:, 4]
    p = rng.uniform(size=30)
    p[4] = 1e-12
    from twasflow.ld import ld_matrix

    a = greedy_clump(p, G=G, r2=0.1, p_max=0.5)
    b = greedy_clump(p, R=ld_matrix(G), r2=0.1, p_max=0.5)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[1][5] == a[1][4] == 0


def test_clump_table_on_store_matches_plink(tmp_path):
    """clump_table on the genotype store reproduces PLINK's index variants, bins and SP2 (run A)."""
    from twasflow.io.panel import Panel, build_panel_store

    build_panel_store(tmp_path / "store", bfile=PLINK_DIR / "chr22_window")
    panel = Panel(tmp_path / "store")
    assoc = pd.read_csv(PLINK_DIR / "chr22_assoc_plink.assoc", sep=r"\s+", dtype={"P": str})
    vid = dict(zip(panel.variants["rsid"], panel.variants["variant_id"]))
    df = pd.DataFrame({"variant_id": assoc["SNP"].map(vid).fillna(assoc["SNP"]),
                       "p": pd.to_numeric(assoc["P"], errors="coerce")})
    res = clump_table(df, panel, p1=1e-4, p2=0.01, r2=0.5, kb=250)
    exp = pd.read_csv(PLINK_DIR / "expected" / "chr22_A_default.clumped", sep=r"\s+")
    rs = dict(zip(panel.variants["variant_id"], panel.variants["rsid"]))
    assert res["variant_id"].map(rs).tolist() == exp["SNP"].tolist()
    assert res["total"].tolist() == exp["TOTAL"].tolist()
    assert res["s0001"].tolist() == exp["S0001"].tolist()
    got_sp2 = [",".join(rs[v] for v in s.split(",")) if s else "NONE" for s in res["sp2"]]
    exp_sp2 = [",".join(x[:-3] for x in s.split(",")) if s != "NONE" else "NONE" for s in exp["SP2"]]
    assert got_sp2 == exp_sp2
    # every SP2 variant is a member, or the index itself (a duplicated association row)
    for _, r in res.iterrows():
        members = set(r["members"].split(",")) | {r["variant_id"]}
        assert set(filter(None, r["sp2"].split(","))) <= members


def _plink(args: list[str]) -> None:
    import subprocess

    subprocess.run(["plink1.9", "--threads", "1", "--silent", *args], check=True, capture_output=True)


@needs_plink
def test_nonfounders_and_two_files_match_plink_at_runtime(tmp_path):
    """Non-founders are left out of r2 and several --clump files get file numbers, as in plink1.9."""
    import shutil

    for ext in (".bed", ".bim"):
        shutil.copy(PLINK_DIR / f"chr22_window{ext}", tmp_path / f"w{ext}")
    fam = (PLINK_DIR / "chr22_window.fam").read_text().splitlines()
    # the first 40 people become children of the first two
    fam = [" ".join(l.split()[:2] + ["HG00096", "HG00097"] + l.split()[4:]) if i < 40 else l
           for i, l in enumerate(fam)]
    (tmp_path / "w.fam").write_text("\n".join(fam) + "\n")
    assoc = PLINK_DIR / "chr22_assoc_plink.assoc"
    lines = assoc.read_text().splitlines()
    half = tmp_path / "half.assoc"
    half.write_text("\n".join(lines[:1] + lines[1::2]) + "\n")
    bfile = str(tmp_path / "w")
    _plink(["--bfile", bfile, "--clump", str(assoc), "--out", str(tmp_path / "p1")])
    _plink(["--bfile", bfile, "--clump", str(assoc), str(half), "--clump-r2", "0.2", "--out", str(tmp_path / "p2")])
    a = run_clump(bfile, assoc, tmp_path / "o1")
    b = run_clump(bfile, [assoc, half], tmp_path / "o2", r2=0.2)
    assert a.read_bytes() == (tmp_path / "p1.clumped").read_bytes()
    assert b.read_bytes() == (tmp_path / "p2.clumped").read_bytes()
    assert b"(2)" in b.read_bytes()


def test_scalar_and_vector_em_paths_agree():
    """Small batches use a scalar glibc path, large ones the vectorised numpy path: same root choice and
    r2 up to the last bits (numpy's SIMD acos/cos/log may differ from glibc by an ulp)."""
    from twasflow.clump.em import _haplotype_r2_one, _haplotype_r2_vec

    rng = np.random.default_rng(5)
    T = np.vstack([rng.integers(0, s, (3000, 9)) for s in (3, 10, 50, 200)])
    Z = rng.integers(0, 30, (3000, 9))
    Z[rng.uniform(size=Z.shape) < 0.5] = 0
    T = np.vstack([T, Z])
    with np.errstate(all="ignore"):
        v = _haplotype_r2_vec(T)
    s = np.array([_haplotype_r2_one(r) for r in T.tolist()])
    assert np.array_equal(np.isnan(v), np.isnan(s))
    assert np.nanmax(np.abs(v - s)) < 1e-13
    assert np.isnan(v).any() and (v == 0).any()
    from twasflow.clump import em_r2_exceeds

    thr = float(np.nanmedian(np.abs(s)))
    with np.errstate(all="ignore"):
        assert np.array_equal(em_r2_exceeds(T, thr), np.abs(s) > thr)


def test_frequency_and_table_bounds_never_drop_a_member():
    """The two pre-filters of the clumping loop only drop pairs whose exact EM r2 is <= the threshold:
    r2 <= min(odds)/max(odds) of the minor-allele frequencies (no missing calls), and the table bound."""
    from twasflow.clump.core import _freq_bound_allows
    from twasflow.clump.em import r2_upper_bound

    rng = np.random.default_rng(12)
    T = np.vstack([rng.integers(0, s, (4000, 9)) for s in (4, 20, 120)])
    with np.errstate(all="ignore"):
        r2 = np.abs(_haplotype_r2_vec_public(T))
        t = T.reshape(-1, 3, 3).astype(float)
        n = t.sum(axis=(1, 2))
        # minor-allele odds of each locus over the table's people (table = people called at both)
        a1 = 2 * t[:, 0, :].sum(1) + t[:, 1, :].sum(1)
        b1 = 2 * t[:, :, 0].sum(1) + t[:, :, 1].sum(1)
        ma, mb = np.minimum(a1, 2 * n - a1), np.minimum(b1, 2 * n - b1)
        oa, ob = ma / (2 * n - ma), mb / (2 * n - mb)
        ub = r2_upper_bound(T)
    defined = ~np.isnan(r2)
    assert defined.sum() > 10000
    for thr in (0.01, 0.1, 0.5, 0.8):
        member = defined & (r2 > thr)
        kept = np.array([_freq_bound_allows(oa[i], ob[i:i + 1], np.zeros(1, bool), thr)[0] for i in range(len(T))])
        assert not np.any(member & ~kept), thr
        if thr >= 0.5:
            assert np.any(~kept & defined), thr  # the filter does drop pairs
        with np.errstate(invalid="ignore"):
            assert not np.any(member & (ub * (1 + 1e-9) + 1e-12 <= thr)), thr
    # closed form against the general D range for random frequencies
    p, q = rng.uniform(0.001, 0.999, (2, 1000))
    dmax = np.maximum(np.minimum(p * (1 - q), (1 - p) * q), np.minimum(p * q, (1 - p) * (1 - q)))
    general = dmax ** 2 / (p * (1 - p) * q * (1 - q))
    m, k = np.minimum(p, 1 - p), np.minimum(q, 1 - q)
    om, ok_ = m / (1 - m), k / (1 - k)
    assert np.allclose(general, np.minimum(om, ok_) / np.maximum(om, ok_), rtol=1e-12)


def _haplotype_r2_vec_public(T):
    from twasflow.clump.em import _haplotype_r2_vec

    return _haplotype_r2_vec(np.asarray(T, dtype=np.int64))


def test_genotype_bits_ignore_padding_bits():
    """Category bitsets from packed rows: one bit per person, padding people (non-zero padding bits too)
    in no category."""
    from twasflow.clump import genotype_bits
    from twasflow.io.plink import pack_codes

    rng = np.random.default_rng(4)
    for n in (1, 3, 63, 64, 65, 130, 500):
        codes = rng.integers(0, 4, (7, n)).astype(np.uint8)
        packed = pack_codes(codes)
        if n % 4:
            packed[:, -1] |= np.uint8(0xFF << (2 * (n % 4)) & 0xFF)  # garbage in the padding bits
        bits = genotype_bits(packed, n)
        got = np.unpackbits(bits.view(np.uint8), axis=2, bitorder="little")  # (7, 4, 64W)
        for c, code in enumerate((0, 2, 3)):
            assert np.array_equal(got[:, c, :n], codes == code)
        assert np.array_equal(got[:, 3, :n], codes != 1)
        assert not got[:, :, n:].any()


def test_cli_clump_does_not_import_pandas(tmp_path):
    """`twasflow clump` start-up is part of its run time against plink1.9: the command path (cli, clump,
    io.plink readers) must not load pandas or twasflow.stages; output still byte-identical (run A)."""
    import subprocess
    import sys

    code = ("import sys; from twasflow.cli import main; "
            f"rc = main(['clump', '--bfile', {str(PLINK_DIR / 'chr22_window')!r}, '--clump', "
            f"{str(PLINK_DIR / 'chr22_assoc_plink.assoc')!r}, '--out', {str(tmp_path / 'a')!r}]); "
            "print(rc, 'pandas' in sys.modules, 'twasflow.stages' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split()[-3:] == ["0", "False", "False"], r.stdout + r.stderr
    assert (tmp_path / "a.clumped").read_bytes() == (PLINK_DIR / "expected" / "chr22_A_default.clumped").read_bytes()


def test_arrow_numpy_helpers_and_assoc_fast_path_agree_with_slow(tmp_path):
    """Buffer-level arrow<->numpy conversion (nulls, slices, chunks) and the pyarrow association reader
    against the pandas/Python reader on the same text (NA, exponents, gzip)."""
    import gzip

    import pyarrow as pa

    from twasflow.clump.command import _read_assoc_any, _read_assoc_slow
    from twasflow.io.plink import arrow_to_numpy

    a = pa.array([1.5, None, 3.0, None, 5.0]).slice(1)
    got = arrow_to_numpy(a, fill=np.nan)
    assert np.array_equal(got, [np.nan, 3.0, np.nan, 5.0], equal_nan=True)
    ch = pa.chunked_array([pa.array([1, 2], pa.int64()), pa.array([3], pa.int64())])
    assert arrow_to_numpy(ch).tolist() == [1, 2, 3]
    with pytest.raises(ValueError):
        arrow_to_numpy(a)
    text = "SNP A1 P\nrs1 A 1e-8\nrs2 C NA\nrs3 G 0.5\nrs4 T 1.00000000000000011102230246251565404236316680908203125\n"
    for name, opener in (("a.txt", open), ("a.txt.gz", gzip.open)):
        f = tmp_path / name
        with opener(f, "wt") as fh:
            fh.write(text)
        ids, p, line = _read_assoc_any(f)
        assert not isinstance(ids, np.ndarray)  # fast path taken
        sid, sp, sline = _read_assoc_slow(f, ["SNP"], ["P"])
        assert ids.strings(np.arange(len(ids))) == sid.tolist() and np.array_equal(p, sp, equal_nan=True)
        assert line.tolist() == sline.tolist() == [1, 2, 3, 4]
    # aligned columns (several spaces) are not single-delimited: the slow reader handles them
    f = tmp_path / "aligned.txt"
    f.write_text("  SNP    P\n  rs1  0.1\n rs22  0.2\n")
    ids, p, _ = _read_assoc_any(f)
    assert isinstance(ids, np.ndarray) and ids.tolist() == ["rs1", "rs22"] and p.tolist() == [0.1, 0.2]


def test_id_matching_hash_join_and_duplicates():
    """Association ids -> .bim rows: shuffled subset with absent ids, the in-order fast path, the exact
    pyarrow fallback, and a duplicate .bim id (error naming the first repeated id)."""
    from twasflow.clump.command import _match_ids, _match_ids_exact
    from twasflow.io.plink import StringColumn

    rng = np.random.default_rng(9)
    uni_l = [f"rs{i}" for i in rng.permutation(5000)] + ["22:100:A:G", "x" * 33, "héllo", ""]
    uni = StringColumn.from_strings(uni_l)
    q_l = [uni_l[i] for i in rng.permutation(len(uni_l))[:3000]] + ["rs999999", "x" * 32, "hello"]
    q = StringColumn.from_strings(q_l)
    pos = {s: i for i, s in enumerate(uni_l)}
    expect = [pos.get(s, -1) for s in q_l]
    assert _match_ids(uni, q, "b.bim").tolist() == expect
    assert _match_ids_exact(uni, q, "b.bim").tolist() == expect
    assert _match_ids(uni, StringColumn.from_strings(uni_l), "b.bim").tolist() == list(range(len(uni_l)))
    dup = StringColumn.from_strings(["a", "b", "c", "b", "a"])
    for fn in (_match_ids, _match_ids_exact):
        with pytest.raises(ClumpError, match=r"duplicate variant id.*found b;"):
            fn(dup, q, "b.bim")
    sub = StringColumn.concat([StringColumn.from_strings(["p", "q"]), StringColumn.from_strings(["r"])])
    assert sub.strings(np.arange(3)) == ["p", "q", "r"] and sub.char_lengths().tolist() == [1, 1, 1]


def test_chrom_runs_short_and_long_names():
    from twasflow.io.plink import StringColumn, _chrom_runs

    names = ["chr1"] * 3 + ["1"] * 2 + ["X"] + ["chrUn_very_long_contig"] * 2 + ["23", "2"]
    code, uniq = _chrom_runs(StringColumn.from_strings(names))
    assert uniq == ["1", "X", "Un_very_long_contig", "2"]  # chr1 and 1 share a code; 23 is X
    assert code.tolist() == [0, 0, 0, 0, 0, 1, 2, 2, 1, 3]
    code, uniq = _chrom_runs(StringColumn.from_strings(["10", "10", "1", "1"]))
    assert uniq == ["10", "1"] and code.tolist() == [0, 0, 1, 1]


def test_em_bracket_bounds_contain_plink_r2_and_decide_matches():
    """em_r2_bounds brackets PLINK's EM r2 (vector and scalar glibc paths) on random and degenerate tables
    (small counts, symmetric tables with exact double roots, many zero cells); em_r2_decide equals the
    full EM decision at several thresholds."""
    from twasflow.clump.em import _haplotype_r2_one, _haplotype_r2_vec, em_r2_bounds, em_r2_decide, em_r2_exceeds

    rng = np.random.default_rng(21)
    blocks = []
    for s in (2, 3, 5, 10, 40, 300):
        T = rng.integers(0, s, (6000, 9))
        S = T.copy()  # symmetric: 0<->8, 2<->6, 1<->7, 3<->5
        S[:, 8], S[:, 6], S[:, 7], S[:, 5] = S[:, 0], S[:, 2], S[:, 1], S[:, 3]
        Z = T.copy()
        Z[rng.uniform(size=Z.shape) < 0.4] = 0
        blocks += [T, S, Z]
    T = np.vstack(blocks)
    with np.errstate(all="ignore"):
        v = np.abs(_haplotype_r2_vec(T))
        lb, ub = em_r2_bounds(T)
    sc = np.abs(np.array([_haplotype_r2_one(r) for r in T[::7].tolist()]))
    d = ~np.isnan(v)
    assert np.array_equal(np.isnan(lb), ~d)  # bounds undefined exactly where r2 is
    assert np.all(v[d] <= ub[d] * (1 + 1e-9) + 1e-12) and np.all(v[d] >= lb[d] * (1 - 1e-9) - 1e-12)
    ds = ~np.isnan(sc)
    assert np.all(sc[ds] <= ub[::7][ds] * (1 + 1e-9) + 1e-12) and np.all(sc[ds] >= lb[::7][ds] * (1 - 1e-9) - 1e-12)
    assert np.mean((ub - lb)[d] < 0.05) > 0.5  # the bracket is informative
    with np.errstate(all="ignore"):
        for thr in (0.0, 0.01, 0.2, 0.5, 0.9):
            assert np.array_equal(em_r2_decide(T, thr), em_r2_exceeds(T, thr)), thr


def test_em_decide_from_window_counts_equals_full_table_em_with_missing_calls():
    """``clump.em._decide_from_counts`` — the bracket-then-EM decision taken straight from window counts —
    equals the full EM on the 3x3 tables, for partners with and without missing calls and an index with
    missing. (The clumping loop itself takes its decisions through ``_classify_k`` / ``_em_exceeds_k``; its
    end-to-end agreement with PLINK is checked by the reference-clump tests below.)"""
    from twasflow.clump.em import _RAW_OF_CAT, _decide_from_counts, bit_counts, em_r2_exceeds, genotype_bits
    from twasflow.clump.core import _full_tables, _window_counts
    from twasflow.io.plink import pack_codes

    rng = np.random.default_rng(31)
    n, k = 300, 600
    base = rng.integers(0, 3, n)
    cat = np.where(rng.uniform(size=(k + 1, n)) < rng.uniform(0.3, 1.0, (k + 1, 1)), base, rng.integers(0, 3, (k + 1, n)))
    cat = cat.astype(np.uint8)
    cat[rng.uniform(size=cat.shape) < 0.02] = 3  # missing calls everywhere, index included
    bits = genotype_bits(pack_codes(_RAW_OF_CAT[cat]), n)
    cnt = bit_counts(bits)
    rows = np.arange(1, k + 1)
    counts = _window_counts(bits, cnt, cnt[:, 3] < n, 0, rows, n)
    idx = np.arange(k)
    for thr in (0.01, 0.1, 0.3, 0.6):
        with np.errstate(all="ignore"):
            got = _decide_from_counts(counts, idx, thr)
            exp = em_r2_exceeds(_full_tables(counts, idx), thr)
        assert np.array_equal(got, exp), thr
        assert 0 < exp.sum() < k, thr  # both outcomes occur


def _reference_clump(cat, chrom, pos, p, p1, r2, radius, allow_overlap, method):
    """Direct PLINK --clump greedy (one association row per variant, all p <= 0.05 loaded, p > 0.05 only
    NSIG): 3x3 tables counted person by person, scalar EM (or Pearson) r2 per pair, no bounds, no batching.
    Returns {index row: sorted member rows} in PLINK order."""
    from twasflow.clump.em import _haplotype_r2_one

    M = cat.shape[0]
    # PLINK's orientation: allele 1 = minor among called people (a tie keeps it)
    called = cat != 3
    a1 = 2 * (cat == 0).sum(1) + (cat == 1).sum(1)
    f = (a1 > called.sum(1))[:, None]
    c = np.where(f & (cat == 0), 2, np.where(f & (cat == 2), 0, cat))
    nsig = p > 0.05
    clumped = np.zeros(M, dtype=bool)
    out = {}
    for iv in sorted(np.flatnonzero(p <= p1), key=lambda i: (p[i], i)):
        if clumped[iv]:
            continue
        members = []
        both = (c[iv] != 3) & (c != 3)  # (M, n) people called at both
        tables = np.stack([np.sum(both & (c[iv] == a) & (c == b), axis=1) for a in range(3) for b in range(3)], 1)
        for j in range(M):
            if j == iv or chrom[j] != chrom[iv] or abs(pos[j] - pos[iv]) > radius:
                continue
            if clumped[j] and not allow_overlap:
                continue
            t = tables[j].tolist()
            val = _haplotype_r2_one(t) if method == "haplotype" else pearson_r2(np.array([t]))[0]
            if abs(val) > r2:
                members.append(j)
        if nsig[iv]:
            clumped[iv] = True
        clumped[members] = True
        out[int(iv)] = members
    return out


@pytest.mark.parametrize("setting", ["low_r2", "overlap", "missing", "high_r2", "pearson"])
def test_clump_core_equals_direct_greedy(setting, monkeypatch):
    """clump_plink (frequency/table/EM-bracket bounds, exact EM deferred and batched, undecided partners
    solved on demand when they are index candidates) gives exactly the clumps of a direct pair-by-pair
    greedy with the scalar EM, on an LD-structured panel with thresholds that leave many pairs undecided."""
    import twasflow.clump.core as C  # the core's own names, so the monkeypatches below reach its calls
    from twasflow.clump.em import _RAW_OF_CAT
    from twasflow.io.plink import pack_codes

    rng = np.random.default_rng({"low_r2": 1, "overlap": 2, "missing": 3, "high_r2": 4, "pearson": 5}[setting])
    n, M = 180, 700
    # haplotypes as mosaics of a few founders with recombination and mutation noise: blocks of strong LD,
    # weak LD between blocks
    founders = rng.uniform(size=(6, M)) < rng.uniform(0.05, 0.6, M)
    hap = np.empty((2 * n, M), dtype=bool)
    for h in range(2 * n):
        src = rng.integers(0, 6, M // 50 + 1).repeat(50)[:M]
        hap[h] = founders[src, np.arange(M)] ^ (rng.uniform(size=M) < 0.03)
    dose = hap[:n].astype(int) + hap[n:].astype(int)  # copies of allele 1
    cat = np.where(dose == 2, 0, np.where(dose == 1, 1, 2)).T.astype(np.uint8)  # (M, n)
    if setting == "missing":
        cat[rng.uniform(size=cat.shape) < 0.02] = 3
    chrom = np.repeat(["1", "2"], [400, 300])
    pos = np.concatenate([np.sort(rng.choice(2_000_000, 400, replace=False)),
                          np.sort(rng.choice(2_000_000, 300, replace=False))]) + 1
    z = rng.normal(size=M) + 5.0 * np.sin(np.arange(M) / 40.0) ** 8  # a few association peaks
    from scipy.stats import norm
    p = np.clip(2 * norm.sf(np.abs(z)), 1e-300, 1.0)
    r2, kb, overlap, method = {"low_r2": (0.02, 300, False, "haplotype"), "overlap": (0.05, 300, True, "haplotype"),
                               "missing": (0.02, 300, False, "haplotype"), "high_r2": (0.5, 250, False, "haplotype"),
                               "pearson": (0.05, 300, False, "pearson")}[setting]
    p1 = 1e-2
    packed = pack_codes(_RAW_OF_CAT[cat])
    marker = np.arange(M)
    entries = C.build_entries(marker, p, np.ones(M, dtype=np.int64), np.arange(1, M + 1), M, p1, 0.05)
    ids = np.array([f"v{i}" for i in range(M)], dtype=object)
    undecided, batched = [], []  # pairs left undecided by the bounds; pairs solved in the final batch
    classify, exceeds = C._Block.classify, C._em_exceeds_k
    monkeypatch.setattr(C._Block, "classify", lambda *a: (lambda r: undecided.append(r[1].size) or r)(classify(*a)))
    monkeypatch.setattr(C, "_em_exceeds_k", lambda *a: batched.append(a[0].size) or exceeds(*a))
    recs = C.clump_plink(chrom, pos, ids, entries, lambda rows: packed[rows], n, p1=p1, p2=0.05, r2=r2, kb=kb,
                         allow_overlap=overlap, r2_method=method)
    ref = _reference_clump(cat, chrom, pos, p, p1, r2, C.bp_radius(kb), overlap, method)
    got = {int(r.row): r.members.tolist() for r in recs}
    assert list(got) == list(ref)  # same index variants, same order
    assert got == ref
    assert sum(len(v) for v in ref.values()) > 50 and len(ref) > 5
    if method == "haplotype":
        assert sum(batched) > 50  # pairs went through the deferred batch
    if setting in ("low_r2", "missing", "overlap"):
        assert sum(undecided) > sum(batched)  # and some were solved on demand (index candidates)


def test_block_k11_c_and_classify_against_direct_tables():
    """Per-pair counts of the clumping core (three AND-popcounts, byte-lane sums for W % 8 == 0, dense span
    or gather) equal counts taken person by person, and its three-way split (sure / undecided / dropped)
    agrees with the full EM decision, for several panel widths."""
    from twasflow.clump.em import _RAW_OF_CAT, _haplotype_r2_one
    from twasflow.clump.core import _Block
    from twasflow.io.plink import pack_codes

    rng = np.random.default_rng(41)
    for n in (64, 180, 500, 1000):
        k = 260
        base = rng.integers(0, 3, n)
        cat = np.where(rng.uniform(size=(k, n)) < rng.uniform(0.0, 0.9, (k, 1)), base, rng.integers(0, 3, (k, n)))
        cat = cat.astype(np.uint8)
        blk = _Block.build(np.arange(k), np.arange(k), pack_codes(_RAW_OF_CAT[cat]), n)
        # the block re-orients allele 1 to the minor allele: compare with the same orientation
        f = (2 * (cat == 0).sum(1) + (cat == 1).sum(1) > n)[:, None]
        c = np.where(f & (cat == 0), 2, np.where(f & (cat == 2), 0, cat))
        for cand in (np.arange(1, k), np.arange(1, k, 5)):  # dense span, then gather
            k11, cc = blk.k11_c(0, cand)
            n00 = ((c[0] == 0) & (c[cand] == 0)).sum(1)
            n01 = ((c[0] == 0) & (c[cand] == 1)).sum(1)
            n10 = ((c[0] == 1) & (c[cand] == 0)).sum(1)
            n11 = ((c[0] == 1) & (c[cand] == 1)).sum(1)
            assert np.array_equal(k11, 2 * n00 + n01 + n10), n
            assert np.array_equal(cc, n11), n
        cand = np.arange(1, k)
        tables = np.stack([((c[0] == a) & (c[cand] == b)).sum(1) for a in range(3) for b in range(3)], 1)
        exact = np.abs([_haplotype_r2_one(t) for t in tables.tolist()])
        for thr in (0.01, 0.2, 0.6):
            sure, und, kk = blk.classify(0, cand, thr, n)
            with np.errstate(invalid="ignore"):
                member = exact > thr
            assert member[sure - 1].all(), (n, thr)
            decided_out = np.setdiff1d(cand, np.concatenate([sure, und]))
            assert not member[decided_out - 1].any(), (n, thr)
            assert len(kk) == 5 and all(x.shape == und.shape for x in kk)
            assert member[sure - 1].sum() + member[und - 1].sum() == member.sum()
