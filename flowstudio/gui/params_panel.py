"""A form built from an engine's ``list[Param]``: one editor per hyperparameter.

Each editor shows the parameter's help as a tooltip together with its default and range,
refuses out-of-range values (the field turns red and the tooltip says why), and renders
its label in bold when the value differs from the default, so a user sees at a glance
what was changed from the preset.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from flowstudio.errors import BadInputError
from flowstudio.params import Param

INT_LIMIT = 2_000_000_000


def describe(param: Param) -> str:
    """The tooltip: help, default and allowed values."""
    lines = [param.help, "", f"Default: {param.default}"]
    if param.choices:
        lines.append("One of: " + ", ".join(param.choices))
    elif param.minimum is not None or param.maximum is not None:
        lo = "−∞" if param.minimum is None else f"{param.minimum:g}"
        hi = "∞" if param.maximum is None else f"{param.maximum:g}"
        lines.append(f"Range: [{lo}, {hi}]")
    return "\n".join(lines)


def _label_text(name: str) -> str:
    return name.replace("_", " ")


class ParamEditor:
    """The editor widget of one :class:`Param` and how to read, write and check it."""

    def __init__(self, param: Param, parent: QWidget, on_change) -> None:
        self.param = param
        self.error: str | None = None
        tip = describe(param)
        if param.choices:
            self.widget: QWidget = QComboBox(parent)
            self.widget.addItems(list(param.choices))
            self.widget.currentIndexChanged.connect(on_change)
        elif isinstance(param.default, bool):
            self.widget = QCheckBox(parent)
            self.widget.toggled.connect(on_change)
        elif isinstance(param.default, int):
            self.widget = QSpinBox(parent)
            # a QSpinBox holds a 32-bit int: clamp wider ranges (e.g. a 64-bit seed) to it
            lo = max(int(param.minimum), -INT_LIMIT) if param.minimum is not None else -INT_LIMIT
            hi = min(int(param.maximum), INT_LIMIT) if param.maximum is not None else INT_LIMIT
            self.widget.setRange(lo, hi)
            self.widget.setAccelerated(True)
            self.widget.valueChanged.connect(on_change)
        else:  # floats (learning rates span decades: free text, checked by Param.validate) and strings
            self.widget = QLineEdit(parent)
            self.widget.textChanged.connect(on_change)
        self.widget.setObjectName(f"param_{param.name}")
        self.widget.setToolTip(tip)
        self.tooltip = tip
        self.set(param.default)

    def set(self, value: Any) -> None:
        w = self.widget
        if isinstance(w, QComboBox):
            index = w.findText(str(value))
            w.setCurrentIndex(max(0, index))
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QSpinBox):
            w.setValue(int(value))
        else:
            w.setText(f"{value:g}" if isinstance(value, float) else str(value))

    def raw(self) -> Any:
        w = self.widget
        if isinstance(w, QComboBox):
            return w.currentText()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox):
            return w.value()
        return w.text().strip()

    def check(self) -> Any:
        """The validated value; records and shows the error when there is one."""
        try:
            value = self.param.validate(self.raw())
            self.error = None
        except BadInputError as exc:
            value, self.error = None, str(exc)
        self.widget.setProperty("invalid", self.error is not None)
        self.widget.setToolTip(self.tooltip if self.error is None else f"⚠ {self.error}\n\n{self.tooltip}")
        self.widget.style().unpolish(self.widget)
        self.widget.style().polish(self.widget)
        return value


class ParamsPanel(QWidget):
    """Editors for a list of parameters grouped by :attr:`Param.group`."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ParamsPanel")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.editors: dict[str, ParamEditor] = {}
        self._labels: dict[str, QLabel] = {}
        self._boxes: list[QWidget] = []
        self.filling = False  # True while code fills the form (a preset, a run), not the user

    @contextlib.contextmanager
    def _filling(self) -> Iterator[None]:
        outer, self.filling = self.filling, True
        try:
            yield
        finally:
            self.filling = outer

    def set_params(self, params: list[Param], values: dict[str, Any] | None = None) -> None:
        with self._filling():
            self._set_params(params, values)

    def _set_params(self, params: list[Param], values: dict[str, Any] | None) -> None:
        for box in self._boxes:
            box.setParent(None)
            box.deleteLater()
        self._boxes, self.editors, self._labels = [], {}, {}
        groups: dict[str, list[Param]] = {}
        for param in params:
            groups.setdefault(param.group, []).append(param)
        for group, members in groups.items():
            box = QGroupBox(group.replace("_", " ").capitalize(), self)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setContentsMargins(8, 6, 8, 6)
            for param in members:
                editor = ParamEditor(param, box, self._on_change)
                label = QLabel(_label_text(param.name), box)
                label.setToolTip(editor.tooltip)
                label.setBuddy(editor.widget)
                form.addRow(label, editor.widget)
                self.editors[param.name] = editor
                self._labels[param.name] = label
            self._layout.addWidget(box)
            self._boxes.append(box)
        if values:
            self.set_values(values)
        self._on_change()

    def set_values(self, values: dict[str, Any]) -> None:
        with self._filling():
            for name, value in values.items():
                if name in self.editors:
                    self.editors[name].set(value)
            self._on_change()

    def _on_change(self, *_: Any) -> None:
        for name, editor in self.editors.items():
            value = editor.check()
            font = self._labels[name].font()
            font.setBold(value is not None and value != editor.param.default)
            self._labels[name].setFont(font)
        self.changed.emit()

    def errors(self) -> list[str]:
        for editor in self.editors.values():
            editor.check()
        return [e.error for e in self.editors.values() if e.error]

    def values(self) -> dict[str, Any]:
        """Every parameter's validated value; raises :class:`BadInputError` naming the bad ones."""
        problems = self.errors()
        if problems:
            raise BadInputError("; ".join(problems))
        return {name: e.param.validate(e.raw()) for name, e in self.editors.items()}
