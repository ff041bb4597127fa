"""Timings of twasflow.coloc (median of repeated runs, wall clock).

    python benchmarks/bench_coloc.py [--repeats 5]

Cases: coloc_abf on the oracle case coloc_01 (500 variants); coloc_susie replay of coloc_08 (3 x 3 sets,
410 variants); coloc_locus on a simulated locus (M variants in AR(1) LD blocks, P pairs, every pair with an
xQTL signal), which is dominated by the per-pair SuSiE-RSS fits. coloc (R) is not installed here, so there
is no side-by-side reference run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from scipy.linalg import block_diag

from twasflow.coloc import coloc_abf, coloc_locus, coloc_susie

EXP = Path(__file__).resolve().parents[1].parent / "shared" / "oracle" / "expected"


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _locus(M: int, P: int, seed: int = 1):
    m_block = 50
    idx = np.arange(m_block)
    block = 0.95 ** np.abs(idx[:, None] - idx[None, :])
    R = block_diag(*([block] * (M // m_block)))
    C = np.linalg.cholesky(R)
    rng = np.random.default_rng(seed)
    b = np.zeros(M)
    causal = rng.choice(M, 4, replace=False)
    b[causal] = 9.0
    gz = R @ b + C @ rng.normal(size=M)
    xz = np.empty((M, P))
    for k in range(P):
        bx = np.zeros(M)
        bx[rng.choice(causal)] = 10.0
        xz[:, k] = R @ bx + C @ rng.normal(size=M)
    return gz, R, xz


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--M", type=int, default=1000)
    ap.add_argument("--P", type=int, default=20)
    a = ap.parse_args()
    out = {"load_avg": os.getloadavg()}
    inp = json.loads((EXP / "coloc_01_abf_quant_sdY" / "inputs.json").read_text())
    out["coloc_abf_500snps_s"] = _median_time(lambda: coloc_abf(inp["dataset1"], inp["dataset2"]), a.repeats)
    e = json.loads((EXP / "coloc_08_susie_two_cs" / "expected.json").read_text())
    snps = json.loads((EXP / "coloc_08_susie_two_cs" / "inputs.json").read_text())["dataset1"]["snp"]

    def fit(f):
        return SimpleNamespace(lbf_variable=np.array(f["lbf_variable"]),
                               sets=[SimpleNamespace(effect=k - 1) for k in f["cs_index"]], null_index=None)

    f1, f2 = fit(e["fit1"]), fit(e["fit2"])
    out["coloc_susie_3x3_410snps_s"] = _median_time(lambda: coloc_susie(f1, f2, snps, snps), a.repeats)
    gz, R, xz = _locus(a.M, a.P)
    vids = [f"v{i}" for i in range(a.M)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = coloc_locus(gz, 100_000, R, xz, np.full(a.P, 500.0), [f"p{k}" for k in range(a.P)], vids)
        out["coloc_locus_nsnps_median"] = float(res["nsnps"].median())
        out[f"coloc_locus_M{a.M}_P{a.P}_s"] = _median_time(
            lambda: coloc_locus(gz, 100_000, R, xz, np.full(a.P, 500.0), [f"p{k}" for k in range(a.P)], vids),
            max(3, a.repeats // 2))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
