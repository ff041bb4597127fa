"""Rule harmonize_xqtl: xQTL → panel alleles, per chromosome (twasflow.stages.harmonize_xqtl)."""
from pathlib import Path

from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
stages.snakemake_main(smk, stages.harmonize_xqtl, row=smk.params.row, panel_dir=Path(smk.input.panel).parent,
                      out_dir=smk.output.out_dir, qc=smk.output.qc, harmonize=smk.params.harmonize,
                      build=smk.params.build)
