"""``flowstudio points eval``: metrics of sampled point clouds as one JSON object on stdout."""

from __future__ import annotations

import argparse


def register(actions: argparse._SubParsersAction) -> None:
    """Add ``eval`` to the ``points`` group (filled in by the metrics work)."""
