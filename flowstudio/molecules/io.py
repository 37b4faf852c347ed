"""Molecule files: one readers/writers registry (extension + sniffing) for the GUI's file
dialogs and drag and drop, the CLI and the tests.

Formats: SMILES (``.smi``/``.txt``: a SMILES a line, an optional name after it, ``#``
comments and blank lines ignored), CSV (``.csv``/``.tsv``: the SMILES column found by its
name or by which column parses) and SDF (``.sdf``/``.mol``); each also gzipped (``.gz``).

Reading never crashes on a bad molecule: it is skipped, counted, and the first few reasons
are kept for the user. Only a file with no usable molecule at all is an error.
Writing is atomic (:func:`flowstudio.files.atomic_write`).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rdkit import Chem

from flowstudio.errors import BadInputError
from flowstudio.files import atomic_write_bytes
from flowstudio.inputs import MAX_REASONS_KEPT, SkipReport, require_regular_file
from flowstudio.molecules.chem import parse_smiles
from flowstudio.molecules.formats import (
    read_csv_entries,
    read_sdf_entries,
    read_smiles_entries,
    write_csv,
    write_sdf,
    write_smiles,
)
from flowstudio.molecules.parsing import checked_entries

#: How many skipped entries keep their reason (the count covers all of them).
MAX_SKIPPED_KEPT = MAX_REASONS_KEPT


@dataclass(frozen=True)
class Skipped:
    """One entry that was not read: where (1-based line for text files, record number for
    SDF), the text found there (shortened) and why."""

    line: int
    text: str
    reason: str
    unit: str = "line"  # "record" for SDF

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.reason}"


@dataclass
class MoleculeSet:
    """Molecules read from a file: canonical SMILES with their names ("" when none), and
    the entries that were skipped (the first :data:`MAX_SKIPPED_KEPT` with reasons)."""

    smiles: list[str]
    names: list[str]
    skipped: list[Skipped] = field(default_factory=list)
    skipped_count: int = 0
    source: str = ""

    def __len__(self) -> int:
        return len(self.smiles)

    @property
    def report(self) -> SkipReport:
        """The skipped entries as the report every reader gives (count and first reasons)."""
        return SkipReport(self.skipped_count, [str(s) for s in self.skipped])

    def summary(self) -> str:
        """One line for a status bar: how many were read and why some were skipped."""
        text = f"{len(self.smiles)} molecules"
        if self.skipped_count:
            text += f", {self.skipped_count} skipped"
            if self.skipped:
                text += f" (first: {self.skipped[0]})"
        return text


# --- the registry ------------------------------------------------------------------------


@dataclass(frozen=True)
class MoleculeFormat:
    """A file format: its name, the extensions it owns, a dialog label, and how to read
    raw entries and write molecules."""

    name: str
    label: str
    extensions: tuple[str, ...]
    read_entries: Callable[[Path], Iterator[tuple[int, str, str, Chem.Mol | str | None]]]
    write: Callable[[IO[str], list[Chem.Mol | None], list[str], list[str | None], dict[str, list]], None]


_FORMATS: dict[str, MoleculeFormat] = {}


def register_format(fmt: MoleculeFormat) -> None:
    _FORMATS[fmt.name] = fmt


def formats() -> list[MoleculeFormat]:
    return list(_FORMATS.values())


def _suffix(path: Path) -> str:
    """The format suffix, ignoring a trailing ``.gz``: ``x.csv.gz`` -> ``.csv``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _head(path: Path, n_bytes: int = 8192) -> bytes:
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read(n_bytes)
        with open(path, "rb") as fh:
            return fh.read(n_bytes)
    except (OSError, EOFError) as exc:
        raise BadInputError(f"cannot read {path.name}: {exc}") from None


