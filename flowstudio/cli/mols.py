"""``flowstudio mols …``: train, sample and evaluate molecules headless."""

from __future__ import annotations

import argparse

from flowstudio.cli import mols_eval


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``mols`` command group to the top-level parser."""
    group = sub.add_parser("mols", help="train, sample and evaluate molecules")
    actions = group.add_subparsers(dest="command", metavar="ACTION")
    mols_eval.register(actions)
