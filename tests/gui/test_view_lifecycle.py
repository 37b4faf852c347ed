"""Opening and closing the point views again and again leaks no thread, plotter or actor
(issue 18: a playground runs for hours; benchmarks/window_memory.py measures the memory)."""

from __future__ import annotations

import contextlib
import gc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = [pytest.mark.gui, pytest.mark.filterwarnings("ignore::FutureWarning")]  # isinstance on torch


def _threads() -> list[str]:
    """The kernel's names of this process's threads (Qt names its threads and pools)."""
    names = []
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):  # it ended meanwhile
            names.append((task / "comm").read_text().strip())
    return sorted(names)


def _census() -> dict[str, Any]:
    """What outlives a window: the process's threads, pyvista's plotters and their actors,
    the VTK objects Python holds and FlowStudio's list of open 3-D views."""
    gc.collect()
    from pyvista.plotting import plotter as pv_plotter
    from vtkmodules.vtkCommonCore import vtkObjectBase

    from flowstudio.gui.views_points import VtkView

    plotters = list(pv_plotter._ALL_PLOTTERS.values())
    return {
        "threads": _threads(),
        "plotters": len(plotters),
        "actors": sum(len(p.renderer.actors) for p in plotters),
        "vtk_objects": sum(1 for o in gc.get_objects()
                           if isinstance(o, vtkObjectBase) and not isinstance(o, type)),
        "open_views": len(VtkView.open_views),
    }


def _open_draw_close(qtbot) -> dict[str, Any]:
    """A window whose every point view shows a cloud, then closed as a user closes it;
    returns the census while it was open."""
    from PySide6.QtCore import QEvent, QThreadPool
    from PySide6.QtWidgets import QApplication

    from flowstudio.gui.app import create_window

    window = create_window(load_samples=False)
    window.confirm_close = lambda: True
    window.load_samples_on_show = False
    window.populate()
    ws = window.points
    ws.load_sample(ws.sample_combo.itemData(0))
    qtbot.waitUntil(lambda: ws.data is not None and ws.preview.draw_count >= 1, timeout=60_000)
    rng = np.random.default_rng(0)
    views = [ws.live_view, ws.samples_view, ws.interp_view, ws.traj_view, ws.recon_view]
    for view in views:  # each page shown, so its render window is created and drawn
        ws.tabs.setCurrentWidget(view if ws.tabs.indexOf(view) >= 0 else _page_of(ws, view))
        view.show_clouds([rng.normal(size=(200, 3)) for _ in range(3)], title="a test cloud")
        qtbot.waitUntil(lambda v=view: v.plotter is not None, timeout=10_000)
    opened = _census()
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)
    window.deleteLater()
    window = ws = views = None  # the last references: what survives them leaked
    QThreadPool.globalInstance().waitForDone(10_000)
    for _ in range(5):  # deferred deletions, then whatever they released
        QApplication.processEvents()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert _gl_wrappers() == 0, "a closed view still holds a wrapper of Qt's GL context or surface"
    return opened


def _gl_wrappers() -> int:
    """Python wrappers of Qt GL contexts and surfaces, before any garbage collection: once
    their C++ objects die, PySide hands such a stale wrapper out for whatever Qt allocates at
    the same address next (a table's header came back as a ``QSurface``)."""
    from PySide6.QtGui import QOpenGLContext, QSurface

    return sum(1 for o in gc.get_objects() if isinstance(o, (QOpenGLContext, QSurface)))


def _page_of(ws, view):
    widget = view
    while ws.tabs.indexOf(widget) < 0:
        widget = widget.parentWidget()
    return widget


def test_opening_and_closing_the_point_views_leaks_no_thread_plotter_or_actor(qtbot) -> None:
    from PySide6.QtCore import QThreadPool

    from flowstudio.gui.app import create_app

    create_app([])
    QThreadPool.globalInstance().setExpiryTimeout(-1)  # idle pool threads stay: counts hold still
    _open_draw_close(qtbot)  # the first window pays for one-time globals (themes, GL contexts)
    baseline = _census()
    for _ in range(2):
        opened = _open_draw_close(qtbot)
        assert opened["plotters"] >= baseline["plotters"] + 5  # the census sees the views it checks
        assert opened["actors"] > baseline["actors"] and opened["open_views"] > baseline["open_views"]
        assert _census() == baseline
