#!/usr/bin/env python3
"""Compare the outputs of two runs of the workflow file by file; exit 1 on any difference.

Usage: compare_runs.py RUN_A RUN_B [SUBDIR ...]   (SUBDIRs default to ``results resources``)

Every file under each SUBDIR of either run is listed with how it was compared:
  bytes          identical bytes (parquet, tsv, json, npz, png, svg, ... all of them by default);
  table-seconds  finemap ``*.loci.parquet``: the Arrow tables (schema, metadata and all values) are equal after
                 dropping their ``seconds`` column, the wall time each locus took, which no two runs share.
A file present in one run only is a difference. Nothing else is excluded.
"""

from __future__ import annotations

import filecmp
import sys
from pathlib import Path

TIMING_COLUMN = "seconds"


def _is_loci_table(rel: Path) -> bool:
    return rel.parts[:2] == ("results", "finemap") and rel.name.endswith(".loci.parquet")


def _tables_equal_but_timing(a: Path, b: Path) -> tuple[bool, str]:
    import pyarrow.parquet as pq

    ta, tb = pq.read_table(a), pq.read_table(b)
    if (TIMING_COLUMN in ta.column_names) != (TIMING_COLUMN in tb.column_names):
        return False, f"'{TIMING_COLUMN}' column in only one of {a}, {b}"
    if TIMING_COLUMN in ta.column_names:  # runs made before timings left the result files
        ta = ta.drop_columns([TIMING_COLUMN])
        tb = tb.drop_columns([TIMING_COLUMN])
    if not ta.schema.equals(tb.schema, check_metadata=True):
        return False, "schemas differ"
    if not ta.equals(tb):
        return False, "values differ"
    return True, ""


def compare_runs(run_a: Path, run_b: Path, subdirs: tuple[str, ...] = ("results", "resources")) -> list[dict]:
    """One row per file found under ``subdirs`` of either run: path, method, equal (bool) and a note."""
    rels: set[Path] = set()
    for root in (run_a, run_b):
        for sub in subdirs:
            rels |= {p.relative_to(root) for p in (root / sub).rglob("*") if p.is_file()}
    rows = []
    for rel in sorted(rels):
        a, b = run_a / rel, run_b / rel
        if not (a.is_file() and b.is_file()):
            rows.append({"path": str(rel), "method": "exists", "equal": False,
                         "note": f"only in {run_a if a.is_file() else run_b}"})
        elif _is_loci_table(rel):
            ok, note = _tables_equal_but_timing(a, b)
            rows.append({"path": str(rel), "method": "table-seconds", "equal": ok, "note": note})
        else:
            rows.append({"path": str(rel), "method": "bytes", "equal": filecmp.cmp(a, b, shallow=False),
                         "note": ""})
    return rows


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    run_a, run_b = Path(argv[0]), Path(argv[1])
    subdirs = tuple(argv[2:]) or ("results", "resources")
    rows = compare_runs(run_a, run_b, subdirs)
    for r in rows:
        print(f"{'same' if r['equal'] else 'DIFF'}\t{r['method']}\t{r['path']}\t{r['note']}")
    bad = [r for r in rows if not r["equal"]]
    print(f"{len(rows)} files compared ({sum(r['method'] == 'table-seconds' for r in rows)} without their "
          f"'{TIMING_COLUMN}' column), {len(bad)} differ")
    return 1 if bad or not rows else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
