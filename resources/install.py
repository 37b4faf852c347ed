"""Install FlowStudio's desktop integration under a prefix, so the app appears in the
desktop's menu: the freedesktop entry, the icon in every size, the AppStream metadata.

::

    ./dev desktop                      # into ~/.local, launching this checkout's .venv/bin/flowstudio
    ./dev desktop ~/.local --uninstall # removes those files again
    python resources/install.py --prefix /usr/local --exec /usr/local/bin/flowstudio

Writes ``PREFIX/share/applications/<id>.desktop`` (its ``Exec`` and ``TryExec`` pointing to
``--exec``: a virtual environment's launcher is not on the menu's ``PATH``),
``PREFIX/share/icons/hicolor/{<n>x<n>,scalable}/apps/<id>.{png,svg}`` and
``PREFIX/share/metainfo/<id>.metainfo.xml``. Each file appears whole or not at all (a
temporary file, then a rename). Needs only the standard library.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
APP_ID = "io.github.flowstudio.FlowStudio"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
DESKTOP_ENTRY = HERE / f"{APP_ID}.desktop"
METAINFO = HERE / f"{APP_ID}.metainfo.xml"
PNG_ICONS = HERE / "icons" / "hicolor"
SVG_ICON = HERE.parent / "flowstudio" / "gui" / "resources" / "icons" / "app.svg"
"""The scalable icon is the one the window itself shows (package data), not a copy."""


def _write(target: Path, data: bytes) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def desktop_entry(executable: str) -> str:
    """The desktop entry with ``Exec``/``TryExec`` set to ``executable`` (quoted when it
    holds spaces, as the Desktop Entry Specification asks)."""
    quoted = f'"{executable}"' if any(c.isspace() for c in executable) else executable
    lines = []
    for line in DESKTOP_ENTRY.read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = f"Exec={quoted} %F"
        elif line.startswith("TryExec="):
            line = f"TryExec={executable}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _files(prefix: Path, executable: str) -> dict[Path, Callable[[], bytes]]:
    """Each file under ``prefix`` and how to make its bytes."""
    share = prefix / "share"
    files: dict[Path, Callable[[], bytes]] = {
        share / "applications" / DESKTOP_ENTRY.name: lambda: desktop_entry(executable).encode(),
        share / "metainfo" / METAINFO.name: METAINFO.read_bytes,
        share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg": SVG_ICON.read_bytes,
    }
    for size in ICON_SIZES:
        relative = Path(f"{size}x{size}") / "apps" / f"{APP_ID}.png"
        files[share / "icons" / "hicolor" / relative] = (PNG_ICONS / relative).read_bytes
    return files


def install(prefix: Path, executable: str) -> list[Path]:
    """Write the desktop files under ``prefix``; returns what was written."""
    return [_write(target, make()) for target, make in _files(prefix, executable).items()]


def uninstall(prefix: Path) -> list[Path]:
    """Remove what :func:`install` wrote under ``prefix``; returns what was removed."""
    removed = []
    for target in _files(prefix, "flowstudio"):
        if target.is_file():
            target.unlink()
            removed.append(target)
    return removed


def default_executable() -> str:
    """The ``flowstudio`` launcher beside this Python (a virtual environment's), else on PATH."""
    beside = Path(sys.executable).with_name("flowstudio")
    return str(beside) if beside.is_file() else (shutil.which("flowstudio") or "flowstudio")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", type=Path, default=Path.home() / ".local", help="default: ~/.local")
    parser.add_argument("--exec", dest="executable", default=None, help="the flowstudio launcher to run")
    parser.add_argument("--uninstall", action="store_true", help="remove what an install wrote")
    args = parser.parse_args(argv)
    prefix = args.prefix.expanduser()
    try:
        if args.uninstall:
            done = uninstall(prefix)
        else:
            done = install(prefix, args.executable or default_executable())
    except OSError as exc:
        print(f"flowstudio desktop install: {exc}", file=sys.stderr)
        return 2
    for path in done:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
