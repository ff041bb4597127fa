"""twasflow: causal gene–tissue pairs and direct causal variants from GWAS and xQTL summary statistics."""

__version__ = "0.1.0"
