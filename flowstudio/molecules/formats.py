"""The molecule file formats behind :mod:`flowstudio.molecules.io`: SMILES, CSV and SDF.

Readers yield ``(line, text, name, item)`` for every entry, where ``item`` is ``None`` for a
SMILES still to be parsed (the registry parses them, in worker processes for big files),
a molecule already parsed (SDF), or the reason the entry is unusable; so the registry can
count and explain what it skips; writers receive parsed molecules (``None`` for an
invalid entry) and write to a text stream that the registry makes atomic.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from rdkit import Chem, rdBase
from rdkit.Chem import rdDepictor

from flowstudio.errors import BadInputError
from flowstudio.molecules.chem import PROPERTY_NAMES, properties, sanitize_mol
from flowstudio.molecules.conformers import embed_3d

#: Column names recognized as the SMILES column of a CSV (compared case-insensitively).
SMILES_COLUMN_NAMES = ("smiles", "canonical_smiles", "isomeric_smiles", "smi", "smiles_string", "mol_smiles")
NAME_COLUMN_NAMES = ("name", "id", "title", "mol_id", "molecule_id", "compound_id", "zinc_id", "chembl_id")

MAX_MODEL_ATOMS = 128
"""The most heavy atoms of a molecule GraphAF trains on here. Its vocabulary takes
``max_atoms`` from the data and generation holds (batch, max_atoms, window) tensors with a
window up to ``max_atoms - 1``, so one 200,000-atom line would make a model no machine can
sample; 128 is over three times the largest molecule of ZINC250k (38, GraphAF's data set)
and MOSES (27), and covers drug-like molecules up to macrocycles."""

MAX_SMILES_CHARS = 16 * MAX_MODEL_ATOMS
"""The longest SMILES read as a molecule (2,048 characters). Sixteen characters per atom
cover the longest atom token with its bonds (``[13C@@H+]`` plus a bond symbol, a branch
and two ring-closure labels such as ``%12``), so no molecule of :data:`MAX_MODEL_ATOMS`
atoms is longer; a longer entry is skipped with its length before RDKit parses it (a
200,000-character line took minutes, and RDKit's error message for it ran out of memory)."""

MAX_LINE_CHARS = 2 * MAX_SMILES_CHARS
"""Characters of one line kept in memory (the SMILES and its name); the rest of a longer
line is read in pieces and dropped."""


def open_text(path: Path, mode: str = "rt") -> IO[str]:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, mode, encoding="utf-8", errors="replace", newline="")
    return open(path, mode, encoding="utf-8", errors="replace", newline="")


def _looks_like_smiles_header(token: str) -> bool:
    return token.strip().lower() in SMILES_COLUMN_NAMES


def too_long(length: int) -> str:
    """The reason an entry of ``length`` characters is skipped unparsed."""
    return (
        f"a SMILES of {length:,} characters, longer than any molecule a model here represents "
        f"(at most {MAX_SMILES_CHARS:,} characters for {MAX_MODEL_ATOMS} heavy atoms)"
    )


def _bounded_lines(fh: IO[str]) -> Iterator[tuple[int, str, int]]:
    """``(line number, text, full length)`` of each line, holding at most
    :data:`MAX_LINE_CHARS` characters of it in memory."""
    number = 0
    while True:
        line = fh.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        number += 1
        length, piece = len(line), line
        while length > MAX_LINE_CHARS and piece[-1:] not in ("\n", "\r"):
            piece = fh.readline(1 << 16)  # the rest of an overlong line, dropped
            if not piece:
                break
            length += len(piece)
        length -= len(piece) - len(piece.rstrip("\r\n"))
        yield number, line[:MAX_LINE_CHARS], length


def read_smiles_entries(path: Path) -> Iterator[tuple[int, str, str, Chem.Mol | str | None]]:
    """SMILES files: the first token of a line (up to white space or a comma, which never
    occurs in SMILES) is the SMILES, the rest of the line its name."""
    with open_text(path) as fh:
        first_content = True
        for number, raw, length in _bounded_lines(fh):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if length > MAX_LINE_CHARS:
                first_content = False
                yield number, line[:80], "", too_long(length)
                continue
            parts = line.split(None, 1)
            token, name = parts[0], (parts[1].strip() if len(parts) > 1 else "")
            if "," in token:  # "CCO,ethanol": commas never occur in SMILES
                token, _, before = token.partition(",")
                name = f"{before.strip(',')} {name}".strip()
            if first_content and _looks_like_smiles_header(token):
                first_content = False
                continue
            first_content = False
            yield number, token, name, too_long(len(token)) if len(token) > MAX_SMILES_CHARS else None


def read_csv_entries(path: Path) -> Iterator[tuple[int, str, str, Chem.Mol | str | None]]:
    with open_text(path) as fh:
        sample = fh.read(16384)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    with open_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        rows = _numbered_rows(reader)
        head = []
        for item in rows:
            head.append(item)
            if len(head) >= 25:
                break
        if not head:
            return
        smiles_col, name_col, has_header = _find_columns(path, head)
        start = 1 if has_header else 0
        for number, row in head[start:]:
            yield _csv_entry(number, row, smiles_col, name_col)
        for number, row in rows:
            yield _csv_entry(number, row, smiles_col, name_col)


def _numbered_rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    for row in reader:
        if not row or all(not cell.strip() for cell in row) or row[0].startswith("#"):
            continue
        yield reader.line_num, row


def _csv_entry(number: int, row: list[str], smiles_col: int, name_col: int | None):
    text = row[smiles_col].strip() if smiles_col < len(row) else ""
    name = row[name_col].strip() if name_col is not None and name_col < len(row) else ""
    if not text:
        return number, "", name, "empty SMILES cell"
    if len(text) > MAX_SMILES_CHARS:
        return number, text[:80], name, too_long(len(text))
    return number, text, name, None


def _find_columns(path: Path, head: list[tuple[int, list[str]]]) -> tuple[int, int | None, bool]:
    """(SMILES column, name column, whether the first row is a header)."""
    header = [cell.strip().lower() for cell in head[0][1]]
    for wanted in SMILES_COLUMN_NAMES:
        if wanted in header:
            return header.index(wanted), _name_column(header), True
    for i, cell in enumerate(header):  # e.g. "SMILES (canonical)", "smiles_1"
        if "smiles" in cell:
            return i, _name_column(header), True
    # No named column: the column where most cells of the first rows parse.
    n_cols = max(len(row) for _, row in head)
    best, best_score = -1, 0.0
    with rdBase.BlockLogs():
        for col in range(n_cols):
            cells = [row[col].strip() for _, row in head[1:] if col < len(row) and row[col].strip()]
            if not cells:
                continue
            score = sum(_parses(c) for c in cells) / len(cells)
            if score > best_score:
                best, best_score = col, score
    if best < 0 or best_score < 0.5:
        raise BadInputError(
            f"no SMILES column in {path.name}: no column is named smiles/SMILES/canonical_smiles… "
            "and no column holds SMILES"
        )
    first_cell = head[0][1][best].strip() if best < len(head[0][1]) else ""
    has_header = not (first_cell and _parses(first_cell))
    name_col = _name_column(header) if has_header else None
    return best, name_col, has_header


def _parses(text: str) -> bool:
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(text)
    return mol is not None and mol.GetNumAtoms() > 0


def _name_column(header: list[str]) -> int | None:
    for wanted in NAME_COLUMN_NAMES:
        if wanted in header:
            return header.index(wanted)
    return None


def read_sdf_entries(path: Path) -> Iterator[tuple[int, str, str, Chem.Mol | str | None]]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh, rdBase.BlockLogs():
        supplier = Chem.ForwardSDMolSupplier(fh, sanitize=False, removeHs=False)
        for number, mol in enumerate(supplier, start=1):
            if mol is None:
                yield number, f"record {number}", "", "unreadable SDF record (bad mol block)"
                continue
            name = mol.GetProp("_Name").strip() if mol.HasProp("_Name") else ""
            label = name or f"record {number}"
            try:
                sanitize_mol(mol)
                mol = Chem.RemoveHs(mol)
            except BadInputError as exc:
                yield number, label, name, str(exc)
                continue
            except Exception as exc:  # RemoveHs can raise on odd hydrogens
                yield number, label, name, f"invalid chemistry in {label}: {exc}"
                continue
            if mol.GetNumAtoms() == 0:
                yield number, label, name, "no atoms"
                continue
            yield number, label, name, mol


def _smiles_text(mol: Chem.Mol | None, text: str | None) -> str:
    if mol is not None:
        return Chem.MolToSmiles(mol)
    return "invalid" if text is None or not str(text).strip() else str(text).strip().split()[0]


def write_smiles(out: IO[str], mols, names, texts, options) -> None:
    for mol, name, text in zip(mols, names, texts, strict=True):
        smi = _smiles_text(mol, text)
        out.write(f"{smi} {name}\n" if name else f"{smi}\n")


def _format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_csv(out: IO[str], mols, names, texts, options) -> None:
    extras: dict[str, list] = options["extras"]
    columns = ["smiles"] + (["name"] if any(names) else [])
    columns += list(PROPERTY_NAMES) if options["properties"] else []
    columns += list(extras)
    writer = csv.writer(out, delimiter=options["delimiter"], lineterminator="\n")
    writer.writerow(columns)
    for i, (mol, name, text) in enumerate(zip(mols, names, texts, strict=True)):
        row: list[Any] = [_smiles_text(mol, text)]
        if "name" in columns:
            row.append(name)
        if options["properties"]:
            props = properties(mol) if mol is not None else {}
            row += [_format_value(props.get(key)) for key in PROPERTY_NAMES]
        row += [_format_value(values[i]) for values in extras.values()]
        writer.writerow(row)


def write_sdf(out: IO[str], mols, names, texts, options) -> None:
    extras: dict[str, list] = options["extras"]
    writer = Chem.SDWriter(out)
    try:
        for i, (mol, name) in enumerate(zip(mols, names, strict=True)):
            props = properties(mol) if options["properties"] else {}
            placed = _with_3d_conformer(mol) if options["conformers_3d"] else _with_2d_coords(mol)
            placed.SetProp("_Name", name)
            placed.SetProp("SMILES", Chem.MolToSmiles(mol))
            for key, value in props.items():
                placed.SetProp(key, _format_value(value))
            for key, values in extras.items():
                placed.SetProp(key, _format_value(values[i]))
            writer.write(placed)
    finally:
        writer.close()


def _with_2d_coords(mol: Chem.Mol) -> Chem.Mol:
    copy = Chem.Mol(mol)
    rdDepictor.Compute2DCoords(copy)
    return copy


def _with_3d_conformer(mol: Chem.Mol) -> Chem.Mol:
    """The molecule with its 3-D conformer (:func:`~flowstudio.molecules.conformers.embed_3d`,
    the one the window's 3-D view shows); a molecule that cannot be embedded at all keeps
    2-D coordinates and says so in a tag."""
    placed = embed_3d(mol)
    if placed is None:
        flat = _with_2d_coords(mol)
        flat.SetProp("conformer", "2D (3-D embedding failed)")
        return flat
    placed.SetProp("conformer", "3D (ETKDGv3 + MMFF94)")
    return placed
