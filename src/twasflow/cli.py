"""The ``twasflow`` command: one subcommand per workflow stage, calling the same functions as the rules.

Bad input prints one clear message and exits 1 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .errors import InputError
from .logs import setup_logging

log = logging.getLogger("twasflow")


class _LazyStages:
    """``twasflow.stages``, imported on first use: it pulls in pandas and the stage modules (~0.5 s CPU),
    which ``twasflow clump``/``ld`` never use (their run time is compared with plink1.9's)."""

    def __getattr__(self, name: str) -> Any:
        from . import stages as _stages

        return getattr(_stages, name)


stages = _LazyStages()


def _load_config(path: str) -> Any:
    import yaml

    from .config import load_run_config

    from .errors import ConfigError

    if not Path(path).is_file():
        raise ConfigError(f"{path}: config file not found (give --config PATH, default config/config.yaml "
                          "relative to the working directory)")
    with open(path) as fh:
        try:
            cfg = yaml.safe_load(fh) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from None
    return load_run_config(cfg, base_dir=Path.cwd())


# ------------------------------------------------------------------------------------------- subcommands
def cmd_check_config(a: argparse.Namespace) -> None:
    import yaml

    from .config import base_note, check_data_files
    from .errors import ConfigError

    try:
        with open(a.config) as fh:
            note = base_note(a.config, yaml.safe_load(fh) or {}, base_dir=Path.cwd())
    except (OSError, yaml.YAMLError, AttributeError):
        note = None  # _load_config says what is wrong with the file
    try:
        run = _load_config(a.config)
        lines = check_data_files(run, base_dir=Path.cwd())  # headers: mapped columns exist, n available
    except ConfigError as exc:
        raise ConfigError(f"{exc} (note: {note})" if note else str(exc)) from None
    for line in lines:
        print(line)
    if note:
        print(f"warning: {note}", file=sys.stderr)
    print(f"{a.config}: OK ({len(run.traits)} traits: {', '.join(run.traits)}; "
          f"{len(run.datasets)} xQTL datasets; relative paths from {Path.cwd()})")


def cmd_simulate(a: argparse.Namespace) -> None:
    paths = stages.simulate_example(a.out, a.seed)
    print(f"wrote {len(paths)} files under {a.out}")


def cmd_panel(a: argparse.Namespace) -> None:
    stages.panel(a.out, bfile=a.bfile, vcf=a.vcf, keep=a.keep, maf_min=a.maf_min, pgen=a.pgen, variants=a.variants)


def _harmonize_cfg(a: argparse.Namespace) -> dict[str, Any]:
    """The config ``harmonize`` block from the command-line flags."""
    keys = ("palindromic", "maf_palindromic_max", "build_check_min_match", "strand_consensus_max_flip")
    return {k: getattr(a, k) for k in keys}


def cmd_harmonize_gwas(a: argparse.Namespace) -> None:
    from .config import GWAS_COLMAP_KEYS

    row = {"trait": a.trait, "path": a.input, "format": a.format, "n": a.n, "build": a.build,
           "rsid_map": a.rsid_map, "liftover": a.liftover}
    row.update({f"col_{k}": getattr(a, f"col_{k}") for k in GWAS_COLMAP_KEYS})
    stages.harmonize_gwas(row, a.panel, a.out, a.qc, _harmonize_cfg(a), a.build)


def cmd_harmonize_xqtl(a: argparse.Namespace) -> None:
    row = {"dataset": a.dataset, "tissue": a.tissue, "qtl_type": a.qtl_type, "path": a.input, "format": a.format,
           "n": a.n, "build": a.build, "gene_map": a.gene_map, "covariance": a.covariance,
           "credible_sets": a.credible_sets}
    stages.harmonize_xqtl(row, a.panel, a.out_dir, a.qc, _harmonize_cfg(a), a.build)


def cmd_clump(a: argparse.Namespace) -> None:
    from .clump import run_clump

    out = run_clump(a.bfile, a.clump, a.out, p1=a.clump_p1, p2=a.clump_p2, r2=a.clump_r2, kb=a.clump_kb,
                    snp_field=a.clump_snp_field, field=a.clump_field, allow_overlap=a.clump_allow_overlap,
                    r2_method=a.r2_method)
    print(f"wrote {out}")


def cmd_ld(a: argparse.Namespace) -> None:
    from .ld import run_ld

    if a.r is None and a.r2 is None:
        raise InputError("twasflow ld: give --r square or --r2 square (optionally followed by gz)")
    mods = a.r if a.r is not None else a.r2
    if "square" not in mods:
        raise InputError(f"twasflow ld: only the 'square' matrix shape is supported (found modifiers {mods})")
    out = run_ld(a.bfile, a.out, extract=a.extract, keep=a.keep, r2=a.r2 is not None, gz="gz" in mods,
                 keep_allele_order=a.keep_allele_order)
    print(f"wrote {out}")


def cmd_ld_blocks(a: argparse.Namespace) -> None:
    stages.ld_blocks(a.panel, a.out, target_kb=a.target_kb)


def cmd_loci(a: argparse.Namespace) -> None:
    from .config import MHC_DEFAULT, parse_region

    mhc = parse_region(a.mhc or MHC_DEFAULT[a.build])
    stages.loci(a.trait, a.clumped, a.out, loci_cfg={"radius_kb": a.radius_kb, "exclude_mhc": not a.keep_mhc},
                mhc=mhc, chunking={"loci_per_chunk": a.loci_per_chunk, "max_chunks": a.max_chunks},
                blocks=a.blocks)


def _trait_run(a: argparse.Namespace) -> tuple[Any, Any]:
    """The configured run and its stage-argument builder, with ``--trait`` checked against the gwas sheet."""
    from .stage_args import StageArgs

    run = _load_config(a.config)
    if a.trait not in run.traits:
        raise InputError(f"--trait {a.trait!r}: not in {run.config['gwas_sheet']} (have {', '.join(run.traits)})")
    return run, StageArgs.of(run)


def _locus_chunk(a: argparse.Namespace) -> tuple[Any, Any, str]:
    """Config, stage-argument builder and the chunk holding ``--locus`` (or ``--chunk``) of a configured run."""
    from .loci import read_loci

    run, args = _trait_run(a)
    chunk = a.chunk
    if a.locus:
        loci_tsv = args.layout.loci(a.trait)
        loci = read_loci(loci_tsv)
        hit = loci.loc[loci["locus_id"] == a.locus, "chunk"]
        if hit.empty:
            raise InputError.at("no such locus", file=loci_tsv, column="locus_id", found=repr(a.locus))
        chunk = str(hit.iloc[0])
    return run, args, chunk


def cmd_locus_inputs(a: argparse.Namespace) -> None:
    _, args, chunk = _locus_chunk(a)
    summary = stages.locus_inputs(**args.locus_inputs(a.trait, chunk, locus=a.locus, out_dir=a.out_dir))
    for rec in summary["loci"]:
        print(f"{rec['locus_id']}\t{rec['status']}\tM={rec['M']}\tP={rec['P']}\t{rec['reason']}")


def cmd_xqtl_weights(a: argparse.Namespace) -> None:
    _, args, chunk = _locus_chunk(a)
    summary = stages.xqtl_weights(**args.xqtl_weights(a.trait, chunk, locus=a.locus, out_dir=a.out_dir))
    for rec in summary["loci"]:
        print(f"{rec['locus_id']}\t{rec['status']}\tpairs kept={rec.get('n_pairs_kept', 0)}\t{rec['reason']}")


def cmd_prescreen(a: argparse.Namespace) -> None:
    _, args, chunk = _locus_chunk(a)
    kw = args.prescreen(a.trait, chunk, locus=a.locus, out=a.out)
    t = stages.prescreen(**kw)
    print(f"wrote {kw['out']}: {len(t)} pairs, {int(t['kept'].sum())} kept")


def cmd_coloc(a: argparse.Namespace) -> None:
    _, args, chunk = _locus_chunk(a)
    kw = args.coloc(a.trait, chunk, locus=a.locus, out=a.out)
    t = stages.coloc(**kw)
    print(f"wrote {kw['out']}: {len(t)} pairs, {int(t['colocalized'].fillna(False).astype(bool).sum())} colocalized")


def cmd_gene_tests(a: argparse.Namespace) -> None:
    """GAMBIT gene tests + S-MultiXcan of one chunk or locus (rule gene_tests), or of every chunk (``--all``)."""
    from .genetests.stage import gene_tests, gene_tests_trait

    if a.all:
        _, args = _trait_run(a)
        chunks = args.layout.chunks(a.trait)
    else:
        _, args, chunk = _locus_chunk(a)
        chunks = [chunk]
    for c in chunks:
        kw = args.gene_tests(a.trait, c, locus=a.locus, out_prefix=None if a.all else a.out)
        gene_tests(**kw)
        print(f"wrote {kw['out_tests']}, {kw['out_genes']}")
    if a.all:
        kw = args.gene_tests_trait(a.trait, chunks)
        genes = gene_tests_trait(**kw)
        print(f"wrote {kw['out_genes']}: {len(genes)} genes, {int(genes['significant'].sum())} significant by the "
              "omnibus")


def _need(path: str | Path, what: str) -> Path:
    if not Path(path).exists():
        raise InputError(f"{path}: not found; {what}")
    return Path(path)


def cmd_ctwas_params(a: argparse.Namespace) -> None:
    _, args = _trait_run(a)
    kw = args.ctwas_params(a.trait, out=a.out)
    d = stages.ctwas_params(**kw)
    print(f"wrote {kw['out']}: {d['n_regions']} regions, {d['n_genes']} pairs in {len(d['group_prior']) - 1} groups")


def cmd_tgfm_prior(a: argparse.Namespace) -> None:
    _, args = _trait_run(a)
    kw = args.tgfm_prior(a.trait, out=a.out)
    d = stages.tgfm_prior(**kw)
    print(f"wrote {kw['out']}: {len(d['loci_used'])} loci used; mean prior " +
          ", ".join(f"{k} {v:.3g}" for k, v in d["mean"].items()))


def cmd_finemap(a: argparse.Namespace) -> None:
    run, args, chunk = _locus_chunk(a)
    cfg = run.config
    if a.method not in cfg["methods"]:
        raise InputError(f"--method {a.method!r}: not in the config's methods ({', '.join(cfg['methods'])})")
    kw = args.finemap(a.method, a.trait, chunk, locus=a.locus, out_prefix=a.out)
    for name, path in kw["trait_inputs"].items():
        _need(path, f"run `twasflow {name.replace('_', '-')}` first")
    res = stages.finemap(**kw)
    v = res["variables"]
    n_causal = int(v["causal"].sum()) if len(v) else 0
    if a.locus:
        for line in _describe_sets(v, res["sets"]):
            print(line)
    print(f"wrote {kw['out_prefix']}.variables.parquet (+ .sets, .loci): {len(res['loci'])} loci, "
          f"{n_causal} causal variables")


def cmd_show(a: argparse.Namespace) -> None:
    """Every configured method's result at one locus of a finished run, side by side."""
    import pandas as pd

    run, args, chunk = _locus_chunk(a)
    called: dict[str, set[str]] = {}
    for m in run.config["methods"]:
        base = args.layout.finemap_prefix(m, a.trait, chunk)
        tabs = {k: pd.read_parquet(_need(args.layout.finemap(m, a.trait, chunk, k),
                                         "run the workflow (or `twasflow finemap`) first"))
                for k in ("variables", "sets", "loci")}
        v, sets, loc = (t[t["locus_id"] == a.locus] for t in (tabs["variables"], tabs["sets"], tabs["loci"]))
        if loc.empty:
            print(f"{m}: no record of {a.locus} in {base}.loci.parquet")
            continue
        r = loc.iloc[0]
        extra = "" if m != "tgvis" or r["status"] != "ok" else (
            f", sigma2_inf {r['sigma2_inf']:.3g} (score test p {r['inf_test_p']:.3g}), Pratt pairs / variants / inf "
            f"{r['pratt_pairs']:.3f} / {r['pratt_variants']:.3f} / {r['pratt_inf']:.3f}")
        print(f"{m}: {r['status']}{' (' + r['reason'] + ')' if r['reason'] else ''}, M={r['M']} P={r['P']} "
              f"L={r['L']}, {len(sets)} credible set{'s' if len(sets) != 1 else ''}{extra}")
        for line in _describe_sets(v, sets):
            print("  " + line)
        called[m] = set(v.loc[v["causal"].astype(bool) & (v["type"] == "pair"), "variable_id"])
    every = set.intersection(*called.values()) if called else set()
    print(f"pairs called causal by every method ({', '.join(called)}): "
          + (", ".join(sorted(every)) if every else "none"))
    for m, c in called.items():
        only = c - set().union(*(o for k, o in called.items() if k != m))
        if only:
            print(f"  only {m}: {', '.join(sorted(only))}")


def _describe_sets(v: Any, sets: Any, show: int = 4) -> list[str]:
    """One line per credible set: call, size, CS-Pratt and the members by collinear group (members the data
    cannot tell apart, fitted columns |r| >= 0.99, share brackets)."""
    import pandas as pd

    from .methods.result import group_keys

    lines = []
    for _, s in sets.iterrows():
        mem = v[(v["locus_id"] == s["locus_id"]) & (v["cs"] == s["cs"])].sort_values("pip", ascending=False)
        key = group_keys(mem)
        groups = []
        for g in dict.fromkeys(key):
            names = list(mem.loc[key == g, "variable_id"])
            if "rsid" in mem.columns:  # variant members: the rsID beside the id (issue 18)
                rs = mem.loc[key == g, "rsid"].tolist()
                names = [f"{n} ({r})" if isinstance(r, str) and r else n for n, r in zip(names, rs)]
            more = f", +{len(names) - show} more" if len(names) > show else ""
            groups.append("[" + ", ".join(names[:show]) + more + "]")
        pratt = "" if pd.isna(s["cs_pratt"]) else f", CS-Pratt {s['cs_pratt']:.3f}"
        lines.append(f"{s['locus_id']} CS{s['cs']}{' (causal)' if s['causal'] else ''}: {s['size']} "
                     f"member{'s' if s['size'] != 1 else ''} in "
                     f"{len(groups)} distinguishable group{'s' if len(groups) > 1 else ''}{pratt}, "
                     f"PIP sum {s['cs_pip']:.3f}: " + " ".join(groups))
    return lines


def cmd_summarize(a: argparse.Namespace) -> None:
    from .summary import summarize

    _, args = _trait_run(a)
    kw = args.summarize(a.trait, out_dir=a.out_dir)
    for path in (*kw["variables"], *kw["loci"], *(p for ps in kw["plot_dirs"].values() for p in ps)):
        _need(path, "run the finemap stage first")
    s = summarize(**kw)
    print(f"wrote {kw['out_dir']}/summary.html and {len(s.get('overview') or [])} method rows of summary.json")


def cmd_across_traits(a: argparse.Namespace) -> None:
    from .stage_args import StageArgs
    from .summary import enrichment

    args = StageArgs.of(_load_config(a.config))
    kw = args.across_traits(out_dir=a.out_dir)
    for t, d in kw["summary_dirs"].items():
        _need(Path(d) / "summary.json", f"run `twasflow summarize --trait {t}` first")
    enrichment(**kw)
    print(f"wrote {kw['out_dir']}/summary.html")


def _schema_default(block: str, key: str) -> Any:
    """The config schema's default of ``block.key`` (the schema is the one source of defaults)."""
    from .schema import load_schema

    return load_schema("config")["properties"][block]["properties"][key]["default"]


def _resource_default(key: str) -> Any:
    """The config schema's ``resources.default.<key>`` (what a rule gets without its own value)."""
    from .schema import load_schema

    return load_schema("config")["properties"]["resources"]["properties"]["default"]["properties"][key]["default"]


def _sheet_formats(sheet: str) -> list[str]:
    """The ``format`` values a sample sheet accepts (its schema), so the CLI takes exactly what the rules take."""
    from .schema import load_schema

    return list(load_schema(sheet)["properties"]["format"]["enum"])


class _Help(argparse.HelpFormatter):
    """``--help`` shows each option's default (required options and options without a default say nothing)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.default not in (None, False, argparse.SUPPRESS) and not action.required
                and "%(default)" not in text and action.option_strings):
            text += " (default: %(default)s)"
        return text


CONFIG_HELP = "the run's config file (paths come from its outdir, options from its blocks)"


def _config_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config/config.yaml", help=CONFIG_HELP)


def _locus_opts(p: argparse.ArgumentParser, out_help: str) -> None:
    _config_opt(p)
    p.add_argument("--trait", required=True, help="trait of the gwas sheet")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--locus", help="one locus_id from <outdir>/loci/{trait}.tsv")
    g.add_argument("--chunk", help="one chunk id of <outdir>/loci/{trait}.tsv, e.g. c000")
    p.add_argument("--out" if "table" in out_help else "--out-dir", help=out_help)


# ------------------------------------------------------------------------------------------- parser
def _harmonize_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--panel", required=True, help="genotype store directory (output of `twasflow panel`)")
    p.add_argument("--build", required=True, choices=["GRCh37", "GRCh38"], help="build of the file and panel")
    p.add_argument("--n", type=float, help="sample size when the file has none")
    p.add_argument("--palindromic", default=_schema_default("harmonize", "palindromic"),
                   choices=["align_by_freq", "drop"], help="palindromic (A/T, C/G) variants: orient by allele "
                   "frequency or drop them (config harmonize.palindromic)")
    p.add_argument("--maf-palindromic-max", type=float, default=_schema_default("harmonize", "maf_palindromic_max"),
                   help="palindromic variants with MAF above this are dropped (too close to 0.5 to orient)")
    p.add_argument("--build-check-min-match", type=float,
                   default=_schema_default("harmonize", "build_check_min_match"),
                   help="fraction of variants that must match the panel by position, else a build mismatch error")
    p.add_argument("--strand-consensus-max-flip", type=float,
                   default=_schema_default("harmonize", "strand_consensus_max_flip"),
                   help="a file complementing at most this fraction of non-palindromic variants is on the panel's "
                   "strand")


def build_parser() -> argparse.ArgumentParser:
    from .methods.registry import method_names

    ap = argparse.ArgumentParser(prog="twasflow", description=__doc__.splitlines()[0], formatter_class=_Help)
    ap.add_argument("--version", action="version", version=f"twasflow {__version__}")
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    ap.add_argument("--threads", type=int,
                    default=_resource_default("threads"),
                    help="BLAS threads, as a rule's resources.threads: the same value writes the same bytes as the "
                         "rule (float results can differ in the last digits between thread counts)")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="STAGE")

    def add(name: str, help_: str, description: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=description or help_, formatter_class=_Help)

    p = add("check-config", "validate config/config.yaml and both sheets")
    _config_opt(p)
    p.set_defaults(fn=cmd_check_config)

    p = add("simulate", "write the bundled example (rule simulate_example)")
    p.add_argument("--out", default=_schema_default("simulate", "out_dir"), help="output directory")
    p.add_argument("--seed", type=int, default=_schema_default("simulate", "seed"), help="simulation seed")
    p.set_defaults(fn=cmd_simulate)

    p = add("panel", "PLINK bed or VCF → genotype store (rule panel)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--bfile", help="PLINK fileset prefix")
    g.add_argument("--pgen", help="PLINK 2 fileset prefix (.pgen/.pvar/.psam); may contain {chrom}")
    g.add_argument("--vcf", help="bgzipped, indexed VCF; may contain {chrom}")
    g.add_argument("--variants", help="no genotypes: a variant table (chrom, pos, other_allele, counted_allele, "
                   "rsid, counted_freq | sd) for an S-PrediXcan-only run")
    p.add_argument("--keep", help="file of sample IDs to keep")
    p.add_argument("--maf-min", type=float, default=_schema_default("panel", "maf_min"),
                   help="variants with a lower minor-allele frequency in the panel are left out")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(fn=cmd_panel)

    p = add("harmonize-gwas", "GWAS summary statistics → panel alleles (rule harmonize_gwas)")
    p.add_argument("--input", required=True, help="GWAS file")
    p.add_argument("--format", required=True, choices=_sheet_formats("gwas_sheet"), help="file format")
    p.add_argument("--trait", default="trait", help="trait name written to the output")
    for k in ("chrom", "pos", "ea", "oa", "beta", "se", "z", "p", "n", "eaf", "rsid", "or", "lp"):
        p.add_argument(f"--col-{k}", dest=f"col_{k}", help=f"column holding {k} (format table)")
    p.add_argument("--rsid-map", help="rsid, chrom, pos table for a file keyed by rsID only (default: the panel's rsIDs)")
    p.add_argument("--liftover", help="UCSC chain file from the file's build to the panel's (--build names the panel's)")
    p.add_argument("--out", required=True, help="harmonized Parquet")
    p.add_argument("--qc", required=True, help="QC JSON")
    _harmonize_opts(p)
    p.set_defaults(fn=cmd_harmonize_gwas)

    p = add("harmonize-xqtl", "xQTL summary statistics or prediction models → panel alleles (rule harmonize_xqtl)")
    p.add_argument("--input", required=True, help="file, or pattern with {chrom}")
    p.add_argument("--format", required=True, choices=_sheet_formats("xqtl_sheet"), help="file format")
    p.add_argument("--dataset", required=True, help="dataset name (pair ids carry its tissue and qtl type)")
    p.add_argument("--tissue", required=True, help="tissue of the dataset")
    p.add_argument("--qtl-type", required=True, help="e.g. eQTL, sQTL")
    p.add_argument("--gene-map", help="table mapping phenotype ids to gene ids and names")
    p.add_argument("--covariance", help="prediction models: the models' covariance file (PredictDB)")
    p.add_argument("--credible-sets", help="eqtlcat-susie: the credible_sets file of the lbf_variable --input")
    p.add_argument("--out-dir", required=True, help="output directory")
    p.add_argument("--qc", required=True, help="QC JSON")
    _harmonize_opts(p)
    p.set_defaults(fn=cmd_harmonize_xqtl)

    p = add("clump", "C+T clumping, a drop-in for plink1.9 --clump (rule clump); defaults are PLINK's")
    p.add_argument("--bfile", required=True, help="PLINK fileset prefix")
    p.add_argument("--clump", required=True, nargs="+", help="association file(s)")
    p.add_argument("--clump-p1", type=float, default=1e-4, help="index variant p-value threshold")
    p.add_argument("--clump-p2", type=float, default=0.01, help="clumped variant p-value threshold")
    p.add_argument("--clump-r2", type=float, default=0.5, help="r2 threshold")
    p.add_argument("--clump-kb", type=float, default=250, help="window (kb)")
    p.add_argument("--clump-snp-field", default="SNP", help="variant id column")
    p.add_argument("--clump-field", default="P", help="p-value column")
    p.add_argument("--clump-allow-overlap", action="store_true", help="a variant may join several clumps")
    p.add_argument("--r2-method", default="haplotype", choices=["haplotype", "pearson"],
                   help="haplotype = PLINK's EM r2; pearson = genotype correlation")
    p.add_argument("--out", default="plink", help="output prefix (.clumped)")
    p.set_defaults(fn=cmd_clump)

    p = add("ld", "LD matrix like plink1.9 --r/--r2 square")
    p.add_argument("--bfile", required=True, help="PLINK fileset prefix")
    p.add_argument("--r", nargs="*", help="square [gz]")
    p.add_argument("--r2", nargs="*", help="square [gz]")
    p.add_argument("--extract", help="file of variant IDs")
    p.add_argument("--keep", help="file of FID IID to keep")
    p.add_argument("--keep-allele-order", action="store_true", help="keep the .bim A1 allele as counted")
    p.add_argument("--out", default="plink", help="output prefix (.ld)")
    p.set_defaults(fn=cmd_ld)

    p = add("ld-blocks", "LD blocks built from the panel (rule ld_blocks)")
    p.add_argument("--panel", required=True, help="genotype store directory")
    p.add_argument("--out", required=True, help="BED file")
    p.add_argument("--target-kb", type=float, default=_schema_default("loci", "block_target_kb"),
                   help="typical block width (kb)")
    p.set_defaults(fn=cmd_ld_blocks)

    p = add("loci", "loci from a .clumped file (checkpoint loci)")
    p.add_argument("--trait", required=True, help="trait name (locus ids start with it)")
    p.add_argument("--clumped", required=True, help=".clumped file")
    p.add_argument("--out", required=True, help="loci TSV")
    p.add_argument("--build", default="GRCh38", choices=["GRCh37", "GRCh38"], help="genome build (its MHC)")
    p.add_argument("--radius-kb", type=float, default=_schema_default("loci", "radius_kb"),
                   help="locus radius around each index variant (kb)")
    p.add_argument("--keep-mhc", action="store_true", help="keep loci overlapping the MHC")
    p.add_argument("--mhc", help="chrom:start-end (default: the build's MHC)")
    p.add_argument("--blocks", help="LD blocks BED to snap to")
    p.add_argument("--loci-per-chunk", type=int, default=_schema_default("chunking", "loci_per_chunk"),
                   help="loci per chunk (one job per chunk)")
    p.add_argument("--max-chunks", type=int, default=_schema_default("chunking", "max_chunks"),
                   help="at most this many chunks per trait")
    p.set_defaults(fn=cmd_loci)

    p = add("locus-inputs", "per-locus bundles of one chunk or one locus (rule locus_inputs)")
    _locus_opts(p, "output directory (default: <outdir>/locus_inputs/{trait}/{locus or chunk})")
    p.set_defaults(fn=cmd_locus_inputs)

    p = add("xqtl-weights", "TGVIS stage-1 weights of one chunk or locus (rule xqtl_weights)")
    _locus_opts(p, "output directory (default: <outdir>/weights/{trait}/{chunk})")
    p.set_defaults(fn=cmd_xqtl_weights)

    p = add("prescreen", "S-PrediXcan prescreen of one chunk or locus (rule prescreen)")
    _locus_opts(p, "output table (default: <outdir>/prescreen/{trait}/{chunk}.parquet)")
    p.set_defaults(fn=cmd_prescreen)

    p = add("coloc", "coloc-SuSiE + coloc-ABF of one chunk or locus (rule coloc)")
    _locus_opts(p, "output table (default: <outdir>/coloc/{trait}/{chunk}.parquet)")
    p.set_defaults(fn=cmd_coloc)

    for name, fn, out, help_ in (
            ("ctwas-params", cmd_ctwas_params, "--out", "cTWAS's EM of group priors over all loci of a trait "
             "(rule ctwas_params); default output <outdir>/ctwas/{trait}/params.json"),
            ("tgfm-prior", cmd_tgfm_prior, "--out", "TGFM's tissue prior over all loci of a trait (rule tgfm_prior); "
             "default output <outdir>/tgfm/{trait}/tissue_prior.json"),
            ("summarize", cmd_summarize, "--out-dir", "summary tables, figures and HTML of one trait (rule summarize); "
             "default output <outdir>/summary/{trait}")):
        p = add(name, help_.split(";")[0], help_)
        _config_opt(p)
        p.add_argument("--trait", required=True, help="trait of the gwas sheet")
        p.add_argument(out, help="output path (default in the description)")
        p.set_defaults(fn=fn)

    p = add("across-traits", "across-trait tables, figures and enrichment tests (rule across_traits)",
            "across-trait tables, figures and enrichment tests (rule across_traits); default output "
            "<outdir>/summary/across_traits")
    _config_opt(p)
    p.add_argument("--out-dir", help="output directory (default in the description)")
    p.set_defaults(fn=cmd_across_traits)

    p = add("finemap", "one fine-mapping method on one locus or chunk (rule finemap)")
    _locus_opts(p, "output table prefix (default: <outdir>/finemap/{method}/{trait}/{locus or chunk})")
    p.add_argument("--method", required=True, choices=method_names(), help="fine-mapping method")
    p.set_defaults(fn=cmd_finemap)

    p = add("show", "every method's credible sets at one locus of a finished run, side by side")
    _config_opt(p)
    p.add_argument("--trait", required=True, help="trait of the gwas sheet")
    p.add_argument("--locus", required=True, help="locus_id from <outdir>/loci/{trait}.tsv")
    p.set_defaults(fn=cmd_show, chunk=None)

    p = add("gene-tests", "GAMBIT gene-based tests + S-MultiXcan of one chunk, locus or trait "
            "(rules gene_tests, gene_tests_trait)")
    _config_opt(p)
    p.add_argument("--trait", required=True, help="trait of the gwas sheet")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--locus", help="locus_id from results/loci/{trait}.tsv")
    g.add_argument("--chunk", help="chunk id, e.g. c000")
    g.add_argument("--all", action="store_true", help="every chunk, then <outdir>/gene_tests/{trait}.*.parquet")
    p.add_argument("--out", help="output prefix (default: <outdir>/gene_tests/{trait}/{locus or chunk})")
    p.set_defaults(fn=cmd_gene_tests)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(None, logging.DEBUG if args.debug else logging.INFO)
    import numpy  # noqa: F401  (load BLAS now: threadpoolctl limits only the libraries already loaded)
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(limits=max(1, args.threads)):  # as stages.snakemake_main does for a rule
            args.fn(args)
    except InputError as exc:
        if args.debug:
            raise
        print(f"twasflow {args.cmd}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
