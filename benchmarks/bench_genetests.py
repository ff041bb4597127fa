"""Gene tests (twasflow.genetests): cross-check with GAMBIT's binary, null calibration, power, the example.

    python benchmarks/bench_genetests.py gambit --gambit PATH/TO/GAMBIT --example resources/example \\
        --results results --trait LDL_sim --locus LDL_sim.2_20857608_24006939
    python benchmarks/bench_genetests.py null  [--reps 20000] [--seed 1]
    python benchmarks/bench_genetests.py power [--reps 500]   [--seed 2]
    python benchmarks/bench_genetests.py example --results results --example resources/example

``gambit``: writes GAMBIT's inputs (annotated GWAS with the example's consequences, TSS BED, element BED,
eWeights from the stage-1 weights, the example's VCF panel as LD reference) for one locus, runs the binary,
and recomputes every test with twasflow.genetests on the same variant sets with GAMBIT's LD (correlation of
the panel's haplotypes, which is what GAMBIT computes from a VCF; the pipeline itself uses the dosage
correlation). Prints per test form the max relative difference of the p-values.

``null``: simulated z ~ N(0, R) at loci of 60 variants in AR(1) LD (ρ = 0.8), four classes per gene (a
coding set of 5, a UTR set of 3, an element of 6, dTSS over all 60) and 4 tissue predictions; type-I error
of every form and of the omnibus at 1e-2, 1e-3, 1e-4 and a QQ summary (observed / expected quantiles).

``power``: the same loci with one planted mechanism per scenario (coding, enhancer, eQTL) at a fixed
non-centrality; power at 2.5e-6 of each single test, the omnibus (HMP and ACAT) and S-MultiXcan.

``example``: the example run's planted coding and enhancer genes: their omnibus p, their best class and the
p-values of the TWAS-type tests (CT-TWAS, S-MultiXcan) that the pipeline had before.
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from twasflow.genetests import (GeneInputs, GeneTestOptions, combine, dtss_test, l_test, q_test, run_gene,
                                tissue_correlation)
from twasflow.genetests.forms import mismatch_ld
from twasflow.susie import estimate_s_rss
from twasflow.genetests.inputs import read_consequences, read_elements, read_tss
from twasflow.config import load_run_config

SIG = 2.5e-6


# ------------------------------------------------------------------------------------------ GAMBIT
def _read_vcf_haplotypes(path: Path, positions: set[int]) -> tuple[np.ndarray, np.ndarray]:
    """(positions, haplotypes (2N, k) of ALT indicators) of the wanted positions of a phased VCF."""
    pos, haps = [], []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            p = int(f[1])
            if p not in positions:
                continue
            gt = "".join(g[0] + g[2] for g in f[9:])
            pos.append(p)
            haps.append(np.frombuffer(gt.encode(), dtype=np.uint8) - ord("0"))
    return np.array(pos), np.array(haps, dtype=np.float64).T


def cmd_gambit(a: argparse.Namespace) -> None:
    ex, res = Path(a.example), Path(a.results)
    cfg = load_run_config(__import__("yaml").safe_load(open(a.config)), base_dir=".").config
    loci = pd.read_csv(res / "loci" / f"{a.trait}.tsv", sep="\t", dtype={"chrom": str})
    loc = loci[loci["locus_id"] == a.locus].iloc[0]
    chrom, start, end = str(loc["chrom"]), int(loc["start"]), int(loc["end"])
    gw = pd.read_parquet(res / "harmonized" / "gwas" / f"{a.trait}.parquet")
    gw = gw[(gw["chrom"] == chrom) & np.isfinite(gw["z"])].sort_values("pos").reset_index(drop=True)
    tss = read_tss(ex / "genes.tsv")
    tss = tss[(tss["chrom"] == chrom) & (tss["tss"] >= start) & (tss["tss"] <= end)]
    names = dict(zip(tss["gene_id"], tss["gene_name"]))
    cons, _ = read_consequences(ex / "annotations" / "consequences.tsv", cfg["gene_tests"]["classes"])
    cons = cons[(cons["chrom"] == chrom) & cons["gene"].isin(names)]
    elems = read_elements(ex / "annotations" / "elements.bed")
    elems = elems[(elems["chrom"] == chrom) & elems["gene"].isin(set(names.values()))]
    work = Path(tempfile.mkdtemp(prefix="gambit_xcheck_"))
    # --- GAMBIT inputs (genes named by symbol everywhere, so GAMBIT groups all sources per gene)
    anno: dict[int, list[str]] = {}
    for r in cons.itertuples():
        anno.setdefault(int(r.pos), []).append(f"{r.term}:{names[r.gene]}")
    lines = ["#CHR\tPOS\tREF\tALT\tSNP_ID\tN\tZSCORE\tANNO"]
    for r in gw.itertuples():
        lines.append(f"{chrom}\t{r.pos}\t{r.other_allele}\t{r.counted_allele}\t{r.variant_id}\t{r.n:.0f}\t"
                     f"{float(r.z)!r}\t{','.join(anno.get(int(r.pos), [])) or 'Intergenic'}")
    (work / "gwas.txt").write_text("\n".join(lines) + "\n")
    defs = ["\t".join([h["class"], h["subclass"], ",".join(h["terms"])]) for h in cfg["gene_tests"]["classes"]]
    (work / "defs.txt").write_text("\n".join(defs) + "\n")
    tlines = [f"{chrom}\t{t}\t{t}\t{n}\t{g}" for g, n, t in zip(tss["gene_id"], tss["gene_name"], tss["tss"])]
    # GAMBIT v0.2 reads past the last TSS row when a variant is within the window of it (segfault): a sentinel
    # gene on another chromosome ends its scan
    tlines.append("22\t1\t1\tSENTINEL\tSENTINEL")
    (work / "tss.bed").write_text("#CHR\tSTART\tEND\tSYMBOL\tGENE\n" + "\n".join(tlines) + "\n")
    elines = []
    for eid, grp in elems.groupby("element_id", sort=False):
        s0, e0 = int(grp["start"].iloc[0]), int(grp["end"].iloc[0])
        tg = "|".join(f"{g}:{sc:g}" for g, sc in zip(grp["gene"], grp["score"]))
        # GAMBIT's element test takes start <= pos <= end; BED's is start < pos <= end
        elines.append((s0 + 1, f"{chrom}\t{s0 + 1}\t{e0}\tEnhancer\t{eid}\t{tg}\tAll:1"))
    elines.sort()
    elines.append((0, "22\t1\t2\tEnhancer\tSENTINEL\tSENTINEL:1\tAll:1"))  # see the TSS sentinel
    (work / "elements.bed").write_text("#CHR\tSTART\tEND\tCLASS\tELEMENT_ID\tTARGET_GENES\tANNO\n"
                                       + "\n".join(e for _, e in elines) + "\n")
    # eWeights: the stage-1 weights of the locus's pairs (standardized scale, counted = ALT allele)
    bundle = np.load(res / "locus_inputs" / a.trait / loc["chunk"] / f"{a.locus}.npz", allow_pickle=False)
    pairs = pd.read_parquet(res / "locus_inputs" / a.trait / loc["chunk"] / f"{a.locus}.pairs.parquet")
    w = np.load(res / "weights" / a.trait / loc["chunk"] / f"{a.locus}.weights.npz", allow_pickle=False)
    B, status = w["B"], w["pair_status"].astype(str)
    pg = pairs["gene_id"].astype(str).str.replace(r"\.\d+$", "", regex=True).to_numpy(str)
    lab = (pairs["tissue"] + "_" + pairs["qtl_type"]).to_numpy(str)
    cols = [j for j in range(B.shape[1]) if status[j] == "ok" and pg[j] in names and B[:, j].any()]
    # one prediction per gene x tissue label (GAMBIT keys weights by gene and tissue)
    seen, keep = set(), []
    for j in cols:
        if (pg[j], lab[j]) not in seen:
            seen.add((pg[j], lab[j]))
            keep.append(j)
    tissues = sorted({lab[j] for j in keep})
    tid = {t: i for i, t in enumerate(tissues)}
    vids = bundle["variant_ids"].astype(str)
    blines = ["##TISSUE_IDS=" + ",".join(f"{i}:{t}" for t, i in tid.items()), "#CHR\tPOS\tRSID\tREF\tALT\tBETAS"]
    for m in np.flatnonzero(np.any(B[:, keep] != 0, axis=1)):
        c_, p_, ref_, alt_ = vids[m].split(":")
        ent: dict[str, list[str]] = {}
        for j in keep:
            if B[m, j] != 0:
                ent.setdefault(names[pg[j]], []).append(f"{float(B[m, j])!r}@{tid[lab[j]]}")
        blines.append(f"{c_}\t{p_}\t{vids[m]}\t{ref_}\t{alt_}\t" + "|".join(f"{g}={';'.join(v)}" for g, v in ent.items()))
    blines.append("22\t1\tSENTINEL\tA\tC\tSENTINEL=0.1@0")  # see the TSS sentinel
    (work / "betas.txt").write_text("\n".join(blines) + "\n")
    for f, preset in (("gwas.txt", ["-s1", "-b2", "-e2"]), ("tss.bed", ["-s1", "-b2", "-e3"]),
                      ("elements.bed", ["-s1", "-b2", "-e3"]), ("betas.txt", ["-s1", "-b2", "-e2"])):
        subprocess.run(["bgzip", "-f", str(work / f)], check=True)
        subprocess.run(["tabix", "-f", *preset, "-c", "#", str(work / f) + ".gz"], check=True)
    vcf = (ex / "panel" / f"example.chr{chrom}.vcf.gz").resolve()
    cmd = [a.gambit, "--gwas", str(work / "gwas.txt.gz"), "--anno-defs", str(work / "defs.txt"),
           "--tss-bed", str(work / "tss.bed.gz"), "--anno-bed", str(work / "elements.bed.gz"),
           "--betas", str(work / "betas.txt.gz"), "--ldref", str(vcf), "--prefix", str(work / "out")]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
    t_gambit = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"GAMBIT failed ({r.returncode}):\n{r.stderr[-3000:]}")
    strat = pd.read_csv(work / "out.stratified_out.txt", sep="\t")
    with warnings.catch_warnings():  # GAMBIT writes one more field per row than its header names
        warnings.simplefilter("ignore")
        summ = pd.read_csv(work / "out.summary_out.txt", sep="\t", index_col=False)
    strat.columns = [c.lstrip("#") for c in strat.columns]
    summ.columns = [c.lstrip("#") for c in summ.columns]
    # --- ours on the same variant sets, with GAMBIT's LD (haplotype correlation of the VCF)
    vpos, H = _read_vcf_haplotypes(vcf, set(gw["pos"].tolist()))
    hidx = {int(p): i for i, p in enumerate(vpos)}

    def Rhap(positions: np.ndarray) -> np.ndarray:
        X = H[:, [hidx[int(p)] for p in positions]]
        return np.atleast_2d(np.corrcoef(X.T))

    zpos = dict(zip(gw["pos"].astype(int), gw["z"]))
    rows = []
    gpos = gw["pos"].to_numpy()
    for g, n, t in zip(tss["gene_id"], tss["gene_name"], tss["tss"]):
        near = np.abs(gpos - t) <= 500_000
        d = gpos[near] - t
        d = np.where(d == 0, 1, d)  # GAMBIT: a variant at the TSS gets distance 1
        r_, _ = dtss_test(gw["z"].to_numpy()[near], d)
        rows.append((n, "TSS", "TSS", r_.p))
        for (cls, sub), grp in cons[cons["gene"] == g].groupby(["class", "subclass"]):
            ps = np.unique(grp["pos"].to_numpy())
            ps = ps[[p in zpos for p in ps]]
            if ps.size:
                rows.append((n, cls, sub, q_test(np.array([zpos[p] for p in ps]), Rhap(ps)).p))
    for eid, grp in elems.groupby("element_id"):
        s0, e0 = int(grp["start"].iloc[0]), int(grp["end"].iloc[0])
        ps = gpos[(gpos > s0) & (gpos <= e0)]
        if ps.size:
            pe = q_test(np.array([zpos[p] for p in ps]), Rhap(ps)).p
            for gn in grp["gene"]:  # GAMBIT names element rows by their variants' position range
                rows.append((gn, "Enhancer", f"{ps.min()}-{ps.max()}", pe))
    # TWAS per gene x tissue, with GAMBIT's LD on the bundle variants
    bpos = np.array([int(v.split(":")[1]) for v in vids])
    for j in keep:
        m = np.flatnonzero(B[:, j])
        zz = np.array([zpos.get(int(bpos[k]), np.nan) for k in m])
        rows.append((names[pg[j]], "eQTL", lab[j], l_test(zz, Rhap(bpos[m]), B[m, j]).p))
    ours = pd.DataFrame(rows, columns=["GENE", "kind", "SUBCLASS", "p_ours"])
    g_strat = strat.rename(columns={"PVAL": "p_gambit"})
    g_strat["kind"] = np.where(g_strat["CLASS"].isin(["TSS", "eQTL"]), g_strat["CLASS"],
                               np.where(g_strat["SUBCLASS"].str.startswith("enh_") | g_strat["SUBCLASS"].isin(
                                   elems["element_id"]), "Enhancer", g_strat["CLASS"]))
    # GAMBIT reports element rows under the element's target-gene list; explode to genes
    el = g_strat[g_strat["kind"] == "Enhancer"].copy()
    el["GENE"] = el["GENE"].str.split("|").map(lambda xs: [x.split(":")[0] for x in xs])
    el = el.explode("GENE")
    el["SUBCLASS"] = el["POS"].astype(str).map(lambda x: x if "-" in x else f"{x}-{x}")
    g_all = pd.concat([g_strat[g_strat["kind"] != "Enhancer"], el], ignore_index=True)
    key = ["GENE", "kind", "SUBCLASS"]
    m = ours.merge(g_all[key + ["p_gambit", "INFO"]], on=key, how="outer", indicator=True)
    both = m[m["_merge"] == "both"].copy()
    both["rel"] = (both["p_ours"] - both["p_gambit"]).abs() / both["p_gambit"]
    print(f"GAMBIT {a.gambit}: {t_gambit:.2f} s wall; inputs in {work}")
    print(f"tests: ours {len(ours)}, GAMBIT {len(g_all)}, matched {len(both)}, "
          f"only ours {int((m['_merge'] == 'left_only').sum())}, only GAMBIT {int((m['_merge'] == 'right_only').sum())}")
    both["range"] = np.where(both["p_gambit"] > 1e-12, "p > 1e-12", "p <= 1e-12")
    for (kind, rng_), grp in both.groupby(["kind", "range"]):
        kind = f"{kind} {rng_}"
        print(f"  {kind:20s} n={len(grp):3d}  max rel diff {grp['rel'].max():.2e}  median {grp['rel'].median():.2e}"
              f"  smallest p {grp['p_gambit'].min():.3e}")
    worst = both.sort_values("rel").tail(5)
    print(worst[key + ["p_ours", "p_gambit", "rel"]].to_string(index=False))
    only = m[m["_merge"] != "both"]
    if len(only):
        print(only[key + ["p_ours", "p_gambit", "_merge"]].head(12).to_string(index=False))
    # the per-gene omnibus: GAMBIT's PVAL column against our HMP over the same tests
    omni = []
    for gname, grp in both.groupby("GENE"):
        sel = grp[grp["kind"] != "eQTL"]
        tw = grp[grp["kind"] == "eQTL"]
        ps = list(sel["p_ours"])
        if len(tw):
            ps.append(combine(tw["p_ours"].to_numpy(), None, "hmp"))
        row = summ[summ["GENE"] == gname]
        if len(row) and len(ps) > 1:
            omni.append((gname, len(ps), len(tw), combine(np.array(ps), None, "hmp"), float(row["PVAL"].iloc[0])))
    om = pd.DataFrame(omni, columns=["gene", "n_tests", "n_tissues", "ours", "gambit"])
    om["rel"] = (om["ours"] - om["gambit"]).abs() / om["gambit"]
    for lo, hi in ((1e-12, 1.0), (0.0, 1e-12)):
        sub = om[(om["gambit"] > lo) & (om["gambit"] <= hi)]
        if len(sub):
            print(f"omnibus, GAMBIT p in ({lo:g}, {hi:g}]: {len(sub)} genes, max rel diff {sub['rel'].max():.2e}, "
                  f"median {sub['rel'].median():.2e}")
    print(om.sort_values("gambit").to_string(index=False))


# ------------------------------------------------------------------------------------------ simulation
def _ar_ld(M: int, rho: float) -> np.ndarray:
    i = np.arange(M)
    return rho ** np.abs(i[:, None] - i[None, :])


class _Design:
    """One simulated gene: 60 variants in AR(1) LD; coding set, UTR set, one element, 4 tissue predictions."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.M = 60
        self.R = _ar_ld(self.M, 0.8)
        self.L = np.linalg.cholesky(self.R)
        self.d = np.linspace(-300_000, 300_000, self.M)
        self.coding = np.array([28, 30, 33, 35, 37])
        self.utr = np.array([25, 26, 39])
        self.elem = np.arange(10, 16)
        W = np.zeros((self.M, 4))
        shared = np.zeros(self.M)
        shared[[44, 47]] = [1.0, -0.6]
        for t in range(4):
            W[:, t] = shared * rng.uniform(0.5, 1.5)
            W[rng.choice(np.arange(40, 55), 2, replace=False), t] += rng.normal(0, 0.7, 2)
        self.W = W
        self.rho = tissue_correlation(W, self.R)
        self.Rc = self.R[np.ix_(self.coding, self.coding)]
        self.Ru = self.R[np.ix_(self.utr, self.utr)]
        self.Re = self.R[np.ix_(self.elem, self.elem)]

    def tests(self, z: np.ndarray, combine_: str = "hmp", mode: str = "lambda") -> dict[str, float]:
        """Every test on one draw of z, with the LD-mismatch safeguard ``mode`` as the pipeline applies it
        (``lambda``: s estimated from z and the reference R, every test on (1 − s) R + s I)."""
        R, gam = self.R, mode == "gambit"
        if mode == "lambda":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                R = mismatch_ld(self.R, estimate_s_rss(z, self.R))

        def sub(k: np.ndarray) -> np.ndarray:
            return R[np.ix_(k, k)]

        g = GeneInputs("G", "G", dtss_z=z, dtss_d=self.d,
                       classes=[("Coding", "Protein_Altering", q_test(z[self.coding], sub(self.coding), safeguard=gam)),
                                ("UTR", "UTR3", q_test(z[self.utr], sub(self.utr), safeguard=gam))],
                       elements=[("e1", 1.0, q_test(z[self.elem], sub(self.elem), safeguard=gam))],
                       tissue_labels=["t1", "t2", "t3", "t4"], tissue_W=self.W, tissue_z=z, tissue_R=R)
        rows, s = run_gene(g, GeneTestOptions(combine=combine_, ld_safeguard=mode))
        out = {f"{r['class']}:{r['subclass']}": r["p"] for r in rows}
        out["omnibus"] = s["omnibus_p"]
        return out


