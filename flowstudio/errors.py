"""Exceptions shared by every layer.

:class:`BadInputError` marks a problem with what the user gave (a file, a checkpoint, a
hyperparameter): the CLI turns it into exit code 2 with its one-line message, the GUI into
a message box. Anything else is a bug and exits with code 1.
"""

from __future__ import annotations


class BadInputError(ValueError):
    """The user's input is unusable; the message names the input and the problem."""


class CheckpointError(BadInputError):
    """A checkpoint is corrupt, of the wrong kind, or not a FlowStudio checkpoint."""


class CheckpointKindError(CheckpointError):
    """A sound checkpoint of another kind than the caller expected (a molecule model opened
    where a point-cloud one is wanted): ``found`` and ``expected`` name the two kinds, so a
    caller can point to the right place without reading the message."""

    def __init__(self, message: str, *, found: str, expected: str) -> None:
        super().__init__(message)
        self.found, self.expected = found, expected
