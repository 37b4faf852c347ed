"""Every writer leaves files with the mode a plain ``open()`` gives (0666 less the umask),
not the owner-only 0600 of the temporary file it renames into place."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from flowstudio.molecules.io import write_molecules
from flowstudio.pointclouds.io import write_points
from flowstudio.training.runs import Run


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_exports_and_run_files_are_world_readable_under_umask_022(tmp_path: Path, umask_022) -> None:
    clouds = np.random.default_rng(0).normal(size=(2, 50, 3)).astype(np.float32)
    for name in ("a.ply", "a.npz", "a.xyz"):
        written = write_points(tmp_path / name, clouds if name == "a.npz" else clouds[0])
        assert mode(Path(written)) == 0o644, name
    assert mode(write_molecules(tmp_path / "m.sdf", ["CCO", "c1ccccc1"])) == 0o644
    assert mode(write_molecules(tmp_path / "m.smi", ["CCO"])) == 0o644
    run = Run(tmp_path / "run")
    run.root.mkdir()
    run.write_config({"model": "x"})
    assert mode(run.config_path) == 0o644


def test_a_stricter_umask_is_respected(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        written = write_points(tmp_path / "a.ply", np.zeros((10, 3), dtype=np.float32))
    finally:
        os.umask(old)
    assert mode(Path(written)) == 0o600


def test_an_atomic_write_is_whole_or_absent(tmp_path: Path, umask_022) -> None:
    from flowstudio.files import atomic_write, atomic_write_bytes, atomic_write_text

    target = tmp_path / "kept.txt"
    atomic_write_text(target, "first\n")
    with pytest.raises(RuntimeError, match="midway"), atomic_write(target) as stream:
        stream.write(b"half of the sec")
        raise RuntimeError("midway")
    assert target.read_text() == "first\n"  # the previous file stays whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]  # no temporary left
    payload = bytes(range(256)) * 4096
    atomic_write_bytes(target, payload)
    assert target.read_bytes() == payload and mode(target) == 0o644
