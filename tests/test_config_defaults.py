"""The config schema (src/twasflow/schemas/config.schema.yaml) is the one source of defaults: every option
dataclass and every library function that takes a config block's keys has either no default for them or the
schema's default (so a library call and a configured run behave alike), and the stages carry none."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from typing import Any, Callable

import pytest

from tests.conftest import REPO
from twasflow.schema import load_schema


def _schema_defaults(block: str) -> dict[str, Any]:
    props = load_schema("config")["properties"][block]["properties"]
    return {k: v["default"] for k, v in props.items() if "default" in v}


def _code_defaults(obj: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(obj):
        out = {}
        for f in dataclasses.fields(obj):
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
        return out
    return {k: p.default for k, p in inspect.signature(obj).parameters.items() if p.default is not p.empty}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b and type(a) is not bool or a is b


def _holders() -> list[tuple[str, Callable[..., Any], dict[str, str], dict[str, Callable[[Any], Any]]]]:
    """(config block, dataclass or function, schema key -> its name there, schema key -> conversion)."""
    from twasflow import ldcheck, weights
    from twasflow.clump import clump_panel, clump_table
    from twasflow.coloc import coloc_susie
    from twasflow.genetests.gene import GeneTestOptions
    from twasflow.methods.ctwas import CtwasOptions
    from twasflow.methods.tgfm import TgfmOptions
    from twasflow.methods.tgvis import TgvisOptions

    return [
        ("tgvis", TgvisOptions, {}, {}),
        ("ctwas", CtwasOptions, {}, {}),
        ("tgfm", TgfmOptions, {}, {}),
        ("gene_tests", GeneTestOptions, {"tss_window_kb": "tss_window"},
         {"tss_window_kb": lambda kb: int(round(kb * 1000))}),
        ("weights", weights.stage1, {}, {}),
        ("ld_check", ldcheck.ld_mismatch, {}, {}),
        ("clump", clump_panel, {}, {}),
        ("clump", clump_table, {}, {}),
        ("coloc", coloc_susie, {}, {}),
    ]


@pytest.mark.parametrize("block,holder,names,conv", _holders(), ids=lambda x: getattr(x, "__qualname__", None))
def test_code_defaults_equal_the_schema(block: str, holder: Any, names: dict[str, str],
                                        conv: dict[str, Callable[[Any], Any]]) -> None:
    schema, code = _schema_defaults(block), _code_defaults(holder)
    shared = [k for k in schema if names.get(k, k) in code]
    assert shared, f"{holder.__qualname__} shares no key with the config block {block}"
    wrong = {k: (code[names.get(k, k)], conv.get(k, lambda v: v)(schema[k])) for k in shared
             if not _same(code[names.get(k, k)], conv.get(k, lambda v: v)(schema[k]))}
    assert wrong == {}, f"{holder.__qualname__}: defaults (code, schema) differ from config block {block}"


def test_resource_defaults_come_from_the_schema() -> None:
    from twasflow import workflow_helpers as wh

    assert not hasattr(wh, "RESOURCE_DEFAULTS")
    d = _schema_defaults("resources") if "default" in load_schema("config")["properties"]["resources"].get(
        "properties", {}) else {}
    assert d == {"default": {}}
    props = load_schema("config")["properties"]["resources"]["properties"]["default"]["properties"]
    for key in ("mem_mb", "runtime", "threads"):
        assert wh.resource({}, "finemap", key) == props[key]["default"]
        assert wh.resource({"resources": {"default": {key: 7}}}, "finemap", key) == 7
        assert wh.resource({"resources": {"default": {key: 7}, "finemap": {key: 9}}}, "finemap", key) == 9


def test_validated_config_fills_the_default_resources() -> None:
    from twasflow.config import validate

    cfg = validate({"genome_build": "GRCh38", "resources": {"finemap": {"mem_mb": 9000}}}, load_schema("config"),
                   "config")
    assert cfg["resources"]["default"] == {"mem_mb": 2000, "runtime": 30, "threads": 1}
    assert cfg["resources"]["finemap"] == {"mem_mb": 9000}


def test_stages_carry_no_fallback_defaults() -> None:
    """No ``options.get(key, default)`` on a config block in ``stages.py``: the validated config has every key
    (its schema filled the defaults)."""
    config_blocks = {"options", "cfg", "config", "weights", "coloc_cfg", "loci_cfg", "chunking", "harmonize",
                     "ld_check", "locus_variants"}
    tree = ast.parse((REPO / "src" / "twasflow" / "stages.py").read_text())
    gets = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr == "get" and len(n.args) == 2 and isinstance(n.func.value, ast.Name)
            and n.func.value.id in config_blocks]
    assert gets == [], f"stages.py lines {gets}: .get(key, default) duplicates a schema default"
