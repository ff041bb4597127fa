"""The one two-sided normal p-value of a z-score used across the package (numerics; no I/O)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr


def p_from_z(z: Any) -> np.ndarray:
    """Two-sided normal p-value ``2 Φ(-|z|)`` of z (any shape; NaN stays NaN; accurate down to ~1e-300)."""
    return 2.0 * ndtr(-np.abs(np.asarray(z, dtype=np.float64)))