def _null(a: argparse.Namespace) -> None:
    des = _Design(a.seed)
    rng = np.random.default_rng(a.seed + 1)
    t0 = time.perf_counter()
    # the GWAS z's true LD: the reference's (no mismatch), or mixed with I (susieR's mismatch model), or another AR
    Rtrue = des.R if a.true_rho is None else _ar_ld(des.M, a.true_rho)
    Rtrue = (1 - a.mismatch) * Rtrue + a.mismatch * np.eye(des.M)
    Lt = np.linalg.cholesky(Rtrue)
    recs = [des.tests(Lt @ rng.standard_normal(des.M), mode=a.mode) for _ in range(a.reps)]
    df = pd.DataFrame(recs)
    recs_a = [des.tests(Lt @ rng.standard_normal(des.M), "acat", mode=a.mode) for _ in range(a.reps // 4)]
    df["omnibus_acat"] = pd.Series([r["omnibus"] for r in recs_a])
    print(f"null: {a.reps} replicates ({a.reps // 4} for the ACAT omnibus) in {time.perf_counter() - t0:.0f} s; "
          f"ld_safeguard {a.mode}; GWAS LD = (1 - {a.mismatch}) AR({a.true_rho or 0.8}) + {a.mismatch} I, "
          f"reference AR(0.8)")
    print("test                    n      1e-2     1e-3     1e-4    (MC se at 1e-3)   median p  QQ ratio obs/exp "
          "at quantile 1e-2/1e-3")
    for c in df.columns:
        p = df[c].dropna().to_numpy()
        n = len(p)
        rates = [np.mean(p <= t) for t in (1e-2, 1e-3, 1e-4)]
        qs = [np.quantile(p, q) / q for q in (1e-2, 1e-3)]
        print(f"{c:22s} {n:6d}  {rates[0]:.4f}  {rates[1]:.5f}  {rates[2]:.5f}  ({np.sqrt(1e-3 / n):.5f})   "
              f"{np.median(p):.3f}    {qs[0]:.2f} / {qs[1]:.2f}")


def _safeguard_null(a: argparse.Namespace) -> None:
    """Type-I error of the TWAS-type tests (each prediction's L-type test, CT-HMP, CT-Q, S-MultiXcan) and of dTSS
    under each ``ld_safeguard`` on the same draws: z ~ N(0, R_gwas) with R_gwas the reference R (the panel fits),
    susieR's mismatch model ``(1 - m) R + m I``, or another LD (AR ρ = 0.6 while the tests use AR 0.8)."""
    from twasflow.genetests import ct_pcomb, ct_q, smultixcan

    des = _Design(a.seed)
    M, R, W = des.M, des.R, des.W
    scen = {"panel fits": R, f"mismatch (1-{a.mismatch})R+{a.mismatch}I": (1 - a.mismatch) * R + a.mismatch * np.eye(M),
            "GWAS LD AR(0.6), panel AR(0.8)": _ar_ld(M, 0.6)}
    print(f"safeguard null: {a.reps} replicates per scenario; predictions t1, t4 have opposite-signed weights on "
          f"two eQTLs in positive LD (w'Rw < w'w), t2, t3 not; MC s.e. at 1e-2 / 1e-3: "
          f"{np.sqrt(1e-2 / a.reps / 4):.4f} / {np.sqrt(1e-3 / a.reps / 4):.5f} for the 4 predictions pooled")
    rng = np.random.default_rng(a.seed + 7)
    for name, Rt in scen.items():
        Lt = np.linalg.cholesky(Rt)
        t0 = time.process_time()
        rec: dict[str, list[float]] = {}
        ss = []
        for _ in range(a.reps):
            z = Lt @ rng.standard_normal(M)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = estimate_s_rss(z, R)
            ss.append(s)
            for mode in ("none", "gambit", "lambda"):
                Rm = mismatch_ld(R, s) if mode == "lambda" else R
                res = [l_test(z, Rm, W[:, t], safeguard=mode == "gambit") for t in range(W.shape[1])]
                st = np.array([r.stat for r in res])
                rho = tissue_correlation(W, Rm)
                rec.setdefault(f"{mode}:t1,t4", []).extend([res[0].p, res[3].p])
                rec.setdefault(f"{mode}:t2,t3", []).extend([res[1].p, res[2].p])
                rec.setdefault(f"{mode}:CT-HMP", []).append(ct_pcomb(st, "hmp").p)
                rec.setdefault(f"{mode}:CT-Q", []).append(ct_q(st, rho).p)
                rec.setdefault(f"{mode}:S-MultiXcan", []).append(smultixcan(st, rho).p)
            rec.setdefault("dTSS", []).append(dtss_test(z, des.d)[0].p)
        print(f"\n{name}: median s {np.median(ss):.3g} (s > 0.01 in {np.mean(np.array(ss) > 0.01):.0%}); "
              f"{time.process_time() - t0:.0f} CPU s")
        print("  test                      n      p<=1e-2   p<=1e-3   p<=1e-4")
        for k, v in rec.items():
            v = np.asarray(v)
            print(f"  {k:24s} {v.size:6d}   {np.mean(v <= 1e-2):.4f}    {np.mean(v <= 1e-3):.5f}   "
                  f"{np.mean(v <= 1e-4):.5f}")


def _power(a: argparse.Namespace) -> None:
    des = _Design(a.seed)
    rng = np.random.default_rng(a.seed + 1)
    scen = {}
    b = np.zeros(des.M)
    b[[30, 35]] = [0.7, -0.7]
    scen["coding (2 missense, opposite signs)"] = b
    b = np.zeros(des.M)
    b[[12, 14]] = [0.7, 0.5]
    scen["enhancer (2 element variants)"] = b
    b = des.W[:, 0] * 0.55 / np.sqrt(des.W[:, 0] @ des.R @ des.W[:, 0])
    scen["eQTL (tissue 1 mediated)"] = b
    print(f"power at p <= {SIG:g}, {a.reps} replicates per scenario, z ~ N(sqrt(N) R b, R) with sqrt(N) = 10")
    for name, beta in scen.items():
        mu = 10 * des.R @ beta
        recs = pd.DataFrame([des.tests(mu + des.L @ rng.standard_normal(des.M), mode=a.mode) for _ in range(a.reps)])
        pw = (recs <= SIG).mean()
        print(f"  {name}: max |E z| = {np.max(np.abs(mu)):.1f}")
        print("    " + ", ".join(f"{k} {v:.2f}" for k, v in pw.items()))


def _example(a: argparse.Namespace) -> None:
    res, ex = Path(a.results), Path(a.example)
    truth = pd.read_csv(ex / "annotations" / "truth.tsv", sep="\t")
    for r in truth.itertuples():
        g = pd.read_parquet(res / "gene_tests" / f"{r.trait}.genes.parquet")
        t = pd.read_parquet(res / "gene_tests" / f"{r.trait}.tests.parquet")
        row = g[g["gene_id"] == r.gene_id].iloc[0]
        tt = t[t["gene_id"] == r.gene_id]
        cls = tt[tt["class"] == r[4]]
        print(f"{r.trait} {r.gene_name} (planted {r[4]}): omnibus p {row['omnibus_p']:.2e} "
              f"({'significant' if row['omnibus_p'] <= SIG else 'not significant'} at {SIG:g}); "
              f"best {r[4]} test p {cls['p'].min():.2e}; CT-TWAS p {row['ct_twas_p']:.2e}; "
              f"S-MultiXcan p {row['smultixcan_p']:.2e}; dTSS p {row['dtss_p']:.2e}; top class {row['top_class']}")
        locus = g[g["locus_id"] == row["locus_id"]].sort_values("omnibus_p")
        rank = int(np.flatnonzero(locus["gene_id"].to_numpy() == r.gene_id)[0]) + 1
        print(f"    rank by omnibus p in its locus: {rank} of {len(locus)}; genes significant there: "
              f"{int((locus['omnibus_p'] <= SIG).sum())}")


def _metaxcan(a: argparse.Namespace) -> None:
    """S-MultiXcan against MetaXcan's own code (``JointAnalysis.joint_analysis`` with ``CutoffEigenRatio`` from
    ``--cutoff_condition_number 30``) on the same tissue z-scores and tissue correlation matrices. MetaXcan is
    imported from a checkout (``--metaxcan DIR/software``); its ``numpy.core.product`` import, gone in NumPy 2,
    is aliased to ``numpy.prod`` here, nothing else of it is touched."""
    import sys
    import types

    import numpy.core

    numpy.core.product = np.prod  # type: ignore[attr-defined]  # MetaXcan's Math.py imports it (NumPy < 2)
    sys.path.insert(0, a.metaxcan)
    from metax.cross_model import JointAnalysis
    from metax.cross_model import Utilities as MU

    from twasflow.genetests import smultixcan

    args = types.SimpleNamespace(cutoff_eigen_ratio=None, cutoff_trace_ratio=None, cutoff_threshold=None,
                                 cutoff_condition_number=a.condition_number)
    cutoff = MU._cutoff(args)
    rng = np.random.default_rng(a.seed)
    M = 80
    R = _ar_ld(M, 0.85)
    L = np.linalg.cholesky(R)
    rows, cases = [], []
    for g in range(a.genes):
        T = int(rng.integers(2, 12))
        # predictions sharing 1-2 eQTLs (correlated, some nearly collinear tissues) plus tissue-specific ones
        W = np.zeros((M, T))
        shared = rng.choice(M, int(rng.integers(1, 3)), replace=False)
        for t in range(T):
            W[shared, t] = rng.normal(1.0, 0.3, shared.size)
            if rng.uniform() < 0.6:
                W[rng.choice(M, int(rng.integers(1, 4)), replace=False), t] += rng.normal(0, 0.5)
        z = L @ rng.standard_normal(M) + (R @ W[:, 0]) * rng.choice([0.0, 0.5, 2.0])
        s = (W.T @ z) / np.sqrt(np.einsum("mt,mn,nt->t", W, R, W))
        rho = tissue_correlation(W, R)
        labels = [f"t{t}" for t in range(T)]
        ctx = types.SimpleNamespace(
            get_trimmed_ensemble_id=lambda: False, get_gene_name=lambda x: x, epsilon=None,
            get_metaxcan_zscores=lambda gene, s=s, labels=labels: (list(s), labels),
            get_model_matrix=lambda gene, tissues, rho=rho, labels=labels: (labels, rho),
            get_cutoff=lambda m: cutoff(m))
        res = JointAnalysis.joint_analysis(ctx, f"G{g}")
        ours = smultixcan(s, rho, a.condition_number)
        if g < a.fixture_genes:
            cases.append({"gene": f"G{g}", "z": s.tolist(), "rho": rho.tolist(), "metaxcan_pvalue": float(res[2]),
                          "metaxcan_n_indep": int(res[4]), "metaxcan_eigen_max": float(res[9]),
                          "metaxcan_eigen_min": float(res[10])})
        rows.append({"T": T, "mx_p": res[2], "mx_n_indep": res[4], "mx_eigen_max": res[9], "ours_p": ours.p,
                     "ours_n_indep": ours.n_indep, "ours_eigen_max": ours.eigen_max})
    df = pd.DataFrame(rows)
    rel = np.abs(df["ours_p"] - df["mx_p"]) / df["mx_p"]
    print(f"S-MultiXcan vs MetaXcan JointAnalysis.joint_analysis (condition number {a.condition_number}), "
          f"{len(df)} genes, 2-11 tissues each, p from {df['mx_p'].min():.2e} to {df['mx_p'].max():.2f}")
    print(f"  n_indep equal: {int((df['mx_n_indep'] == df['ours_n_indep']).sum())}/{len(df)}; "
          f"genes with a dropped component: {int((df['mx_n_indep'] < df['T']).sum())}")
    print(f"  p: max relative difference {rel.max():.2e} (median {rel.median():.2e}); largest eigenvalue: max "
          f"relative difference {(np.abs(df['ours_eigen_max'] - df['mx_eigen_max']) / df['mx_eigen_max']).max():.2e}")
    if a.fixture:
        import json

        Path(a.fixture).write_text(json.dumps({"condition_number": a.condition_number, "seed": a.seed,
                                               "cases": cases}, indent=0) + "\n")
        print(f"  wrote {len(cases)} cases to {a.fixture}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("gambit")
    p.add_argument("--gambit", required=True)
    p.add_argument("--example", default="resources/example")
    p.add_argument("--results", default="results")
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--trait", default="LDL_sim")
    p.add_argument("--locus", default="LDL_sim.2_20857608_24006939")
    p.set_defaults(fn=cmd_gambit)
    for name, fn, reps, seed in (("null", _null, 20000, 1), ("power", _power, 500, 2)):
        p = sub.add_parser(name)
        p.add_argument("--reps", type=int, default=reps)
        p.add_argument("--seed", type=int, default=seed)
        p.add_argument("--mode", choices=["lambda", "gambit", "none"], default="lambda",
                       help="gene_tests.ld_safeguard")
        p.set_defaults(fn=fn)
        if name == "null":
            p.add_argument("--mismatch", type=float, default=0.0,
                           help="GWAS LD = (1 - m) R + m I: susieR's mismatch model, m = 0 for none")
            p.add_argument("--true-rho", type=float, default=None,
                           help="GWAS LD AR(1) with this rho while the tests use the reference AR(0.8)")
    p = sub.add_parser("safeguard")
    p.add_argument("--reps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mismatch", type=float, default=0.3)
    p.set_defaults(fn=_safeguard_null)
    p = sub.add_parser("metaxcan")
    p.add_argument("--metaxcan", required=True, help="a MetaXcan checkout's software/ directory")
    p.add_argument("--genes", type=int, default=500)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--condition-number", type=float, default=30.0)
    p.add_argument("--fixture", default=None, help="write the first --fixture-genes cases (z, rho, MetaXcan's "
                   "results) as JSON (tests/data/metaxcan_smultixcan/cases.json)")
    p.add_argument("--fixture-genes", type=int, default=25)
    p.set_defaults(fn=_metaxcan)
    p = sub.add_parser("example")
    p.add_argument("--example", default="resources/example")
    p.add_argument("--results", default="results")
    p.set_defaults(fn=_example)
    a = ap.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    a.fn(a)


if __name__ == "__main__":
    main()
