"""``run_app(argv)``: create the application, show the main window, load the samples."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from flowstudio.gui.widgets import RESOURCES, icon


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication with FlowStudio's name, icon and style sheet (reused if it exists)."""
    app = QApplication.instance() or QApplication(["flowstudio", *(argv or [])])
    app.setApplicationName("FlowStudio")
    app.setOrganizationName("FlowStudio")
    app.setApplicationDisplayName("FlowStudio")
    app.setStyle("Fusion")
    app.setStyleSheet((RESOURCES / "style.qss").read_text())
    app.setWindowIcon(icon("app"))
    return app


def create_window(load_samples: bool = True):
    """The main window, shown; the engines and samples load right after the first paint."""
    from flowstudio.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    if load_samples:
        QTimer.singleShot(0, window.populate)
    return window


def run_app(argv: list[str]) -> int:
    """Open the window and run the event loop; returns the exit code."""
    os.environ.setdefault("PYVISTA_OFF_SCREEN", "false")
    app = create_app(argv)
    window = create_window()
    paths = [a for a in argv if not a.startswith("-")]
    for path in paths:
        QTimer.singleShot(50, lambda p=path: window.open_path(p))
    return app.exec()


if __name__ == "__main__":
    sys.exit(run_app(sys.argv[1:]))
