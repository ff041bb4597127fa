"""Benchmark: genome-wide clumping and LD, twasflow vs plink1.9, side by side in the same run.

(a) ``--clump`` on a simulated ~1,000,000-variant x 500-person panel (22 chromosomes) built by tiling
    the four real 1000G EUR windows (each copy with its own permutation of people, so LD holds within a
    copy but not between copies; 11 extra people resampled to reach 500), with an association file that
    carries the real BOLT-LMM p-values on every sixth copy and uniform null p-values elsewhere.
    Settings: PLINK defaults, and the twasflow config defaults (p1 = p2 = 5e-8, r2 0.01, kb 1000).
    Outputs of the two tools are compared byte for byte.
(b) ``ld_matrix`` for 2,000 variants x 500 people (no missing; and with 3% missing calls).
(c) ``--r square`` on the oracle's 2,000 chr22 variants: ``twasflow.ld.run_ld`` vs ``plink1.9``.

Clumping is timed as two processes with the same flags, alternating run by run: ``python -m twasflow clump``
(start-up and imports included) and ``plink1.9 --threads 1 --clump``; CPU (user + sys) is the fair
comparison on a shared machine, wall times are listed too, with the load average. A per-step CPU breakdown
of one in-process run follows.

Usage: ``python benchmarks/bench_clump_ld.py [--runs 3] [--skip-ld] [--workdir /tmp/twasflow_bench_clump]``.
Prints a Markdown section to stdout (append it to ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np
import pandas as pd


from twasflow.io.plink import decode_codes, open_bed, pack_codes, read_bim, read_fam
from twasflow.ld import ld_matrix, run_ld

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GENO = SHARED / "data" / "genotypes"
WINDOWS = ["2", "12", "18", "22"]
N_PEOPLE = 500
TARGET = 1_000_000


def simulate_panel(work: Path, seed: int = 20240601) -> tuple[Path, Path]:
    """Write ``work/sim.{bed,bim,fam}`` and ``work/sim.assoc``; reuse them when present."""
    prefix = work / "sim"
    assoc = work / "sim.assoc"
    if Path(str(prefix) + ".bed").is_file() and assoc.is_file():
        return prefix, assoc
    rng = np.random.default_rng(seed)
    wins = []
    bolt = pd.read_csv(GENO / "polypred_1000G_EUR" / "bolt.sumstats.txt.gz", sep="\t", usecols=["SNP", "P_BOLT_LMM"])
    bolt_p = dict(zip(bolt["SNP"], bolt["P_BOLT_LMM"]))
    for w in WINDOWS:
        pre = GENO / f"1000G.EUR.hg19.chr{w}_20-21Mb"
        bim = read_bim(pre)
        fam = read_fam(pre)
        codes = decode_codes(np.asarray(open_bed(pre, len(bim), len(fam))), len(fam))
        wins.append((bim, codes, np.array([bolt_p.get(s, np.nan) for s in bim["id"]])))
    n0 = wins[0][1].shape[1]
    per_copy = sum(len(b) for b, _, _ in wins)
    n_copies = int(np.ceil(TARGET / per_copy))
    bim_rows, packed_rows, p_rows = [], [], []
    copy = 0
    n_slots = n_copies * len(WINDOWS)
    first_slot = [int(np.ceil(c * n_slots / 22)) for c in range(23)]
    for k in range(n_copies):
        for wi, (bim, codes, pw) in enumerate(wins):
            slot = k * len(WINDOWS) + wi
            chrom = int(np.searchsorted(first_slot, slot, "right"))
            offset = (slot - first_slot[chrom - 1]) * 1_000_000 + 1_000_000
            people = np.concatenate([rng.permutation(n0), rng.integers(0, n0, N_PEOPLE - n0)])
            packed_rows.append(pack_codes(codes[:, people]))
            pos = bim["pos"].to_numpy() - bim["pos"].to_numpy().min() + offset
            ids = [f"v{chrom}_{copy}_{i}" for i in range(len(bim))]
            bim_rows.append(pd.DataFrame({"chrom": chrom, "id": ids, "cm": 0, "pos": pos,
                                          "a1": bim["a1"].to_numpy(), "a2": bim["a2"].to_numpy()}))
            if copy % 6 == 0:
                p = pw.copy()
                null = np.isnan(p)
                p[null] = rng.uniform(size=int(null.sum()))
            else:
                p = rng.uniform(size=len(bim))
            p_rows.append(pd.DataFrame({"SNP": ids, "P": p}))
            copy += 1
    bim_all = pd.concat(bim_rows, ignore_index=True)
    with open(str(prefix) + ".bed", "wb") as fh:
        fh.write(b"\x6c\x1b\x01")
        for blk in packed_rows:
            fh.write(np.ascontiguousarray(blk).tobytes())
    bim_all.to_csv(str(prefix) + ".bim", sep="\t", header=False, index=False)
    with open(str(prefix) + ".fam", "w") as fh:
        for i in range(N_PEOPLE):
            fh.write(f"p{i} p{i} 0 0 0 -9\n")
    a = pd.concat(p_rows, ignore_index=True)
    a["P"] = a["P"].map(lambda x: "%.6g" % x)
    a.to_csv(assoc, sep=" ", index=False)
    return prefix, assoc


def shuffled_assoc(assoc: Path, work: Path) -> Path:
    """The association file with its data rows in random order (ids no longer in .bim order)."""
    out = work / "sim_shuffled.assoc"
    if not out.is_file():
        lines = assoc.read_text().splitlines()
        order = np.random.default_rng(3).permutation(len(lines) - 1) + 1
        out.write_text("\n".join([lines[0]] + [lines[i] for i in order]) + "\n")
    return out


def timed(fn, runs: int) -> tuple[float, list[float]]:
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return median(ts), ts


def timed_proc(cmd: list[str], runs: int) -> tuple[float, list[float], float]:
    """Median wall time, all wall times, and median CPU (user + sys) of a command run as a process."""
    import resource

    walls, cpus = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    return median(walls), walls, median(cpus)


def plink(args: list[str]) -> None:
    subprocess.run(["plink1.9", "--threads", "1", "--silent", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def phase_breakdown(prefix: Path, assoc: Path, kw: dict) -> str:
    """CPU seconds of each step of one in-process ``run_clump`` (fresh interpreter, so imports count)."""
    code = f"""
