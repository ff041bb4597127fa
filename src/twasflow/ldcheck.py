"""LD-mismatch gate of one locus: do the GWAS z-scores agree with the panel LD?

Two published checks on the same conditional distribution of each z_j given the others under
``z ~ N(0, (1 - s) R + s I)`` (susieR ``kriging_rss``, :func:`twasflow.susie.kriging_rss`):

* s (lambda), the mismatch parameter estimated under the null (``estimate_s_rss``, "null-mle"): 0 when the
  z-scores are consistent with R, towards 1 for strong mismatch (susieR's diagnostic vignette);
* per variant, the allele-flip likelihood ratio: flagged when ``logLR > logLR_min`` and ``|z| > z_min``
  (susieR vignette's rule, logLR > 2 and |z| > 2), and the DENTIST-style test
  (Chen et al. 2021, Nat Commun 12:7117): ``T_j = (z_j - E[z_j | z_-j])^2 / Var(z_j | z_-j) ~ chi2(1)``,
  flagged when its p-value is below ``dentist_p_max`` (DENTIST's default 5e-8) and ``|z| > z_min``.

Arrays in, arrays out; the per-locus stage decides what to do with the flags (config ``ld_check.action``:
``warn`` = record only, ``drop`` = remove flagged variants and refit, the susieR / cTWAS practice).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from scipy.stats import chi2

from .susie import kriging_rss

LOCUS_FIELDS = ["ld_s", "ld_n_flagged", "ld_action", "ld_flagged"]


@dataclass
class LDCheck:
    """Result of :func:`ld_mismatch` at one locus of M variants.

    s : float, the estimated mismatch parameter lambda (0 = consistent; NaN when not checked).
    flagged : (M,) bool, variants whose z disagrees with the LD (flip LR or DENTIST-style test).
    logLR : (M,) float, allele-flip log likelihood ratio (kriging_rss).
    z_std_diff : (M,) float, (z - conditional mean) / conditional SD.
    action : "warn", "drop" or "off" (not checked).
    variant_ids : (M,) ids of the checked variants, when known (:func:`check_bundle` sets them), so the loci
        table can name the flagged ones (``ld_flagged``; the report marks them on the regional plot).
    """

    s: float
    flagged: np.ndarray
    logLR: np.ndarray = field(repr=False)
    z_std_diff: np.ndarray = field(repr=False)
    action: str = "warn"
    variant_ids: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_flagged(self) -> int:
        return int(np.count_nonzero(self.flagged))

    def locus_fields(self) -> dict[str, Any]:
        """The fine-mapping ``loci`` table's columns for this check (:data:`LOCUS_FIELDS`)."""
        ids = "" if self.variant_ids is None else ";".join(map(str, np.asarray(self.variant_ids)[self.flagged]))
        return {"ld_s": float(self.s), "ld_n_flagged": self.n_flagged, "ld_action": self.action, "ld_flagged": ids}


def ld_mismatch(z: np.ndarray, R: Any, n: float | None = None, *, logLR_min: float = 2.0, z_min: float = 2.0,
                dentist_p_max: float = 5e-8, action: str = "warn") -> LDCheck:
    """Flag variants whose GWAS z disagrees with the panel LD.

    Parameters
    ----------
    z : (M,) GWAS z-scores, aligned to R's counted alleles.
    R : (M, M) panel LD (correlation) or a :class:`twasflow.susie.rss.PreparedR` (its eigendecomposition is
        reused).
    n : GWAS sample size (z is PVE-adjusted as in susie_rss), or None.
    logLR_min, z_min : allele-flip rule, logLR > logLR_min and |z| > z_min.
    dentist_p_max : DENTIST-style rule, chi2(1) p-value of z_std_diff^2 below this and |z| > z_min.
    """
    z = np.asarray(z, dtype=np.float64)
    M = z.shape[0]
    if M < 2:
        return LDCheck(np.nan, np.zeros(M, bool), np.zeros(M), np.zeros(M), action)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-PSD R (zeroed eigenvalues) and a missing n are the caller's to judge
        k = kriging_rss(z, R, n)
        from .susie import estimate_s_rss

        s = float(estimate_s_rss(z, R, n))
    logLR = k["logLR"].to_numpy()
    zsd = k["z_std_diff"].to_numpy()
    big = np.abs(z) > z_min
    flip = (logLR > logLR_min) & big
    dentist = (chi2.sf(zsd * zsd, 1) < dentist_p_max) & big
    return LDCheck(s, flip | dentist, logLR, zsd, action)


def gate(z: np.ndarray, R: Any, n: float | None, options: Mapping[str, Any] | None) -> LDCheck | None:
    """The configured check (config ``ld_check``: enabled, action, logLR_min, z_min, dentist_p_max), or None
    when disabled."""
    # a key left out takes ld_mismatch's default (tests/test_config_defaults.py pins those to the schema's)
    o = dict(options or {})
    if o.pop("enabled", True) is False:
        return None
    return ld_mismatch(z, R, n, **o)


# weights-file arrays indexed by variant: rows (M, P) and effect matrices (n_effects, M)
_WEIGHT_ROWS = ("B", "kept", "pip")
_WEIGHT_COLS = ("alpha", "mu", "mu2")


def check_bundle(bundle: Any, weights: Any, options: Mapping[str, Any] | None) -> tuple[Any, Any, LDCheck | None]:
    """The per-locus hook: check a locus bundle's GWAS z against its LD; with ``action: drop`` return the bundle
    and stage-1 weights (:class:`twasflow.locus_weights.LocusWeights`) without the flagged variants (the fit then
    runs on the rest), else them unchanged."""
    import dataclasses
    import logging

    n = np.asarray(bundle.n, dtype=np.float64)
    n_gwas = float(np.nanmedian(n)) if n.size and np.isfinite(n).any() else None
    chk = gate(bundle.z, bundle.R, n_gwas, options)
    if chk is not None:
        chk.variant_ids = np.asarray(bundle.variant_ids)
    w = weights
    if chk is None or chk.n_flagged == 0:
        return bundle, w, chk
    log = logging.getLogger("twasflow")
    ids = ", ".join(map(str, np.asarray(bundle.variant_ids)[chk.flagged][:5]))
    log.warning("  %s: LD mismatch: %d variant(s) whose z disagrees with the panel LD (s = %.3g): %s%s; %s",
                bundle.locus_id, chk.n_flagged, chk.s, ids, " ..." if chk.n_flagged > 5 else "",
                "dropped before the fit" if chk.action == "drop" else "kept (ld_check.action: warn)")
    if chk.action != "drop":
        return bundle, w, chk
    keep = ~chk.flagged
    M = bundle.M
    sub = dataclasses.replace(
        bundle, variant_ids=bundle.variant_ids[keep], pos=bundle.pos[keep], z=bundle.z[keep],
        n=bundle.n[keep] if np.ndim(bundle.n) == 1 and len(bundle.n) == M else bundle.n,
        R=bundle.R[np.ix_(keep, keep)], freq=bundle.freq[keep], xqtl_z=bundle.xqtl_z[keep],
        model_W=bundle.model_W[keep])
    rows = {k: getattr(w, k)[keep] for k in _WEIGHT_ROWS}
    cols = {k: getattr(w, k)[:, keep] for k in _WEIGHT_COLS}
    return sub, dataclasses.replace(w, **rows, **cols), chk
