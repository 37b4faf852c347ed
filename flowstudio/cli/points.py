"""``flowstudio points …``: train, sample and evaluate point clouds headless."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``points`` command group to the top-level parser."""
    group = sub.add_parser("points", help="train, sample and evaluate point clouds")
    group.add_subparsers(dest="command", metavar="ACTION")