import time, resource
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c = [cpu()]
import numpy as np, pyarrow, pyarrow.csv
import twasflow.clump.command as C  # its namespace has the private steps and the core it calls
import twasflow.io.plink as P
c.append(cpu())
bim = P.read_bim_columns({str(prefix)!r}); c.append(cpu())
a = C._read_assoc_any({str(assoc)!r}); c.append(cpu())
m = C._match_ids(bim.ids, a[0], 'bim'); c.append(cpu())
kw = dict(p1=1e-4, p2=0.01, r2=0.5, kb=250); kw.update({kw!r})
C._keep_freed_memory()  # as run_clump does
e = C.build_entries(m, a[1], np.ones(len(m), dtype=np.int64), a[2], len(bim), kw['p1'], kw['p2'], ids=a[0])
bed = P.open_bed({str(prefix)!r}, len(bim), {N_PEOPLE})
rec = C.clump_plink((bim.chrom_code, bim.chrom_names), bim.pos, bim.ids, e, lambda r: np.asarray(bed[r]), {N_PEOPLE}, **kw)
c.append(cpu())
txt = C.format_clumped(rec, C.plink_maxsnp(bim.ids)); c.append(cpu())
print(' '.join(f'{{x:.2f}}' for x in c))
"""
    r = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    t = [float(x) for x in r.stdout.split()]
    names = ["interpreter start", "imports (numpy, pyarrow, twasflow)", ".bim read", "association read",
             "id matching", "clumping (bitsets, bounds, EM, bins)", "formatting"]
    d = [t[0]] + [t[i + 1] - t[i] for i in range(len(t) - 1)]
    return "; ".join(f"{n} {x:.2f}" for n, x in zip(names, d)) + f" (total {t[-1]:.2f})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/twasflow_bench_clump")
    ap.add_argument("--skip-ld", action="store_true", help="only the clumping comparison")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    have_plink = shutil.which("plink1.9") is not None
    lines = []
    t = time.perf_counter()
    prefix, assoc = simulate_panel(work)
    nvar = sum(1 for _ in open(str(prefix) + ".bim"))
    lines.append(f"Simulated panel: {nvar:,} variants x {N_PEOPLE} people, 22 chromosomes "
                 f"(built/reused in {time.perf_counter() - t:.1f} s); association file {assoc.stat().st_size / 1e6:.0f} MB.")
    lines.append(f"Load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}.")
    lines.append("")
    lines.append("| task | twasflow (median s) | plink1.9 --threads 1 (median s) | runs | outputs |")
    lines.append("|---|---|---|---|---|")
    cfg_flags = ["--clump-p1", "5e-8", "--clump-p2", "5e-8", "--clump-r2", "0.01", "--clump-kb", "1000"]
    cfg_kw = dict(p1=5e-8, p2=5e-8, r2=0.01, kb=1000)
    shuffled = shuffled_assoc(assoc, work)
    settings = {
        "PLINK defaults (p1 1e-4, p2 0.01, r2 0.5, kb 250)": ({}, [], assoc),
        "config defaults (p1 5e-8, p2 5e-8, r2 0.01, kb 1000)": (cfg_kw, cfg_flags, assoc),
        "config defaults, association rows shuffled (general id join)": (cfg_kw, cfg_flags, shuffled),
    }
    phases = []
    for label, (kw, flags, assoc) in settings.items():
        ours = work / "ours"
        # both tools as separate processes with the same flags, alternating run by run; ours is the
        # `twasflow clump` command, so Python start-up and imports are included
        ours_cmd = [sys.executable, "-m", "twasflow", "clump", "--bfile", str(prefix), "--clump", str(assoc),
                    *flags, "--out", str(ours)]
        plink_cmd = ["plink1.9", "--threads", "1", "--silent", "--bfile", str(prefix), "--clump", str(assoc),
                     *flags, "--out", str(work / "plink")]
        wo, wp, co, cp = [], [], [], []
        for _ in range(args.runs):
            m, w, c = timed_proc(ours_cmd, 1)
            wo += w
            co.append(c)
            if have_plink:
                m, w, c = timed_proc(plink_cmd, 1)
                wp += w
                cp.append(c)
        ours_txt = Path(str(ours) + ".clumped").read_bytes()
        n_clumps = ours_txt.count(b"\n") - 3
        fmt = lambda ws: ", ".join(f"{x:.1f}" for x in ws)  # noqa: E731
        if have_plink:
            same = Path(str(work / "plink") + ".clumped").read_bytes() == ours_txt
            lines.append(f"| clump {nvar:,} x {N_PEOPLE}, {label} | CPU {median(co):.2f} ({fmt(co)}); wall {median(wo):.1f} "
                         f"({fmt(wo)}) | CPU {median(cp):.2f} ({fmt(cp)}); wall {median(wp):.1f} ({fmt(wp)}) | {args.runs} | "
                         f"{n_clumps} clumps; .clumped byte-identical: {same} |")
        else:
            lines.append(f"| clump {label} | CPU {median(co):.2f}; wall {median(wo):.1f} | (plink1.9 not installed) | {args.runs} | {n_clumps} clumps |")
        phases.append(f"- {label}: {phase_breakdown(prefix, assoc, kw)}")
    if not args.skip_ld:
        lines += ld_rows(work, prefix, nvar, args.runs, have_plink)
    lines.append(f"Load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}.")
    lines.append("")
    lines.append("CPU seconds by step, one in-process run_clump per setting (fresh interpreter):")
    lines += phases
    print("\n".join(lines))
    print()
    print(f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {sys.version.split()[0]}, numpy {np.__version__}; "
          "other jobs may share the machine (both tools measured alternately in the same run); "
          f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r} (set: every run compiles "
          "the twasflow modules, ~0.04 s CPU).")


def ld_rows(work: Path, prefix: Path, nvar: int, runs: int, have_plink: bool) -> list[str]:
    lines = []
    rng = np.random.default_rng(1)
    sim_codes = decode_codes(np.asarray(open_bed(prefix, nvar, N_PEOPLE)[:2000]), N_PEOPLE)
    G = np.array([2.0, np.nan, 1.0, 0.0])[sim_codes].T.copy()
    med, ts = timed(lambda: ld_matrix(G), max(runs, 5))
    lines.append(f"| ld_matrix 2,000 variants x 500 people, no missing | {med:.3f} ({', '.join(f'{x:.3f}' for x in ts)}) | - | {len(ts)} | target < 0.5 s |")
    Gm = G.copy()
    Gm[rng.uniform(size=G.shape) < 0.03] = np.nan
    med, ts = timed(lambda: ld_matrix(Gm), max(runs, 5))
    lines.append(f"| ld_matrix 2,000 x 500, 3% missing (pairwise complete) | {med:.3f} ({', '.join(f'{x:.3f}' for x in ts)}) | - | {len(ts)} | |")
    O = SHARED / "oracle" / "plink"
    for gz in (False, True):
        ext = " gz" if gz else ""
        med_o, ts_o = timed(lambda: run_ld(O / "chr22_window", work / "ld_ours", extract=O / "ld_variants_2000.txt", gz=gz),
                            runs)
        if have_plink:
            flags = ["--bfile", str(O / "chr22_window"), "--extract", str(O / "ld_variants_2000.txt"), "--r", "square"]
            if gz:
                flags.append("gz")
            med_p, ts_p = timed(lambda: plink([*flags, "--out", str(work / "ld_plink")]), runs)
            a = np.loadtxt(gzip.open(work / "ld_ours.ld.gz", "rt") if gz else work / "ld_ours.ld", delimiter="\t")
            b = np.loadtxt(gzip.open(work / "ld_plink.ld.gz", "rt") if gz else work / "ld_plink.ld", delimiter="\t")
            diff = float(np.nanmax(np.abs(a - b)))
            lines.append(f"| --r square{ext}, 2,000 chr22 variants x 489 people (end to end, in-process) | {med_o:.2f} ({', '.join(f'{x:.2f}' for x in ts_o)}) "
                         f"| {med_p:.2f} ({', '.join(f'{x:.2f}' for x in ts_p)}) | {runs} | max abs diff {diff:.1e} |")
    return lines


if __name__ == "__main__":
    main()
