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
    to open (``flowstudio chair.ply``, ``flowstudio RUN_FOLDER``); else run a CLI command.

    A path that does not exist, or a run folder that cannot be read, exits with code 2 and
    one line on stderr before any window opens."""
    argv = sys.argv[1:] if argv is None else argv
    paths = argv[1:] if argv[:1] == ["gui"] else argv[:1] if argv and _names_a_path(argv[0]) else []
    for path in (p for p in paths if not p.startswith("-")):
        from flowstudio.errors import BadInputError
        from flowstudio.workbench.runs import check_open_target

        try:
            check_open_target(path)
        except BadInputError as exc:
            sys.stderr.write(f"flowstudio: error: {' '.join(str(exc).split())}\n")
            return 2
    opens_files = bool(argv) and argv[0] not in ("points", "mols") and Path(argv[0]).exists()
    if not argv or argv[0] == "gui" or opens_files:
        from flowstudio.gui.app import run_app

        return run_app(argv if opens_files else argv[1:])
    from flowstudio.cli import main as cli_main

    return cli_main(argv)


def _names_a_path(arg: str) -> bool:
    """Whether the first argument is a file or folder to open rather than a command."""
    return arg not in ("points", "mols", "gui") and not arg.startswith("-") and (
        Path(arg).exists() or "/" in arg or "\\" in arg
    )


if __name__ == "__main__":
    sys.exit(main())
