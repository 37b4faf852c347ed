"""resources/install.py puts a valid desktop entry, the icons and the AppStream metadata
under a prefix, so the app appears in the desktop's menu."""

from __future__ import annotations

import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import flowstudio

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "io.github.flowstudio.FlowStudio"
SIZES = (16, 24, 32, 48, 64, 128, 256)


def _desktop_entry(path: Path) -> dict[str, str]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "[Desktop Entry]"
    entry = dict(line.split("=", 1) for line in lines[1:])
    assert len(entry) == len(lines) - 1, "a key is written twice"
    return entry


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    return struct.unpack(">II", data[16:24])


def test_install_writes_valid_desktop_files(tmp_path: Path) -> None:
    launcher = "/opt/flow studio/bin/flowstudio"  # a space: Exec must quote it
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "resources" / "install.py"),
            "--prefix",
            str(tmp_path),
            "--exec",
            launcher,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    share = tmp_path / "share"
    assert len(result.stdout.splitlines()) == 3 + len(SIZES)

    entry = _desktop_entry(share / "applications" / f"{APP_ID}.desktop")
    assert entry["Type"] == "Application" and entry["Name"] == "FlowStudio"
    assert entry["Exec"] == f'"{launcher}" %F' and entry["TryExec"] == launcher
    assert entry["Icon"] == APP_ID and entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";") and "Science" in entry["Categories"].split(";")

    component = ET.parse(share / "metainfo" / f"{APP_ID}.metainfo.xml").getroot()
    assert component.tag == "component" and component.get("type") == "desktop-application"
    assert component.findtext("id") == APP_ID
    assert component.findtext("launchable") == f"{APP_ID}.desktop"
    assert (
        component.findtext("project_license") == "MIT" and component.findtext("metadata_license") == "CC0-1.0"
    )
    assert component.findtext("provides/binary") == "flowstudio"
    versions = [r.get("version") for r in component.iter("release")]
    assert versions[0] == flowstudio.__version__, "the newest release must be the package's version"

    icons = share / "icons" / "hicolor"
    for size in SIZES:
        assert _png_size(icons / f"{size}x{size}" / "apps" / f"{APP_ID}.png") == (size, size)
    svg = ET.parse(icons / "scalable" / "apps" / f"{APP_ID}.svg").getroot()
    assert svg.tag.endswith("svg")


def test_install_refuses_an_unwritable_prefix(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, str(ROOT / "resources" / "install.py"), "--prefix", str(blocker)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "flowstudio desktop install" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_window_names_the_installed_entry() -> None:
    from flowstudio.gui.app import DESKTOP_ID

    assert (ROOT / "resources" / f"{DESKTOP_ID}.desktop").is_file() and DESKTOP_ID == APP_ID


def test_uninstall_removes_what_install_wrote(tmp_path: Path) -> None:
    script = str(ROOT / "resources" / "install.py")
    keep = tmp_path / "share" / "applications" / "other.desktop"
    keep.parent.mkdir(parents=True)
    keep.write_text("[Desktop Entry]\n")
    subprocess.run(
        [sys.executable, script, "--prefix", str(tmp_path)], check=True, capture_output=True, timeout=60
    )
    out = subprocess.run(
        [sys.executable, script, "--prefix", str(tmp_path), "--uninstall"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert len(out.stdout.splitlines()) == 3 + len(SIZES)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [keep]  # nothing else was touched
