"""Molecules: RDKit chemistry, molecular I/O, GraphAF, generation and MOSES metrics."""
