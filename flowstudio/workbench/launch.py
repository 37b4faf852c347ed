"""The command line of a trainer process the window launches: the same CLI a user would type
(``flowstudio points|mols train``), under ``torchrun`` when the user asks for several
processes (one per GPU, or CPU processes with gloo).

Every value of the window's form goes on the command line as ``--set NAME=VALUE`` (the CLI
validates each with the same schema), so the child trains exactly what the form shows and
its ``config.json`` records it. The environment tells the child from when to obey the run
folder's control file (:mod:`flowstudio.training.remote`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from flowstudio.errors import BadInputError

CLI_GROUP = {"points": "points", "molecules": "mols"}
"""The CLI's command group of each data kind."""

LOG_NAME = "train.log"
"""The child's stdout and stderr, in its run folder."""


def train_command(
    kind: str,
    data: Path,
    run_dir: Path,
    model: str,
    preset: str,
    values: dict[str, Any],
    device: str = "auto",
    processes: int = 1,
    resume: bool = False,
    python: str | None = None,
) -> list[str]:
    """The argv of a child trainer (see the module's docstring)."""
    if kind not in CLI_GROUP:
        raise BadInputError(f"no trainer command for data of kind {kind!r}")
    if processes < 1:
        raise BadInputError(f"processes must be >= 1, got {processes}")
    python = python or sys.executable
    if processes > 1:
        launcher = [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    else:
        launcher = [python]
    argv = [*launcher, "-m", "flowstudio", CLI_GROUP[kind], "train"]
    argv += ["--data", str(data), "--out", str(run_dir)]
    if kind == "points":
        argv += ["--model", model]
    argv += ["--preset", preset, "--device", device]
    if resume:
        argv.append("--resume")
    for name, value in values.items():
        if name in ("device",) or value is None:
            continue
        argv += ["--set", f"{name}={_text(value)}"]
    return argv


def _text(value: Any) -> str:
    """A form value as ``--set`` parses it back (``repr`` keeps a float's every digit)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def child_environment(now: float | None = None) -> dict[str, str]:
    """The child's environment: the window's, with the control file's start time (the
    window's clock, so that a Stop pressed while the child imports PyTorch is obeyed) and
    unbuffered output for its log."""
    from flowstudio.training.remote import SINCE_ENV

    env = dict(os.environ)
    env[SINCE_ENV] = repr(time.time() if now is None else now)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_child(run_dir: Path, argv: list[str], env: dict[str, str] | None = None) -> Any:
    """Start the trainer ``argv`` for ``run_dir`` in its own session (a signal to the window
    does not reach it, and it outlives the window when the user leaves it running), its
    output appended to ``RUN/train.log``; returns the :class:`subprocess.Popen`."""
    import subprocess

    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / LOG_NAME, "ab") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env or child_environment(), start_new_session=True)


def exit_text(run_dir: Path, code: int, lines: int = 6) -> str:
    """Why a child ended without finishing its run: its exit code and its log's last lines."""
    try:
        tail = (run_dir / LOG_NAME).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        tail = []
    last = next((line for line in reversed(tail) if line.strip()), "")
    head = f"the trainer process exited with code {code}" + (f": {last.strip()}" if last else "")
    return "\n".join([head, *tail]) if tail else head


def send(run_dir: Path, command: str) -> None:
    """Ask the trainer of ``run_dir`` to ``pause``, ``resume`` or ``stop`` (its control file)."""
    from flowstudio.training.remote import send_command

    send_command(run_dir, command)


def trainer_gone(run_dir: Path) -> bool:
    """Whether a followed run's trainer has gone without a word: no training holds its lock
    here and its log has been quiet for :data:`~flowstudio.workbench.runs.FRESH_S` (a folder
    synced from another machine shows no lock; only its log says it lives)."""
    from flowstudio.training.runlock import lock_held
    from flowstudio.workbench.runs import FRESH_S

    if lock_held(run_dir):
        return False
    try:
        quiet = time.time() - (run_dir / "metrics.jsonl").stat().st_mtime
    except OSError:
        return True
    return quiet >= FRESH_S
