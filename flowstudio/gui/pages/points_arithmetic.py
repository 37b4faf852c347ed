"""Latent arithmetic on shapes (PointFlow): the attribute vector between two groups of the
loaded collection, applied to one shape at the strength of a slider, decoded live."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit

from flowstudio.gui.pages.base import NO_MODEL, LatentPage, fill_shapes, shape_index
from flowstudio.gui.views_points import CloudView
from flowstudio.gui.widgets import LabeledSlider, controls_row, make_searchable
from flowstudio.workbench.latent_edits import EditedShape, ShapeArithmetic

MAX_STRENGTH = 3.0


class ArithmeticPage(LatentPage):
    purpose, lacking = "Latent arithmetic", "has no shape latent"
    needs = "Latent arithmetic needs a PointFlow model (it has a shape latent)."
    action = "choose two groups and a shape, then move the strength"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.source, self.target = QLineEdit(self), QLineEdit(self)
        for edit, tip in ((self.source, "without"), (self.target, "with")):
            edit.setPlaceholderText("0-9, 14 or part of the names")
            edit.setToolTip(
                f"The group {tip} the attribute: shape numbers and ranges (0-9, 14) or text that "
                "their names contain, separated by commas"
            )
            edit.returnPressed.connect(self.refresh)
        self.shape = make_searchable(QComboBox(self))
        self.shape.setMinimumWidth(160)
        self.shape.setToolTip("The shape to edit")
        self.strength = LabeledSlider(
            "Strength", -MAX_STRENGTH, MAX_STRENGTH, 1.0, 120,
            tooltip="How far along the vector: 0 is the reconstruction, 1 adds the whole difference "
            "of the group means, negative moves away from the 'to' group",
        )
        self.caption = QLabel(self)
        self.caption.setObjectName("SummaryLabel")
        self.caption.setWordWrap(True)
        self.view = CloudView(self, f"{self.needs}\n{NO_MODEL}")
        self.editor = ShapeArithmetic()
        self.result: EditedShape | None = None
        self._in_flight = False
        self._wanted: float | None = None
        self.shape.currentIndexChanged.connect(lambda _: self.refresh())
        self.strength.value_changed.connect(lambda _: self.refresh())
        self.lay_out(
            controls_row(QLabel("From"), self.source, QLabel("to"), self.target, QLabel("Shape"), self.shape,
                         self.strength),
            self.view,
            self.caption,
        )

    def set_shapes(self, names: list[str]) -> None:
        """The shapes to pick from; the groups default to the first and the second half."""
        self.shape.blockSignals(True)
        fill_shapes(self.shape, names)
        self.shape.blockSignals(False)
        half = len(names) // 2
        if half:
            self.source.setText(f"0-{half - 1}")
            self.target.setText(f"{half}-{len(names) - 1}")
        self.result = None

    def stale(self) -> bool:
        return self.result is None

    def refresh(self) -> None:
        """Decode at the slider's strength; while one decode runs, only the latest strength
        waits (a dragged slider never queues a backlog)."""
        self._wanted = self.strength.value()
        if not self._in_flight:
            self._submit()

    def _submit(self) -> None:
        inputs = self.latent_inputs()
        if inputs is None or self._wanted is None:
            return
        shapes, task = inputs
        names = list(self.workspace.data.data.names)
        source, target = self.source.text(), self.target.text()
        index, strength = shape_index(self.shape), self._wanted
        self._wanted, self._in_flight = None, True

        def work() -> EditedShape:
            try:
                return self.editor.edit(task, shapes, names, source, target, index, strength)
            finally:
                self._in_flight = False

        def done(result: EditedShape) -> None:
            self.result = result
            self.view.show_clouds(
                [result.shape, result.edited], labels=["input", f"strength {result.strength:+.2f}"], columns=2
            )
            self.caption.setText(result.caption)
            if self._wanted is not None:
                self._submit()

        self.submit("arithmetic", work, done)
