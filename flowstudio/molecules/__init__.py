"""Molecules: RDKit chemistry, molecular I/O, GraphAF, generation and MOSES metrics."""

from flowstudio.task_types import register_task_kind

register_task_kind("molecules", "flowstudio.molecules.task:MoleculeTask")
