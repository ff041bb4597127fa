"""GWAS inputs users hold (issue 19): rsID-only files, COJO .ma, odds-ratio and -log10 p columns, liftover.

Real data: UK Biobank BOLT-LMM rows and the 1000G EUR panel of chr22:20.0-20.1 Mb (hg19), carried in
tests/data/inputs (README there). Each new path is checked against the native positional path on the same rows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from twasflow.config import load_run_config
from twasflow.errors import ConfigError, HarmonizeError, InputError
from twasflow.harmonize import harmonize_gwas, read_harmonized_gwas
from twasflow.io.liftover import Chain
from twasflow.io.panel import build_panel_store

FIX = Path(__file__).parent / "data" / "inputs"
PANEL = FIX / "chr22_20.0-20.1Mb"
BOLT = FIX / "bolt_chr22_20.0-20.1Mb.tsv.gz"
CHAIN = FIX / "toy_hg19_to_new.chain"
N = 337_000.0
POSMAP = dict(chrom="CHR", pos="BP", ea="ALLELE1", oa="ALLELE0", beta="BETA", se="SE", p="P_BOLT_LMM", eaf="A1FREQ",
              rsid="SNP")


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    d = tmp_path_factory.mktemp("panel")
    build_panel_store(d, bfile=PANEL, maf_min=0.0)
    return pd.read_parquet(d / "variants.parquet")


@pytest.fixture(scope="module")
def bolt() -> pd.DataFrame:
    return pd.read_csv(BOLT, sep="\t")


def run(tmp: Path, name: str, path: Path, panel: pd.DataFrame, fmt: str = "table", **kw) -> tuple[pd.DataFrame, dict]:
    out, qc = tmp / f"{name}.parquet", tmp / f"{name}.qc.json"
    res = harmonize_gwas(path, fmt=fmt, panel_variants=panel, out=out, qc_out=qc, n=kw.pop("n", N),
                         declared_build=kw.pop("declared_build", "GRCh37"), panel_build="GRCh37", **kw)
    return read_harmonized_gwas(out), res


def write(df: pd.DataFrame, path: Path, sep: str = "\t") -> Path:
    df.to_csv(path, sep=sep, index=False, na_rep="NA")
    return path


@pytest.fixture(scope="module")
def native(tmp_path_factory, panel) -> tuple[pd.DataFrame, dict]:
    return run(tmp_path_factory.mktemp("native"), "native", BOLT, panel, colmap=POSMAP)


def test_native_path_on_real_rows(native, bolt):
    out, qc = native
    assert qc["n_input"] == len(bolt) == 392
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values())
    assert qc["n_kept"] > 380 and qc["swapped_alleles"] > 0


def test_rsid_only_positions_from_panel_equal_positional(tmp_path, panel, bolt, native):
    """Dropping CHR/BP: positions and alleles come from the panel's rsIDs; identical rows and values."""
    cm = {k: v for k, v in POSMAP.items() if k not in ("chrom", "pos")}
    f = write(bolt.drop(columns=["CHR", "BP"]), tmp_path / "rsid_only.tsv")
    out, qc = run(tmp_path, "rs", f, panel, colmap=cm)
    pd.testing.assert_frame_equal(out, native[0])
    rp = qc["rsid_positions"]
    assert rp["source"] == "panel"
    n_missing = int((~bolt["SNP"].isin(set(panel["rsid"]))).sum())
    assert rp["n_not_found"] == qc["dropped"].get("rsid_not_found", 0) == n_missing
    assert rp["n_resolved"] == len(bolt) - n_missing
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values())


def test_rsid_map_table_and_unknown_rsids_counted(tmp_path, panel, bolt, native):
    m = panel[["rsid", "chrom", "pos"]].iloc[10:]  # the first 10 panel variants are not in the map
    mp = write(m.rename(columns={"chrom": "CHR", "pos": "BP", "rsid": "SNP"}), tmp_path / "map.tsv")
    cm = {k: v for k, v in POSMAP.items() if k not in ("chrom", "pos")}
    f = write(bolt.drop(columns=["CHR", "BP"]), tmp_path / "rsid_only.tsv")
    out, qc = run(tmp_path, "rsmap", f, panel, colmap=cm, rsid_map=mp)
    assert qc["rsid_positions"]["source"] == str(mp)
    lost = set(panel["rsid"].iloc[:10]) & set(bolt["SNP"])
    assert qc["dropped"]["rsid_not_found"] == qc["rsid_positions"]["n_not_found"] >= len(lost) > 0
    exp = native[0][~native[0]["rsid"].isin(lost)].reset_index(drop=True)
    pd.testing.assert_frame_equal(out, exp)


