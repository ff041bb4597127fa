"""The bundled JSON schemas (config and sample sheets), read without the rest of :mod:`twasflow.config`.

Kept apart so the command-line parser can take its defaults from the config schema (the one source of
defaults) without importing pandas: ``twasflow clump``'s start-up counts against plink1.9's run time.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import copy

import yaml

SCHEMA_DIR = Path(str(resources.files("twasflow") / "schemas"))


@lru_cache(maxsize=None)
def _read(name: str) -> dict[str, Any]:
    with open(SCHEMA_DIR / f"{name}.schema.yaml") as fh:
        return yaml.safe_load(fh)


def load_schema(name: str) -> dict[str, Any]:
    """One of the bundled schemas (``config``, ``gwas_sheet``, ``xqtl_sheet``), a fresh copy each call."""
    return copy.deepcopy(_read(name))
