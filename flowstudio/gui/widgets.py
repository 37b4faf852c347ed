"""Small widgets shared by the workspaces: the message banner, labelled sliders, icons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

RESOURCES = Path(__file__).resolve().parent / "resources"


def icon(name: str, color: str = "#c9d1d9") -> QIcon:
    """An icon from ``resources/icons/<name>.svg`` recolored with ``color``."""
    from PySide6.QtSvg import QSvgRenderer

    text = (RESOURCES / "icons" / f"{name}.svg").read_text().replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(text.encode()))
    result = QIcon()
    for size in (16, 24, 32, 48):
        pixmap = QPixmap(QSize(size, size))
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        renderer.render(painter)
        painter.end()
        result.addPixmap(pixmap)
    return result


BANNER_HEIGHT = 32


class MessageBanner(QWidget):
    """A dismissable one-line message strip at the top of a workspace (errors never pop
    modal boxes that would block a running test or a user's training).

    Its height is fixed and kept while it is hidden, so a message coming or going never
    moves the widgets under it (a click aimed at a button lands on that button); a long
    message is cut to one line and shown whole in the tooltip and the log."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MessageBanner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 2, 4, 2)
        self.setFixedHeight(BANNER_HEIGHT)
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.setSizePolicy(policy)
        self.label = QLabel(self)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(self)
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignVCenter)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_message(self, text: str, level: str = "error", seconds: float | None = None) -> None:
        self.setProperty("level", level)
        self.style().unpolish(self)
        self.style().polish(self)
        self.full_text = text
        self.label.setText(text.splitlines()[0] if text else "")
        self.setToolTip(text)
        self.show()
        if seconds:
            self._timer.start(int(seconds * 1000))
        else:
            self._timer.stop()

    def text(self) -> str:
        return getattr(self, "full_text", "") if self.isVisible() else ""


class LabeledSlider(QWidget):
    """A horizontal slider over a float range with its value shown beside it."""

    value_changed = Signal(float)
    released = Signal(float)

    def __init__(
        self,
        label: str,
        lo: float,
        hi: float,
        value: float,
        steps: int = 100,
        fmt: str = "{:.2f}",
        tooltip: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.lo, self.hi, self.steps, self.fmt = lo, hi, steps, fmt
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 10, 0)  # room between the readout and the next control
        self.caption = QLabel(label, self)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, steps)
        self.slider.setMinimumWidth(120)
        self.readout = QLabel(self)
        self.readout.setMinimumWidth(44)
        self.readout.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for w in (self.caption, self.slider, self.readout):
            w.setToolTip(tooltip)
        layout.addWidget(self.caption)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.readout)
        self.slider.valueChanged.connect(self._changed)
        self.slider.sliderReleased.connect(lambda: self.released.emit(self.value()))
        self.set_value(value)

    def value(self) -> float:
        return self.lo + (self.hi - self.lo) * self.slider.value() / self.steps

    def set_value(self, value: float) -> None:
        position = round((value - self.lo) / (self.hi - self.lo) * self.steps) if self.hi > self.lo else 0
        self.slider.setValue(max(0, min(self.steps, position)))
        self.readout.setText(self.fmt.format(self.value()))

    def set_range(self, lo: float, hi: float) -> None:
        value = self.value()
        self.lo, self.hi = lo, hi
        self.set_value(min(max(value, lo), hi))

    def _changed(self, _: int) -> None:
        self.readout.setText(self.fmt.format(self.value()))
        self.value_changed.emit(self.value())


def stamp_png(path: str | Path, provenance: Any) -> None:
    """Write ``provenance`` (a ``Provenance``, or ``None``) into the PNG at ``path`` as
    text chunks (``flowstudio.run``, ...), which image viewers and the window read back."""
    if provenance is None:
        return
    image = QImage(str(path))
    for key, value in provenance.fields().items():
        image.setText(key, value)
    image.save(str(path), "PNG")


def make_searchable(combo: QComboBox) -> QComboBox:
    """Let the user type part of a name to find it in a long list (a shape collection's
    200+ names): the combo becomes editable with a completer matching anywhere, case-blind."""
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    completer = combo.completer()
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
    combo.lineEdit().setPlaceholderText("type to search")
    return combo


def controls_row(*widgets: QWidget) -> QHBoxLayout:
    """A row of controls above a view; text fields take the spare width, else it goes right."""
    layout = QHBoxLayout()
    layout.setContentsMargins(6, 4, 6, 4)
    for w in widgets:
        layout.addWidget(w, 1 if isinstance(w, QLineEdit) else 0)
    if not any(isinstance(w, QLineEdit) for w in widgets):
        layout.addStretch(1)
    return layout


def stacked(parent: QWidget, *widgets: QWidget) -> QWidget:
    """``widgets`` one above the other in one cell of a controls row: a row of a page's
    controls must stay narrow enough for the window's smallest width."""
    column = QWidget(parent)
    layout = QVBoxLayout(column)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    for widget in widgets:
        layout.addWidget(widget)
    return column


def lay_out_page(page: QWidget, controls: QLayout, view: QWidget, footer: QWidget | None = None) -> None:
    """A view tab's layout: its controls on top, an optional line under them, the view
    filling the rest."""
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addLayout(controls)
    if footer is not None:
        layout.addWidget(footer)
    layout.addWidget(view, 1)
