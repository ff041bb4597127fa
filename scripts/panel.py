"""Rule panel: reference panel → genotype store (twasflow.stages.panel)."""
from twasflow import stages

smk = snakemake  # noqa: F821 - injected by Snakemake
p = smk.params.panel
stages.snakemake_main(smk, stages.panel, out_dir=smk.params.out_dir, bfile=p["bfile"], vcf=p["vcf"],
                      keep=p["keep"], maf_min=p["maf_min"], pgen=p.get("pgen"))
