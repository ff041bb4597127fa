"""Say how two runs of the workflow differ, file by file: which files only one run has, and for each table
(Parquet, TSV) or JSON file that differs, which columns or keys were added or removed and how far the shared
values are apart (largest absolute and relative difference of numbers; count of other differing values).
Files of other kinds (figures, HTML, npz) are reported as differing bytes.

Used after ``benchmarks/compare_to_revision.sh REV WORKDIR`` (whose exact comparison says *that* files differ)
to check that every difference is an expected one (issue 16: the example against the pre-merge revision).

Usage: python benchmarks/explain_diffs.py RUN_A RUN_B [--tol 1e-12]
Exit status 0 when every shared table's shared columns agree within ``--tol`` (absolute, or relative to the
value) and no other kind of file differs; 1 otherwise. Files present in one run only are listed, not failed.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t", compression="infer", keep_default_na=True)


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: obj}


def _compare_values(a: pd.Series, b: pd.Series) -> tuple[float, float, int]:
    """(max abs diff, max relative diff) over numbers both have, and the count of other differing values."""
    na, nb = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
    num = na.notna() & nb.notna() & a.map(lambda x: not isinstance(x, (bool, np.bool_)))
    x, y = na[num].to_numpy(np.float64), nb[num].to_numpy(np.float64)
    d = np.abs(x - y)
    rel = d / np.maximum(np.abs(x), np.abs(y)).clip(min=1e-300)
    other = int(sum(1 for u, v in zip(a[~num], b[~num]) if not (u == v or (pd.isna(u) and pd.isna(v)))))
    return (float(d.max()) if d.size else 0.0), (float(rel.max()) if rel.size else 0.0), other


def explain(a: Path, b: Path, tol: float) -> tuple[str, bool]:
    """One line about one differing file, and whether the difference is within ``tol``."""
    if a.suffix in (".parquet", ".tsv") or a.name.endswith(".tsv.gz"):
        ta, tb = _read_table(a), _read_table(b)
        gone, new = [c for c in ta.columns if c not in tb.columns], [c for c in tb.columns if c not in ta.columns]
        if len(ta) != len(tb):
            return f"rows {len(ta)} -> {len(tb)}; columns -{gone} +{new}", False
        worst_abs = worst_rel = 0.0
        n_other, bad_cols = 0, []
        for c in [c for c in ta.columns if c in tb.columns]:
            da, dr, o = _compare_values(ta[c].reset_index(drop=True), tb[c].reset_index(drop=True))
            worst_abs, worst_rel, n_other = max(worst_abs, da), max(worst_rel, dr), n_other + o
            if o or min(da, dr) > tol:
                bad_cols.append(c)
        order = "same column order" if [c for c in ta.columns if c in tb.columns] == [
            c for c in tb.columns if c in ta.columns] else "column order differs"
        ok = not bad_cols
        return (f"table: columns -{gone} +{new}; {order}; shared values: max |diff| {worst_abs:.2e}, max rel "
                f"{worst_rel:.2e}, {n_other} non-numeric differences{'; beyond tol in ' + str(bad_cols) if bad_cols else ''}",
                ok)
    if a.suffix == ".json":
        ja, jb = _flatten(json.loads(a.read_text())), _flatten(json.loads(b.read_text()))
        gone, new = sorted(set(ja) - set(jb)), sorted(set(jb) - set(ja))
        def number(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        diffs = [k for k in set(ja) & set(jb) if ja[k] != jb[k]
                 and not (number(ja[k]) and number(jb[k]) and np.isnan(ja[k]) and np.isnan(jb[k]))]
        other = sorted(k for k in diffs if not (number(ja[k]) and number(jb[k])))
        num = [k for k in diffs if k not in other]
        dabs = [abs(float(ja[k]) - float(jb[k])) for k in num]
        drel = [d / max(abs(float(ja[k])), abs(float(jb[k])), 1e-300) for d, k in zip(dabs, num)]
        ok = not other and not gone and all(min(d, r) <= tol for d, r in zip(dabs, drel))
        return (f"json: keys -{gone[:5]}{'…' if len(gone) > 5 else ''} +{new[:5]}{'…' if len(new) > 5 else ''}; "
                f"max |diff| {max(dabs, default=0.0):.2e}, max rel {max(drel, default=0.0):.2e}; other differing "
                f"keys {other[:5]}"), ok
    return "bytes differ", False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_a", type=Path)
    ap.add_argument("run_b", type=Path)
    ap.add_argument("--tol", type=float, default=1e-12)
    ap.add_argument("--subdirs", nargs="+", default=["results", "resources"])
    a = ap.parse_args(argv)
    rels: set[Path] = set()
    for root in (a.run_a, a.run_b):
        for sub in a.subdirs:
            rels |= {p.relative_to(root) for p in (root / sub).rglob("*") if p.is_file()}
    only_a, only_b, same, within, beyond = [], [], 0, 0, 0
    for rel in sorted(rels):
        fa, fb = a.run_a / rel, a.run_b / rel
        if not fa.is_file() or not fb.is_file():
            (only_a if fa.is_file() else only_b).append(str(rel))
            continue
        if filecmp.cmp(fa, fb, shallow=False):
            same += 1
            continue
        line, ok = explain(fa, fb, a.tol)
        within += ok
        beyond += not ok
        print(f"{'DIFF~' if ok else 'DIFF!'}\t{rel}\t{line}")
    for name, files in ((a.run_a, only_a), (a.run_b, only_b)):
        if files:
            print(f"only in {name}: {len(files)} files, e.g. {', '.join(files[:8])}")
    print(f"{len(rels)} files: {same} identical, {within} differ within tol {a.tol:g} (or by added/removed "
          f"columns only), {beyond} differ otherwise; {len(only_a)} only in {a.run_a}, {len(only_b)} only in "
          f"{a.run_b}")
    return 1 if beyond else 0


if __name__ == "__main__":
    sys.exit(main())
