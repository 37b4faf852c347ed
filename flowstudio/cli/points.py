"""``flowstudio points …``: train, sample and evaluate point clouds headless."""

from __future__ import annotations

import argparse

from flowstudio.cli import points_eval


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``points`` command group to the top-level parser."""
    group = sub.add_parser("points", help="train, sample and evaluate point clouds")
    actions = group.add_subparsers(dest="command", metavar="ACTION")
    points_eval.register(actions)
