"""Stage-1 weights of one locus: one typed object with one writer and one reader (like ``locus.LocusBundle``).

Rule ``xqtl_weights`` writes ``{locus_id}.weights.npz`` per locus (docs/outputs.md "weights"); the prescreen, the
fine-mapping methods, cTWAS's EM and TGFM's tissue prior read it back through :func:`read_locus_weights`.
Shapes: M variants of the locus bundle, P pairs (the bundle's pairs, summary-statistic pairs first, then
prediction-model pairs), K included stage-1 SuSiE effects.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import InputError

#: the arrays of a weights file, in the order they are written
WEIGHT_ARRAYS = ("B", "pair_ids", "kept", "pair_status", "pip", "effect_pair", "effect_l", "alpha", "mu", "mu2", "V")


@dataclass
class LocusWeights:
    """Stage-1 weights of every pair at one locus.

    Attributes
    ----------
    B : (M, P) standardized weights; 0 where a pair has no weight on a variant.
    pair_ids : (P,) str, in the bundle's pairs order.
    kept : (M, P) bool, variants selected by stage 1 (model pairs: their non-zero weights).
    pair_status : (P,) str, ``ok`` or why a pair has no usable weights.
    pip : (M, P) stage-1 PIPs (0 for model pairs).
    effect_pair : (K,) int64 index into ``pair_ids`` of each included SuSiE effect; effect_l : (K,) its number.
    alpha, mu, mu2 : (K, M) the effects' posterior (TGFM's draws); V : (K,) their prior variances.
    """

    B: np.ndarray
    pair_ids: np.ndarray
    kept: np.ndarray
    pair_status: np.ndarray
    pip: np.ndarray
    effect_pair: np.ndarray
    effect_l: np.ndarray
    alpha: np.ndarray
    mu: np.ndarray
    mu2: np.ndarray
    V: np.ndarray

    @property
    def M(self) -> int:
        return int(self.B.shape[0])

    @property
    def P(self) -> int:
        return int(self.B.shape[1])

    @classmethod
    def no_effects(cls, M: int) -> dict[str, np.ndarray]:
        """The effect arrays of a locus without stage-1 SuSiE effects (K = 0)."""
        return {"effect_pair": np.zeros(0, np.int64), "effect_l": np.zeros(0, np.int64), "alpha": np.zeros((0, M)),
                "mu": np.zeros((0, M)), "mu2": np.zeros((0, M)), "V": np.zeros(0)}

    @classmethod
    def empty(cls, M: int, pair_ids: np.ndarray, pair_status: np.ndarray) -> "LocusWeights":
        """All-zero weights of a locus without variants or pairs (every pair gets its ``pair_status``)."""
        P = len(pair_ids)
        return cls(B=np.zeros((M, P)), pair_ids=pair_ids, kept=np.zeros((M, P), dtype=bool),
                   pair_status=pair_status, pip=np.zeros((M, P)), **cls.no_effects(M))

    def write(self, path: str | Path) -> None:
        """Write the weights file (compressed npz, atomic, byte-identical on rerun)."""
        from .io.tables import write_npz

        write_npz(path, **{k: getattr(self, k) for k in WEIGHT_ARRAYS})

    def columns_of(self, pair_ids: Sequence[str]) -> np.ndarray:
        """Column index of each of ``pair_ids`` in these weights; an unknown pair is an InputError."""
        where = {str(p): j for j, p in enumerate(self.pair_ids)}
        missing = [p for p in pair_ids if str(p) not in where]
        if missing:
            raise InputError.at("pair not in the weights file", column="pair_ids", found=missing[0],
                                expected="a pair_id of the weights' pair_ids")
        return np.array([where[str(p)] for p in pair_ids], dtype=np.int64)

    def select(self, pair_ids: Sequence[str]) -> "LocusWeights":
        """The weights of ``pair_ids`` only, in that order (e.g. the pairs the prescreen kept); the effects of
        other pairs are dropped and ``effect_pair`` is re-indexed into ``pair_ids``."""
        cols = self.columns_of(pair_ids)
        new = np.full(len(self.pair_ids), -1, dtype=np.int64)
        new[cols] = np.arange(cols.size)
        ep = np.asarray(self.effect_pair, dtype=np.int64)
        keep = new[ep] >= 0 if ep.size else np.zeros(0, dtype=bool)
        return LocusWeights(
            B=np.asarray(self.B, dtype=np.float64)[:, cols], pair_ids=np.asarray([str(p) for p in pair_ids]),
            kept=self.kept[:, cols], pair_status=self.pair_status[cols], pip=self.pip[:, cols],
            effect_pair=new[ep[keep]], effect_l=np.asarray(self.effect_l, dtype=np.int64)[keep],
            alpha=np.asarray(self.alpha, dtype=np.float64)[keep], mu=np.asarray(self.mu, dtype=np.float64)[keep],
            mu2=np.asarray(self.mu2, dtype=np.float64)[keep], V=np.asarray(self.V, dtype=np.float64)[keep])

    def effects(self) -> dict[str, np.ndarray]:
        """The mapping TGFM's ``fit`` takes: ``effect_pair``, ``pair_ids``, ``B``, ``alpha``, ``mu``, ``mu2``, ``V``."""
        return {"effect_pair": self.effect_pair, "pair_ids": self.pair_ids, "B": self.B, "alpha": self.alpha,
                "mu": self.mu, "mu2": self.mu2, "V": self.V}

    def with_status(self, pair_status: np.ndarray) -> "LocusWeights":
        return replace(self, pair_status=pair_status)


def weights_path(weights_dir: str | Path, locus_id: str) -> Path:
    """The weights file of one locus in a chunk's weights directory."""
    return Path(weights_dir) / f"{locus_id}.weights.npz"


def read_locus_weights(weights_dir: str | Path, locus_id: str) -> LocusWeights:
    """Read one locus's weights file (written by :meth:`LocusWeights.write`)."""
    path = weights_path(weights_dir, locus_id)
    with np.load(path, allow_pickle=False) as w:
        missing = [k for k in WEIGHT_ARRAYS if k not in w.files]
        if missing:
            raise InputError.at("weights file lacks arrays", file=path, column=missing[0],
                                expected=", ".join(WEIGHT_ARRAYS))
        return LocusWeights(**{f.name: w[f.name] for f in fields(LocusWeights)})
