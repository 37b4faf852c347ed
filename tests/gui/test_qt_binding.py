"""The Qt binding keeps Python's reference counts straight.

PySide6 6.12.0 drops a reference to ``None`` each time Qt calls a Python override that
returns ``None`` (every ``paintEvent``): on Python 3.11, where ``None`` is not immortal, a
window that repaints for a while dies with "deallocating None". pyproject.toml excludes
that release; this test catches a binding with the same fault.
"""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.gui


def test_overrides_do_not_leak_references_to_none(qtbot) -> None:
    from PySide6.QtWidgets import QWidget

    class Painted(QWidget):
        def paintEvent(self, event) -> None:
            pass

    widget = Painted()
    qtbot.addWidget(widget)
    widget.show()
    widget.repaint()
    before = sys.getrefcount(None)
    for _ in range(200):
        widget.repaint()
    assert sys.getrefcount(None) - before > -50, "the Qt binding loses a reference to None per repaint"
