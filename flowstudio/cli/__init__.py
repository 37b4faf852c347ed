"""``flowstudio …``: the headless commands (DESIGN.md §4).

``flowstudio`` alone opens the desktop app. ``flowstudio points …`` and
``flowstudio mols …`` train, sample and evaluate without Qt. Exit codes: 0 success,
2 bad input (a one-line reason on stderr), 1 anything else.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

from flowstudio import __version__
from flowstudio.errors import BadInputError

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with code 2 and one line on stderr."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    """The full command tree; each engine registers its own subcommands. Without RDKit the
    point-cloud commands still work (a GPU machine may lack it) and ``mols`` says what is
    missing."""
    from flowstudio.cli import points

    parser = _Parser(
        prog="flowstudio",
        description="Flow-based generative models on 3D point clouds and molecules. "
        "Without a command (or with 'gui'), flowstudio opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"flowstudio {__version__}")
    sub = parser.add_subparsers(dest="domain", metavar="COMMAND", parser_class=_Parser)
    points.register(sub)
    if _rdkit_available():
        from flowstudio.cli import mols

        mols.register(sub)
    else:
        _register_unavailable(sub, "mols", "molecules", "the molecule commands need RDKit; install it "
                              "with 'pip install rdkit' (the point-cloud commands work without it)")
    return parser


def _rdkit_available() -> bool:
    try:
        return importlib.util.find_spec("rdkit") is not None
    except ImportError:
        return False


def _register_unavailable(sub: argparse._SubParsersAction, name: str, what: str, reason: str) -> None:
    """A command group that cannot run here: any use of it exits 2 with ``reason``."""
    group = sub.add_parser(name, help=f"{what}: unavailable here ({reason})", add_help=False)
    group.add_argument("rest", nargs=argparse.REMAINDER)

    def refuse(args: argparse.Namespace) -> int:
        raise BadInputError(reason)

    group.set_defaults(handler=refuse)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; return the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        if args.domain is None:  # the app itself starts from flowstudio.__main__
            parser.print_help()
            return EXIT_OK
        group = _subparsers(parser)[args.domain]
        actions = ", ".join(_subparsers(group))
        group.error(f"missing ACTION (one of {actions}); see 'flowstudio {args.domain} --help'")
    try:
        return int(handler(args) or 0)
    except BadInputError as exc:
        sys.stderr.write(f"flowstudio: error: {_one_line(str(exc))}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("flowstudio: interrupted\n")
        return 130


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-commands of ``parser`` by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _one_line(text: str) -> str:
    return " ".join(text.split())
