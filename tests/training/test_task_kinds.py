"""Task kinds are declared as entry points (``flowstudio.tasks``), and checkpoints are rebuilt
by kind: FlowStudio's own from its metadata (or its pyproject.toml when it is not installed),
another distribution's from its own metadata."""

from __future__ import annotations

import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from flowstudio import task_types
from flowstudio.errors import CheckpointError
from flowstudio.task_types import TASK_ENTRY_POINTS, register_task_kind, registered_task_kinds
from flowstudio.training.restore import task_class

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_kinds():
    """The declared kinds read again in the test, and again after it (the lookup is cached)."""
    task_types.declared_task_kinds.cache_clear()
    yield
    task_types.declared_task_kinds.cache_clear()


def test_each_engine_declares_the_task_that_rebuilds_its_checkpoints() -> None:
    for kind in ("points", "molecules"):
        cls = task_class(kind)
        assert cls.kind == kind and hasattr(cls, "from_config")
    assert {"points", "molecules"} <= set(registered_task_kinds())
    with pytest.raises(CheckpointError, match=r"unknown checkpoint kind 'audio'.*'molecules' or 'points'"):
        task_class("audio")


def test_the_installed_metadata_declares_the_kinds_of_pyproject_toml() -> None:
    """The table in pyproject.toml is the one copy; the installed metadata carries it
    (``./dev`` reinstalls when pyproject.toml changes)."""
    source = task_types.source_tree_task_kinds(ROOT / "pyproject.toml")
    assert set(source) == {"points", "molecules"}
    installed = {ep.name: ep.value for ep in metadata.distribution("flowstudio").entry_points
                 if ep.group == TASK_ENTRY_POINTS}
    assert installed == source


def test_without_installed_metadata_the_source_trees_pyproject_declares_the_kinds(
    monkeypatch, fresh_kinds
) -> None:
    def not_installed(name: str):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", not_installed)
    monkeypatch.setattr(metadata, "entry_points", lambda group: [])
    assert task_types.declared_task_kinds() == task_types.source_tree_task_kinds(ROOT / "pyproject.toml")
    assert task_class("molecules").kind == "molecules"


def test_another_distribution_adds_a_kind_through_its_entry_points(
    tmp_path, monkeypatch, fresh_kinds
) -> None:
    """A real distribution on sys.path (its dist-info with entry_points.txt), as pip would
    install a plug-in: its kind is found without any edit to FlowStudio."""
    (tmp_path / "audio_engine.py").write_text(textwrap.dedent("""
        class AudioTask:
            kind = "audio"

            @classmethod
            def from_config(cls, config):
                return cls()
    """))
    info = tmp_path / "audio_engine-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: audio-engine\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{TASK_ENTRY_POINTS}]\naudio = audio_engine:AudioTask\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registered_task_kinds()["audio"] == "audio_engine:AudioTask"
    assert task_class("audio").kind == "audio"
    assert task_class("points").kind == "points"  # FlowStudio's own kinds are still there


def test_a_kind_cannot_be_taken_over_by_another_task_class() -> None:
    path = registered_task_kinds()["points"]
    register_task_kind("points", path)  # registering again is harmless
    with pytest.raises(ValueError, match="already registered"):
        register_task_kind("points", "elsewhere:OtherTask")
