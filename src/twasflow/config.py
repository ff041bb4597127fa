"""Configuration and sample sheets: loading, defaults, validation.

The workflow calls :func:`load_run_config` at parse time, so a wrong path, a missing column or an unknown key
fails before any job runs, with a :class:`~twasflow.errors.ConfigError` naming the key and what is expected.
The JSON schemas live in ``twasflow/schemas/`` (``workflow/schemas`` links to them) and are the single source of
truth for keys and defaults.
"""

from __future__ import annotations

import copy
import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import pandas as pd

from .errors import ConfigError
from .schema import SCHEMA_DIR, load_schema  # noqa: F401  (re-exported: config.load_schema)
from .workflow_helpers import made_by_simulator


MHC_DEFAULT = {"GRCh37": "6:25000000-34000000", "GRCh38": "6:28510120-33480577"}

GWAS_COLMAP_KEYS = ("chrom", "pos", "ea", "oa", "beta", "se", "z", "p", "n", "eaf", "rsid", "or", "lp")


def _with_defaults(validator_class: type) -> type:
    """A validator that fills in ``default`` values of absent properties before validating them."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # noqa: ANN001 - jsonschema callback
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def _describe(schema: Mapping[str, Any]) -> str:
    """Say in words what a schema node expects."""
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    parts = []
    t = schema.get("type")
    if t:
        parts.append(" or ".join(t) if isinstance(t, list) else t)
    for k, word in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if k in schema:
            parts.append(f"{word} {schema[k]}")
    if "pattern" in schema:
        parts.append(f"matching {schema['pattern']}")
    if "minItems" in schema:
        parts.append(f"of at least {schema['minItems']} item{'s' if schema['minItems'] != 1 else ''}")
    if schema.get("uniqueItems"):
        parts.append("without repeats")
    if isinstance(schema.get("items"), Mapping) and "enum" in schema["items"]:
        parts.append("from " + ", ".join(repr(v) for v in schema["items"]["enum"]))
    if "description" in schema:
        parts.append(f"({schema['description']})")
    return " ".join(parts) or "a valid value"


def _format_error(err: jsonschema.ValidationError, where: str) -> str:
    key = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        at = f" under '{key}'" if key else ""
        return (
            f"{where}: unknown key{'s' if len(extra) > 1 else ''} {', '.join(repr(e) for e in extra)}{at} "
            f"(expected one of: {', '.join(allowed)})"
        )
    if err.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", err.message)
        at = f" under '{key}'" if key else ""
        return f"{where}: missing required key {', '.join(repr(m) for m in missing)}{at}"
    return f"{where}: key '{key}': found {err.instance!r}; expected {_describe(err.schema)}"


# YAML 1.1 (PyYAML, Snakemake's loader) reads 5e-8 as the string '5e-8' (its float pattern needs a dot and a
# signed exponent); YAML 1.2 and users read a number
_FLOAT_TEXT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _yaml_numbers(instance: Any, schema: Mapping[str, Any]) -> Any:
    """``instance`` with number-like strings turned into floats wherever ``schema`` expects a number."""
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if isinstance(instance, str) and "number" in types and "string" not in types and _FLOAT_TEXT.match(instance.strip()):
        return float(instance)
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        return {k: _yaml_numbers(v, props[k]) if k in props else v for k, v in instance.items()}
    if isinstance(instance, list) and isinstance(schema.get("items"), Mapping):
        return [_yaml_numbers(v, schema["items"]) for v in instance]
    return instance


def validate(instance: dict[str, Any], schema: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate ``instance`` in place (filling defaults) and return it; raise ConfigError on the first error.
    Numbers YAML 1.1 left as text (``5e-8``) are read as numbers first."""
    fixed = _yaml_numbers(instance, schema)
    instance.clear()
    instance.update(fixed)
    errors = sorted(_Validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError(_format_error(errors[0], where), file=where)
    return instance


@dataclass(frozen=True)
class RunConfig:
    """The validated configuration of one run: the config mapping plus both sheets as tables."""

    config: dict[str, Any]
    gwas: pd.DataFrame
    xqtl: pd.DataFrame

    @property
    def traits(self) -> list[str]:
        return list(self.gwas["trait"])

    @property
    def datasets(self) -> list[str]:
        return list(self.xqtl["dataset"])

    def gwas_row(self, trait: str) -> dict[str, Any]:
        return _row_dict(self.gwas, "trait", trait)

    def xqtl_row(self, dataset: str) -> dict[str, Any]:
        return _row_dict(self.xqtl, "dataset", dataset)

    def mhc(self) -> tuple[str, int, int]:
        spec = self.config["loci"]["mhc"] or MHC_DEFAULT[self.config["genome_build"]]
        return parse_region(spec)


def _row_dict(df: pd.DataFrame, key: str, value: str) -> dict[str, Any]:
    rows = df[df[key] == value]
    if len(rows) != 1:
        raise ConfigError(f"no row with {key} = {value!r} in the sheet (have: {', '.join(df[key])})")
    return {k: (None if (isinstance(v, float) and pd.isna(v)) else v) for k, v in rows.iloc[0].items()}


def parse_region(spec: str) -> tuple[str, int, int]:
    """``'chr6:28510120-33480577'`` → ``('6', 28510120, 33480577)``."""
    m = re.fullmatch(r"(?:chr)?([0-9XY]+):([0-9]+)-([0-9]+)", spec.strip())
    if not m:
        raise ConfigError(f"region {spec!r}: expected chrom:start-end, e.g. 6:28510120-33480577")
    return m.group(1), int(m.group(2)), int(m.group(3))


def gwas_colmap(row: Mapping[str, Any]) -> dict[str, str | None]:
    """The column map of a ``table``-format GWAS sheet row (``col_*`` keys), None where blank."""
    return {k: (row.get(f"col_{k}") or None) for k in GWAS_COLMAP_KEYS}


def read_sheet(path: str | Path, kind: str) -> pd.DataFrame:
    """Read and validate a sample sheet (``kind`` = ``gwas`` or ``xqtl``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{kind}_sheet: file {str(path)!r} does not exist (expected a tab-separated sheet)")
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment="#")
    except Exception as exc:  # pandas raises many types for malformed text
        raise ConfigError(f"{path}: cannot be read as a tab-separated sheet ({exc})") from None
    schema = load_schema(f"{kind}_sheet")
    key = "trait" if kind == "gwas" else "dataset"
    if df.empty:
        raise ConfigError(f"{path}: the sheet has no rows (expected one row per {key})")
    unknown = [c for c in df.columns if c not in schema["properties"]]
    if unknown:
        raise ConfigError(
            f"{path}: unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"(expected columns among: {', '.join(schema['properties'])})"
        )
    absent = [c for c in schema["required"] if c not in df.columns]
    if absent:
        raise ConfigError(
            f"{path}: missing column{'s' if len(absent) > 1 else ''} {', '.join(map(repr, absent))} "
            f"(found columns: {', '.join(df.columns)}; required: {', '.join(schema['required'])})",
            file=str(path), column=absent[0])
    records = []
    for i, rec in enumerate(df.to_dict("records"), start=1):
        rec = {k: (v.strip() if v.strip() not in ("", "NA") else None) for k, v in rec.items()}
        if rec.get("n") is not None:
            try:
                rec["n"] = float(rec["n"])
            except ValueError:
                raise ConfigError.at(
                    "not a number", file=path, column="n", row=i, found=repr(rec["n"]), expected="a sample size > 0"
                ) from None
        rec = {k: v for k, v in rec.items() if v is not None or k in ("n",)}
        try:
            validate(rec, schema, f"{path}, row {i}")
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("key '", "column '"), file=str(path), row=i) from None
        records.append(rec)
    out = pd.DataFrame.from_records(records)
    dup = out[key][out[key].duplicated()]
    if len(dup):
        raise ConfigError(f"{path}: column '{key}': duplicate value {dup.iloc[0]!r} (expected one row per {key})")
    return out


def _check_exists(value: str | None, key: str, *, base: Path = Path("."), pattern_ok: bool = False,
                  suffixes: tuple[str, ...] = (), show_base: bool = False) -> None:
    """Raise ConfigError unless ``value`` (+ each suffix) exists; a relative path is taken from ``base`` (the
    run's working directory), never from the process's current directory. The message names the path as
    written (``show_base``: joined to the base)."""
    if not value:
        return
    targets = [value + s for s in suffixes] if suffixes else [value]
    for t in targets:
        full = str(base / t) if not Path(t).is_absolute() else t
        shown = full if show_base else t
        if pattern_ok and "{chrom}" in t:
            if not glob.glob(full.replace("{chrom}", "*")):
                raise ConfigError(f"config key '{key}': no file matches {shown!r} (expected one file per chromosome)")
        elif not Path(full).exists():
            raise ConfigError(f"config key '{key}': file {shown!r} does not exist")


def _check_panel_free(cfg: Mapping[str, Any], xqtl: pd.DataFrame) -> None:
    """A run without genotypes (``panel.variants``) is a classic S-PrediXcan: LD among a model's variants comes
    from the model's covariance file, so ``prescreen.covariance`` must be ``model`` and every xQTL row a
    prediction model (summary statistics need LD to become weights)."""
    from .models import is_model_format

    if cfg["prescreen"]["covariance"] != "model":
        raise ConfigError(f"config key 'prescreen.covariance': found {cfg['prescreen']['covariance']!r} with "
                          "panel.variants (no genotypes); expected 'model' (LD among a model's variants from its "
                          "covariance file)")
    bad = [f"{r['dataset']} ({r['format']})" for r in xqtl.to_dict("records") if not is_model_format(r["format"])]
    if bad:
        raise ConfigError(f"{cfg['xqtl_sheet']}: column 'format': found {', '.join(bad)} with panel.variants (no "
                          "genotypes); expected prediction models (predictdb, weights-long, fusion, eqtlcat-susie): "
                          "summary "
                          "statistics need LD from genotypes to become weights")


def _check_ld_panel(cfg: Mapping[str, Any], base: Path, xqtl: pd.DataFrame | None = None) -> None:
    """``panel.ld``: the LD files exist and hold windows (:class:`twasflow.io.ldmatrix.LDSource` lists them);
    LD blocks cannot be built from a panel without genotypes; PredictDB weights (per allele) need the reference
    allele frequencies LD files do not carry."""
    from .errors import InputError
    from .io.ldmatrix import LDSource

    p = Path(cfg["panel"]["ld"])
    try:
        LDSource(p if p.is_absolute() else base / p)
    except InputError as exc:
        raise ConfigError(f"config key 'panel.ld': {exc}") from None
    if cfg["loci"]["ld_blocks"] == "panel":
        raise ConfigError("config key 'loci.ld_blocks': found 'panel' with panel.ld (precomputed LD, no genotypes); "
                          "expected 'none' or a BED file of blocks (blocks are built from genotypes)")
    bad = [] if xqtl is None else [str(r["dataset"]) for r in xqtl.to_dict("records") if r["format"] == "predictdb"]
    if bad:
        raise ConfigError(f"{cfg['xqtl_sheet']}: column 'format': found predictdb ({', '.join(bad)}) with panel.ld; "
                          "expected weights per standardized genotype (fusion, or weights-long with weight_scale sd): "
                          "PredictDB weights are per allele and need the reference allele frequencies, which "
                          "precomputed LD files do not carry")


def load_run_config(config: Mapping[str, Any], *, base_dir: str | Path = ".") -> RunConfig:
    """Validate a config mapping (as Snakemake loaded it) and both sheets; check every input path.

    Files under ``simulate.out_dir`` are not checked when ``simulate.enabled`` (the workflow makes them).
    Returns a :class:`RunConfig`; the config mapping has every default filled in.
    """
    if not isinstance(config, Mapping):
        raise ConfigError.at("the configuration is not a mapping of keys", file="config",
                             found=f"a YAML {type(config).__name__}", expected="key: value pairs")
    cfg = validate(copy.deepcopy(dict(config)), load_schema("config"), "config")
    base = Path(base_dir)

    def simulated(p: str | None) -> bool:
        return made_by_simulator(cfg, p, base)

    from .methods.registry import method_names

    missing = [m for m in cfg["methods"] if m not in method_names()]
    if missing:
        raise ConfigError(f"config key 'methods': {', '.join(map(repr, missing))} not implemented yet "
                          f"(available: {', '.join(method_names())})")
    panel = cfg["panel"]
    if sum(bool(panel[k]) for k in ("bfile", "vcf", "pgen", "variants", "ld")) != 1:
        raise ConfigError("config key 'panel': give exactly one of 'bfile' (PLINK prefix), 'pgen' (PLINK 2 prefix), "
                          "'vcf' (VCF path/pattern), 'ld' (precomputed LD: PolyFun/UKB windows or LDstore .bcor) or "
                          "'variants' (a variant table without genotypes)")
    _check_exists(panel["variants"], "panel.variants", base=base)
    if not simulated(panel["pgen"]):
        _check_exists(panel["pgen"], "panel.pgen", pattern_ok=True, suffixes=(".pgen", ".pvar", ".psam"))
    if not simulated(panel["bfile"]):
        _check_exists(panel["bfile"], "panel.bfile", base=base, pattern_ok=True, suffixes=(".bed", ".bim", ".fam"))
    if not simulated(panel["vcf"]):
        _check_exists(panel["vcf"], "panel.vcf", base=base, pattern_ok=True)
    _check_exists(panel["keep"], "panel.keep", base=base)
    blocks = cfg["loci"]["ld_blocks"]
    if blocks not in ("none", "panel"):
        _check_exists(blocks, "loci.ld_blocks", base=base)
    for k in ("silver_standard", "drug_targets", "gene_annotation"):
        _check_exists(cfg["enrichment"][k], f"enrichment.{k}", base=base)
    if cfg["loci"]["mhc"]:
        parse_region(cfg["loci"]["mhc"])

    gwas = read_sheet(base / cfg["gwas_sheet"], "gwas")
    xqtl = read_sheet(base / cfg["xqtl_sheet"], "xqtl")
    if panel["variants"]:
        _check_panel_free(cfg, xqtl)
    if panel["ld"]:
        _check_ld_panel(cfg, base, xqtl)
    for sheet, df, cols in (
        (cfg["gwas_sheet"], gwas, ("path", "truth", "rsid_map", "liftover")),
        (cfg["xqtl_sheet"], xqtl, ("path", "covariance", "gene_map", "credible_sets")),
    ):
        for i, rec in enumerate(df.to_dict("records"), start=1):
            if rec.get("build") and rec["build"] != cfg["genome_build"] and not isinstance(rec.get("liftover"), str):
                raise ConfigError(
                    f"{sheet}, row {i}: column 'build': found {rec['build']}; expected {cfg['genome_build']} "
                    "(the run's genome_build: lift the file over first, or give a chain file in column 'liftover')"
                )
            for c in cols:
                p = rec.get(c)
                if isinstance(p, str) and p and not simulated(p):  # NaN: optional column blank in this row
                    try:
                        _check_exists(p, c, base=base, pattern_ok=True, show_base=True)
                    except ConfigError as exc:
                        raise ConfigError(f"{sheet}, row {i}: {str(exc).replace('config key', 'column')}") from None
    for i, rec in enumerate(gwas.to_dict("records"), start=1):
        rec = {k: v for k, v in rec.items() if not (isinstance(v, float) and pd.isna(v))}  # blank in this row
        if rec["format"] == "table":
            cm = gwas_colmap(rec)
            # an rsID alone may key the rows (positions from the panel or rsid_map)
            keyed = ("ea", "oa") if cm["rsid"] and not (cm["chrom"] or cm["pos"]) else ("chrom", "pos", "ea", "oa")
            need = [k for k in keyed if not cm[k]]
            if need or not (cm["z"] or ((cm["beta"] or cm["or"]) and (cm["se"] or cm["p"] or cm["lp"]))):
                raise ConfigError(
                    f"{cfg['gwas_sheet']}, row {i}: format 'table' needs a column map: col_chrom + col_pos (or "
                    f"col_rsid alone), col_ea, col_oa and one of col_z, col_beta or col_or with col_se, col_p or "
                    f"col_lp (missing: {', '.join('col_' + k for k in need) or 'an effect column'})"
                )
        rsid_keyed = rec["format"] == "cojo" or (rec["format"] == "table" and gwas_colmap(rec)["rsid"]
                                                  and not gwas_colmap(rec)["pos"])
        if rec.get("rsid_map") and not rsid_keyed:
            raise ConfigError(f"{cfg['gwas_sheet']}, row {i}: column 'rsid_map' is only for files keyed by rsID "
                              "(format cojo, or table with col_rsid and no col_chrom/col_pos)")
        if rec.get("liftover") and rsid_keyed:
            raise ConfigError(f"{cfg['gwas_sheet']}, row {i}: column 'liftover': an rsID-keyed file takes its "
                              "positions from the panel or rsid_map (on the run's build); no chain file needed")
    return RunConfig(cfg, gwas, xqtl)


def check_data_files(run: RunConfig, *, base_dir: str | Path = ".") -> list[str]:
    """``twasflow check-config``'s file checks beyond existence: read the header of every GWAS file of the sheet
    and check that its mapped columns exist (the format's, or the ``col_*`` map of a ``table``) and that a sample
    size is available (an ``n`` column or the sheet's ``n``); open every xQTL file (and covariance file) and check
    the columns its format needs (:func:`twasflow.io.headers.check_xqtl_header`). Files the example simulator
    writes are skipped.

    Returns one line per file checked; raises ConfigError naming the sheet row, file and column otherwise.
    Relative paths are taken from ``base_dir``, the run's working directory (as Snakemake does).
    """
    from .errors import InputError
    from .io.gwas import read_gwas_batches

    base = Path(base_dir)
    cfg = run.config
    sheet = cfg["gwas_sheet"]
    lines = []
    for i, rec in enumerate(run.gwas.to_dict("records"), start=1):
        p = rec["path"]
        if made_by_simulator(cfg, p, base):
            lines.append(f"{sheet}, row {i} ({rec['trait']}): {p}: made by the example simulator, not checked")
            continue
        full = base / p if not Path(p).is_absolute() else Path(p)
        fmt = rec["format"]
        try:
            batches, roles, _ = read_gwas_batches(full, fmt=fmt, colmap=gwas_colmap(rec) if fmt == "table" else None)
            close = getattr(batches, "close", None)
            if close is not None:
                close()
        except InputError as exc:
            raise ConfigError(f"{sheet}, row {i} ({rec['trait']}): {exc}") from None
        n_sheet = rec.get("n")
        has_n = "n" in roles or (n_sheet is not None and str(n_sheet).strip() not in ("", "nan"))
        if not has_n:
            raise ConfigError(f"{sheet}, row {i} ({rec['trait']}): column 'n': no sample size for {full} (found no "
                              "n column in the file and a blank n in the sheet; expected one of them)")
        lines.append(f"{sheet}, row {i} ({rec['trait']}): {full}: columns "
                     + ", ".join(f"{k}={v}" for k, v in roles.items()))
    # the xQTL sheet: every file's header against its format (twasflow.io.headers)
    from .io.headers import check_xqtl_sheet

    rows = run.xqtl.to_dict("records")
    skip = {i: "made by the example simulator, not checked" for i, rec in enumerate(rows, start=1)
            if made_by_simulator(cfg, rec["path"], base)}
    try:
        lines += check_xqtl_sheet(rows, sheet=cfg["xqtl_sheet"], base=base, skip=skip)
    except InputError as exc:
        raise ConfigError(str(exc), file=exc.file, column=exc.column, row=exc.row, found=exc.found,
                          expected=exc.expected) from None
    return lines


def base_note(config_path: str | Path, config: Mapping[str, Any], *, base_dir: str | Path = ".") -> str | None:
    """A warning when ``--config`` lives elsewhere than the working directory and its folder holds sheets of
    the same relative name as the ones actually used (the paths resolve against the working directory, as in
    Snakemake, not against the config file's folder)."""
    base = Path(base_dir).resolve()
    cdir = Path(config_path).resolve().parent
    notes = []
    schema = load_schema("config")["properties"]
    for key in ("gwas_sheet", "xqtl_sheet"):
        rel = str(config.get(key) or schema[key]["default"])
        if Path(rel).is_absolute():
            continue
        for other in (cdir / rel, cdir.parent / rel):
            if other.is_file() and other.resolve() != (base / rel).resolve():
                notes.append(f"{key} '{rel}' is {base / rel} (relative paths resolve against the working directory "
                             f"{base}, as in Snakemake), not {other}: run from {other.parent.parent if other.parent.name == 'config' else other.parent} "
                             "to use that one")
                break
    return "; ".join(notes) or None
