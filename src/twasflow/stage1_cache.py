"""Reuse of stage-1 fits across traits (issue 17 item 6).

Stage 1 (:func:`twasflow.weights.stage1`) fits every pair of a locus from the pairs' xQTL z, the locus LD and
the xQTL sample sizes: nothing in it depends on the GWAS trait. When two traits build the same locus (same
variants, so the same ``xqtl_z``, ``R`` and ``xqtl_n``) the fit is the same, and a genome-wide run of many
traits repeats it. :func:`stage1_cached` keys the result by a content hash of exactly those inputs, the
options and the stage-1 code, and stores it under a cache directory shared by the traits of a run; a hit
returns the stored arrays, which are the ones the fit wrote (byte-identical results with and without reuse).

Files: ``{cache_dir}/{key[:2]}/{key}.npz`` written atomically (two traits computing the same key at once
both write the same bytes; the rename keeps one). Deleting the directory only costs recomputation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .io.tables import write_npz

log = logging.getLogger(__name__)

#: Bump when the stored layout changes.
_FORMAT = 1
_EFFECTS = ("effect_pair", "effect_l", "alpha", "mu", "mu2", "V")


@dataclass
class Stage1Result:
    """What the stage-1 rule keeps of :func:`twasflow.weights.stage1` (shapes: M variants, P pairs, K effects).

    B, kept, pip : (M, P); status : (P,) str; effects : ``effect_pair, effect_l`` (K,), ``alpha, mu, mu2``
    (K, M), ``V`` (K,); n_nonconverged : pairs whose IBSS did not converge; reused : read from the cache.
    """

    B: np.ndarray
    kept: np.ndarray
    status: np.ndarray
    pip: np.ndarray
    effects: dict[str, np.ndarray]
    n_nonconverged: int
    reused: bool = False


@lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """Hash of the sources stage 1 runs (weights and the SuSiE engine): a code change invalidates the cache."""
    from . import susie, weights

    h = hashlib.sha256()
    files = [Path(weights.__file__)] + sorted(Path(susie.__file__).parent.glob("*.py"))
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def stage1_key(z_xqtl: np.ndarray, R: np.ndarray, n: np.ndarray, options: dict[str, Any]) -> str:
    """Content hash (hex) of stage 1's inputs: arrays (dtype, shape, bytes), options and the code fingerprint."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": _FORMAT, "code": _code_fingerprint(), "options": options},
                        sort_keys=True).encode())
    for a in (z_xqtl, R, n):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.data)
    return h.hexdigest()


def _compute(z_xqtl: np.ndarray, R: np.ndarray, n: np.ndarray, options: dict[str, Any]) -> Stage1Result:
    from .weights import stage1

    B, fits = stage1(z_xqtl, R, n, **options)
    n_nc = int(np.sum([m.startswith("IBSS") for m in fits.message]))
    return Stage1Result(B=B, kept=fits.kept, status=fits.status.astype(str), pip=fits.pip, effects=fits.effects(),
                        n_nonconverged=n_nc)


def stage1_cached(z_xqtl: np.ndarray, R: np.ndarray, n: np.ndarray, *, cache_dir: str | Path | None,
                  **options: Any) -> Stage1Result:
    """:func:`twasflow.weights.stage1` on (``z_xqtl`` (M, P), ``R`` (M, M), ``n`` (P,) or scalar) with
    ``options`` (L, coverage, cs_pip_min, pip_min), read from ``cache_dir`` when the same inputs were fitted
    before (by any trait), else fitted and stored there. ``cache_dir`` None: always fitted, nothing stored."""
    if cache_dir is None:
        return _compute(z_xqtl, R, n, options)
    key = stage1_key(z_xqtl, R, np.asarray(n), options)
    path = Path(cache_dir) / key[:2] / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                got = {k: f[k] for k in f.files}
            return Stage1Result(B=got["B"], kept=got["kept"], status=got["status"], pip=got["pip"],
                                effects={k: got[k] for k in _EFFECTS}, n_nonconverged=int(got["n_nonconverged"]),
                                reused=True)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # a damaged entry: fit again
            log.warning("stage-1 cache entry %s unreadable (%s): refitting", path, exc)
    res = _compute(z_xqtl, R, n, options)
    write_npz(path, B=res.B, kept=res.kept, status=res.status, pip=res.pip,
              n_nonconverged=np.int64(res.n_nonconverged), **res.effects)
    return res


__all__ = ["Stage1Result", "stage1_cached", "stage1_key"]
