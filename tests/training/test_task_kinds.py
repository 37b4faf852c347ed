"""Task kinds are registered by the engine packages, and checkpoints are rebuilt by kind."""

from __future__ import annotations

import pytest

from flowstudio.errors import CheckpointError
from flowstudio.task_types import register_task_kind, registered_task_kinds
from flowstudio.training.restore import task_class


def test_each_engine_package_registers_the_task_that_rebuilds_its_checkpoints() -> None:
    for kind in ("points", "molecules"):
        cls = task_class(kind)
        assert cls.kind == kind and hasattr(cls, "from_config")
    assert {"points", "molecules"} <= set(registered_task_kinds())
    with pytest.raises(CheckpointError, match=r"unknown checkpoint kind 'audio'.*'molecules' or 'points'"):
        task_class("audio")


def test_a_kind_cannot_be_taken_over_by_another_task_class() -> None:
    task_class("points")  # the engines are imported and registered
    path = registered_task_kinds()["points"]
    register_task_kind("points", path)  # registering again is harmless
    with pytest.raises(ValueError, match="already registered"):
        register_task_kind("points", "elsewhere:OtherTask")
