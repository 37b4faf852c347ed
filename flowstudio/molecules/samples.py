"""The built-in molecule data sets shipped in ``samples/molecules`` (with their licences)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "samples" / "molecules"


@dataclass(frozen=True)
class BuiltinMoleculeSet:
    """A sample set: a short key, a title for menus, its file, licence and a description."""

    key: str
    title: str
    path: Path
    license_path: Path
    description: str


def builtin_molecule_sets() -> list[BuiltinMoleculeSet]:
    """The sample sets present on disk, the default (MOSES 20k) first."""
    sets = [
        BuiltinMoleculeSet(
            key="moses_20k",
            title="MOSES 20k (drug-like molecules)",
            path=SAMPLES_DIR / "moses_20k.smi",
            license_path=SAMPLES_DIR / "LICENSE-MOSES.txt",
            description="20,000 molecules drawn at random from the MOSES training split "
            "(Polykovskiy et al. 2020, MIT licence): C, N, O, F, S, Cl, Br, neutral, "
            "at most 26 heavy atoms.",
        ),
    ]
    return [s for s in sets if s.path.is_file()]


def default_molecule_set() -> BuiltinMoleculeSet | None:
    """The set the app opens on, or ``None`` when the samples folder is missing."""
    sets = builtin_molecule_sets()
    return sets[0] if sets else None
