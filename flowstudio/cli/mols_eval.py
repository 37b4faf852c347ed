"""``flowstudio mols eval``: metrics of sampled molecules as one JSON object on stdout."""

from __future__ import annotations

import argparse


def register(actions: argparse._SubParsersAction) -> None:
    """Add ``eval`` to the ``mols`` group (filled in by the metrics work)."""
