"""A small eQTL Catalogue release written from its published specification (docs/Columns_parquet.md and the
SuSiE workflow qtlmap/bin/run_susie.R): nominal summary statistics (TSV.gz and Parquet with the same rows) and
SuSiE ``lbf_variable`` / ``credible_sets`` files from our own ``susie_rss`` fits of a simulated locus.

``python tests/eqtlcat_fixture.py`` rewrites ``tests/data/eqtl_catalogue/`` (deterministic, seed 20261208);
the tests also call :func:`simulate` directly to compare with the fits themselves.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "eqtl_catalogue"
SEED = 20261208
M, N_EQTL = 120, 600
ALL_COLUMNS = ["molecular_trait_id", "chromosome", "position", "ref", "alt", "variant", "ma_samples", "maf",
               "pvalue", "beta", "se", "type", "ac", "an", "r2", "molecular_trait_object_id", "gene_id",
               "median_tpm", "rsid"]
CS_COLUMNS = ["molecular_trait_id", "chromosome", "position", "ref", "alt", "variant", "ma_samples", "maf",
              "pvalue", "beta", "se", "type", "ac", "r2", "molecular_trait_object_id", "gene_id", "median_tpm",
              "rsid", "cs_id", "cs_size", "pip", "z", "cs_min_r2", "region"]
TRAITS = {"ENSG00000000101": {20: 0.30, 75: -0.22}, "ENSG00000000102": {50: 0.25}, "ENSG00000000103": {}}


@dataclass
class Simulated:
    panel: pd.DataFrame          # chrom, pos, other_allele, counted_allele, counted_freq, rsid
    ref: np.ndarray              # (M,) the eQTL file's REF
    alt: np.ndarray              # (M,) ALT (= the panel's counted allele where ``same``)
    same: np.ndarray             # (M,) bool: ALT is the panel's counted allele
    R: np.ndarray                # (M, M) LD of the ALT dosages
    z: dict[str, np.ndarray]     # marginal z (ALT) per trait
    fits: dict                   # trait -> SusieFit of susie_rss(z, R, n)


def simulate(seed: int = SEED) -> Simulated:
    sys.path.insert(0, str(HERE))
    from synth import ar1_genotypes, ld_of

    from twasflow.susie import susie_rss

    rng = np.random.default_rng(seed)
    X = ar1_genotypes(rng, M, n=N_EQTL, rho=0.85)
    R = ld_of(X)
    pos = 100_000 + 500 * np.arange(M)
    nonpal = [("A", "C"), ("A", "G"), ("C", "T"), ("G", "T")]
    pick = rng.integers(0, 4, M)
    other = np.array([nonpal[k][0] for k in pick])
    counted = np.array([nonpal[k][1] for k in pick])
    freq = np.round(rng.uniform(0.05, 0.5, M), 4)
    same = rng.random(M) < 0.5
    alt = np.where(same, counted, other)
    ref = np.where(same, other, counted)
    panel = pd.DataFrame({"chrom": "1", "pos": pos, "other_allele": other, "counted_allele": counted,
                          "counted_freq": freq, "rsid": [f"rs{1000 + j}" for j in range(M)]})
    z, fits = {}, {}
    for t, eff in TRAITS.items():
        b = np.zeros(M)
        for j, v in eff.items():
            b[j] = v
        y = X @ b + rng.standard_normal(N_EQTL)
        y = (y - y.mean()) / y.std()
        bhat = X.T @ y / N_EQTL
        resid = ((y[:, None] - X * bhat) ** 2).sum(0) / (N_EQTL - 2)
        z[t] = bhat / np.sqrt(resid / N_EQTL)
        fits[t] = susie_rss(z=z[t], R=R, n=N_EQTL, L=10)
    return Simulated(panel, ref, alt, same, R, z, fits)


def _variant(sim: Simulated) -> np.ndarray:
    return np.array([f"chr1_{p}_{r}_{a}" for p, r, a in zip(sim.panel["pos"], sim.ref, sim.alt)])


def sumstats(sim: Simulated) -> pd.DataFrame:
    """The nominal summary statistics of every trait (columns ALL_COLUMNS)."""
    rows = []
    f_alt = np.where(sim.same, sim.panel["counted_freq"], 1 - sim.panel["counted_freq"])
    for t in TRAITS:
        se = np.full(M, 1 / np.sqrt(N_EQTL))
        from scipy.stats import norm

        rows.append(pd.DataFrame({
            "molecular_trait_id": t, "chromosome": "1", "position": sim.panel["pos"].astype(np.int32),
            "ref": sim.ref, "alt": sim.alt, "variant": _variant(sim),
            "ma_samples": np.int32(100), "maf": np.round(np.minimum(f_alt, 1 - f_alt), 6),
            "pvalue": 2 * norm.sf(np.abs(sim.z[t])), "beta": sim.z[t] * se, "se": se, "type": "SNP",
            "ac": np.round(f_alt * 2 * N_EQTL).astype(np.int32), "an": np.int32(2 * N_EQTL), "r2": None,
            "molecular_trait_object_id": t, "gene_id": t, "median_tpm": 12.5, "rsid": sim.panel["rsid"]}))
    return pd.concat(rows, ignore_index=True)[ALL_COLUMNS]


def susie_layout(sim: Simulated) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(lbf_variable, credible_sets) of the traits with a credible set, as the eQTL Catalogue writes them."""
    lbf_rows, cs_rows = [], []
    ss = sumstats(sim)
    var = _variant(sim)
    region = f"chr1:{sim.panel['pos'].min()}-{sim.panel['pos'].max()}"
    for t, fit in sim.fits.items():
        if not fit.sets:
            continue
        lb = pd.DataFrame({"molecular_trait_id": t, "region": region, "variant": var, "chromosome": "1",
                           "position": sim.panel["pos"].astype(np.int32)})
        for k in range(fit.lbf_variable.shape[0]):
            lb[f"lbf_variable{k + 1}"] = fit.lbf_variable[k]
        lbf_rows.append(lb)
        st = ss[ss["molecular_trait_id"] == t].reset_index(drop=True)
        for cs in fit.sets:
            sub = st.iloc[cs.variables].drop(columns=["an"]).copy()
            sub["cs_id"] = f"{t}_{cs.name}"
            sub["cs_size"] = len(cs.variables)
            sub["pip"] = fit.pip[cs.variables]
            sub["z"] = sim.z[t][cs.variables]
            sub["cs_min_r2"] = cs.purity_min ** 2
            sub["region"] = region
            cs_rows.append(sub[CS_COLUMNS])
    return pd.concat(lbf_rows, ignore_index=True), pd.concat(cs_rows, ignore_index=True)


def write(out: Path = OUT) -> None:
    from twasflow.io.tables import write_tsv

    out.mkdir(parents=True, exist_ok=True)
    sim = simulate()
    ss = sumstats(sim)
    write_tsv(ss, out / "QTD_test.all.tsv.gz")
    pq.write_table(pa.Table.from_pandas(ss, preserve_index=False), out / "QTD_test.all.parquet")
    lbf, cs = susie_layout(sim)
    write_tsv(lbf, out / "QTD_test.lbf_variable.txt.gz")
    write_tsv(cs, out / "QTD_test.credible_sets.tsv.gz")
    pq.write_table(pa.Table.from_pandas(lbf, preserve_index=False), out / "QTD_test.lbf_variable.parquet")
    write_tsv(sim.panel, out / "panel.tsv")


if __name__ == "__main__":
    write()