def test_cojo_ma_equals_table(tmp_path, panel, bolt, native):
    ma = pd.DataFrame({"SNP": bolt["SNP"], "A1": bolt["ALLELE1"], "A2": bolt["ALLELE0"], "freq": bolt["A1FREQ"],
                       "b": bolt["BETA"], "se": bolt["SE"], "p": bolt["P_BOLT_LMM"], "N": N})
    f = write(ma, tmp_path / "trait.ma", sep=" ")
    out, qc = run(tmp_path, "cojo", f, panel, fmt="cojo", n=None)
    pd.testing.assert_frame_equal(out, native[0])
    assert qc["format"] == "cojo" and qc["rsid_positions"]["source"] == "panel"


def test_cojo_missing_column_named(tmp_path, panel, bolt):
    f = write(pd.DataFrame({"SNP": bolt["SNP"], "A1": bolt["ALLELE1"], "A2": bolt["ALLELE0"], "b": bolt["BETA"]}),
              tmp_path / "bad.ma")
    with pytest.raises(HarmonizeError, match=r"column 'freq': COJO .ma column is missing"):
        run(tmp_path, "bad", f, panel, fmt="cojo")


def test_odds_ratio_and_neg_log10_p_columns(tmp_path, panel, bolt, native):
    """β = log OR gives the β/se z (to rounding of exp/log); -log10 p gives the p path's z."""
    t = bolt.assign(OR=np.exp(bolt["BETA"]), LP=-np.log10(bolt["P_BOLT_LMM"]))
    f = write(t, tmp_path / "or.tsv")
    out, qc = run(tmp_path, "or", f, panel, colmap={**POSMAP, "beta": None, "or": "OR"})
    ref = native[0]
    assert list(out["variant_id"]) == list(ref["variant_id"])
    np.testing.assert_allclose(out["beta"], ref["beta"], rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(out["z"], ref["z"], rtol=1e-12, atol=0)
    # odds ratio and -log10 p only (no se): z = sign(log OR) * Φ⁻¹(1 - p/2), the same as from p itself
    cm = {k: v for k, v in POSMAP.items() if k not in ("beta", "se", "p")}
    out_lp, _ = run(tmp_path, "lp", f, panel, colmap={**cm, "or": "OR", "lp": "LP"})
    out_p, _ = run(tmp_path, "p", f, panel, colmap={**cm, "or": "OR", "p": "P_BOLT_LMM"})
    np.testing.assert_allclose(out_lp["z"], out_p["z"], rtol=1e-10, atol=0)
    out_bp, _ = run(tmp_path, "bp", f, panel, colmap={**cm, "beta": "BETA", "p": "P_BOLT_LMM"})
    np.testing.assert_allclose(out_p["z"], out_bp["z"], rtol=1e-12, atol=0)


def test_odds_ratio_not_positive_counted(tmp_path, panel, bolt):
    t = bolt.assign(OR=np.exp(bolt["BETA"]))
    t.loc[[0, 1], "OR"] = [0.0, -1.0]
    f = write(t, tmp_path / "or_bad.tsv")
    _, qc = run(tmp_path, "orb", f, panel, colmap={**POSMAP, "beta": None, "or": "OR"})
    assert qc["dropped"]["invalid_effect"] == 2


# ---------------------------------------------------------------------------------------------- liftover
def _dense_chain(path: Path) -> dict[tuple[str, int], list[tuple[str, int, bool]]]:
    """Independent oracle: every aligned base of the chain file, t (chrom, 1-based pos) -> [(q chrom, pos, minus)]."""
    out: dict = {}
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    i = 0
    while i < len(lines):
        h = lines[i]
        tname, tstart = h[2].removeprefix("chr"), int(h[5])
        qname, qsize, minus, qstart = h[7].removeprefix("chr"), int(h[8]), h[9] == "-", int(h[10])
        i += 1
        t, q = tstart, qstart
        while i < len(lines) and lines[i][0] != "chain":
            f = [int(x) for x in lines[i]]
            for k in range(f[0]):
                qq = q + k
                qpos = (qsize - 1 - qq) if minus else qq
                out.setdefault((tname, t + k + 1), []).append((qname, qpos + 1, minus))
            t += f[0] + (f[1] if len(f) > 1 else 0)
            q += f[0] + (f[2] if len(f) > 1 else 0)
            i += 1
    return out


COMP = str.maketrans("ACGT", "TGCA")


def test_chain_lift_matches_dense_oracle():
    dense = _dense_chain(CHAIN)
    chain = Chain.read(CHAIN)
    pos = np.arange(19_999_990, 20_100_010, 7)
    res = chain.lift(np.array(["chr22"] * len(pos), dtype=object), pos)
    for p, c, q, rev, why in zip(pos, res.chrom, res.pos, res.reverse, res.reason):
        hits = dense.get(("22", int(p)), [])
        if len(hits) == 0:
            assert why == "liftover_unmapped"
        elif len(hits) > 1:
            assert why == "liftover_ambiguous"
        else:
            assert (why, c, q, rev) == ("", hits[0][0], hits[0][1], hits[0][2])
    assert set(res.reason) == {"", "liftover_unmapped", "liftover_ambiguous"}
    # unknown chromosome: unmapped
    assert chain.lift(np.array(["5"], dtype=object), np.array([20_000_100])).reason[0] == "liftover_unmapped"


def test_gwas_liftover_equals_gwas_on_new_coordinates(tmp_path, panel, bolt, native):
    """Lift the hg19 file to the toy build and harmonize against the panel lifted by the dense oracle: every
    variant that lifts keeps its z; the others are counted per reason."""
    dense = _dense_chain(CHAIN)
    hits = [dense.get(("22", int(p)), []) for p in panel["pos"]]
    one = np.array([len(h) == 1 for h in hits])
    lp = panel[one].copy()
    h1 = [h[0] for h, o in zip(hits, one) if o]
    lp["chrom"] = [h[0] for h in h1]
    lp["pos"] = np.array([h[1] for h in h1], dtype=np.int64)
    minus = np.array([h[2] for h in h1])
    for col in ("other_allele", "counted_allele"):
        lp.loc[minus, col] = lp.loc[minus, col].str.translate(COMP)
    lp["variant_id"] = lp["chrom"] + ":" + lp["pos"].astype(str) + ":" + lp["other_allele"] + ":" + lp["counted_allele"]
    lp = lp.sort_values(["chrom", "pos"], key=lambda s: s.map({"21": 0, "22": 1}) if s.name == "chrom" else s)
    lp = lp.reset_index(drop=True)
    cm = {k: v for k, v in POSMAP.items() if k != "rsid"}
    out, qc = run(tmp_path, "lift", BOLT, lp, colmap=cm, liftover=CHAIN)
    li = qc["liftover"]
    bh = [dense.get(("22", int(p)), []) for p in bolt["BP"]]
    assert li["liftover_unmapped"] == qc["dropped"]["liftover_unmapped"] == sum(len(h) == 0 for h in bh)
    assert li["liftover_ambiguous"] == qc["dropped"]["liftover_ambiguous"] == sum(len(h) > 1 for h in bh)
    assert li["n_lifted"] == sum(len(h) == 1 for h in bh)
    assert li["reverse_strand"] == sum(len(h) == 1 and h[0][2] for h in bh) > 0
    assert li["other_chromosome"] == li["reverse_strand"]  # the toy's '-' chain goes to chr21
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values())
    # same variants (by rsid) with the same z as the unlifted run
    ref = native[0].set_index("rsid")
    got = out.set_index(lp.set_index("variant_id").loc[out["variant_id"], "rsid"].to_numpy())
    assert len(got) > 100 and (got["chrom"] == "21").sum() > 0
    np.testing.assert_array_equal(got["z"].to_numpy(), ref.loc[got.index, "z"].to_numpy())
    assert qc["build"]  # the build check ran on lifted positions


