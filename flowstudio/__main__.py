"""``python -m flowstudio`` and the ``flowstudio`` command: the app, or a CLI command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run a CLI command when arguments are given, else open the desktop app."""
    from flowstudio.cli import main as cli_main

    return cli_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
