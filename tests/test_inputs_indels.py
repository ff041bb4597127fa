"""GWAS-side indels (issue 19): a GWAS row whose alleles are written as bases but are not one base each
(``C``/``CA``) is matched to the panel by its allele strings, as the prediction-model matcher matches a model's
indels (:func:`twasflow.harmonize.match.match_indels`, one function for both). No strand flip and no palindrome
rule for indels. Unmatched indels, symbolic alleles (``-``, ``I``/``D``) and a genotype store without indels are
counted as ``indel``; the QC accounts for every row and the build check ignores indels.

The fixture is written here: a variant table of 60 SNVs and 4 indels on chromosome 1 (positions every 1 kb).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twasflow.harmonize import harmonize_gwas, read_harmonized_gwas
from twasflow.harmonize.models import harmonize_model_weights

BASES = "ACGT"


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    for i in range(60):
        a, b = rng.choice([("A", "C"), ("A", "G"), ("C", "T"), ("G", "T")])  # never palindromic
        rows.append(("1", 1000 * (i + 1), a, b))
    # indels: two alone, one beside an SNV at the same position (multi-allelic site), one on the minus sense
    rows += [("1", 100_500, "C", "CA"), ("1", 101_500, "GTT", "G"), ("1", 5000, "C", "CT"), ("1", 102_500, "A", "AT")]
    df = pd.DataFrame(rows, columns=["chrom", "pos", "other_allele", "counted_allele"])
    df = df.sort_values("pos", kind="stable").reset_index(drop=True)
    df["variant_id"] = df["chrom"] + ":" + df["pos"].astype(str) + ":" + df["other_allele"] + ":" + df["counted_allele"]
    df["rsid"] = [f"rs{i + 1}" for i in range(len(df))]
    df["counted_freq"] = 0.3
    return df


def _gwas(panel: pd.DataFrame) -> pd.DataFrame:
    snv = panel[panel["other_allele"].str.len() + panel["counted_allele"].str.len() == 2]
    g = pd.DataFrame({"chrom": snv["chrom"], "pos": snv["pos"], "ea": snv["counted_allele"],
                      "oa": snv["other_allele"], "z": np.linspace(-3, 3, len(snv))})
    extra = pd.DataFrame([
        ("1", 100_500, "CA", "C", 2.5),     # = panel counted CA: kept, sign +1
        ("1", 101_500, "gtt", "g", -1.5),   # effect = the panel's other allele (lower case): kept, sign -1
        ("1", 5000, "CT", "C", 4.0),         # the indel at a multi-allelic site: the indel row, not the SNV
        ("1", 102_500, "A", "ATT", 1.0),     # other alleles than the panel's: indel (not found)
        ("1", 103_500, "-", "A", 1.0),       # symbolic: indel
        ("1", 104_500, "I", "D", 1.0),       # symbolic: indel
        ("1", 105_500, "CA", "CA", 1.0),     # the same allele twice: invalid_allele
        ("5", 100, "CA", "C", 1.0),          # a chromosome the panel lacks
    ], columns=["chrom", "pos", "ea", "oa", "z"])
    return pd.concat([g, extra], ignore_index=True)


def _run(tmp: Path, gwas: pd.DataFrame, panel: pd.DataFrame, name: str) -> tuple[pd.DataFrame, dict]:
    src = tmp / f"{name}.tsv"
    gwas.to_csv(src, sep="\t", index=False)
    qc = harmonize_gwas(src, fmt="table", panel_variants=panel, out=tmp / f"{name}.parquet", qc_out=tmp / f"{name}.json",
                        n=1000, colmap=dict(chrom="chrom", pos="pos", ea="ea", oa="oa", z="z"),
                        declared_build="GRCh38", panel_build="GRCh38")
    return read_harmonized_gwas(tmp / f"{name}.parquet"), qc


def test_gwas_indels_match_the_panel_by_allele_strings(tmp_path: Path) -> None:
    panel = _panel()
    gwas = _gwas(panel)
    out, qc = _run(tmp_path, gwas, panel, "g")
    assert qc["n_input"] == len(gwas) == qc["n_kept"] + sum(qc["dropped"].values())
    assert qc["n_kept"] == 60 + 3
    assert qc["dropped"] == {"indel": 3, "invalid_allele": 1, "chrom_not_in_panel": 1}
    got = out.set_index("variant_id")
    assert got.loc["1:100500:C:CA", "z"] == 2.5
    assert got.loc["1:101500:GTT:G", "z"] == 1.5  # effect = other: sign changed
    assert got.loc["1:5000:C:CT", "z"] == 4.0
    # the SNV at the multi-allelic site keeps its own row
    snv5000 = panel[(panel["pos"] == 5000) & (panel["counted_allele"].str.len() == 1)]["variant_id"].iloc[0]
    assert snv5000 in got.index
    assert (got.loc["1:101500:GTT:G", ["other_allele", "counted_allele"]] == ["GTT", "G"]).all()
    # the output is sorted like the panel and each row's alleles are the panel's strings
    assert out["pos"].is_monotonic_increasing
    assert (out["variant_id"] == out["chrom"] + ":" + out["pos"].astype(str) + ":" + out["other_allele"] + ":"
            + out["counted_allele"]).all()


def test_indels_match_as_the_model_matcher_matches_them(tmp_path: Path) -> None:
    """One allele matcher: a model stating the same indel rows keeps the same variants in the same orientation."""
    panel = _panel()
    gwas = _gwas(panel)
    out, _ = _run(tmp_path, gwas, panel, "g")
    ind = gwas[gwas["ea"].str.len() + gwas["oa"].str.len() > 2].reset_index(drop=True)
    models = pd.DataFrame({"model": "g1", "model_variant": [f"v{i}" for i in range(len(ind))],
                           "chrom": ind["chrom"], "pos": ind["pos"].astype(float), "rsid": None,
                           "effect_allele": ind["ea"], "other_allele": ind["oa"], "weight": ind["z"]})
    used, report = harmonize_model_weights(models, panel)
    gz = out.set_index("variant_id")["z"]
    both = used.set_index("variant_id")["weight"]
    assert set(both.index) == {"1:100500:C:CA", "1:101500:GTT:G", "1:5000:C:CT"}
    np.testing.assert_array_equal(both.sort_index().to_numpy(), gz.reindex(both.index).sort_index().to_numpy())


def test_a_genotype_store_without_indels_counts_them_and_the_build_check_ignores_them(tmp_path: Path) -> None:
    panel = _panel()
    snv_only = panel[panel["other_allele"].str.len() + panel["counted_allele"].str.len() == 2].reset_index(drop=True)
    gwas = _gwas(panel)
    out, qc = _run(tmp_path, gwas, snv_only, "s")
    assert qc["n_kept"] == 60 and qc["dropped"]["indel"] == 3 + 2 + 1
    assert qc["n_input"] == qc["n_kept"] + sum(qc["dropped"].values())
    # the build check rate over comparable rows: the indels absent from the store do not lower it
    _, qc_snv = _run(tmp_path, gwas[gwas["ea"].str.len() + gwas["oa"].str.len() == 2], snv_only, "t")
    assert qc["build"]["match_rate"] == qc_snv["build"]["match_rate"] == 1.0


@pytest.mark.parametrize("flip", [False, True])
def test_indels_are_never_strand_flipped(tmp_path: Path, flip: bool) -> None:
    """An indel's complemented alleles are no match (no file writes the reverse complement): counted ``indel``."""
    panel = _panel()
    comp = str.maketrans("ACGT", "TGCA")
    g = pd.DataFrame([("1", 100_500, "CA".translate(comp) if flip else "CA", "C".translate(comp) if flip else "C",
                       2.0)], columns=["chrom", "pos", "ea", "oa", "z"])
    snv = _gwas(panel).iloc[:60]
    _, qc = _run(tmp_path, pd.concat([snv, g], ignore_index=True), panel, f"f{flip}")
    assert qc["n_kept"] == 60 + (0 if flip else 1)
    assert qc["dropped"].get("indel", 0) == (1 if flip else 0)
