"""Batched GraphAF generation with the paper's valency check (Shi et al. 2020, §3.3).

Many molecules grow in lockstep: one node step for all of them, then one edge step per
window offset. The R-GCN is re-run only for the molecules whose graph changed at the
previous step (an atom or a bond was added), on the packed union of their graphs; a
step that draws "no bond" reuses the cached embeddings.

- ``check=True``: a bond that would exceed an atom's valence is redrawn from the prior (up
  to ``max_retries`` times, then set to "no bond"); each molecule records whether this
  ever happened, so validity *without* the check can be reported from the same samples.
- ``check=False``: nothing is ever redrawn; invalid molecules come back as ``None``.
- A molecule ends when it draws END (never as its first atom), when a new atom gets no bond to the graph (the
  paper's rule; that atom is dropped; see ``redraw_bondless`` in :func:`generate`), or at
  ``max_atoms``. One that reaches ``max_atoms``
  and would go on is *cut*: an unfinished graph, often half a ring (see :func:`generate`).
- Given latents instead of a temperature, generation is a deterministic decoder (used by
  :mod:`flowstudio.molecules.latent`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from rdkit import Chem
from torch import Tensor

from flowstudio.molecules.chemistry_check import RingCheck
from flowstudio.molecules.generated import (
    Generated,
    hydrogen_on_hypervalent,
    ring_types_disagree,
    unseen_ring_system,
)
from flowstudio.molecules.graph import NUM_EDGE_CLASSES, graph_to_mol
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.growing import (
    END_MAX_ATOMS,
    END_NO_BOND,
    END_TOKEN,
    GrowingBatch,
)
from flowstudio.molecules.redraws import (
    BONDLESS,
    CUT_AT_CAP,
    HYPERVALENT_H,
    REDRAW_REASONS,
    RING_TYPES,
    UNSEEN_RING_SYSTEM,
)
from flowstudio.molecules.ring_features import ring_index
from flowstudio.molecules.settings import DEFAULT_TEMPERATURE


@contextmanager
def one_thread(device: torch.device) -> Iterator[None]:
    """Run generation on the CPU with one intra-op thread, then restore the setting.

    Generation is hundreds of small steps, each a few dozen small tensor operations (a
    batch's changed molecules, a few thousand rows). Split over threads, every operation
    waits for all of them; on two cores that other programs also use, a waiting thread is
    often descheduled, and 1,000 MOSES-sized molecules took 142 s with two threads and 18
    s with one (``benchmarks/results/graphaf.md``, section 6). The setting is
    process-wide: a training run in another thread of the same process also runs on one
    thread meanwhile.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


REDRAW_ROUNDS = 10
"""How many times :func:`generate` draws again the molecules cut at the size cap, ended by a
bondless atom or with ring types that disagree with their rings; the last round's are kept."""


def _draw(shape: tuple[int, ...], temperature: float, generator: torch.Generator | None, device) -> Tensor:
    if temperature == 0:
        return torch.zeros(shape, device=device)
    return torch.randn(shape, generator=generator, device=device) * temperature


@torch.no_grad()
def _generate_batch(
    model: GraphAF,
    batch: int,
    temperature: float,
    check: bool,
    max_retries: int,
    generator: torch.Generator | None,
    node_latents: Tensor | None = None,
    edge_latents: Tensor | None = None,
    end_temperature: float | None = None,
    ring_sizes: tuple[int, ...] | None = None,
    edge_temperature: float | None = None,
) -> Generated:
    device = next(model.parameters()).device
    bond_t = temperature if edge_temperature is None else edge_temperature
    vocab = model.vocab
    n_max, window, end = vocab.max_atoms, vocab.edge_window, model.end_class
    state = GrowingBatch(model, batch, device)
    ring_check = RingCheck(ring_sizes, n_max, device) if ring_sizes is not None else None
    everyone = torch.arange(batch, device=device)

    for i in range(n_max + 1):
        active = everyone[~state.finished]
        if active.numel() == 0:
            break
        state.refresh(active)
        z = (
            node_latents[active, i]
            if node_latents is not None
            else _draw((active.numel(), model.node_latent_dim), temperature, generator, device)
        )
        if node_latents is None and end_temperature is not None and temperature > 0 and model.has_end_step:
            # The END decision keeps its own temperature (see ``generate``).
            k = model.stop_dim
            z[:, :k] = _draw((active.numel(), k), end_temperature, generator, device)
        # A molecule has at least one atom: END is never a choice for the first one. The
        # END decision applies the model's size calibration (zero unless calibrated).
        count = torch.full_like(active, i)
        choice = model.decode_node(state.node_conditions(active, i), z, allow_end=i > 0, num_atoms=count)
        stops = choice == end
        state.ended[active[stops]] = END_TOKEN  # at max_atoms too: the model ended it there
        if i == n_max:  # the others are cut (ended stays END_MAX_ATOMS)
            stops = torch.ones_like(stops)
        state.finished[active[stops]] = True
        grown, types = active[~stops], choice[~stops]
        if grown.numel() == 0:
            continue
        state.add_atoms(grown, i, types)
        if i == 0:
            continue
        connected = torch.zeros(batch, dtype=torch.bool, device=device)
        frontier = state.frontier(grown, i)
        for j in range(max(0, i - window), i):
            state.refresh(grown)
            offset = torch.full_like(grown, i - 1 - j)
            left_i = model.valence_left(state.atoms[grown, i], state.valence[grown, i])
            left_j = model.valence_left(state.atoms[grown, j], state.valence[grown, j])
            pair = model.room_index(left_i, left_j)
            order = model.order_index((j < frontier).long(), state.valence[grown, i])
            distance, ring_i, ring_j, touches = state.rings.pair(grown, i, j)
            cond = model.edge_conditions(
                state.edge_state[grown], state.node_emb[grown, j], offset, pair, order,
                ring_index(distance, ring_i, ring_j, touches),
                state.conjugation_index(grown, i, j),
            )
            flow = model.edge_flow.at(cond)
            z = (
                edge_latents[grown, i, i - 1 - j]
                if edge_latents is not None
                else _draw((grown.numel(), NUM_EDGE_CLASSES), bond_t, generator, device)
            )
            klass = flow.inverse(z)[0].argmax(dim=1)
            if check:
                room = torch.minimum(left_i, left_j)
                # A bond may not break a valence, nor close a ring of a size not allowed.
                if ring_check is not None:
                    room = torch.where(ring_check.forbids(distance), torch.zeros_like(room), room)
                bad = klass > room
                for _ in range(max_retries if bond_t > 0 and edge_latents is None else 0):
                    if not bool(bad.any()):
                        break
                    state.resampled[grown[bad]] = True
                    idx = bad.nonzero(as_tuple=True)[0]
                    z = _draw((idx.numel(), NUM_EDGE_CLASSES), bond_t, generator, device)
                    redrawn = flow.select(idx).inverse(z)[0].argmax(dim=1)
                    klass[idx] = redrawn
                    bad = klass > room
                state.resampled[grown[bad]] = True
                klass = torch.where(bad, torch.zeros_like(klass), klass)
            state.add_bonds(grown, i, j, klass)
            connected[grown[klass > 0]] = True
        # The paper's stopping rule: an atom without a bond to the graph ends the molecule.
        lonely = grown[~connected[grown]]
        state.atoms[lonely, i] = -1
        state.count[lonely] = i
        state.finished[lonely] = True
        state.ended[lonely] = END_NO_BOND

    return _to_molecules(model, state)


def _to_molecules(model: GraphAF, state: GrowingBatch) -> Generated:
    atoms = state.atoms.cpu().numpy()
    count = state.count.cpu().numpy()
    bonds = state.bonds.cpu().numpy()
    bonds = bonds[np.argsort(bonds[:, 0], kind="stable")]
    starts = np.searchsorted(bonds[:, 0], np.arange(len(atoms) + 1))
    out_atoms, out_bonds, mols, smiles = [], [], [], []
    for k in range(len(atoms)):
        a = atoms[k, : count[k]]
        b = bonds[starts[k] : starts[k + 1], 1:]
        out_atoms.append(a)
        out_bonds.append(b)
        mol = graph_to_mol(a, b, model.vocab) if len(a) else None
        mols.append(mol)
        smiles.append(Chem.MolToSmiles(mol) if mol is not None else None)
    return Generated(
        out_atoms, out_bonds, mols, smiles, state.resampled.cpu().numpy(), state.ended.cpu().numpy()
    )


def generate(
    model: GraphAF,
    n: int,
    temperature: float = DEFAULT_TEMPERATURE,
    check: bool = True,
    max_retries: int = 10,
    batch_size: int = 1000,
    seed: int | None = None,
    end_temperature: float | None = 1.0,
    ring_check: bool = True,
    edge_temperature: float | None = None,
    redraw_cut: bool | None = None,
    redraw_unseen_rings: bool | None = None,
) -> Generated:
    """Draw ``n`` molecules, ``batch_size`` at a time, at the given prior temperature.

    ``check`` turns on the valency check and, with ``ring_check``, the ring check with the
    model's allowed ring sizes (:attr:`GraphAF.ring_sizes`; none set: no ring check).

    ``redraw_cut`` (with ``check``; ``None``: the model's :attr:`GraphAF.redraw_cut`, from
    the run's ``redraw_cut`` setting) draws a molecule again when it reaches ``max_atoms``
    and the model would go on, up to :data:`REDRAW_ROUNDS` times. GraphAF cuts such a graph
    where it stands (Shi et al. 2020), and it is unfinished: of 1,000 quick-preset
    molecules the 6% cut at 26 atoms had an open-chain C=C in 80% (finished ones 16%, MOSES
    2.5%) and failed MOSES's Filters in 26% (finished ones 5%). Drawing them again samples
    the model given that it finishes within the cap, the only sizes the training data has
    (``benchmarks/results/graphaf.md``, section 11). It is not a chemistry check and does
    not count against validity without check; :attr:`Generated.redrawn` counts the molecules
    drawn again for each reason (:mod:`flowstudio.molecules.redraws`), and
    :attr:`Generated.redraws_on` says which reasons were on.

    With the run's ``redraw_bondless`` and ``check``, a molecule that a bondless new atom
    ended (GraphAF's stopping rule) is drawn again: every training molecule ends by END, and
    on the ring-type quick models 8-10% ended this way at about 15 atoms, leaving the sizes
    0.6 atoms short of the data's; drawn again, the size W1 fell from 0.48-0.70 to 0.10-0.14
    at the same FCD and Filters (``benchmarks/results/graphaf.md``, section 16.5).

    With ring types (the run's ``ring_types``) and ``check``, a molecule whose types say
    that an atom sits on a ring where it does not (a ring begun and never closed), or the
    reverse, is drawn again, up to :data:`REDRAW_ROUNDS` times. The types are a function of
    the graph in every training molecule, so this samples the model given that its types
    agree with its graph: on the quick preset's model it took open C=C, C=N and N=N bonds
    from 14% of the molecules to under 1% (``benchmarks/results/graphaf.md``, section 16).
    Like ``redraw_cut`` it does not count against validity without check.

    With the run's ``redraw_hypervalent`` and ``check``, a molecule with a hydrogen on an
    atom above its lowest valence (a λ4-sulfane ``[SH]``: the valency check allows sulfur
    four bonds for sulfoxides, and RDKit gives a sulfur left with three single bonds a
    hydrogen) is drawn again the same way; no MOSES molecule has one.

    With ``redraw_unseen_rings`` (``None``: the run's setting) and ``check``, a molecule with
    a ring system of a kind that no training molecule holds (:attr:`GraphAF.ring_systems`:
    rings joined by shared atoms, substituents left out) is drawn again the same way; a run
    that does not know its data's kinds cannot.

    ``end_temperature`` is the temperature of the END decision (models with an END step;
    ``None``: the same as ``temperature``). A temperature below 1 pulls every step towards
    its most likely class, and at all but the last atoms that class is "go on": an END
    drawn at ``temperature`` 0.75 turns a per-atom stopping probability of 0.1 into 0.04,
    so molecules run on to ``max_atoms``. At 1 the sizes follow what the model learned.

    ``edge_temperature`` is the temperature of the bond steps alone (``None``: the model's
    :meth:`~flowstudio.molecules.graphaf.GraphAF.edge_temperature` of ``temperature``, from
    the run's ``bond_temperature`` setting), so that the two can be cooled apart.
    """
    if n < 0 or min(temperature, end_temperature or 0.0, edge_temperature or 0.0) < 0:
        raise ValueError("n and the temperatures must be non-negative")
    if edge_temperature is None:
        edge_temperature = model.edge_temperature(temperature)
    device = next(model.parameters()).device
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
    was_training = model.training
    model.eval()
    ring_sizes = model.ring_sizes if check and ring_check else None
    wanted = {reason: reason.wanted(model) for reason in REDRAW_REASONS}
    if redraw_cut is not None:
        wanted[CUT_AT_CAP] = redraw_cut
    if redraw_unseen_rings is not None:
        wanted[UNSEEN_RING_SYSTEM] = redraw_unseen_rings
    wanted[UNSEEN_RING_SYSTEM] &= model.ring_systems is not None
    on = frozenset(reason for reason, asked in wanted.items() if check and asked)

    def draw(size: int) -> Generated:
        return _generate_batch(
            model, size, temperature, check, max_retries, generator,
            end_temperature=end_temperature, ring_sizes=ring_sizes, edge_temperature=edge_temperature,
        )

    try:
        parts = []
        with one_thread(device):
            for start in range(0, n, batch_size):
                part = draw(min(batch_size, n - start))
                judged = 0  # the molecules before it passed every redraw condition already
                for _ in range(REDRAW_ROUNDS if on else 0):
                    cut = (part.ended == END_MAX_ATOMS) & (CUT_AT_CAP in on)
                    bondless = (part.ended == END_NO_BOND) & (BONDLESS in on)
                    # each molecule drawn again is counted under one reason, and those before
                    # ``judged`` passed every condition already: neither is judged for ring types
                    among = ~(cut | bondless) & (np.arange(len(part.ended)) >= judged)
                    rings = ring_types_disagree(part, model.vocab, among) & (RING_TYPES in on)
                    hyper = np.zeros_like(rings)
                    if HYPERVALENT_H in on:  # judged among those that passed the ring types
                        hyper = hydrogen_on_hypervalent(part, among & ~rings)
                    unseen = np.zeros_like(rings)
                    if UNSEEN_RING_SYSTEM in on:  # ... and among those that passed both
                        unseen = unseen_ring_system(part, model.ring_systems, among & ~rings & ~hyper)
                    found = {
                        CUT_AT_CAP: cut, BONDLESS: bondless, RING_TYPES: rings, HYPERVALENT_H: hyper,
                        UNSEEN_RING_SYSTEM: unseen,
                    }
                    again_mask = cut | bondless | rings | hyper | unseen
                    if not again_mask.any():
                        break
                    again = draw(int(again_mask.sum()))
                    judged = len(part.ended) - len(again.ended)
                    part = Generated.concatenate([part.select(~again_mask), again])
                    for reason, mask in found.items():
                        part.redrawn[reason] += int(mask.sum())
                parts.append(part)
        result = Generated.concatenate(parts)
        result.redraws_on = on
        result.edge_temperature = float(edge_temperature)
        return result
    finally:
        model.train(was_training)


def decode(model: GraphAF, node_latents: Tensor, edge_latents: Tensor, check: bool = False) -> Generated:
    """Deterministically decode latent sequences (B, max_atoms + 1, K) and
    (B, max_atoms, W, 4) (see :mod:`flowstudio.molecules.latent`). With ``check`` a bond
    that breaks a valence becomes "no bond" (there is no prior to redraw from)."""
    was_training = model.training
    model.eval()
    try:
        with one_thread(next(model.parameters()).device):
            return _generate_batch(
                model, node_latents.shape[0], 1.0, check, 0, None, node_latents, edge_latents,
                ring_sizes=model.ring_sizes if check else None,
            )
    finally:
        model.train(was_training)
