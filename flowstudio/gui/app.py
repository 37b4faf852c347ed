"""``run_app(argv)``: create the application, show the main window, load the samples."""

from __future__ import annotations

import gc
import os
import sys
import threading

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from flowstudio.gui.widgets import RESOURCES, icon

DESKTOP_ID = "io.github.flowstudio.FlowStudio"
"""The freedesktop application id (resources/io.github.flowstudio.FlowStudio.desktop)."""


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication with FlowStudio's name, icon and style sheet (reused if it exists)."""
    app = QApplication.instance() or QApplication(["flowstudio", *(argv or [])])
    app.setApplicationName("FlowStudio")
    app.setOrganizationName("FlowStudio")
    app.setApplicationDisplayName("FlowStudio")
    app.setDesktopFileName(DESKTOP_ID)  # ties the window to resources/' desktop entry and icon
    app.setStyle("Fusion")
    app.setStyleSheet((RESOURCES / "style.qss").read_text())
    app.setWindowIcon(icon("app"))
    return app


def preload_engines() -> None:
    """Import the heavy libraries the workspaces need (PyTorch, RDKit, VTK: seconds)."""
    import pyvista  # noqa: F401

    from flowstudio.workbench import engines

    engines.preload()


def freeze_startup_objects() -> None:
    """Move what exists once the window is filled (PyTorch, RDKit, VTK, the widgets: about
    400,000 objects, alive as long as the app) out of the garbage collector's sight
    (``gc.freeze``, after a last collection), so a full collection no longer walks it: one
    took 260-460 ms on the shared 2-core machine, a stall of the event loop
    (``benchmarks/results/gui_follow.md``, session 7). Objects made later are collected as
    before."""
    gc.collect()
    gc.freeze()


def create_window(load_samples: bool = True):
    """The main window, shown at once; the engines load on a thread meanwhile (the window
    stays live), then the workspaces fill in and read their default samples."""
    from flowstudio.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    if load_samples:
        window.statusBar().showMessage("Loading PyTorch, RDKit and VTK…")
        loader = threading.Thread(target=preload_engines, name="FlowStudioPreload", daemon=True)
        loader.start()
        poll = QTimer(window)
        poll.setInterval(30)

        def check() -> None:
            if not loader.is_alive():
                poll.stop()
                window.populate()
                freeze_startup_objects()

        poll.timeout.connect(check)
        poll.start()
    return window


def run_app(argv: list[str]) -> int:
    """Open the window and run the event loop; returns the exit code."""
    os.environ.setdefault("PYVISTA_OFF_SCREEN", "false")
    # idle OpenMP threads sleep instead of spinning: the window's thread needs the cores
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app = create_app(argv)
    window = create_window()
    paths = [a for a in argv if not a.startswith("-")]
    window.reopen_last_run = not paths  # what the command line names comes first
    for path in paths:
        QTimer.singleShot(50, lambda p=path: window.open_path(p))
    return app.exec()


if __name__ == "__main__":
    sys.exit(run_app(sys.argv[1:]))