def test_liftover_and_rsid_map_misuse_rejected(tmp_path, panel, bolt):
    cm = {k: v for k, v in POSMAP.items() if k not in ("chrom", "pos")}
    f = write(bolt.drop(columns=["CHR", "BP"]), tmp_path / "rsid_only.tsv")
    with pytest.raises(HarmonizeError, match="liftover of an rsID-only file"):
        run(tmp_path, "x", f, panel, colmap=cm, liftover=CHAIN)
    with pytest.raises(HarmonizeError, match="rsID map is given but the file has positions"):
        run(tmp_path, "y", BOLT, panel, colmap=POSMAP, rsid_map=f)


def test_bad_chain_file_named(tmp_path):
    p = tmp_path / "bad.chain"
    p.write_text("chain 1 chr1 100 + 0 10 chr1 100 + 0 10 1\n5 1\n")
    with pytest.raises(InputError, match=r"row 2: malformed chain block line"):
        Chain.read(p)
    with pytest.raises(InputError, match="chain file not found"):
        Chain.read(tmp_path / "nope.chain")


# ---------------------------------------------------------------------------------------------- sheet/config
@pytest.fixture()
def user_config(tmp_path: Path) -> tuple[dict, Path]:
    from tests.conftest import REPO

    shutil.copytree(REPO / "config", tmp_path / "config")
    shutil.copytree(FIX, tmp_path / "data")
    cfg = yaml.safe_load((tmp_path / "config" / "config.yaml").read_text())
    cfg["simulate"]["enabled"] = False
    cfg["panel"] = {"bfile": str(tmp_path / "data" / "chr22_20.0-20.1Mb")}
    cfg["genome_build"] = "GRCh37"
    (tmp_path / "config" / "xqtl.tsv").write_text("dataset\ttissue\tqtl_type\tpath\tformat\tn\tbuild\n"
                                                  "m\tLiver_model\teQTL\tdata/chr22_20.0-20.1Mb.bim\tweights-long\t\tGRCh37\n")
    return cfg, tmp_path


