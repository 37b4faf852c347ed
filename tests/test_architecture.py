"""The layering of DESIGN.md §2 holds: checked by import-linter on the real package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_flows_import_without_qt_rdkit_or_vtk() -> None:
    code = (
        "import sys, flowstudio.flows, flowstudio.training.events;"
        "bad=[m for m in ('PySide6','rdkit','vtk','pyvista') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_cli_help_lists_the_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "flowstudio", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0
    assert "points" in out.stdout and "mols" in out.stdout
