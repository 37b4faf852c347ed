"""Where an exported file came from: the run, model, step, temperature (and for molecules
the bond steps' temperature, where it differs) and seed of the samples it holds, written
into the file itself and read back when it is opened.

- PLY: ``comment flowstudio.<key> <value>`` header lines;
- SDF: ``flowstudio.<key>`` properties on every molecule (SD tags);
- PNG (screenshots): ``tEXt`` chunks ``flowstudio.<key>``.

:func:`read_provenance` reads any of the three with plain Python (the PNG chunk walk is
the PNG specification's, §5.3: length, type, data, CRC), so the window can say "from run
… at step …" beside data it opens.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "flowstudio."


@dataclass(frozen=True)
class Provenance:
    run: str
    model: str
    step: int | None
    temperature: float | None
    seed: int | None
    bond_temperature: float | None = None  # GraphAF's bond steps, when not at ``temperature``

    def fields(self) -> dict[str, str]:
        """``flowstudio.<key>`` → value, for every key that is known."""
        values = {
            "run": self.run,
            "model": self.model,
            "step": self.step,
            "temperature": None if self.temperature is None else f"{self.temperature:g}",
            "seed": self.seed,
            "bond_temperature": None if self.bond_temperature is None else f"{self.bond_temperature:g}",
        }
        return {PREFIX + k: str(v) for k, v in values.items() if v not in (None, "")}

    def ply_comments(self) -> list[str]:
        return [f"{key} {value}" for key, value in self.fields().items()]

    def text(self) -> str:
        """One line for the data panel: ``run R · model M · step S · T = t (bonds b) · seed s``."""
        parts = [f"run {self.run}" if self.run else "", f"model {self.model}" if self.model else ""]
        parts += [f"step {self.step:,}" if self.step is not None else ""]
        bonds = f" (bonds {self.bond_temperature:g})" if self.bond_temperature is not None else ""
        parts += [f"T = {self.temperature:g}{bonds}" if self.temperature is not None else ""]
        parts += [f"seed {self.seed}" if self.seed is not None else ""]
        return " · ".join(p for p in parts if p)

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Provenance | None:
        values = {k[len(PREFIX) :]: v for k, v in fields.items() if k.startswith(PREFIX)}
        if not values:
            return None

        def number(key: str, kind: type) -> Any:
            try:
                return kind(values[key]) if key in values else None
            except ValueError:
                return None

        return cls(
            values.get("run", ""),
            values.get("model", ""),
            number("step", int),
            number("temperature", float),
            number("seed", int),
            number("bond_temperature", float),
        )


def of_model(
    restored: Any, temperature: float | None, seed: int | None, bond_temperature: float | None = None
) -> Provenance:
    """The provenance of samples drawn from a ``RestoredTask`` (its checkpoint's run folder);
    ``bond_temperature`` only where the bond steps were drawn at another temperature."""
    path = Path(restored.path)
    run = path.parent.parent.name if path.parent.name == "checkpoints" else path.name
    return Provenance(run, restored.model_name, int(restored.step), temperature, seed, bond_temperature)


def read_provenance(path: str | Path) -> Provenance | None:
    """The provenance a PLY, SDF or PNG file carries, or ``None``."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".ply":
            return Provenance.from_fields(_ply_fields(path))
        if suffix in (".sdf", ".mol"):
            return Provenance.from_fields(_sdf_fields(path))
        if suffix == ".png":
            return Provenance.from_fields(_png_fields(path))
    except (OSError, ValueError, struct.error):
        return None
    return None


def _ply_fields(path: Path) -> dict[str, str]:
    fields = {}
    with open(path, "rb") as handle:
        for _ in range(200):  # a header is short; a file without end_header is not ours to judge
            line = handle.readline().decode("ascii", "replace").strip()
            if line == "end_header" or not line:
                break
            words = line.split(maxsplit=2)
            if len(words) == 3 and words[0] == "comment" and words[1].startswith(PREFIX):
                fields[words[1]] = words[2]
    return fields


def _sdf_fields(path: Path) -> dict[str, str]:
    """The ``flowstudio.*`` tags of the first record (every record carries the same)."""
    fields, key = {}, None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line.startswith("$$$$"):
                break
            if line.startswith(">") and "<" in line:
                key = line[line.index("<") + 1 : line.rindex(">")] if ">" in line[1:] else None
            elif key is not None:
                if key.startswith(PREFIX):
                    fields[key] = line.strip()
                key = None
    return fields


def _png_fields(path: Path) -> dict[str, str]:
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return {}
    fields, pos = {}, 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and b"\x00" in body:
            key, value = body.split(b"\x00", 1)
            fields[key.decode("latin-1")] = value.decode("latin-1")
        if kind == b"IEND":
            break
        pos += 12 + length
    return fields