def _sheet(root: Path, rows: list[dict]) -> None:
    pd.DataFrame(rows).to_csv(root / "config" / "gwas.tsv", sep="\t", index=False)


def test_check_config_accepts_new_gwas_inputs(user_config):
    cfg, root = user_config
    (root / "data" / "t.ma").write_text("SNP A1 A2 freq b se p N\n")
    _sheet(root, [
        {"trait": "A", "path": "data/bolt_chr22_20.0-20.1Mb.tsv.gz", "format": "table", "build": "GRCh37",
         "col_rsid": "SNP", "col_ea": "ALLELE1", "col_oa": "ALLELE0", "col_or": "BETA", "col_lp": "P_BOLT_LMM",
         "n": 1000},
        {"trait": "B", "path": "data/t.ma", "format": "cojo", "build": "GRCh37", "rsid_map": "data/chr22_20.0-20.1Mb.bim"},
        {"trait": "C", "path": "data/bolt_chr22_20.0-20.1Mb.tsv.gz", "format": "table", "build": "GRCh38",
         "liftover": "data/toy_hg19_to_new.chain", "col_chrom": "CHR", "col_pos": "BP", "col_ea": "ALLELE1",
         "col_oa": "ALLELE0", "col_beta": "BETA", "col_se": "SE", "n": 1000},
    ])
    run_cfg = load_run_config(cfg, base_dir=root)
    assert run_cfg.traits == ["A", "B", "C"]


@pytest.mark.parametrize("row, message", [
    ({"format": "table", "build": "GRCh38", "col_chrom": "CHR", "col_pos": "BP", "col_ea": "ALLELE1",
      "col_oa": "ALLELE0", "col_z": "BETA"}, r"column 'build': found GRCh38; expected GRCh37 .*column 'liftover'"),
    ({"format": "table", "build": "GRCh37", "col_rsid": "SNP", "col_ea": "ALLELE1", "col_oa": "ALLELE0",
      "col_or": "BETA"}, r"needs a column map.*col_or with col_se, col_p or col_lp"),
    ({"format": "cojo", "build": "GRCh37", "liftover": "data/toy_hg19_to_new.chain"}, r"no chain file needed"),
    ({"format": "table", "build": "GRCh37", "col_chrom": "CHR", "col_pos": "BP", "col_ea": "ALLELE1",
      "col_oa": "ALLELE0", "col_z": "BETA", "rsid_map": "data/chr22_20.0-20.1Mb.bim"}, r"'rsid_map' is only for"),
    ({"format": "cojo", "build": "GRCh37", "rsid_map": "data/nope.tsv"}, r"column 'rsid_map': file .*nope.tsv"),
])
def test_check_config_rejects_misused_gwas_columns(user_config, row, message):
    cfg, root = user_config
    _sheet(root, [{"trait": "A", "path": "data/bolt_chr22_20.0-20.1Mb.tsv.gz", "n": 1000, **row}])
    with pytest.raises(ConfigError, match=message):
        load_run_config(cfg, base_dir=root)


