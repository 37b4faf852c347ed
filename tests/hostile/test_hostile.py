"""Hostile input through the CLI (issue 18): every case of :mod:`.make_corpus` exits with
its code and exactly one line on stderr, with no traceback, no file left behind and no
code run from a file."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.make_corpus import MARKER, Case, cases, make_corpus

REPO = Path(__file__).resolve().parents[2]
CASES = cases()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    assert [c.name for c in make_corpus(folder)] == [c.name for c in CASES]
    return folder


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@contextlib.contextmanager
def _address_space_cap(extra: int = 4 << 30) -> Iterator[None]:
    """Cap this process's address space at its current size plus ``extra`` while a case
    runs, so a regression that trusts a lying header (VTK once took 22 GB) fails with an
    allocation error instead of exhausting the machine."""
    status = Path("/proc/self/status")
    if not status.is_file():
        yield
        return
    used = next(int(line.split()[1]) * 1024 for line in status.read_text().splitlines()
                if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = used + extra if hard == resource.RLIM_INFINITY else min(hard, used + extra)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _run_in_process(argv: tuple[str, ...]) -> tuple[int, list[str]]:
    """The exit code and the warnings raised (each would be one more stderr line)."""
    from flowstudio.cli import main

    with _address_space_cap(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
    return code, [str(w.message) for w in caught]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case(case: Case, corpus: Path, capfd: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(corpus)
    before = _listing(corpus)
    code, warned = _run_in_process(case.argv)  # an exception escaping here is a user's traceback
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert code == case.code, err
    assert not warned
    assert len(lines) == 1 and lines[0].startswith("flowstudio"), err
    assert case.expect in lines[0]
    assert "Traceback" not in err + out
    assert _listing(corpus) == before  # nothing left behind (and no marker: no code ran)
    assert not (corpus / MARKER).exists()


@pytest.mark.parametrize("name", ["points without an action", "malicious checkpoint (torch zip)",
                                  "mols train huge.smi"])
def test_hostile_case_as_a_process(name: str, corpus: Path) -> None:
    """The same through a real process: its exit status and all it prints."""
    case = next(c for c in CASES if c.name == name)
    before = _listing(corpus)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "flowstudio", *case.argv], cwd=corpus, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == case.code and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and case.expect in proc.stderr
    assert _listing(corpus) == before and not (corpus / MARKER).exists()
