"""Small helpers the Snakefile uses at parse time (kept here so the rule files stay declarative)."""

from __future__ import annotations

import csv
import os
from pathlib import Path
import glob
from typing import Any, Iterable, Mapping

def resource_default(key: str) -> int:
    """The built-in value of resource ``key``: the config schema's default of ``resources.default.<key>``."""
    from .schema import load_schema

    return int(load_schema("config")["properties"]["resources"]["properties"]["default"]["properties"][key]["default"])


def resource(config: Mapping[str, Any], rule: str, key: str) -> int:
    """Resource ``key`` of ``rule``: ``resources.<rule>.<key>``, else ``resources.default.<key>`` (which the
    config validation fills from the schema), else the schema's default (a config not validated, e.g. a test's)."""
    res = config.get("resources") or {}
    for scope in (rule, "default"):
        if key in (res.get(scope) or {}):
            return int(res[scope][key])
    return resource_default(key)


def partition(config: Mapping[str, Any], rule: str) -> str:
    """SLURM partition of ``rule``: ``resources.<rule>.slurm_partition``, else ``resources.default``'s, else ''."""
    res = config.get("resources") or {}
    for scope in (rule, "default"):
        value = (res.get(scope) or {}).get("slurm_partition")
        if value:
            return str(value)
    return ""


def expand_pattern(path: str) -> list[str]:
    """The files a sheet path names: itself, or every file matching a ``{chrom}`` pattern."""
    if "{chrom}" in path:
        return sorted(glob.glob(path.replace("{chrom}", "*")))
    return [path]


def fusion_files(row: Mapping[str, Any]) -> list[str]:
    """The ``.wgt.RDat`` files a ``fusion`` xQTL sheet row's ``.pos`` list names (empty for other formats)."""
    if row.get("format") != "fusion":
        return []
    from .io.fusion import fusion_weight_files

    return fusion_weight_files(str(row["path"]))[1:]


def panel_files(panel: Mapping[str, Any]) -> list[str]:
    """Input files of the `panel` rule."""
    if panel.get("bfile"):
        return [f for s in (".bed", ".bim", ".fam") for f in expand_pattern(panel["bfile"] + s)]
    if panel.get("pgen"):
        return [f for s in (".pgen", ".pvar", ".psam") for f in expand_pattern(panel["pgen"] + s)]
    if panel.get("variants"):
        return [panel["variants"]]
    if panel.get("ld"):  # a directory of windows, or one .bcor file
        from pathlib import Path

        p = Path(panel["ld"])
        return sorted(str(f) for f in p.iterdir() if f.suffix in (".npz", ".gz", ".parquet", ".bcor")) \
            if p.is_dir() else [str(p)]
    return expand_pattern(panel["vcf"])


def chunk_ids(lines: Iterable[str]) -> list[str]:
    """Sorted distinct values of the ``chunk`` column of a loci table (an open TSV file)."""
    reader = csv.DictReader(lines, delimiter="\t")
    return sorted({row["chunk"] for row in reader})


# the simulated example writes its own gene lists (derived from its planted truth, with decoys)
EXAMPLE_GENE_LISTS = {
    "silver_standard": "gene_lists/silver_standard.tsv",
    "drug_targets": "gene_lists/drug_targets.tsv",
}


def made_by_simulator(config: Mapping[str, Any], path: str | None, base_dir: str | os.PathLike[str] = ".") -> bool:
    """True when the example simulator writes ``path``: ``simulate.enabled`` and the path lies under
    ``simulate.out_dir`` (such files do not exist before the run and are not checked or declared as inputs)."""
    if not path or not config["simulate"]["enabled"]:
        return False
    base = Path(base_dir)
    return (base / config["simulate"]["out_dir"]).resolve() in (base / path).resolve().parents


def gene_list_path(config: Mapping[str, Any], key: str) -> str | None:
    """A gene list path: config ``enrichment.<key>``, else the simulated example's own list, else None."""
    if config["enrichment"][key]:
        return str(config["enrichment"][key])
    if config["simulate"]["enabled"]:
        return os.path.join(config["simulate"]["out_dir"], EXAMPLE_GENE_LISTS[key])
    return None


def gene_annotation_path(config: Mapping[str, Any]) -> str | None:
    """Gene positions: config ``enrichment.gene_annotation``, else the example's genes.tsv, else None."""
    if config["enrichment"]["gene_annotation"]:
        return str(config["enrichment"]["gene_annotation"])
    if config["simulate"]["enabled"]:
        return os.path.join(config["simulate"]["out_dir"], "genes.tsv")
    return None
