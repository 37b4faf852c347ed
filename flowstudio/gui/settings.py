"""Persistent preferences in the platform's config folder (``~/.config/FlowStudio`` on Linux).

A thin typed layer over :class:`QSettings` in INI format: window geometry and dock state,
the last folder of each file dialog, the last model/preset/device per workspace, and the
recent files. ``FLOWSTUDIO_CONFIG_DIR`` overrides the folder (the tests use a temporary one).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

MAX_RECENT = 10


def config_dir() -> Path:
    """The folder holding ``FlowStudio.ini``; created on first use."""
    override = os.environ.get("FLOWSTUDIO_CONFIG_DIR")
    if override:
        folder = Path(override)
    else:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
        folder = Path(base or Path.home() / ".config") / "FlowStudio"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def runs_dir() -> Path:
    """Where the app's training runs go unless the user picks a folder."""
    override = os.environ.get("FLOWSTUDIO_RUNS_DIR")
    if override:
        folder = Path(override)
    else:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
        folder = Path(base or Path.home() / ".local" / "share") / "FlowStudio" / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Settings:
    """Typed accessors; every write is flushed so a crash never loses a preference."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "FlowStudio.ini"
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    # plain values -------------------------------------------------------------------------
    def value(self, key: str, default: str = "") -> str:
        value = self._qs.value(key, default)
        return default if value is None else str(value)

    def set_value(self, key: str, value: str) -> None:
        self._qs.setValue(key, value)
        self._qs.sync()

    def bytes_value(self, key: str) -> QByteArray | None:
        value = self._qs.value(key)
        return value if isinstance(value, QByteArray) else None

    def set_bytes(self, key: str, value: QByteArray) -> None:
        self._qs.setValue(key, value)
        self._qs.sync()

    # folders and recent files -------------------------------------------------------------
    def last_folder(self, purpose: str) -> str:
        folder = self.value(f"folders/{purpose}")
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    def remember_folder(self, purpose: str, path: str | Path) -> None:
        path = Path(path)
        self.set_value(f"folders/{purpose}", str(path if path.is_dir() else path.parent))

    def recent_files(self) -> list[str]:
        raw = self._qs.value("recent/files", [])
        items = [raw] if isinstance(raw, str) else list(raw or [])
        return [str(p) for p in items if p]

    def add_recent_file(self, path: str | Path) -> list[str]:
        path = str(Path(path).resolve())
        items = [path] + [p for p in self.recent_files() if p != path]
        self._qs.setValue("recent/files", items[:MAX_RECENT])
        self._qs.sync()
        return items[:MAX_RECENT]

    def clear_recent_files(self) -> None:
        self._qs.setValue("recent/files", [])
        self._qs.sync()
