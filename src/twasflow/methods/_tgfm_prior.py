"""TGFM's tissue-specific prior, learned across loci (``run_tgfm_tissue_specific_prior.py`` of the TGFM
software).

Each genetic element belongs to a class: ``variant`` for variants, its tissue for gene–tissue pairs. Every
class c has a prior probability pi_c that one of its elements is causal. Starting from pi_c = 0.1, each
iteration recomputes, at every locus and for every single effect l, the inclusion probabilities
``alpha_lj = pi_c(j) exp(lbf_lj) / sum_k pi_c(k) exp(lbf_lk)`` from the effect's per-element log Bayes
factors, the PIPs ``1 - prod_l (1 - alpha_lj)``, and sets ``pi_c`` = (sum of the PIPs of class-c elements)
/ (number of class-c elements) over all loci. The uncertainty of pi is carried by B bootstrap resamples of
the loci (each with its own pi); TGFM then fits posterior draw b with bootstrap b's prior.

Speed: an element whose Bayes factor is below ``_EXACT_REL`` x its effect's largest in every effect enters
through the first-order PIP ``sum_l alpha_lj`` (exact to a relative ``max_j sum_l alpha_lj / 2``), so per
locus only the few informative elements are handled one by one; the rest collapse to per-class sums of
``exp(lbf - max)`` computed once.

Numerical module: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from twasflow.errors import InputError

VARIANT = "variant"
_EXACT_REL = 1e-8  # Bayes factors below this fraction of the effect's largest use the first-order PIP
_FLOOR = 1e-100  # TGFM replaces a zero prior probability by this


@dataclass(frozen=True)
class TissuePrior:
    """A learned tissue-specific prior.

    Attributes
    ----------
    classes : class names, ``variant`` first, then the tissues in sorted order.
    probs : (C, B) prior probability that an element of each class is causal, per bootstrap sample.
    counts : (n_loci, B) how often each locus is in each bootstrap sample.
    n_iter : iterations run.
    """

    classes: tuple[str, ...]
    probs: np.ndarray
    counts: np.ndarray
    n_iter: int

    @property
    def mean(self) -> dict[str, float]:
        return {c: float(p) for c, p in zip(self.classes, self.probs.mean(axis=1))}

    def weights(self, pair_classes: Sequence[str], M: int) -> tuple[np.ndarray, np.ndarray]:
        """``pair_prior`` (P, B) and ``variant_prior`` (M, B) for :func:`twasflow.methods.tgfm.fit` with
        ``n_draws = B`` (draw b uses bootstrap b, as TGFM). A tissue the prior was not learned on gets the
        mean over the learned tissues of its bootstrap sample; zeros become 1e-100 (TGFM)."""
        where = {c: i for i, c in enumerate(self.classes)}
        p = np.maximum(self.probs, _FLOOR)
        tissues = p[1:].mean(axis=0) if p.shape[0] > 1 else p[0]
        pair = np.array([p[where[c]] if c in where and c != VARIANT else tissues for c in map(str, pair_classes)])
        pair = pair.reshape(len(pair_classes), p.shape[1])
        return pair, np.repeat(p[:1], M, axis=0)


@dataclass
class _Locus:
    cls: np.ndarray  # (q,) class index of the informative elements
    e: np.ndarray  # (L, q) exp(lbf - max_l) of the informative elements
    rest: np.ndarray  # (L, C) per-class sums of exp(lbf - max_l) over the other elements
    n: np.ndarray  # (C,) elements per class


def _prepare(loci: Sequence[tuple[np.ndarray, Sequence[str]]], classes: list[str]) -> list[_Locus]:
    where = {c: i for i, c in enumerate(classes)}
    C = len(classes)
    out = []
    for i, (lbf, cls) in enumerate(loci):
        lbf = np.atleast_2d(np.asarray(lbf, dtype=np.float64))
        ci = np.array([where[str(c)] for c in cls], dtype=np.int64)
        if lbf.shape[1] != ci.size:
            raise InputError.at(f"locus {i}: lbf and classes disagree on the number of elements", column="lbf",
                                row=i + 1, found=lbf.shape, expected=f"(L, {ci.size})")
        if not np.all(np.isfinite(lbf)):
            raise InputError.at(f"locus {i}: log Bayes factors must be finite", column="lbf", row=i + 1,
                                found="NaN/Inf", expected="finite numbers")
        e = np.exp(lbf - lbf.max(axis=1, keepdims=True))
        keep = (e > _EXACT_REL).any(axis=0)
        rest = np.zeros((e.shape[0], C))
        if np.any(~keep):
            np.add.at(rest.T, ci[~keep], e[:, ~keep].T)
        out.append(_Locus(ci[keep], e[:, keep], rest, np.bincount(ci, minlength=C).astype(np.float64)))
    return out


def learn_tissue_prior(
    loci: Sequence[tuple[np.ndarray, Sequence[str]]],
    *,
    n_bootstraps: int = 100,
    max_iter: int = 400,
    init: float = 0.1,
    tol: float = 0.0,
    seed: int | Sequence[int] = 0,
) -> TissuePrior:
    """TGFM's iterative, bootstrapped tissue-specific prior.

    Parameters
    ----------
    loci : one ``(lbf, classes)`` per locus: ``lbf`` (L, p) per-effect log Bayes factors of every genetic
        element (pairs and variants), ``classes`` (p,) ``"variant"`` or the pair's tissue. TGFM uses the
        loci with at least one credible set, and the fit without sampling (here: ``ref_fit`` of a
        :class:`TgfmResult`, see :func:`twasflow.methods.tgfm.tissue_prior_inputs`).
    n_bootstraps : B resamples of the loci (TGFM: 100, one per posterior draw).
    max_iter : iterations (TGFM: 400); ``tol`` > 0 stops earlier when no probability moves by more.
    init : starting probability of every class (TGFM: 0.1).
    seed : seed of the bootstrap resamples.
    """
    if not loci:
        raise InputError.at("no loci to learn the tissue prior from", column="loci", found=0, expected=">= 1 locus")
    if n_bootstraps < 1 or max_iter < 1:
        raise InputError.at("n_bootstraps and max_iter must be >= 1", column="n_bootstraps",
                            found=(n_bootstraps, max_iter))
    tissues = sorted({str(c) for _, cls in loci for c in cls} - {VARIANT})
    classes = [VARIANT, *tissues]
    C, B, K = len(classes), n_bootstraps, len(loci)
    prepared = _prepare(loci, classes)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, K, size=(B, K))
    counts = np.zeros((K, B))
    for b in range(B):
        counts[:, b] = np.bincount(draws[b], minlength=K)
    n_elements = sum(counts[i][None, :] * loc.n[:, None] for i, loc in enumerate(prepared))  # (C, B)
    n_elements = np.where(n_elements == 0, 0.1, n_elements)  # TGFM: a class absent from a resample
    probs = np.full((C, B), float(init))
    it = 0
    for it in range(1, max_iter + 1):
        post = np.zeros((C, B))
        for i, loc in enumerate(prepared):
            post += counts[i][None, :] * _class_pip_sums(loc, probs)
        new = post / n_elements
        delta = float(np.max(np.abs(new - probs)))
        probs = new
        if tol > 0 and delta < tol:
            break
    return TissuePrior(tuple(classes), probs, counts, it)


def _class_pip_sums(loc: _Locus, probs: np.ndarray) -> np.ndarray:
    """(C, B) sums of the PIPs of each class's elements at one locus under the per-bootstrap ``probs``."""
    # alpha_lj = pi_c(j) e_lj / Z_l: the prior's normalization over elements cancels
    pi_q = probs[loc.cls]  # (q, B)
    Z = loc.rest @ probs + loc.e @ pi_q  # (L, B)
    Z = np.maximum(Z, 1e-300)  # every class of a locus at probability 0 in a resample: PIPs 0, not NaN
    alpha = loc.e[:, :, None] * pi_q[None, :, :] / Z[:, None, :]  # (L, q, B)
    out = np.zeros_like(probs)
    np.add.at(out, loc.cls, 1.0 - np.prod(1.0 - alpha, axis=0))
    # first order for the uninformative elements: sum_l pi_c S_lc / Z_l
    out += probs * (loc.rest.T @ (1.0 / Z))
    return out
