"""First-run set-up (``./dev setup``) builds FlowStudio's metadata without setuptools'
deprecation warnings (the license as a TOML table printed about 50 lines of them)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_building_the_metadata_prints_no_deprecation_warning(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "flowstudio").mkdir()
    (tmp_path / "flowstudio" / "__init__.py").write_text("")
    build = (
        "import setuptools.build_meta as b, tempfile; "
        "print(b.prepare_metadata_for_build_wheel(tempfile.mkdtemp()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", build], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "flowstudio-" in output and ".dist-info" in output
    assert "deprecat" not in output.lower(), output
