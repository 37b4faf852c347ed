"""``flowstudio mols …``: train, sample and evaluate molecules headless."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``mols`` command group to the top-level parser."""
    group = sub.add_parser("mols", help="train, sample and evaluate molecules")
    group.add_subparsers(dest="command", metavar="ACTION")
