"""The prediction-model matcher is the one allele matcher (issue 16): model weights and a GWAS file stating the
same variants with the same alleles are matched identically — the same panel variants kept, the same
orientation, the same drops under the same reasons — for direct, swapped and strand-flipped alleles, palindromic
variants (kept on the file's strand consensus, dropped off it or under ``palindromic: drop``), indels, non-base
alleles, positions missing from the panel and rows at a variant the panel dropped for ``maf_min``; and the
``harmonize`` config block reaches the model rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from test_harmonize import make_panel, run, write_tsv
from twasflow.harmonize import Settings
from twasflow.harmonize.models import REASONS, harmonize_model_weights

COMP = {"A": "T", "C": "G", "G": "C", "T": "A"}
#: GWAS reasons → the model report's (models have no chromosome-level reason)
TO_MODEL = {"chrom_not_in_panel": "not_in_panel", "strand_inconsistent": "palindromic_ambiguous"}


def _case(seed: int, strand_flip_frac: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A panel of 60 SNVs (some palindromic) and rows stating them: swapped at random, complemented at
    ``strand_flip_frac`` of the non-palindromic ones, plus an indel, a non-base allele, an allele mismatch and
    a position the panel lacks. Rows carry no allele frequency (as models)."""
    rng = np.random.default_rng(seed)
    rows, recs = [], []
    for i in range(60):
        pal = i % 6 == 0
        a, b = ("A", "T") if pal and i % 12 == 0 else ("C", "G") if pal else tuple(rng.choice(list("ACGT"), 2, replace=False))
        if not pal and {a, b} in ({"A", "T"}, {"C", "G"}):
            a, b = "A", "C"
        rows.append(("1", 1000 + 10 * i, a, b, 0.3))
        ea, oa = (b, a) if rng.random() < 0.5 else (a, b)
        if not pal and rng.random() < strand_flip_frac:
            ea, oa = COMP[ea], COMP[oa]
        recs.append(("1", 1000 + 10 * i, ea, oa))
    panel = make_panel(rows)
    recs += [("1", 1000, "AT", "A"), ("1", 1010, "N", "A"), ("1", 1020, "G" if rows[2][2] != "G" and rows[2][3] != "G"
                                                               else "T", rows[2][2]), ("1", 99_999, "A", "C")]
    recs = [r if r[2] != r[3] else (r[0], r[1], r[2], "A" if r[2] != "A" else "C") for r in recs]
    gw = pd.DataFrame(recs, columns=["chromosome", "base_pair_location", "effect_allele", "other_allele"])
    gw["beta"] = np.round(rng.normal(0, 1, len(gw)), 4)
    gw["standard_error"] = 1.0
    gw["p_value"] = 0.5
    return panel, gw


def _as_models(gw: pd.DataFrame) -> pd.DataFrame:
    # one model per row, so a repeated position is never a within-model duplicate
    return pd.DataFrame({"model": [f"g{i}" for i in range(len(gw))], "rsid": np.nan,
                         "chrom": gw["chromosome"].astype(str), "pos": gw["base_pair_location"],
                         "effect_allele": gw["effect_allele"], "other_allele": gw["other_allele"],
                         "weight": gw["beta"], "model_variant": [f"v{i}" for i in range(len(gw))]})


@pytest.mark.parametrize("flip_frac,palindromic", [(0.0, "align_by_freq"), (0.5, "align_by_freq"),
                                                    (0.0, "drop"), (1.0, "align_by_freq")])
def test_model_matcher_equals_gwas_matcher(tmp_path: Path, flip_frac: float, palindromic: str) -> None:
    panel, gw = _case(7, flip_frac)
    qc, h = run(tmp_path, write_tsv(gw, tmp_path / "g.tsv"), panel, palindromic=palindromic)
    used, rep = harmonize_model_weights(_as_models(gw), panel, settings=Settings(palindromic=palindromic))
    # kept: the same panel variants with the same oriented effect
    g = h.set_index("variant_id")["beta"].sort_index()
    u = used.set_index("variant_id")["weight"].sort_index()
    pd.testing.assert_series_equal(g, u, check_names=False)
    # dropped: the same reasons and counts
    want: dict[str, int] = {}
    for k, v in qc["dropped"].items():
        want[TO_MODEL.get(k, k)] = want.get(TO_MODEL.get(k, k), 0) + v
    got = {r: int(rep[r].sum()) for r in REASONS if rep[r].sum()}
    assert got == want
    assert int(used["strand_flipped"].sum()) == qc["flipped_strand"]
    # the case covers what it claims
    assert {"indel", "invalid_allele", "allele_mismatch", "not_in_panel"} <= set(got)
    if palindromic == "drop":
        assert got["palindromic_dropped"] == 10
    elif flip_frac == 0.0:
        assert "palindromic_ambiguous" not in got  # on the panel's strand: palindromic labels taken as stated
    else:
        assert got["palindromic_ambiguous"] == 10  # strand not established: dropped, as a GWAS without frequencies


def test_indel_matched_where_the_target_has_it() -> None:
    """A variant table holding an indel (e.g. a panel-free table from model varIDs) matches a model indel by its
    allele strings, swapped or not; absent indels are counted as ``indel``."""
    target = pd.DataFrame({"variant_id": ["1:100:A:AT", "1:200:C:G", "1:300:G:T"], "chrom": "1",
                           "pos": [100, 200, 300], "other_allele": ["A", "C", "G"],
                           "counted_allele": ["AT", "G", "T"]})
    models = pd.DataFrame({"model": "g", "rsid": np.nan, "chrom": "1", "pos": [100, 100, 300, 400],
                           "effect_allele": ["A", "A", "T", "CA"], "other_allele": ["AT", "AT", "G", "C"],
                           "weight": [2.0, 5.0, 1.0, 3.0], "model_variant": ["i1", "i1b", "s", "i2"]})
    used, rep = harmonize_model_weights(models, target)
    assert used.set_index("model_variant")["weight"].to_dict() == {"i1": -2.0, "s": 1.0}
    r = rep.iloc[0]
    assert (r["n_used"], r["indel"], r["duplicate"]) == (2, 1, 1)


def test_harmonize_block_reaches_the_model_rule(tmp_path: Path) -> None:
    """``harmonize: {palindromic: drop}`` given to the rule's function changes the model harmonization."""
    from twasflow.models import harmonize_models

    panel, gw = _case(3, 0.0)
    m = _as_models(gw)
    m["model"] = "ENSG00000000001"
    m["chrom"] = m["chrom"].astype(str)
    path = tmp_path / "w.tsv"
    m.drop(columns=["model_variant", "rsid"]).to_csv(path, sep="\t", index=False)
    kw = dict(fmt="weights-long", panel_variants=panel, dataset="d", tissue="T", qtl_type="eQTL")
    keep = harmonize_models(path, out_dir=tmp_path / "a", qc_out=tmp_path / "a.json", **kw)
    drop = harmonize_models(path, out_dir=tmp_path / "b", qc_out=tmp_path / "b.json", palindromic="drop", **kw)
    assert "palindromic_dropped" not in keep["dropped"]
    assert drop["dropped"]["palindromic_dropped"] == 10
    assert keep["n_kept"] == drop["n_kept"] + 10
