"""The RUN folder: one training run's config, checkpoints and metrics log.

::

    RUN/
      config.json              task.config() + training options + versions + device
      checkpoints/latest.pt    written every ``checkpoint_every_s``, at stop and at the end
      checkpoints/best.pt      the lowest validation metric so far
      metrics.jsonl            one JSON object a line (see :meth:`Run.append_metrics`)
      samples.npz              the latest live samples (see :mod:`.snapshots`)
      control                  pause/resume/stop asked by a window (see :mod:`.remote`)
      .lock                    held by the training that writes the folder (see :mod:`.runlock`)

Every write is atomic (a temporary ``.NAME.*.tmp`` beside its target, then a rename) or an
append; a write the disk refuses (read-only, full, no permission) raises
:class:`RunFolderError`, a :class:`BadInputError` that says which and keeps what was there.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowstudio.errors import BadInputError, CheckpointError
from flowstudio.files import atomic_write_text
from flowstudio.training.runlock import LOCK_NAME, RunLock
from flowstudio.training.snapshots import SNAPSHOT_NAME, write_snapshot

if TYPE_CHECKING:
    from flowstudio.training.events import Samples

TEMP_PATTERN = ".*.tmp"
"""The names of unfinished atomic writes (``.latest.pt.k3j2.tmp``)."""


class RunFolderError(BadInputError):
    """The run folder refused a write: read-only, full, or not ours to write."""


def describe_os_error(exc: OSError) -> str:
    """What a failed write means for the user: a full disk says so (PyTorch's own error
    for it is ``unexpected pos 450112 vs 450000``)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full ({reason})"
    if exc.errno == errno.EROFS:
        return f"the file system is read-only ({reason})"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write there; is the folder read-only? ({reason})"
    return reason


class Run:
    """Paths and small file helpers for a run folder (nothing is created until asked)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def latest(self) -> Path:
        return self.checkpoints / "latest.pt"

    @property
    def best(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def snapshot_path(self) -> Path:
        return self.root / SNAPSHOT_NAME

    @contextlib.contextmanager
    def writing(self, what: str) -> Iterator[None]:
        """Turn an ``OSError`` of the block into :class:`RunFolderError` naming ``what``."""
        try:
            yield
        except OSError as exc:
            reason = describe_os_error(exc)
            raise RunFolderError(f"run folder {self.root}: cannot write {what}: {reason}") from None

    def stray_temp_files(self) -> list[Path]:
        """Temporary files of writes that never finished (a process killed mid-write)."""
        folders = [folder for folder in (self.root, self.checkpoints) if folder.is_dir()]
        return sorted(p for folder in folders for p in folder.glob(TEMP_PATTERN) if p.is_file())

    def resume_candidates(self) -> list[Path]:
        """The checkpoints a resume may start from, ``latest.pt`` first."""
        return [path for path in (self.latest, self.best) if path.is_file()]

    def open_for_training(self, lock: RunLock, resume: bool) -> int:
        """Create the folder and take its ``lock`` for a training (new, or ``resume``-d),
        refusing a new run over an old one and a resume with nothing to resume from; remove
        the temporary files of interrupted writes and return how many there were."""
        no_checkpoint = CheckpointError(f"{self.latest}: no checkpoint to resume from (nor best.pt)")
        if resume and not self.root.is_dir():
            raise no_checkpoint
        self.create()
        with self.writing(LOCK_NAME):
            lock.acquire()  # before looking inside: another trainer may be writing there
        if resume and not self.resume_candidates():
            raise no_checkpoint
        if not resume and (self.latest.exists() or self.best.exists()):
            raise BadInputError(
                f"run folder {self.root} already holds a run (checkpoints/*.pt); "
                "resume it (--resume) or choose a new folder"
            )
        strays = self.stray_temp_files()  # ours to remove: the lock says no one else writes here
        for stray in strays:
            stray.unlink(missing_ok=True)
        return len(strays)

    def create(self) -> None:
        """Make the folder, or refuse a path that exists and is not a folder."""
        if self.root.exists() and not self.root.is_dir():
            raise BadInputError(f"run folder {self.root}: exists and is not a folder")
        try:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInputError(f"run folder {self.root}: cannot be created ({exc.strerror})") from None

    def checkpoint(self, prefer: str = "best") -> Path:
        """The checkpoint to sample from: ``best.pt`` (or ``latest.pt``) falling back to the
        other; :class:`CheckpointError` when the run has none."""
        order = [self.best, self.latest] if prefer == "best" else [self.latest, self.best]
        for path in order:
            if path.is_file():
                return path
        raise CheckpointError(f"run folder {self.root}: holds no checkpoint (checkpoints/*.pt)")

    def write_config(self, config: dict[str, Any]) -> None:
        """Write ``config.json`` atomically."""
        text = json.dumps(config, indent=2, sort_keys=False, allow_nan=False)
        with self.writing("config.json"):
            atomic_write_text(self.config_path, text + "\n")

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one record to ``metrics.jsonl``.

        Records carry ``step`` and ``time`` (Unix seconds) and one of: ``losses`` (means over
        the steps since the previous record) with ``lr``, ``nfe_forward``, ``nfe_backward``,
        ``steps_per_s``; ``validation`` (the metric); or ``event``: ``recovered`` (with
        ``reason`` and the new ``lr``) or ``finished`` (the run's last record, with the
        ``reason`` of :class:`~flowstudio.training.events.Finished` and its ``error``).
        """
        line = json.dumps(record, allow_nan=True)  # NaN losses are facts worth keeping
        with self.writing("metrics.jsonl"), open(self.metrics_path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def write_snapshot(self, event: Samples) -> None:
        """Replace ``samples.npz`` with the live samples of ``event`` (atomically)."""
        with self.writing(SNAPSHOT_NAME):
            write_snapshot(self.snapshot_path, event)

    def truncate_metrics(self, after_step: int) -> None:
        """Drop records past ``after_step`` (on resume, those steps will be trained again) and
        the ``finished`` records of earlier sessions (the run goes on)."""
        if not self.metrics_path.is_file():
            return
        kept = [r for r in read_metrics(self.root)
                if int(r.get("step", 0)) <= after_step and r.get("event") != "finished"]
        with self.writing("metrics.jsonl"):
            atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))


def read_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The run's ``config.json``; :class:`BadInputError` when missing or unreadable."""
    path = Run(run_dir).config_path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"{run_dir}: not a run folder (no config.json)") from None
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise BadInputError(f"{path}: not a run config")
    return data


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All records of ``metrics.jsonl`` in order; a torn last line (a crash mid-write) is
    skipped. An absent log reads as empty."""
    path = Run(run_dir).metrics_path
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return parse_records(lines)


def parse_records(lines: Iterable[str | bytes]) -> list[dict[str, Any]]:
    """The records of ``metrics.jsonl`` lines; a torn or foreign line is skipped."""
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
