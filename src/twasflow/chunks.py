"""Per-chunk loops over loci with failure isolation, shared by every per-locus rule, and the end-of-run list
of failed loci.

A chunk job loops over its loci; a locus that raises an *expected* per-locus problem (:data:`LOCUS_ERRORS`: bad
input, a numerical failure) is recorded with its error and the path of a log holding its traceback, and the other
loci proceed (docs/outputs.md "Shape"). Anything else (KeyError, TypeError, AttributeError, ...) is a programming error: it fails
the job, never a silent per-locus "failed" row. Timings go to the rule log, never to outputs, so reruns are
byte-identical. At the end of a run :func:`failed_loci` lists every failed locus (trait, locus, stage, error,
log) and :func:`check_failed_loci` fails the run unless the config tolerates failed loci.
"""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import InputError, NumericalError
from .io.tables import read_json
from .tables_schema import table

log = logging.getLogger("twasflow")

# what a locus may fail with without failing its job: bad input and numerical failures (a singular system,
# non-finite values). Programming errors (KeyError, TypeError, AttributeError...) are not in this list.
LOCUS_ERRORS: tuple[type[BaseException], ...] = (InputError, NumericalError, np.linalg.LinAlgError,
                                                 FloatingPointError)
FAILED_COLUMNS = table("failed_loci").names


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
    what ``fn`` returned). A locus whose ``fn`` raises one of :data:`LOCUS_ERRORS` gets ``status = "failed"``
    and a traceback log file; any other exception (a programming error) is logged and re-raised: the job fails."""
    out = []
    for i, rec in enumerate(recs, start=1):
        lid = rec["locus_id"]
        t0 = time.perf_counter()
        res: dict[str, Any] = {"locus_id": lid, "log": None}
        try:
            res.update(fn(rec))
        except LOCUS_ERRORS as exc:  # an expected data / numerical problem of one locus: the others proceed
            lpath = Path(log_dir) / f"{lid}.log"
            lpath.parent.mkdir(parents=True, exist_ok=True)
            lpath.write_text(traceback.format_exc())
            res.update(status="failed", reason=f"{type(exc).__name__}: {exc}", log=str(lpath))
            log.error("  %s FAILED: %s (traceback in %s)", lid, exc, lpath)
        except Exception as exc:
            log.error("  %s: programming error %s: %s; the job fails (not a per-locus data problem)", lid,
                      type(exc).__name__, exc)
            raise
        log.info("locus %d/%d %s: %s in %.2f s", i, len(recs), lid, res["status"], time.perf_counter() - t0)
        out.append(res)
    return out


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The chunk manifest: counts plus the per-locus records."""
    return {"n_loci": len(records), "n_ok": sum(r["status"] == "ok" for r in records),
            "n_failed": sum(r["status"] == "failed" for r in records), "loci": records}


class FailedLociError(InputError):
    """The run finished with failed loci and the config does not tolerate them (``failed_loci.tolerate``)."""


def failed_loci(manifests: Mapping[str, Sequence[str | Path]] | None = None,
                loci_tables: Mapping[str, Sequence[str | Path]] | None = None) -> pd.DataFrame:
    """Every failed locus of a run, one row each: ``trait, locus_id, stage, error, log``.

    ``manifests``: stage name -> chunk manifests (``locus_inputs``, ``xqtl_weights``; JSON with ``loci``
    records and ``trait`` in the path ``.../{stage}/{trait}/{chunk}/manifest.json``). ``loci_tables``: stage name
    (``finemap:{method}``) -> fine-mapping ``loci`` tables. A locus that failed upstream is listed once, at the
    stage where it failed (later stages only inherit the failure).
    """
    rows: list[dict[str, Any]] = []
    for level, (stage, paths) in enumerate((manifests or {}).items()):
        for p in paths:
            trait = Path(p).parent.parent.name
            for r in read_json(p)["loci"]:
                if r.get("status") == "failed":
                    rows.append({"trait": trait, "locus_id": r["locus_id"], "stage": stage, "level": level,
                                 "error": str(r.get("reason", "")), "log": str(r.get("log") or "")})
    level = len(manifests or {})
    for stage, paths in (loci_tables or {}).items():  # the methods run side by side: one level
        for p in paths:
            t = pd.read_parquet(p)
            if not len(t):
                continue
            for r in t.loc[t["status"] == "failed"].to_dict("records"):
                rows.append({"trait": r["trait"], "locus_id": r["locus_id"], "stage": stage, "level": level,
                             "error": str(r["reason"]), "log": str(r.get("log") or "")})
    t = pd.DataFrame(rows, columns=[*FAILED_COLUMNS, "level"])
    if len(t):  # a locus that failed at a stage is not run later: list it only where it failed first
        first = t.groupby(["trait", "locus_id"])["level"].transform("min")
        t = t.loc[t["level"] == first]
    return t[FAILED_COLUMNS].sort_values(["trait", "locus_id", "stage"], kind="stable", ignore_index=True)


def check_failed_loci(table: pd.DataFrame, out: str | Path, *, tolerate: bool) -> pd.DataFrame:
    """Write the failed-loci table (TSV) and list it in the log; raise :class:`FailedLociError` when there are
    failed loci and ``tolerate`` is false (config ``failed_loci.tolerate``), so the run exits non-zero."""
    from .io.tables import write_tsv

    write_tsv(table, out)
    if not len(table):
        log.info("every locus of every stage succeeded")
        return table
    lines = [f"  {r.trait} {r.locus_id} [{r.stage}]: {r.error} (log: {r.log or '-'})"
             for r in table.itertuples(index=False)]
    log.error("%d failed loci:\n%s", len(table), "\n".join(lines))
    if not tolerate:
        raise FailedLociError(f"{len(table)} loci failed (listed in {out} and above); the run is not complete. "
                              "Fix their inputs, or set failed_loci: {tolerate: true} in the config to accept "
                              "a run without them")
    log.warning("%d loci failed and the config tolerates it (failed_loci.tolerate: true): their results are "
                "missing from every summary", len(table))
    return table


def check_run(out: str | Path, *, tolerate: bool, locus_inputs: Sequence[str | Path] = (),
              weights: Sequence[str | Path] = (), finemap: Mapping[str, Sequence[str | Path]] | None = None
              ) -> pd.DataFrame:
    """Rule ``failed_loci`` (the run's last job): list every failed locus of every trait in ``out`` (TSV,
    :data:`FAILED_COLUMNS`) and fail unless ``tolerate``. ``finemap``: method -> its ``loci`` tables."""
    table = failed_loci({"locus_inputs": locus_inputs, "xqtl_weights": weights},
                        {f"finemap:{m}": ps for m, ps in (finemap or {}).items()})
    return check_failed_loci(table, out, tolerate=tolerate)
