"""Helpers every simulator shares: named, independent random streams and the h² scaling of planted effects."""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.SeedSequence:
    """Independent seed sequence of one named component; adding components never shifts the others."""
    return np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(name.encode()),))


def named_rng(seed: int, name: str) -> np.random.Generator:
    """The generator of one named component of a simulation seeded by ``seed``."""
    return np.random.default_rng(stream(seed, name))


def msprime_seed(seed: int, name: str) -> int:
    """An msprime seed (1 .. 2^31 - 2) of one named component."""
    return int(stream(seed, name).generate_state(1)[0] % (2**31 - 2)) + 1


def scale_to_h2(z_pool: np.ndarray, w: np.ndarray, h2: float) -> np.ndarray:
    """Rescale effects ``w`` (k,) or (k, T) so each genetic value ``z_pool @ w`` has variance ``h2`` over the rows of
    ``z_pool`` (standardized genotypes of the population, (n, k)); a genetic value without variance gets zero
    effects."""
    v = np.var(z_pool @ w, axis=0)
    return w * np.sqrt(np.where(v > 0, h2 / np.where(v > 0, v, 1.0), 0.0))
