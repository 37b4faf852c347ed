"""The run folder's latest live samples, ``RUN/samples.npz``, for whoever follows the run.

The engine yields a :class:`~flowstudio.training.events.Samples` event every
``samples_every_s`` seconds; rank 0 also writes it here (atomically, replacing the previous
one) so that a window following the run from another process, or a folder synced from a GPU
server, shows the same live samples as a window that runs the trainer in its own thread.

The file is a plain ``.npz`` read with ``allow_pickle=False`` (a run folder is untrusted
input): ``step`` and ``temperature`` scalars, and ``points`` (K, P, 3) float32 for point
clouds or ``smiles`` (K,) unicode for molecules, where ``""`` stands for a failed decode.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from flowstudio.files import atomic_write_bytes
from flowstudio.training.events import Samples

SNAPSHOT_NAME = "samples.npz"


def write_snapshot(path: Path, event: Samples) -> None:
    """Write ``event`` to ``path`` atomically (a temporary ``.NAME.*.tmp``, then a rename)."""
    arrays: dict[str, np.ndarray] = {
        "step": np.asarray(event.step, dtype=np.int64),
        "temperature": np.asarray(event.temperature, dtype=np.float64),
    }
    if event.points is not None:
        arrays["points"] = np.asarray(event.points, dtype=np.float32)
    else:
        arrays["smiles"] = np.asarray(["" if s is None else s for s in event.smiles or ()], dtype=str)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getbuffer())


def read_snapshot(path: Path) -> Samples | None:
    """The snapshot at ``path`` as a :class:`Samples` event; ``None`` when there is none or
    it cannot be read (being replaced, torn, or not a snapshot): the next poll tries again."""
    try:
        with np.load(path, allow_pickle=False) as data:
            step = int(data["step"])
            temperature = float(data["temperature"])
            if "points" in data.files:
                points = np.array(data["points"], dtype=np.float32)
                if points.ndim != 3 or points.shape[-1] != 3:
                    return None
                return Samples(step=step, kind="points", points=points, temperature=temperature)
            smiles = tuple(str(s) or None for s in data["smiles"].tolist())
            return Samples(step=step, kind="molecules", smiles=smiles, temperature=temperature)
    except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile):
        return None
