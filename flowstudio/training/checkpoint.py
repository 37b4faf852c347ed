"""Checkpoints: tensors and JSON-able data only, written atomically, loaded without pickle code.

A checkpoint is untrusted input (DESIGN.md §4): it is read in PyTorch's weights-only mode
(``weights_only=True``), which refuses any Python object beyond tensors and plain
containers, so a file crafted to run code is rejected with :class:`CheckpointError`.

Layout of the saved dict (``format`` and ``format_version`` identify it)::

    format, format_version, kind, model_name, config (JSON-able dict), model_state,
    extra_state (task tensors), optimizer_state (or None), engine_state (RNG tensors,
    best metric, elapsed time, ...), step, metric, versions
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flowstudio import __version__
from flowstudio.errors import CheckpointError, CheckpointKindError
from flowstudio.files import atomic_write

FORMAT = "flowstudio-checkpoint"
FORMAT_VERSION = 1


def versions() -> dict[str, str]:
    """Library versions recorded in checkpoints and run configs."""
    return {
        "flowstudio": str(__version__),
        "torch": str(torch.__version__),  # a TorchVersion: weights_only would refuse it
        "numpy": str(np.__version__),
        "python": platform.python_version(),
    }


@dataclass
class Checkpoint:
    """A loaded checkpoint; every tensor is on the CPU."""

    path: Path
    kind: str
    model_name: str
    config: dict[str, Any]
    model_state: dict[str, Tensor]
    extra_state: dict[str, Tensor] = field(default_factory=dict)
    optimizer_state: dict[str, Any] | None = None
    engine_state: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    metric: float | None = None
    versions: dict[str, str] = field(default_factory=dict)


def _json_roundtrip(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` as plain JSON types; a task whose config is not JSON-able is a bug."""
    try:
        return json.loads(json.dumps(config, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"a checkpoint config must be JSON-able: {exc}") from exc


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    kind: str,
    model_name: str,
    config: dict[str, Any],
    model_state: dict[str, Tensor],
    extra_state: dict[str, Tensor] | None = None,
    optimizer_state: dict[str, Any] | None = None,
    engine_state: dict[str, Any] | None = None,
    step: int = 0,
    metric: float | None = None,
) -> None:
    """Write a checkpoint atomically (:func:`flowstudio.files.atomic_write`), so a crash
    mid-write never leaves a truncated ``path`` behind and the previous checkpoint stays
    whole until the new one is complete.

    The checkpoint is serialized in memory first and written with plain ``os.write``
    calls, so a full disk or a read-only folder surfaces as the ``OSError`` it is (PyTorch's
    zip writer reports it as ``unexpected pos …``); the temporary file is removed on any
    failure. A process killed mid-write leaves ``.NAME.*.tmp``, which the next training of
    the run folder removes (:meth:`flowstudio.training.runs.Run.stray_temp_files`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": str(kind),
        "model_name": str(model_name),
        "config": _json_roundtrip(config),
        "model_state": {k: v.detach() for k, v in model_state.items()},
        "extra_state": dict(extra_state or {}),
        "optimizer_state": optimizer_state,
        "engine_state": dict(engine_state or {}),
        "step": int(step),
        "metric": None if metric is None or not math.isfinite(metric) else float(metric),
        "versions": versions(),
    }
    _check_plain(payload, "checkpoint")
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_write(path) as stream:
        write_all(stream.fileno(), buffer.getbuffer())


def write_all(fd: int, data: memoryview) -> None:
    """Write every byte of ``data`` to the file descriptor ``fd`` (``os.write`` may write
    fewer than asked); the one place checkpoint bytes reach the disk."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


_PLAIN = (str, int, float, bool, type(None))


def _check_plain(obj: Any, where: str) -> None:
    """Refuse, before writing, anything ``weights_only=True`` could not load back: only
    tensors, exact plain scalars and dict/list/tuple containers may be saved."""
    if isinstance(obj, Tensor) or type(obj) in _PLAIN:
        return
    if type(obj) is dict:
        for key, value in obj.items():
            _check_plain(key, f"{where} key")
            _check_plain(value, f"{where}[{key!r}]")
    elif type(obj) in (list, tuple):
        for i, value in enumerate(obj):
            _check_plain(value, f"{where}[{i}]")
    else:
        raise TypeError(
            f"{where} is a {type(obj).__qualname__}: checkpoints hold tensors and plain data only"
        )


def _require(condition: bool, path: Path, what: str) -> None:
    if not condition:
        raise CheckpointError(f"{path}: not a FlowStudio checkpoint ({what})")


def _load_failure(exc: Exception) -> str:
    """The useful part of a ``torch.load`` error, one line, without PyTorch's advice to
    re-run with ``weights_only=False`` (never to be followed for an untrusted file)."""
    text = str(exc)
    if "Weights only load failed" in text:
        blocked = re.search(r"GLOBAL ([\w.]+)", text)
        detail = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
        if blocked:
            text = f"it holds the Python object {blocked.group(1)}, not only tensors"
        elif detail:
            text = detail.group(1)
        else:
            text = "it holds Python objects other than tensors"
    return " ".join(text.split())[:300] or type(exc).__name__


def load_checkpoint(
    path: str | os.PathLike[str],
    expect_kind: str | None = None,
    expect_model: str | None = None,
) -> Checkpoint:
    """Read a checkpoint safely (``weights_only=True``, tensors mapped to the CPU).

    Raises :class:`CheckpointError`, naming the file, when it is missing, truncated,
    corrupt, holds anything but tensors and plain data, or is of another ``kind`` or
    model than expected.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the refusal says enough
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors, zip errors, EOF: all mean "unusable file"
        reason = _load_failure(exc)
        raise CheckpointError(
            f"{path}: cannot be read as a FlowStudio checkpoint (corrupt, truncated, or holds "
            f"objects other than tensors): {reason}"
        ) from None
    _require(isinstance(data, dict) and data.get("format") == FORMAT, path, "missing format marker")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer FlowStudio (format {data['format_version']}); upgrade to read it"
        )
    _require(isinstance(data.get("model_state"), dict), path, "no model weights")
    _require(isinstance(data.get("config"), dict), path, "no config")
    bad = [
        name for name, value in data["model_state"].items()
        if isinstance(value, Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all())
    ]
    if bad:
        raise CheckpointError(
            f"{path}: its weights hold NaN or infinite values ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}); use another checkpoint (best.pt or latest.pt)"
        )
    ckpt = Checkpoint(
        path=path,
        kind=str(data.get("kind")),
        model_name=str(data.get("model_name")),
        config=data["config"],
        model_state=data["model_state"],
        extra_state=dict(data.get("extra_state") or {}),
        optimizer_state=data.get("optimizer_state"),
        engine_state=dict(data.get("engine_state") or {}),
        step=int(data.get("step", 0)),
        metric=data.get("metric"),
        versions=dict(data.get("versions") or {}),
    )
    if expect_kind is not None and ckpt.kind != expect_kind:
        raise CheckpointKindError(
            f"{path}: is a {ckpt.kind!r} checkpoint ({ckpt.model_name}), not a {expect_kind!r} one",
            found=ckpt.kind,
            expected=expect_kind,
        )
    if expect_model is not None and ckpt.model_name != expect_model:
        raise CheckpointError(
            f"{path}: holds a {ckpt.model_name!r} model, not {expect_model!r}; "
            f"use the same --model as the run, or a new run folder"
        )
    return ckpt