def sniff_format(path: Path) -> MoleculeFormat:
    """The format of ``path``: by extension, else by looking at its first bytes (a pipe or
    device is refused before it is opened: reading it could block forever)."""
    head = _head(require_regular_file(path))
    if b"\x00" in head:
        raise BadInputError(f"{path.name} is a binary file, not a molecule file (SMILES, CSV or SDF)")
    by_extension = {ext: fmt for fmt in _FORMATS.values() for ext in fmt.extensions}
    suffix = _suffix(path)
    if suffix in by_extension and suffix != ".txt":
        return by_extension[suffix]
    text = head.decode("utf-8", errors="replace")
    if "$$$$" in text or "M  END" in text or "V2000" in text or "V3000" in text:
        return _FORMATS["sdf"]
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), "")
    if any(d in first for d in ",;") or first.count("\t") >= 2:
        return _FORMATS["csv"]
    return _FORMATS["smiles"]


def format_for_writing(path: Path) -> MoleculeFormat:
    suffix = _suffix(path)
    for fmt in _FORMATS.values():
        if suffix in fmt.extensions:
            return fmt
    known = ", ".join(ext for fmt in _FORMATS.values() for ext in fmt.extensions)
    raise BadInputError(f"cannot write molecules to '{path.name}': unknown extension (use one of {known})")


# --- reading -----------------------------------------------------------------------------


def read_molecules(
    path: str | os.PathLike,
    *,
    limit: int | None = None,
    max_atoms: int | None = None,
    require_valid: bool = True,
    n_jobs: int | None = None,
) -> MoleculeSet:
    """Read the molecules of a SMILES, CSV or SDF file (optionally gzipped).

    Args:
        limit: stop after this many valid molecules.
        max_atoms: skip molecules with more heavy atoms (a model's size cap).
        require_valid: raise when no molecule is valid (set False for generated samples,
            where "all invalid" is a result; a file with no entries at all still raises).
        n_jobs: worker processes for big SMILES/CSV files (default: the CPU count less one,
            at most 8); the first 32k entries are always parsed here, so small files never
            start a worker.

    Returns:
        canonical SMILES and names in file order, and the skipped entries with reasons.

    Raises:
        BadInputError: the file is missing, unreadable, of an unknown kind, a CSV without
            a SMILES column, or holds no valid molecule (the message gives the first reasons).
    """
    path = Path(path)
    fmt = sniff_format(path)
    result = MoleculeSet(smiles=[], names=[], source=str(path))
    try:
        with closing(checked_entries(fmt.read_entries(path), max_atoms, n_jobs)) as entries:
            unit = "record" if fmt.name == "sdf" else "line"
            for line, text, name, smiles, reason in entries:
                if smiles is None:
                    _skip(result, line, text, reason or "invalid", unit)
                    continue
                result.smiles.append(smiles)
                result.names.append(name)
                if limit is not None and len(result.smiles) >= limit:
                    break
    except (OSError, EOFError, UnicodeError, csv.Error) as exc:
        raise BadInputError(f"cannot read {path.name}: {exc}") from None
    return _finish(path, result, require_valid)


def _finish(path: Path, result: MoleculeSet, require_valid: bool) -> MoleculeSet:
    if not result.smiles and (require_valid or result.skipped_count == 0):
        raise BadInputError(_no_valid_message(path, result))
    return result


def _skip(result: MoleculeSet, line: int, text: str, reason: str, unit: str) -> None:
    result.skipped_count += 1
    if len(result.skipped) < MAX_SKIPPED_KEPT:
        short = text if len(text) <= 80 else text[:79] + "…"
        result.skipped.append(Skipped(line, short, reason, unit))


def _no_valid_message(path: Path, result: MoleculeSet) -> str:
    if result.skipped_count == 0:
        return f"no valid molecule in {path.name}: the file holds no molecules"
    reasons = "; ".join(str(s) for s in result.skipped[:3])
    return f"no valid molecule in {path.name} ({result.skipped_count} skipped): first reasons: {reasons}"


# --- writing -----------------------------------------------------------------------------


