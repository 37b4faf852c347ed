"""Render the application icon (the package's ``app.svg``, the one the window shows) into
the PNG sizes desktops look up: ``resources/icons/hicolor/<n>x<n>/apps/<app id>.png``.

Run it after changing ``flowstudio/gui/resources/icons/app.svg``::

    .venv/bin/python resources/make_icons.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from install import APP_ID, ICON_SIZES, PNG_ICONS, SVG_ICON  # noqa: E402


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (Qt needs one alive)
    renderer = QSvgRenderer(str(SVG_ICON))
    if not renderer.isValid():
        raise SystemExit(f"{SVG_ICON}: not a valid SVG")
    for size in ICON_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = PNG_ICONS / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target), "PNG"):
            raise SystemExit(f"could not write {target}")
        print(target.relative_to(HERE.parent))


if __name__ == "__main__":
    main()
