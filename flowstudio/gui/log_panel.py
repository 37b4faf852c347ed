"""The log panel: every engine message, warning and error with a timestamp."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

LEVEL_COLORS = {"info": "#c9d1d9", "warning": "#e3b341", "error": "#f85149"}
MAX_LINES = 5000


class LogPanel(QWidget):
    """A read-only, bounded, colored log. ``logged`` re-emits each line (for the status bar)."""

    logged = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LogPanel")
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setObjectName("LogView")
        self.view.setMaximumBlockCount(MAX_LINES)
        clear = QPushButton("Clear", self)
        clear.setToolTip("Empty the log")
        clear.clicked.connect(self.view.clear)
        buttons = QVBoxLayout()
        buttons.addWidget(clear)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self.lines: list[tuple[str, str]] = []

    def log(self, text: str, level: str = "info") -> None:
        stamp = time.strftime("%H:%M:%S")
        color = LEVEL_COLORS.get(level, LEVEL_COLORS["info"])
        tag = "" if level == "info" else f"{level.upper()}: "
        self.view.appendHtml(
            f'<span style="color:#8b949e">{stamp}</span> '
            f'<span style="color:{color}">{html.escape(tag + text)}</span>'
        )
        self.view.moveCursor(QTextCursor.MoveOperation.End)
        self.lines.append((level, text))
        del self.lines[:-MAX_LINES]
        self.logged.emit(text, level)

    def text(self) -> str:
        return self.view.toPlainText()
