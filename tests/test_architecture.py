"""The layering of DESIGN.md §2 holds: checked by import-linter on the real package."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _loaded_after_import(modules: list[str], watched: list[str]) -> list[str]:
    """Which of ``watched`` a fresh interpreter holds after importing ``modules``."""
    loaded = f"[m for m in {watched!r} if m in sys.modules]"
    code = f"import json, sys, {', '.join(modules)}; print(json.dumps({loaded}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_flows_import_without_qt_rdkit_or_vtk() -> None:
    modules = ["flowstudio.flows", "flowstudio.training.events"]
    assert _loaded_after_import(modules, ["PySide6", "rdkit", "vtk", "pyvista", "torch"]) == ["torch"]


def test_the_workbench_imports_no_qt_and_loads_the_engines_lazily() -> None:
    modules = [f"flowstudio.workbench.{m}" for m in ("session", "points", "molecules", "routing", "engines")]
    assert _loaded_after_import(modules, ["PySide6", "pyvistaqt", "torch", "rdkit"]) == []


def test_the_window_loads_without_the_engines() -> None:
    """The window shows before PyTorch, RDKit and VTK load (they load on a thread): its
    modules reach the engines only through the workbench, and the workbench lazily."""
    engines = ["torch", "rdkit", "vtk", "pyvista", "flowstudio.training", "flowstudio.pointclouds"]
    engines += ["flowstudio.molecules", "flowstudio.flows"]
    assert _loaded_after_import(["flowstudio.gui.app", "flowstudio.gui.main_window"], engines) == []


def test_cli_help_lists_the_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "flowstudio", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0
    assert "points" in out.stdout and "mols" in out.stdout


def test_files_open_the_app_and_commands_run_the_cli(monkeypatch, tmp_path: Path, capsys) -> None:
    import pytest

    import flowstudio.__main__ as entry
    import flowstudio.gui.app as app

    calls: list[list[str]] = []
    monkeypatch.setattr(app, "run_app", lambda argv: calls.append(list(argv)) or 0)
    shape = tmp_path / "chair.ply"
    shape.write_text("")
    assert entry.main([str(shape)]) == 0 and calls[-1] == [str(shape)]
    assert entry.main(["gui", str(shape)]) == 0 and calls[-1] == [str(shape)]
    assert entry.main([]) == 0 and calls[-1] == []
    with pytest.raises(SystemExit) as info:  # a command goes to the CLI, not the app
        entry.main(["points", "--help"])
    assert info.value.code == 0 and "train" in capsys.readouterr().out and len(calls) == 3
