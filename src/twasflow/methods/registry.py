"""The fine-mapping methods the workflow can run: one protocol, one registry.

A method is a class following :class:`FinemapMethod`. Rule ``finemap`` (``stages.finemap``) builds it once per
(trait, chunk) job with :meth:`FinemapMethod.prepare` — reading its per-trait inputs such as cTWAS's group
priors or TGFM's tissue prior — and calls :meth:`FinemapMethod.fit_locus` at every locus with the locus bundle
and the stage-1 weights of the pairs the prescreen kept. Every method returns the same
:class:`~twasflow.methods.result.FinemapResult` schema (docs/outputs.md "finemap").

Adding a method: one new module with the class, and one line in :data:`METHODS` below (plus the method's
option block in ``schemas/config.schema.yaml``). ``tests/test_methods_contract.py`` then checks it like the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol

if TYPE_CHECKING:
    from ..locus import LocusBundle
    from ..locus_weights import LocusWeights
    from .result import FinemapResult

#: method name → "module:class" (imported on first use: the Snakefile asks for trait inputs at parse time)
METHODS: dict[str, str] = {
    "tgvis": "twasflow.methods.tgvis:TgvisMethod",
    "ctwas": "twasflow.methods.ctwas:CtwasMethod",
    "tgfm": "twasflow.methods.tgfm:TgfmMethod",
}


class FinemapMethod(Protocol):
    """What ``stages.finemap`` needs of a fine-mapping method."""

    name: ClassVar[str]

    @staticmethod
    def trait_inputs(config: Mapping[str, Any]) -> tuple[str, ...]:
        """The per-trait files the method reads, as names of :class:`twasflow.layout.Layout` methods taking the
        trait (e.g. ``("ctwas_params",)``); empty when it needs none. ``config``: the validated run config."""
        ...

    @classmethod
    def prepare(cls, trait: str, options: Mapping[str, Any], inputs: Mapping[str, Any], seed: int
                ) -> "FinemapMethod":
        """The method ready for one trait: ``options`` its config block, ``inputs`` the content of the JSON files
        of :meth:`trait_inputs` by name (read by the stage: methods do no I/O), ``seed`` the config seed."""
        ...

    def fit_locus(self, bundle: "LocusBundle", weights: "LocusWeights") -> "FinemapResult":
        """Fine-map one locus: ``weights`` holds exactly the pairs to fit (columns in the fitted order)."""
        ...


def method_names() -> list[str]:
    """Every registered method name."""
    return list(METHODS)


def get_method(name: str) -> type[FinemapMethod]:
    """The class of a registered method; an unknown name is an InputError listing the known ones."""
    from ..errors import InputError

    if name not in METHODS:
        raise InputError.at(f"unknown fine-mapping method {name!r}", column="methods", found=name,
                            expected=tuple(METHODS))
    module, cls = METHODS[name].split(":")
    return getattr(importlib.import_module(module), cls)