def test_ssf_without_positions_is_rsid_keyed(tmp_path, panel, bolt, native):
    ssf = pd.DataFrame({"rsid": bolt["SNP"], "effect_allele": bolt["ALLELE1"], "other_allele": bolt["ALLELE0"],
                        "beta": bolt["BETA"], "standard_error": bolt["SE"], "p_value": bolt["P_BOLT_LMM"],
                        "effect_allele_frequency": bolt["A1FREQ"]})
    out, qc = run(tmp_path, "ssf", write(ssf, tmp_path / "x.tsv"), panel, fmt="gwas-ssf")
    pd.testing.assert_frame_equal(out.drop(columns="p"), native[0].drop(columns="p"))
    assert qc["rsid_positions"]["n_resolved"] == qc["n_input"] - qc["rsid_positions"]["n_not_found"]


def test_cli_cojo_pgen_and_liftover(tmp_path, bolt, native, capsys):
    """`twasflow panel --pgen` and `twasflow harmonize-gwas --format cojo`, `--liftover` (the rule's functions)."""
    from twasflow.cli import main

    pytest.importorskip("pgenlib")
    assert main(["panel", "--pgen", str(PANEL), "--maf-min", "0", "--out", str(tmp_path / "p")]) == 0
    ma = pd.DataFrame({"SNP": bolt["SNP"], "A1": bolt["ALLELE1"], "A2": bolt["ALLELE0"], "freq": bolt["A1FREQ"],
                       "b": bolt["BETA"], "se": bolt["SE"], "p": bolt["P_BOLT_LMM"], "N": N})
    f = write(ma, tmp_path / "t.ma", sep=" ")
    assert main(["harmonize-gwas", "--input", str(f), "--format", "cojo", "--panel", str(tmp_path / "p"),
                 "--build", "GRCh37", "--out", str(tmp_path / "c.parquet"), "--qc", str(tmp_path / "c.json")]) == 0
    pd.testing.assert_frame_equal(read_harmonized_gwas(tmp_path / "c.parquet"), native[0])
    rc = main(["harmonize-gwas", "--input", str(BOLT), "--format", "table", "--col-chrom", "CHR", "--col-pos", "BP",
               "--col-ea", "ALLELE1", "--col-oa", "ALLELE0", "--col-beta", "BETA", "--col-se", "SE", "--n", "1000",
               "--liftover", str(CHAIN), "--panel", str(tmp_path / "p"), "--build", "GRCh37",
               "--out", str(tmp_path / "l.parquet"), "--qc", str(tmp_path / "l.json")])
    # the toy chain moves the window off the panel: every row is dropped, which is an error naming the reasons
    # (issue 18: never an empty success), not a QC file of nothing kept
    assert rc == 1 and not (tmp_path / "l.parquet").exists()
    err = capsys.readouterr().err
    assert "every row was dropped" in err and "liftover_unmapped" in err


def test_chain_or_map_that_matches_nothing_is_an_error(tmp_path, panel, bolt):
    c = tmp_path / "chr5.chain"
    c.write_text("chain 1 chr5 1000 + 0 100 chr5 1000 + 0 100 1\n100\n")
    with pytest.raises(HarmonizeError, match=r"no variant lifts over with the chain file.*0 of 392 rows lifted"):
        run(tmp_path, "c", BOLT, panel, colmap=POSMAP | {"rsid": None}, liftover=c)
    f = write(bolt.drop(columns=["CHR", "BP"]).assign(SNP="x" + bolt["SNP"]), tmp_path / "rs.tsv")
    with pytest.raises(HarmonizeError, match=r"no rsID of the file is known.*0 of 392 rsIDs in the panel"):
        run(tmp_path, "r", f, panel, colmap={k: v for k, v in POSMAP.items() if k not in ("chrom", "pos")})
