"""What every analysis page shares: its workspace (the trained model, the job thread,
messages) and its layout (controls on top, the view filling the rest)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QComboBox, QLayout, QWidget

from flowstudio.gui.widgets import lay_out_page
from flowstudio.workbench.points import has_latent
from flowstudio.workbench.texts import NEEDS_MODEL, view_placeholder

if TYPE_CHECKING:
    from flowstudio.gui.workspace import Workspace

NO_MODEL = NEEDS_MODEL


class AnalysisPage(QWidget):
    """A view tab of ``workspace`` that draws what its trained model computes.

    ``needs`` (what the page needs beyond a model, e.g. a shape latent) and ``action`` (what
    computes it once a model is open) make up its empty view's text with the run's state
    (:func:`~flowstudio.workbench.texts.view_placeholder`)."""

    needs = ""
    action = ""

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self.workspace = workspace

    def lay_out(self, controls: QLayout, view: QWidget, footer: QWidget | None = None) -> None:
        lay_out_page(self, controls, view, footer)

    @property
    def model(self) -> Any:
        """The workspace's trained model (a ``RestoredTask``), or ``None``."""
        return self.workspace.model

    @property
    def adapter(self) -> Any:
        """The workbench's adapter of the workspace's data kind."""
        return self.workspace.kind_adapter

    def submit(self, key: str, work, done) -> None:
        """Run ``work`` on the workspace's model-query thread; ``done(result)`` draws it."""
        self.workspace.jobs.submit(key, work, done)

    def show_run_state(self, activity: str, has_model: bool) -> None:
        """Say on the empty view what it waits for: a model, the run, or the page's action."""
        view = getattr(self, "view", None) or getattr(self, "grid", None)
        text = view_placeholder(activity, has_model, self.action)
        if self.needs:
            text = f"{self.needs}\n{text}"
        if view is not None and hasattr(view, "set_placeholder_text"):
            view.set_placeholder_text(text)

    def stale(self) -> bool:
        """Whether showing the page should compute it (it shows nothing for this model yet)."""
        return False

    def refresh(self) -> None:
        """Compute what the page shows for the current model and settings."""


def fill_shapes(combo: QComboBox, names: list[str]) -> None:
    """List ``names`` in a shape picker, each item carrying its shape's index in the data."""
    combo.clear()
    for index, name in enumerate(names):
        combo.addItem(name, index)


def shape_index(combo: QComboBox) -> int:
    """The data index of the shape a picker shows (the first when none is picked)."""
    data = combo.currentData()
    return int(data) if data is not None else max(0, combo.currentIndex())


def choose_shape(combo: QComboBox, index: int, name: str) -> None:
    """Show shape ``index`` in a picker (clicked in a view), added when the list lacks it
    (the pickers list the first shapes of a big collection only)."""
    item = combo.findData(index)
    if item < 0:
        combo.addItem(name, index)
        item = combo.count() - 1
    combo.setCurrentIndex(item)


class LatentPage(AnalysisPage):
    """A point-cloud page that needs PointFlow's shape latent (interpolation, reconstruction)."""

    purpose = ""
    lacking = ""
    view: Any

    def latent_inputs(self) -> tuple[Any, Any] | None:
        """The data's shapes and the trained task, or ``None``: nothing to do yet, or (said on
        the view) a model without a shape latent."""
        shapes = self.workspace.shapes()
        if self.model is None or shapes is None:
            return None
        if not has_latent(self.model.task):
            name = self.model.model_name
            self.view.set_placeholder(
                f"{self.purpose} needs a PointFlow model: this model ({name}) {self.lacking}."
            )
            return None
        return shapes, self.model.task
