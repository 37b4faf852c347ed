"""``python -m flowstudio`` and the ``flowstudio`` command: the app, or a CLI command.

This module sits above every layer: it is the one place that chooses between the desktop
app (:mod:`flowstudio.gui`) and the headless commands (:mod:`flowstudio.cli`), so that
the CLI never imports Qt.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Open the desktop app without arguments, with ``gui [FILES]`` or with files or folders
    to open (``flowstudio chair.ply``); else run a CLI command."""
    argv = sys.argv[1:] if argv is None else argv
    opens_files = bool(argv) and argv[0] not in ("points", "mols") and Path(argv[0]).exists()
    if not argv or argv[0] == "gui" or opens_files:
        from flowstudio.gui.app import run_app

        return run_app(argv if opens_files else argv[1:])
    from flowstudio.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
