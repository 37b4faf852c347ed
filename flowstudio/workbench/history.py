"""Training history: the live samples of a run, kept in its folder so a slider can scrub
back through what the model drew at each step (``RUN/history.npz``).

The store is bounded twice: at most :data:`MAX_SNAPSHOTS` snapshots, each of at most
:data:`MAX_POINTS` points per cloud (point clouds are thinned), so a long run's history
stays around a few MB. When it is full, every second snapshot is dropped and the spacing
of the kept ones doubles, so the history always spans the whole run evenly (every
2^k-th snapshot, k growing with the run's length).

The file is a plain ``.npz`` read with ``allow_pickle=False`` (a run folder is untrusted
input): ``steps`` (S,), ``temperatures`` (S,), and ``points`` (S, K, P, 3) float32 or
``smiles`` (S, K) unicode with ``""`` for a failed decode.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flowstudio.errors import BadInputError
from flowstudio.files import give_ordinary_mode

HISTORY_NAME = "history.npz"
MAX_SNAPSHOTS = 48
MAX_POINTS = 1024


@dataclass
class Snapshot:
    step: int
    temperature: float
    points: np.ndarray | None = None  # (K, P, 3)
    smiles: tuple[str | None, ...] | None = None


@dataclass
class SampleHistory:
    """The snapshots of one run, oldest first."""

    snapshots: list[Snapshot] = field(default_factory=list)
    limit: int = MAX_SNAPSHOTS
    stride: int = 1  # keep every stride-th snapshot offered
    _offered: int = 0

    def add(self, event: Any) -> bool:
        """Offer a live-samples event; ``True`` when it was kept."""
        self._offered += 1
        if (self._offered - 1) % self.stride:
            return False
        points = None if event.points is None else _thin(np.asarray(event.points, dtype=np.float32))
        smiles = None if event.smiles is None else tuple(event.smiles)
        self.snapshots.append(Snapshot(int(event.step), float(event.temperature), points, smiles))
        if len(self.snapshots) > self.limit:
            self.snapshots = self.snapshots[::2]
            self.stride *= 2
        return True

    def __len__(self) -> int:
        return len(self.snapshots)

    def save(self, run_dir: Path) -> Path:
        """Write ``run_dir/history.npz`` (a temporary file, then a rename)."""
        arrays: dict[str, np.ndarray] = {
            "steps": np.array([s.step for s in self.snapshots], dtype=np.int64),
            "temperatures": np.array([s.temperature for s in self.snapshots], dtype=np.float64),
        }
        clouds = [s.points for s in self.snapshots if s.points is not None]
        if clouds and len({c.shape for c in clouds}) == 1 and len(clouds) == len(self.snapshots):
            arrays["points"] = np.stack(clouds)
        elif all(s.smiles is not None for s in self.snapshots) and self.snapshots:
            width = max(len(s.smiles) for s in self.snapshots)  # type: ignore[arg-type]
            rows = [[m or "" for m in s.smiles] + [""] * (width - len(s.smiles)) for s in self.snapshots]  # type: ignore[union-attr]
            arrays["smiles"] = np.array(rows, dtype=str)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        path = Path(run_dir) / HISTORY_NAME
        tmp = path.with_name(f".{HISTORY_NAME}.tmp")
        tmp.write_bytes(buffer.getvalue())
        give_ordinary_mode(tmp)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, run_dir: Path) -> SampleHistory:
        """The history saved in ``run_dir`` (empty when there is none)."""
        path = Path(run_dir) / HISTORY_NAME
        if not path.is_file():
            return cls()
        try:
            with np.load(path, allow_pickle=False) as data:
                steps, temps = data["steps"], data["temperatures"]
                points = data.get("points")
                smiles = data.get("smiles")
        except (OSError, ValueError, KeyError) as exc:
            raise BadInputError(f"{path}: not a readable training history ({exc})") from None
        snapshots = [
            Snapshot(
                int(step),
                float(t),
                None if points is None else points[i],
                None if smiles is None else tuple(m or None for m in smiles[i]),
            )
            for i, (step, t) in enumerate(zip(steps, temps, strict=True))
        ]
        return cls(snapshots)


def _thin(clouds: np.ndarray) -> np.ndarray:
    if clouds.ndim != 3 or clouds.shape[1] <= MAX_POINTS:
        return clouds
    keep = np.random.default_rng(0).choice(clouds.shape[1], MAX_POINTS, replace=False)
    return clouds[:, np.sort(keep)]
