"""Per-chunk loops over loci with failure isolation, shared by every per-locus rule.

A chunk job loops over its loci; a locus that raises is recorded with its error and the path of a log holding
its traceback, and the other loci proceed (docs/outputs.md "Shape"). Timings go to the rule log, never to outputs, so reruns are
byte-identical.
"""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from .errors import InputError
from .io.tables import read_json

log = logging.getLogger("twasflow")


def chunk_loci(manifest: str | Path, locus: str | None = None) -> list[dict[str, Any]]:
    """The locus records of an upstream chunk manifest (``{"loci": [...]}``), or the one ``locus``."""
    recs = read_json(manifest)["loci"]
    if locus is not None:
        recs = [r for r in recs if r["locus_id"] == locus]
        if not recs:
            raise InputError.at("no such locus", file=manifest, column="locus_id", found=repr(locus))
    return recs


def run_loci(recs: list[dict[str, Any]], log_dir: str | Path, fn: Callable[[dict[str, Any]], dict[str, Any]]
             ) -> list[dict[str, Any]]:
    """Run ``fn(rec)`` per locus record; returns one result dict per locus (``locus_id, status, reason, log`` +
    what ``fn`` returned). A locus whose ``fn`` raises gets ``status = "failed"`` and a traceback log file."""
    out = []
    for i, rec in enumerate(recs, start=1):
        lid = rec["locus_id"]
        t0 = time.perf_counter()
        res: dict[str, Any] = {"locus_id": lid, "log": None}
        try:
            res.update(fn(rec))
        except Exception as exc:  # one bad locus must not stop the chunk
            lpath = Path(log_dir) / f"{lid}.log"
            lpath.parent.mkdir(parents=True, exist_ok=True)
            lpath.write_text(traceback.format_exc())
            res.update(status="failed", reason=f"{type(exc).__name__}: {exc}", log=str(lpath))
            log.error("  %s FAILED: %s (traceback in %s)", lid, exc, lpath)
        log.info("locus %d/%d %s: %s in %.2f s", i, len(recs), lid, res["status"], time.perf_counter() - t0)
        out.append(res)
    return out


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The chunk manifest: counts plus the per-locus records."""
    return {"n_loci": len(records), "n_ok": sum(r["status"] == "ok" for r in records),
            "n_failed": sum(r["status"] == "failed" for r in records), "loci": records}
