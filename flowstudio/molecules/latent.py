"""GraphAF's latent space: encode, decode, interpolate, sample around a molecule.

A molecule's latent is the sequence of the flow's outputs over its generation steps, in
a fixed layout indexed by step:

- ``nodes`` (max_atoms + 1, K): row ``i`` is the node step of atom ``i`` (the row after
  the last atom holds the END step);
- ``edges`` (max_atoms, W, 4): ``[i, o]`` is the edge step between atom ``i`` and atom
  ``j = i - 1 - o``.

Encoding dequantizes with the midpoint of the noise (``u = 1/2``), so ``argmax`` in the
decoder returns exactly the encoded choices: decoding an encoding reproduces the molecule
(up to the atom numbering, which is the encoding's ordering).

**Molecules of different sizes.** Positions past a molecule's END (and edge offsets
before atom 0) are filled with zeros, the prior's mode; decoding never reads them for that
molecule, so they do not change its reconstruction. Interpolating two molecules of
different sizes therefore moves the smaller one's padding towards the larger one's real
steps, and the END step of the smaller one away from END: intermediate molecules change
size along the path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from rdkit import Chem
from torch import Tensor

from flowstudio.errors import BadInputError
from flowstudio.molecules.generate import decode
from flowstudio.molecules.generated import Generated
from flowstudio.molecules.graph import NUM_EDGE_CLASSES, apply_order, fitting_order, mol_to_graph
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.packing import edge_step_pairs, pack_steps


@dataclass
class Latents:
    """Latent sequences of a batch: ``nodes`` (B, max_atoms + 1, K), ``edges``
    (B, max_atoms, W, 4), and the number of atoms of each encoded molecule."""

    nodes: Tensor
    edges: Tensor
    sizes: list[int]

    def __getitem__(self, index: int | slice) -> Latents:
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Latents(self.nodes[index], self.edges[index], self.sizes[index])


def _order_for(graph, model: GraphAF, order: np.ndarray | None, rng: np.random.Generator | None):
    window = model.vocab.edge_window
    if order is None:
        order = fitting_order(graph, window, rng)
        if order is None:
            raise BadInputError(f"no BFS ordering fits the edge window {window}")
        return order
    order = np.asarray(order, np.int64)
    if sorted(order.tolist()) != list(range(graph.num_atoms)):
        raise BadInputError("the ordering is not a permutation of the atoms")
    return order


@torch.no_grad()
def encode(
    model: GraphAF,
    mols: list[Chem.Mol],
    orders: list[np.ndarray | None] | None = None,
    seed: int | None = None,
) -> Latents:
    """Encode molecules (with their orderings, or random BFS ones fitting the window)."""
    vocab = model.vocab
    rng = np.random.default_rng(seed) if seed is not None else None
    orders = orders or [None] * len(mols)
    ordered = []
    for mol, order in zip(mols, orders, strict=True):
        graph = mol_to_graph(mol, vocab)
        if graph.num_atoms > vocab.max_atoms:
            raise BadInputError(f"molecule has {graph.num_atoms} atoms, the model at most {vocab.max_atoms}")
        ordered.append(apply_order(graph, _order_for(graph, model, order, rng)))
    device = next(model.parameters()).device
    packed = pack_steps(ordered, vocab).to(device)
    half_nodes = torch.full((packed.node_target.numel(), model.node_latent_dim), 0.5, device=device)
    half_edges = torch.full((packed.edge_target.numel(), NUM_EDGE_CLASSES), 0.5, device=device)
    was_training = model.training
    model.eval()
    try:
        z_node, _, z_edge, _ = model.step_latents(packed, half_nodes, half_edges, calibrated=True)
    finally:
        model.train(was_training)

    b, n_max, window = len(ordered), vocab.max_atoms, vocab.edge_window
    nodes = torch.zeros(b, n_max + 1, model.node_latent_dim, device=device)
    edges = torch.zeros(b, n_max, window, NUM_EDGE_CLASSES, device=device)
    node_at = edge_at = 0
    for k, graph in enumerate(ordered):
        n = len(graph.atoms)
        nodes[k, : n + 1] = z_node[node_at : node_at + n + 1]
        node_at += n + 1
        ei, ej = edge_step_pairs(n, window)
        ei_t, off_t = torch.from_numpy(ei).to(device), torch.from_numpy(ei - 1 - ej).to(device)
        edges[k, ei_t, off_t] = z_edge[edge_at : edge_at + len(ei)]
        edge_at += len(ei)
    return Latents(nodes, edges, [len(g.atoms) for g in ordered])


def decode_latents(model: GraphAF, latents: Latents) -> Generated:
    """Decode latent sequences back to molecules (deterministic, no valency check)."""
    return decode(model, latents.nodes, latents.edges)


def interpolate(model: GraphAF, a: Chem.Mol, b: Chem.Mol, steps: int = 8, seed: int | None = 0) -> Generated:
    """Decode ``steps`` points on the straight line between the latents of ``a`` and
    ``b`` (both ends included; see the module docstring for different sizes)."""
    if steps < 2:
        raise BadInputError("an interpolation needs at least 2 steps")
    lat = encode(model, [a, b], seed=seed)
    alpha = torch.linspace(0, 1, steps, device=lat.nodes.device)
    nodes = torch.lerp(lat.nodes[0:1], lat.nodes[1:2], alpha.view(-1, 1, 1))
    edges = torch.lerp(lat.edges[0:1], lat.edges[1:2], alpha.view(-1, 1, 1, 1))
    return decode(model, nodes, edges)


def sample_around(
    model: GraphAF, mol: Chem.Mol, n: int, temperature: float = 0.1, seed: int | None = 0
) -> Generated:
    """Decode ``n`` latents drawn at ``temperature`` around the latent of ``mol``."""
    lat = encode(model, [mol], seed=seed)
    generator = torch.Generator(device=lat.nodes.device)
    if seed is not None:
        generator.manual_seed(seed)
    noise_n = torch.randn((n, *lat.nodes.shape[1:]), generator=generator, device=lat.nodes.device)
    noise_e = torch.randn((n, *lat.edges.shape[1:]), generator=generator, device=lat.nodes.device)
    return decode(model, lat.nodes + temperature * noise_n, lat.edges + temperature * noise_e, check=True)
