"""The built-in point-cloud samples shipped in the repository's ``samples/pointclouds``.

They are made by ``samples/make_shapes.py`` (procedural, CC0). The folder is found next
to the package in a source checkout or editable install (``Path(__file__).parents[2]``),
or wherever the ``FLOWSTUDIO_SAMPLES`` environment variable points.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flowstudio.errors import BadInputError


@dataclass(frozen=True)
class BuiltinSample:
    """A sample data set: a collection (``kind="collection"``) or one shape (``"shape"``)."""

    name: str
    path: Path
    description: str
    kind: str = "collection"


def samples_dir() -> Path:
    """The repository's ``samples`` folder (or ``$FLOWSTUDIO_SAMPLES``)."""
    env = os.environ.get("FLOWSTUDIO_SAMPLES")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "samples"


def builtin_samples() -> list[BuiltinSample]:
    """The built-in point-cloud samples that exist on disk, the default first."""
    root = samples_dir() / "pointclouds"
    candidates = [
        BuiltinSample(
            "Procedural shapes",
            root / "shapes.npz",
            "200 procedural tables, chairs, lamps, mugs and airplanes, 1024 points each, "
            "160 for training and 40 held out (CC0)",
        ),
        BuiltinSample(
            "Torus knot",
            root / "torus_knot.ply",
            "One tube mesh around a trefoil knot, for the single-shape CNF (CC0)",
            kind="shape",
        ),
    ]
    return [s for s in candidates if s.path.is_file()]


def builtin_sample(name: str) -> BuiltinSample:
    """The built-in sample called ``name`` (case-insensitive, e.g. ``"torus knot"``)."""
    for sample in builtin_samples():
        if sample.name.lower() == name.lower() or sample.path.stem == name:
            return sample
    known = ", ".join(s.name for s in builtin_samples()) or "none found"
    raise BadInputError(f"no built-in point-cloud sample {name!r} (available: {known})")
