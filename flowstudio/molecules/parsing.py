"""Parsing the entries of a molecule file in batches: in this process for small files, in
worker processes for big ones, always yielding the results in file order.

Parsing and canonicalizing costs ~0.1 ms a SMILES in RDKit, so the 1.6 M molecules of the
MOSES training set take minutes in one process. Readers hand over raw entries; batches of
:data:`BATCH` SMILES go to a process pool (``forkserver``: safe beside the GUI's threads)
once :data:`SERIAL_BATCHES` batches have been parsed here, so small files never start one.
A training task reads its molecules' graphs the same way (:func:`read_graphs`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from typing import Any

from rdkit import Chem, rdBase

from flowstudio.errors import BadInputError
from flowstudio.molecules.chem import parse_smiles
from flowstudio.molecules.graph import RawGraph, raw_graph
from flowstudio.molecules.rings import ring_sizes, ring_system_kinds

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


def map_in_order(
    func: Callable[[Any], Any], jobs: Iterator[tuple[Any, Any]], workers: int
) -> Iterator[tuple[Any, Any]]:
    """``(key, func(payload))`` for each ``(key, payload)`` of ``jobs``, in their order.

    The first :data:`SERIAL_BATCHES` jobs run here; after them, with ``workers`` > 1, the
    rest go to a process pool (``forkserver``), at most ``2 * workers`` ahead of the
    consumer, so a small input never starts one; an empty payload always runs here.
    ``func`` and the payloads must pickle (a module-level function, plain data). Close the
    generator to stop early: pending work is cancelled.
    """
    pool: ProcessPoolExecutor | None = None
    pending: deque = deque()
    try:
        for index, (key, payload) in enumerate(jobs):
            if pool is None and workers > 1 and index >= SERIAL_BATCHES:
                pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))
            here = pool is None or not payload  # nothing to send (an SDF batch arrives parsed)
            pending.append((key, func(payload) if here else pool.submit(func, payload)))
            while pending and (pool is None or len(pending) > 2 * workers):
                yield _done(*pending.popleft())
        while pending:
            yield _done(*pending.popleft())
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _done(key: Any, result: Any) -> tuple[Any, Any]:
    return key, result.result() if isinstance(result, Future) else result


def checked_entries(
    entries: Iterator[tuple[int, str, str, Any]], max_atoms: int | None, n_jobs: int | None = None
) -> Iterator[Checked]:
    """``(line, text, name, canonical SMILES or None, reason or None)`` for every entry a
    reader yields (see :mod:`.formats`), in file order; molecules over ``max_atoms`` heavy
    atoms are skipped with a reason. Close the generator to stop early:
    pending work is cancelled."""
    jobs = ((b, [text for _, text, _, item in b.entries if item is None]) for b in _batches(entries))
    check = partial(check_smiles, max_atoms=max_atoms)
    with closing(map_in_order(check, jobs, worker_count(n_jobs))) as done:
        for batch, checked in done:
            yield from _resolve(batch, checked, max_atoms)


def _resolve(
    batch: _Batch, checked: list[tuple[str | None, str | None]], max_atoms: int | None
) -> Iterator[Checked]:
    results = iter(checked)
    for line, text, name, item in batch.entries:
        if item is None:
            smiles, reason = next(results)
        elif isinstance(item, str):
            smiles, reason = None, item
        else:
            reason = size_violation(item, max_atoms)
            smiles = None if reason else Chem.MolToSmiles(item)
        yield line, text, name, smiles, reason


GraphRead = tuple[RawGraph, list[int], list[str]] | str
"""A molecule's :func:`~flowstudio.molecules.graph.raw_graph`, SSSR ring sizes and kinds of
ring system (:func:`~flowstudio.molecules.rings.ring_system_kinds`), or why GraphAF cannot
learn from it."""


def read_graph(text: str) -> GraphRead:
    """The raw graph, ring sizes and ring systems of one (canonical) SMILES, or the reason
    it is unusable."""
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(text)
    if mol is None or mol.GetNumAtoms() == 0:
        return "not a valid molecule"
    try:
        return raw_graph(mol), ring_sizes(mol), ring_system_kinds(mol)
    except BadInputError as exc:
        return str(exc)


def _read_graphs(texts: list[str]) -> list[GraphRead]:
    return [read_graph(text) for text in texts]


def read_graphs(texts: Sequence[str], n_jobs: int | None = None) -> Iterator[tuple[str, GraphRead]]:
    """``(text, read_graph(text))`` for each text, in order; big inputs in worker processes
    (see :func:`map_in_order`; ``n_jobs`` as :func:`worker_count`). On 1.6 M MOSES
    molecules this is most of a training task's start-up, about 0.5 ms a molecule."""
    jobs = ((chunk, chunk) for chunk in (list(texts[k:k + BATCH]) for k in range(0, len(texts), BATCH)))
    with closing(map_in_order(_read_graphs, jobs, worker_count(n_jobs))) as done:
        for chunk, results in done:
            yield from zip(chunk, results, strict=True)
