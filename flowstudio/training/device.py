"""Choosing the device a run trains on: CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import torch

from flowstudio.errors import BadInputError
from flowstudio.params import DEVICES as DEVICE_NAMES


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def select_device(preference: str | torch.device = "auto") -> torch.device:
    """The ``torch.device`` for ``preference``: ``auto`` picks CUDA, then MPS, then the CPU.

    ``cuda``, ``cuda:N`` and ``mps`` are honoured only when present; asking for an absent
    accelerator is the user's mistake, reported as :class:`BadInputError` rather than a
    silent fallback to a CPU run that would be many times slower.
    """
    text = str(preference).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise BadInputError(
            f"device {preference!r} is not one of {', '.join(DEVICE_NAMES)} (or cuda:N)"
        ) from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise BadInputError(
                f"device {preference!r}: CUDA is not available on this machine "
                f"(PyTorch {torch.__version__}); use --device cpu or --device auto"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise BadInputError(
                f"device {preference!r}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
        return device
    if device.type == "mps":
        if not _mps_available():
            raise BadInputError(
                f"device {preference!r}: Apple MPS is not available on this machine; use --device cpu"
            )
        return device
    raise BadInputError(f"device {preference!r} is not one of {', '.join(DEVICE_NAMES)} (or cuda:N)")


def describe_device(device: torch.device) -> str:
    """A human-readable name: ``CPU``, ``CUDA: NVIDIA H100 80GB HBM3``, ``Apple MPS``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"CUDA: {torch.cuda.get_device_name(index)}"
    if device.type == "mps":
        return "Apple MPS"
    return "CPU"


def device_choices() -> list[tuple[str, str]]:
    """``(value, label)`` pairs for a device picker; only devices present on this machine."""
    auto = select_device("auto")
    choices = [("auto", f"Auto ({describe_device(auto)})"), ("cpu", "CPU")]
    if torch.cuda.is_available():
        choices.append(("cuda", describe_device(torch.device("cuda", 0))))
    if _mps_available():
        choices.append(("mps", "Apple MPS"))
    return choices
