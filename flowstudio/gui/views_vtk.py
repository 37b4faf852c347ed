"""The base of the window's VTK views: a pyvistaqt render window created the first time the
view is shown (so the window opens fast) behind a placeholder label, and closed explicitly by
:meth:`VtkView.close_view` before the widget dies: a VTK window destroyed by Qt's teardown
instead can crash the interpreter at exit."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QSizePolicy, QStackedLayout, QWidget

CLOUD_BG = "#10141b"


class VtkView(QWidget):
    """A lazily created pyvistaqt render window behind a placeholder label.

    Drawing calls made while the view is hidden are kept (the latest only) and replayed
    when it is shown, so hidden tabs cost nothing. Every live view is listed in
    :attr:`open_views` so the main window can close them all before Qt tears them down.
    """

    open_views: ClassVar[list[VtkView]] = []

    def __init__(self, parent: QWidget | None = None, placeholder: str = "Nothing to show yet.") -> None:
        super().__init__(parent)
        self.setMinimumSize(200, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._stack = QStackedLayout(self)
        self._placeholder = QLabel(placeholder, self)
        self._placeholder.setObjectName("ViewPlaceholder")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setWordWrap(True)
        self._stack.addWidget(self._placeholder)
        self.plotter = None
        self._pending: tuple | None = None
        self.closed = False
        self.draw_count = 0
        VtkView.open_views.append(self)

    def ensure_plotter(self):
        if self.plotter is None and not self.closed:
            from pyvistaqt import QtInteractor

            self.plotter = QtInteractor(self, auto_update=False, multi_samples=1)
            self.plotter.set_background(CLOUD_BG)
            self._stack.addWidget(self.plotter.interactor)
        self._stack.setCurrentWidget(self.plotter.interactor)
        return self.plotter

    def defer(self, method, *args) -> bool:
        """``True`` when the draw was kept for later because the view is hidden or closed."""
        if self.closed:
            return True
        if not self.isVisible():
            self._pending = (method, args)
            return True
        return False

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._pending is not None:
            (method, args), self._pending = self._pending, None
            method(*args)

    def close_view(self) -> None:
        """Release the VTK render window; safe to call twice.

        The closed interactor is also made to drop its wrappers of the Qt GL context and
        surface while they still exist. It lives on in Python until the garbage collector
        frees its reference cycles, and a ``QSurface`` is no ``QObject``: PySide cannot see
        it die, so its wrapper would stay registered under the dead object's address and be
        handed out for whatever Qt allocates there next (a table's header came back as a
        ``QSurface`` in a GUI test, and the next call into it crashed)."""
        if self.plotter is not None and not self.closed:
            self.plotter.close()
            forget = getattr(self.plotter, "_forget_context", None)
            if forget is not None:
                forget()
        self.closed = True
        self.plotter = None
        if self in VtkView.open_views:
            VtkView.open_views.remove(self)

    def set_placeholder(self, text: str) -> None:
        self._scene = None
        self._placeholder.setText(text)
        self._stack.setCurrentWidget(self._placeholder)
        self._pending = None

    def set_placeholder_text(self, text: str) -> None:
        """Change the empty view's text without clearing a scene it shows."""
        self._placeholder.setText(text)

    @property
    def placeholder_text(self) -> str:
        return self._placeholder.text()

    def image(self) -> np.ndarray:
        """The rendered pixels (H, W, 3) of the scene, for tests and screenshots."""
        if self.plotter is None or self._stack.currentWidget() is self._placeholder:
            return qimage_to_array(self.grab().toImage())
        self.plotter.render()
        return np.asarray(self.plotter.screenshot(return_img=True))

    def save_png(self, path: str) -> None:
        if self.plotter is None or self._stack.currentWidget() is self._placeholder:
            self.grab().save(path, "PNG")
        else:
            self.plotter.render()
            self.plotter.screenshot(path)


def qimage_to_array(image: QImage) -> np.ndarray:
    """An (H, W, 3) uint8 copy of a QImage's pixels."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    return (
        np.frombuffer(image.constBits(), np.uint8, count=h * stride)
        .reshape(h, stride)[:, : 3 * w]
        .reshape(h, w, 3)
        .copy()
    )