def write_molecules(
    path: str | os.PathLike,
    smiles: Sequence[str | None],
    *,
    names: Sequence[str] | None = None,
    properties: bool = True,
    conformers_3d: bool = False,
    extra_columns: Mapping[str, Sequence[Any]] | None = None,
    comments: Sequence[str] = (),
) -> Path:
    """Write molecules as SDF, SMILES or CSV, chosen by the extension (``.gz`` allowed).

    - SMILES: ``SMILES name`` a line; no properties.
    - CSV: ``smiles``, ``name``, then QED, logP, SA, MW, heavy_atoms and ``extra_columns``.
    - SDF: 2-D depiction coordinates, or with ``conformers_3d`` a 3-D conformer (ETKDGv3 +
      MMFF94, explicit hydrogens kept); properties and extra columns as SD tags.

    Entries that are ``None`` or not valid SMILES (e.g. unchecked samples) are written as
    they are in SMILES and CSV files (``None`` as the word ``invalid``), so that a reader
    counts them as skipped; an SDF file cannot hold them, so it refuses them.

    ``comments`` go at the top of SMILES and CSV files as ``# …`` lines, which the readers
    skip (e.g. ``valid_without_check: 0.93`` for ``flowstudio mols eval``); SDF has no
    comment syntax and leaves them out.

    The file appears atomically (a temporary file, then a rename). Returns the path.
    """
    path = Path(path)
    fmt = format_for_writing(path)
    n = len(smiles)
    names_list = [str(x) for x in names] if names is not None else [""] * n
    if len(names_list) != n:
        raise ValueError(f"{len(names_list)} names for {n} molecules")
    extras = {str(k): list(v) for k, v in (extra_columns or {}).items()}
    for key, values in extras.items():
        if len(values) != n:
            raise ValueError(f"extra column '{key}' has {len(values)} values for {n} molecules")
    mols: list[Chem.Mol | None] = []
    texts: list[str | None] = []
    for text in smiles:
        try:
            mols.append(parse_smiles(text) if text is not None else None)
        except BadInputError:
            mols.append(None)
        texts.append(text)
    if fmt.name == "sdf":
        bad = [i for i, m in enumerate(mols) if m is None]
        if bad:
            raise BadInputError(
                f"cannot write {len(bad)} invalid molecules to SDF (first: entry {bad[0] + 1}, "
                f"'{texts[bad[0]]}'); write them as SMILES or CSV instead"
            )
    delimiter = "\t" if _suffix(path) == ".tsv" else ","
    options = {"properties": properties, "conformers_3d": conformers_3d, "delimiter": delimiter}
    buffer = io.StringIO()
    if fmt.name != "sdf":
        buffer.writelines(f"# {' '.join(str(c).split())}\n" for c in comments)
    fmt.write(buffer, mols, names_list, texts, {"extras": extras, **options})
    data = buffer.getvalue().encode("utf-8")
    if path.name.lower().endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    except OSError as exc:  # permissions, a read-only or full disk, a file where a folder should be
        raise BadInputError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    return path


register_format(
    MoleculeFormat("smiles", "SMILES", (".smi", ".smiles", ".txt"), read_smiles_entries, write_smiles)
)
register_format(MoleculeFormat("csv", "CSV", (".csv", ".tsv"), read_csv_entries, write_csv))
register_format(MoleculeFormat("sdf", "SDF", (".sdf", ".sd", ".mol"), read_sdf_entries, write_sdf))


# --- file dialogs ------------------------------------------------------------------------


def _patterns(fmt: MoleculeFormat, gz: bool = True) -> list[str]:
    pats = [f"*{ext}" for ext in fmt.extensions]
    return pats + ([f"*{ext}.gz" for ext in fmt.extensions] if gz else [])


def open_dialog_filters() -> list[str]:
    """Qt name filters for File > Open (join with ``";;"``): all molecule files first."""
    every = [p for fmt in _FORMATS.values() for p in _patterns(fmt)]
    filters = [f"Molecule files ({' '.join(every)})"]
    filters += [f"{fmt.label} ({' '.join(_patterns(fmt))})" for fmt in _FORMATS.values()]
    return [*filters, "All files (*)"]


def save_dialog_filters() -> list[str]:
    """Qt name filters for Export (join with ``";;"``): SDF, SMILES, CSV with properties."""
    order = ("sdf", "smiles", "csv")
    labels = {"sdf": "SDF with 2-D coordinates", "smiles": "SMILES", "csv": "CSV with properties"}
    return [f"{labels[name]} ({' '.join(_patterns(_FORMATS[name], gz=False))})" for name in order]
