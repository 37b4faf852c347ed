"""What every data kind offers the window: built-in samples, file formats, reading a data
set, the models with their presets and hyperparameters, a task to train, and a trained model
rebuilt from a checkpoint. :mod:`.points` and :mod:`.molecules` fill it in, and add the
analyses their pages call.

Every method that touches an engine imports it on first use; the slow ones (reading,
building a task, loading a model, the analyses) are meant for a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowstudio.errors import CheckpointKindError
from flowstudio.params import Param
from flowstudio.workbench.data import DataInfo, Sample

TITLES = {"points": "Point clouds", "molecules": "Molecules"}
"""Each kind's name in the window."""


class DataKind:
    """The engine of one data kind, as the window sees it (subclasses fill in the hooks)."""

    kind = ""

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    def samples(self) -> list[Sample]:
        raise NotImplementedError

    def io(self) -> Any:
        """The kind's readers/writers registry module (it lists the dialogs' formats)."""
        raise NotImplementedError

    def open_filters(self) -> list[str]:
        """File-dialog filters of the readable formats."""
        return self.io().open_dialog_filters()

    def save_filters(self) -> list[str]:
        """File-dialog filters of the formats samples export to."""
        return self.io().save_dialog_filters()

    def read_data(self, path: Path) -> DataInfo:
        """Read ``path`` and summarize it for the data panel (slow: a worker thread)."""
        raise NotImplementedError

    def models(self) -> list[str]:
        raise NotImplementedError

    def presets(self) -> list[str]:
        raise NotImplementedError

    def params_for(self, model: str) -> list[Param]:
        raise NotImplementedError

    def preset_values(self, model: str, preset: str) -> dict[str, Any]:
        raise NotImplementedError

    def objective_values(self, model: str, preset: str, objective: str) -> dict[str, Any]:
        """What choosing ``objective`` in the form sets with it (its recipe); none by default."""
        return {}

    def task_factory(
        self, data: DataInfo, model: str, preset: str, values: dict[str, Any]
    ) -> Callable[[], Any]:
        """A zero-argument callable building the engine's task (run on the worker thread)."""
        raise NotImplementedError

    demo_run = ""
    """The folder under ``samples/models/`` of the kind's pretrained demo (samples/make_models.py)."""

    def demo_checkpoint(self) -> Path | None:
        """The demo run's checkpoint (best, else latest), or ``None`` when it is not there."""
        from flowstudio.pointclouds.samples import samples_dir  # plain paths: no torch

        checkpoints = samples_dir() / "models" / self.demo_run / "checkpoints"
        for name in ("best.pt", "latest.pt"):
            if self.demo_run and (checkpoints / name).is_file():
                return checkpoints / name
        return None

    def load_model(self, checkpoint: Path) -> Any:
        """The trained model of ``checkpoint`` on the CPU (a ``RestoredTask``), for the
        analysis pages. A checkpoint of the other kind says where to open it instead; a
        corrupt or foreign file raises :class:`~flowstudio.errors.CheckpointError` naming it."""
        from flowstudio.training.restore import restore_task

        try:
            return restore_task(checkpoint, kind=self.kind)
        except CheckpointKindError as exc:
            where = TITLES.get(exc.found)
            if where is None:
                raise
            raise CheckpointKindError(
                f"{exc}. Open it from the {where} workspace.", found=exc.found, expected=exc.expected
            ) from None
