"""Parsing the entries of a molecule file in batches: in this process for small files, in
worker processes for big ones, always yielding the results in file order.

Parsing and canonicalizing costs ~0.1 ms a SMILES in RDKit, so the 1.6 M molecules of the
MOSES training set take minutes in one process. Readers hand over raw entries; batches of
:data:`BATCH` SMILES go to a process pool (``forkserver``: safe beside the GUI's threads)
once :data:`SERIAL_BATCHES` batches have been parsed here, so small files never start one.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from rdkit import Chem

from flowstudio.errors import BadInputError
from flowstudio.molecules.chem import parse_smiles

SERIAL_BATCHES = 8
BATCH = 4096

#: ``(line, text, name, canonical SMILES or None, reason or None)``
Checked = tuple[int, str, str, str | None, str | None]


@dataclass
class _Batch:
    index: int
    entries: list


def _batches(entries: Iterator) -> Iterator[_Batch]:
    batch = _Batch(0, [])
    for entry in entries:
        batch.entries.append(entry)
        if len(batch.entries) >= BATCH:
            yield batch
            batch = _Batch(batch.index + 1, [])
    if batch.entries:
        yield batch


def worker_count(n_jobs: int | None) -> int:
    """``n_jobs``, or by default the CPU count less one (at most 8)."""
    if n_jobs is not None:
        return max(1, n_jobs)
    return max(1, min(8, (os.cpu_count() or 1) - 1))


def size_violation(mol: Chem.Mol, max_atoms: int | None) -> str | None:
    """Why ``mol`` is too large for a model of ``max_atoms`` heavy atoms, or ``None``."""
    n_atoms = mol.GetNumHeavyAtoms()
    if max_atoms is not None and n_atoms > max_atoms:
        return f"more atoms than the model's maximum ({n_atoms} > {max_atoms})"
    return None


def check_smiles(texts: Sequence[str], max_atoms: int | None) -> list[tuple[str | None, str | None]]:
    """``(canonical SMILES, None)`` or ``(None, reason)`` for each text; runs in workers."""
    out: list[tuple[str | None, str | None]] = []
    for text in texts:
        try:
            mol = parse_smiles(text)
        except BadInputError as exc:
            out.append((None, str(exc)))
            continue
        reason = size_violation(mol, max_atoms)
        out.append((None, reason) if reason else (Chem.MolToSmiles(mol), None))
    return out


def checked_entries(
    entries: Iterator[tuple[int, str, str, Any]], max_atoms: int | None, n_jobs: int | None = None
) -> Iterator[Checked]:
    """``(line, text, name, canonical SMILES or None, reason or None)`` for every entry a
    reader yields (see :mod:`.formats`), in file order; molecules over ``max_atoms`` heavy
    atoms are skipped with a reason. Close the generator to stop early:
    pending work is cancelled."""
    workers = worker_count(n_jobs)
    pool: ProcessPoolExecutor | None = None
    pending: deque = deque()
    try:
        for batch in _batches(entries):
            if pool is None and workers > 1 and batch.index >= SERIAL_BATCHES:
                pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))
            texts = [text for _, text, _, item in batch.entries if item is None]
            if pool is not None and texts:
                pending.append((batch, pool.submit(check_smiles, texts, max_atoms)))
            else:
                pending.append((batch, check_smiles(texts, max_atoms)))
            while pending and (pool is None or len(pending) > 2 * workers):
                yield from _resolve(*pending.popleft(), max_atoms)
        while pending:
            yield from _resolve(*pending.popleft(), max_atoms)
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _resolve(
    batch: _Batch, checked: Any, max_atoms: int | None
) -> Iterator[tuple[int, str, str, str | None, str | None]]:
    results = iter(checked.result() if isinstance(checked, Future) else checked)
    for line, text, name, item in batch.entries:
        if item is None:
            smiles, reason = next(results)
        elif isinstance(item, str):
            smiles, reason = None, item
        else:
            reason = size_violation(item, max_atoms)
            smiles = None if reason else Chem.MolToSmiles(item)
        yield line, text, name, smiles, reason
