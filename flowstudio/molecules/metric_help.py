"""One line of help per key of :func:`~flowstudio.molecules.metrics.evaluate`, for tooltips
and tables (docs/molecule-metrics.md has the full definitions)."""

from __future__ import annotations

METRIC_HELP: dict[str, str] = {
    "valid": "Fraction of generated molecules RDKit accepts",
    "valid_without_check": "Valid molecules that needed no valency correction (GraphAF's 'w/o check')",
    "unique@1000": "Distinct canonical SMILES among the first 1,000 valid molecules",
    "unique@10000": "Distinct canonical SMILES among the first 10,000 valid molecules",
    "unique": "Distinct canonical SMILES among all valid molecules",
    "novel": "Distinct valid molecules that are not in the training set",
    "IntDiv1": "Internal diversity: 1 - mean Tanimoto similarity between generated molecules",
    "IntDiv2": "Internal diversity with the squared similarity (p = 2)",
    "IntDiv": "Same as IntDiv1",
    "SNN/Test": "Mean similarity of each generated molecule to its nearest reference molecule",
    "Frag/Test": "Cosine similarity of BRICS fragment counts to the reference (1 = same)",
    "Scaf/Test": "Cosine similarity of Bemis-Murcko scaffold counts to the reference (1 = same)",
    "FCD/Test": "Fréchet ChemNet Distance to the reference set (lower is better)",
    "Filters": "Valid molecules passing MOSES's medicinal-chemistry and PAINS filters",
    "Filters_ref": "The same share of the reference molecules: what real molecules reach",
    "logP": "Wasserstein distance of the logP distribution to the reference (lower is better)",
    "SA": "Wasserstein distance of synthetic-accessibility scores to the reference",
    "QED": "Wasserstein distance of drug-likeness (QED) to the reference",
    "weight": "Wasserstein distance of molecular weights to the reference",
    "heavy_atoms": "Wasserstein distance of heavy-atom counts to the reference",
    "rings": "Wasserstein distance of ring counts to the reference",
    "aromatic_rings": "Wasserstein distance of aromatic-ring counts to the reference",
    "heavy_atoms_mean": "Mean heavy atoms per generated molecule",
    "heavy_atoms_mean_ref": "Mean heavy atoms per reference molecule",
    "ring_unusual_share": "Generated molecules with a ring smaller than 5 or larger than 7 atoms",
    "ring_unusual_share_ref": "The same share of the reference molecules",
    "ring_size_tv": "Total variation between the ring-size distributions (0 = same, 1 = disjoint)",
    "ring_size_w1": "Wasserstein distance between the ring-size distributions, in atoms",
    "n_samples": "Generated entries",
    "n_valid": "Valid generated molecules",
    "n_reference": "Reference molecules compared with",
}
