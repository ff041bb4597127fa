"""Input/output at the edges: readers, the genotype store and atomic writers."""
